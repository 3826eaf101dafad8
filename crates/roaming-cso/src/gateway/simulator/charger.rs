//! A simulated charger's transaction: it begins once the cable is in, reports meter values while it
//! runs, and ends with a last reading and the stop.

use std::time::Duration;

use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid, LocationId, TokenUid};
use roaming_types::modules::tokens::TokenType;
use rust_decimal::Decimal;

use super::{Key, Simulator, Txn};
use crate::gateway::{MeterReading, SessionStart, SessionStop, StationEvent};
use crate::sites::Sites;

/// A start the charger makes once the cable is in: from a START_SESSION, or a token presented.
#[derive(Debug, Clone)]
pub(super) struct Start {
    /// The connector, when the command named one (else the EVSE's first).
    pub(super) connector: Option<ConnectorId>,
    /// The token's uid.
    pub(super) token_uid: String,
    /// Its type.
    pub(super) token_type: TokenType,
    /// The START_SESSION, if one asked for it.
    pub(super) command_id: Option<String>,
}

impl Simulator {
    /// Starts a transaction once the cable is in (waits up to the plug-in delay).
    pub(super) fn begin_after_plug_in(&self, key: Key, start: Start) {
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
            this.begin(key, start);
        });
    }

    fn begin(&self, key: Key, start: Start) {
        let Start {
            connector,
            token_uid,
            token_type,
            command_id,
        } = start;
        let connector = connector.or_else(|| {
            let loc = Sites::location(self.inner.sites.store(), &key.0).ok().flatten()?;
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
                StationEvent::SessionStarted(SessionStart {
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
                }),
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

    /// Reports meter values of transaction `id` every meter interval while it runs.
    pub(super) fn spawn_meter(&self, key: Key, id: String) {
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
    pub(super) fn reading(&self, key: &Key, id: &str) -> Option<StationEvent> {
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
        Some(StationEvent::MeterValues(MeterReading {
            transaction_id: id.to_owned(),
            energy_wh: sim.meter_wh,
            power_w: p,
            current_a: current,
            charging,
            at: now,
        }))
    }

    /// Ends the EVSE's transaction: a last reading, then the stop; the driver unplugs.
    pub(super) fn end(&self, key: &Key) -> Option<String> {
        let id = self.lock().get(key)?.txn.as_ref()?.id.clone();
        let last = self.reading(key, &id);
        let stop = {
            let mut all = self.lock();
            let sim = all.get_mut(key)?;
            sim.txn = None;
            sim.plugged = false;
            StationEvent::SessionStopped(SessionStop {
                transaction_id: id.clone(),
                energy_wh: sim.meter_wh,
                at: DateTime::now(),
            })
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
}
