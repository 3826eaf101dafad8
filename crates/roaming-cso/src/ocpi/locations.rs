//! Locations module, **Sender** interface (CPO), checklist §6.1: `GET {locations}` (paginated,
//! T-60…T-62) and `GET {locations}/{location_id}[/{evse_uid}[/{connector_id}]]`. Only published
//! locations with a valid EVSE are served (LOC-02, LOC-03, [`crate::sites::is_public`]).

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiPath, OcpiQuery, PeerCaller};
use roaming_peer::server::paginate::{PageParams, page_response};
use roaming_peer::server::reply::data;
use roaming_types::ids::{ConnectorId, EvseUid};
use roaming_types::modules::locations::Location;

use crate::sites::{LOCATIONS, PUBLIC, Sites, is_public};
use crate::state::CsoState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/locations";
/// Largest page.
pub const MAX_LIMIT: usize = 500;

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new()
        .route(PATH, get(get_locations))
        .route(&format!("{PATH}/{{location_id}}"), get(get_location))
        .route(&format!("{PATH}/{{location_id}}/{{evse_uid}}"), get(get_evse))
        .route(
            &format!("{PATH}/{{location_id}}/{{evse_uid}}/{{connector_id}}"),
            get(get_connector),
        )
        .with_state(state)
}

async fn get_locations(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiQuery(params): OcpiQuery<PageParams>,
    uri: OriginalUri,
) -> Result<Response, OcpiError> {
    let q = params.query(MAX_LIMIT, caller.peer.compat.lenient_datetime)?;
    let page = LOCATIONS.page(&st.core.store, PUBLIC, &q)?;
    Ok(page_response(
        &st.core.url_of(uri.path()),
        &params,
        &q,
        page,
        MAX_LIMIT,
    ))
}

fn public_location(st: &CsoState, id: &str) -> Result<Location, OcpiError> {
    Sites::location(&st.core.store, id)?
        .filter(is_public)
        .ok_or_else(|| OcpiError::unknown_location(format!("no location {id}")))
}

fn invalid(e: impl std::fmt::Display) -> OcpiError {
    OcpiError::InvalidParameters(e.to_string())
}

async fn get_location(
    State(st): State<CsoState>,
    _caller: PeerCaller,
    OcpiPath(id): OcpiPath<String>,
) -> Result<Response, OcpiError> {
    data(&public_location(&st, &id)?)
}

async fn get_evse(
    State(st): State<CsoState>,
    _caller: PeerCaller,
    OcpiPath((id, uid)): OcpiPath<(String, String)>,
) -> Result<Response, OcpiError> {
    let loc = public_location(&st, &id)?;
    let uid = EvseUid::new(uid).map_err(invalid)?;
    data(
        loc.evse(&uid)
            .ok_or_else(|| OcpiError::unknown_object(format!("no EVSE {uid} at location {id}")))?,
    )
}

async fn get_connector(
    State(st): State<CsoState>,
    _caller: PeerCaller,
    OcpiPath((id, uid, cid)): OcpiPath<(String, String, String)>,
) -> Result<Response, OcpiError> {
    let loc = public_location(&st, &id)?;
    let uid = EvseUid::new(uid).map_err(invalid)?;
    let cid = ConnectorId::new(cid).map_err(invalid)?;
    let evse = loc
        .evse(&uid)
        .ok_or_else(|| OcpiError::unknown_object(format!("no EVSE {uid} at location {id}")))?;
    data(
        evse.connector(&cid)
            .ok_or_else(|| OcpiError::unknown_object(format!("no connector {cid} on EVSE {uid}")))?,
    )
}
