//! Where the CSO keeps its sessions, and how they are read and written.
//!
//! - `cso_sessions` ([`SESSIONS`], a `Collection<Session>`): the OCPI session, key = lower-case id,
//!   partitions [`ALL`] and the owning CSP's party key, so that the Sender GET serves each CSP only
//!   its own sessions.
//! - `cso_session_runtime` ([`Runtime`]): what the CSO keeps beside it (charger transaction, the CSP,
//!   meter readings, reservation, preferences, the seal), same key.
//! - `cso_session_txn`: charger transaction id → session key; `cso_session_evse`: `<location>\0<evse>`
//!   → the key of the EVSE's current (not final) session; `cso_session_evse_last`: the same for the
//!   last charging session that started there (kept after it ends).
//!
//! Every read takes any [`Read`] (the store, or the transaction of a change); a change is stored by
//! `Sessions::save` — the session and its runtime, each written once, and its push — in the
//! transaction of the change.

use roaming_peer::outbox::Outbox;
use roaming_peer::store::{Keyspace, Read, Tx, key};
use roaming_types::ids::{EvseUid, LocationId, PartyRef, SessionId};
use roaming_types::modules::sessions::{ChargingPreferences, Session, SessionStatus};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Sessions;
use super::push::{Change, SessionAddress};
use crate::error::CsoError;
use crate::keyspaces::{self, BY_EVSE, BY_TRANSACTION, LAST_ON_EVSE};
use crate::pricing::{Sample, Seal};

pub use crate::keyspaces::SESSIONS;

/// The runtime of each session, by session key.
const RUNTIMES: Keyspace<Runtime> = Keyspace::of(keyspaces::RUNTIME);

/// The operator's partition of every session.
pub const ALL: &str = "all";

/// What the CSO keeps beside the OCPI Session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    /// The charger's transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The CSP the session belongs to; `None` for a token no connected CSP issued (never pushed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emsp: Option<PartyRef>,
    /// First meter reading, Wh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_start_wh: Option<Decimal>,
    /// Every meter reading (for pricing).
    #[serde(default)]
    pub samples: Vec<Sample>,
    /// The reservation behind the session, if any (its key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
    /// The driver's charging preferences (SES-07).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<ChargingPreferences>,
    /// What the CDR will be built from, fixed at the start (CDR-03).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<Seal>,
}

/// A session with its runtime, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    /// The OCPI session.
    pub session: Session,
    /// The CSP it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emsp: Option<PartyRef>,
    /// The charger's transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Meter readings so far.
    pub samples: usize,
    /// Charging preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<ChargingPreferences>,
}

/// The key of a session (and of its runtime).
pub(super) fn skey(id: &str) -> Vec<u8> {
    id.to_ascii_lowercase().into_bytes()
}

fn evse_key(location: &LocationId, evse: &EvseUid) -> Vec<u8> {
    key([location.to_key(), evse.to_key()])
}

/// A fresh session id: 20 characters from the CSPRNG (unguessable; fits CiString(36)).
pub fn new_session_id() -> SessionId {
    let bytes = roaming_peer::secret::random_bytes();
    let id: String = bytes[..20]
        .iter()
        .map(|b| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[usize::from(*b) % 32]))
        .collect();
    SessionId::new(format!("S{id}")).unwrap_or_else(|_| unreachable!("21 ASCII characters"))
}

impl Sessions {
    /// A session by id.
    pub fn get<R: Read + ?Sized>(&self, r: &R, id: &str) -> Result<Option<Session>, CsoError> {
        Ok(SESSIONS.get(r, &skey(id))?)
    }

    /// The runtime of a session.
    pub fn runtime<R: Read + ?Sized>(&self, r: &R, id: &str) -> Result<Option<Runtime>, CsoError> {
        Ok(RUNTIMES.get(r, &skey(id))?)
    }

    /// A session with its runtime.
    pub fn view(&self, id: &str) -> Result<Option<SessionView>, CsoError> {
        let store = &self.core.store;
        let Some(session) = self.get(store, id)? else {
            return Ok(None);
        };
        let rt = self.runtime(store, id)?.unwrap_or_default();
        Ok(Some(SessionView {
            session,
            emsp: rt.emsp,
            transaction_id: rt.transaction_id,
            samples: rt.samples.len(),
            preferences: rt.preferences,
        }))
    }

