//! Commands from CSPs (UC3-2, UC3-4, UC3-8; checklist §11): the immediate CommandResponse, the
//! command handed to the chargers through the station gateway, and the CommandResult POSTed to the
//! CSP's `response_url` once the charger answered, or TIMEOUT when it did not within the `timeout`
//! the response announced (CMD-01).
//!
//! Every accepted command is stored (with its result and how its delivery went) before it is answered,
//! and the deadline is kept in the store, so that a restart still ends each command with a result.
//! Checks before a command is accepted: the location exists and is published (else 2003 + REJECTED,
//! CMD-02); the EVSE and connector exist (REJECTED) and have the capability the command needs
//! (REMOTE_START_STOP_CAPABLE, RESERVABLE, UNLOCK_CAPABLE; else NOT_SUPPORTED); `connector_id` comes
//! with `evse_uid` (CMD-09, 2001) and is given when the EVSE has START_SESSION_CONNECTOR_REQUIRED; the
//! token belongs to the calling CSP (CMD-04, REJECTED); a STOP names a session of the caller
//! (UNKNOWN_SESSION / REJECTED, CMD-02); an UNLOCK_CONNECTOR names a connector where the caller's
//! session is running or was the last one (CMD-08, REJECTED: another CSP's unlock would end its
//! driver's charge). Tokens in START_SESSION and RESERVE_NOW are not re-authorized (CMD-03).

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use roaming_peer::client::Call;
use roaming_peer::core::Core;
use roaming_peer::store::{Space, StoreError};
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, PartyRef};
use roaming_types::modules::cdrs::AuthMethod;
use roaming_types::modules::commands::{
    CancelReservation, CommandResponse, CommandResponseType, CommandResult, CommandResultType, CommandType,
    ReserveNow, StartSession, StopSession, UnlockConnector,
};
use roaming_types::modules::locations::{Capability, Evse, Location, Status};
use roaming_types::modules::sessions::SessionStatus;
use roaming_types::modules::types::DisplayText;
use roaming_types::{StatusCode, TypeError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CsoError;
use crate::gateway::{StationCommand, StationGateway};
use crate::reservations::{self, Reservation, ReservationState, reservation_key};
use crate::sessions::{Sessions, StartAuth};
use crate::sites::is_public;

/// Commands by id.
pub const COMMANDS: Space = Space("cso_commands");
/// Commands waiting for their result: id → deadline (ms since the epoch).
pub const OPEN: Space = Space("cso_commands_open");

/// How the CommandResult reached the CSP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Whether the CSP acknowledged it.
    pub delivered: bool,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A command as the CSO keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Our id (also given to the charger).
    pub id: String,
    /// The command.
    pub command: CommandType,
    /// The peer that sent it (`None` for the CSO's own commands, e.g. an expired reservation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The CSP party it acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emsp: Option<PartyRef>,
    /// Where the CommandResult goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_url: Option<String>,
    /// When it arrived.
    pub received_at: DateTime,
    /// When it times out.
    pub deadline: DateTime,
    /// The request as received.
    pub request: Value,
    /// What was sent to the charger (nothing when the CSO could answer alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<StationCommand>,
    /// The outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CommandResult>,
    /// When the outcome was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_at: Option<DateTime>,
    /// How the outcome reached the CSP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// The reservation it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
}

/// Who sent a command.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The peer id.
    pub peer: String,
    /// Its CSP parties (routed party only, when it sent routing headers).
    pub parties: Vec<PartyRef>,
}

/// The immediate answer: the OCPI status code of the envelope (1000, or 2003 for an unknown location,
/// CMD-02) and the CommandResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The envelope's status code.
    pub status: StatusCode,
    /// The response.
    pub response: CommandResponse,
}

fn message(text: &str) -> Vec<DisplayText> {
    DisplayText::new("en", &text.chars().take(512).collect::<String>())
        .map(|d| vec![d])
        .unwrap_or_default()
}

fn invalid(e: TypeError) -> CsoError {
    CsoError::Invalid(e.to_string())
}

/// The CSO's command handling.
#[derive(Debug, Clone)]
pub struct Commands {
    core: Arc<Core>,
    sessions: Sessions,
    gateway: Arc<dyn StationGateway>,
    timeout: Duration,
}

