//! Reservations (UC3-8; checklist CMD-05…CMD-07, SES-11).
//!
//! A reservation is keyed by the **CSP's party and its `reservation_id`**, so one CSP can neither see,
//! replace nor cancel another's (CMD-05); the charger gets a CSO-wide unique number instead of the
//! CSP's id. A RESERVE_NOW with the same location and `reservation_id` replaces the reservation. When
//! the charger accepts, a Session in RESERVATION is pushed and the EVSE shows RESERVED to everyone.
//! The reservation ends when the same token starts charging on it (Used), when it expires, when the
//! CSP cancels it, or when the CSO cancels it (the CSP then gets `CANCELED_RESERVATION` on the
//! RESERVE_NOW's `response_url`, CMD-06).

use serde::{Deserialize, Serialize};

use roaming_peer::store::{Space, StoreError, StoreHandle, Tx};
use roaming_types::DateTime;
use roaming_types::ids::{AuthorizationReference, EvseUid, LocationId, PartyRef};
use roaming_types::modules::tokens::Token;

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
