//! The CSP's operator API: search what the CSOs published, the tariffs of a connector, pulls, and a
//! stream of live events (`docs/api.md`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use roaming_peer::operator::{OpJson, OperatorError};
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid, PartyRef};
use roaming_types::modules::cdrs::Cdr;
use roaming_types::modules::locations::Location;
use roaming_types::modules::sessions::{
    ChargingPreferences, ChargingPreferencesResponse, Session, SessionStatus,
};
use roaming_types::modules::tariffs::Tariff;
use roaming_types::modules::tokens::TokenType;
use serde::{Deserialize, Serialize};

use crate::checks::CdrCheck;
use crate::commands::{
    CancelRequest, CommandRecord, ReserveRequest, StartRequest, StopRequest, UnlockRequest,
};
use crate::events::CspEvent;
use crate::profiles::{ActivePlan, Kind, PlanChange, ProfileRequest};
use crate::sites::{self, Search, SearchResult};
use crate::state::CspState;
use crate::sync::{SyncReport, SyncState};
use crate::tokens::{AuthorizationRecord, TokenChange, TokenIssue, TokenView};

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
        .route("/api/tokens", get(list_tokens).post(issue_token))
        .route("/api/tokens/{type}/{uid}", get(get_token).patch(update_token))
        .route("/api/authorizations", get(list_authorizations))
        .route("/api/commands", get(list_commands))
        .route("/api/commands/start", post(start))
        .route("/api/commands/stop", post(stop))
        .route("/api/commands/reserve", post(reserve))
        .route("/api/commands/cancel-reservation", post(cancel_reservation))
        .route("/api/commands/unlock", post(unlock))
        .route("/api/commands/{id}", get(get_command))
        .route("/api/sessions", get(list_sessions))
        .route("/api/sessions/{cc}/{pid}/{id}", get(get_session))
        .route("/api/cdrs", get(list_cdrs))
        .route("/api/cdrs/{cc}/{pid}/{id}", get(get_cdr))
        .route("/api/cdrs/{cc}/{pid}/{id}/check", get(get_check))
        .route("/api/cdr-checks", get(list_checks))
        .route("/api/reports/cdrs", get(report))
        .route("/api/quotes", post(quote))
        .route(
            "/api/sessions/{cc}/{pid}/{id}/profile",
            axum::routing::put(set_plan).get(get_plan).delete(clear_plan),
        )
        .route("/api/sessions/{cc}/{pid}/{id}/active-profile", get(active_plan))
        .route(
            "/api/sessions/{cc}/{pid}/{id}/preferences",
            axum::routing::put(preferences),
        )
        .route("/api/profile-requests", get(list_plan_requests))
        .route("/api/profile-requests/{id}", get(get_plan_request))
        .with_state(state)
}

fn party(cc: &str, pid: &str) -> Result<PartyRef, OperatorError> {
    format!("{cc}-{pid}")
        .parse()
        .map_err(|e| OperatorError::invalid(format!("party: {e}")))
}

async fn search(State(st): State<CspState>, Query(q): Query<Search>) -> Answer<SearchResult> {
    Ok(Json(st.sites.search(&q)?))
}

async fn get_location(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
) -> Answer<Location> {
    let owner = party(&cc, &pid)?;
    sites::location(&st.core.store, &owner, &id)?
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
    let loc = sites::location(&st.core.store, &owner, &id)?
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
        let tariff = sites::tariff(&st.core.store, &owner, tid.as_str())?;
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
/// Filters of `GET /api/events`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventFilter {
    /// Only events of this contract (sessions and commands of one driver).
    #[serde(default)]
    pub contract_id: Option<String>,
    /// Only events of these types (comma-separated: `session,command`).
    #[serde(default, rename = "type")]
    pub kinds: Option<String>,
}

impl EventFilter {
    fn admits(&self, e: &CspEvent) -> bool {
        let kind_ok = self
            .kinds
            .as_deref()
            .is_none_or(|k| k.split(',').any(|k| k.trim().eq_ignore_ascii_case(e.kind())));
        let contract_ok = self
            .contract_id
            .as_deref()
            .is_none_or(|c| e.contract_id().is_some_and(|x| x.eq_ignore_ascii_case(c)));
        kind_ok && contract_ok
    }
}

