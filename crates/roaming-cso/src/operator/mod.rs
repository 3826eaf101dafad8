//! The CSO's operator API (`docs/api.md`): sites and tariffs, the CSPs' tokens, sessions, commands,
//! reservations, what the chargers report (for a station-management system behind the webhook
//! gateway) and the charger simulator.

pub mod sites;

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use roaming_peer::operator::{OpJson, OperatorError};
use roaming_types::extensions::quotes::{Quote, QuoteRequest};
use roaming_types::ids::{EvseUid, LocationId, PartyRef};
use roaming_types::modules::cdrs::Cdr;
use roaming_types::modules::sessions::{Session, SessionStatus};
use roaming_types::modules::tokens::{Token, TokenType};
use serde::{Deserialize, Serialize};

use crate::authorization::Decision;
use crate::cdr_checks::{CdrChecks, ReceivedCheck};
use crate::commands::CommandRecord;
use crate::error::CsoError;
use crate::gateway::simulator::{EvseView, SettingsChange, SimError, Simulator, TokenOutcome};
use crate::gateway::{AuthorizeRequest, StationEvent};
use crate::profiles::{LocalLimit, ProfileState};
use crate::quotes;
use crate::reservations::{self, Reservation, ReservationState};
use crate::sessions::SessionView;
use crate::state::CsoState;

type Answer<T> = Result<Json<T>, OperatorError>;

/// Every operator route of the CSO.
pub fn router(state: CsoState) -> Router {
    Router::new()
        .route("/api/tokens", get(list_tokens))
        .route("/api/tokens/collisions", get(list_token_collisions))
        .route("/api/sessions", get(list_sessions))
        .route("/api/sessions/{id}", get(get_session))
        .route("/api/sessions/{id}/invalidate", post(invalidate_session))
        .route("/api/cdrs", get(list_cdrs))
        .route("/api/cdrs/{id}", get(get_cdr))
        .route("/api/cdrs/{id}/credit", post(credit_cdr))
        .route("/api/cdrs/{id}/check", get(get_cdr_check))
        .route("/api/cdr-checks", get(list_cdr_checks))
        .route("/api/quotes", post(quote))
        .route("/api/commands", get(list_commands))
        .route("/api/commands/{id}", get(get_command))
        .route("/api/reservations", get(list_reservations))
        .route(
            "/api/reservations/{cc}/{pid}/{id}/cancel",
            post(cancel_reservation),
        )
        .route("/api/gateway", get(gateway))
        .route("/api/limits", get(list_limits))
        .route("/api/limits/{loc}", axum::routing::put(set_location_limit))
        .route("/api/limits/{loc}/{evse}", axum::routing::put(set_evse_limit))
        .route("/api/profiles", get(list_profiles))
        .route("/api/stations/events", post(station_event))
        .route("/api/stations/authorize", post(station_authorize))
        .route("/api/simulator/evses", get(sim_list))
        .route(
            "/api/simulator/evses/{loc}/{evse}",
            get(sim_get).put(sim_configure),
        )
        .route(
            "/api/simulator/evses/{loc}/{evse}/present-token",
            post(sim_present_token),
        )
        .route("/api/simulator/evses/{loc}/{evse}/plug-in", post(sim_plug_in))
        .route("/api/simulator/evses/{loc}/{evse}/unplug", post(sim_unplug))
        .route("/api/simulator/evses/{loc}/{evse}/suspend", post(sim_suspend))
        .route("/api/simulator/evses/{loc}/{evse}/resume", post(sim_resume))
        .with_state(state.clone())
        .merge(sites::router(state.sites))
}

impl From<SimError> for OperatorError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::NotFound(m) => OperatorError::not_found(m),
            SimError::Conflict(m) => OperatorError::conflict(m),
        }
    }
}

fn party_param(q: &BTreeMap<String, String>) -> Result<Option<PartyRef>, OperatorError> {
    q.get("party")
        .map(|p| {
            p.parse::<PartyRef>()
                .map_err(|e| OperatorError::invalid(format!("party {p:?}: {e}")))
        })
        .transpose()
}

