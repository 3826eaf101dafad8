//! The CSP's copy of the CSOs' sites and tariffs (UC1-2, UC1-3, UC2-1, UC2-2), written by the
//! Receiver interfaces (`crate::ocpi::locations`, `crate::ocpi::tariffs`) and by pulls, read by
//! the operator API's search ([`search`]). Tariffs: [`tariffs`].
//!
//! Objects are stored per owner (`<cc>/<pid>/<id>`, lower case) as the JSON received, after the
//! receiver rules (checklist §6.1, T-80…T-82, T-94): a PATCH or child PUT needs the location (404 +
//! 2003 otherwise) and a PATCH its EVSE or connector (404 + 2001); an update older than the stored
//! object is acknowledged and ignored; a child change bumps its parents' `last_updated` (T-82); a
//! stamp we hold that is more than the clock skew ahead is not trusted ([`Sites::thaw`], #12 item
//! 12). An in-memory summary of every location (coordinates, EVSE statuses, connector standards and
//! power) answers searches without reading the store.
//!
//! Reads: [`location`] and [`tariff`] take the store or a transaction ([`Read`]).

pub mod search;
pub mod tariffs;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use roaming_peer::stamps::StampPolicy;
use roaming_peer::store::{Read, StoreError, StoreHandle, Tx};
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid, PartyRef};
use roaming_types::modules::locations::{
    Connector, ConnectorPatch, Evse, EvsePatch, Location, LocationPatch,
};

use crate::error::CspError;

pub use crate::keyspaces::{LOCATIONS, TARIFFS};
pub use search::{Search, SearchResult, Summary, haversine_km};
pub use tariffs::tariff;

/// The one partition of [`LOCATIONS`] and [`TARIFFS`].
const ALL: &str = "all";

/// The store key of an object of `owner`.
pub fn object_key(owner: &PartyRef, id: &str) -> Vec<u8> {
    format!("{}/{}", owner.to_key(), id.to_ascii_lowercase()).into_bytes()
}

/// The key prefix of every object of `owner`.
pub fn owner_prefix(owner: &PartyRef) -> Vec<u8> {
    format!("{}/", owner.to_key()).into_bytes()
}

/// A location of `owner` we hold, from the store or inside a transaction.
pub fn location<R: Read + ?Sized>(r: &R, owner: &PartyRef, id: &str) -> Result<Option<Location>, StoreError> {
    LOCATIONS.get(r, &object_key(owner, id))
}

/// What a change received for a location did (after it is durable), for the announcement.
#[derive(Debug, Clone)]
pub struct Received {
    /// Created, updated, unchanged or ignored as older.
    pub write: Write,
    /// The location as stored now.
    pub location: Location,
    /// The EVSE the change was about, when it was about one (or one of its connectors).
    pub evse: Option<EvseUid>,
}

fn invalid(e: impl std::fmt::Display) -> CspError {
    CspError::Invalid(e.to_string())
}

fn unknown_location(owner: &PartyRef, id: &str) -> CspError {
    CspError::UnknownLocation(format!(
        "unknown location {owner}/{id}; PUT the location first (T-94)"
    ))
}

fn unknown_evse(uid: &EvseUid) -> CspError {
    CspError::NotFound(format!("unknown EVSE {uid}; PUT it first (T-94)"))
}

/// The CSP's sites.
#[derive(Debug, Clone)]
pub struct Sites {
    store: StoreHandle,
    index: Arc<RwLock<BTreeMap<Vec<u8>, Summary>>>,
    /// When each object was last written (a counter), so that a full pull never removes an object
    /// that a push stored while the pull was running.
    writes: Arc<std::sync::Mutex<BTreeMap<Vec<u8>, u64>>>,
    seq: Arc<std::sync::atomic::AtomicU64>,
    stamps: StampPolicy,
}

pub use roaming_peer::store::Write;