impl Commands {
    /// Commands with the result timeout from `cso.commands.timeout_secs` (default 30).
    pub fn new(
        core: Arc<Core>,
        sessions: Sessions,
        gateway: Arc<dyn StationGateway>,
    ) -> Result<Self, roaming_peer::config::ConfigError> {
        let timeout = core
            .config
            .role_secs("cso.commands.timeout_secs", Duration::from_secs(30))?;
        Ok(Self {
            core,
            sessions,
            gateway,
            timeout: timeout.max(Duration::from_secs(1)),
        })
    }

    /// The gateway.
    pub fn gateway(&self) -> &Arc<dyn StationGateway> {
        &self.gateway
    }

    fn timeout_secs(&self) -> u32 {
        u32::try_from(self.timeout.as_secs()).unwrap_or(u32::MAX)
    }

    fn answer(&self, result: CommandResponseType, text: Option<&str>) -> Answer {
        let mut response = CommandResponse::new(result, self.timeout_secs());
        if let Some(t) = text {
            response.message = message(t);
        }
        Answer {
            status: StatusCode::Success,
            response,
        }
    }

    fn unknown_location(&self, id: &str) -> Answer {
        let mut a = self.answer(
            CommandResponseType::Rejected,
            Some(&format!("unknown location {id}")),
        );
        a.status = StatusCode::UnknownLocation;
        a
    }

    /// A command record by id.
    pub fn get(&self, id: &str) -> Result<Option<CommandRecord>, CsoError> {
        Ok(self.core.store.get_json(COMMANDS, id.as_bytes())?)
    }

    /// Every command, newest last.
    pub fn list(&self) -> Result<Vec<CommandRecord>, CsoError> {
        let mut all: Vec<CommandRecord> = self.core.store.list_json(COMMANDS, &[])?;
        all.sort_by_key(|c| c.received_at);
        Ok(all)
    }

    fn public_location(&self, id: &str) -> Result<Option<Location>, CsoError> {
        Ok(self.sessions.sites().location(id)?.filter(is_public))
    }

