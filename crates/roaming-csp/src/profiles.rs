//! Charge plans from the CSP's side (UC3-7, UC3-10; checklist §12): set, read and clear the charging
//! profile of a driver's running session at the CSO, each request kept with the CSO's
//! ChargingProfileResponse and the result that arrives on its own `response_url`
//! (`{chargingprofiles}/results/{id}`), marked TIMEOUT when nothing arrives in time; and the
//! ActiveChargingProfile the CSO PUTs when its effective plan changes (CP-04), kept per session and
//! announced on the live event stream. Charging preferences (SES-07) go through the Sessions module.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use roaming_peer::client::{Call, ClientError, join_url, with_query};
use roaming_peer::core::Core;
use roaming_peer::headers::new_id;
use roaming_peer::store::{Keyspace, StoreError, key};
use roaming_types::DateTime;
use roaming_types::ids::PartyRef;
use roaming_types::modules::charging_profiles::{
    ActiveChargingProfile, ActiveChargingProfileResult, ChargingProfile, ChargingProfilePeriod,
    ChargingProfileResponse, ChargingProfileResponseType, ChargingRateUnit, SetChargingProfile,
};
use roaming_types::modules::sessions::{ChargingPreferences, ChargingPreferencesResponse};
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use roaming_types::money::Number;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::commands::CommandState;
use crate::error::CspError;
use crate::events::{CspEvent, Events};
use crate::keyspaces;

/// Path of the ChargingProfiles module (Sender): the `response_url`s we give are below it.
pub const PATH: &str = "/ocpi/2.2.1/chargingprofiles";
/// Requests by id.
pub const REQUESTS: Keyspace<ProfileRequest> = Keyspace::of(keyspaces::REQUESTS);
/// The latest plan per session (`<cc>\0<pid>\0<session id>`).
pub const ACTIVE: Keyspace<ActivePlan> = Keyspace::of(keyspaces::ACTIVE);
/// The deadlines of the requests waiting for their result.
pub use crate::keyspaces::PROFILES_WAITING as WAITING;
/// How many overdue entries one sweep ends at most.
const SWEEP_LIMIT: usize = 1000;

/// SET, GET or CLEAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    /// PUT a profile.
    Set,
    /// GET the active profile.
    Get,
    /// DELETE the profile.
    Clear,
}

/// A request as the CSP keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRequest {
    /// Our id (the last segment of the `response_url`).
    pub id: String,
    /// What.
    pub kind: Kind,
    /// The CSO.
    #[serde(with = "crate::party_text::one")]
    pub cpo: PartyRef,
    /// The CSO's session id.
    pub session_id: String,
    /// The peer.
    pub peer: String,
    /// The profile sent (SET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ChargingProfile>,
    /// When sent.
    pub sent_at: DateTime,
    /// Where it is.
    pub state: CommandState,
    /// The CSO's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ChargingProfileResponse>,
    /// Until when the result is awaited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime>,
    /// The result (ChargingProfileResult, ActiveChargingProfileResult or ClearProfileResult), or
    /// `{"result":"TIMEOUT"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// When it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_at: Option<DateTime>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The latest plan the CSO reported for a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivePlan {
    /// The CSO.
    #[serde(with = "crate::party_text::one")]
    pub cpo: PartyRef,
    /// Its session id.
    pub session_id: String,
    /// The plan.
    pub profile: ActiveChargingProfile,
    /// When we learnt it.
    pub received_at: DateTime,
    /// PUT by the CSO (UC3-10) or read by us (GET).
    pub source: String,
}

/// What the operator asks to set: a simple cap, or a full profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChange {
    /// A cap in kW from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_kw: Option<Decimal>,
    /// For how long, seconds (with `limit_kw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
    /// A full OCPI ChargingProfile instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charging_profile: Option<ChargingProfile>,
}

fn active_key(cpo: &PartyRef, session: &str) -> Vec<u8> {
    key([
        cpo.country_code.to_key(),
        cpo.party_id.to_key(),
        session.to_ascii_lowercase(),
    ])
}