impl Sites {
    /// Loads the search index from the store. `stamps` tells which held stamps are not to be trusted
    /// (more than the clock skew ahead: left by an earlier version, #12 item 12).
    pub fn open(store: StoreHandle, stamps: StampPolicy) -> Result<Self, StoreError> {
        let mut index = BTreeMap::new();
        for (k, loc) in LOCATIONS.all(&store, &[])? {
            index.insert(k, Summary::of(&loc));
        }
        Ok(Self {
            store,
            index: Arc::new(RwLock::new(index)),
            writes: Arc::default(),
            seq: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            stamps,
        })
    }

    /// Thaws a held location before an update is applied to it: stamps more than the clock skew ahead
    /// of our clock (an earlier version accepted them) count for nothing — they become the epoch, and
    /// a thawed parent is as new as its newest child (T-82) — so the update is not ignored as older.
    /// Returns whether anything was thawed.
    pub fn thaw(&self, loc: &mut Location) -> bool {
        let now = DateTime::now();
        let thaw = |t: &mut DateTime| {
            let held = self.stamps.held_at(*t, now);
            let thawed = held != *t;
            *t = held;
            thawed
        };
        let mut any = false;
        for e in &mut loc.evses {
            for c in &mut e.connectors {
                any |= thaw(&mut c.last_updated);
            }
            if thaw(&mut e.last_updated) {
                any = true;
                e.last_updated = e
                    .connectors
                    .iter()
                    .map(|c| c.last_updated)
                    .max()
                    .unwrap_or(e.last_updated);
            }
        }
        if thaw(&mut loc.last_updated) {
            any = true;
            loc.last_updated = loc
                .evses
                .iter()
                .map(|e| e.last_updated)
                .max()
                .unwrap_or(loc.last_updated);
        }
        any
    }

    /// The store.
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// Stores a location in a transaction (the index is updated by [`Sites::indexed`] after commit).
    pub fn put_location_tx(&self, tx: &mut Tx<'_>, loc: &Location) -> Result<(), StoreError> {
        let k = object_key(&loc.party(), loc.id.as_str());
        self.note_write(&k);
        LOCATIONS.put(tx, &k, loc, &[ALL])
    }