async fn events(
    State(st): State<CspState>,
    Query(filter): Query<EventFilter>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = st.events.subscribe();
    let stream = futures::stream::unfold((rx, filter), |(mut rx, filter)| async move {
        let ev = loop {
            match rx.recv().await {
                Ok(e) if !filter.admits(&e) => {}
                other => break other,
            }
        };
        let ev = match ev {
            Ok(e) => Event::default()
                .json_data(&e)
                .unwrap_or_else(|_| Event::default().comment("unserializable")),
            // The client was too slow: tell it how many events it missed.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(ev), (rx, filter)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn token_type(t: &str) -> Result<TokenType, OperatorError> {
    serde_json::from_value(serde_json::Value::String(t.to_ascii_uppercase()))
        .map_err(|e| OperatorError::invalid(format!("token type {t:?}: {e}")))
}

async fn list_tokens(State(st): State<CspState>) -> Answer<Vec<TokenView>> {
    Ok(Json(st.tokens.list()?))
}

async fn issue_token(State(st): State<CspState>, OpJson(req): OpJson<TokenIssue>) -> Answer<TokenView> {
    Ok(Json(st.tokens.issue(req).await?))
}

async fn get_token(State(st): State<CspState>, Path((t, uid)): Path<(String, String)>) -> Answer<TokenView> {
    let t = token_type(&t)?;
    st.tokens
        .get(&t, &uid)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no {t} token {uid}")))
}

async fn update_token(
    State(st): State<CspState>,
    Path((t, uid)): Path<(String, String)>,
    OpJson(change): OpJson<TokenChange>,
) -> Answer<TokenView> {
    let t = token_type(&t)?;
    Ok(Json(st.tokens.update(&t, &uid, change).await?))
}

async fn list_authorizations(State(st): State<CspState>) -> Answer<Vec<AuthorizationRecord>> {
    Ok(Json(st.tokens.authorizations()?))
}

async fn list_commands(State(st): State<CspState>) -> Answer<Vec<CommandRecord>> {
    Ok(Json(st.commands.list()?))
}

async fn get_command(State(st): State<CspState>, Path(id): Path<String>) -> Answer<CommandRecord> {
    st.commands
        .get(&id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no command {id}")))
}

async fn start(State(st): State<CspState>, OpJson(req): OpJson<StartRequest>) -> Answer<CommandRecord> {
    Ok(Json(st.commands.start(req).await?))
}

async fn stop(State(st): State<CspState>, OpJson(req): OpJson<StopRequest>) -> Answer<CommandRecord> {
    Ok(Json(st.commands.stop(req).await?))
}

async fn reserve(State(st): State<CspState>, OpJson(req): OpJson<ReserveRequest>) -> Answer<CommandRecord> {
    Ok(Json(st.commands.reserve(req).await?))
}

async fn cancel_reservation(
    State(st): State<CspState>,
    OpJson(req): OpJson<CancelRequest>,
) -> Answer<CommandRecord> {
    Ok(Json(st.commands.cancel_reservation(req).await?))
}

async fn unlock(State(st): State<CspState>, OpJson(req): OpJson<UnlockRequest>) -> Answer<CommandRecord> {
    Ok(Json(st.commands.unlock(req).await?))
}

/// Filters of `GET /api/sessions`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SessionFilter {
    /// One driver's contract.
    #[serde(default)]
    pub contract_id: Option<String>,
    /// One status.
    #[serde(default)]
    pub status: Option<String>,
}

async fn list_sessions(State(st): State<CspState>, Query(f): Query<SessionFilter>) -> Answer<Vec<Session>> {
    let status = f
        .status
        .as_deref()
        .map(|v| {
            serde_json::from_value::<SessionStatus>(serde_json::Value::String(v.to_ascii_uppercase()))
                .map_err(|e| OperatorError::invalid(format!("status {v:?}: {e}")))
        })
        .transpose()?;
    Ok(Json(st.sessions.list(f.contract_id.as_deref(), status.as_ref())?))
}

async fn get_session(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
) -> Answer<Session> {
    let owner = party(&cc, &pid)?;
    st.sessions
        .get(&owner, &id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no session {owner}/{id}")))
}

/// Filters of `GET /api/cdrs`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CdrFilter {
    /// One driver's contract.
    #[serde(default)]
    pub contract_id: Option<String>,
}

async fn list_cdrs(State(st): State<CspState>, Query(f): Query<CdrFilter>) -> Answer<Vec<Cdr>> {
    Ok(Json(st.cdrs.list(f.contract_id.as_deref())?))
}

async fn get_cdr(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
) -> Answer<Cdr> {
    let owner = party(&cc, &pid)?;
    st.cdrs
        .get(&owner, &id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no CDR {owner}/{id}")))
}

async fn get_check(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
) -> Answer<CdrCheck> {
    let owner = party(&cc, &pid)?;
    st.checks
        .get(&owner, &id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("CDR {owner}/{id} is not checked (yet)")))
}

async fn list_checks(State(st): State<CspState>) -> Answer<Vec<CdrCheck>> {
    Ok(Json(st.checks.list()?))
}

/// Query of `GET /api/reports/cdrs`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportQuery {
    /// CDRs that ended at or after this time.
    #[serde(default)]
    pub from: Option<DateTime>,
    /// CDRs that ended before this time.
    #[serde(default)]
    pub to: Option<DateTime>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    pub format: Option<String>,
}

async fn report(
    State(st): State<CspState>,
    Query(q): Query<ReportQuery>,
) -> Result<axum::response::Response, OperatorError> {
    use axum::response::IntoResponse as _;
    let cdrs: Vec<Cdr> = st
        .cdrs
        .list(None)?
        .into_iter()
        .filter(|c| q.from.is_none_or(|f| c.end_date_time >= f) && q.to.is_none_or(|t| c.end_date_time < t))
        .collect();
    let mut checks = std::collections::BTreeMap::new();
    for c in st.checks.list()? {
        checks.insert((c.cpo.to_string(), c.cdr_id.as_str().to_ascii_lowercase()), c);
    }
    let r = crate::checks::Report::of(q.from, q.to, &cdrs, &checks);
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(r).into_response()),
        "csv" => Ok((
            [(http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            r.csv(&cdrs, &checks),
        )
            .into_response()),
        other => Err(OperatorError::invalid(format!(
            "format {other:?} is not json or csv"
        ))),
    }
}

async fn quote(
    State(st): State<CspState>,
    OpJson(q): OpJson<crate::quotes::QuoteAsk>,
) -> Answer<serde_json::Value> {
    Ok(Json(crate::quotes::ask(&st, q).await?))
}

async fn set_plan(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
    OpJson(change): OpJson<PlanChange>,
) -> Answer<ProfileRequest> {
    let owner = party(&cc, &pid)?;
    Ok(Json(
        st.plans.send(&owner, &id, Kind::Set, Some(change), 0).await?,
    ))
}

/// `?duration=` of a plan read (seconds, default 900).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlanQuery {
    /// Seconds.
    #[serde(default)]
    pub duration: Option<u32>,
}

async fn get_plan(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
    Query(q): Query<PlanQuery>,
) -> Answer<ProfileRequest> {
    let owner = party(&cc, &pid)?;
    Ok(Json(
        st.plans
            .send(&owner, &id, Kind::Get, None, q.duration.unwrap_or(900))
            .await?,
    ))
}

async fn clear_plan(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
) -> Answer<ProfileRequest> {
    let owner = party(&cc, &pid)?;
    Ok(Json(st.plans.send(&owner, &id, Kind::Clear, None, 0).await?))
}

async fn active_plan(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
) -> Answer<ActivePlan> {
    let owner = party(&cc, &pid)?;
    st.plans
        .active(&owner, &id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no plan known for session {owner}/{id}")))
}

async fn preferences(
    State(st): State<CspState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
    OpJson(prefs): OpJson<ChargingPreferences>,
) -> Answer<ChargingPreferencesResponse> {
    let owner = party(&cc, &pid)?;
    Ok(Json(st.plans.preferences(&owner, &id, &prefs).await?))
}

async fn list_plan_requests(State(st): State<CspState>) -> Answer<Vec<ProfileRequest>> {
    Ok(Json(st.plans.list()?))
}

async fn get_plan_request(State(st): State<CspState>, Path(id): Path<String>) -> Answer<ProfileRequest> {
    st.plans
        .get(&id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no charging profile request {id}")))
}
