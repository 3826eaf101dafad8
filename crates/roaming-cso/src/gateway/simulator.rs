//! The built-in charging-station simulator: the default station gateway, and what the demo and the
//! tests drive.
//!
//! Every EVSE of the CSO's sites is simulated as soon as it is used. Per EVSE (defaults from
//! `cso.simulator.*`, changeable at run time through the operator API):
//! - `plug_in_delay_ms`: how long after an authorized start the driver plugs in (a remote start waits
//!   for it; `plug-in` ends the wait early);
//! - `power_kw`: the power the EV draws, capped by the connector's maximum;
//! - `meter_interval_ms`: how often meter values are reported;
//! - `fault`: `none`, `offline` (commands fail with EVSE_INOPERATIVE), `busy` (EVSE_OCCUPIED) or
//!   `silent` (commands are never answered, so the CSO reports TIMEOUT).
//!
//! It also plays the driver: presenting an RFID token (the charger asks the CSO to authorize it; the
//! same token again stops the session), plugging in, unplugging (ends the session), and the EV
//! pausing or resuming its demand (parking time, E-07).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use roaming_peer::core::Core;
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid, LocationId, TokenUid};
use roaming_types::modules::commands::CommandResultType;
use roaming_types::modules::tokens::TokenType;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{
    AuthorizeRequest, GatewayError, RunningTransaction, StationCommand, StationEvent, StationGateway,
};
use crate::authorization::Decision;
use crate::sites::Sites;
use crate::stations::EventSink;

/// A fault the simulator plays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Works.
    #[default]
    None,
    /// Unreachable: commands fail with EVSE_INOPERATIVE.
    Offline,
    /// In use by someone outside the roaming world: EVSE_OCCUPIED.
    Busy,
    /// Never answers: the CSO reports TIMEOUT.
    Silent,
}

/// The settings of one simulated EVSE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvseSettings {
    /// Delay between an authorized start and the plug-in, ms.
    pub plug_in_delay_ms: u64,
    /// Power the EV draws, kW (capped by the connector).
    pub power_kw: Decimal,
    /// Meter-value interval, ms.
    pub meter_interval_ms: u64,
    /// The fault played.
    pub fault: Fault,
}

/// A change of settings (fields left out stay).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SettingsChange {
    /// Delay between an authorized start and the plug-in, ms.
    #[serde(default)]
    pub plug_in_delay_ms: Option<u64>,
    /// Power, kW.
    #[serde(default)]
    pub power_kw: Option<Decimal>,
    /// Meter-value interval, ms.
    #[serde(default)]
    pub meter_interval_ms: Option<u64>,
    /// Fault.
    #[serde(default)]
    pub fault: Option<Fault>,
}

#[derive(Debug, Clone)]
struct Txn {
    id: String,
    connector: ConnectorId,
    token_uid: String,
    ev_requests_power: bool,
    last_at: DateTime,
}

#[derive(Debug, Clone)]
struct EvseSim {
    settings: EvseSettings,
    plugged: bool,
    /// A start is waiting for the plug-in.
    starting: bool,
    txn: Option<Txn>,
    /// Charger reservation number and the token uid it is for.
    reservation: Option<(u64, String)>,
    /// The meter register, Wh.
    meter_wh: Decimal,
    /// Power drawn, W (after the connector cap).
    power_w: Decimal,
    /// The connector's maximum, W.
    max_w: Decimal,
    /// The cap of a charging profile or local limit, W.
    limit_w: Option<Decimal>,
    /// Volts × phases, to derive the current.
    volt_phases: Decimal,
}

/// What the operator sees of a simulated EVSE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvseView {
    /// Location.
    pub location_id: String,
    /// EVSE.
    pub evse_uid: String,
    /// Settings.
    pub settings: EvseSettings,
    /// Whether a cable is plugged in.
    pub plugged: bool,
    /// The running transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The connector of the running transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<String>,
    /// Whether the EV draws power.
    pub charging: bool,
    /// The reservation held, by charger number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<u64>,
    /// The meter register, Wh.
    pub meter_wh: Decimal,
    /// The power cap in force (charging profile or local limit), W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_w: Option<Decimal>,
}

