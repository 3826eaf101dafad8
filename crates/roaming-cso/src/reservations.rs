//! Reservations (UC3-8; checklist CMD-05…CMD-07, SES-11).
//!
//! A reservation is keyed by the **CSP's party and its `reservation_id`**, so one CSP can neither see,
//! replace nor cancel another's (CMD-05); the charger gets a CSO-wide unique number instead of the
//! CSP's id. A RESERVE_NOW with the same location and `reservation_id` replaces the reservation. When
//! the charger accepts, a Session in RESERVATION is pushed and the EVSE shows RESERVED to everyone.
//! The reservation ends when the same token starts charging on it (Used), when it expires, when the
//! CSP cancels it, or when the CSO cancels it (the CSP then gets `CANCELED_RESERVATION` on the
//! RESERVE_NOW's `response_url`, CMD-06).

//!
//! The commands that book and cancel reservations arrive through [`crate::commands::Commands`], which
//! checks and dispatches them; the rules of a reservation's life are here ([`Reservations`]): what a
//! RESERVE_NOW books, what the charger's answer does, which start uses a reservation, and how one
//! expires or is cancelled by the CSO.

use std::sync::Arc;

use http::Method;
use roaming_peer::client::Call;
use roaming_peer::core::Core;
use roaming_peer::store::{Space, StoreError, StoreHandle, Tx};
use roaming_types::DateTime;
use roaming_types::ids::{AuthorizationReference, ConnectorId, EvseUid, LocationId, PartyRef};
use roaming_types::modules::cdrs::AuthMethod;
use roaming_types::modules::commands::{
    CommandResponseType, CommandResult, CommandResultType, CommandType, ReserveNow,
};
use roaming_types::modules::locations::{Capability, Evse, Location};
use roaming_types::modules::tokens::Token;
use serde::{Deserialize, Serialize};

use crate::error::CsoError;
use crate::gateway::{SessionStart, StationCommand, StationGateway};
use crate::sessions::{NewReservation, Sessions, StartAuth};

pub use crate::keyspaces::{BY_STATION_ID, RESERVATIONS};
const COUNTER: &[u8] = b"cso_reservation_counter";

/// Where a reservation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationState {
    /// Sent to the charger, not confirmed yet.
    Requested,
    /// Confirmed: the EVSE is reserved.
    Active,
    /// The driver started charging on it.
    Used,
    /// It expired unused.
    Expired,
    /// Cancelled by the CSP.
    Cancelled,
    /// Cancelled by the CSO.
    CanceledByOperator,
    /// The charger refused it.
    Refused,
}

impl ReservationState {
    /// Whether it still holds (or may hold) the EVSE.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Requested | Self::Active)
    }
}

/// A reservation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    /// Its store key.
    pub key: String,
    /// The CSP's party.
    pub emsp: PartyRef,
    /// The peer it came from.
    pub peer: String,
    /// The CSP's id.
    pub reservation_id: String,
    /// The charger's number.
    pub station_reservation_id: u64,
    /// Location.
    pub location_id: LocationId,
    /// The reserved EVSE.
    pub evse_uid: EvseUid,
    /// The token it is for.
    pub token: Token,
    /// Until when.
    pub expiry_date: DateTime,
    /// When it was booked.
    pub booked_at: DateTime,
    /// The RESERVATION session, once confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The RESERVE_NOW's `response_url` (for CANCELED_RESERVATION, CMD-06).
    pub response_url: String,
    /// The CSP's reference (SES-04).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<AuthorizationReference>,
    /// Its state.
    pub state: ReservationState,
    /// The RESERVE_NOW command that (last) asked for it.
    pub command_id: String,
}

impl Reservation {
    /// The charger's RESERVE_NOW for it, as command `command_id`.
    pub fn reserve_command(&self, command_id: String) -> StationCommand {
        StationCommand::ReserveNow {
            command_id,
            location_id: self.location_id.clone(),
            evse_uid: Some(self.evse_uid.clone()),
            station_reservation_id: self.station_reservation_id,
            token_uid: self.token.uid.as_str().to_owned(),
            token_type: self.token.token_type.clone(),
            expiry_date: self.expiry_date,
        }
    }

    /// The charger's CANCEL_RESERVATION of it, as command `command_id`.
    pub fn cancel_command(&self, command_id: String) -> StationCommand {
        StationCommand::CancelReservation {
            command_id,
            location_id: self.location_id.clone(),
            evse_uid: Some(self.evse_uid.clone()),
            station_reservation_id: self.station_reservation_id,
        }
    }
}

/// The key of a CSP's reservation.
pub fn reservation_key(emsp: &PartyRef, reservation_id: &str) -> String {
    format!(
        "{}/{}/{}",
        emsp.country_code.to_key(),
        emsp.party_id.to_key(),
        reservation_id.to_ascii_lowercase()
    )
}

/// Reads a reservation.
pub fn get(tx: &Tx<'_>, key: &str) -> Result<Option<Reservation>, StoreError> {
    tx.get_json(RESERVATIONS, key.as_bytes())
}

