//! The CSO's charging sessions (UC3-6): created and updated from what the chargers report, with the
//! lifecycle of checklist §7.3, and pushed to the owning CSP.
//!
//! - A transaction that begins at a charger creates a Session in PENDING (SES-10); the first meter
//!   reading with power makes it ACTIVE, and `start_date_time` becomes the activation time; the end of
//!   the transaction makes it COMPLETED (final, SES-01). A reservation is a Session in RESERVATION
//!   (SES-11) that the same token's start turns into the charging session; an unused one ends
//!   COMPLETED. The operator can declare a session INVALID.
//! - `auth_method` and `authorization_reference` come from the command, reservation or authorization
//!   decision behind the start (SES-04, SES-05).
//! - `kwh` follows every meter reading. The ChargingPeriods are the CDR's: the pricing engine cuts the
//!   readings so far from `start_date_time` on wherever the price can change, the EV starts or stops
//!   drawing power, and at the first reading `cso.sessions.period_secs` after a period began (SES-02);
//!   each period is appended once a later reading closes it, and the completing PUT carries the CDR's
//!   periods. They carry
//!   ENERGY (kWh), TIME or PARKING_TIME (h), MAX_POWER (kW) when charging, and MIN/MAX_POWER and
//!   MIN/MAX_CURRENT wherever the tariff reads them, with 4 decimals that add up to `kwh`.
//! - The owning CSP gets a PUT when the session is created and when it completes (so its copy is whole
//!   whatever it missed), and a PATCH with the changed fields and the new periods in between (SES-01,
//!   SES-03), through the durable outbox. Every change and its push are one atomic write.
//! - The meter samples are kept with the session for pricing ([`crate::pricing`]); the CDR is issued
//!   through [`crate::cdrs`] in the transaction that completes the session.
//!
//! Layout: this file is the state machine ([`Sessions`]: start, meter readings, stop, reservation
//! sessions, invalidation, preferences); `store.rs` the keyspaces, keys, typed reads and the one write
//! of a change ([`SESSIONS`], [`Runtime`], [`SessionView`]); `push.rs` what a change pushes
//! ([`SessionAddress`]); `terms.rs` what a start takes from its site (seal, currency); `fallback.rs`
//! the T-94 full PUT ([`fallback_put`]).

mod fallback;
mod push;
mod store;
mod terms;

use std::sync::Arc;
use std::time::Duration;

use roaming_peer::core::Core;
use roaming_peer::store::Tx;
use roaming_types::DateTime;
use roaming_types::ids::{AuthorizationReference, ConnectorId, EvseUid, LocationId, PartyRef};
use roaming_types::modules::cdrs::{AuthMethod, CdrToken, ChargingPeriod};
use roaming_types::modules::locations::Status;
use roaming_types::modules::sessions::{ChargingPreferences, Session, SessionStatus};
use roaming_types::money::Number;
use rust_decimal::Decimal;
use serde_json::{Map, json};

pub use fallback::fallback_put;
use push::Change;
pub use push::SessionAddress;
pub use store::{ALL, Runtime, SESSIONS, SessionView, new_session_id};

use crate::error::CsoError;
use crate::gateway::{SessionStart, SessionStop};
pub use crate::pricing::Sample;
use crate::pricing::{Ending, Pricing};
use crate::sites::Sites;

/// How a charge was authorized, for a new session.
#[derive(Debug, Clone, PartialEq)]
pub struct StartAuth {
    /// The token.
    pub token: CdrToken,
    /// The CSP (None = unknown token, not pushed).
    pub emsp: Option<PartyRef>,
    /// SES-05.
    pub auth_method: AuthMethod,
    /// SES-04.
    pub authorization_reference: Option<AuthorizationReference>,
}

/// A reservation the charger confirmed, for its RESERVATION session (SES-11).
#[derive(Debug, Clone, PartialEq)]
pub struct NewReservation {
    /// Location.
    pub location_id: LocationId,
    /// The reserved EVSE.
    pub evse_uid: EvseUid,
    /// The connector the session names.
    pub connector_id: ConnectorId,
    /// Who reserved it, and how.
    pub auth: StartAuth,
    /// The key of the reservation.
    pub reservation_key: String,
    /// When the charger confirmed it (the session's start).
    pub at: DateTime,
}