/// What happened when a driver presented a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TokenOutcome {
    /// Authorized: charging starts once the cable is in.
    Starting {
        /// The CSO's decision.
        decision: Decision,
    },
    /// The same token stopped its running session.
    Stopped {
        /// The transaction.
        transaction_id: String,
    },
    /// Not authorized, or the EVSE cannot be used.
    Refused {
        /// Why.
        reason: String,
        /// The CSO's decision, when it was asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decision: Option<Decision>,
    },
}

/// Why a driver action could not be played.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SimError {
    /// No such EVSE.
    #[error("{0}")]
    NotFound(String),
    /// The EVSE is not in a state that allows it.
    #[error("{0}")]
    Conflict(String),
}

type Key = (String, String);

struct Inner {
    core: Arc<Core>,
    sites: Sites,
    sink: EventSink,
    defaults: EvseSettings,
    evses: Mutex<BTreeMap<Key, EvseSim>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("defaults", &self.defaults)
            .finish()
    }
}

/// The simulator.
#[derive(Debug, Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

fn k(location: &str, evse: &str) -> Key {
    (location.to_ascii_lowercase(), evse.to_ascii_lowercase())
}

impl Simulator {
    /// A simulator of the CSO's sites with the defaults of `cso.simulator.*`.
    pub fn new(
        core: Arc<Core>,
        sites: Sites,
        sink: EventSink,
    ) -> Result<Self, roaming_peer::config::ConfigError> {
        let c = &core.config;
        let defaults = EvseSettings {
            plug_in_delay_ms: c.role_parsed("cso.simulator.plug_in_delay_ms", 2000)?,
            power_kw: c.role_parsed("cso.simulator.power_kw", Decimal::from(11))?,
            meter_interval_ms: c.role_parsed("cso.simulator.meter_interval_ms", 5000)?,
            fault: Fault::None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                core,
                sites,
                sink,
                defaults,
                evses: Mutex::new(BTreeMap::new()),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, EvseSim>> {
        self.inner
            .evses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The simulated EVSE (created from the site data on first use).
    fn ensure(&self, location: &str, evse: &str) -> Result<(), SimError> {
        if self.lock().contains_key(&k(location, evse)) {
            return Ok(());
        }
        let loc = self
            .inner
            .sites
            .location(location)
            .ok()
            .flatten()
            .ok_or_else(|| SimError::NotFound(format!("no location {location}")))?;
        let uid = EvseUid::new(evse).map_err(|e| SimError::NotFound(e.to_string()))?;
        let e = loc
            .evse(&uid)
            .ok_or_else(|| SimError::NotFound(format!("no EVSE {evse} at {location}")))?;
        let (max_w, volt_phases) = e
            .connectors
            .first()
            .map(|c| {
                (
                    Decimal::from(c.max_power_w()),
                    Decimal::from(c.max_voltage) * Decimal::from(c.power_type.phases()),
                )
            })
            .unwrap_or((Decimal::from(11_000), Decimal::from(690)));
        let settings = self.inner.defaults.clone();
        let power_w = (settings.power_kw * Decimal::from(1000)).min(max_w);
        self.lock().entry(k(location, evse)).or_insert(EvseSim {
            settings,
            plugged: false,
            starting: false,
            txn: None,
            reservation: None,
            meter_wh: Decimal::ZERO,
            power_w,
            max_w,
            limit_w: None,
            volt_phases,
        });
        Ok(())
    }

    /// Continues the transactions the CSO knows are running (after a restart).
    pub fn resume(&self, running: &[RunningTransaction]) {
        for r in running {
            if self.ensure(r.location_id.as_str(), r.evse_uid.as_str()).is_err() {
                continue;
            }
            let key = k(r.location_id.as_str(), r.evse_uid.as_str());
            {
                let mut all = self.lock();
                let Some(sim) = all.get_mut(&key) else { continue };
                sim.meter_wh = r.energy_wh;
                sim.plugged = true;
                sim.txn = Some(Txn {
                    id: r.transaction_id.clone(),
                    connector: r.connector_id.clone(),
                    token_uid: r.token_uid.clone(),
                    ev_requests_power: true,
                    last_at: DateTime::now(),
                });
            }
            tracing::info!(transaction.id = %r.transaction_id, "simulator resumed a transaction");
            self.spawn_meter(key, r.transaction_id.clone());
        }
    }

    /// Every simulated EVSE.
    pub fn evses(&self) -> Vec<EvseView> {
        self.lock().iter().map(|((l, e), s)| view(l, e, s)).collect()
    }

    /// One simulated EVSE.
    pub fn evse(&self, location: &str, evse: &str) -> Result<EvseView, SimError> {
        self.ensure(location, evse)?;
        self.lock()
            .get(&k(location, evse))
            .map(|s| view(location, evse, s))
            .ok_or_else(|| SimError::NotFound(format!("no EVSE {evse} at {location}")))
    }

    /// Changes an EVSE's settings.
    pub fn configure(
        &self,
        location: &str,
        evse: &str,
        change: &SettingsChange,
    ) -> Result<EvseView, SimError> {
        self.ensure(location, evse)?;
        let mut all = self.lock();
        let sim = all
            .get_mut(&k(location, evse))
            .ok_or_else(|| SimError::NotFound(format!("no EVSE {evse} at {location}")))?;
        if let Some(v) = change.plug_in_delay_ms {
            sim.settings.plug_in_delay_ms = v;
        }
        if let Some(v) = change.meter_interval_ms {
            sim.settings.meter_interval_ms = v.max(10);
        }
        if let Some(v) = change.fault {
            sim.settings.fault = v;
        }
        if let Some(v) = change.power_kw {
            if v.is_sign_negative() {
                return Err(SimError::Conflict("power_kw must not be negative".to_owned()));
            }
            sim.settings.power_kw = v;
            sim.power_w = (v * Decimal::from(1000)).min(sim.max_w);
        }
        Ok(view(location, evse, sim))
    }

    fn emit(&self, e: StationEvent) {
        let sink = self.inner.sink.clone();
        tokio::spawn(async move {
            sink.event(e).await;
        });
    }

    fn result(&self, command_id: &str, result: CommandResultType, message: Option<&str>) {
        self.emit(StationEvent::CommandResult {
            command_id: command_id.to_owned(),
            result,
            // The simulator's own short texts; one that is not a string(512) is left out.
            message: message.and_then(|m| roaming_types::Text::new(m).ok()),
        });
    }

    /// Starts a transaction once the cable is in (waits up to the plug-in delay).
    fn begin_after_plug_in(
        &self,
        key: Key,
        connector: Option<ConnectorId>,
        token_uid: String,
        token_type: TokenType,
        command_id: Option<String>,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            let delay = this.lock().get(&key).map_or(0, |s| s.settings.plug_in_delay_ms);
            let until = tokio::time::Instant::now() + Duration::from_millis(delay);
            loop {
                let plugged = this.lock().get(&key).is_some_and(|s| s.plugged);
                if plugged || tokio::time::Instant::now() >= until {
                    break;
                }
                tokio::select! {
                    () = this.inner.core.shutdown_signal() => return,
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
            this.begin(key, connector, token_uid, token_type, command_id);
        });
    }

    fn begin(
        &self,
        key: Key,
        connector: Option<ConnectorId>,
        token_uid: String,
        token_type: TokenType,
        command_id: Option<String>,
    ) {
        let connector = connector.or_else(|| {
            let loc = self.inner.sites.location(&key.0).ok().flatten()?;
            let uid = EvseUid::new(key.1.as_str()).ok()?;
            loc.evse(&uid)?.connectors.first().map(|c| c.id.clone())
        });
        let Some(connector) = connector else { return };
        // Uids come from commands (TokenUid) or from `present`, which checks them.
        let Ok(event_uid) = TokenUid::new(token_uid.as_str()) else {
            return;
        };
        let (event, id) = {
            let mut all = self.lock();
            let Some(sim) = all.get_mut(&key) else { return };
            sim.starting = false;
            if sim.txn.is_some() {
                return;
            }
            sim.plugged = true;
            let reservation = sim
                .reservation
                .take_if(|(_, t)| t.eq_ignore_ascii_case(&token_uid))
                .map(|(id, _)| id);
            let id = format!(
                "T{}",
                roaming_peer::headers::new_id().replace('-', "")[..16].to_uppercase()
            );
            let now = DateTime::now();
            sim.txn = Some(Txn {
                id: id.clone(),
                connector: connector.clone(),
                token_uid: token_uid.clone(),
                ev_requests_power: true,
                last_at: now,
            });
            (
                StationEvent::SessionStarted {
                    transaction_id: id.clone(),
                    location_id: LocationId::new(key.0.as_str())
                        .unwrap_or_else(|_| unreachable!("a stored location id")),
                    evse_uid: EvseUid::new(key.1.as_str())
                        .unwrap_or_else(|_| unreachable!("a stored EVSE uid")),
                    connector_id: connector,
                    token_uid: event_uid,
                    token_type,
                    command_id,
                    station_reservation_id: reservation,
                    meter_start_wh: sim.meter_wh,
                    at: now,
                },
                id,
            )
        };
        let sink = self.inner.sink.clone();
        let this = self.clone();
        tokio::spawn(async move {
            // The start first, then the meter values (one task keeps them in order).
            if sink.event(event).await {
                this.spawn_meter(key, id);
            }
        });
    }

    fn spawn_meter(&self, key: Key, id: String) {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let interval = this
                    .lock()
                    .get(&key)
                    .map_or(1000, |s| s.settings.meter_interval_ms);
                tokio::select! {
                    () = this.inner.core.shutdown_signal() => return,
                    () = tokio::time::sleep(Duration::from_millis(interval)) => {}
                }
                let Some(event) = this.reading(&key, &id) else {
                    return;
                };
                if !this.inner.sink.event(event).await {
                    return;
                }
            }
        });
    }

