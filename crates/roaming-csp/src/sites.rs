//! The CSP's copy of the CSOs' sites and tariffs (UC1-2, UC1-3, UC2-1, UC2-2), written by the
//! Receiver interfaces and by pulls, read by the operator API's search.
//!
//! Objects are stored per owner (`<cc>/<pid>/<id>`, lower case) as the JSON received, after the
//! receiver rules: an update older than the stored object is ignored, a child change bumps its
//! parents' `last_updated` (T-82). An in-memory summary of every location (coordinates, EVSE statuses,
//! connector standards and power) answers searches without reading the store.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use roaming_peer::stamps::StampPolicy;
use roaming_peer::store::collection::StoredDoc;
use roaming_peer::store::{StoreError, StoreHandle, Tx};
use roaming_types::DateTime;
use roaming_types::ids::PartyRef;
use roaming_types::modules::locations::{ConnectorType, Location, Status};
use roaming_types::modules::tariffs::Tariff;
use serde::{Deserialize, Serialize};

pub use crate::keyspaces::{LOCATIONS, TARIFFS};

/// The store key of an object of `owner`.
pub fn object_key(owner: &PartyRef, id: &str) -> Vec<u8> {
    format!("{}/{}", owner.to_key(), id.to_ascii_lowercase()).into_bytes()
}

/// The key prefix of every object of `owner`.
pub fn owner_prefix(owner: &PartyRef) -> Vec<u8> {
    format!("{}/", owner.to_key()).into_bytes()
}

fn doc<T: Serialize>(last_updated: DateTime, v: &T) -> Result<StoredDoc, StoreError> {
    Ok(StoredDoc {
        last_updated,
        partitions: vec!["all".to_owned()],
        json: serde_json::to_vec(v).map_err(|e| StoreError::Corrupt {
            space: roaming_peer::store::Space("csp_locations"),
            message: e.to_string(),
        })?,
    })
}

fn decode<T: serde::de::DeserializeOwned>(d: &StoredDoc) -> Result<T, StoreError> {
    serde_json::from_slice(&d.json).map_err(|e| StoreError::Corrupt {
        space: roaming_peer::store::Space("csp_locations"),
        message: e.to_string(),
    })
}

/// What a search needs to know of one location.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Owner.
    pub owner: PartyRef,
    /// Location id.
    pub id: String,
    /// Whether it may be shown (LOC-03) and has a valid EVSE (LOC-02).
    pub visible: bool,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Per EVSE: status, and per connector: standard and maximum power in W.
    pub evses: Vec<(Status, Vec<(ConnectorType, u64)>)>,
}

impl Summary {
    fn of(loc: &Location) -> Self {
        // Coordinates are for distance filters only: f64 is precise enough (money never is f64).
        let deg = |d: rust_decimal::Decimal| -> f64 { d.to_string().parse().unwrap_or(0.0) };
        Self {
            owner: loc.party(),
            id: loc.id.as_str().to_owned(),
            visible: loc.publish && loc.has_valid_evse(),
            lat: deg(loc.coordinates.latitude.value()),
            lon: deg(loc.coordinates.longitude.value()),
            evses: loc
                .evses
                .iter()
                .map(|e| {
                    (
                        e.status.clone(),
                        e.connectors
                            .iter()
                            .map(|c| (c.standard.clone(), c.max_power_w()))
                            .collect(),
                    )
                })
                .collect(),
        }
    }
}

/// A search (every field optional; all given ones must hold).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Search {
    /// `min_lat,min_lon,max_lat,max_lon`.
    pub bbox: Option<String>,
    /// `lat,lon` of the centre of a radius search.
    pub near: Option<String>,
    /// Radius in km around `near` (default 10).
    pub radius_km: Option<f64>,
    /// At least one EVSE with this status.
    pub status: Option<String>,
    /// At least one connector of this standard.
    pub standard: Option<String>,
    /// At least one connector with this power or more, in kW.
    pub min_power_kw: Option<f64>,
    /// Only this owner (`CC-PID`).
    pub party: Option<String>,
    /// Include locations that may not be shown (unpublished, no valid EVSE).
    #[serde(default)]
    pub include_hidden: bool,
    /// Page offset.
    pub offset: Option<usize>,
    /// Page size (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// A search's matches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResult {
    /// All matches.
    pub total: usize,
    /// This page, ordered by distance when `near` is given, else by owner and id.
    pub locations: Vec<Location>,
}

fn pair(s: &str, what: &str) -> Result<Vec<f64>, String> {
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .map_err(|_| format!("{what}: {s:?} is not a list of numbers"))
        })
        .collect()
}