/// The CSP's plans.
#[derive(Debug, Clone)]
pub struct Plans {
    core: Arc<Core>,
    events: Events,
}

impl Plans {
    /// Opens the book.
    pub fn new(core: Arc<Core>, events: Events) -> Self {
        Self { core, events }
    }

    /// A request.
    pub fn get(&self, id: &str) -> Result<Option<ProfileRequest>, CspError> {
        Ok(REQUESTS.get(&self.core.store, id.as_bytes())?)
    }

    /// Every request, newest first.
    pub fn list(&self) -> Result<Vec<ProfileRequest>, CspError> {
        let mut all: Vec<ProfileRequest> = REQUESTS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.sent_at));
        Ok(all)
    }

    /// The latest plan of a session.
    pub fn active(&self, cpo: &PartyRef, session: &str) -> Result<Option<ActivePlan>, CspError> {
        Ok(ACTIVE.get(&self.core.store, &active_key(cpo, session))?)
    }

    fn peer_of(
        &self,
        cpo: &PartyRef,
        module: &ModuleId,
    ) -> Result<(Arc<roaming_peer::registration::peers::PeerRecord>, String), CspError> {
        let peer = self
            .core
            .peers
            .hosting(cpo, &Role::Cpo)?
            .ok_or_else(|| CspError::NotFound(format!("no connected CSO hosts {cpo}")))?;
        let url = peer
            .endpoint(module, &InterfaceRole::Receiver)
            .or_else(|| {
                (module == &ModuleId::Sessions)
                    .then(|| peer.endpoint(module, &InterfaceRole::Sender))
                    .flatten()
            })
            .ok_or_else(|| CspError::Conflict(format!("CSO {} does not offer {module}", peer.id)))?
            .to_owned();
        Ok((peer, url))
    }

    fn announce(&self, r: &ProfileRequest) {
        let state = r
            .result
            .as_ref()
            .and_then(|v| v["result"].as_str().map(str::to_owned))
            .or_else(|| r.response.as_ref().map(|x| x.result.as_str().to_owned()))
            .unwrap_or_else(|| format!("{:?}", r.state).to_ascii_uppercase());
        self.events.send(CspEvent::Profile {
            owner: r.cpo.to_string(),
            session: r.session_id.clone(),
            request: Some(r.id.clone()),
            kind: format!("{:?}", r.kind).to_ascii_uppercase(),
            state,
            limit: None,
        });
    }

    /// Sends a SET, GET or CLEAR for a session of a CSO; returns the stored request.
    pub async fn send(
        &self,
        cpo: &PartyRef,
        session: &str,
        kind: Kind,
        change: Option<PlanChange>,
        duration: u32,
    ) -> Result<ProfileRequest, CspError> {
        let (peer, base) = self.peer_of(cpo, &ModuleId::ChargingProfiles)?;
        let id = new_id();
        let response_url = self.core.url_of(&format!("{PATH}/results/{id}"));
        let profile = match (kind, change) {
            (
                Kind::Set,
                Some(PlanChange {
                    charging_profile: Some(p),
                    ..
                }),
            ) => Some(p),
            (
                Kind::Set,
                Some(PlanChange {
                    limit_kw: Some(kw),
                    duration,
                    ..
                }),
            ) => {
                if kw.is_sign_negative() {
                    return Err(CspError::Invalid("limit_kw cannot be negative".to_owned()));
                }
                Some(ChargingProfile {
                    start_date_time: None,
                    duration,
                    charging_rate_unit: ChargingRateUnit::W,
                    min_charging_rate: None,
                    charging_profile_period: vec![ChargingProfilePeriod {
                        start_period: 0,
                        limit: Number(kw * Decimal::from(1000)),
                    }],
                })
            }
            (Kind::Set, _) => {
                return Err(CspError::Invalid("give limit_kw or charging_profile".to_owned()));
            }
            _ => None,
        };
        let mut r = ProfileRequest {
            id: id.clone(),
            kind,
            cpo: cpo.clone(),
            session_id: session.to_owned(),
            peer: peer.id.clone(),
            profile: profile.clone(),
            sent_at: DateTime::now(),
            state: CommandState::Sent,
            response: None,
            deadline: None,
            result: None,
            result_at: None,
            error: None,
        };
        self.save(&r)?;
        self.core.store.durable().await?;
        let url = join_url(&base, &[session]);
        let answer = match kind {
            Kind::Set => {
                let body = SetChargingProfile {
                    charging_profile: profile.unwrap_or_else(|| unreachable!("a SET has a profile")),
                    response_url: roaming_types::ResponseUrl::new(response_url)
                        .map_err(|e| CspError::Internal(format!("our response_url: {e}")))?,
                };
                self.core
                    .call_peer(
                        &peer,
                        Call::new(Method::PUT, &url).body(&body),
                        Some(cpo.clone()),
                        None,
                    )
                    .await
            }
            Kind::Get | Kind::Clear => {
                let duration = duration.to_string();
                let mut query = Vec::new();
                if kind == Kind::Get {
                    query.push(("duration", duration.as_str()));
                }
                query.push(("response_url", response_url.as_str()));
                let url = with_query(&url, &query);
                let method = if kind == Kind::Get {
                    Method::GET
                } else {
                    Method::DELETE
                };
                self.core
                    .call_peer(&peer, Call::new(method, &url), Some(cpo.clone()), None)
                    .await
            }
        };
        match answer.and_then(|a| a.data::<ChargingProfileResponse>(&url)) {
            Ok(resp) => {
                if resp.result == ChargingProfileResponseType::Accepted {
                    let secs = i64::from(resp.timeout.clamp(1, 3600));
                    r.deadline = Some(DateTime::now().plus(chrono::Duration::seconds(secs)));
                    r.state = CommandState::Accepted;
                } else {
                    r.state = CommandState::NotAccepted;
                }
                r.response = Some(resp);
            }
            Err(ClientError::Status { status, message, .. }) => {
                r.state = CommandState::NotAccepted;
                r.error = Some(format!("OCPI {}: {message}", status.code()));
            }
            Err(e) => {
                r.state = CommandState::Failed;
                r.error = Some(e.to_string());
            }
        }
        self.core.store.transact(|tx| {
            // A fast CSO may have posted the result already: keep it (read in the transaction that
            // writes, so that a result stored meanwhile is not overwritten).
            if let Some(early) = REQUESTS.get(tx, id.as_bytes())?.filter(|x| x.result.is_some()) {
                r.result = early.result;
                r.result_at = early.result_at;
                r.state = CommandState::Completed;
            }
            if let (CommandState::Accepted, Some(d)) = (r.state, r.deadline) {
                WAITING.schedule(tx, d, &r.id);
            }
            REQUESTS.put(tx, r.id.as_bytes().to_vec(), &r)
        })?;
        self.core.store.durable().await?;
        self.announce(&r);
        Ok(r)
    }

    fn save(&self, r: &ProfileRequest) -> Result<(), StoreError> {
        self.core
            .store
            .transact(|tx| REQUESTS.put(tx, r.id.as_bytes().to_vec(), r))
    }

    /// A result POSTed by `peer` to request `id`'s `response_url` (the three results share the
    /// shape of an ActiveChargingProfileResult: `result`, and `profile` after a GET); durable on
    /// return. A result for a request sent to another CSO, or an unknown one, is
    /// [`CspError::NotFound`].
    pub async fn result(
        &self,
        peer: &str,
        id: &str,
        result: ActiveChargingProfileResult,
    ) -> Result<(), CspError> {
        let unknown = || CspError::NotFound(format!("unknown charging profile request {id}"));
        let profile = result.profile.clone();
        let result = serde_json::to_value(result).map_err(CspError::internal)?;
        let r = self.core.store.transact(|tx| {
            let mut r = REQUESTS.get(tx, id.as_bytes())?.ok_or_else(unknown)?;
            if !r.peer.eq_ignore_ascii_case(peer) {
                return Err(unknown());
            }
            if let Some(d) = r.deadline {
                WAITING.cancel(tx, d, &r.id);
            }
            r.result = Some(result.clone());
            r.result_at = Some(DateTime::now());
            r.state = CommandState::Completed;
            REQUESTS.put(tx, r.id.as_bytes().to_vec(), &r)?;
            // A GET's result is the active plan.
            if let Some(profile) = profile {
                let plan = ActivePlan {
                    cpo: r.cpo.clone(),
                    session_id: r.session_id.clone(),
                    profile,
                    received_at: DateTime::now(),
                    source: "GET".to_owned(),
                };
                ACTIVE.put(tx, active_key(&r.cpo, &r.session_id), &plan)?;
            }
            Ok::<_, CspError>(r)
        })?;
        self.core.store.durable().await?;
        self.announce(&r);
        Ok(())
    }

    /// The CSO's PUT of a new ActiveChargingProfile (UC3-10) for a session we hold (404 + 2001
    /// otherwise); durable on return.
    pub async fn pushed(
        &self,
        cpo: &PartyRef,
        session: &str,
        profile: ActiveChargingProfile,
    ) -> Result<(), CspError> {
        if crate::sessions::session(&self.core.store, cpo, session)?.is_none() {
            return Err(CspError::NotFound(format!("unknown session {session}")));
        }
        let limit = profile.charging_profile.charging_profile_period.first().map(|p| {
            format!(
                "{} {}",
                p.limit.value(),
                profile.charging_profile.charging_rate_unit
            )
        });
        let plan = ActivePlan {
            cpo: cpo.clone(),
            session_id: session.to_owned(),
            profile,
            received_at: DateTime::now(),
            source: "CSO".to_owned(),
        };
        self.core
            .store
            .transact(|tx| ACTIVE.put(tx, active_key(cpo, session), &plan))?;
        self.core.store.durable().await?;
        self.events.send(CspEvent::Profile {
            owner: cpo.to_string(),
            session: session.to_owned(),
            request: None,
            kind: "ACTIVE".to_owned(),
            state: "UPDATED".to_owned(),
            limit,
        });
        Ok(())
    }

    /// Marks overdue requests TIMED_OUT, and announces them once durable.
    pub async fn sweep(&self) -> Result<usize, CspError> {
        let now = DateTime::now();
        let timed_out = WAITING.sweep(&self.core.store, now, SWEEP_LIMIT, |tx, id| {
            let Some(mut r) = REQUESTS.get(tx, id.as_bytes())? else {
                return Ok::<_, StoreError>(None);
            };
            if r.state != CommandState::Accepted {
                return Ok(None);
            }
            r.state = CommandState::TimedOut;
            r.result = Some(serde_json::json!({ "result": "TIMEOUT" }));
            r.result_at = Some(now);
            REQUESTS.put(tx, id.as_bytes().to_vec(), &r)?;
            Ok(Some(r))
        })?;
        if timed_out.is_empty() {
            return Ok(0);
        }
        self.core.store.durable().await?;
        for r in &timed_out {
            self.announce(r);
        }
        Ok(timed_out.len())
    }

    /// Sends the driver's charging preferences for a session (SES-07) and returns the CSO's answer.
    pub async fn preferences(
        &self,
        cpo: &PartyRef,
        session: &str,
        prefs: &ChargingPreferences,
    ) -> Result<ChargingPreferencesResponse, CspError> {
        let (peer, base) = self.peer_of(cpo, &ModuleId::Sessions)?;
        let url = join_url(&base, &[session, "charging_preferences"]);
        match self
            .core
            .call_peer(
                &peer,
                Call::new(Method::PUT, &url).body(prefs),
                Some(cpo.clone()),
                None,
            )
            .await
        {
            Ok(a) => a.data(&url).map_err(|e| CspError::Peer(e.to_string())),
            Err(ClientError::Status { status, message, .. }) => Err(CspError::Invalid(format!(
                "the CSO refused (OCPI {}): {message}",
                status.code()
            ))),
            Err(e) => Err(CspError::Peer(e.to_string())),
        }
    }
}

/// Sweeps timed-out requests every `every` until shutdown.
pub async fn run(plans: Plans, every: Duration) {
    let core = Arc::clone(&plans.core);
    core.every(every, "charging profile timeout sweep", || async {
        plans.sweep().await.map(|_| ())
    })
    .await;
}
