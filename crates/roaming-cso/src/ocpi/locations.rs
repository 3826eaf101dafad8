//! Locations module, **Sender** interface (CPO), checklist §6.1: `GET {locations}` (paginated,
//! T-60…T-62) and `GET {locations}/{location_id}[/{evse_uid}[/{connector_id}]]`. Only published
//! locations with a valid EVSE are served (LOC-02, LOC-03).

use std::sync::Arc;

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::get;
use roaming_peer::core::Core;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiPath, OcpiQuery, PeerCaller};
use roaming_peer::server::paginate::{PageParams, page_response};
use roaming_types::Envelope;
use roaming_types::ids::{ConnectorId, EvseUid};
use roaming_types::modules::locations::Location;

use crate::sites::{LOCATIONS, PUBLIC, is_public};

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/locations";
/// Largest page.
pub const MAX_LIMIT: usize = 500;

/// The routes.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route(PATH, get(get_locations))
        .route(&format!("{PATH}/{{location_id}}"), get(get_location))
        .route(&format!("{PATH}/{{location_id}}/{{evse_uid}}"), get(get_evse))
        .route(
            &format!("{PATH}/{{location_id}}/{{evse_uid}}/{{connector_id}}"),
            get(get_connector),
        )
        .with_state(core)
}

async fn get_locations(
    State(core): State<Arc<Core>>,
    caller: PeerCaller,
    OcpiQuery(params): OcpiQuery<PageParams>,
    uri: OriginalUri,
) -> Result<Response, OcpiError> {
    let q = params.query(MAX_LIMIT, caller.peer.compat.lenient_datetime)?;
    let page = LOCATIONS.page(&core.store, PUBLIC, &q)?;
    Ok(page_response(
        &core.url_of(uri.path()),
        &params,
        &q,
        page,
        MAX_LIMIT,
    ))
}

fn public_location(core: &Core, id: &str) -> Result<Location, OcpiError> {
    let doc = LOCATIONS.get(&core.store, id.to_ascii_lowercase().as_bytes())?;
    let loc: Option<Location> = doc
        .map(|d| serde_json::from_slice(&d.json))
        .transpose()
        .map_err(|e| OcpiError::Internal(e.to_string()))?;
    loc.filter(is_public)
        .ok_or_else(|| OcpiError::unknown_location(format!("no location {id}")))
}

type Json = Result<axum::Json<Envelope<serde_json::Value>>, OcpiError>;

fn data<T: serde::Serialize>(v: &T) -> Json {
    Ok(axum::Json(Envelope::success(
        serde_json::to_value(v).map_err(|e| OcpiError::Internal(e.to_string()))?,
    )))
}

async fn get_location(
    State(core): State<Arc<Core>>,
    _caller: PeerCaller,
    OcpiPath(id): OcpiPath<String>,
) -> Json {
    data(&public_location(&core, &id)?)
}

async fn get_evse(
    State(core): State<Arc<Core>>,
    _caller: PeerCaller,
    OcpiPath((id, uid)): OcpiPath<(String, String)>,
) -> Json {
    let loc = public_location(&core, &id)?;
    let uid = EvseUid::new(uid).map_err(|e| OcpiError::InvalidParameters(e.to_string()))?;
    data(
        loc.evse(&uid)
            .ok_or_else(|| OcpiError::unknown_object(format!("no EVSE {uid} at location {id}")))?,
    )
}

async fn get_connector(
    State(core): State<Arc<Core>>,
    _caller: PeerCaller,
    OcpiPath((id, uid, cid)): OcpiPath<(String, String, String)>,
) -> Json {
    let loc = public_location(&core, &id)?;
    let uid = EvseUid::new(uid).map_err(|e| OcpiError::InvalidParameters(e.to_string()))?;
    let cid = ConnectorId::new(cid).map_err(|e| OcpiError::InvalidParameters(e.to_string()))?;
    let evse = loc
        .evse(&uid)
        .ok_or_else(|| OcpiError::unknown_object(format!("no EVSE {uid} at location {id}")))?;
    data(
        evse.connector(&cid)
            .ok_or_else(|| OcpiError::unknown_object(format!("no connector {cid} on EVSE {uid}")))?,
    )
}
