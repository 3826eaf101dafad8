//! Commands the CSP sends to CSOs on behalf of its drivers (UC3-2, UC3-4, UC3-8): START_SESSION,
//! STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION and UNLOCK_CONNECTOR (CMD-08: operator use only).
//!
//! Each command is stored (durably) before it is sent, with a unique `response_url`
//! (`{commands}/{TYPE}/{id}` of our Commands Sender), then updated with the CSO's CommandResponse
//! and, when that was ACCEPTED, with the CommandResult POSTed to the `response_url`. A command
//! whose result does not arrive within the response's `timeout` is marked TIMEOUT (CMD-01); a
//! result that still comes later is recorded too. Tokens in START_SESSION and RESERVE_NOW are
//! pre-authorized here (CMD-03): only ACTIVE accounts may use them.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use roaming_peer::client::{Call, ClientError, join_url};
use roaming_peer::core::Core;
use roaming_peer::headers::new_id;
use roaming_peer::registration::peers::PeerRecord;
use roaming_peer::store::{Keyspace, StoreError};
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid, LocationId, PartyRef};
use roaming_types::modules::commands::{
    CancelReservation, CommandResponse, CommandResponseType, CommandResult, CommandResultType, CommandType,
    ReserveNow, StartSession, StopSession, UnlockConnector,
};
use roaming_types::modules::tokens::TokenType;
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CspError;
use crate::events::{CspEvent, Events};
use crate::keyspaces;
use crate::sessions::Sessions;
use crate::tokens::{AccountState, Tokens};

/// Path of the Commands module (Sender): the `response_url`s we give are below it.
pub const PATH: &str = "/ocpi/2.2.1/commands";
/// Commands by id.
pub const COMMANDS: Keyspace<CommandRecord> = Keyspace::of(keyspaces::COMMANDS);
/// The deadlines of the commands waiting for their result (CMD-01).
pub use crate::keyspaces::COMMANDS_WAITING as WAITING;
/// How many overdue entries one sweep ends at most.
const SWEEP_LIMIT: usize = 1000;

/// Where a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommandState {
    /// Stored, being sent.
    Sent,
    /// The CSO did not take it (its response, or the OCPI error, says why).
    NotAccepted,
    /// ACCEPTED; the result is awaited.
    Accepted,
    /// The result arrived.
    Completed,
    /// No result within the timeout (CMD-01).
    TimedOut,
    /// The CSO could not be reached.
    Failed,
}

/// A command as the CSP keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Our id (the last segment of the `response_url`).
    pub id: String,
    /// The command.
    pub command: CommandType,
    /// The CSO peer.
    pub peer: String,
    /// The CSO party.
    #[serde(with = "crate::party_text::one")]
    pub cpo: PartyRef,
    /// The driver's contract id, for commands with a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    /// The request as sent.
    pub request: Value,
    /// When it was sent.
    pub sent_at: DateTime,
    /// Where it is.
    pub state: CommandState,
    /// The OCPI status code of the CSO's answer (1000, or 2003 for an unknown location, CMD-02).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// The CSO's CommandResponse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<CommandResponse>,
    /// Until when the result is awaited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime>,
    /// The CommandResult (TIMEOUT when none came in time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CommandResult>,
    /// When the result came (or the timeout struck).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_at: Option<DateTime>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A token of ours, as the operator names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRef {
    /// The uid.
    pub uid: String,
    /// The type (RFID by default).
    #[serde(default = "rfid", rename = "type")]
    pub token_type: TokenType,
}

fn rfid() -> TokenType {
    TokenType::Rfid
}

/// Start charging (UC3-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRequest {
    /// The CSO (`CC-PID`); the only connected CSO when absent.
    #[serde(default, with = "crate::party_text::option")]
    pub cpo: Option<PartyRef>,
    /// The driver's token.
    pub token: TokenRef,
    /// Location.
    pub location_id: LocationId,
    /// EVSE.
    #[serde(default)]
    pub evse_uid: Option<EvseUid>,
    /// Connector.
    #[serde(default)]
    pub connector_id: Option<ConnectorId>,
}