/// Writes a reservation.
pub fn put(tx: &mut Tx<'_>, r: &Reservation) -> Result<(), StoreError> {
    tx.put_json(RESERVATIONS, r.key.as_bytes().to_vec(), r)?;
    tx.put(
        BY_STATION_ID,
        r.station_reservation_id.to_be_bytes().to_vec(),
        r.key.as_bytes().to_vec(),
    );
    Ok(())
}

/// The reservation a charger number belongs to.
pub fn by_station_id(tx: &Tx<'_>, id: u64) -> Result<Option<Reservation>, StoreError> {
    match tx.get(BY_STATION_ID, &id.to_be_bytes())? {
        Some(k) => get(tx, &String::from_utf8_lossy(&k)),
        None => Ok(None),
    }
}

/// A new charger-unique reservation number.
pub fn next_station_id(tx: &mut Tx<'_>) -> Result<u64, StoreError> {
    let n: u64 = tx.get_json(Space::META, COUNTER)?.unwrap_or(0) + 1;
    tx.put_json(Space::META, COUNTER.to_vec(), &n)?;
    Ok(n)
}

/// Every reservation (operator view; small).
pub fn list(store: &StoreHandle) -> Result<Vec<Reservation>, StoreError> {
    store.list_json(RESERVATIONS, &[])
}

/// The open reservation of an EVSE, if any.
pub fn on_evse(
    store: &StoreHandle,
    location: &LocationId,
    evse: &EvseUid,
) -> Result<Option<Reservation>, StoreError> {
    Ok(list(store)?
        .into_iter()
        .find(|r| r.state.is_open() && &r.location_id == location && &r.evse_uid == evse))
}

/// The open reservation of one of `parties` with the CSP's `reservation_id` (CMD-05: a CSP sees only
/// its own).
pub fn open_of(
    store: &StoreHandle,
    parties: &[PartyRef],
    reservation_id: &str,
) -> Result<Option<Reservation>, StoreError> {
    store.transact(|tx| {
        for p in parties {
            if let Some(r) = get(tx, &reservation_key(p, reservation_id))? {
                if r.state.is_open() {
                    return Ok(Some(r));
                }
            }
        }
        Ok(None)
    })
}

/// The open reservation on an EVSE that a START_SESSION of `token` from one of `parties` uses.
pub fn of_token(
    store: &StoreHandle,
    location: &LocationId,
    evse: &EvseUid,
    parties: &[PartyRef],
    token: &Token,
) -> Result<Option<Reservation>, StoreError> {
    Ok(on_evse(store, location, evse)?.filter(|r| {
        parties.contains(&r.emsp) && r.token.uid == token.uid && r.token.token_type == token.token_type
    }))
}

/// The open reservation a transaction that began at a charger uses: the one it names, else the one of
/// its token on its EVSE.
pub fn used_by(store: &StoreHandle, start: &SessionStart) -> Result<Option<Reservation>, StoreError> {
    let found = match start.station_reservation_id {
        Some(id) => store.transact(|tx| by_station_id(tx, id))?,
        None => on_evse(store, &start.location_id, &start.evse_uid)?.filter(|r| {
            r.token
                .uid
                .as_str()
                .eq_ignore_ascii_case(start.token_uid.as_str())
                && r.token.token_type == start.token_type
        }),
    };
    Ok(found.filter(|r| r.state.is_open()))
}

/// The charger never got the command that asked for `r`: a reservation still waiting for the charger
/// is refused.
pub fn not_sent(tx: &mut Tx<'_>, mut r: Reservation) -> Result<(), StoreError> {
    if r.state == ReservationState::Requested {
        r.state = ReservationState::Refused;
        put(tx, &r)?;
    }
    Ok(())
}

/// Marks the reservation a charging session used.
pub fn mark_used(tx: &mut Tx<'_>, r: &mut Reservation) -> Result<(), StoreError> {
    r.state = ReservationState::Used;
    put(tx, r)
}

/// What a RESERVE_NOW books.
#[derive(Debug, Clone, PartialEq)]
pub enum Booking {
    /// The reservation to store with the command and send to the charger.
    Booked(Box<Reservation>),
    /// Not sent: the CommandResponse's result and message.
    Declined(CommandResponseType, String),
}

/// The reservation lifecycle: booking, the charger's answer, expiry, and the CSO's cancellation.
#[derive(Debug, Clone)]
pub struct Reservations {
    core: Arc<Core>,
    sessions: Sessions,
    gateway: Arc<dyn StationGateway>,
}

impl Reservations {
    /// The lifecycle over the CSO's sessions, telling the chargers through `gateway`.
    pub fn new(core: Arc<Core>, sessions: Sessions, gateway: Arc<dyn StationGateway>) -> Self {
        Self {
            core,
            sessions,
            gateway,
        }
    }