async fn list_tokens(
    State(s): State<CsoState>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Answer<Vec<Token>> {
    let party = party_param(&q)?;
    Ok(Json(
        crate::tokens::Tokens::list(&s.core.store, party.as_ref()).map_err(OperatorError::internal)?,
    ))
}

async fn list_token_collisions(State(s): State<CsoState>) -> Answer<Vec<crate::tokens::Collision>> {
    Ok(Json(crate::tokens::Tokens::collisions(&s.core.store)?))
}

async fn list_sessions(
    State(s): State<CsoState>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Answer<Vec<Session>> {
    let party = party_param(&q)?;
    let status = q
        .get("status")
        .map(|v| {
            serde_json::from_value::<SessionStatus>(serde_json::Value::String(v.to_ascii_uppercase()))
                .map_err(|e| OperatorError::invalid(format!("status {v:?}: {e}")))
        })
        .transpose()?;
    Ok(Json(s.sessions.list(party.as_ref(), status.as_ref())?))
}

async fn get_session(State(s): State<CsoState>, Path(id): Path<String>) -> Answer<SessionView> {
    s.sessions
        .view(&id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no session {id}")))
}

async fn invalidate_session(State(s): State<CsoState>, Path(id): Path<String>) -> Answer<Session> {
    Ok(Json(s.sessions.invalidate(&id).await?))
}

async fn list_cdrs(State(s): State<CsoState>, Query(q): Query<BTreeMap<String, String>>) -> Answer<Vec<Cdr>> {
    let party = party_param(&q)?;
    Ok(Json(s.cdrs.list(party.as_ref())?))
}

async fn get_cdr(State(s): State<CsoState>, Path(id): Path<String>) -> Answer<Cdr> {
    s.cdrs
        .get(&id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no CDR {id}")))
}

async fn credit_cdr(State(s): State<CsoState>, Path(id): Path<String>) -> Answer<Cdr> {
    Ok(Json(s.cdrs.credit(&id).await?))
}

async fn get_cdr_check(State(s): State<CsoState>, Path(id): Path<String>) -> Answer<ReceivedCheck> {
    CdrChecks::new(s.core.store.clone())
        .get(&id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no verdict on CDR {id} yet")))
}

async fn list_cdr_checks(State(s): State<CsoState>) -> Answer<Vec<ReceivedCheck>> {
    Ok(Json(CdrChecks::new(s.core.store.clone()).list()?))
}

/// A quote (`x-roaming-quotes`, UC2-2): a refusal is 400 with the OCPI face's message, a store
/// failure 500.
async fn quote(State(s): State<CsoState>, OpJson(req): OpJson<QuoteRequest>) -> Answer<Quote> {
    quotes::compute(&s.sites, &s.sessions, &s.core.config.party, &req)
        .map(Json)
        .map_err(|e| match e {
            CsoError::Store(_) | CsoError::Internal(_) => OperatorError::from(e),
            e => OperatorError::invalid(e.to_string()),
        })
}

/// A local limit to set (`limit_kw: null` lifts it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitChange {
    /// The cap in kW, or null.
    pub limit_kw: Option<rust_decimal::Decimal>,
}

async fn list_limits(State(s): State<CsoState>) -> Answer<Vec<LocalLimit>> {
    Ok(Json(s.profiles.limits()?))
}

async fn list_profiles(State(s): State<CsoState>) -> Answer<Vec<ProfileState>> {
    Ok(Json(s.profiles.states()?))
}

fn ids(loc: &str, evse: Option<&str>) -> Result<(LocationId, Option<EvseUid>), OperatorError> {
    let l = LocationId::new(loc).map_err(|e| OperatorError::invalid(e.to_string()))?;
    let e = evse
        .map(|e| EvseUid::new(e).map_err(|e| OperatorError::invalid(e.to_string())))
        .transpose()?;
    Ok((l, e))
}

async fn set_location_limit(
    State(s): State<CsoState>,
    Path(loc): Path<String>,
    OpJson(c): OpJson<LimitChange>,
) -> Answer<Option<LocalLimit>> {
    let (l, _) = ids(&loc, None)?;
    Ok(Json(s.profiles.set_local_limit(&l, None, c.limit_kw).await?))
}

async fn set_evse_limit(
    State(s): State<CsoState>,
    Path((loc, evse)): Path<(String, String)>,
    OpJson(c): OpJson<LimitChange>,
) -> Answer<Option<LocalLimit>> {
    let (l, e) = ids(&loc, Some(&evse))?;
    Ok(Json(
        s.profiles.set_local_limit(&l, e.as_ref(), c.limit_kw).await?,
    ))
}

async fn list_commands(State(s): State<CsoState>) -> Answer<Vec<CommandRecord>> {
    Ok(Json(crate::commands::Commands::list(&s.core.store)?))
}

async fn get_command(State(s): State<CsoState>, Path(id): Path<String>) -> Answer<CommandRecord> {
    crate::commands::Commands::get(&s.core.store, &id)?
        .map(Json)
        .ok_or_else(|| OperatorError::not_found(format!("no command {id}")))
}

async fn list_reservations(State(s): State<CsoState>) -> Answer<Vec<Reservation>> {
    Ok(Json(
        reservations::list(&s.core.store).map_err(OperatorError::internal)?,
    ))
}

async fn cancel_reservation(
    State(s): State<CsoState>,
    Path((cc, pid, id)): Path<(String, String, String)>,
) -> Answer<Reservation> {
    let party: PartyRef = format!("{cc}{pid}")
        .parse()
        .map_err(|e| OperatorError::invalid(format!("party {cc}-{pid}: {e}")))?;
    let key = reservations::reservation_key(&party, &id);
    Ok(Json(
        s.commands
            .end_reservation(&key, ReservationState::CanceledByOperator)
            .await?,
    ))
}

/// How the CSO reaches its chargers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    /// `simulator` or `webhook`.
    pub gateway: String,
}

async fn gateway(State(s): State<CsoState>) -> Json<GatewayInfo> {
    Json(GatewayInfo {
        gateway: s.commands.gateway().name().to_owned(),
    })
}

/// What a station event did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventOutcome {
    /// The session it created or changed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
}

async fn station_event(State(s): State<CsoState>, OpJson(e): OpJson<StationEvent>) -> Answer<EventOutcome> {
    Ok(Json(EventOutcome {
        session: s.stations.handle(e).await?,
    }))
}

async fn station_authorize(
    State(s): State<CsoState>,
    OpJson(r): OpJson<AuthorizeRequest>,
) -> Answer<Decision> {
    Ok(Json(s.stations.authorize(&r).await?))
}

fn simulator(s: &CsoState) -> Result<&Simulator, OperatorError> {
    s.simulator.as_ref().ok_or_else(|| {
        OperatorError::conflict("the chargers are reached through the webhook gateway, not the simulator")
    })
}

async fn sim_list(State(s): State<CsoState>) -> Answer<Vec<EvseView>> {
    Ok(Json(simulator(&s)?.evses()))
}

async fn sim_get(State(s): State<CsoState>, Path((loc, evse)): Path<(String, String)>) -> Answer<EvseView> {
    Ok(Json(simulator(&s)?.evse(&loc, &evse)?))
}

async fn sim_configure(
    State(s): State<CsoState>,
    Path((loc, evse)): Path<(String, String)>,
    OpJson(change): OpJson<SettingsChange>,
) -> Answer<EvseView> {
    Ok(Json(simulator(&s)?.configure(&loc, &evse, &change)?))
}

/// A token held to a simulated charger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentedToken {
    /// The uid read.
    pub uid: String,
    /// Its type (RFID by default).
    #[serde(default = "rfid", rename = "type")]
    pub token_type: TokenType,
}

fn rfid() -> TokenType {
    TokenType::Rfid
}

async fn sim_present_token(
    State(s): State<CsoState>,
    Path((loc, evse)): Path<(String, String)>,
    OpJson(t): OpJson<PresentedToken>,
) -> Answer<TokenOutcome> {
    Ok(Json(
        simulator(&s)?
            .present_token(&loc, &evse, &t.uid, t.token_type)
            .await?,
    ))
}

async fn sim_plug_in(
    State(s): State<CsoState>,
    Path((loc, evse)): Path<(String, String)>,
) -> Answer<EvseView> {
    Ok(Json(simulator(&s)?.plug_in(&loc, &evse)?))
}

async fn sim_unplug(
    State(s): State<CsoState>,
    Path((loc, evse)): Path<(String, String)>,
) -> Answer<EvseView> {
    Ok(Json(simulator(&s)?.unplug(&loc, &evse)?))
}

async fn sim_suspend(
    State(s): State<CsoState>,
    Path((loc, evse)): Path<(String, String)>,
) -> Answer<EvseView> {
    Ok(Json(simulator(&s)?.set_demand(&loc, &evse, false)?))
}

async fn sim_resume(
    State(s): State<CsoState>,
    Path((loc, evse)): Path<(String, String)>,
) -> Answer<EvseView> {
    Ok(Json(simulator(&s)?.set_demand(&loc, &evse, true)?))
}