/// Great-circle distance in km.
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1, lat2, lon2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h =
        ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
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
        for (k, d) in LOCATIONS.all(&store, &[])? {
            let loc: Location = decode(&d)?;
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

    /// A stored location.
    pub fn location(&self, owner: &PartyRef, id: &str) -> Result<Option<Location>, StoreError> {
        LOCATIONS
            .get(&self.store, &object_key(owner, id))?
            .map(|d| decode(&d))
            .transpose()
    }

    /// A stored location, in a transaction.
    pub fn location_tx(
        &self,
        tx: &Tx<'_>,
        owner: &PartyRef,
        id: &str,
    ) -> Result<Option<Location>, StoreError> {
        LOCATIONS
            .get_tx(tx, &object_key(owner, id))?
            .map(|d| decode(&d))
            .transpose()
    }

    /// Stores a location in a transaction (the index is updated by [`Sites::indexed`] after commit).
    pub fn put_location_tx(&self, tx: &mut Tx<'_>, loc: &Location) -> Result<(), StoreError> {
        let k = object_key(&loc.party(), loc.id.as_str());
        self.note_write(&k);
        LOCATIONS.put(tx, &k, &doc(loc.last_updated, loc)?)
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
            let w = match self.location_tx(tx, &loc.party(), loc.id.as_str())? {
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
        let stale_locations: Vec<Vec<u8>> = LOCATIONS
            .all(&self.store, &prefix)?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !keep_l.contains(k) && !self.written_after(k, mark))
            .collect();
        let stale_tariffs: Vec<Vec<u8>> = TARIFFS
            .all(&self.store, &prefix)?
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

    /// A stored tariff.
    pub fn tariff(&self, owner: &PartyRef, id: &str) -> Result<Option<Tariff>, StoreError> {
        TARIFFS
            .get(&self.store, &object_key(owner, id))?
            .map(|d| decode(&d))
            .transpose()
    }

    /// Every tariff of an owner (or of everyone).
    pub fn tariffs(&self, owner: Option<&PartyRef>) -> Result<Vec<Tariff>, StoreError> {
        let prefix = owner.map(owner_prefix).unwrap_or_default();
        TARIFFS
            .all(&self.store, &prefix)?
            .iter()
            .map(|(_, d)| decode(d))
            .collect()
    }

    /// Upserts a tariff unless it is older than the stored one.
    pub fn upsert_tariff(&self, t: &Tariff) -> Result<Write, StoreError> {
        self.store.transact(|tx| {
            let k = object_key(&t.party(), t.id.as_str());
            self.note_write(&k);
            let w = match TARIFFS
                .get_tx(tx, &k)?
                .map(|d| decode::<Tariff>(&d))
                .transpose()?
            {
                Some(old) if self.stamps.held(old.last_updated) > t.last_updated => return Ok(Write::Stale),
                Some(old) if old == *t => return Ok(Write::Unchanged),
                Some(_) => Write::Updated,
                None => Write::Created,
            };
            TARIFFS.put(tx, &k, &doc(t.last_updated, t)?)?;
            Ok(w)
        })
    }

    /// Deletes a tariff; `false` when there was none.
    pub fn delete_tariff(&self, owner: &PartyRef, id: &str) -> Result<bool, StoreError> {
        self.store
            .transact(|tx| TARIFFS.delete(tx, &object_key(owner, id)))
    }

    /// Searches the locations received (UC1-2).
    pub fn search(&self, s: &Search) -> Result<SearchResult, String> {
        let bbox = s.bbox.as_deref().map(|b| pair(b, "bbox")).transpose()?;
        if bbox.as_ref().is_some_and(|b| b.len() != 4) {
            return Err("bbox is min_lat,min_lon,max_lat,max_lon".to_owned());
        }
        let near = s.near.as_deref().map(|n| pair(n, "near")).transpose()?;
        if near.as_ref().is_some_and(|n| n.len() != 2) {
            return Err("near is lat,lon".to_owned());
        }
        let radius = s.radius_km.unwrap_or(10.0);
        let party: Option<PartyRef> = s
            .party
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| format!("party: {e}"))?;
        let status: Option<Status> = s
            .status
            .as_deref()
            .map(|v| v.parse().unwrap_or_else(|e: std::convert::Infallible| match e {}));
        let standard: Option<ConnectorType> = s
            .standard
            .as_deref()
            .map(|v| v.parse().unwrap_or_else(|e: std::convert::Infallible| match e {}));
        let min_w = s.min_power_kw.map(|kw| (kw * 1000.0).max(0.0) as u64);
        let mut hits: Vec<(f64, Vec<u8>)> = Vec::new();
        {
            let index = self
                .index
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (k, e) in index.iter() {
                if !(e.visible || s.include_hidden) {
                    continue;
                }
                if party.as_ref().is_some_and(|p| p != &e.owner) {
                    continue;
                }
                if let Some(b) = &bbox {
                    if e.lat < b[0] || e.lat > b[2] || e.lon < b[1] || e.lon > b[3] {
                        continue;
                    }
                }
                let distance = near.as_ref().map(|n| haversine_km((n[0], n[1]), (e.lat, e.lon)));
                if distance.is_some_and(|d| d > radius) {
                    continue;
                }
                if status
                    .as_ref()
                    .is_some_and(|st| !e.evses.iter().any(|(x, _)| x == st))
                {
                    continue;
                }
                let conn_ok = |(ct, w): &(ConnectorType, u64)| {
                    standard.as_ref().is_none_or(|s| s == ct) && min_w.is_none_or(|m| *w >= m)
                };
                if (standard.is_some() || min_w.is_some())
                    && !e.evses.iter().any(|(_, cs)| cs.iter().any(conn_ok))
                {
                    continue;
                }
                hits.push((distance.unwrap_or(0.0), k.clone()));
            }
        }
        if near.is_some() {
            hits.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        }
        let total = hits.len();
        let offset = s.offset.unwrap_or(0);
        let limit = s.limit.unwrap_or(50).clamp(1, 1000);
        let mut locations = Vec::new();
        for (_, k) in hits.into_iter().skip(offset).take(limit) {
            if let Some(d) = LOCATIONS.get(&self.store, &k).map_err(|e| e.to_string())? {
                locations.push(decode(&d).map_err(|e| e.to_string())?);
            }
        }
        Ok(SearchResult { total, locations })
    }

    /// The number of locations held.
    pub fn count(&self) -> usize {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_oslo_bergen() {
        let d = haversine_km((59.9139, 10.7522), (60.3913, 5.3221));
        assert!((d - 305.0).abs() < 5.0, "{d}");
    }
}