    /// Stores a new command (durably), hands it to the gateway, and answers ACCEPTED; a gateway that
    /// cannot take it makes the answer REJECTED (and no result follows, CMD-01).
    #[expect(
        clippy::too_many_arguments,
        reason = "one private call site per command kind; a struct would only rename the arguments"
    )]
    async fn dispatch(
        &self,
        caller: Option<&Caller>,
        emsp: Option<PartyRef>,
        command: CommandType,
        response_url: Option<String>,
        request: Value,
        station: StationCommand,
        reservation: Option<Reservation>,
    ) -> Result<Answer, CsoError> {
        let now = DateTime::now();
        let record = CommandRecord {
            id: station.command_id().to_owned(),
            command,
            peer: caller.map(|c| c.peer.clone()),
            emsp,
            response_url,
            received_at: now,
            deadline: now
                .plus(chrono::Duration::from_std(self.timeout).unwrap_or(chrono::Duration::seconds(30))),
            request,
            station: Some(station.clone()),
            result: None,
            result_at: None,
            delivery: None,
            reservation: reservation.as_ref().map(|r| r.key.clone()),
        };
        self.core.store.transact(|tx| {
            tx.put_json(COMMANDS, record.id.as_bytes().to_vec(), &record)?;
            tx.put_json(
                OPEN,
                record.id.as_bytes().to_vec(),
                &record.deadline.timestamp_millis(),
            )?;
            if let Some(r) = &reservation {
                reservations::put(tx, r)?;
            }
            Ok::<_, StoreError>(())
        })?;
        self.core.store.durable().await?;
        if let Err(e) = self.gateway.send(station).await {
            tracing::warn!(command.id = %record.id, error = %e, "the station gateway refused a command");
            self.core.store.transact(|tx| {
                tx.delete(OPEN, record.id.as_bytes().to_vec());
                if let Some(mut r) = reservation {
                    if r.state == ReservationState::Requested {
                        r.state = ReservationState::Refused;
                        reservations::put(tx, &r)?;
                    }
                }
                Ok::<_, StoreError>(())
            })?;
            return Ok(self.answer(
                CommandResponseType::Rejected,
                Some(&format!("the charger cannot be reached: {e}")),
            ));
        }
        tracing::info!(command.id = %record.id, command = %record.command, "command accepted");
        Ok(self.answer(CommandResponseType::Accepted, None))
    }

    fn owns_token(caller: &Caller, party: &PartyRef) -> bool {
        caller.parties.contains(party)
    }

    /// START_SESSION (UC3-2).
    pub async fn start_session(&self, caller: &Caller, req: StartSession) -> Result<Answer, CsoError> {
        req.validate().map_err(invalid)?;
        if !Self::owns_token(caller, &req.token.party()) {
            return Ok(self.answer(
                CommandResponseType::Rejected,
                Some("the token is not one of yours (CMD-04)"),
            ));
        }
        let Some(loc) = self.public_location(req.location_id.as_str())? else {
            return Ok(self.unknown_location(req.location_id.as_str()));
        };
        let evse = match &req.evse_uid {
            Some(uid) => match loc.evse(uid) {
                Some(e) => e.clone(),
                None => {
                    return Ok(self.answer(
                        CommandResponseType::Rejected,
                        Some(&format!("unknown EVSE {uid}")),
                    ));
                }
            },
            // CMD-09: the CSO picks an EVSE that can start remotely, a free one first.
            None => match pick(&loc, &Capability::RemoteStartStopCapable) {
                Some(e) => e.clone(),
                None => {
                    return Ok(self.answer(
                        CommandResponseType::NotSupported,
                        Some("no EVSE here can be started remotely"),
                    ));
                }
            },
        };
        if !evse.has(&Capability::RemoteStartStopCapable) {
            return Ok(self.answer(
                CommandResponseType::NotSupported,
                Some("this EVSE cannot be started remotely"),
            ));
        }
        let connector = match (&req.connector_id, evse.connectors.as_slice()) {
            (Some(c), _) if evse.connector(c).is_none() => {
                return Ok(self.answer(
                    CommandResponseType::Rejected,
                    Some(&format!("unknown connector {c}")),
                ));
            }
            (Some(c), _) => Some(c.clone()),
            (None, _) if evse.has(&Capability::StartSessionConnectorRequired) => {
                return Ok(self.answer(
                    CommandResponseType::Rejected,
                    Some("this EVSE needs connector_id (CMD-09)"),
                ));
            }
            (None, _) => None,
        };
        // A reservation of this token on this EVSE is used by the start.
        let station_reservation_id = reservations::on_evse(&self.core.store, &loc.id, &evse.uid)?
            .filter(|r| {
                Self::owns_token(caller, &r.emsp)
                    && r.token.uid == req.token.uid
                    && r.token.token_type == req.token.token_type
            })
            .map(|r| r.station_reservation_id);
        let id = roaming_peer::headers::new_id();
        let station = StationCommand::StartSession {
            command_id: id,
            location_id: loc.id.clone(),
            evse_uid: evse.uid.clone(),
            connector_id: connector,
            token_uid: req.token.uid.as_str().to_owned(),
            token_type: req.token.token_type.clone(),
            station_reservation_id,
        };
        let request = serde_json::to_value(&req).map_err(CsoError::internal)?;
        self.dispatch(
            Some(caller),
            Some(req.token.party()),
            CommandType::StartSession,
            Some(req.response_url.as_str().to_owned()),
            request,
            station,
            None,
        )
        .await
    }

    /// STOP_SESSION (UC3-4).
    pub async fn stop_session(&self, caller: &Caller, req: StopSession) -> Result<Answer, CsoError> {
        let Some(s) = self.sessions.get(req.session_id.as_str())? else {
            return Ok(self.answer(
                CommandResponseType::UnknownSession,
                Some(&format!("unknown session {}", req.session_id)),
            ));
        };
        if !Self::owns_token(caller, &s.emsp()) {
            // UC3-4: another CSP's session is unknown to the caller (and its existence not revealed).
            return Ok(self.answer(
                CommandResponseType::UnknownSession,
                Some(&format!("unknown session {}", req.session_id)),
            ));
        }
        let rt = self.sessions.runtime(s.id.as_str())?.unwrap_or_default();
        let transaction_id = match (&s.status, rt.transaction_id) {
            (SessionStatus::Pending | SessionStatus::Active, Some(t)) => t,
            (SessionStatus::Reservation, _) => {
                return Ok(self.answer(
                    CommandResponseType::Rejected,
                    Some("this is a reservation: use CANCEL_RESERVATION"),
                ));
            }
            (status, _) => {
                return Ok(self.answer(
                    CommandResponseType::Rejected,
                    Some(&format!("the session is {status}")),
                ));
            }
        };
        let capable = self
            .sessions
            .sites()
            .location(s.location_id.as_str())?
            .and_then(|l| {
                l.evse(&s.evse_uid)
                    .map(|e| e.has(&Capability::RemoteStartStopCapable))
            })
            .unwrap_or(false);
        if !capable {
            return Ok(self.answer(
                CommandResponseType::NotSupported,
                Some("this EVSE cannot be stopped remotely"),
            ));
        }
        let station = StationCommand::StopSession {
            command_id: roaming_peer::headers::new_id(),
            location_id: s.location_id.clone(),
            evse_uid: s.evse_uid.clone(),
            transaction_id,
        };
        let request = serde_json::to_value(&req).map_err(CsoError::internal)?;
        self.dispatch(
            Some(caller),
            Some(s.emsp()),
            CommandType::StopSession,
            Some(req.response_url.as_str().to_owned()),
            request,
            station,
            None,
        )
        .await
    }

    /// RESERVE_NOW (UC3-8). A new one with the same `reservation_id` replaces the reservation (CMD-05).
    pub async fn reserve_now(&self, caller: &Caller, req: ReserveNow) -> Result<Answer, CsoError> {
        let emsp = req.token.party();
        if !Self::owns_token(caller, &emsp) {
            return Ok(self.answer(
                CommandResponseType::Rejected,
                Some("the token is not one of yours (CMD-04)"),
            ));
        }
        let now = DateTime::now();
        if req.expiry_date <= now {
            return Ok(self.answer(CommandResponseType::Rejected, Some("expiry_date is in the past")));
        }
        let Some(loc) = self.public_location(req.location_id.as_str())? else {
            return Ok(self.unknown_location(req.location_id.as_str()));
        };
        let key = reservation_key(&emsp, req.reservation_id.as_str());
        let existing = self
            .core
            .store
            .transact(|tx| reservations::get(tx, &key))?
            .filter(|r| r.state.is_open());
        let evse = match (&req.evse_uid, &existing) {
            (Some(uid), _) => match loc.evse(uid) {
                Some(e) => e.clone(),
                None => {
                    return Ok(self.answer(
                        CommandResponseType::Rejected,
                        Some(&format!("unknown EVSE {uid}")),
                    ));
                }
            },
            // A replacement without an EVSE keeps the reserved one.
            (None, Some(r)) if r.location_id == loc.id => match loc.evse(&r.evse_uid) {
                Some(e) => e.clone(),
                None => {
                    return Ok(self.answer(CommandResponseType::Rejected, Some("the reserved EVSE is gone")));
                }
            },
            // A reservation for the location: the CSO reserves one of its EVSEs, a free one first.
            (None, _) => match pick(&loc, &Capability::Reservable) {
                Some(e) => e.clone(),
                None => {
                    return Ok(self.answer(
                        CommandResponseType::NotSupported,
                        Some("no EVSE here can be reserved"),
                    ));
                }
            },
        };
        if !evse.has(&Capability::Reservable) {
            return Ok(self.answer(
                CommandResponseType::NotSupported,
                Some("this EVSE cannot be reserved"),
            ));
        }
        let command_id = roaming_peer::headers::new_id();
        let reservation = self.core.store.transact(|tx| {
            let station_reservation_id = match &existing {
                Some(r) => r.station_reservation_id,
                None => reservations::next_station_id(tx)?,
            };
            Ok::<_, StoreError>(Reservation {
                key: key.clone(),
                emsp: emsp.clone(),
                peer: caller.peer.clone(),
                reservation_id: req.reservation_id.as_str().to_owned(),
                station_reservation_id,
                location_id: loc.id.clone(),
                evse_uid: evse.uid.clone(),
                token: req.token.clone(),
                expiry_date: req.expiry_date,
                booked_at: existing.as_ref().map_or(now, |r| r.booked_at),
                session_id: existing.as_ref().and_then(|r| r.session_id.clone()),
                response_url: req.response_url.as_str().to_owned(),
                authorization_reference: req.authorization_reference.clone(),
                state: existing.as_ref().map_or(ReservationState::Requested, |r| r.state),
                command_id: command_id.clone(),
            })
        })?;
        let station = StationCommand::ReserveNow {
            command_id,
            location_id: loc.id.clone(),
            evse_uid: Some(evse.uid.clone()),
            station_reservation_id: reservation.station_reservation_id,
            token_uid: req.token.uid.as_str().to_owned(),
            token_type: req.token.token_type.clone(),
            expiry_date: req.expiry_date,
        };
        let request = serde_json::to_value(&req).map_err(CsoError::internal)?;
        self.dispatch(
            Some(caller),
            Some(emsp),
            CommandType::ReserveNow,
            Some(req.response_url.as_str().to_owned()),
            request,
            station,
            Some(reservation),
        )
        .await
    }

    /// CANCEL_RESERVATION (UC3-8). Only the caller's own reservations are visible (CMD-05): any other
    /// id gets UNKNOWN_RESERVATION.
    pub async fn cancel_reservation(
        &self,
        caller: &Caller,
        req: CancelReservation,
    ) -> Result<Answer, CsoError> {
        let found = self.core.store.transact(|tx| {
            for p in &caller.parties {
                if let Some(r) = reservations::get(tx, &reservation_key(p, req.reservation_id.as_str()))? {
                    if r.state.is_open() {
                        return Ok(Some(r));
                    }
                }
            }
            Ok::<_, StoreError>(None)
        })?;
        let request = serde_json::to_value(&req).map_err(CsoError::internal)?;
        let command_id = roaming_peer::headers::new_id();
        let Some(r) = found else {
            // Accepted, and the result says at once that there is no such reservation.
            let record = CommandRecord {
                id: command_id.clone(),
                command: CommandType::CancelReservation,
                peer: Some(caller.peer.clone()),
                emsp: caller.parties.first().cloned(),
                response_url: Some(req.response_url.as_str().to_owned()),
                received_at: DateTime::now(),
                deadline: DateTime::now(),
                request,
                station: None,
                result: None,
                result_at: None,
                delivery: None,
                reservation: None,
            };
            self.core.store.transact(|tx| {
                tx.put_json(COMMANDS, record.id.as_bytes().to_vec(), &record)
                    .map(|_| ())
            })?;
            self.core.store.durable().await?;
            let this = self.clone();
            tokio::spawn(async move {
                if let Err(e) = this
                    .complete(
                        &command_id,
                        CommandResultType::UnknownReservation,
                        Some("no such reservation of yours".to_owned()),
                    )
                    .await
                {
                    roaming_peer::throttled!(warn, "cso: could not complete a command", error = %e, "could not complete a command");
                }
            });
            return Ok(self.answer(CommandResponseType::Accepted, None));
        };
        let station = StationCommand::CancelReservation {
            command_id,
            location_id: r.location_id.clone(),
            evse_uid: Some(r.evse_uid.clone()),
            station_reservation_id: r.station_reservation_id,
        };
        self.dispatch(
            Some(caller),
            Some(r.emsp.clone()),
            CommandType::CancelReservation,
            Some(req.response_url.as_str().to_owned()),
            request,
            station,
            Some(r),
        )
        .await
    }

    /// UNLOCK_CONNECTOR (helpdesk use, CMD-08).
    pub async fn unlock_connector(&self, caller: &Caller, req: UnlockConnector) -> Result<Answer, CsoError> {
        let Some(loc) = self.public_location(req.location_id.as_str())? else {
            return Ok(self.unknown_location(req.location_id.as_str()));
        };
        let Some(evse) = loc.evse(&req.evse_uid) else {
            return Ok(self.answer(
                CommandResponseType::Rejected,
                Some(&format!("unknown EVSE {}", req.evse_uid)),
            ));
        };
        if evse.connector(&req.connector_id).is_none() {
            return Ok(self.answer(
                CommandResponseType::Rejected,
                Some(&format!("unknown connector {}", req.connector_id)),
            ));
        }
        if !evse.has(&Capability::UnlockCapable) {
            return Ok(self.answer(
                CommandResponseType::NotSupported,
                Some("this connector cannot be unlocked remotely"),
            ));
        }
        // CMD-08: for the helpdesk of the driver's CSP. Only the CSP whose session is on the connector
        // (running, or the last one there: a cable stuck after the charge) may unlock it; any other
        // CSP could end that driver's charge.
        let owner = self
            .sessions
            .at_evse(&loc.id, &evse.uid)?
            .filter(|s| s.connector_id == req.connector_id)
            .map(|s| s.emsp());
        if !owner.as_ref().is_some_and(|o| Self::owns_token(caller, o)) {
            return Ok(self.answer(
                CommandResponseType::Rejected,
                Some("only the CSP whose session is on this connector may unlock it"),
            ));
        }
        let station = StationCommand::UnlockConnector {
            command_id: roaming_peer::headers::new_id(),
            location_id: loc.id.clone(),
            evse_uid: req.evse_uid.clone(),
            connector_id: req.connector_id.clone(),
        };
        let request = serde_json::to_value(&req).map_err(CsoError::internal)?;
        self.dispatch(
            Some(caller),
            owner,
            CommandType::UnlockConnector,
            Some(req.response_url.as_str().to_owned()),
            request,
            station,
            None,
        )
        .await
    }

    /// The outcome of a command (from the charger, or TIMEOUT). The first outcome counts; a late one
    /// is logged and ignored. The result is POSTed to the CSP in the background.
    pub async fn complete(
        &self,
        id: &str,
        result: CommandResultType,
        text: Option<String>,
    ) -> Result<Option<CommandRecord>, CsoError> {
        let now = DateTime::now();
        let (record, woken) = self.core.store.transact(|tx| {
            let Some(mut record) = tx.get_json::<CommandRecord>(COMMANDS, id.as_bytes())? else {
                return Err(CsoError::NotFound(format!("no command {id}")));
            };
            if record.result.is_some() {
                tracing::info!(command.id = %id, result = %result, "late command result ignored");
                return Ok((None, Vec::new()));
            }
            let mut r = CommandResult::new(result.clone());
            if let Some(t) = &text {
                r.message = message(t);
            }
            record.result = Some(r);
            record.result_at = Some(now);
            tx.delete(OPEN, id.as_bytes().to_vec());
            let mut woken = Vec::new();
            if let Some(key) = &record.reservation {
                if let Some(mut res) = reservations::get(tx, key)? {
                    woken.extend(self.reservation_outcome(tx, &record.command, &result, &mut res, now)?);
                    reservations::put(tx, &res)?;
                }
            }
            tx.put_json(COMMANDS, id.as_bytes().to_vec(), &record)?;
            Ok::<_, CsoError>((Some(record), woken))
        })?;
        self.core.commit(woken).await?;
        if let Some(record) = &record {
            tracing::info!(command.id = %id, command = %record.command, result = %result, "command result");
            if record.response_url.is_some() {
                let this = self.clone();
                let record = record.clone();
                tokio::spawn(async move { this.deliver(record).await });
            }
        }
        Ok(record)
    }

    fn reservation_outcome(
        &self,
        tx: &mut roaming_peer::store::Tx<'_>,
        command: &CommandType,
        result: &CommandResultType,
        r: &mut Reservation,
        now: DateTime,
    ) -> Result<Vec<String>, CsoError> {
        let accepted = *result == CommandResultType::Accepted;
        match command {
            CommandType::ReserveNow if accepted && r.state == ReservationState::Requested => {
                let connector = self
                    .sessions
                    .sites()
                    .location_in(tx, r.location_id.as_str())?
                    .and_then(|l| {
                        l.evse(&r.evse_uid)
                            .and_then(|e| e.connectors.first().map(|c| c.id.clone()))
                    })
                    .unwrap_or_else(|| ConnectorId::new("1").unwrap_or_else(|_| unreachable!("constant")));
                let (s, woken) = self.sessions.create_reservation(
                    tx,
                    &r.location_id,
                    &r.evse_uid,
                    &connector,
                    StartAuth {
                        token: r.token.cdr_token(),
                        emsp: Some(r.emsp.clone()),
                        auth_method: AuthMethod::Command,
                        authorization_reference: r.authorization_reference.clone(),
                    },
                    &r.key,
                    now,
                )?;
                r.session_id = Some(s.id.as_str().to_owned());
                r.state = ReservationState::Active;
                Ok(woken)
            }
            CommandType::ReserveNow if !accepted && r.state == ReservationState::Requested => {
                r.state = ReservationState::Refused;
                Ok(Vec::new())
            }
            CommandType::CancelReservation if accepted && r.state.is_open() => {
                r.state = ReservationState::Cancelled;
                match &r.session_id {
                    Some(sid) => self.sessions.end_reservation(tx, sid, now, false),
                    None => Ok(Vec::new()),
                }
            }
            _ => Ok(Vec::new()),
        }
    }

    /// POSTs a command's result to its `response_url` (a few quick attempts: results are not queued,
    /// §3.12) and records how it went.
    async fn deliver(&self, record: CommandRecord) {
        let (Some(url), Some(result)) = (&record.response_url, &record.result) else {
            return;
        };
        let Some(Ok(Some(peer))) = record.peer.as_deref().map(|p| self.core.peers.get(p)) else {
            tracing::warn!(command.id = %record.id, "the CSP of a command is gone; result not sent");
            return;
        };
        let mut delivery = Delivery {
            delivered: false,
            attempts: 0,
            error: None,
        };
        for attempt in 0..3u32 {
            delivery.attempts = attempt + 1;
            match self
                .core
                .call_peer(
                    &peer,
                    Call::new(Method::POST, url).body(result),
                    record.emsp.clone(),
                    None,
                )
                .await
            {
                Ok(_) => {
                    delivery.delivered = true;
                    delivery.error = None;
                    break;
                }
                Err(e) => {
                    delivery.error = Some(e.to_string());
                    if !e.is_transient() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt + 1))).await;
                }
            }
        }
        if !delivery.delivered {
            tracing::warn!(command.id = %record.id, error = ?delivery.error, "command result not delivered");
        }
        let r = self.core.store.transact(|tx| {
            if let Some(mut rec) = tx.get_json::<CommandRecord>(COMMANDS, record.id.as_bytes())? {
                rec.delivery = Some(delivery.clone());
                tx.put_json(COMMANDS, record.id.as_bytes().to_vec(), &rec)?;
            }
            Ok::<_, StoreError>(())
        });
        if let Err(e) = r {
            roaming_peer::throttled!(error, "cso: could not record a command delivery", error = %e, "could not record a command delivery");
        }
    }

    /// Ends commands whose deadline passed with TIMEOUT, and reservations whose expiry passed.
    pub async fn sweep(&self) -> Result<(), CsoError> {
        let now = DateTime::now().timestamp_millis();
        let open = self.core.store.engine().scan(OPEN, &[], None, 10_000)?;
        for (k, v) in open {
            let deadline: i64 = serde_json::from_slice(&v).unwrap_or(0);
            if deadline <= now {
                let id = String::from_utf8_lossy(&k).into_owned();
                self.complete(
                    &id,
                    CommandResultType::Timeout,
                    Some("the charger did not answer in time".to_owned()),
                )
                .await?;
            }
        }
        let now = DateTime::now();
        for r in reservations::list(&self.core.store)? {
            if r.state == ReservationState::Active && r.expiry_date <= now {
                self.end_reservation(&r.key, ReservationState::Expired).await?;
            }
        }
        Ok(())
    }

    /// Ends an open reservation for the CSO's own reason (expiry, operator cancel): the session is
    /// COMPLETED, the EVSE freed, the charger told; an operator cancel also tells the CSP
    /// CANCELED_RESERVATION on the RESERVE_NOW's `response_url` (CMD-06).
    pub async fn end_reservation(&self, key: &str, why: ReservationState) -> Result<Reservation, CsoError> {
        let now = DateTime::now();
        let (r, woken) = self.core.store.transact(|tx| {
            let mut r = reservations::get(tx, key)?
                .ok_or_else(|| CsoError::NotFound(format!("no reservation {key}")))?;
            if !r.state.is_open() {
                return Err(CsoError::Conflict(format!(
                    "the reservation is already {:?}",
                    r.state
                )));
            }
            r.state = why;
            reservations::put(tx, &r)?;
            let woken = match &r.session_id {
                Some(sid) => self
                    .sessions
                    .end_reservation(tx, sid, now, why == ReservationState::Expired)?,
                None => Vec::new(),
            };
            Ok::<_, CsoError>((r, woken))
        })?;
        self.core.commit(woken).await?;
        tracing::info!(reservation = %r.key, state = ?r.state, "reservation ended");
        // The charger forgets it too (its answer does not matter).
        let _ = self
            .gateway
            .send(StationCommand::CancelReservation {
                command_id: roaming_peer::headers::new_id(),
                location_id: r.location_id.clone(),
                evse_uid: Some(r.evse_uid.clone()),
                station_reservation_id: r.station_reservation_id,
            })
            .await;
        if why == ReservationState::CanceledByOperator {
            if let Ok(Some(peer)) = self.core.peers.get(&r.peer) {
                let result = CommandResult::new(CommandResultType::CanceledReservation);
                if let Err(e) = self
                    .core
                    .call_peer(
                        &peer,
                        Call::new(Method::POST, &r.response_url).body(&result),
                        Some(r.emsp.clone()),
                        None,
                    )
                    .await
                {
                    tracing::warn!(reservation = %r.key, error = %e, "CANCELED_RESERVATION not delivered");
                }
            }
        }
        Ok(r)
    }

    /// Marks the reservation a charging session used.
    pub fn use_reservation(
        tx: &mut roaming_peer::store::Tx<'_>,
        r: &mut Reservation,
    ) -> Result<(), StoreError> {
        r.state = ReservationState::Used;
        reservations::put(tx, r)
    }
}

