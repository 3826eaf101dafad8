//! Sessions module, **Receiver** interface (eMSP), checklist §7.1: `GET/PUT/PATCH
//! {sessions}/{country_code}/{party_id}/{session_id}` (UC3-6).
//!
//! Rules: the caller may only address its own sessions (T-90, 404 + 2001 otherwise) and URL and body
//! must name the same session (T-93): both checked by the extractors. The session must be for a
//! token of ours; PATCH rules and the idempotent append of charging periods are in
//! [`crate::sessions`]. The answer comes after the write is durable, then the change is announced on
//! `/api/events`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{Owned, OwnedBody, OwnedPut};
use roaming_peer::server::reply::{data, written};
use roaming_peer::store::Write;
use roaming_types::modules::sessions::{Session, SessionPatch};

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

async fn get_session(State(st): State<CspState>, o: Owned<Session>) -> Result<Response, OcpiError> {
    data(&st.sessions.received(&o.owner, &o.key)?)
}

async fn put_session(State(st): State<CspState>, put: OwnedPut<Session>) -> Result<Response, OcpiError> {
    let w = st.sessions.receive(&put.body).await?;
    if w.changed() {
        st.events.session(&put.body);
    }
    Ok(written(w))
}

async fn patch_session(
    State(st): State<CspState>,
    p: OwnedBody<Session, SessionPatch>,
) -> Result<Response, OcpiError> {
    let (w, s) = st.sessions.receive_patch(&p.owner, &p.key, p.body).await?;
    if w == Write::Updated {
        st.events.session(&s);
    }
    Ok(written(w))
}