    /// Advances the meter of a running transaction and returns the reading.
    fn reading(&self, key: &Key, id: &str) -> Option<StationEvent> {
        let mut all = self.lock();
        let sim = all.get_mut(key)?;
        let power = sim
            .limit_w
            .map_or(sim.power_w, |l| sim.power_w.min(l.max(Decimal::ZERO)));
        let volt_phases = sim.volt_phases;
        let t = sim.txn.as_mut().filter(|t| t.id == id)?;
        let now = DateTime::now();
        let dt_ms = Decimal::from((now.timestamp_millis() - t.last_at.timestamp_millis()).max(0));
        let p = if t.ev_requests_power { power } else { Decimal::ZERO };
        t.last_at = now;
        let charging = t.ev_requests_power;
        sim.meter_wh += (p * dt_ms / Decimal::from(3_600_000)).round_dp(3);
        let current = if volt_phases > Decimal::ZERO {
            Some((p / volt_phases).round_dp(2))
        } else {
            None
        };
        Some(StationEvent::MeterValues {
            transaction_id: id.to_owned(),
            energy_wh: sim.meter_wh,
            power_w: p,
            current_a: current,
            charging,
            at: now,
        })
    }

    /// Ends the EVSE's transaction: a last reading, then the stop; the driver unplugs.
    fn end(&self, key: &Key) -> Option<String> {
        let id = self.lock().get(key)?.txn.as_ref()?.id.clone();
        let last = self.reading(key, &id);
        let stop = {
            let mut all = self.lock();
            let sim = all.get_mut(key)?;
            sim.txn = None;
            sim.plugged = false;
            StationEvent::SessionStopped {
                transaction_id: id.clone(),
                energy_wh: sim.meter_wh,
                at: DateTime::now(),
            }
        };
        let sink = self.inner.sink.clone();
        tokio::spawn(async move {
            if let Some(l) = last {
                sink.event(l).await;
            }
            sink.event(stop).await;
        });
        Some(id)
    }