    /// Every session, newest last, optionally only those of one CSP or in one status.
    pub fn list(
        &self,
        emsp: Option<&PartyRef>,
        status: Option<&SessionStatus>,
    ) -> Result<Vec<Session>, CsoError> {
        let mut out: Vec<Session> = SESSIONS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, s)| s)
            .filter(|s| emsp.is_none_or(|p| s.emsp() == *p) && status.is_none_or(|st| &s.status == st))
            .collect();
        out.sort_by_key(|s| s.last_updated);
        Ok(out)
    }

    /// The session running on a charger transaction (its key).
    pub fn by_transaction<R: Read + ?Sized>(
        &self,
        r: &R,
        transaction_id: &str,
    ) -> Result<Option<String>, CsoError> {
        Ok(r.get(BY_TRANSACTION, transaction_id.as_bytes())?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// The current (not final) session of an EVSE.
    pub fn on_evse<R: Read + ?Sized>(
        &self,
        r: &R,
        location: &LocationId,
        evse: &EvseUid,
    ) -> Result<Option<Session>, CsoError> {
        let Some(k) = r.get(BY_EVSE, &evse_key(location, evse))? else {
            return Ok(None);
        };
        self.get(r, &String::from_utf8_lossy(&k))
    }

    /// The session whose driver may be at the EVSE: its current session, else the last charging
    /// session that started there (finished, but its cable may still be in the socket).
    pub fn at_evse(&self, location: &LocationId, evse: &EvseUid) -> Result<Option<Session>, CsoError> {
        let k = evse_key(location, evse);
        let store = &self.core.store;
        let Some(id) = store.get(BY_EVSE, &k)?.or(store.get(LAST_ON_EVSE, &k)?) else {
            return Ok(None);
        };
        self.get(store, &String::from_utf8_lossy(&id))
    }

    /// Sessions that are running at a charger (PENDING or ACTIVE, with a transaction).
    pub fn running(&self) -> Result<Vec<(Session, Runtime)>, CsoError> {
        let mut out = Vec::new();
        for s in self.list(None, None)? {
            if matches!(s.status, SessionStatus::Pending | SessionStatus::Active) {
                let rt = self.runtime(&self.core.store, s.id.as_str())?.unwrap_or_default();
                if rt.transaction_id.is_some() {
                    out.push((s, rt));
                }
            }
        }
        Ok(out)
    }

    /// Stores a session and its runtime (each written once) and queues the push of `change` to its
    /// CSP. Returns the peers to wake.
    pub(super) fn save(
        &self,
        tx: &mut Tx<'_>,
        s: &Session,
        rt: &Runtime,
        change: Change,
    ) -> Result<Vec<String>, CsoError> {
        let party = rt.emsp.as_ref().map(PartyRef::to_key);
        let partitions: Vec<&str> = std::iter::once(ALL).chain(party.as_deref()).collect();
        SESSIONS.put(tx, &skey(s.id.as_str()), s, &partitions)?;
        Self::save_runtime(tx, s.id.as_str(), rt)?;
        let Some(emsp) = &rt.emsp else {
            return Ok(Vec::new());
        };
        let op = change.op(s)?;
        Ok(Outbox::push_to_owner(
            &self.core,
            tx,
            emsp,
            &SessionAddress::of(s),
            op,
        )?)
    }

    /// Stores the runtime of a session alone (a change the CSP does not see).
    pub(super) fn save_runtime(tx: &mut Tx<'_>, id: &str, rt: &Runtime) -> Result<(), CsoError> {
        Ok(RUNTIMES.put(tx, skey(id), rt)?)
    }

    /// Indexes a session that starts charging: by its transaction, as the EVSE's current session and
    /// as the last charging session there.
    pub(super) fn index_start(
        tx: &mut Tx<'_>,
        transaction_id: &str,
        location: &LocationId,
        evse: &EvseUid,
        id: &SessionId,
    ) {
        let (ek, sk) = (evse_key(location, evse), skey(id.as_str()));
        tx.put(BY_TRANSACTION, transaction_id.as_bytes().to_vec(), sk.clone());
        tx.put(BY_EVSE, ek.clone(), sk.clone());
        tx.put(LAST_ON_EVSE, ek, sk);
    }

    /// Indexes a reservation session as the EVSE's current session.
    pub(super) fn index_reserved(tx: &mut Tx<'_>, location: &LocationId, evse: &EvseUid, id: &SessionId) {
        tx.put(BY_EVSE, evse_key(location, evse), skey(id.as_str()));
    }

    /// Removes `s` as its EVSE's current session; `false` when it was not (the EVSE has moved on).
    pub(super) fn unindex_evse(tx: &mut Tx<'_>, s: &Session) -> Result<bool, CsoError> {
        let ek = evse_key(&s.location_id, &s.evse_uid);
        if tx.get(BY_EVSE, &ek)?.as_deref() != Some(skey(s.id.as_str()).as_slice()) {
            return Ok(false);
        }
        tx.delete(BY_EVSE, ek);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_unique_and_valid() {
        let a = new_session_id();
        let b = new_session_id();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 21);
    }
}