/// A `last_updated` strictly after `previous` (a receiver ignores a change that is not newer, T-80),
/// normally `at`.
fn later(previous: DateTime, at: DateTime) -> DateTime {
    at.max(previous.plus(chrono::Duration::milliseconds(1)))
}

/// kWh as reported: the same 4 decimals as the periods and the CDR's `total_energy`.
fn kwh(wh: Decimal) -> Number {
    Number(roaming_types::pricing::round_quantity(wh / Decimal::from(1000)).normalize())
}

/// The CSO's sessions.
#[derive(Debug, Clone)]
pub struct Sessions {
    core: Arc<Core>,
    sites: Sites,
    pricing: Pricing,
    currency: String,
}

impl Sessions {
    /// Sessions with the period length (`cso.sessions.period_secs`, default 900) and default currency
    /// (`cso.currency`, default EUR) from the configuration.
    pub fn new(core: Arc<Core>, sites: Sites) -> Result<Self, roaming_peer::config::ConfigError> {
        let period = core
            .config
            .role_secs("cso.sessions.period_secs", Duration::from_secs(900))?;
        let currency = core.config.role("cso.currency").unwrap_or("EUR").to_owned();
        let pricing = Pricing {
            free_tariff_id: sites.free_tariff_id().clone(),
            max_period: period,
        };
        Ok(Self {
            core,
            sites,
            pricing,
            currency,
        })
    }

    /// How sessions are priced and cut into periods (shared with their CDRs and with quotes).
    pub fn pricing(&self) -> &Pricing {
        &self.pricing
    }

    /// The sites.
    pub fn sites(&self) -> &Sites {
        &self.sites
    }

    /// Makes a transaction's writes durable and wakes the pushes.
    pub async fn commit(&self, woken: Vec<String>) -> Result<(), CsoError> {
        Ok(self.core.commit(woken).await?)
    }

    /// Sets the status of a session's EVSE (the one way a session changes its EVSE); returns the
    /// peers to wake.
    fn evse_status(
        &self,
        tx: &mut Tx<'_>,
        location: &LocationId,
        evse: &EvseUid,
        status: Status,
    ) -> Result<Vec<String>, CsoError> {
        self.sites
            .set_evse_status(tx, location, evse, status, roaming_types::DateTime::now())
    }

    /// A new reservation session (SES-11): status RESERVATION on the reserved EVSE.
    pub fn create_reservation(
        &self,
        tx: &mut Tx<'_>,
        new: NewReservation,
    ) -> Result<(Session, Vec<String>), CsoError> {
        let NewReservation {
            location_id,
            evse_uid,
            connector_id,
            auth,
            reservation_key,
            at,
        } = new;
        let (location, evse, connector) = (&location_id, &evse_uid, &connector_id);
        let site = Sites::location(tx, location.as_str())?;
        let terms = self.terms(site.as_ref(), evse, connector, at, Some(at))?;
        let s = Session {
            country_code: self.core.config.party.country_code.clone(),
            party_id: self.core.config.party.party_id.clone(),
            id: new_session_id(),
            start_date_time: at,
            end_date_time: None,
            kwh: Number::from_i64(0),
            cdr_token: auth.token,
            auth_method: auth.auth_method,
            authorization_reference: auth.authorization_reference,
            location_id: location.clone(),
            evse_uid: evse.clone(),
            connector_id: connector.clone(),
            meter_id: None,
            currency: terms.currency(&self.sites)?,
            charging_periods: Vec::new(),
            total_cost: None,
            status: SessionStatus::Reservation,
            last_updated: at,
        };
        let rt = Runtime {
            emsp: auth.emsp,
            reservation: Some(reservation_key),
            seal: terms.seal,
            ..Runtime::default()
        };
        Self::index_reserved(tx, location, evse, &s.id);
        let mut woken = self.save(tx, &s, &rt, Change::Full)?;
        woken.extend(self.evse_status(tx, location, evse, Status::Reserved)?);
        Ok((s, woken))
    }

