//! The CSP's operator API: search what the CSOs published, the tariffs of a connector, pulls, and a
//! stream of live events (`docs/api.md`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use roaming_peer::operator::OperatorError;
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid, PartyRef};
use roaming_types::modules::locations::Location;
use roaming_types::modules::tariffs::Tariff;
use serde::{Deserialize, Serialize};

use crate::CspState;
use crate::sites::{Search, SearchResult};
use crate::sync::{SyncReport, SyncState};

type Answer<T> = Result<Json<T>, OperatorError>;

/// The routes.
pub fn router(state: CspState) -> Router {
    Router::new()
        .route("/api/locations", get(search))
        .route("/api/locations/{cc}/{pid}/{id}", get(get_location))
        .route(
            "/api/locations/{cc}/{pid}/{id}/{evse}/{connector}/tariffs",
            get(connector_tariffs),
        )
        .route("/api/tariffs", get(list_tariffs))
        .route("/api/sync", get(sync_states))
        .route("/api/peers/{id}/sync", post(sync_now))
        .route("/api/events", get(events))
        .with_state(state)
}

fn party(cc: &str, pid: &str) -> Result<PartyRef, OperatorError> {
    format!("{cc}-{pid}")
        .parse()
        .map_err(|e| OperatorError::invalid(format!("party: {e}")))
}

async fn search(State(st): State<CspState>, Query(q): Query<Search>) -> Answer<SearchResult> {
    st.sites.search(&q).map(Json).map_err(OperatorError::invalid)
}

async fn get_location(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
) -> Answer<Location> {
    let owner = party(&cc, &pid)?;
    st.sites
        .location(&owner, &id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no location {owner}/{id}")))
}

/// One tariff of a connector, and whether it applies now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectorTariff {
    /// The tariff id the connector names.
    pub tariff_id: String,
    /// Whether its validity window contains the current time.
    pub active_now: bool,
    /// The tariff, when the CSO has sent it.
    pub tariff: Option<Tariff>,
}

/// UC2-2: the tariffs that apply to a connector (from its `tariff_ids`, LOC-08).
async fn connector_tariffs(
    State(st): State<CspState>,
    Path((cc, pid, id, evse, connector)): Path<(String, String, String, String, String)>,
) -> Answer<Vec<ConnectorTariff>> {
    let owner = party(&cc, &pid)?;
    let loc = st
        .sites
        .location(&owner, &id)?
        .ok_or_else(|| OperatorError::not_found(format!("no location {owner}/{id}")))?;
    let uid = EvseUid::new(evse.as_str()).map_err(|e| OperatorError::invalid(e.to_string()))?;
    let cid = ConnectorId::new(connector.as_str()).map_err(|e| OperatorError::invalid(e.to_string()))?;
    let c = loc
        .evse(&uid)
        .and_then(|e| e.connector(&cid))
        .ok_or_else(|| OperatorError::not_found(format!("no connector {evse}/{connector} at {id}")))?;
    let now = DateTime::now();
    let mut out = Vec::new();
    for tid in &c.tariff_ids {
        let tariff = st.sites.tariff(&owner, tid.as_str())?;
        out.push(ConnectorTariff {
            tariff_id: tid.as_str().to_owned(),
            active_now: tariff.as_ref().is_some_and(|t| t.is_valid_at(now)),
            tariff,
        });
    }
    Ok(Json(out))
}

/// Query of `GET /api/tariffs`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TariffQuery {
    /// Only this owner (`CC-PID`).
    pub party: Option<String>,
}

async fn list_tariffs(State(st): State<CspState>, Query(q): Query<TariffQuery>) -> Answer<Vec<Tariff>> {
    let owner: Option<PartyRef> = q
        .party
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| OperatorError::invalid(format!("party: {e}")))?;
    Ok(Json(st.sites.tariffs(owner.as_ref())?))
}

async fn sync_states(State(st): State<CspState>) -> Answer<Vec<SyncState>> {
    Ok(Json(crate::sync::states(&st)?))
}

/// Query of `POST /api/peers/{id}/sync`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SyncQuery {
    /// Pull everything and remove what is gone (T-64), instead of changes since the last pull.
    #[serde(default)]
    pub full: bool,
}

async fn sync_now(
    State(st): State<CspState>,
    Path(id): Path<String>,
    Query(q): Query<SyncQuery>,
) -> Answer<SyncReport> {
    if st.core.peers.get(&id)?.is_none() {
        return Err(OperatorError::not_found(format!("no peer {id}")));
    }
    Ok(Json(crate::sync::sync_peer(&st, &id, q.full).await?))
}

/// Server-sent events: one `data:` line of JSON per change the CSP stored.
async fn events(State(st): State<CspState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = st.events.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let ev = match rx.recv().await {
            Ok(e) => Event::default()
                .json_data(&e)
                .unwrap_or_else(|_| Event::default().comment("unserializable")),
            // The client was too slow: tell it how many events it missed.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(ev), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