    fn note_write(&self, key: &[u8]) {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_vec(), n);
    }

    /// A mark to pass to [`Sites::remove_missing`]: writes after it are kept.
    pub fn write_mark(&self) -> u64 {
        self.seq.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn written_after(&self, key: &[u8], mark: u64) -> bool {
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .is_some_and(|n| *n > mark)
    }

    /// Updates the search index after a committed write.
    pub fn indexed(&self, loc: &Location) {
        let k = object_key(&loc.party(), loc.id.as_str());
        self.index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(k, Summary::of(loc));
    }

    /// Upserts a whole location unless it is older than the stored one.
    pub fn upsert_location(&self, loc: &Location) -> Result<Write, StoreError> {
        let w = self.store.transact(|tx| {
            let w = match location(tx, &loc.party(), loc.id.as_str())? {
                Some(old) if self.stamps.held(old.last_updated) > loc.last_updated => {
                    return Ok(Write::Stale);
                }
                Some(old) if old == *loc => return Ok(Write::Unchanged),
                Some(_) => Write::Updated,
                None => Write::Created,
            };
            self.put_location_tx(tx, loc)?;
            Ok::<_, StoreError>(w)
        })?;
        if w.changed() {
            self.indexed(loc);
        }
        Ok(w)
    }

    /// Removes every location and tariff of `owner` not in `keep` and not written after `mark`
    /// (T-64: after a full pull, what is missing is no longer valid — unless a push brought it while
    /// the pull ran). Returns how many were removed.
    pub fn remove_missing(
        &self,
        owner: &PartyRef,
        keep_locations: &[Vec<u8>],
        keep_tariffs: &[Vec<u8>],
        mark: u64,
    ) -> Result<usize, StoreError> {
        let prefix = owner_prefix(owner);
        let keep_l: std::collections::BTreeSet<&Vec<u8>> = keep_locations.iter().collect();
        let keep_t: std::collections::BTreeSet<&Vec<u8>> = keep_tariffs.iter().collect();
        // Keys only: the stored documents are not decoded.
        let stale_locations: Vec<Vec<u8>> = LOCATIONS
            .all_docs(&self.store, &prefix)?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !keep_l.contains(k) && !self.written_after(k, mark))
            .collect();
        let stale_tariffs: Vec<Vec<u8>> = TARIFFS
            .all_docs(&self.store, &prefix)?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !keep_t.contains(k) && !self.written_after(k, mark))
            .collect();
        let n = stale_locations.len() + stale_tariffs.len();
        if n > 0 {
            self.store.transact(|tx| {
                for k in &stale_locations {
                    LOCATIONS.delete(tx, k)?;
                }
                for k in &stale_tariffs {
                    TARIFFS.delete(tx, k)?;
                }
                Ok::<_, StoreError>(())
            })?;
            let mut index = self
                .index
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for k in &stale_locations {
                index.remove(k);
            }
        }
        Ok(n)
    }

    /// A location as received, for the Receiver GET: 404 + 2003 when we hold none.
    pub fn received_location(&self, owner: &PartyRef, id: &str) -> Result<Location, CspError> {
        location(&self.store, owner, id)?.ok_or_else(|| unknown_location(owner, id))
    }

    /// An EVSE as received (`(location_id, evse_uid)`): 404 + 2003 for the location, 404 + 2001 for
    /// the EVSE.
    pub fn received_evse(&self, owner: &PartyRef, (id, uid): &(String, String)) -> Result<Evse, CspError> {
        let mut loc = self.received_location(owner, id)?;
        let uid = EvseUid::new(uid.as_str()).map_err(invalid)?;
        let at = loc
            .evses
            .iter()
            .position(|e| e.uid == uid)
            .ok_or_else(|| CspError::NotFound(format!("unknown EVSE {uid}")))?;
        Ok(loc.evses.swap_remove(at))
    }

    /// A connector as received (`(location_id, evse_uid, connector_id)`): 404 + 2003 for the
    /// location, 404 + 2001 for the EVSE or connector.
    pub fn received_connector(
        &self,
        owner: &PartyRef,
        (id, uid, cid): &(String, String, String),
    ) -> Result<Connector, CspError> {
        let loc = self.received_location(owner, id)?;
        let uid = EvseUid::new(uid.as_str()).map_err(invalid)?;
        let cid = ConnectorId::new(cid.as_str()).map_err(invalid)?;
        let evse = loc
            .evse(&uid)
            .ok_or_else(|| CspError::NotFound(format!("unknown EVSE {uid}")))?;
        evse.connector(&cid)
            .cloned()
            .ok_or_else(|| CspError::NotFound(format!("unknown connector {cid}")))
    }

    /// A PUT of a whole location: stored unless older than the one held, durable when this returns.
    pub async fn receive_location(&self, loc: Location) -> Result<Received, CspError> {
        let write = self.upsert_location(&loc)?;
        self.store.durable().await?;
        Ok(Received {
            write,
            location: loc,
            evse: None,
        })
    }

    /// A PATCH of a location we hold (T-81: it carries `last_updated`; older ones are ignored).
    pub async fn patch_location(
        &self,
        owner: &PartyRef,
        id: &str,
        patch: LocationPatch,
    ) -> Result<Received, CspError> {
        self.modify(owner, id, None, |loc| {
            if patch.last_updated < loc.last_updated {
                return Ok(Write::Stale);
            }
            loc.apply_patch(patch).map_err(invalid)?;
            Ok(Write::Updated)
        })
        .await
    }

    /// A PUT of an EVSE of a location we hold: replaces or adds it unless older (T-80), and bumps
    /// the location (T-82).
    pub async fn put_evse(
        &self,
        owner: &PartyRef,
        (id, uid): &(String, String),
        evse: Evse,
    ) -> Result<Received, CspError> {
        let uid = EvseUid::new(uid.as_str()).map_err(invalid)?;
        self.modify(owner, id, Some(uid.clone()), |loc| {
            let t = evse.last_updated;
            let w = match loc.evse_mut(&uid) {
                Some(old) if old.last_updated > t => return Ok(Write::Stale),
                Some(old) => {
                    *old = evse;
                    Write::Updated
                }
                None => {
                    loc.evses.push(evse);
                    Write::Created
                }
            };
            loc.touch_evse(&uid, t);
            Ok(w)
        })
        .await
    }

    /// A PATCH of an EVSE we hold (404 + 2001 for one we do not, T-94); bumps the location.
    pub async fn patch_evse(
        &self,
        owner: &PartyRef,
        (id, uid): &(String, String),
        patch: EvsePatch,
    ) -> Result<Received, CspError> {
        let uid = EvseUid::new(uid.as_str()).map_err(invalid)?;
        self.modify(owner, id, Some(uid.clone()), |loc| {
            let t = patch.last_updated;
            let evse = loc.evse_mut(&uid).ok_or_else(|| unknown_evse(&uid))?;
            if t < evse.last_updated {
                return Ok(Write::Stale);
            }
            evse.apply_patch(patch).map_err(invalid)?;
            loc.touch_evse(&uid, t);
            Ok(Write::Updated)
        })
        .await
    }

    /// A PUT of a connector of an EVSE we hold: replaces or adds it unless older, and bumps the EVSE
    /// and the location (T-82).
    pub async fn put_connector(
        &self,
        owner: &PartyRef,
        (id, uid, cid): &(String, String, String),
        connector: Connector,
    ) -> Result<Received, CspError> {
        let uid = EvseUid::new(uid.as_str()).map_err(invalid)?;
        let cid = ConnectorId::new(cid.as_str()).map_err(invalid)?;
        self.modify(owner, id, Some(uid.clone()), |loc| {
            let t = connector.last_updated;
            let evse = loc.evse_mut(&uid).ok_or_else(|| unknown_evse(&uid))?;
            let w = match evse.connector_mut(&cid) {
                Some(old) if old.last_updated > t => return Ok(Write::Stale),
                Some(old) => {
                    *old = connector;
                    Write::Updated
                }
                None => {
                    evse.connectors.push(connector);
                    Write::Created
                }
            };
            loc.touch_evse(&uid, t);
            Ok(w)
        })
        .await
    }

    /// A PATCH of a connector we hold (404 + 2001 for an unknown EVSE or connector, T-94).
    pub async fn patch_connector(
        &self,
        owner: &PartyRef,
        (id, uid, cid): &(String, String, String),
        patch: ConnectorPatch,
    ) -> Result<Received, CspError> {
        let uid = EvseUid::new(uid.as_str()).map_err(invalid)?;
        let cid = ConnectorId::new(cid.as_str()).map_err(invalid)?;
        self.modify(owner, id, Some(uid.clone()), |loc| {
            let t = patch.last_updated;
            let evse = loc.evse_mut(&uid).ok_or_else(|| unknown_evse(&uid))?;
            let c = evse
                .connector_mut(&cid)
                .ok_or_else(|| CspError::NotFound(format!("unknown connector {cid}; PUT it first (T-94)")))?;
            if t < c.last_updated {
                return Ok(Write::Stale);
            }
            c.apply_patch(patch).map_err(invalid)?;
            loc.touch_evse(&uid, t);
            Ok(Write::Updated)
        })
        .await
    }

    /// A read-modify-write of a held location in one transaction: its stamps thawed first, `change`
    /// says what it did; written only when it changed, durable and indexed before this returns.
    async fn modify(
        &self,
        owner: &PartyRef,
        id: &str,
        evse: Option<EvseUid>,
        change: impl FnOnce(&mut Location) -> Result<Write, CspError>,
    ) -> Result<Received, CspError> {
        let (write, location) = self.store.transact(|tx| {
            let mut loc = location(tx, owner, id)?.ok_or_else(|| unknown_location(owner, id))?;
            self.thaw(&mut loc);
            let w = change(&mut loc)?;
            if w.changed() {
                self.put_location_tx(tx, &loc)?;
            }
            Ok::<_, CspError>((w, loc))
        })?;
        self.store.durable().await?;
        if write.changed() {
            self.indexed(&location);
        }
        Ok(Received {
            write,
            location,
            evse,
        })
    }
}