    /// Ends a reservation session that was not used (`expired`, or cancelled): COMPLETED, EVSE free,
    /// and a reservation CDR when the tariff prices the reservation (CMD-05, CMD-07).
    pub fn end_reservation(
        &self,
        tx: &mut Tx<'_>,
        session_id: &str,
        at: DateTime,
        expired: bool,
    ) -> Result<Vec<String>, CsoError> {
        let Some(mut s) = self.get(tx, session_id)? else {
            return Ok(Vec::new());
        };
        if s.status != SessionStatus::Reservation {
            return Ok(Vec::new());
        }
        let rt = self.runtime(tx, session_id)?.unwrap_or_default();
        s.status = SessionStatus::Completed;
        s.end_date_time = Some(at.max(s.start_date_time));
        s.last_updated = later(s.last_updated, at);
        let cdr = match &rt.seal {
            Some(seal) => {
                let c = self
                    .pricing
                    .build(&s, seal, &[], None, at, Ending::ReservationUnused { expired })?;
                c.total_reservation_cost.is_some().then_some(c)
            }
            None => None,
        };
        if let Some(c) = &cdr {
            s.total_cost = Some(c.total_cost);
        }
        let mut woken = self.save(tx, &s, &rt, Change::Full)?;
        woken.extend(self.free_evse(tx, &s)?);
        if let Some(c) = cdr {
            woken.extend(crate::cdrs::issue(&self.core, tx, &c, rt.emsp.as_ref())?);
        }
        Ok(woken)
    }

    /// Frees the EVSE of a session that ends, unless it has moved on to another session.
    fn free_evse(&self, tx: &mut Tx<'_>, s: &Session) -> Result<Vec<String>, CsoError> {
        if !Self::unindex_evse(tx, s)? {
            return Ok(Vec::new());
        }
        self.evse_status(tx, &s.location_id, &s.evse_uid, Status::Available)
    }

    /// A charger began a transaction. `reservation_session` is the RESERVATION session it uses, if
    /// any: that session becomes the charging session (SES-05: its `auth_method` becomes the one of
    /// this start, and `authorization_reference` the latest one, SES-04).
    pub fn start(
        &self,
        tx: &mut Tx<'_>,
        start: &SessionStart,
        auth: StartAuth,
        reservation_session: Option<&str>,
    ) -> Result<(Session, Vec<String>), CsoError> {
        let (transaction_id, connector) = (start.transaction_id.as_str(), &start.connector_id);
        let (meter_start_wh, at) = (start.meter_start_wh, start.at);
        if let Some(existing) = self.by_transaction(tx, transaction_id)? {
            // A repeated report: nothing new.
            let s = self
                .get(tx, &existing)?
                .ok_or_else(|| CsoError::internal("transaction index without session"))?;
            return Ok((s, Vec::new()));
        }
        // The one read of the location: the ids as the site spells them (chargers and gateways may
        // not keep the case), and the session's terms.
        let site = Sites::location(tx, start.location_id.as_str())?;
        let (location, evse) = match &site {
            Some(l) => {
                let e = l
                    .evse(&start.evse_uid)
                    .map_or_else(|| start.evse_uid.clone(), |e| e.uid.clone());
                (l.id.clone(), e)
            }
            None => (start.location_id.clone(), start.evse_uid.clone()),
        };
        let (location, evse) = (&location, &evse);
        let reused = match reservation_session {
            Some(id) => self
                .get(tx, id)?
                .filter(|s| s.status == SessionStatus::Reservation),
            None => None,
        };
        let (s, rt, change) = match reused {
            Some(mut s) => {
                let mut rt = self.runtime(tx, s.id.as_str())?.unwrap_or_default();
                let booked = rt
                    .seal
                    .as_ref()
                    .and_then(|x| x.reserved_at)
                    .unwrap_or(s.start_date_time);
                rt.seal = self.terms(site.as_ref(), evse, connector, at, Some(booked))?.seal;
                s.status = SessionStatus::Pending;
                s.start_date_time = at;
                s.evse_uid = evse.clone();
                s.connector_id = connector.clone();
                s.auth_method = auth.auth_method;
                if auth.authorization_reference.is_some() {
                    s.authorization_reference = auth.authorization_reference;
                }
                s.last_updated = later(s.last_updated, at);
                rt.transaction_id = Some(transaction_id.to_owned());
                rt.meter_start_wh = Some(meter_start_wh);
                let change = Change::fields(
                    &s,
                    &[
                        "status",
                        "start_date_time",
                        "evse_uid",
                        "connector_id",
                        "auth_method",
                        "authorization_reference",
                    ],
                )?;
                (s, rt, change)
            }
            None => {
                let terms = self.terms(site.as_ref(), evse, connector, at, None)?;
                let s = Session {
                    country_code: self.core.config.party.country_code.clone(),
                    party_id: self.core.config.party.party_id.clone(),
                    id: new_session_id(),
                    start_date_time: at,
                    end_date_time: None,
                    kwh: Number::from_i64(0),
                    cdr_token: auth.token,
                    auth_method: auth.auth_method,
                    authorization_reference: auth.authorization_reference,
                    location_id: location.clone(),
                    evse_uid: evse.clone(),
                    connector_id: connector.clone(),
                    meter_id: None,
                    currency: terms.currency(&self.sites)?,
                    charging_periods: Vec::new(),
                    total_cost: None,
                    status: SessionStatus::Pending,
                    last_updated: at,
                };
                let rt = Runtime {
                    transaction_id: Some(transaction_id.to_owned()),
                    emsp: auth.emsp,
                    meter_start_wh: Some(meter_start_wh),
                    seal: terms.seal,
                    ..Runtime::default()
                };
                (s, rt, Change::Full)
            }
        };
        Self::index_start(tx, transaction_id, location, evse, &s.id);
        let mut woken = self.save(tx, &s, &rt, change)?;
        // The location as read above (this transaction has not changed it): not read again.
        woken.extend(match &site {
            Some(l) => self.sites.set_evse_status_of(
                tx,
                l,
                evse,
                Status::Charging,
                roaming_types::DateTime::now(),
            )?,
            None => self.evse_status(tx, location, evse, Status::Charging)?,
        });
        Ok((s, woken))
    }

