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
//! - The meter samples are kept with the session for pricing.
//!
//! Keyspaces: `cso_sessions` (collection, partitions `all` and the owning CSP's party key, so that the
//! Sender GET serves each CSP only its own sessions), `cso_session_runtime` (samples, open period),
//! `cso_session_txn` (charger transaction → session), `cso_session_evse` (EVSE → its current session).

use std::sync::Arc;
use std::time::Duration;

use roaming_peer::core::Core;
use roaming_peer::outbox::{Outbox, Push, PushOp};
use roaming_peer::store::collection::StoredDoc;
use roaming_peer::store::{Space, StoreError, Tx, key};
use roaming_types::DateTime;
use roaming_types::ci_string::Text;
use roaming_types::ids::{AuthorizationReference, ConnectorId, EvseUid, LocationId, PartyRef, SessionId};
use roaming_types::modules::cdrs::{AuthMethod, CdrToken, ChargingPeriod};
use roaming_types::modules::locations::Status;
use roaming_types::modules::sessions::{ChargingPreferences, Session, SessionStatus};
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use roaming_types::money::Number;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::CsoError;
use crate::gateway::{SessionStart, SessionStop};
use crate::sites::Sites;

pub use crate::keyspaces::{BY_EVSE, BY_TRANSACTION, LAST_ON_EVSE, RUNTIME, SESSIONS};

/// The operator's partition of every session.
pub const ALL: &str = "all";

/// One meter reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When.
    pub at: DateTime,
    /// Cumulative meter reading, Wh.
    pub energy_wh: Decimal,
    /// Instantaneous power, W.
    pub power_w: Decimal,
    /// Instantaneous current, A.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_a: Option<Decimal>,
    /// Whether the EV drew power.
    pub charging: bool,
}

/// What the CSO keeps beside the OCPI Session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    /// The charger's transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The CSP the session belongs to; `None` for a token no connected CSP issued (never pushed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emsp: Option<PartyRef>,
    /// First meter reading, Wh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_start_wh: Option<Decimal>,
    /// Every meter reading (for pricing).
    #[serde(default)]
    pub samples: Vec<Sample>,
    /// The reservation behind the session, if any (its key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
    /// The driver's charging preferences (SES-07).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<ChargingPreferences>,
    /// What the CDR will be built from, fixed at the start (CDR-03).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<crate::cdrs::Seal>,
}

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

/// A session with its runtime, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    /// The OCPI session.
    pub session: Session,
    /// The CSP it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emsp: Option<PartyRef>,
    /// The charger's transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Meter readings so far.
    pub samples: usize,
    /// Charging preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<ChargingPreferences>,
}

/// What changed in a session, for its push.
enum Change {
    /// Send the full object.
    Full,
    /// Send these fields (+ `last_updated`).
    Fields(Map<String, Value>),
}

/// A `last_updated` strictly after `previous` (a receiver ignores a change that is not newer, T-80),
/// normally `at`.
fn later(previous: DateTime, at: DateTime) -> DateTime {
    at.max(previous.plus(chrono::Duration::milliseconds(1)))
}

fn skey(id: &str) -> Vec<u8> {
    id.to_ascii_lowercase().into_bytes()
}

fn evse_key(location: &LocationId, evse: &EvseUid) -> Vec<u8> {
    key([location.to_key(), evse.to_key()])
}

/// kWh as reported: the same 4 decimals as the periods and the CDR's `total_energy`.
fn kwh(wh: Decimal) -> Number {
    Number(roaming_types::pricing::round_quantity(wh / Decimal::from(1000)).normalize())
}

/// A fresh session id: 20 characters from the CSPRNG (unguessable; fits CiString(36)).
pub fn new_session_id() -> SessionId {
    let bytes = roaming_peer::secret::random_bytes();
    let id: String = bytes[..20]
        .iter()
        .map(|b| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[usize::from(*b) % 32]))
        .collect();
    SessionId::new(format!("S{id}")).unwrap_or_else(|_| unreachable!("21 ASCII characters"))
}