/// An EVSE with `capability`: an AVAILABLE one first, else the first that has it.
fn pick<'a>(loc: &'a Location, capability: &Capability) -> Option<&'a Evse> {
    let capable = || {
        loc.evses
            .iter()
            .filter(|e| e.has(capability) && e.status != Status::Removed)
    };
    capable()
        .find(|e| e.status == Status::Available)
        .or_else(|| capable().next())
}

/// Runs the sweeper (timeouts and expiries) until shutdown.
pub async fn run(commands: Commands, every: Duration) {
    let core = Arc::clone(&commands.core);
    core.every(every, "command sweep", || commands.sweep()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_bounded_display_texts() {
        let m = message(&"x".repeat(600));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].text.as_str().len(), 512);
    }

    #[test]
    fn evse_pick_prefers_a_free_one() {
        let loc: Location = serde_json::from_value(serde_json::json!({
            "country_code": "NL", "party_id": "CSO", "id": "L", "publish": true, "address": "a", "city": "c",
            "country": "NLD", "coordinates": {"latitude": "52.000000", "longitude": "5.000000"},
            "time_zone": "Europe/Amsterdam", "last_updated": "2026-01-01T00:00:00Z",
            "evses": [
              {"uid": "E1", "status": "CHARGING", "capabilities": ["RESERVABLE"], "last_updated": "2026-01-01T00:00:00Z", "connectors": []},
              {"uid": "E2", "status": "AVAILABLE", "capabilities": ["RESERVABLE"], "last_updated": "2026-01-01T00:00:00Z", "connectors": []},
              {"uid": "E3", "status": "AVAILABLE", "capabilities": [], "last_updated": "2026-01-01T00:00:00Z", "connectors": []}
            ]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            pick(&loc, &Capability::Reservable).map(|e| e.uid.as_str()),
            Some("E2")
        );
        assert!(pick(&loc, &Capability::UnlockCapable).is_none());
    }
}