    /// A meter reading of a running transaction.
    pub fn meter(
        &self,
        tx: &mut Tx<'_>,
        transaction_id: &str,
        sample: Sample,
    ) -> Result<(Option<Session>, Vec<String>), CsoError> {
        let Some(id) = self.by_transaction(tx, transaction_id)? else {
            return Err(CsoError::NotFound(format!(
                "no session for transaction {transaction_id}"
            )));
        };
        let Some(mut s) = self.get(tx, &id)? else {
            return Err(CsoError::NotFound(format!("no session {id}")));
        };
        if s.status.is_final() {
            return Ok((None, Vec::new()));
        }
        let mut rt = self.runtime(tx, &id)?.unwrap_or_default();
        if rt.samples.last().is_some_and(|l| sample.at <= l.at) {
            // Out of order or repeated: ignore.
            return Ok((None, Vec::new()));
        }
        let mut fields = Map::new();
        let start_wh = *rt.meter_start_wh.get_or_insert(sample.energy_wh);
        // SES-10: PENDING → ACTIVE when energy flows; the start becomes the activation time. When
        // the first reading already shows energy, it flowed since the transaction began: the start
        // stays, so that the session's kWh and its CDR cover the same energy.
        if s.status == SessionStatus::Pending && sample.charging {
            s.status = SessionStatus::Active;
            fields.insert("status".to_owned(), json!(s.status));
            if sample.energy_wh <= start_wh {
                s.start_date_time = sample.at;
                fields.insert("start_date_time".to_owned(), json!(s.start_date_time));
            }
        }
        let new_kwh = kwh((sample.energy_wh - start_wh).max(Decimal::ZERO));
        if new_kwh != s.kwh {
            s.kwh = new_kwh;
            fields.insert("kwh".to_owned(), json!(s.kwh));
        }
        rt.samples.push(sample.clone());
        if s.status == SessionStatus::Active {
            // The periods come from the engine that prices the CDR, over the readings so far:
            // every period but the last (which the next reading may extend) is final and is
            // appended (SES-02), so the session's periods are the CDR's, from start_date_time on.
            let priced =
                self.pricing
                    .so_far(&s, rt.seal.as_ref(), &rt.samples, rt.meter_start_wh, sample.at)?;
            let done = priced.charging_periods.len().saturating_sub(1);
            let have = s.charging_periods.len();
            if done > have {
                let new: Vec<ChargingPeriod> = priced.charging_periods[have..done].to_vec();
                s.charging_periods.extend(new.iter().cloned());
                fields.insert("charging_periods".to_owned(), json!(new));
            }
            // The cost so far, whenever a period closes or the session becomes ACTIVE (UC3-6).
            let due = fields.contains_key("charging_periods") || fields.contains_key("status");
            if due && rt.seal.is_some() && s.total_cost.as_ref() != Some(&priced.total_cost) {
                s.total_cost = Some(priced.total_cost);
                fields.insert("total_cost".to_owned(), json!(s.total_cost));
            }
        }
        if fields.is_empty() {
            // Nothing the CSP sees changed; keep the sample.
            Self::save_runtime(tx, &id, &rt)?;
            return Ok((None, Vec::new()));
        }
        s.last_updated = later(s.last_updated, sample.at);
        let woken = self.save(tx, &s, &rt, Change::Fields(fields))?;
        Ok((Some(s), woken))
    }

