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
//!
//! RESERVE_NOW and CANCEL_RESERVATION are checked and dispatched here like the others; what they do to
//! a reservation is [`crate::reservations`]'.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use roaming_peer::core::Core;
use roaming_peer::client::Call;
use roaming_peer::store::StoreError;
use roaming_types::DateTime;
use roaming_types::StatusCode;
use roaming_types::ids::PartyRef;
use roaming_types::modules::commands::{
    CancelReservation, CommandResponse, CommandResponseType, CommandResult, CommandResultType, CommandType,
    ReserveNow, StartSession, StopSession, UnlockConnector,
};
use roaming_types::modules::locations::{Capability, Evse, Location, Status};
use roaming_types::modules::sessions::SessionStatus;
use roaming_types::modules::types::DisplayText;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CsoError;
use crate::gateway::{StationCommand, StationGateway};
use crate::reservations::{self, Booking, Reservation, ReservationState, Reservations};
use crate::sessions::Sessions;
use crate::sites::is_public;

pub use crate::keyspaces::{COMMANDS, OPEN};

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

/// A CSP's command as it arrived: its type, the CSP party it acts for, where its result goes, and the
/// request.
struct Received {
    command: CommandType,
    emsp: Option<PartyRef>,
    response_url: String,
    request: Value,
}

impl Received {
    fn new(
        command: CommandType,
        emsp: Option<PartyRef>,
        response_url: &str,
        request: &impl Serialize,
    ) -> Result<Self, CsoError> {
        Ok(Self {
            command,
            emsp,
            response_url: response_url.to_owned(),
            request: serde_json::to_value(request).map_err(CsoError::internal)?,
        })
    }

    /// The record of the command `id` from `caller`, received `now`, due at `deadline`.
    fn record(self, id: String, caller: &Caller, now: DateTime, deadline: DateTime) -> CommandRecord {
        CommandRecord {
            id,
            command: self.command,
            peer: Some(caller.peer.clone()),
            emsp: self.emsp,
            response_url: Some(self.response_url),
            received_at: now,
            deadline,
            request: self.request,
            station: None,
            result: None,
            result_at: None,
            delivery: None,
            reservation: None,
        }
    }
}

fn message(text: &str) -> Vec<DisplayText> {
    DisplayText::new("en", &text.chars().take(512).collect::<String>())
        .map(|d| vec![d])
        .unwrap_or_default()
}

/// The CSO's command handling.
#[derive(Debug, Clone)]
pub struct Commands {
    core: Arc<Core>,
    sessions: Sessions,
    reservations: Reservations,
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
            reservations: Reservations::new(Arc::clone(&core), sessions.clone(), Arc::clone(&gateway)),
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

    fn rejected(&self, text: &str) -> Answer {
        self.answer(CommandResponseType::Rejected, Some(text))
    }

    fn not_supported(&self, text: &str) -> Answer {
        self.answer(CommandResponseType::NotSupported, Some(text))
    }

