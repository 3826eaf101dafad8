//! Charge plans (UC3-7) and their updates by the CSO (UC3-10), checklist §12.
//!
//! The CSP that owns a session may set, read and clear a charging profile (CP-01); each request is
//! answered at once with a ChargingProfileResponse and its result follows on the request's
//! `response_url`. The CSO keeps per session the CSP's profile and whether the CSP ever set one
//! (CP-04), and per location and EVSE the operator's local limits (e.g. site load management). The
//! **effective limit** of a running session is the lowest of the profile's current period and the
//! local limits, capped at the connector's maximum; it is handed to the charger through the station
//! gateway (`SetPowerLimit`), so that the simulator's power — and the meter values — follow it (CP-02:
//! a cap, not a target). Whenever the effective limit changes for a reason the CSP did not cause (a
//! local limit, a profile that ends), the CSO PUTs the new ActiveChargingProfile to the CSP — only for
//! sessions where the CSP has set a profile (CP-04) — with a 15-minute horizon, or the EVSE's maximum
//! when no limit is left.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use roaming_peer::client::Call;
use roaming_peer::core::Core;
use roaming_peer::outbox::{Address, Outbox, PushOp};
use roaming_peer::store::{Keyspace, StoreError};
use roaming_types::DateTime;
use roaming_types::ids::{EvseUid, LocationId, PartyRef, SessionId};
use roaming_types::modules::charging_profiles::{
    ActiveChargingProfile, ActiveChargingProfileResult, ChargingProfile, ChargingProfilePeriod,
    ChargingProfileResponse, ChargingProfileResponseType, ChargingProfileResult, ChargingProfileResultType,
    ChargingRateUnit, ClearProfileResult,
};
use roaming_types::modules::locations::Capability;
use roaming_types::modules::sessions::{Session, SessionStatus};
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use roaming_types::money::Number;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::CsoError;
use crate::gateway::{StationCommand, StationGateway};
use crate::keyspaces;
use crate::sessions::Sessions;
use crate::sites::Sites;

/// Per session: the CSP's profile and what was last applied (`cso_profile_states`).
pub const STATES: Keyspace<ProfileState> = Keyspace::of(keyspaces::STATES);
/// The operator's local limits by location or EVSE (`cso_local_limits`).
pub const LIMITS: Keyspace<LocalLimit> = Keyspace::of(keyspaces::LIMITS);
/// The horizon of a pushed ActiveChargingProfile (CP-04: 5–60 minutes).
const HORIZON_SECS: u32 = 900;

/// What the CSO keeps per session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileState {
    /// The session.
    pub session_id: String,
    /// The CSP's profile, while it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ChargingProfile>,
    /// When it was set (its start when it names none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_set_at: Option<DateTime>,
    /// Whether the CSP has ever set a profile successfully (CP-04).
    #[serde(default)]
    pub csp_has_set: bool,
    /// The last request of the CSP (rate limit, CP-03).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_request_at: Option<DateTime>,
    /// The effective limit last applied, W (`None`: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_w: Option<Decimal>,
    /// Whether a profile was in force before the request being carried out (not stored).
    #[serde(skip)]
    pub had_profile: bool,
}

/// A local limit set by the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalLimit {
    /// Location.
    pub location_id: String,
    /// EVSE (the whole location when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_uid: Option<String>,
    /// The cap, W.
    pub limit_w: Decimal,
    /// When set.
    pub set_at: DateTime,
}

/// Who asks (the peer and its CSP parties).
#[derive(Debug, Clone)]
pub struct Asker {
    /// Peer id.
    pub peer: String,
    /// Its CSP parties.
    pub parties: Vec<PartyRef>,
}

/// The three requests of §12.1.
#[derive(Debug, Clone)]
pub enum Request {
    /// PUT: set a profile.
    Set(ChargingProfile),
    /// GET: the active profile over `duration` seconds.
    Get(u32),
    /// DELETE: clear the profile.
    Clear,
}

fn skey(id: &str) -> Vec<u8> {
    id.to_ascii_lowercase().into_bytes()
}

fn limit_key(location: &str, evse: Option<&str>) -> Vec<u8> {
    match evse {
        Some(e) => format!("{}/{}", location.to_ascii_lowercase(), e.to_ascii_lowercase()),
        None => location.to_ascii_lowercase(),
    }
    .into_bytes()
}

/// What an ActiveChargingProfile push addresses: `PUT {chargingprofiles}/{session_id}` at the CSP's
/// ChargingProfiles Sender (CP-04); object and group `chargingprofiles/<session>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileAddress {
    /// The session.
    pub session_id: SessionId,
}

