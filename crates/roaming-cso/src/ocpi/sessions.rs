//! Sessions module, **Sender** interface (CPO), checklist §7.1: `GET {sessions}` (paginated,
//! T-60…T-62) and `PUT {sessions}/{session_id}/charging_preferences` (SES-07).
//!
//! Each CSP sees only its own sessions (those of its tokens). `date_from` is required by the spec, but
//! a request without it is served from the epoch (E-14). There is no GET of one session here.
//!
//! Charging preferences: the rules are in [`crate::preferences`].

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::{get, put};
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, OcpiQuery, PeerCaller};
use roaming_peer::server::paginate::{PageParams, caller_page};
use roaming_peer::server::reply::data;
use roaming_types::modules::sessions::ChargingPreferences;
use roaming_types::modules::types::Role;

use crate::preferences;
use crate::sessions::SESSIONS;
use crate::state::CsoState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/sessions";
/// Largest page.
pub const MAX_LIMIT: usize = 500;

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new()
        .route(PATH, get(get_sessions))
        .route(
            &format!("{PATH}/{{session_id}}/charging_preferences"),
            put(put_preferences),
        )
        .with_state(state)
}

async fn get_sessions(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiQuery(params): OcpiQuery<PageParams>,
    uri: OriginalUri,
) -> Result<Response, OcpiError> {
    caller_page(
        &st.core,
        &SESSIONS,
        &caller,
        &Role::Emsp,
        &params,
        &st.core.url_of(uri.path()),
        MAX_LIMIT,
    )
}

async fn put_preferences(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath(id): OcpiPath<String>,
    OcpiJson(prefs): OcpiJson<ChargingPreferences>,
) -> Result<Response, OcpiError> {
    let parties = caller.parties(&Role::Emsp);
    data(&preferences::put(&st.sessions, &st.sites, &st.core.store, &parties, &id, prefs).await?)
}