/// The CSO's sessions.
#[derive(Debug, Clone)]
pub struct Sessions {
    core: Arc<Core>,
    sites: Sites,
    pricing: crate::cdrs::Pricing,
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
        let pricing = crate::cdrs::Pricing {
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
    pub fn pricing(&self) -> &crate::cdrs::Pricing {
        &self.pricing
    }

    /// The sites.
    pub fn sites(&self) -> &Sites {
        &self.sites
    }

    /// A session by id.
    pub fn get(&self, id: &str) -> Result<Option<Session>, CsoError> {
        SESSIONS
            .get(&self.core.store, &skey(id))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()
    }

    /// A session inside a transaction.
    pub fn get_tx(&self, tx: &Tx<'_>, id: &str) -> Result<Option<Session>, CsoError> {
        SESSIONS
            .get_tx(tx, &skey(id))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()
    }

    /// The runtime of a session.
    pub fn runtime(&self, id: &str) -> Result<Option<Runtime>, CsoError> {
        Ok(self.core.store.get_json(RUNTIME, &skey(id))?)
    }

    /// A session with its runtime.
    pub fn view(&self, id: &str) -> Result<Option<SessionView>, CsoError> {
        let Some(session) = self.get(id)? else {
            return Ok(None);
        };
        let rt = self.runtime(id)?.unwrap_or_default();
        Ok(Some(SessionView {
            session,
            emsp: rt.emsp,
            transaction_id: rt.transaction_id,
            samples: rt.samples.len(),
            preferences: rt.preferences,
        }))
    }

    /// Every session, newest last, optionally only those of one CSP or in one status.
    pub fn list(
        &self,
        emsp: Option<&PartyRef>,
        status: Option<&SessionStatus>,
    ) -> Result<Vec<Session>, CsoError> {
        let mut out = Vec::new();
        for (_, d) in SESSIONS.all(&self.core.store, &[])? {
            let s: Session = serde_json::from_slice(&d.json).map_err(CsoError::internal)?;
            if emsp.is_some_and(|p| s.emsp() != *p) || status.is_some_and(|st| &s.status != st) {
                continue;
            }
            out.push(s);
        }
        out.sort_by_key(|s| s.last_updated);
        Ok(out)
    }

    /// The session running on a charger transaction.
    pub fn by_transaction(&self, tx: &Tx<'_>, transaction_id: &str) -> Result<Option<String>, CsoError> {
        Ok(tx
            .get(BY_TRANSACTION, transaction_id.as_bytes())?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// The current (not final) session of an EVSE.
    pub fn on_evse(
        &self,
        tx: &Tx<'_>,
        location: &LocationId,
        evse: &EvseUid,
    ) -> Result<Option<Session>, CsoError> {
        let Some(k) = tx.get(BY_EVSE, &evse_key(location, evse))? else {
            return Ok(None);
        };
        self.get_tx(tx, &String::from_utf8_lossy(&k))
    }

    /// The session whose driver may be at the EVSE: its current session, else the last charging
    /// session that started there (finished, but its cable may still be in the socket).
    pub fn at_evse(&self, location: &LocationId, evse: &EvseUid) -> Result<Option<Session>, CsoError> {
        let k = evse_key(location, evse);
        let store = &self.core.store;
        let Some(id) = store.get(BY_EVSE, &k)?.or(store.get(LAST_ON_EVSE, &k)?) else {
            return Ok(None);
        };
        self.get(&String::from_utf8_lossy(&id))
    }

    /// Sessions that are running at a charger (PENDING or ACTIVE, with a transaction).
    pub fn running(&self) -> Result<Vec<(Session, Runtime)>, CsoError> {
        let mut out = Vec::new();
        for s in self.list(None, None)? {
            if matches!(s.status, SessionStatus::Pending | SessionStatus::Active) {
                let rt = self.runtime(s.id.as_str())?.unwrap_or_default();
                if rt.transaction_id.is_some() {
                    out.push((s, rt));
                }
            }
        }
        Ok(out)
    }

    /// Seals the location, EVSE, connector and tariff in force for a session starting at `at`
    /// (CDR-03); `None` when the site no longer knows the connector.
    fn seal(
        &self,
        tx: &Tx<'_>,
        location: &LocationId,
        evse: &EvseUid,
        connector: &ConnectorId,
        at: DateTime,
        reserved_at: Option<DateTime>,
    ) -> Result<Option<crate::cdrs::Seal>, CsoError> {
        let Some(loc) = Sites::location(tx, location.as_str())? else {
            return Ok(None);
        };
        let Some(e) = loc.evse(evse) else {
            return Ok(None);
        };
        let Some(c) = e.connector(connector).or_else(|| e.connectors.first()) else {
            return Ok(None);
        };
        let mut tariffs = Vec::new();
        for t in &c.tariff_ids {
            if let Some(t) = Sites::tariff(&self.core.store, t.as_str())? {
                tariffs.push(t);
            }
        }
        // No tariff in force: the session is free of charge, by the tariff every CSP holds.
        let tariff = match roaming_types::pricing::select_tariff(&tariffs, None, at) {
            Some(t) => t.clone(),
            None => self.sites.free_tariff()?,
        };
        let tariff = Some(tariff);
        Ok(Some(crate::cdrs::Seal {
            location: roaming_types::modules::cdrs::CdrLocation::of(&loc, e, c),
            tariff,
            time_zone: loc.time_zone.as_str().to_owned(),
            reserved_at,
        }))
    }

    /// The currency of sessions whose connector has no tariff (`cso.currency`).
    pub fn default_currency(&self) -> Result<Text<3>, CsoError> {
        Text::new(self.currency.as_str()).map_err(|e| CsoError::Invalid(format!("cso.currency: {e}")))
    }

    fn currency_for(
        &self,
        tx: &Tx<'_>,
        location: &LocationId,
        evse: &EvseUid,
        connector: &ConnectorId,
    ) -> Result<Text<3>, CsoError> {
        let from_tariff = Sites::location(tx, location.as_str())?
            .and_then(|l| {
                l.evse(evse)
                    .and_then(|e| e.connector(connector))
                    .and_then(|c| c.tariff_ids.first().cloned())
            })
            .and_then(|tid| Sites::tariff(&self.core.store, tid.as_str()).ok().flatten())
            .map(|t| t.currency);
        match from_tariff {
            Some(c) => Ok(c),
            // Priced by the free-of-charge tariff: its currency.
            None => Ok(self.sites.free_tariff()?.currency),
        }
    }

    /// Stores a session and its runtime and queues the push to its CSP. Returns the peers to wake.
    fn save(
        &self,
        tx: &mut Tx<'_>,
        s: &Session,
        rt: &Runtime,
        change: Change,
    ) -> Result<Vec<String>, CsoError> {
        let mut partitions = vec![ALL.to_owned()];
        if let Some(p) = &rt.emsp {
            partitions.push(p.to_key());
        }
        SESSIONS.put(
            tx,
            &skey(s.id.as_str()),
            &StoredDoc {
                last_updated: s.last_updated,
                partitions,
                json: serde_json::to_vec(s).map_err(CsoError::internal)?,
            },
        )?;
        tx.put_json(RUNTIME, skey(s.id.as_str()), rt)?;
        let Some(emsp) = &rt.emsp else {
            return Ok(Vec::new());
        };
        let Some(peer) = self.core.peers.hosting(emsp, &Role::Emsp)? else {
            return Ok(Vec::new());
        };
        if peer
            .endpoint(&ModuleId::Sessions, &InterfaceRole::Receiver)
            .is_none()
        {
            return Ok(Vec::new());
        }
        let op = match change {
            Change::Full => PushOp::Put {
                body: serde_json::to_value(s).map_err(CsoError::internal)?,
            },
            Change::Fields(mut body) => {
                body.insert("last_updated".to_owned(), json!(s.last_updated));
                PushOp::Patch { body }
            }
        };
        let party = &self.core.config.party;
        Outbox::enqueue(
            tx,
            &peer.id,
            Push {
                object: format!("sessions/{}", s.id.to_key()),
                module: ModuleId::Sessions,
                role: InterfaceRole::Receiver,
                path: vec![
                    party.country_code.to_upper(),
                    party.party_id.to_upper(),
                    s.id.as_str().to_owned(),
                ],
                op,
                to: Some(emsp.clone()),
                query: Vec::new(),
                group: None,
                appended: Vec::new(),
            },
        )?;
        Ok(vec![peer.id.clone()])
    }

    /// Makes a transaction's writes durable and wakes the pushes.
    pub async fn commit(&self, woken: Vec<String>) -> Result<(), CsoError> {
        Ok(self.core.commit(woken).await?)
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
            currency: self.currency_for(tx, location, evse, connector)?,
            charging_periods: Vec::new(),
            total_cost: None,
            status: SessionStatus::Reservation,
            last_updated: at,
        };
        let rt = Runtime {
            emsp: auth.emsp,
            reservation: Some(reservation_key),
            seal: self.seal(tx, location, evse, connector, at, Some(at))?,
            ..Runtime::default()
        };
        tx.put(BY_EVSE, evse_key(location, evse), skey(s.id.as_str()));
        let mut woken = self.save(tx, &s, &rt, Change::Full)?;
        woken.extend(
            self.sites
                .set_evse_status(tx, location, evse, Status::Reserved, DateTime::now())?,
        );
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
        let Some(mut s) = self.get_tx(tx, session_id)? else {
            return Ok(Vec::new());
        };
        if s.status != SessionStatus::Reservation {
            return Ok(Vec::new());
        }
        let rt: Runtime = tx.get_json(RUNTIME, &skey(session_id))?.unwrap_or_default();
        s.status = SessionStatus::Completed;
        s.end_date_time = Some(at.max(s.start_date_time));
        s.last_updated = later(s.last_updated, at);
        let cdr = match &rt.seal {
            Some(seal) => {
                let c = self.pricing.build(
                    &s,
                    seal,
                    &[],
                    None,
                    at,
                    crate::cdrs::Ending::ReservationUnused { expired },
                )?;
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

    fn free_evse(&self, tx: &mut Tx<'_>, s: &Session) -> Result<Vec<String>, CsoError> {
        let ek = evse_key(&s.location_id, &s.evse_uid);
        let current = tx.get(BY_EVSE, &ek)?;
        if current.as_deref() != Some(skey(s.id.as_str()).as_slice()) {
            return Ok(Vec::new());
        }
        tx.delete(BY_EVSE, ek);
        self.sites.set_evse_status(
            tx,
            &s.location_id,
            &s.evse_uid,
            Status::Available,
            DateTime::now(),
        )
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
                .get_tx(tx, &existing)?
                .ok_or_else(|| CsoError::internal("transaction index without session"))?;
            return Ok((s, Vec::new()));
        }
        // The ids as the site spells them (chargers and gateways may not keep the case).
        let (location, evse) = (&start.location_id, &start.evse_uid);
        let (location, evse) = match Sites::location(tx, location.as_str())? {
            Some(l) => {
                let e = l.evse(evse).map_or_else(|| evse.clone(), |e| e.uid.clone());
                (l.id.clone(), e)
            }
            None => (location.clone(), evse.clone()),
        };
        let (location, evse) = (&location, &evse);
        let reused = match reservation_session {
            Some(id) => self
                .get_tx(tx, id)?
                .filter(|s| s.status == SessionStatus::Reservation),
            None => None,
        };
        let (s, rt, change) = match reused {
            Some(mut s) => {
                let mut rt: Runtime = tx.get_json(RUNTIME, &skey(s.id.as_str()))?.unwrap_or_default();
                let booked = rt
                    .seal
                    .as_ref()
                    .and_then(|x| x.reserved_at)
                    .unwrap_or(s.start_date_time);
                rt.seal = self.seal(tx, location, evse, connector, at, Some(booked))?;
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
                let mut f = Map::new();
                for k in [
                    "status",
                    "start_date_time",
                    "evse_uid",
                    "connector_id",
                    "auth_method",
                    "authorization_reference",
                ] {
                    if let Some(v) = serde_json::to_value(&s).map_err(CsoError::internal)?.get(k) {
                        f.insert(k.to_owned(), v.clone());
                    }
                }
                (s, rt, Change::Fields(f))
            }
            None => {
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
                    currency: self.currency_for(tx, location, evse, connector)?,
                    charging_periods: Vec::new(),
                    total_cost: None,
                    status: SessionStatus::Pending,
                    last_updated: at,
                };
                let rt = Runtime {
                    transaction_id: Some(transaction_id.to_owned()),
                    emsp: auth.emsp,
                    meter_start_wh: Some(meter_start_wh),
                    seal: self.seal(tx, location, evse, connector, at, None)?,
                    ..Runtime::default()
                };
                (s, rt, Change::Full)
            }
        };
        tx.put(
            BY_TRANSACTION,
            transaction_id.as_bytes().to_vec(),
            skey(s.id.as_str()),
        );
        tx.put(BY_EVSE, evse_key(location, evse), skey(s.id.as_str()));
        tx.put(LAST_ON_EVSE, evse_key(location, evse), skey(s.id.as_str()));
        let mut woken = self.save(tx, &s, &rt, change)?;
        woken.extend(
            self.sites
                .set_evse_status(tx, location, evse, Status::Charging, DateTime::now())?,
        );
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
        let Some(mut s) = self.get_tx(tx, &id)? else {
            return Err(CsoError::NotFound(format!("no session {id}")));
        };
        if s.status.is_final() {
            return Ok((None, Vec::new()));
        }
        let mut rt: Runtime = tx.get_json(RUNTIME, &skey(&id))?.unwrap_or_default();
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
            tx.put_json(RUNTIME, skey(&id), &rt)?;
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
        let Some(mut s) = self.get_tx(tx, &id)? else {
            return Err(CsoError::NotFound(format!("no session {id}")));
        };
        if s.status.is_final() {
            return Ok((None, Vec::new()));
        }
        let mut rt: Runtime = tx.get_json(RUNTIME, &skey(&id))?.unwrap_or_default();
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
            Some(seal) => Some(self.pricing.build(
                &s,
                seal,
                &rt.samples,
                rt.meter_start_wh,
                end,
                crate::cdrs::Ending::Charged,
            )?),
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
                .get_tx(tx, id)?
                .ok_or_else(|| CsoError::NotFound(format!("no session {id}")))?;
            if s.status == SessionStatus::Invalid {
                return Ok((s, Vec::new()));
            }
            let rt: Runtime = tx.get_json(RUNTIME, &skey(id))?.unwrap_or_default();
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
        let mut rt: Runtime = tx.get_json(RUNTIME, &skey(id))?.unwrap_or_default();
        rt.preferences = Some(prefs);
        tx.put_json(RUNTIME, skey(id), &rt)?;
        Ok(())
    }
}

/// T-94 fallback for sessions: the full session to PUT when the CSP does not know one we PATCHed.
pub fn fallback_put(
    store: &roaming_peer::store::StoreHandle,
    push: &Push,
) -> Result<Option<Push>, StoreError> {
    let Some(id) = push.path.get(2) else {
        return Ok(None);
    };
    let Some(doc) = SESSIONS.get(store, &skey(id))? else {
        return Ok(None);
    };
    let body: Value = serde_json::from_slice(&doc.json).map_err(|e| StoreError::Corrupt {
        space: Space("cso_sessions"),
        message: e.to_string(),
    })?;
    Ok(Some(Push {
        op: PushOp::Put { body },
        ..push.clone()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_unique_and_valid() {
        let a = new_session_id();
        let b = new_session_id();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 21);
    }

    #[test]
    fn kwh_is_an_exact_decimal_with_the_periods_four_decimals() {
        assert_eq!(kwh(Decimal::from(12_345)).value(), Decimal::new(12_345, 3));
        // 0.1 Wh is the resolution of every reported energy (periods, CDR totals, kwh).
        assert_eq!(kwh(Decimal::new(86_666_667, 4)).value(), Decimal::new(86_667, 4));
    }
}
