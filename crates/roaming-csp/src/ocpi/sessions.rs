//! Sessions module, **Receiver** interface (eMSP), checklist §7.1: `GET/PUT/PATCH
//! {sessions}/{country_code}/{party_id}/{session_id}` (UC3-6).
//!
//! Rules: the caller may only address its own sessions (T-90, 404 + 2001 otherwise); URL and body must
//! name the same session (T-93); the session must be for a token of ours; PATCH rules and the
//! idempotent append of charging periods are in [`crate::sessions`]. The answer comes after the write
//! is durable, then the change is announced on `/api/events`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, PeerCaller};
use roaming_peer::server::reply::{data, written};
use roaming_peer::store::Write;
use roaming_types::ids::PartyRef;
use roaming_types::modules::sessions::{Session, SessionPatch};
use roaming_types::modules::types::Role;

use crate::state::CspState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/sessions";

/// The routes.
pub fn router(state: CspState) -> Router {
    Router::new()
        .route(
            &format!("{PATH}/{{cc}}/{{pid}}/{{session_id}}"),
            get(get_session).put(put_session).patch(patch_session),
        )
        .with_state(state)
}

fn invalid(e: impl std::fmt::Display) -> OcpiError {
    OcpiError::InvalidParameters(e.to_string())
}

fn owner(caller: &PeerCaller, cc: &str, pid: &str) -> Result<PartyRef, OcpiError> {
    caller.owner_in_url(cc, pid, &Role::Cpo)
}

async fn get_session(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id)): OcpiPath<(String, String, String)>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    data(
        &st.sessions
            .get(&owner, &id)?
            .ok_or_else(|| OcpiError::unknown_object(format!("unknown session {owner}/{id}")))?,
    )
}

async fn put_session(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id)): OcpiPath<(String, String, String)>,
    OcpiJson(s): OcpiJson<Session>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    if s.party() != owner || !s.id.as_str().eq_ignore_ascii_case(&id) {
        return Err(invalid(format!(
            "the URL names {owner}/{id} but the body is {}/{} (T-93)",
            s.party(),
            s.id
        )));
    }
    let w = st.sessions.put(&s)?;
    st.core.store.durable().await?;
    if w.changed() {
        st.events.session(&s);
    }
    Ok(written(w))
}

async fn patch_session(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id)): OcpiPath<(String, String, String)>,
    OcpiJson(patch): OcpiJson<SessionPatch>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let (w, s) = st.sessions.patch(&owner, &id, patch)?;
    st.core.store.durable().await?;
    if w == Write::Updated {
        st.events.session(&s);
    }
    Ok(written(w))
}