    fn unknown_session(&self, text: &str) -> Answer {
        self.answer(CommandResponseType::UnknownSession, Some(text))
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

    /// Stores a new command (durably, with the reservation it books or cancels), hands it to the
    /// gateway, and answers ACCEPTED; a gateway that cannot take it makes the answer REJECTED (and no
    /// result follows, CMD-01).
    async fn dispatch(
        &self,
        caller: &Caller,
        received: Received,
        station: StationCommand,
        reservation: Option<Reservation>,
    ) -> Result<Answer, CsoError> {
        let now = DateTime::now();
        let deadline =
            now.plus(chrono::Duration::from_std(self.timeout).unwrap_or(chrono::Duration::seconds(30)));
        let mut record = received.record(station.command_id().to_owned(), caller, now, deadline);
        record.station = Some(station.clone());
        record.reservation = reservation.as_ref().map(|r| r.key.clone());
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
                match reservation {
                    Some(r) => reservations::not_sent(tx, r),
                    None => Ok(()),
                }
            })?;
            return Ok(self.rejected(&format!("the charger cannot be reached: {e}")));
        }
        tracing::info!(command.id = %record.id, command = %record.command, "command accepted");
        Ok(self.answer(CommandResponseType::Accepted, None))
    }

    fn owns_token(caller: &Caller, party: &PartyRef) -> bool {
        caller.parties.contains(party)
    }

    /// START_SESSION (UC3-2).
    pub async fn start_session(&self, caller: &Caller, req: StartSession) -> Result<Answer, CsoError> {
        req.validate().map_err(|e| CsoError::Invalid(e.to_string()))?;
        if !Self::owns_token(caller, &req.token.party()) {
            return Ok(self.rejected("the token is not one of yours (CMD-04)"));
        }
        let Some(loc) = self.public_location(req.location_id.as_str())? else {
            return Ok(self.unknown_location(req.location_id.as_str()));
        };
        let evse = match &req.evse_uid {
            Some(uid) => match loc.evse(uid) {
                Some(e) => e,
                None => return Ok(self.rejected(&format!("unknown EVSE {uid}"))),
            },
            // CMD-09: the CSO picks an EVSE that can start remotely, a free one first.
            None => match pick(&loc, &Capability::RemoteStartStopCapable) {
                Some(e) => e,
                None => return Ok(self.not_supported("no EVSE here can be started remotely")),
            },
        };
        if !evse.has(&Capability::RemoteStartStopCapable) {
            return Ok(self.not_supported("this EVSE cannot be started remotely"));
        }
        let connector = match &req.connector_id {
            Some(c) if evse.connector(c).is_none() => {
                return Ok(self.rejected(&format!("unknown connector {c}")));
            }
            None if evse.has(&Capability::StartSessionConnectorRequired) => {
                return Ok(self.rejected("this EVSE needs connector_id (CMD-09)"));
            }
            c => c.clone(),
        };
        // A reservation of this token on this EVSE is used by the start.
        let station_reservation_id =
            reservations::of_token(&self.core.store, &loc.id, &evse.uid, &caller.parties, &req.token)?
                .map(|r| r.station_reservation_id);
        let station = StationCommand::StartSession {
            command_id: roaming_peer::headers::new_id(),
            location_id: loc.id.clone(),
            evse_uid: evse.uid.clone(),
            connector_id: connector,
            token_uid: req.token.uid.as_str().to_owned(),
            token_type: req.token.token_type.clone(),
            station_reservation_id,
        };
        let received = Received::new(
            CommandType::StartSession,
            Some(req.token.party()),
            req.response_url.as_str(),
            &req,
        )?;
        self.dispatch(caller, received, station, None).await
    }

    /// STOP_SESSION (UC3-4).
    pub async fn stop_session(&self, caller: &Caller, req: StopSession) -> Result<Answer, CsoError> {
        // UC3-4: another CSP's session is unknown to the caller (and its existence not revealed).
        let found = self.sessions.get(req.session_id.as_str())?;
        let Some(s) = found.filter(|s| Self::owns_token(caller, &s.emsp())) else {
            return Ok(self.unknown_session(&format!("unknown session {}", req.session_id)));
        };
        let rt = self.sessions.runtime(s.id.as_str())?.unwrap_or_default();
        let transaction_id = match (&s.status, rt.transaction_id) {
            (SessionStatus::Pending | SessionStatus::Active, Some(t)) => t,
            (SessionStatus::Reservation, _) => {
                return Ok(self.rejected("this is a reservation: use CANCEL_RESERVATION"));
            }
            (status, _) => return Ok(self.rejected(&format!("the session is {status}"))),
        };
        let location = self.sessions.sites().location(s.location_id.as_str())?;
        let evse = location.as_ref().and_then(|l| l.evse(&s.evse_uid));
        if !evse.is_some_and(|e| e.has(&Capability::RemoteStartStopCapable)) {
            return Ok(self.not_supported("this EVSE cannot be stopped remotely"));
        }
        let station = StationCommand::StopSession {
            command_id: roaming_peer::headers::new_id(),
            location_id: s.location_id.clone(),
            evse_uid: s.evse_uid.clone(),
            transaction_id,
        };
        let received = Received::new(
            CommandType::StopSession,
            Some(s.emsp()),
            req.response_url.as_str(),
            &req,
        )?;
        self.dispatch(caller, received, station, None).await
    }

    /// RESERVE_NOW (UC3-8); what it books is [`Reservations::book`]'s rule (a new one with the same
    /// `reservation_id` replaces the reservation, CMD-05).
    pub async fn reserve_now(&self, caller: &Caller, req: ReserveNow) -> Result<Answer, CsoError> {
        let emsp = req.token.party();
        if !Self::owns_token(caller, &emsp) {
            return Ok(self.rejected("the token is not one of yours (CMD-04)"));
        }
        if req.expiry_date <= DateTime::now() {
            return Ok(self.rejected("expiry_date is in the past"));
        }
        let Some(loc) = self.public_location(req.location_id.as_str())? else {
            return Ok(self.unknown_location(req.location_id.as_str()));
        };
        let command_id = roaming_peer::headers::new_id();
        // A reservation for the location takes one of its EVSEs, a free one first.
        let any = pick(&loc, &Capability::Reservable);
        let reservation = match self
            .reservations
            .book(&caller.peer, &req, &loc, any, &command_id)?
        {
            Booking::Booked(r) => *r,
            Booking::Declined(result, text) => return Ok(self.answer(result, Some(&text))),
        };
        let station = reservation.reserve_command(command_id);
        let received = Received::new(
            CommandType::ReserveNow,
            Some(emsp),
            req.response_url.as_str(),
            &req,
        )?;
        self.dispatch(caller, received, station, Some(reservation)).await
    }

    /// CANCEL_RESERVATION (UC3-8). Only the caller's own reservations are visible (CMD-05): any other
    /// id gets UNKNOWN_RESERVATION.
    pub async fn cancel_reservation(
        &self,
        caller: &Caller,
        req: CancelReservation,
    ) -> Result<Answer, CsoError> {
        let found = reservations::open_of(&self.core.store, &caller.parties, req.reservation_id.as_str())?;
        let command_id = roaming_peer::headers::new_id();
        let emsp = match &found {
            Some(r) => Some(r.emsp.clone()),
            None => caller.parties.first().cloned(),
        };
        let received = Received::new(
            CommandType::CancelReservation,
            emsp,
            req.response_url.as_str(),
            &req,
        )?;
        let Some(r) = found else {
            // Accepted, and the result says at once that there is no such reservation.
            let now = DateTime::now();
            let record = received.record(command_id.clone(), caller, now, now);
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
        let station = r.cancel_command(command_id);
        self.dispatch(caller, received, station, Some(r)).await
    }

    /// UNLOCK_CONNECTOR (helpdesk use, CMD-08).
    pub async fn unlock_connector(&self, caller: &Caller, req: UnlockConnector) -> Result<Answer, CsoError> {
        let Some(loc) = self.public_location(req.location_id.as_str())? else {
            return Ok(self.unknown_location(req.location_id.as_str()));
        };
        let Some(evse) = loc.evse(&req.evse_uid) else {
            return Ok(self.rejected(&format!("unknown EVSE {}", req.evse_uid)));
        };
        if evse.connector(&req.connector_id).is_none() {
            return Ok(self.rejected(&format!("unknown connector {}", req.connector_id)));
        }
        if !evse.has(&Capability::UnlockCapable) {
            return Ok(self.not_supported("this connector cannot be unlocked remotely"));
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
            return Ok(self.rejected("only the CSP whose session is on this connector may unlock it"));
        }
        let station = StationCommand::UnlockConnector {
            command_id: roaming_peer::headers::new_id(),
            location_id: loc.id.clone(),
            evse_uid: req.evse_uid.clone(),
            connector_id: req.connector_id.clone(),
        };
        let received = Received::new(
            CommandType::UnlockConnector,
            owner,
            req.response_url.as_str(),
            &req,
        )?;
        self.dispatch(caller, received, station, None).await
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
            let woken = match &record.reservation {
                Some(key) => self
                    .reservations
                    .outcome(tx, key, &record.command, &result, now)?,
                None => Vec::new(),
            };
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
        self.reservations.expire_due().await
    }

    /// Ends an open reservation for the CSO's own reason (expiry, operator cancel): see
    /// [`Reservations::end`].
    pub async fn end_reservation(&self, key: &str, why: ReservationState) -> Result<Reservation, CsoError> {
        self.reservations.end(key, why).await
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