impl Address for ProfileAddress {
    fn object(&self) -> String {
        format!(
            "chargingprofiles/{}",
            self.session_id.as_str().to_ascii_lowercase()
        )
    }

    fn module(&self) -> ModuleId {
        ModuleId::ChargingProfiles
    }

    fn role(&self) -> InterfaceRole {
        InterfaceRole::Sender
    }

    fn path(&self) -> Vec<String> {
        vec![self.session_id.as_str().to_owned()]
    }
}

/// The limit of a profile at `t`, in W (`None` before it starts, after it ends, or without a period).
pub fn profile_limit_w(
    p: &ChargingProfile,
    set_at: DateTime,
    t: DateTime,
    volt_phases: Decimal,
) -> Option<Decimal> {
    let begin = p.start_date_time.unwrap_or(set_at);
    if t < begin {
        return None;
    }
    let elapsed = u32::try_from((t.timestamp_millis() - begin.timestamp_millis()) / 1000).unwrap_or(u32::MAX);
    if p.duration.is_some_and(|d| elapsed >= d) {
        return None;
    }
    let period = p
        .charging_profile_period
        .iter()
        .filter(|x| x.start_period <= elapsed)
        .max_by_key(|x| x.start_period)?;
    let limit = period.limit.value().max(Decimal::ZERO);
    Some(match p.charging_rate_unit {
        ChargingRateUnit::A => limit * volt_phases,
        _ => limit,
    })
}

/// The CSO's charge plans.
#[derive(Debug, Clone)]
pub struct Profiles {
    core: Arc<Core>,
    sessions: Sessions,
    gateway: Arc<dyn StationGateway>,
    min_interval: Duration,
    timeout: u32,
}

/// The connector facts a limit needs.
struct Site {
    volt_phases: Decimal,
    max_w: Decimal,
    capable: bool,
}

impl Profiles {
    /// The plans, with `cso.profiles.min_interval_ms` (default 2000) between a CSP's requests for one
    /// session.
    pub fn new(
        core: Arc<Core>,
        sessions: Sessions,
        gateway: Arc<dyn StationGateway>,
    ) -> Result<Self, roaming_peer::config::ConfigError> {
        let min_interval =
            Duration::from_millis(core.config.role_parsed("cso.profiles.min_interval_ms", 2000u64)?);
        let timeout = core
            .config
            .role_secs("cso.commands.timeout_secs", Duration::from_secs(30))?;
        Ok(Self {
            core,
            sessions,
            gateway,
            min_interval,
            timeout: u32::try_from(timeout.as_secs()).unwrap_or(30),
        })
    }

    fn site(&self, s: &Session) -> Result<Option<Site>, CsoError> {
        let Some(loc) = Sites::location(&self.core.store, s.location_id.as_str())? else {
            return Ok(None);
        };
        let Some(evse) = loc.evse(&s.evse_uid) else {
            return Ok(None);
        };
        let Some(c) = evse
            .connector(&s.connector_id)
            .or_else(|| evse.connectors.first())
        else {
            return Ok(None);
        };
        Ok(Some(Site {
            volt_phases: Decimal::from(c.max_voltage) * Decimal::from(c.power_type.phases()),
            max_w: Decimal::from(c.max_power_w()),
            capable: evse.has(&Capability::ChargingProfileCapable),
        }))
    }

    /// The state of a session.
    pub fn state(&self, session_id: &str) -> Result<Option<ProfileState>, CsoError> {
        Ok(STATES.get(&self.core.store, &skey(session_id))?)
    }