/// Stop charging (UC3-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequest {
    /// The CSO; found from the session when absent.
    #[serde(default, with = "crate::party_text::option")]
    pub cpo: Option<PartyRef>,
    /// The session.
    pub session_id: String,
}

/// Reserve an EVSE (UC3-8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveRequest {
    /// The CSO; the only connected CSO when absent.
    #[serde(default, with = "crate::party_text::option")]
    pub cpo: Option<PartyRef>,
    /// The driver's token.
    pub token: TokenRef,
    /// Location.
    pub location_id: LocationId,
    /// EVSE (any at the location when absent).
    #[serde(default)]
    pub evse_uid: Option<EvseUid>,
    /// Until when.
    pub expiry_date: DateTime,
    /// Our reservation id (generated when absent; the same id replaces a reservation, CMD-05).
    #[serde(default)]
    pub reservation_id: Option<String>,
}

/// Cancel a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// The CSO; the only connected CSO when absent.
    #[serde(default, with = "crate::party_text::option")]
    pub cpo: Option<PartyRef>,
    /// The reservation.
    pub reservation_id: String,
}

/// Unlock a connector (helpdesk, CMD-08).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockRequest {
    /// The CSO; the only connected CSO when absent.
    #[serde(default, with = "crate::party_text::option")]
    pub cpo: Option<PartyRef>,
    /// Location.
    pub location_id: LocationId,
    /// EVSE.
    pub evse_uid: EvseUid,
    /// Connector.
    pub connector_id: ConnectorId,
}

/// An id the operator gave, checked as strictly as everything we send (OCPI length and charset).
fn operator_id<T: serde::de::DeserializeOwned>(field: &str, v: &str) -> Result<T, CspError> {
    roaming_types::decode::decode_value(
        Value::String(v.to_owned()),
        roaming_types::decode::DecodeOptions::STRICT,
    )
    .map(|d| d.value)
    .map_err(|e| CspError::Invalid(format!("{field}: {}", e.message)))
}

/// The CSP's commands.
#[derive(Debug, Clone)]
pub struct Commands {
    core: Arc<Core>,
    tokens: Tokens,
    sessions: Sessions,
    events: Events,
}

impl Commands {
    /// The command book.
    pub fn new(core: Arc<Core>, tokens: Tokens, sessions: Sessions, events: Events) -> Self {
        Self {
            core,
            tokens,
            sessions,
            events,
        }
    }

    /// A command.
    pub fn get(&self, id: &str) -> Result<Option<CommandRecord>, CspError> {
        Ok(COMMANDS.get(&self.core.store, id.as_bytes())?)
    }

    /// Every command, newest first.
    pub fn list(&self) -> Result<Vec<CommandRecord>, CspError> {
        let mut all: Vec<CommandRecord> = COMMANDS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        all.sort_by_key(|c| std::cmp::Reverse(c.sent_at));
        Ok(all)
    }

    /// The CSO peer for a command: the one hosting `cpo`, or the only one with a Commands Receiver.
    fn peer(&self, cpo: Option<&PartyRef>) -> Result<(Arc<PeerRecord>, PartyRef), CspError> {
        let peer = match cpo {
            Some(p) => self
                .core
                .peers
                .hosting(p, &Role::Cpo)?
                .ok_or_else(|| CspError::NotFound(format!("no connected CSO hosts {p}")))?,
            None => {
                let all = self.core.peers.all()?;
                let mut with: Vec<_> = all
                    .iter()
                    .filter(|p| {
                        p.endpoint(&ModuleId::Commands, &InterfaceRole::Receiver)
                            .is_some()
                    })
                    .cloned()
                    .collect();
                if with.len() != 1 {
                    return Err(CspError::Invalid(format!(
                        "{} CSOs take commands: name one with `cpo`",
                        with.len()
                    )));
                }
                with.remove(0)
            }
        };
        if peer
            .endpoint(&ModuleId::Commands, &InterfaceRole::Receiver)
            .is_none()
        {
            return Err(CspError::Conflict(format!(
                "CSO {} does not take commands",
                peer.id
            )));
        }
        let party = match cpo {
            Some(p) => p.clone(),
            None => peer
                .parties(&Role::Cpo)
                .into_iter()
                .next()
                .ok_or_else(|| CspError::Internal(format!("peer {} hosts no CSO", peer.id)))?,
        };
        Ok((peer, party))
    }

