//! What the chargers report, turned into sessions, EVSE statuses and command results.
//!
//! Events reach [`Stations::handle`] from the simulator (through an [`EventSink`] channel, processed
//! in order by [`run`]) or from a station-management system through the operator API. A charger's
//! question "may this token charge here?" is answered by [`Stations::authorize`].
//!
//! A started transaction is tied to what authorized it, in this order: the START_SESSION command it
//! names (auth_method COMMAND, the command's `authorization_reference`); the reservation it uses; the
//! authorization decision taken for this token at this EVSE in the last 15 minutes (WHITELIST or
//! AUTH_REQUEST with the CSP's reference); the token in the CSO's copy (WHITELIST). SES-04, SES-05.

use std::sync::Arc;
use std::time::Duration;

use roaming_peer::client::backoff::{Backoff, random_unit};
use roaming_peer::core::Core;
use roaming_types::Text;
use roaming_types::ids::{ContractId, TokenUid};
use roaming_types::modules::cdrs::{AuthMethod, CdrToken};
use roaming_types::modules::commands::StartSession;
use roaming_types::modules::sessions::Session;
use tokio::sync::{mpsc, oneshot};

use crate::authorization::{Authorizer, Decision};
use crate::commands::Commands;
use crate::error::CsoError;
use crate::gateway::{AuthorizeRequest, SessionStart, StationEvent};
use crate::reservations::{self, Reservation};
use crate::sessions::{Sample, Sessions, StartAuth};
use crate::tokens::Tokens;

/// Something a charger sends in.
#[derive(Debug)]
pub enum Inbound {
    /// An event.
    Event(StationEvent),
    /// A question, with where to send the answer.
    Authorize(AuthorizeRequest, oneshot::Sender<Result<Decision, String>>),
}

/// Where the simulator sends what its chargers do.
#[derive(Debug, Clone)]
pub struct EventSink(mpsc::Sender<Inbound>);

impl EventSink {
    /// A sink and the receiving end for [`run`].
    pub fn channel() -> (Self, mpsc::Receiver<Inbound>) {
        let (tx, rx) = mpsc::channel(4096);
        (Self(tx), rx)
    }

    /// Reports an event; `false` when the endpoint is shutting down.
    pub async fn event(&self, e: StationEvent) -> bool {
        self.0.send(Inbound::Event(e)).await.is_ok()
    }

    /// Asks whether a token may charge.
    pub async fn authorize(&self, r: AuthorizeRequest) -> Result<Decision, String> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(Inbound::Authorize(r, tx))
            .await
            .map_err(|_| "the endpoint is shutting down".to_owned())?;
        rx.await.map_err(|_| "the endpoint is shutting down".to_owned())?
    }

    /// Whether the endpoint stopped listening.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// The CSO's handling of charger events.
#[derive(Debug, Clone)]
pub struct Stations {
    core: Arc<Core>,
    sessions: Sessions,
    commands: Commands,
    authorizer: Authorizer,
}

impl Stations {
    /// Event handling over the CSO's parts.
    pub fn new(core: Arc<Core>, sessions: Sessions, commands: Commands, authorizer: Authorizer) -> Self {
        Self {
            core,
            sessions,
            commands,
            authorizer,
        }
    }

    /// Answers a charger's authorization question (UC3-1).
    pub async fn authorize(&self, r: &AuthorizeRequest) -> Result<Decision, CsoError> {
        if self
            .sessions
            .sites()
            .location(r.location_id.as_str())?
            .and_then(|l| l.evse(&r.evse_uid).cloned())
            .is_none()
        {
            return Err(CsoError::NotFound(format!(
                "no EVSE {} at {}",
                r.evse_uid, r.location_id
            )));
        }
        self.authorizer
            .authorize(r.token_uid.as_str(), &r.token_type, &r.location_id, &r.evse_uid)
            .await
    }