    fn fault_result(&self, key: &Key, command_id: &str) -> Option<bool> {
        let fault = self.lock().get(key).map(|s| s.settings.fault)?;
        match fault {
            Fault::None => None,
            Fault::Offline => {
                self.result(
                    command_id,
                    CommandResultType::EvseInoperative,
                    Some("the charger is offline"),
                );
                Some(true)
            }
            Fault::Busy => {
                self.result(
                    command_id,
                    CommandResultType::EvseOccupied,
                    Some("the EVSE is in use"),
                );
                Some(true)
            }
            Fault::Silent => Some(true),
        }
    }

    fn command(&self, cmd: StationCommand) -> Result<(), GatewayError> {
        match cmd {
            StationCommand::StartSession {
                command_id,
                location_id,
                evse_uid,
                connector_id,
                token_uid,
                token_type,
                station_reservation_id,
            } => {
                self.ensure(location_id.as_str(), evse_uid.as_str())
                    .map_err(|e| GatewayError(e.to_string()))?;
                let key = k(location_id.as_str(), evse_uid.as_str());
                if self.fault_result(&key, &command_id).is_some() {
                    return Ok(());
                }
                let refusal = {
                    let mut all = self.lock();
                    let sim = all
                        .get_mut(&key)
                        .ok_or_else(|| GatewayError("EVSE vanished".to_owned()))?;
                    if sim.txn.is_some() || sim.starting {
                        Some((CommandResultType::EvseOccupied, "the EVSE is in use"))
                    } else if sim
                        .reservation
                        .as_ref()
                        .is_some_and(|(id, _)| Some(*id) != station_reservation_id)
                    {
                        Some((
                            CommandResultType::Rejected,
                            "the EVSE is reserved for another driver",
                        ))
                    } else {
                        sim.starting = true;
                        None
                    }
                };
                match refusal {
                    Some((r, m)) => self.result(&command_id, r, Some(m)),
                    None => {
                        self.result(&command_id, CommandResultType::Accepted, None);
                        self.begin_after_plug_in(key, connector_id, token_uid, token_type, Some(command_id));
                    }
                }
            }
            StationCommand::StopSession {
                command_id,
                location_id,
                evse_uid,
                transaction_id,
            } => {
                self.ensure(location_id.as_str(), evse_uid.as_str())
                    .map_err(|e| GatewayError(e.to_string()))?;
                let key = k(location_id.as_str(), evse_uid.as_str());
                if self.fault_result(&key, &command_id).is_some() {
                    return Ok(());
                }
                let running = self
                    .lock()
                    .get(&key)
                    .and_then(|s| s.txn.as_ref())
                    .is_some_and(|t| t.id == transaction_id);
                if running {
                    self.result(&command_id, CommandResultType::Accepted, None);
                    self.end(&key);
                } else {
                    self.result(
                        &command_id,
                        CommandResultType::Rejected,
                        Some("no such transaction on this EVSE"),
                    );
                }
            }
            StationCommand::ReserveNow {
                command_id,
                location_id,
                evse_uid,
                station_reservation_id,
                token_uid,
                ..
            } => {
                let Some(evse_uid) = evse_uid else {
                    self.result(
                        &command_id,
                        CommandResultType::NotSupported,
                        Some("an EVSE is needed"),
                    );
                    return Ok(());
                };
                self.ensure(location_id.as_str(), evse_uid.as_str())
                    .map_err(|e| GatewayError(e.to_string()))?;
                let key = k(location_id.as_str(), evse_uid.as_str());
                if self.fault_result(&key, &command_id).is_some() {
                    return Ok(());
                }
                let outcome = {
                    let mut all = self.lock();
                    let sim = all
                        .get_mut(&key)
                        .ok_or_else(|| GatewayError("EVSE vanished".to_owned()))?;
                    let held_by_other = sim
                        .reservation
                        .as_ref()
                        .is_some_and(|(id, _)| *id != station_reservation_id);
                    if sim.txn.is_some() || sim.starting || sim.plugged || held_by_other {
                        CommandResultType::EvseOccupied
                    } else {
                        sim.reservation = Some((station_reservation_id, token_uid));
                        CommandResultType::Accepted
                    }
                };
                self.result(&command_id, outcome, None);
            }
            StationCommand::CancelReservation {
                command_id,
                location_id,
                evse_uid,
                station_reservation_id,
            } => {
                if let Some(e) = &evse_uid {
                    let _ = self.ensure(location_id.as_str(), e.as_str());
                    let key = k(location_id.as_str(), e.as_str());
                    if self.fault_result(&key, &command_id).is_some() {
                        return Ok(());
                    }
                }
                let found = {
                    let mut all = self.lock();
                    all.values_mut()
                        .find(|s| {
                            s.reservation
                                .as_ref()
                                .is_some_and(|(id, _)| *id == station_reservation_id)
                        })
                        .map(|s| s.reservation = None)
                        .is_some()
                };
                self.result(
                    &command_id,
                    if found {
                        CommandResultType::Accepted
                    } else {
                        CommandResultType::UnknownReservation
                    },
                    None,
                );
            }
            StationCommand::SetPowerLimit {
                location_id,
                evse_uid,
                limit_w,
                ..
            } => {
                let key = k(location_id.as_str(), evse_uid.as_str());
                self.ensure(location_id.as_str(), evse_uid.as_str())
                    .map_err(|e| GatewayError(e.to_string()))?;
                // Account the energy so far at the old power, then apply the cap.
                let running = self
                    .lock()
                    .get(&key)
                    .and_then(|s| s.txn.as_ref().map(|t| t.id.clone()));
                let before = running.and_then(|id| self.reading(&key, &id));
                if let Some(sim) = self.lock().get_mut(&key) {
                    sim.limit_w = limit_w;
                }
                if let Some(e) = before {
                    let sink = self.inner.sink.clone();
                    tokio::spawn(async move {
                        sink.event(e).await;
                    });
                }
            }
            StationCommand::UnlockConnector {
                command_id,
                location_id,
                evse_uid,
                ..
            } => {
                self.ensure(location_id.as_str(), evse_uid.as_str())
                    .map_err(|e| GatewayError(e.to_string()))?;
                let key = k(location_id.as_str(), evse_uid.as_str());
                if self.fault_result(&key, &command_id).is_some() {
                    return Ok(());
                }
                self.result(&command_id, CommandResultType::Accepted, None);
                // Unlocking the cable ends a running charge.
                self.end(&key);
            }
        }
        Ok(())
    }

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
        self.begin_after_plug_in(key, None, token_uid.to_owned(), token_type, None);
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
        if let Some(StationEvent::MeterValues { at, .. }) = &mut after {
            // Strictly after the previous reading.
            *at = at.plus(chrono::Duration::milliseconds(1));
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

fn view(location: &str, evse: &str, s: &EvseSim) -> EvseView {
    EvseView {
        location_id: location.to_owned(),
        evse_uid: evse.to_owned(),
        settings: s.settings.clone(),
        plugged: s.plugged,
        transaction_id: s.txn.as_ref().map(|t| t.id.clone()),
        connector_id: s.txn.as_ref().map(|t| t.connector.as_str().to_owned()),
        charging: s.txn.as_ref().is_some_and(|t| t.ev_requests_power),
        reservation: s.reservation.as_ref().map(|(id, _)| *id),
        meter_wh: s.meter_wh,
        limit_w: s.limit_w,
    }
}

impl StationGateway for Simulator {
    fn send(&self, command: StationCommand) -> BoxFuture<'_, Result<(), GatewayError>> {
        Box::pin(async move { self.command(command) })
    }

    fn name(&self) -> &'static str {
        "simulator"
    }
}