    /// Every state (operator view).
    pub fn states(&self) -> Result<Vec<ProfileState>, CsoError> {
        Ok(STATES
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, st)| st)
            .collect())
    }

    /// Every local limit.
    pub fn limits(&self) -> Result<Vec<LocalLimit>, CsoError> {
        Ok(LIMITS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, l)| l)
            .collect())
    }

    fn local_w(&self, location: &str, evse: &str) -> Result<Option<Decimal>, StoreError> {
        let store = &self.core.store;
        let a = LIMITS.get(store, &limit_key(location, None))?;
        let b = LIMITS.get(store, &limit_key(location, Some(evse)))?;
        Ok([a, b].into_iter().flatten().map(|l| l.limit_w).min())
    }

    /// The effective limit of a session at `t`, W (`None`: no limit below the connector's maximum).
    fn effective_w(
        &self,
        s: &Session,
        st: &ProfileState,
        site: &Site,
        t: DateTime,
    ) -> Result<Option<Decimal>, CsoError> {
        let profile = st
            .profile
            .as_ref()
            .and_then(|p| profile_limit_w(p, st.profile_set_at.unwrap_or(t), t, site.volt_phases));
        let local = self.local_w(s.location_id.as_str(), s.evse_uid.as_str())?;
        Ok([profile, local]
            .into_iter()
            .flatten()
            .min()
            .filter(|w| *w < site.max_w))
    }

    /// The ActiveChargingProfile of a limit (the EVSE's maximum when none, CP-04).
    fn active_profile(
        limit_w: Option<Decimal>,
        site: &Site,
        duration: u32,
        at: DateTime,
    ) -> ActiveChargingProfile {
        ActiveChargingProfile {
            start_date_time: at,
            charging_profile: ChargingProfile {
                start_date_time: Some(at),
                duration: Some(duration),
                charging_rate_unit: ChargingRateUnit::W,
                min_charging_rate: None,
                charging_profile_period: vec![ChargingProfilePeriod {
                    start_period: 0,
                    limit: Number(limit_w.unwrap_or(site.max_w).round_dp(1)),
                }],
            },
        }
    }

    /// Answers a CSP's request at once and carries it out in the background (§12.1).
    pub async fn request(
        &self,
        asker: &Asker,
        session_id: &str,
        req: Request,
        response_url: Option<String>,
    ) -> Result<ChargingProfileResponse, CsoError> {
        let answer = |r: ChargingProfileResponseType| ChargingProfileResponse {
            result: r,
            timeout: self.timeout,
        };
        let Some(s) = self.sessions.get(&self.core.store, session_id)? else {
            return Ok(answer(ChargingProfileResponseType::UnknownSession));
        };
        if !asker.parties.contains(&s.emsp()) {
            // CP-01: only the session's owner.
            return Ok(answer(ChargingProfileResponseType::Rejected));
        }
        if !matches!(s.status, SessionStatus::Pending | SessionStatus::Active) {
            // CP-01: ongoing sessions only.
            return Ok(answer(ChargingProfileResponseType::Rejected));
        }
        let Some(site) = self.site(&s)? else {
            return Ok(answer(ChargingProfileResponseType::Rejected));
        };
        if !site.capable {
            return Ok(answer(ChargingProfileResponseType::NotSupported));
        }
        let Some(url) = response_url else {
            return Err(CsoError::Invalid("response_url is required (§12.1)".to_owned()));
        };
        let now = DateTime::now();
        let mut st = self.state(session_id)?.unwrap_or_else(|| ProfileState {
            session_id: s.id.as_str().to_owned(),
            ..ProfileState::default()
        });
        st.had_profile = st.profile.is_some();
        let writes = !matches!(req, Request::Get(_));
        if writes {
            let too_soon = st.last_request_at.is_some_and(|last| {
                now.timestamp_millis() - last.timestamp_millis()
                    < i64::try_from(self.min_interval.as_millis()).unwrap_or(i64::MAX)
            });
            if too_soon {
                return Ok(answer(ChargingProfileResponseType::TooOften));
            }
            st.last_request_at = Some(now);
        }
        match &req {
            Request::Set(p) => {
                if p.charging_profile_period.is_empty() {
                    return Err(CsoError::Invalid(
                        "a profile needs at least one period".to_owned(),
                    ));
                }
                st.profile = Some(p.clone());
                st.profile_set_at = Some(now);
            }
            Request::Clear => {
                st.profile = None;
                st.profile_set_at = None;
            }
            Request::Get(_) => {}
        }
        if writes {
            self.core
                .store
                .transact(|tx| STATES.put(tx, skey(session_id), &st))?;
            self.core.store.durable().await?;
        }
        let this = self.clone();
        let peer = asker.peer.clone();
        tokio::spawn(async move {
            if let Err(e) = this.carry_out(&s, &site, st, req, &peer, &url).await {
                tracing::warn!(session = %s.id, error = %e, "charging profile request failed");
            }
        });
        Ok(answer(ChargingProfileResponseType::Accepted))
    }

    async fn carry_out(
        &self,
        s: &Session,
        site: &Site,
        mut st: ProfileState,
        req: Request,
        peer: &str,
        url: &str,
    ) -> Result<(), CsoError> {
        let now = DateTime::now();
        let result: serde_json::Value = match req {
            Request::Get(duration) => {
                let w = self.effective_w(s, &st, site, now)?;
                serde_json::to_value(ActiveChargingProfileResult {
                    result: ChargingProfileResultType::Accepted,
                    profile: Some(Self::active_profile(w, site, duration.max(1), now)),
                })
                .map_err(CsoError::internal)?
            }
            Request::Clear if !st.had_profile => serde_json::to_value(ClearProfileResult {
                // Nothing to clear at the charger.
                result: ChargingProfileResultType::Unknown,
            })
            .map_err(CsoError::internal)?,
            Request::Set(_) | Request::Clear => {
                let set = st.profile.is_some();
                let w = self.effective_w(s, &st, site, now)?;
                let applied = self.send_limit(s, w, st.profile.as_ref()).await;
                let outcome = if applied {
                    ChargingProfileResultType::Accepted
                } else {
                    ChargingProfileResultType::Rejected
                };
                if applied {
                    st.applied_w = w;
                    if set {
                        st.csp_has_set = true;
                    }
                    self.core
                        .store
                        .transact(|tx| STATES.put(tx, skey(s.id.as_str()), &st))?;
                    self.core.store.durable().await?;
                }
                if set {
                    serde_json::to_value(ChargingProfileResult { result: outcome })
                } else {
                    serde_json::to_value(ClearProfileResult { result: outcome })
                }
                .map_err(CsoError::internal)?
            }
        };
        self.post_result(peer, url, &s.emsp(), &result).await;
        Ok(())
    }

    async fn send_limit(&self, s: &Session, w: Option<Decimal>, profile: Option<&ChargingProfile>) -> bool {
        let cmd = StationCommand::SetPowerLimit {
            command_id: roaming_peer::headers::new_id(),
            location_id: s.location_id.clone(),
            evse_uid: s.evse_uid.clone(),
            limit_w: w,
            charging_profile: profile.cloned(),
        };
        match self.gateway.send(cmd).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(session = %s.id, error = %e, "the charger did not take the power limit");
                false
            }
        }
    }

    async fn post_result(&self, peer: &str, url: &str, emsp: &PartyRef, body: &serde_json::Value) {
        let Ok(Some(peer)) = self.core.peers.get(peer) else {
            return;
        };
        for attempt in 0..3u32 {
            match self
                .core
                .call_peer(
                    &peer,
                    Call::new(Method::POST, url).body(body),
                    Some(emsp.clone()),
                    None,
                )
                .await
            {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(url, attempt, error = %e, "charging profile result not delivered");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt + 1))).await;
                }
            }
        }
    }

    /// Re-evaluates the sessions at a location (or one EVSE) after a change the CSP did not cause;
    /// applies new limits and tells the CSPs that set a profile (CP-04).
    pub async fn reapply(&self, location: &str, evse: Option<&str>) -> Result<usize, CsoError> {
        let mut changed = 0;
        for (s, _) in self.sessions.running()? {
            if !s.location_id.as_str().eq_ignore_ascii_case(location)
                || evse.is_some_and(|e| !s.evse_uid.as_str().eq_ignore_ascii_case(e))
            {
                continue;
            }
            if self.refresh(&s).await? {
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Applies the current effective limit of a running session when it changed; `true` if it did.
    async fn refresh(&self, s: &Session) -> Result<bool, CsoError> {
        let Some(site) = self.site(s)? else {
            return Ok(false);
        };
        let mut st = self.state(s.id.as_str())?.unwrap_or_else(|| ProfileState {
            session_id: s.id.as_str().to_owned(),
            ..ProfileState::default()
        });
        let now = DateTime::now();
        if st.profile.as_ref().is_some_and(|p| {
            profile_limit_w(p, st.profile_set_at.unwrap_or(now), now, site.volt_phases).is_none()
        }) && st.profile.as_ref().is_some_and(|p| {
            p.duration.is_some_and(|d| {
                let begin = p.start_date_time.or(st.profile_set_at).unwrap_or(now);
                now.timestamp_millis() - begin.timestamp_millis() >= i64::from(d) * 1000
            })
        }) {
            // The profile ended.
            st.profile = None;
            st.profile_set_at = None;
        }
        let w = self.effective_w(s, &st, &site, now)?;
        if w == st.applied_w {
            if st.profile.is_none()
                && self
                    .state(s.id.as_str())?
                    .is_some_and(|old| old.profile.is_some())
            {
                self.core
                    .store
                    .transact(|tx| STATES.put(tx, skey(s.id.as_str()), &st))?;
            }
            return Ok(false);
        }
        if !self.send_limit(s, w, st.profile.as_ref()).await {
            return Ok(false);
        }
        st.applied_w = w;
        let woken = self.core.store.transact(|tx| {
            STATES.put(tx, skey(s.id.as_str()), &st)?;
            if !st.csp_has_set {
                return Ok::<_, CsoError>(Vec::new());
            }
            let body = Self::active_profile(w, &site, HORIZON_SECS, now);
            let op = PushOp::put(&body).map_err(CsoError::internal)?;
            let address = ProfileAddress {
                session_id: s.id.clone(),
            };
            Ok(Outbox::push_to_owner(&self.core, tx, &s.emsp(), &address, op)?)
        })?;
        self.core.commit(woken).await?;
        tracing::info!(session = %s.id, limit_w = ?w, "effective charging limit changed");
        Ok(true)
    }

    /// Sets (`Some`) or lifts (`None`) a local limit on a location or one EVSE, then re-applies.
    pub async fn set_local_limit(
        &self,
        location: &LocationId,
        evse: Option<&EvseUid>,
        limit_kw: Option<Decimal>,
    ) -> Result<Option<LocalLimit>, CsoError> {
        let loc = Sites::location(&self.core.store, location.as_str())?
            .ok_or_else(|| CsoError::NotFound(format!("no location {location}")))?;
        if let Some(e) = evse {
            if loc.evse(e).is_none() {
                return Err(CsoError::NotFound(format!("no EVSE {e} at {location}")));
            }
        }
        if limit_kw.is_some_and(|k| k.is_sign_negative()) {
            return Err(CsoError::Invalid("a limit cannot be negative".to_owned()));
        }
        let k = limit_key(loc.id.as_str(), evse.map(EvseUid::as_str));
        let limit = limit_kw.map(|kw| LocalLimit {
            location_id: loc.id.as_str().to_owned(),
            evse_uid: evse.map(|e| e.as_str().to_owned()),
            limit_w: kw * Decimal::from(1000),
            set_at: DateTime::now(),
        });
        self.core.store.transact(|tx| {
            match &limit {
                Some(l) => LIMITS.put(tx, k.clone(), l)?,
                None => LIMITS.delete(tx, k.clone()),
            }
            Ok::<_, StoreError>(())
        })?;
        self.core.store.durable().await?;
        self.reapply(loc.id.as_str(), evse.map(EvseUid::as_str)).await?;
        Ok(limit)
    }

    /// Re-evaluates every running session (profiles that end, UC3-10).
    pub async fn tick(&self) -> Result<(), CsoError> {
        for (s, _) in self.sessions.running()? {
            if self.state(s.id.as_str())?.is_some_and(|st| st.profile.is_some()) {
                self.refresh(&s).await?;
            }
        }
        Ok(())
    }
}

/// Re-evaluates profiles every `every` until shutdown.
pub async fn run(profiles: Profiles, every: Duration) {
    let core = Arc::clone(&profiles.core);
    core.every(every, "charging profile tick", || profiles.tick())
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn an_active_profile_is_pushed_under_the_object_key_of_before() {
        use roaming_peer::outbox::{Push, legacy_rules};
        let a = ProfileAddress {
            session_id: SessionId::new("S-Abc").unwrap_or_else(|_| unreachable!()),
        };
        let p = Push::new(&a, PushOp::Delete);
        assert_eq!(
            (p.object.as_str(), p.group()),
            ("chargingprofiles/s-abc", "chargingprofiles/s-abc")
        );
        assert_eq!(
            p.group(),
            legacy_rules(&p.object).0,
            "as entries queued before #13"
        );
        assert_eq!(
            (p.module, p.role, p.path),
            (
                ModuleId::ChargingProfiles,
                InterfaceRole::Sender,
                vec!["S-Abc".to_owned()]
            )
        );
    }

    #[test]
    fn profile_periods_and_units() {
        let p: ChargingProfile = serde_json::from_value(serde_json::json!({
            "charging_rate_unit": "A", "duration": 600,
            "charging_profile_period": [{ "start_period": 0, "limit": 16 }, { "start_period": 300, "limit": 10 }]
        }))
        .unwrap_or_else(|_| unreachable!());
        let start = dt("2026-01-01T10:00:00Z");
        let vp = Decimal::from(230 * 3);
        assert_eq!(
            profile_limit_w(&p, start, dt("2026-01-01T10:01:00Z"), vp),
            Some(Decimal::from(16 * 690))
        );
        assert_eq!(
            profile_limit_w(&p, start, dt("2026-01-01T10:05:00Z"), vp),
            Some(Decimal::from(10 * 690))
        );
        assert_eq!(profile_limit_w(&p, start, dt("2026-01-01T10:10:00Z"), vp), None);
        assert_eq!(profile_limit_w(&p, start, dt("2026-01-01T09:59:00Z"), vp), None);
    }
}