    /// The reservation a RESERVE_NOW of the CSP at `peer` books at `loc`, as command `command_id`; not
    /// stored yet (it is stored with the command). A RESERVE_NOW with the same `reservation_id` replaces
    /// the open reservation (CMD-05): the charger's number, the booking time, the session and the state
    /// carry over, and without an `evse_uid` the reserved EVSE stays; a reservation for the location
    /// takes `any` (the caller's pick, a free one first). The EVSE must be RESERVABLE.
    pub fn book(
        &self,
        peer: &str,
        req: &ReserveNow,
        loc: &Location,
        any: Option<&Evse>,
        command_id: &str,
    ) -> Result<Booking, CsoError> {
        let declined = |result, text: &str| Ok(Booking::Declined(result, text.to_owned()));
        let now = DateTime::now();
        let emsp = req.token.party();
        let key = reservation_key(&emsp, req.reservation_id.as_str());
        let existing = self
            .core
            .store
            .transact(|tx| get(tx, &key))?
            .filter(|r| r.state.is_open());
        let evse = match (&req.evse_uid, &existing) {
            (Some(uid), _) => match loc.evse(uid) {
                Some(e) => e,
                None => return declined(CommandResponseType::Rejected, &format!("unknown EVSE {uid}")),
            },
            // A replacement without an EVSE keeps the reserved one.
            (None, Some(r)) if r.location_id == loc.id => match loc.evse(&r.evse_uid) {
                Some(e) => e,
                None => return declined(CommandResponseType::Rejected, "the reserved EVSE is gone"),
            },
            // A reservation for the location: the CSO reserves one of its EVSEs.
            (None, _) => match any {
                Some(e) => e,
                None => return declined(CommandResponseType::NotSupported, "no EVSE here can be reserved"),
            },
        };
        if !evse.has(&Capability::Reservable) {
            return declined(CommandResponseType::NotSupported, "this EVSE cannot be reserved");
        }
        let reservation = self.core.store.transact(|tx| {
            let station_reservation_id = match &existing {
                Some(r) => r.station_reservation_id,
                None => next_station_id(tx)?,
            };
            Ok::<_, StoreError>(Reservation {
                key: key.clone(),
                emsp: emsp.clone(),
                peer: peer.to_owned(),
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
                command_id: command_id.to_owned(),
            })
        })?;
        Ok(Booking::Booked(Box::new(reservation)))
    }

    /// What the outcome of `command` does to the reservation under `key`, in the transaction that
    /// records it: an accepted RESERVE_NOW creates the RESERVATION session (the EVSE shows RESERVED), a
    /// refused one is Refused; an accepted CANCEL_RESERVATION cancels it and ends its session. Returns
    /// the peers to wake.
    pub fn outcome(
        &self,
        tx: &mut Tx<'_>,
        key: &str,
        command: &CommandType,
        result: &CommandResultType,
        now: DateTime,
    ) -> Result<Vec<String>, CsoError> {
        let Some(mut r) = get(tx, key)? else {
            return Ok(Vec::new());
        };
        let woken = self.apply_outcome(tx, command, result, &mut r, now)?;
        put(tx, &r)?;
        Ok(woken)
    }

    fn apply_outcome(
        &self,
        tx: &mut Tx<'_>,
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
                let new = NewReservation {
                    location_id: r.location_id.clone(),
                    evse_uid: r.evse_uid.clone(),
                    connector_id: connector,
                    auth: StartAuth {
                        token: r.token.cdr_token(),
                        emsp: Some(r.emsp.clone()),
                        auth_method: AuthMethod::Command,
                        authorization_reference: r.authorization_reference.clone(),
                    },
                    reservation_key: r.key.clone(),
                    at: now,
                };
                let (s, woken) = self.sessions.create_reservation(tx, new)?;
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

    /// Ends the active reservations whose expiry passed (EXPIRED).
    pub async fn expire_due(&self) -> Result<(), CsoError> {
        let now = DateTime::now();
        for r in list(&self.core.store)? {
            if r.state == ReservationState::Active && r.expiry_date <= now {
                self.end(&r.key, ReservationState::Expired).await?;
            }
        }
        Ok(())
    }

    /// Ends an open reservation for the CSO's own reason (expiry, operator cancel): the session is
    /// COMPLETED, the EVSE freed, the charger told; an operator cancel also tells the CSP
    /// CANCELED_RESERVATION on the RESERVE_NOW's `response_url` (CMD-06).
    pub async fn end(&self, key: &str, why: ReservationState) -> Result<Reservation, CsoError> {
        let now = DateTime::now();
        let (r, woken) = self.core.store.transact(|tx| {
            let mut r = get(tx, key)?.ok_or_else(|| CsoError::NotFound(format!("no reservation {key}")))?;
            if !r.state.is_open() {
                return Err(CsoError::Conflict(format!(
                    "the reservation is already {:?}",
                    r.state
                )));
            }
            r.state = why;
            put(tx, &r)?;
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
            .send(r.cancel_command(roaming_peer::headers::new_id()))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_of_two_csps_never_share_a_key() {
        let a: PartyRef = "DE-CSP".parse().unwrap_or_else(|e| panic!("{e}"));
        let b: PartyRef = "FR-OTH".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(reservation_key(&a, "R1"), reservation_key(&b, "R1"));
        assert_eq!(reservation_key(&a, "r1"), reservation_key(&a, "R1"));
    }
}