    /// Applies one event. Returns the session it changed, if any.
    pub async fn handle(&self, e: StationEvent) -> Result<Option<Session>, CsoError> {
        match e {
            StationEvent::CommandResult(r) => {
                self.commands
                    .complete(&r.command_id, r.result, r.message.map(Text::into_inner))
                    .await?;
                Ok(None)
            }
            StationEvent::SessionStarted(start) => self.started(&start).await.map(Some),
            StationEvent::MeterValues(m) => {
                let sample = Sample {
                    at: m.at,
                    energy_wh: m.energy_wh,
                    power_w: m.power_w,
                    current_a: m.current_a,
                    charging: m.charging,
                };
                let (s, woken) = self
                    .core
                    .store
                    .transact(|tx| self.sessions.meter(tx, &m.transaction_id, sample))?;
                self.sessions.commit(woken).await?;
                Ok(s)
            }
            StationEvent::SessionStopped(stop) => {
                let (s, woken) = self.core.store.transact(|tx| self.sessions.stop(tx, &stop))?;
                self.sessions.commit(woken).await?;
                if let Some(s) = &s {
                    tracing::info!(session.id = %s.id, kwh = %s.kwh, "session completed");
                }
                Ok(s)
            }
            StationEvent::EvseStatus(c) => {
                self.sessions
                    .sites()
                    .set_status(c.location_id.as_str(), c.evse_uid.as_str(), c.status)
                    .await?;
                Ok(None)
            }
        }
    }

    /// A transaction began: its session, tied to what authorized it, using its reservation.
    async fn started(&self, start: &SessionStart) -> Result<Session, CsoError> {
        let (auth, reservation) = self.start_auth(start)?;
        let (s, woken) = self.core.store.transact(|tx| {
            let mut reservation = reservation;
            let out = self.sessions.start(
                tx,
                start,
                auth,
                reservation.as_ref().and_then(|r| r.session_id.as_deref()),
            )?;
            if let Some(r) = reservation.as_mut() {
                reservations::mark_used(tx, r)?;
            }
            Ok::<_, CsoError>(out)
        })?;
        self.sessions.commit(woken).await?;
        tracing::info!(session.id = %s.id, transaction.id = %start.transaction_id, evse = %start.evse_uid, "session started");
        Ok(s)
    }

    /// What authorized a start (see the module documentation), and the reservation it uses.
    fn start_auth(&self, start: &SessionStart) -> Result<(StartAuth, Option<Reservation>), CsoError> {
        let (uid, token_type) = (start.token_uid.as_str(), &start.token_type);
        let (location, evse) = (&start.location_id, &start.evse_uid);
        let reservation = reservations::used_by(&self.core.store, start)?;
        let command = start
            .command_id
            .as_deref()
            .map(|id| Commands::get(&self.core.store, id));
        if let Some(rec) = command.transpose()?.flatten() {
            if let Ok(req) = serde_json::from_value::<StartSession>(rec.request.clone()) {
                let reference = req.authorization_reference.clone().or_else(|| {
                    reservation
                        .as_ref()
                        .and_then(|r| r.authorization_reference.clone())
                });
                return Ok((
                    StartAuth {
                        token: req.token.cdr_token(),
                        emsp: Some(req.token.party()),
                        auth_method: AuthMethod::Command,
                        authorization_reference: reference,
                    },
                    reservation,
                ));
            }
        }
        let decision = self.authorizer.recent(uid, token_type, location, evse)?;
        if let Some(d) = decision.filter(|d| d.allowed) {
            if let Some(t) = &d.token {
                let reference = d.authorization_reference.clone().or_else(|| {
                    reservation
                        .as_ref()
                        .and_then(|r| r.authorization_reference.clone())
                });
                return Ok((
                    StartAuth {
                        token: t.cdr_token(),
                        emsp: Some(t.party()),
                        auth_method: d.auth_method,
                        authorization_reference: reference,
                    },
                    reservation,
                ));
            }
        }
        if let Some(r) = &reservation {
            return Ok((
                StartAuth {
                    token: r.token.cdr_token(),
                    emsp: Some(r.emsp.clone()),
                    auth_method: AuthMethod::Whitelist,
                    authorization_reference: r.authorization_reference.clone(),
                },
                reservation,
            ));
        }
        let mut copies = Tokens::find(&self.core.store, uid, token_type)?;
        if copies.len() == 1 {
            let t = copies.remove(0);
            return Ok((
                StartAuth {
                    token: t.cdr_token(),
                    emsp: Some(t.party()),
                    auth_method: AuthMethod::Whitelist,
                    authorization_reference: None,
                },
                None,
            ));
        }
        if copies.is_empty() {
            // A token no CSP issued (the charger let it charge on its own): recorded, never pushed.
            tracing::warn!(location = %location, evse = %evse, "a session started with a token no connected CSP issued");
        } else {
            // Several CSPs hold this uid and none allowed this start: nobody can tell whose driver it
            // is, so it is billed to none of them (the operator sees a session without a CSP).
            tracing::warn!(location = %location, evse = %evse, holders = copies.len(), "a session started with a token uid several CSPs hold, without an authorization: not attributed to any CSP");
        }
        let party = &self.core.config.party;
        Ok((
            StartAuth {
                token: CdrToken {
                    country_code: party.country_code.clone(),
                    party_id: party.party_id.clone(),
                    uid: TokenUid::new(uid).map_err(|e| CsoError::Invalid(e.to_string()))?,
                    token_type: token_type.clone(),
                    contract_id: ContractId::new(uid).map_err(|e| CsoError::Invalid(e.to_string()))?,
                },
                emsp: None,
                auth_method: AuthMethod::Whitelist,
                authorization_reference: None,
            },
            None,
        ))
    }
}

