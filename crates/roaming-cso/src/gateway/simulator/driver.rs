//! The simulator plays the driver: presenting a token (the charger asks the CSO; the same token again
//! stops the session), plugging in, unplugging, and the EV pausing or resuming its demand.

use roaming_types::ids::{EvseUid, LocationId, TokenUid};
use roaming_types::modules::tokens::TokenType;

use super::charger::Start;
use super::{EvseView, Fault, SimError, Simulator, TokenOutcome, k, view};
use crate::gateway::{AuthorizeRequest, StationEvent};

impl Simulator {
    /// A driver presents a token at an EVSE (UC3-1).
    pub async fn present_token(
        &self,
        location: &str,
        evse: &str,
        token_uid: &str,
        token_type: TokenType,
    ) -> Result<TokenOutcome, SimError> {
        self.ensure(location, evse)?;
        let key = k(location, evse);
        let refusal = {
            let all = self.lock();
            let sim = all
                .get(&key)
                .ok_or_else(|| SimError::NotFound(format!("no EVSE {evse}")))?;
            if sim.settings.fault == Fault::Offline {
                return Err(SimError::Conflict("the charger is offline".to_owned()));
            }
            match (&sim.txn, &sim.reservation) {
                (Some(t), _) if t.token_uid.eq_ignore_ascii_case(token_uid) => None,
                (Some(_), _) => Some("the EVSE is in use"),
                (None, _) if sim.starting => Some("the EVSE is in use"),
                (None, Some((_, t))) if !t.eq_ignore_ascii_case(token_uid) => {
                    Some("the EVSE is reserved for another driver")
                }
                _ => None,
            }
        };
        if let Some(reason) = refusal {
            return Ok(TokenOutcome::Refused {
                reason: reason.to_owned(),
                decision: None,
            });
        }
        // The same token again stops its session (the usual charger behaviour).
        let own_txn = self
            .lock()
            .get(&key)
            .and_then(|s| s.txn.as_ref())
            .is_some_and(|t| t.token_uid.eq_ignore_ascii_case(token_uid));
        if own_txn {
            let id = self.end(&key).unwrap_or_default();
            return Ok(TokenOutcome::Stopped { transaction_id: id });
        }
        let location_id = LocationId::new(location).map_err(|e| SimError::NotFound(e.to_string()))?;
        let evse_uid = EvseUid::new(evse).map_err(|e| SimError::NotFound(e.to_string()))?;
        let decision = self
            .inner
            .sink
            .authorize(AuthorizeRequest {
                location_id,
                evse_uid,
                token_uid: TokenUid::new(token_uid)
                    .map_err(|e| SimError::Conflict(format!("token uid: {e}")))?,
                token_type: token_type.clone(),
            })
            .await
            .map_err(SimError::Conflict)?;
        if !decision.allowed {
            return Ok(TokenOutcome::Refused {
                reason: decision.reason.clone(),
                decision: Some(decision),
            });
        }
        {
            let mut all = self.lock();
            let sim = all
                .get_mut(&key)
                .ok_or_else(|| SimError::NotFound(format!("no EVSE {evse}")))?;
            if sim.txn.is_some() || sim.starting {
                return Ok(TokenOutcome::Refused {
                    reason: "the EVSE was taken meanwhile".to_owned(),
                    decision: Some(decision),
                });
            }
            sim.starting = true;
        }
        let start = Start {
            connector: None,
            token_uid: token_uid.to_owned(),
            token_type,
            command_id: None,
        };
        self.begin_after_plug_in(key, start);
        Ok(TokenOutcome::Starting { decision })
    }

    /// The driver plugs the cable in (a waiting start begins at once).
    pub fn plug_in(&self, location: &str, evse: &str) -> Result<EvseView, SimError> {
        self.ensure(location, evse)?;
        let mut all = self.lock();
        let sim = all
            .get_mut(&k(location, evse))
            .ok_or_else(|| SimError::NotFound(format!("no EVSE {evse}")))?;
        sim.plugged = true;
        Ok(view(location, evse, sim))
    }

    /// The driver unplugs: a running session ends.
    pub fn unplug(&self, location: &str, evse: &str) -> Result<EvseView, SimError> {
        self.ensure(location, evse)?;
        let key = k(location, evse);
        self.end(&key);
        let mut all = self.lock();
        let sim = all
            .get_mut(&key)
            .ok_or_else(|| SimError::NotFound(format!("no EVSE {evse}")))?;
        sim.plugged = false;
        Ok(view(location, evse, sim))
    }

    /// The EV stops (`false`) or resumes (`true`) drawing power; a reading is sent at once.
    pub fn set_demand(&self, location: &str, evse: &str, draw: bool) -> Result<EvseView, SimError> {
        self.ensure(location, evse)?;
        let key = k(location, evse);
        let id = {
            let all = self.lock();
            all.get(&key)
                .and_then(|s| s.txn.as_ref())
                .map(|t| t.id.clone())
                .ok_or_else(|| SimError::Conflict(format!("no session is running on {evse}")))?
        };
        // Account the energy up to now at the old demand, then switch.
        let before = self.reading(&key, &id);
        {
            let mut all = self.lock();
            if let Some(t) = all.get_mut(&key).and_then(|s| s.txn.as_mut()) {
                t.ev_requests_power = draw;
            }
        }
        let mut after = self.reading(&key, &id);
        if let Some(StationEvent::MeterValues(m)) = &mut after {
            // Strictly after the previous reading.
            m.at = m.at.plus(chrono::Duration::milliseconds(1));
        }
        let sink = self.inner.sink.clone();
        tokio::spawn(async move {
            for e in [before, after].into_iter().flatten() {
                sink.event(e).await;
            }
        });
        let all = self.lock();
        all.get(&key)
            .map(|s| view(location, evse, s))
            .ok_or_else(|| SimError::NotFound(format!("no EVSE {evse}")))
    }
}