    /// The transaction ended: the last period is closed and the session is COMPLETED (a full PUT).
    pub fn stop(
        &self,
        tx: &mut Tx<'_>,
        stop: &SessionStop,
    ) -> Result<(Option<Session>, Vec<String>), CsoError> {
        let (transaction_id, energy_wh, at) = (stop.transaction_id.as_str(), stop.energy_wh, stop.at);
        let Some(id) = self.by_transaction(tx, transaction_id)? else {
            return Err(CsoError::NotFound(format!(
                "no session for transaction {transaction_id}"
            )));
        };
        let Some(mut s) = self.get(tx, &id)? else {
            return Err(CsoError::NotFound(format!("no session {id}")));
        };
        if s.status.is_final() {
            return Ok((None, Vec::new()));
        }
        let mut rt = self.runtime(tx, &id)?.unwrap_or_default();
        let start_wh = *rt.meter_start_wh.get_or_insert(energy_wh);
        if let Some(last) = rt.samples.last() {
            if at > last.at {
                rt.samples.push(Sample {
                    at,
                    energy_wh,
                    power_w: Decimal::ZERO,
                    current_a: None,
                    charging: false,
                });
            }
        }
        s.kwh = kwh((energy_wh - start_wh).max(Decimal::ZERO));
        let end = at.max(s.start_date_time);
        s.end_date_time = Some(end);
        s.status = SessionStatus::Completed;
        s.last_updated = later(s.last_updated, at);
        // UC3-5: the CDR, priced from the seal, in the same transaction as the completion; the
        // completed session (a full PUT, SES-03) carries the CDR's periods, so the two agree.
        let cdr = match &rt.seal {
            Some(seal) => {
                Some(
                    self.pricing
                        .build(&s, seal, &rt.samples, rt.meter_start_wh, end, Ending::Charged)?,
                )
            }
            None => None,
        };
        match &cdr {
            Some(c) => {
                s.total_cost = Some(c.total_cost);
                s.charging_periods = c.charging_periods.clone();
            }
            None => {
                s.charging_periods = self
                    .pricing
                    .so_far(&s, None, &rt.samples, rt.meter_start_wh, end)?
                    .charging_periods;
            }
        }
        let mut woken = self.save(tx, &s, &rt, Change::Full)?;
        woken.extend(self.free_evse(tx, &s)?);
        if let Some(c) = cdr {
            woken.extend(crate::cdrs::issue(&self.core, tx, &c, rt.emsp.as_ref())?);
        }
        Ok((Some(s), woken))
    }

    /// Declares a session INVALID (operator decision; not billed).
    pub async fn invalidate(&self, id: &str) -> Result<Session, CsoError> {
        let (s, woken) = self.core.store.transact(|tx| {
            let mut s = self
                .get(tx, id)?
                .ok_or_else(|| CsoError::NotFound(format!("no session {id}")))?;
            if s.status == SessionStatus::Invalid {
                return Ok((s, Vec::new()));
            }
            let rt = self.runtime(tx, id)?.unwrap_or_default();
            s.status = SessionStatus::Invalid;
            s.last_updated = later(s.last_updated, DateTime::now());
            let mut f = Map::new();
            f.insert("status".to_owned(), json!(s.status));
            let mut woken = self.save(tx, &s, &rt, Change::Fields(f))?;
            woken.extend(self.free_evse(tx, &s)?);
            Ok::<_, CsoError>((s, woken))
        })?;
        self.commit(woken).await?;
        Ok(s)
    }

    /// Stores the driver's charging preferences with a running session.
    pub fn set_preferences(
        &self,
        tx: &mut Tx<'_>,
        id: &str,
        prefs: ChargingPreferences,
    ) -> Result<(), CsoError> {
        let mut rt = self.runtime(tx, id)?.unwrap_or_default();
        rt.preferences = Some(prefs);
        Self::save_runtime(tx, id, &rt)
    }
}

#[cfg(test)]
mod tests;