    /// Our token, pre-authorized for a command (CMD-03): it must exist and its account be ACTIVE.
    fn driver_token(&self, t: &TokenRef) -> Result<roaming_types::modules::tokens::Token, CspError> {
        let view = self
            .tokens
            .get(&t.token_type, &t.uid)?
            .ok_or_else(|| CspError::NotFound(format!("no {} token {}", t.token_type, t.uid)))?;
        if view.account.state != AccountState::Active {
            return Err(CspError::Conflict(format!(
                "the token's account is {:?}: it may not charge",
                view.account.state
            )));
        }
        Ok(view.token)
    }

    fn response_url(&self, command: &CommandType, id: &str) -> String {
        self.core.url_of(&format!("{}/{}/{id}", PATH, command.as_str()))
    }

    /// UC3-2.
    pub async fn start(&self, req: StartRequest) -> Result<CommandRecord, CspError> {
        let token = self.driver_token(&req.token)?;
        let (peer, cpo) = self.peer(req.cpo.as_ref())?;
        let id = new_id();
        let body = StartSession {
            response_url: self.url(&CommandType::StartSession, &id)?,
            token: token.clone(),
            location_id: req.location_id,
            evse_uid: req.evse_uid,
            connector_id: req.connector_id,
            authorization_reference: Some(
                serde_json::from_value(Value::String(new_id().replace('-', "")))
                    .map_err(CspError::internal)?,
            ),
        };
        body.validate().map_err(|e| CspError::Invalid(e.to_string()))?;
        self.send(
            id,
            CommandType::StartSession,
            peer,
            cpo,
            Some(token.contract_id.as_str().to_owned()),
            &body,
        )
        .await
    }

    /// UC3-4.
    pub async fn stop(&self, req: StopRequest) -> Result<CommandRecord, CspError> {
        let cpo = match req.cpo {
            Some(c) => Some(c),
            None => self.sessions.find(&req.session_id)?.map(|s| s.party()),
        };
        let contract = self
            .sessions
            .find(&req.session_id)?
            .map(|s| s.cdr_token.contract_id.as_str().to_owned());
        let (peer, cpo) = self.peer(cpo.as_ref())?;
        let id = new_id();
        let body = StopSession {
            response_url: self.url(&CommandType::StopSession, &id)?,
            session_id: operator_id("session_id", &req.session_id)?,
        };
        self.send(id, CommandType::StopSession, peer, cpo, contract, &body)
            .await
    }

    /// UC3-8.
    pub async fn reserve(&self, req: ReserveRequest) -> Result<CommandRecord, CspError> {
        let token = self.driver_token(&req.token)?;
        if req.expiry_date <= DateTime::now() {
            return Err(CspError::Invalid("expiry_date is in the past".to_owned()));
        }
        let (peer, cpo) = self.peer(req.cpo.as_ref())?;
        let id = new_id();
        let reservation_id = req.reservation_id.unwrap_or_else(|| new_id().replace('-', ""));
        let body = ReserveNow {
            response_url: self.url(&CommandType::ReserveNow, &id)?,
            token: token.clone(),
            expiry_date: req.expiry_date,
            reservation_id: operator_id("reservation_id", &reservation_id)?,
            location_id: req.location_id,
            evse_uid: req.evse_uid,
            authorization_reference: Some(
                serde_json::from_value(Value::String(new_id().replace('-', "")))
                    .map_err(CspError::internal)?,
            ),
        };
        self.send(
            id,
            CommandType::ReserveNow,
            peer,
            cpo,
            Some(token.contract_id.as_str().to_owned()),
            &body,
        )
        .await
    }

