//! ChargingProfiles module, **Receiver** interface (CPO), checklist §12.1 (UC3-7):
//! `PUT {chargingprofiles}/{session_id}` (SetChargingProfile), `GET …/{session_id}?duration=&response_url=`
//! (the active profile), `DELETE …/{session_id}?response_url=` (clear). Each is answered at once with
//! a ChargingProfileResponse (ACCEPTED, NOT_SUPPORTED, REJECTED, TOO_OFTEN, UNKNOWN_SESSION) and the
//! result follows on `response_url`; rules in [`crate::profiles`].

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::put;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, OcpiQuery, PeerCaller};
use roaming_peer::server::reply::data;
use roaming_types::ResponseUrl;
use roaming_types::modules::charging_profiles::SetChargingProfile;
use roaming_types::modules::types::Role;
use serde::Deserialize;

use crate::profiles::{Asker, Request};
use crate::state::CsoState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/chargingprofiles";

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new()
        .route(
            &format!("{PATH}/{{session_id}}"),
            put(set_profile).get(get_profile).delete(clear_profile),
        )
        .with_state(state)
}

/// `?duration=&response_url=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileQuery {
    /// Seconds of the active profile wanted (GET).
    #[serde(default)]
    pub duration: Option<u32>,
    /// Where the result goes (a URL we can call, §12.1).
    #[serde(default)]
    pub response_url: Option<ResponseUrl>,
}

fn asker(caller: &PeerCaller) -> Asker {
    Asker {
        peer: caller.peer.id.clone(),
        parties: caller.parties(&Role::Emsp),
    }
}

async fn set_profile(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath(id): OcpiPath<String>,
    OcpiJson(body): OcpiJson<SetChargingProfile>,
) -> Result<Response, OcpiError> {
    let r = st
        .profiles
        .request(
            &asker(&caller),
            &id,
            Request::Set(body.charging_profile),
            Some(body.response_url.as_str().to_owned()),
        )
        .await?;
    data(&r)
}

async fn get_profile(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath(id): OcpiPath<String>,
    OcpiQuery(q): OcpiQuery<ProfileQuery>,
) -> Result<Response, OcpiError> {
    let duration = q
        .duration
        .ok_or_else(|| OcpiError::InvalidParameters("duration is required (§12.1)".to_owned()))?;
    let r = st
        .profiles
        .request(
            &asker(&caller),
            &id,
            Request::Get(duration),
            q.response_url.map(ResponseUrl::into_inner),
        )
        .await?;
    data(&r)
}

async fn clear_profile(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath(id): OcpiPath<String>,
    OcpiQuery(q): OcpiQuery<ProfileQuery>,
) -> Result<Response, OcpiError> {
    let r = st
        .profiles
        .request(
            &asker(&caller),
            &id,
            Request::Clear,
            q.response_url.map(ResponseUrl::into_inner),
        )
        .await?;
    data(&r)
}
