//! Operator routes for sites, EVSE status and tariffs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use roaming_peer::operator::{OpJson, OperatorError};
use roaming_types::modules::locations::{Connector, Evse, Location, Status};
use roaming_types::modules::tariffs::Tariff;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::sites::Sites;

type Answer<T> = Result<Json<T>, OperatorError>;

/// The routes.
pub fn router(sites: Sites) -> Router {
    Router::new()
        .route("/api/locations", get(list_locations))
        .route("/api/locations/import", post(import_locations))
        .route(
            "/api/locations/{id}",
            get(get_location).put(put_location).patch(patch_location),
        )
        .route(
            "/api/locations/{id}/{evse}",
            get(get_evse).put(put_evse).patch(patch_evse),
        )
        .route("/api/locations/{id}/{evse}/status", put(set_status))
        .route(
            "/api/locations/{id}/{evse}/{connector}",
            put(put_connector).patch(patch_connector),
        )
        .route("/api/tariffs", get(list_tariffs))
        .route("/api/tariffs/import", post(import_tariffs))
        .route(
            "/api/tariffs/{id}",
            get(get_tariff).put(put_tariff).delete(delete_tariff),
        )
        .with_state(sites)
}

/// The answer of an import.
pub type Imported = crate::sites::ImportCount;

/// The elements of a JSON array body, unparsed (imports can be large: each element is parsed on its own).
fn array(body: &[u8]) -> Result<Vec<&RawValue>, OperatorError> {
    serde_json::from_slice::<Vec<&RawValue>>(body)
        .map_err(|e| OperatorError::invalid(format!("the body must be a JSON array of OCPI objects: {e}")))
}

async fn import_locations(State(s): State<Sites>, body: Bytes) -> Answer<Imported> {
    Ok(Json(s.import_locations(&array(&body)?).await?))
}

async fn list_locations(State(s): State<Sites>) -> Answer<Vec<Location>> {
    Ok(Json(Sites::locations(s.store())?))
}

async fn get_location(State(s): State<Sites>, Path(id): Path<String>) -> Answer<Location> {
    Sites::location(s.store(), &id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no location {id}")))
}

async fn put_location(
    State(s): State<Sites>,
    Path(id): Path<String>,
    OpJson(v): OpJson<Value>,
) -> Answer<Location> {
    Ok(Json(s.put_location(&id, v).await?))
}

async fn patch_location(
    State(s): State<Sites>,
    Path(id): Path<String>,
    OpJson(v): OpJson<Value>,
) -> Answer<Location> {
    Ok(Json(s.patch_location(&id, v).await?))
}

async fn get_evse(State(s): State<Sites>, Path((id, uid)): Path<(String, String)>) -> Answer<Evse> {
    let loc = Sites::location(s.store(), &id)?
        .ok_or_else(|| OperatorError::not_found(format!("no location {id}")))?;
    loc.evses
        .into_iter()
        .find(|e| e.uid.as_str().eq_ignore_ascii_case(&uid))
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no EVSE {uid} at {id}")))
}

async fn put_evse(
    State(s): State<Sites>,
    Path((id, uid)): Path<(String, String)>,
    OpJson(v): OpJson<Value>,
) -> Answer<Evse> {
    Ok(Json(s.put_evse(&id, &uid, v).await?))
}

async fn patch_evse(
    State(s): State<Sites>,
    Path((id, uid)): Path<(String, String)>,
    OpJson(v): OpJson<Value>,
) -> Answer<Evse> {
    Ok(Json(s.patch_evse(&id, &uid, v).await?))
}

/// The body of a status change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusChange {
    /// The new status.
    pub status: Status,
}

async fn set_status(
    State(s): State<Sites>,
    Path((id, uid)): Path<(String, String)>,
    OpJson(v): OpJson<StatusChange>,
) -> Answer<Evse> {
    if !v.status.is_known() {
        return Err(OperatorError::invalid(format!("unknown status {}", v.status)));
    }
    Ok(Json(s.set_status(&id, &uid, v.status).await?))
}

async fn put_connector(
    State(s): State<Sites>,
    Path((id, uid, cid)): Path<(String, String, String)>,
    OpJson(v): OpJson<Value>,
) -> Answer<Connector> {
    Ok(Json(s.put_connector(&id, &uid, &cid, v).await?))
}

async fn patch_connector(
    State(s): State<Sites>,
    Path((id, uid, cid)): Path<(String, String, String)>,
    OpJson(v): OpJson<Value>,
) -> Answer<Connector> {
    Ok(Json(s.patch_connector(&id, &uid, &cid, v).await?))
}

async fn import_tariffs(State(s): State<Sites>, body: Bytes) -> Answer<Imported> {
    Ok(Json(s.import_tariffs(&array(&body)?).await?))
}

async fn list_tariffs(State(s): State<Sites>) -> Answer<Vec<Tariff>> {
    Ok(Json(Sites::tariffs(s.store())?))
}

async fn get_tariff(State(s): State<Sites>, Path(id): Path<String>) -> Answer<Tariff> {
    Sites::tariff(s.store(), &id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no tariff {id}")))
}

async fn put_tariff(
    State(s): State<Sites>,
    Path(id): Path<String>,
    OpJson(v): OpJson<Value>,
) -> Answer<Tariff> {
    Ok(Json(s.put_tariff(&id, v).await?))
}

async fn delete_tariff(State(s): State<Sites>, Path(id): Path<String>) -> Result<StatusCode, OperatorError> {
    s.delete_tariff(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