    /// Cancels a reservation.
    pub async fn cancel_reservation(&self, req: CancelRequest) -> Result<CommandRecord, CspError> {
        let (peer, cpo) = self.peer(req.cpo.as_ref())?;
        let id = new_id();
        let body = CancelReservation {
            response_url: self.url(&CommandType::CancelReservation, &id)?,
            reservation_id: operator_id("reservation_id", &req.reservation_id)?,
        };
        self.send(id, CommandType::CancelReservation, peer, cpo, None, &body)
            .await
    }

    /// Unlocks a connector (CMD-08).
    pub async fn unlock(&self, req: UnlockRequest) -> Result<CommandRecord, CspError> {
        let (peer, cpo) = self.peer(req.cpo.as_ref())?;
        let id = new_id();
        let body = UnlockConnector {
            response_url: self.url(&CommandType::UnlockConnector, &id)?,
            location_id: req.location_id,
            evse_uid: req.evse_uid,
            connector_id: req.connector_id,
        };
        self.send(id, CommandType::UnlockConnector, peer, cpo, None, &body)
            .await
    }

    fn url(&self, command: &CommandType, id: &str) -> Result<roaming_types::ResponseUrl, CspError> {
        roaming_types::ResponseUrl::new(self.response_url(command, id))
            .map_err(|e| CspError::Internal(format!("our response_url: {e}")))
    }

    fn save(&self, r: &CommandRecord) -> Result<(), StoreError> {
        self.core
            .store
            .transact(|tx| COMMANDS.put(tx, r.id.as_bytes().to_vec(), r))
    }

    fn announce(&self, r: &CommandRecord) {
        let state = match (&r.result, r.state) {
            (Some(res), _) => res.result.as_str().to_owned(),
            (None, CommandState::NotAccepted) => r
                .response
                .as_ref()
                .map_or_else(|| "REJECTED".to_owned(), |x| x.result.as_str().to_owned()),
            (None, s) => serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        };
        self.events.send(CspEvent::Command {
            id: r.id.clone(),
            command: r.command.as_str().to_owned(),
            contract_id: r.contract_id.clone(),
            state,
        });
    }

    /// Stores the command durably, sends it and records the CSO's answer.
    async fn send<B: Serialize>(
        &self,
        id: String,
        command: CommandType,
        peer: Arc<PeerRecord>,
        cpo: PartyRef,
        contract_id: Option<String>,
        body: &B,
    ) -> Result<CommandRecord, CspError> {
        let base = peer
            .endpoint(&ModuleId::Commands, &InterfaceRole::Receiver)
            .ok_or_else(|| CspError::Conflict(format!("CSO {} does not take commands", peer.id)))?;
        let mut r = CommandRecord {
            id,
            command: command.clone(),
            peer: peer.id.clone(),
            cpo: cpo.clone(),
            contract_id,
            request: serde_json::to_value(body).map_err(CspError::internal)?,
            sent_at: DateTime::now(),
            state: CommandState::Sent,
            status_code: None,
            response: None,
            deadline: None,
            result: None,
            result_at: None,
            error: None,
        };
        self.save(&r)?;
        self.core.store.durable().await?;
        let url = join_url(base, &[command.as_str()]);
        let answer = self
            .core
            .call_peer(&peer, Call::new(Method::POST, &url).body(body), Some(cpo), None)
            .await;
        match answer {
            Ok(a) => {
                r.status_code = Some(a.envelope.status_code.code());
                match a.data::<CommandResponse>(&url) {
                    Ok(resp) => {
                        if resp.result == CommandResponseType::Accepted {
                            let secs = i64::from(resp.timeout.clamp(1, 3600));
                            let deadline = DateTime::now().plus(chrono::Duration::seconds(secs));
                            r.deadline = Some(deadline);
                            r.state = CommandState::Accepted;
                        } else {
                            r.state = CommandState::NotAccepted;
                        }
                        r.response = Some(resp);
                    }
                    Err(e) => {
                        r.state = CommandState::Failed;
                        r.error = Some(e.to_string());
                    }
                }
            }
            Err(ClientError::Status { status, message, .. }) => {
                // CMD-02: an unknown location is 2003 with a REJECTED CommandResponse.
                r.status_code = Some(status.code());
                r.response = Some(CommandResponse::new(CommandResponseType::Rejected, 0));
                r.state = CommandState::NotAccepted;
                r.error = Some(message);
            }
            Err(e) => {
                r.state = CommandState::Failed;
                r.error = Some(e.to_string());
            }
        }
        self.core.store.transact(|tx| {
            // A fast CSO may already have posted the result: keep it (read in the transaction that
            // writes, so that a result stored meanwhile is not overwritten).
            let early = COMMANDS
                .get(tx, r.id.as_bytes())?
                .and_then(|s| s.result.map(|res| (res, s.result_at)));
            if let Some((res, at)) = early {
                r.result = Some(res);
                r.result_at = at;
                r.state = CommandState::Completed;
            } else if let (CommandState::Accepted, Some(d)) = (r.state, r.deadline) {
                WAITING.schedule(tx, d, &r.id);
            }
            COMMANDS.put(tx, r.id.as_bytes().to_vec(), &r)
        })?;
        self.core.store.durable().await?;
        tracing::info!(command.id = %r.id, command = %r.command, state = ?r.state, "command sent");
        self.announce(&r);
        Ok(r)
    }

