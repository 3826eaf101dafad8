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
//!
//! Here the EVSE state and its settings; in `commands.rs` the commands it plays (the shared setup
//! once, then one method per command), in `charger.rs` a transaction's start, meter values and end,
//! in `driver.rs` what the driver does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use roaming_peer::core::Core;
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid};
use roaming_types::modules::commands::CommandResultType;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{CommandOutcome, GatewayError, RunningTransaction, StationCommand, StationEvent, StationGateway};
use crate::authorization::Decision;
use crate::sites::Sites;
use crate::stations::EventSink;

mod charger;
mod commands;
mod driver;

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
        let loc = Sites::location(self.inner.sites.store(), location)
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
        self.emit(StationEvent::CommandResult(CommandOutcome {
            command_id: command_id.to_owned(),
            result,
            // The simulator's own short texts; one that is not a string(512) is left out.
            message: message.and_then(|m| roaming_types::Text::new(m).ok()),
        }));
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