/// How a charger event whose handling failed transiently is retried: 100 ms, doubling up to 5 s.
fn retry_policy() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(5), 0.2)
        .unwrap_or_else(|_| unreachable!("a constant, valid policy"))
}

/// Applies one charger event. A transient failure (the store, a resource that ran out) is retried
/// with backoff until the event is applied, so that no event is dropped and later ones, which wait
/// meanwhile, keep their order; a permanent one (no session for that transaction, an unknown EVSE)
/// is logged and the event dropped. At shutdown a pending retry is abandoned (the simulator resumes
/// from the store; a charger that got no answer sends again).
async fn apply(stations: &Stations, e: StationEvent) {
    let what = format!("{e:?}").chars().take(80).collect::<String>();
    let policy = retry_policy();
    let mut failures: u32 = 0;
    loop {
        match stations.handle(e.clone()).await {
            Ok(_) => {
                if failures > 0 {
                    tracing::info!(event = %what, failures, "a charger event was applied after failing");
                }
                return;
            }
            Err(err) if err.is_transient() => {
                let wait = policy.delay(failures, random_unit());
                failures = failures.saturating_add(1);
                roaming_peer::throttled!(warn, "stations: retrying an event", error = %err, event = %what, failures, retry_in_ms = wait.as_millis() as u64, "a charger event could not be applied yet; retrying");
                tokio::select! {
                    () = stations.core.shutdown_signal() => {
                        tracing::warn!(event = %what, "shutting down: a charger event that kept failing was not applied");
                        return;
                    }
                    () = tokio::time::sleep(wait) => {}
                }
            }
            Err(err) => {
                roaming_peer::throttled!(warn, "stations: event not applied", error = %err, event = %what, "a charger event could not be applied");
                return;
            }
        }
    }
}

/// Processes what the simulator's chargers send, in order, until shutdown. Authorizations run
/// concurrently (they may wait for a CSP).
pub async fn run(stations: Stations, mut rx: mpsc::Receiver<Inbound>) {
    let shutdown = stations.core.shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let item = tokio::select! {
            () = &mut shutdown => break,
            item = rx.recv() => item,
        };
        let Some(item) = item else { break };
        match item {
            Inbound::Event(e) => apply(&stations, e).await,
            Inbound::Authorize(r, reply) => {
                let s = stations.clone();
                tokio::spawn(async move {
                    let d = s.authorize(&r).await.map_err(|e| e.to_string());
                    let _ = reply.send(d);
                });
            }
        }
    }
}