    /// A CommandResult POSTed by `peer` to the `response_url` of command `id` of type `command`.
    /// Durable on return.
    pub async fn result(
        &self,
        peer: &str,
        command: &str,
        id: &str,
        result: CommandResult,
    ) -> Result<(), CspError> {
        let unknown = || CspError::NotFound(format!("unknown command {command}/{id}"));
        let r = self.core.store.transact(|tx| {
            let mut r = COMMANDS.get(tx, id.as_bytes())?.ok_or_else(unknown)?;
            if !r.peer.eq_ignore_ascii_case(peer) || !r.command.as_str().eq_ignore_ascii_case(command) {
                return Err(unknown());
            }
            if let Some(d) = r.deadline {
                WAITING.cancel(tx, d, &r.id);
            }
            r.result = Some(result.clone());
            r.result_at = Some(DateTime::now());
            r.state = CommandState::Completed;
            COMMANDS.put(tx, r.id.as_bytes().to_vec(), &r)?;
            Ok::<_, CspError>(r)
        })?;
        self.core.store.durable().await?;
        tracing::info!(command.id = %r.id, result = %result.result, "command result received");
        self.announce(&r);
        Ok(())
    }

    /// Marks commands whose result is overdue as TIMEOUT (CMD-01), and announces them once durable.
    pub async fn sweep(&self) -> Result<usize, CspError> {
        let now = DateTime::now();
        let timed_out = WAITING.sweep(&self.core.store, now, SWEEP_LIMIT, |tx, id| {
            let Some(mut r) = COMMANDS.get(tx, id.as_bytes())? else {
                return Ok::<_, StoreError>(None);
            };
            if r.state != CommandState::Accepted {
                return Ok(None);
            }
            r.state = CommandState::TimedOut;
            r.result = Some(CommandResult::new(CommandResultType::Timeout));
            r.result_at = Some(now);
            COMMANDS.put(tx, id.as_bytes().to_vec(), &r)?;
            Ok(Some(r))
        })?;
        if timed_out.is_empty() {
            return Ok(0);
        }
        self.core.store.durable().await?;
        for r in &timed_out {
            tracing::warn!(command.id = %r.id, command = %r.command, "no command result in time: TIMEOUT");
            self.announce(r);
        }
        Ok(timed_out.len())
    }
}

/// Sweeps timed-out commands every `every` until shutdown.
pub async fn run(commands: Commands, every: Duration) {
    let core = Arc::clone(&commands.core);
    core.every(every, "command timeout sweep", || async {
        commands.sweep().await.map(|_| ())
    })
    .await;
}
