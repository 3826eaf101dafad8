//! The commands a simulated charger plays. [`Simulator::command`] does what every command shares
//! once ([`Simulator::reach`]: the simulated EVSE, and the fault it plays), then the command's own
//! method answers it with a [`crate::gateway::StationEvent::CommandResult`].

use roaming_types::ids::{EvseUid, LocationId};
use roaming_types::modules::commands::CommandResultType;
use rust_decimal::Decimal;

use super::charger::Start;
use super::{Fault, Key, Simulator, k};
use crate::gateway::{GatewayError, StationCommand};

impl Simulator {
    /// Plays a command at its EVSE.
    pub(super) fn command(&self, cmd: StationCommand) -> Result<(), GatewayError> {
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
                let Some(key) = self.reach(&location_id, &evse_uid, &command_id)? else {
                    return Ok(());
                };
                let start = Start {
                    connector: connector_id,
                    token_uid,
                    token_type,
                    command_id: Some(command_id.clone()),
                };
                self.start_session(key, &command_id, start, station_reservation_id)
            }
            StationCommand::StopSession {
                command_id,
                location_id,
                evse_uid,
                transaction_id,
            } => {
                if let Some(key) = self.reach(&location_id, &evse_uid, &command_id)? {
                    self.stop_session(&key, &command_id, &transaction_id);
                }
                Ok(())
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
                match self.reach(&location_id, &evse_uid, &command_id)? {
                    Some(key) => self.reserve_now(&key, &command_id, station_reservation_id, token_uid),
                    None => Ok(()),
                }
            }
            StationCommand::CancelReservation {
                command_id,
                location_id,
                evse_uid,
                station_reservation_id,
            } => {
                // The reservation is looked for on every EVSE: one the sites no longer have only plays
                // no fault.
                if let Some(e) = &evse_uid {
                    if let Ok(None) = self.reach(&location_id, e, &command_id) {
                        return Ok(());
                    }
                }
                self.cancel_reservation(&command_id, station_reservation_id);
                Ok(())
            }
            StationCommand::SetPowerLimit {
                location_id,
                evse_uid,
                limit_w,
                ..
            } => {
                // No result follows, so no fault is played.
                let key = self.simulated(&location_id, &evse_uid)?;
                self.set_power_limit(&key, limit_w);
                Ok(())
            }
            StationCommand::UnlockConnector {
                command_id,
                location_id,
                evse_uid,
                ..
            } => {
                if let Some(key) = self.reach(&location_id, &evse_uid, &command_id)? {
                    self.unlock_connector(&key, &command_id);
                }
                Ok(())
            }
        }
    }

    /// The simulated EVSE (created from the site data on first use).
    fn simulated(&self, location: &LocationId, evse: &EvseUid) -> Result<Key, GatewayError> {
        self.ensure(location.as_str(), evse.as_str())
            .map_err(|e| GatewayError(e.to_string()))?;
        Ok(k(location.as_str(), evse.as_str()))
    }

    /// The simulated EVSE of command `command_id`, unless the fault it plays took the command
    /// (answered it, or, silent, swallowed it): then `None`.
    fn reach(
        &self,
        location: &LocationId,
        evse: &EvseUid,
        command_id: &str,
    ) -> Result<Option<Key>, GatewayError> {
        let key = self.simulated(location, evse)?;
        let fault = self.lock().get(&key).map(|s| s.settings.fault);
        match fault {
            None | Some(Fault::None) => return Ok(Some(key)),
            Some(Fault::Offline) => self.result(
                command_id,
                CommandResultType::EvseInoperative,
                Some("the charger is offline"),
            ),
            Some(Fault::Busy) => self.result(
                command_id,
                CommandResultType::EvseOccupied,
                Some("the EVSE is in use"),
            ),
            Some(Fault::Silent) => {}
        }
        Ok(None)
    }

    /// START_SESSION: accepted on a free EVSE (or one reserved for it); charging begins once the
    /// cable is in.
    fn start_session(
        &self,
        key: Key,
        command_id: &str,
        start: Start,
        station_reservation_id: Option<u64>,
    ) -> Result<(), GatewayError> {
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
            Some((r, m)) => self.result(command_id, r, Some(m)),
            None => {
                self.result(command_id, CommandResultType::Accepted, None);
                self.begin_after_plug_in(key, start);
            }
        }
        Ok(())
    }

    /// STOP_SESSION: ends the EVSE's transaction when it is the one named.
    fn stop_session(&self, key: &Key, command_id: &str, transaction_id: &str) {
        let running = self
            .lock()
            .get(key)
            .and_then(|s| s.txn.as_ref())
            .is_some_and(|t| t.id == transaction_id);
        if running {
            self.result(command_id, CommandResultType::Accepted, None);
            self.end(key);
        } else {
            self.result(
                command_id,
                CommandResultType::Rejected,
                Some("no such transaction on this EVSE"),
            );
        }
    }

    /// RESERVE_NOW: holds an idle EVSE for the token (again for the same reservation number).
    fn reserve_now(
        &self,
        key: &Key,
        command_id: &str,
        station_reservation_id: u64,
        token_uid: String,
    ) -> Result<(), GatewayError> {
        let outcome = {
            let mut all = self.lock();
            let sim = all
                .get_mut(key)
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
        self.result(command_id, outcome, None);
        Ok(())
    }

    /// CANCEL_RESERVATION: frees the EVSE holding the reservation, wherever it is.
    fn cancel_reservation(&self, command_id: &str, station_reservation_id: u64) {
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
            command_id,
            if found {
                CommandResultType::Accepted
            } else {
                CommandResultType::UnknownReservation
            },
            None,
        );
    }

    /// SET_POWER_LIMIT: the energy so far is accounted at the old power, then the cap applies.
    fn set_power_limit(&self, key: &Key, limit_w: Option<Decimal>) {
        let running = self
            .lock()
            .get(key)
            .and_then(|s| s.txn.as_ref().map(|t| t.id.clone()));
        let before = running.and_then(|id| self.reading(key, &id));
        if let Some(sim) = self.lock().get_mut(key) {
            sim.limit_w = limit_w;
        }
        if let Some(e) = before {
            self.emit(e);
        }
    }

    /// UNLOCK_CONNECTOR: accepted; unlocking the cable ends a running charge.
    fn unlock_connector(&self, key: &Key, command_id: &str) {
        self.result(command_id, CommandResultType::Accepted, None);
        self.end(key);
    }
}
