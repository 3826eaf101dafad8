//! The CSO's sites and tariffs (UC1-2, UC1-3, UC2-1): the store of record, the operator's writes,
//! and the pushes they cause.
//!
//! Every write is one transaction: read the current object, apply the change, check it strictly
//! (our own data must follow every OCPI rule), bump parents' `last_updated` (T-82), store it, and queue
//! one push per registered CSP that offers the matching receiver interface (PUT for new or replaced
//! objects, PATCH for changes, DELETE for deleted tariffs). The change and its pushes are in the same
//! atomic batch, so a crash can lose neither without the other. Private locations (`publish=false`)
//! are never pushed or served (LOC-03).
//!
//! The CSO is the clock of its own objects. A receiver ignores an update older than what it holds
//! (T-80: `last_updated` is the time of the last change), so a change whose `last_updated` came from an
//! operator's file and is not newer than the stored version would be stored here and dropped by every
//! CSP, and they would differ for good. So before a write (`stamp_location`, `stamp_child`,
//! `stamp_tariff`): no new `last_updated` is later than now; an object (location, EVSE, connector,
//! tariff) that changed is stamped newer than the version it replaces unless the operator's value
//! already is; and a write that changes nothing but time stamps is not stored and not pushed
//! (re-importing the same file is a no-op).

use std::sync::Arc;

use roaming_peer::core::Core;
use roaming_peer::outbox::{Fallback, Outbox, Push, PushOp};
use roaming_peer::store::collection::StoredDoc;
use roaming_peer::store::{StoreError, Tx};
use roaming_types::DateTime;
use roaming_types::decode::{DecodeOptions, decode_value};
use roaming_types::ids::{ConnectorId, EvseUid, LocationId, PartyRef, TariffId};
use roaming_types::modules::locations::{
    Connector, ConnectorPatch, Evse, EvsePatch, Location, LocationPatch, Status,
};
use roaming_types::modules::tariffs::Tariff;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::error::CsoError;

pub use crate::keyspaces::{LOCATIONS, TARIFFS};

/// Objects per write batch of an import.
const IMPORT_BATCH: usize = 500;

/// The partition every peer may pull.
pub const PUBLIC: &str = "pub";
/// The operator's view.
pub const ALL: &str = "all";

/// One problem of an import, with the JSON path of the offending value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportProblem {
    /// JSON path, e.g. `[3].evses[0].connectors[1].standard`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Whether the location is served and pushed: published with at least one valid EVSE (LOC-02, LOC-03).
pub fn is_public(loc: &Location) -> bool {
    loc.publish && loc.has_valid_evse()
}

fn location_doc(loc: &Location) -> Result<StoredDoc, CsoError> {
    let mut partitions = vec![ALL.to_owned()];
    if is_public(loc) {
        partitions.push(PUBLIC.to_owned());
    }
    Ok(StoredDoc {
        last_updated: loc.last_updated,
        partitions,
        json: serde_json::to_vec(loc).map_err(CsoError::internal)?,
    })
}

fn tariff_doc(t: &Tariff) -> Result<StoredDoc, CsoError> {
    Ok(StoredDoc {
        last_updated: t.last_updated,
        partitions: vec![ALL.to_owned(), PUBLIC.to_owned()],
        json: serde_json::to_vec(t).map_err(CsoError::internal)?,
    })
}

fn key(id: &str) -> Vec<u8> {
    id.to_ascii_lowercase().into_bytes()
}

/// Fills what the operator may leave out: our `country_code`/`party_id` and `last_updated` (now), on
/// the object and, for locations, on every EVSE and connector.
fn prefill(v: &mut Value, party: Option<&PartyRef>, now: &str, nested: &[&str]) {
    let Some(obj) = v.as_object_mut() else { return };
    if let Some(p) = party {
        obj.entry("country_code")
            .or_insert_with(|| json!(p.country_code.as_str()));
        obj.entry("party_id")
            .or_insert_with(|| json!(p.party_id.as_str()));
    }
    obj.entry("last_updated").or_insert_with(|| json!(now));
    if let Some((first, rest)) = nested.split_first() {
        if let Some(Value::Array(children)) = obj.get_mut(*first) {
            for c in children {
                prefill(c, None, now, rest);
            }
        }
    }
}

fn strict<T: serde::de::DeserializeOwned>(v: Value, path_prefix: &str) -> Result<T, Vec<ImportProblem>> {
    decode_value::<T>(v, DecodeOptions::STRICT)
        .map(|d| d.value)
        .map_err(|e| {
            let sep = if e.path.is_empty() || path_prefix.is_empty() || e.path.starts_with('[') {
                ""
            } else {
                "."
            };
            vec![ImportProblem {
                path: format!("{path_prefix}{sep}{}", e.path),
                message: e.message,
            }]
        })
}

fn problem(path: &str, e: impl std::fmt::Display) -> Vec<ImportProblem> {
    vec![ImportProblem {
        path: path.to_owned(),
        message: e.to_string(),
    }]
}

/// The CSO's sites and tariffs.
#[derive(Debug, Clone)]
pub struct Sites {
    core: Arc<Core>,
    free_tariff_id: TariffId,
}

/// The id of the free-of-charge tariff unless `cso.free_tariff_id` says otherwise.
pub const FREE_TARIFF_ID: &str = "FREE";

/// The earliest time stamp strictly newer than `before`, and not earlier than `now`.
fn newer_than(before: DateTime, now: DateTime) -> DateTime {
    now.max(before.plus(chrono::Duration::milliseconds(1)))
}

/// A copy of `loc` with every time stamp set to one value: what is left is the content.
fn untimed_location(loc: &Location) -> Location {
    let mut l = loc.clone();
    l.last_updated = DateTime::UNIX_EPOCH;
    for e in &mut l.evses {
        untime_evse(e);
    }
    l
}

/// Sets every time stamp of `e` (its own and its connectors') to one value.
fn untime_evse(e: &mut Evse) {
    e.last_updated = DateTime::UNIX_EPOCH;
    for c in &mut e.connectors {
        c.last_updated = DateTime::UNIX_EPOCH;
    }
}

/// Whether `e` differs from `old` in anything but time stamps.
fn evse_changed(old: &Evse, e: &Evse) -> bool {
    let (mut a, mut b) = (old.clone(), e.clone());
    untime_evse(&mut a);
    untime_evse(&mut b);
    a != b
}

/// The stamp of one object (location, EVSE, connector or tariff) under the CSO's clock: a new object
/// keeps the operator's stamp unless it is later than now; an unchanged one keeps its stored stamp; a
/// changed one keeps the operator's stamp only if it lies after the stored one and not after now, and
/// is otherwise stamped newer than the stored one.
fn stamp(supplied: DateTime, stored: Option<DateTime>, changed: bool, now: DateTime) -> DateTime {
    match stored {
        None => supplied.min(now),
        Some(b) if !changed => b,
        Some(b) if supplied > b && supplied <= now => supplied,
        Some(b) => newer_than(b, now),
    }
}

/// Gives each connector of `e` its `stamp` against the same connector of `old`.
fn stamp_connectors(e: &mut Evse, old: Option<&Evse>, now: DateTime) {
    for c in &mut e.connectors {
        let old = old.and_then(|o| o.connector(&c.id));
        let changed = old.is_none_or(|o| {
            let mut same = c.clone();
            same.last_updated = o.last_updated;
            same != *o
        });
        c.last_updated = stamp(c.last_updated, old.map(|o| o.last_updated), changed, now);
    }
}

/// Applies the CSO's clock (module docs) to `loc`, about to replace `before` (or to be created): each
/// connector, EVSE and the location itself gets its `stamp`, then parents are made at least as new
/// as their children (T-82). Returns `false` when `loc` differs from `before` only in time stamps: then
/// nothing is to be stored or pushed.
fn stamp_location(before: Option<&Location>, loc: &mut Location, now: DateTime) -> bool {
    let changed = before.is_none_or(|b| untimed_location(b) != untimed_location(loc));
    if !changed {
        return false;
    }
    for e in &mut loc.evses {
        let old_evse = before.and_then(|b| b.evse(&e.uid));
        stamp_connectors(e, old_evse, now);
        let e_changed = old_evse.is_none_or(|o| evse_changed(o, e));
        e.last_updated = stamp(e.last_updated, old_evse.map(|o| o.last_updated), e_changed, now);
        for c in &e.connectors {
            e.last_updated = e.last_updated.max(c.last_updated);
        }
    }
    loc.last_updated = stamp(loc.last_updated, before.map(|b| b.last_updated), true, now);
    for e in &loc.evses {
        loc.last_updated = loc.last_updated.max(e.last_updated);
    }
    true
}

/// The CSO's clock for a change of one EVSE or connector of `loc` (already applied; `before` is the
/// stored location): the changed object gets its `stamp`, its parents are bumped to it and no
/// further (T-82), exactly as a receiver bumps them when the child's PUT or PATCH arrives. Returns
/// `false` when nothing but time stamps changed.
fn stamp_child(
    before: &Location,
    loc: &mut Location,
    uid: &EvseUid,
    connector: Option<&ConnectorId>,
    now: DateTime,
) -> bool {
    // Only this EVSE (or one of its connectors) was changed by the caller.
    let old_evse = before.evse(uid);
    let Some(e) = loc.evse_mut(uid) else { return true };
    if old_evse.is_some_and(|o| !evse_changed(o, e)) {
        return false;
    }
    let t = match connector.and_then(|id| e.connectors.iter_mut().find(|c| c.id == *id)) {
        Some(c) => {
            let old = old_evse.and_then(|o| o.connector(&c.id)).map(|o| o.last_updated);
            c.last_updated = stamp(c.last_updated, old, true, now);
            c.last_updated
        }
        None => {
            // The EVSE as a whole, with its connectors (a receiver stores them as they are sent).
            stamp_connectors(e, old_evse, now);
            let newest_connector = e.connectors.iter().map(|c| c.last_updated).max();
            e.last_updated = stamp(e.last_updated, old_evse.map(|o| o.last_updated), true, now);
            e.last_updated = e.last_updated.max(newest_connector.unwrap_or(e.last_updated));
            e.last_updated
        }
    };
    loc.touch_evse(uid, t);
    true
}

/// The same clock for a tariff: returns `false` when `t` differs from `before` only in `last_updated`.
fn stamp_tariff(before: Option<&Tariff>, t: &mut Tariff, now: DateTime) -> bool {
    let changed = before.is_none_or(|b| {
        let mut same = t.clone();
        same.last_updated = b.last_updated;
        same != *b
    });
    if changed {
        t.last_updated = stamp(t.last_updated, before.map(|b| b.last_updated), true, now);
    }
    changed
}

/// The CSPs a push goes to: peers offering `module` as `role`.
fn targets(core: &Core, module: &ModuleId, role: &InterfaceRole) -> Result<Vec<String>, StoreError> {
    Ok(core
        .peers
        .all()?
        .iter()
        .filter(|p| p.endpoint(module, role).is_some())
        .map(|p| p.id.clone())
        .collect())
}

/// How an EVSE or connector changed: replaced (pushed as PUT) or patched with the operator's body
/// (pushed as PATCH).
enum ChildChange {
    Replaced,
    Patched(Map<String, Value>),
}

fn stored_evse(loc: &Location, uid: &EvseUid) -> Result<Evse, CsoError> {
    loc.evse(uid)
        .cloned()
        .ok_or_else(|| CsoError::internal(format!("EVSE {uid} vanished from {}", loc.id)))
}

fn stored_connector(loc: &Location, uid: &EvseUid, id: &ConnectorId) -> Result<Connector, CsoError> {
    loc.evse(uid)
        .and_then(|e| e.connector(id))
        .cloned()
        .ok_or_else(|| CsoError::internal(format!("connector {id} vanished from {uid}")))
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportCount {
    /// Objects in the file, all accepted.
    pub imported: usize,
    /// Of those, how many differed from the stored version only in time stamps, or not at all: not
    /// stored again and not pushed.
    pub unchanged: usize,
}

impl Sites {
    /// Sites over the endpoint's store; the free-of-charge tariff's id comes from
    /// `cso.free_tariff_id`.
    pub fn new(core: Arc<Core>) -> Result<Self, roaming_peer::config::ConfigError> {
        let id = core.config.role("cso.free_tariff_id").unwrap_or(FREE_TARIFF_ID);
        let free_tariff_id = TariffId::new(id.trim()).map_err(|e| roaming_peer::config::ConfigError {
            key: "cso.free_tariff_id".to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self { core, free_tariff_id })
    }

    /// The id of the free-of-charge tariff.
    pub fn free_tariff_id(&self) -> &TariffId {
        &self.free_tariff_id
    }

    /// The free-of-charge tariff as published (§9.3 item 11: one element, one FLAT component at 0),
    /// which prices — and is referred to by — every session on a connector without a tariff
    /// (LOC-08: "for free, point to an explicit free tariff"; the CDR's `tariffs` and periods then
    /// name a tariff every CSP holds).
    pub fn free_tariff(&self) -> Result<Tariff, CsoError> {
        match self.tariff(self.free_tariff_id.as_str())? {
            Some(t) => Ok(t),
            None => self.new_free_tariff(DateTime::now()),
        }
    }

    fn new_free_tariff(&self, at: DateTime) -> Result<Tariff, CsoError> {
        let currency = self.core.config.role("cso.currency").unwrap_or("EUR");
        let mut t = Tariff::free(self.party(), self.free_tariff_id.clone(), currency, at)
            .map_err(|e| CsoError::Invalid(format!("cso.currency: {e}")))?;
        t.tariff_alt_text = roaming_types::modules::types::DisplayText::new("en", "Free of charge")
            .map(|d| vec![d])
            .unwrap_or_default();
        Ok(t)
    }

    /// Publishes the free-of-charge tariff (stored and pushed like any other) unless it exists; the
    /// operator may replace it with their own version under the same id.
    pub async fn ensure_free_tariff(&self) -> Result<(), CsoError> {
        if self.tariff(self.free_tariff_id.as_str())?.is_some() {
            return Ok(());
        }
        let mut t = self.new_free_tariff(DateTime::now())?;
        self.check_tariff(&t, "").map_err(CsoError::Import)?;
        let woken = self.core.store.transact(|tx| self.store_tariff(tx, &mut t))?;
        self.commit(woken.unwrap_or_default()).await?;
        tracing::info!(tariff = %t.id, "free-of-charge tariff published");
        Ok(())
    }

    fn party(&self) -> &PartyRef {
        &self.core.config.party
    }

    fn now_text() -> String {
        DateTime::now().to_string()
    }

    /// Checks a location we are about to store: ours, and every OCPI rule.
    fn check_location(&self, loc: &Location, path: &str) -> Result<(), Vec<ImportProblem>> {
        if loc.party() != *self.party() {
            return Err(problem(
                path,
                format!(
                    "country_code/party_id {} are not ours ({})",
                    loc.party(),
                    self.party()
                ),
            ));
        }
        loc.validate().map_err(|e| problem(path, e))
    }

    fn check_tariff(&self, t: &Tariff, path: &str) -> Result<(), Vec<ImportProblem>> {
        if t.party() != *self.party() {
            return Err(problem(
                path,
                format!(
                    "country_code/party_id {} are not ours ({})",
                    t.party(),
                    self.party()
                ),
            ));
        }
        t.validate().map_err(|e| problem(path, e))
    }

    /// Queues a push of a location-level change to every CSP with a locations receiver.
    fn push_location(
        &self,
        tx: &mut Tx<'_>,
        before: Option<&Location>,
        after: &Location,
        patch: Option<Map<String, Value>>,
    ) -> Result<Vec<String>, CsoError> {
        let was_public = before.is_some_and(is_public);
        let now_public = is_public(after);
        let op = match (was_public, now_public, patch) {
            (false, false, _) => return Ok(Vec::new()),
            // Newly visible: the full object.
            (false, true, _) | (true, true, None) => PushOp::Put {
                body: serde_json::to_value(after).map_err(CsoError::internal)?,
            },
            (true, true, Some(p)) => PushOp::Patch { body: p },
            // No longer visible: tell the CSP (LOC-02/LOC-03) with the fields that hide it.
            (true, false, _) => {
                let mut body = Map::new();
                body.insert("publish".to_owned(), json!(after.publish));
                if !after.has_valid_evse() {
                    body.insert(
                        "evses".to_owned(),
                        serde_json::to_value(&after.evses).map_err(CsoError::internal)?,
                    );
                }
                body.insert("last_updated".to_owned(), json!(after.last_updated));
                PushOp::Patch { body }
            }
        };
        self.enqueue(
            tx,
            &ModuleId::Locations,
            location_push(self.party(), &after.id, None, None, op),
        )
    }

    fn enqueue(&self, tx: &mut Tx<'_>, module: &ModuleId, push: Push) -> Result<Vec<String>, CsoError> {
        let peers = targets(&self.core, module, &InterfaceRole::Receiver)?;
        for p in &peers {
            Outbox::enqueue(tx, p, push.clone())?;
        }
        Ok(peers)
    }

    async fn commit(&self, woken: Vec<String>) -> Result<(), CsoError> {
        Ok(self.core.commit(woken).await?)
    }

    /// A location in the operator's view (private ones included).
    pub fn location(&self, id: &str) -> Result<Option<Location>, CsoError> {
        LOCATIONS
            .get(&self.core.store, &key(id))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()
    }

    /// Every location (operator view).
    pub fn locations(&self) -> Result<Vec<Location>, CsoError> {
        LOCATIONS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, d)| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .collect()
    }

    /// A tariff.
    pub fn tariff(&self, id: &str) -> Result<Option<Tariff>, CsoError> {
        TARIFFS
            .get(&self.core.store, &key(id))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()
    }

    /// Every tariff.
    pub fn tariffs(&self) -> Result<Vec<Tariff>, CsoError> {
        TARIFFS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, d)| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .collect()
    }

    /// Imports a JSON array of locations: every object is checked strictly first and either all are
    /// stored (created or replaced, each pushed) or none (`Err` lists every problem with its path).
    pub async fn import_locations(&self, docs: &[&RawValue]) -> Result<ImportCount, CsoError> {
        let now = Self::now_text();
        let mut problems = Vec::new();
        // Checked objects are kept as JSON, not as structs: a large import stays small in memory.
        let mut checked: Vec<Vec<u8>> = Vec::with_capacity(docs.len());
        let mut ids = std::collections::BTreeSet::new();
        for (i, raw) in docs.iter().enumerate() {
            let path = format!("[{i}]");
            // One element at a time: a whole file as serde_json::Value would take many times its size.
            let mut v: Value = serde_json::from_str(raw.get()).map_err(CsoError::internal)?;
            prefill(&mut v, Some(self.party()), &now, &["evses", "connectors"]);
            match strict::<Location>(v, &path).and_then(|l| self.check_location(&l, &path).map(|()| l)) {
                Ok(l) if !ids.insert(l.id.to_key()) => problems.push(ImportProblem {
                    path: format!("{path}.id"),
                    message: format!("location {} appears twice", l.id),
                }),
                Ok(l) => checked.push(serde_json::to_vec(&l).map_err(CsoError::internal)?),
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(CsoError::Import(problems));
        }
        let n = checked.len();
        // Every object passed the checks, so nothing of the file can be refused any more. The writes go
        // in batches of IMPORT_BATCH objects: one batch of a whole large file makes sled hold several
        // times its size in memory. Only a storage failure could stop the import midway, and importing
        // the same file again then completes it (every write is a full replace).
        let mut woken = std::collections::BTreeSet::new();
        let mut unchanged = 0;
        for part in checked.chunks(IMPORT_BATCH) {
            let w = self.core.store.transact(|tx| {
                let mut woken = Vec::new();
                let mut same = 0;
                for json in part {
                    let mut loc: Location = serde_json::from_slice(json).map_err(CsoError::internal)?;
                    match self.store_location(tx, &mut loc, None)? {
                        Some(w) => woken.extend(w),
                        None => same += 1,
                    }
                }
                Ok::<_, CsoError>((woken, same))
            })?;
            woken.extend(w.0);
            unchanged += w.1;
        }
        self.commit(woken.into_iter().collect()).await?;
        tracing::info!(count = n, unchanged, "locations imported");
        Ok(ImportCount {
            imported: n,
            unchanged,
        })
    }

    /// Stores `loc` (stamped by `stamp_location`) and queues its push; `patch` is the operator's PATCH
    /// body when the change was one. `None` when nothing but time stamps changed: nothing is stored,
    /// and `loc` becomes the stored version.
    fn store_location(
        &self,
        tx: &mut Tx<'_>,
        loc: &mut Location,
        patch: Option<Map<String, Value>>,
    ) -> Result<Option<Vec<String>>, CsoError> {
        let before: Option<Location> = LOCATIONS
            .get_tx(tx, &key(loc.id.as_str()))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()?;
        if !stamp_location(before.as_ref(), loc, DateTime::now()) {
            if let Some(b) = before {
                *loc = b;
            }
            return Ok(None);
        }
        LOCATIONS.put(tx, &key(loc.id.as_str()), &location_doc(loc)?)?;
        // A full PUT when the operator replaced the object; PATCH bodies otherwise, with the stamped
        // time stamps.
        let patch = match (&before, patch) {
            (Some(_), Some(mut p)) => {
                p.insert("last_updated".to_owned(), json!(loc.last_updated));
                if p.contains_key("evses") {
                    p.insert(
                        "evses".to_owned(),
                        serde_json::to_value(&loc.evses).map_err(CsoError::internal)?,
                    );
                }
                Some(p)
            }
            _ => None,
        };
        self.push_location(tx, before.as_ref(), loc, patch).map(Some)
    }

    /// Creates or replaces one location (full replace, T-91).
    pub async fn put_location(&self, id: &str, mut v: Value) -> Result<Location, CsoError> {
        prefill(
            &mut v,
            Some(self.party()),
            &Self::now_text(),
            &["evses", "connectors"],
        );
        let mut loc: Location = strict(v, "").map_err(CsoError::Import)?;
        if !loc.id.as_str().eq_ignore_ascii_case(id) {
            return Err(CsoError::Invalid(format!(
                "the URL names location {id}, the body {}",
                loc.id
            )));
        }
        self.check_location(&loc, "").map_err(CsoError::Import)?;
        let woken = self
            .core
            .store
            .transact(|tx| self.store_location(tx, &mut loc, None))?;
        self.commit(woken.unwrap_or_default()).await?;
        Ok(loc)
    }

    /// Changes fields of a location (T-92).
    pub async fn patch_location(&self, id: &str, mut v: Value) -> Result<Location, CsoError> {
        prefill(&mut v, None, &Self::now_text(), &[]);
        let body = v
            .as_object()
            .cloned()
            .ok_or_else(|| CsoError::Invalid("a PATCH body is a JSON object".to_owned()))?;
        let patch: LocationPatch = strict(v, "").map_err(CsoError::Import)?;
        let (loc, woken) = self.core.store.transact(|tx| {
            let mut loc = self.location_tx(tx, id)?;
            loc.apply_patch(patch)
                .map_err(|e| CsoError::Invalid(e.to_string()))?;
            self.check_location(&loc, "").map_err(CsoError::Import)?;
            let woken = self.store_location(tx, &mut loc, Some(body))?;
            Ok::<_, CsoError>((loc, woken))
        })?;
        self.commit(woken.unwrap_or_default()).await?;
        Ok(loc)
    }

    fn location_tx(&self, tx: &Tx<'_>, id: &str) -> Result<Location, CsoError> {
        LOCATIONS
            .get_tx(tx, &key(id))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()?
            .ok_or_else(|| CsoError::NotFound(format!("no location {id}")))
    }

    /// Stores a changed EVSE or connector of `loc` (already modified; stamped here, which also bumps
    /// its parents, T-82) and queues its push on the child URL. `None` when nothing but time stamps
    /// changed: nothing is stored, and `loc` is `before` again.
    fn store_child(
        &self,
        tx: &mut Tx<'_>,
        before: &Location,
        loc: &mut Location,
        evse: &EvseUid,
        connector: Option<&ConnectorId>,
        change: ChildChange,
    ) -> Result<Option<Vec<String>>, CsoError> {
        if !stamp_child(before, loc, evse, connector, DateTime::now()) {
            *loc = before.clone();
            return Ok(None);
        }
        self.check_location(loc, "").map_err(CsoError::Import)?;
        LOCATIONS.put(tx, &key(loc.id.as_str()), &location_doc(loc)?)?;
        let e = loc
            .evse(evse)
            .ok_or_else(|| CsoError::internal(format!("EVSE {evse} vanished from {}", loc.id)))?;
        let c = match connector {
            Some(c) => Some(
                e.connector(c)
                    .ok_or_else(|| CsoError::internal(format!("connector {c} vanished from {evse}")))?,
            ),
            None => None,
        };
        let last_updated = c.map_or(e.last_updated, |c| c.last_updated);
        let op = match change {
            // Serialised only when it is sent whole: a status change is the hot path.
            ChildChange::Replaced => PushOp::Put {
                body: match c {
                    Some(c) => serde_json::to_value(c),
                    None => serde_json::to_value(e),
                }
                .map_err(CsoError::internal)?,
            },
            ChildChange::Patched(mut body) => {
                body.insert("last_updated".to_owned(), json!(last_updated));
                if connector.is_none() && body.contains_key("connectors") {
                    // With the stamps the CSO stored, not the operator's.
                    body.insert(
                        "connectors".to_owned(),
                        serde_json::to_value(&e.connectors).map_err(CsoError::internal)?,
                    );
                }
                PushOp::Patch { body }
            }
        };
        let woken = match (is_public(before), is_public(loc)) {
            (true, true) => self.enqueue(
                tx,
                &ModuleId::Locations,
                location_push(self.party(), &loc.id, Some(evse), connector, op),
            ),
            // Visibility changed: handled at location level.
            _ => self.push_location(tx, Some(before), loc, None),
        }?;
        Ok(Some(woken))
    }

    /// Creates or replaces an EVSE of a location.
    pub async fn put_evse(&self, location_id: &str, uid: &str, mut v: Value) -> Result<Evse, CsoError> {
        prefill(&mut v, None, &Self::now_text(), &["connectors"]);
        let evse: Evse = strict(v, "").map_err(CsoError::Import)?;
        if !evse.uid.as_str().eq_ignore_ascii_case(uid) {
            return Err(CsoError::Invalid(format!(
                "the URL names EVSE {uid}, the body {}",
                evse.uid
            )));
        }
        let (evse, woken) = self.core.store.transact(|tx| {
            let before = self.location_tx(tx, location_id)?;
            let mut loc = before.clone();
            match loc.evse_mut(&evse.uid) {
                Some(e) => *e = evse.clone(),
                None => loc.evses.push(evse.clone()),
            }
            let woken = self.store_child(tx, &before, &mut loc, &evse.uid, None, ChildChange::Replaced)?;
            Ok::<_, CsoError>((stored_evse(&loc, &evse.uid)?, woken))
        })?;
        self.commit(woken.unwrap_or_default()).await?;
        Ok(evse)
    }

    /// Changes fields of an EVSE (a status change is a PATCH of `status` + `last_updated`, UC1-3).
    pub async fn patch_evse(&self, location_id: &str, uid: &str, mut v: Value) -> Result<Evse, CsoError> {
        prefill(&mut v, None, &Self::now_text(), &[]);
        let body = v
            .as_object()
            .cloned()
            .ok_or_else(|| CsoError::Invalid("a PATCH body is a JSON object".to_owned()))?;
        let patch: EvsePatch = strict(v, "").map_err(CsoError::Import)?;
        let uid = EvseUid::new(uid).map_err(|e| CsoError::Invalid(e.to_string()))?;
        let (evse, woken) = self.core.store.transact(|tx| {
            let before = self.location_tx(tx, location_id)?;
            let mut loc = before.clone();
            let evse = loc
                .evse_mut(&uid)
                .ok_or_else(|| CsoError::NotFound(format!("no EVSE {uid} at {location_id}")))?;
            evse.apply_patch(patch)
                .map_err(|e| CsoError::Invalid(e.to_string()))?;
            let woken = self.store_child(tx, &before, &mut loc, &uid, None, ChildChange::Patched(body))?;
            Ok::<_, CsoError>((stored_evse(&loc, &uid)?, woken))
        })?;
        self.commit(woken.unwrap_or_default()).await?;
        Ok(evse)
    }

    /// Sets the status of an EVSE inside a transaction (sessions and reservations move EVSEs between
    /// AVAILABLE, CHARGING and RESERVED); a PATCH of `status` is queued for every CSP. Returns the peers
    /// to wake; nothing when the status is already `status`.
    pub fn set_status_tx(
        &self,
        tx: &mut Tx<'_>,
        location_id: &str,
        uid: &EvseUid,
        status: Status,
    ) -> Result<Vec<String>, CsoError> {
        let before = self.location_tx(tx, location_id)?;
        let mut loc = before.clone();
        let evse = loc
            .evse_mut(uid)
            .ok_or_else(|| CsoError::NotFound(format!("no EVSE {uid} at {location_id}")))?;
        if evse.status == status {
            return Ok(Vec::new());
        }
        let now = DateTime::now();
        evse.status = status.clone();
        evse.last_updated = now;
        let mut body = Map::new();
        body.insert("status".to_owned(), json!(status));
        body.insert("last_updated".to_owned(), json!(now));
        Ok(self
            .store_child(tx, &before, &mut loc, uid, None, ChildChange::Patched(body))?
            .unwrap_or_default())
    }

    /// A location inside a transaction (operator view).
    pub fn location_in(&self, tx: &Tx<'_>, id: &str) -> Result<Option<Location>, CsoError> {
        LOCATIONS
            .get_tx(tx, &key(id))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()
    }

    /// Sets the status of an EVSE (UC1-3).
    pub async fn set_status(&self, location_id: &str, uid: &str, status: Status) -> Result<Evse, CsoError> {
        self.patch_evse(location_id, uid, json!({ "status": status }))
            .await
    }

    /// Creates or replaces a connector.
    pub async fn put_connector(
        &self,
        location_id: &str,
        uid: &str,
        connector_id: &str,
        mut v: Value,
    ) -> Result<Connector, CsoError> {
        prefill(&mut v, None, &Self::now_text(), &[]);
        let c: Connector = strict(v, "").map_err(CsoError::Import)?;
        if !c.id.as_str().eq_ignore_ascii_case(connector_id) {
            return Err(CsoError::Invalid(format!(
                "the URL names connector {connector_id}, the body {}",
                c.id
            )));
        }
        let uid = EvseUid::new(uid).map_err(|e| CsoError::Invalid(e.to_string()))?;
        let (c, woken) = self.core.store.transact(|tx| {
            let before = self.location_tx(tx, location_id)?;
            let mut loc = before.clone();
            let evse = loc
                .evse_mut(&uid)
                .ok_or_else(|| CsoError::NotFound(format!("no EVSE {uid} at {location_id}")))?;
            match evse.connector_mut(&c.id) {
                Some(x) => *x = c.clone(),
                None => evse.connectors.push(c.clone()),
            }
            let woken = self.store_child(tx, &before, &mut loc, &uid, Some(&c.id), ChildChange::Replaced)?;
            Ok::<_, CsoError>((stored_connector(&loc, &uid, &c.id)?, woken))
        })?;
        self.commit(woken.unwrap_or_default()).await?;
        Ok(c)
    }

    /// Changes fields of a connector (e.g. its `tariff_ids`, UC2-1).
    pub async fn patch_connector(
        &self,
        location_id: &str,
        uid: &str,
        connector_id: &str,
        mut v: Value,
    ) -> Result<Connector, CsoError> {
        prefill(&mut v, None, &Self::now_text(), &[]);
        let body = v
            .as_object()
            .cloned()
            .ok_or_else(|| CsoError::Invalid("a PATCH body is a JSON object".to_owned()))?;
        let patch: ConnectorPatch = strict(v, "").map_err(CsoError::Import)?;
        let uid = EvseUid::new(uid).map_err(|e| CsoError::Invalid(e.to_string()))?;
        let cid = ConnectorId::new(connector_id).map_err(|e| CsoError::Invalid(e.to_string()))?;
        let (c, woken) = self.core.store.transact(|tx| {
            let before = self.location_tx(tx, location_id)?;
            let mut loc = before.clone();
            let evse = loc
                .evse_mut(&uid)
                .ok_or_else(|| CsoError::NotFound(format!("no EVSE {uid} at {location_id}")))?;
            let c = evse
                .connector_mut(&cid)
                .ok_or_else(|| CsoError::NotFound(format!("no connector {cid} on EVSE {uid}")))?;
            c.apply_patch(patch)
                .map_err(|e| CsoError::Invalid(e.to_string()))?;
            let woken = self.store_child(
                tx,
                &before,
                &mut loc,
                &uid,
                Some(&cid),
                ChildChange::Patched(body),
            )?;
            Ok::<_, CsoError>((stored_connector(&loc, &uid, &cid)?, woken))
        })?;
        self.commit(woken.unwrap_or_default()).await?;
        Ok(c)
    }

    /// Imports a JSON array of tariffs, all or nothing.
    pub async fn import_tariffs(&self, docs: &[&RawValue]) -> Result<ImportCount, CsoError> {
        let now = Self::now_text();
        let mut problems = Vec::new();
        let mut parsed = Vec::with_capacity(docs.len());
        for (i, raw) in docs.iter().enumerate() {
            let path = format!("[{i}]");
            let mut v: Value = serde_json::from_str(raw.get()).map_err(CsoError::internal)?;
            prefill(&mut v, Some(self.party()), &now, &[]);
            match strict::<Tariff>(v, &path).and_then(|t| self.check_tariff(&t, &path).map(|()| t)) {
                Ok(t) => parsed.push(t),
                Err(p) => problems.extend(p),
            }
        }
        for (i, t) in parsed.iter().enumerate() {
            if parsed[..i].iter().any(|u| u.id == t.id) {
                problems.push(ImportProblem {
                    path: format!("[{i}].id"),
                    message: format!("tariff {} appears twice", t.id),
                });
            }
        }
        if !problems.is_empty() {
            return Err(CsoError::Import(problems));
        }
        let n = parsed.len();
        let (woken, unchanged) = self.core.store.transact(|tx| {
            let mut woken = Vec::new();
            let mut unchanged = 0;
            for t in &mut parsed {
                match self.store_tariff(tx, t)? {
                    Some(w) => woken.extend(w),
                    None => unchanged += 1,
                }
            }
            Ok::<_, CsoError>((woken, unchanged))
        })?;
        self.commit(woken).await?;
        tracing::info!(count = n, unchanged, "tariffs imported");
        Ok(ImportCount {
            imported: n,
            unchanged,
        })
    }

    /// Stores `t` (stamped by `stamp_tariff`) and queues its PUT. `None` when nothing but
    /// `last_updated` changed: nothing is stored, and `t` becomes the stored version.
    fn store_tariff(&self, tx: &mut Tx<'_>, t: &mut Tariff) -> Result<Option<Vec<String>>, CsoError> {
        let before: Option<Tariff> = TARIFFS
            .get_tx(tx, &key(t.id.as_str()))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()?;
        if !stamp_tariff(before.as_ref(), t, DateTime::now()) {
            if let Some(b) = before {
                *t = b;
            }
            return Ok(None);
        }
        TARIFFS.put(tx, &key(t.id.as_str()), &tariff_doc(t)?)?;
        let body = serde_json::to_value(&*t).map_err(CsoError::internal)?;
        self.enqueue(
            tx,
            &ModuleId::Tariffs,
            tariff_push(self.party(), &t.id, PushOp::Put { body }),
        )
        .map(Some)
    }

    /// Creates or replaces one tariff.
    pub async fn put_tariff(&self, id: &str, mut v: Value) -> Result<Tariff, CsoError> {
        prefill(&mut v, Some(self.party()), &Self::now_text(), &[]);
        let mut t: Tariff = strict(v, "").map_err(CsoError::Import)?;
        if !t.id.as_str().eq_ignore_ascii_case(id) {
            return Err(CsoError::Invalid(format!(
                "the URL names tariff {id}, the body {}",
                t.id
            )));
        }
        self.check_tariff(&t, "").map_err(CsoError::Import)?;
        let woken = self.core.store.transact(|tx| self.store_tariff(tx, &mut t))?;
        self.commit(woken.unwrap_or_default()).await?;
        Ok(t)
    }

    /// Deletes a tariff and pushes the DELETE (UC2-1). Tariffs still referenced by a connector are
    /// refused: the spec recommends unreferencing them first (§9.1).
    pub async fn delete_tariff(&self, id: &str) -> Result<(), CsoError> {
        let tid = TariffId::new(id).map_err(|e| CsoError::Invalid(e.to_string()))?;
        if tid == self.free_tariff_id {
            return Err(CsoError::Conflict(format!(
                "tariff {id} is the free-of-charge tariff that the CDRs of unpriced sessions refer to; it cannot be deleted (replace it instead)"
            )));
        }
        let users: Vec<String> = self
            .locations()?
            .iter()
            .flat_map(|l| {
                l.evses
                    .iter()
                    .flat_map(move |e| e.connectors.iter().map(move |c| (l, e, c)))
            })
            .filter(|(_, _, c)| c.tariff_ids.contains(&tid))
            .map(|(l, e, c)| format!("{}/{}/{}", l.id, e.uid, c.id))
            .collect();
        if !users.is_empty() {
            return Err(CsoError::Conflict(format!(
                "tariff {id} is still used by connectors {}",
                users.join(", ")
            )));
        }
        let woken = self.core.store.transact(|tx| {
            if !TARIFFS.delete(tx, &key(id))? {
                return Err(CsoError::NotFound(format!("no tariff {id}")));
            }
            self.enqueue(
                tx,
                &ModuleId::Tariffs,
                tariff_push(self.party(), &tid, PushOp::Delete),
            )
        })?;
        self.commit(woken).await
    }
}

/// The push of a location, EVSE or connector; the object key is the OCPI URL path.
pub fn location_push(
    party: &PartyRef,
    id: &LocationId,
    evse: Option<&EvseUid>,
    connector: Option<&ConnectorId>,
    op: PushOp,
) -> Push {
    let mut path = vec![
        party.country_code.to_upper(),
        party.party_id.to_upper(),
        id.as_str().to_owned(),
    ];
    let mut object = format!("locations/{}", id.to_key());
    if let Some(e) = evse {
        path.push(e.as_str().to_owned());
        object.push('/');
        object.push_str(&e.to_key());
    }
    if let Some(c) = connector {
        path.push(c.as_str().to_owned());
        object.push('/');
        object.push_str(&c.to_key());
    }
    Push {
        object,
        module: ModuleId::Locations,
        role: InterfaceRole::Receiver,
        path,
        op,
        to: None,
        query: Vec::new(),
        group: None,
        appended: Vec::new(),
    }
}

/// The push of a tariff.
pub fn tariff_push(party: &PartyRef, id: &TariffId, op: PushOp) -> Push {
    Push {
        object: format!("tariffs/{}", id.to_key()),
        module: ModuleId::Tariffs,
        role: InterfaceRole::Receiver,
        path: vec![
            party.country_code.to_upper(),
            party.party_id.to_upper(),
            id.as_str().to_owned(),
        ],
        op,
        to: None,
        query: Vec::new(),
        group: None,
        appended: Vec::new(),
    }
}

/// T-94 fallback: when a CSP does not know an object we PATCHed (or the parent of a child we PUT),
/// PUT the full object, or its location.
#[derive(Debug)]
pub struct SitesFallback {
    // Not the Core: the Core holds the fallback, and a cycle would keep the store open forever.
    store: roaming_peer::store::StoreHandle,
    party: PartyRef,
}

impl SitesFallback {
    /// A fallback over the store.
    pub fn new(core: &Core) -> Self {
        Self {
            store: core.store.clone(),
            party: core.config.party.clone(),
        }
    }
}

impl Fallback for SitesFallback {
    fn full_put(&self, push: &Push, parent_unknown: bool) -> Result<Option<Push>, StoreError> {
        if push.module != ModuleId::Locations || push.path.len() < 3 {
            return Ok(None);
        }
        let Some(doc) = LOCATIONS.get(&self.store, &key(&push.path[2]))? else {
            return Ok(None);
        };
        let loc: Location = serde_json::from_slice(&doc.json).map_err(|e| StoreError::Corrupt {
            space: roaming_peer::store::Space("cso_locations"),
            message: e.to_string(),
        })?;
        if !is_public(&loc) {
            return Ok(None);
        }
        let party = self.party.clone();
        let evse = push.path.get(3).and_then(|u| EvseUid::new(u.as_str()).ok());
        let connector = push.path.get(4).and_then(|c| ConnectorId::new(c.as_str()).ok());
        let full = match (evse, connector, parent_unknown) {
            // The location itself, or the parent of a child that could not be placed.
            (None, _, _) | (Some(_), None, true) => Some(location_push(
                &party,
                &loc.id,
                None,
                None,
                PushOp::Put { body: to_value(&loc) },
            )),
            (Some(e), None, false) => loc
                .evse(&e)
                .map(|x| location_push(&party, &loc.id, Some(&e), None, PushOp::Put { body: to_value(x) })),
            (Some(e), Some(_), true) => loc
                .evse(&e)
                .map(|x| location_push(&party, &loc.id, Some(&e), None, PushOp::Put { body: to_value(x) })),
            (Some(e), Some(c), false) => loc.evse(&e).and_then(|x| x.connector(&c)).map(|x| {
                location_push(
                    &party,
                    &loc.id,
                    Some(&e),
                    Some(&c),
                    PushOp::Put { body: to_value(x) },
                )
            }),
        };
        Ok(full)
    }
}

/// A location object as JSON (they cannot fail to serialise: no maps with non-string keys).
fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(ms: i64) -> DateTime {
        DateTime::from_ymd_hms(2026, 6, 1, 12, 0, 0)
            .map(|t| t.plus(chrono::Duration::milliseconds(ms)))
            .expect("a valid date")
    }

    /// A location with two EVSEs of two connectors each, every time stamp `t`.
    fn site(t: DateTime) -> Location {
        let connector = |id: &str| {
            json!({ "id": id, "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                    "max_voltage": 230, "max_amperage": 32, "last_updated": t })
        };
        let evse = |uid: &str| {
            json!({ "uid": uid, "status": "AVAILABLE", "last_updated": t,
                    "connectors": [connector("1"), connector("2")] })
        };
        serde_json::from_value(json!({
            "country_code": "NL", "party_id": "CSO", "id": "L1", "publish": true,
            "address": "Prinsengracht 1", "city": "Amsterdam", "country": "NLD",
            "coordinates": { "latitude": "52.370000", "longitude": "4.890000" },
            "time_zone": "Europe/Amsterdam", "last_updated": t,
            "evses": [evse("E1"), evse("E2")]
        }))
        .expect("a valid location")
    }

    /// T-82 holds: the location is at least as new as its EVSEs, an EVSE as its connectors.
    fn parents_not_older(l: &Location) -> bool {
        l.evses.iter().all(|e| {
            e.last_updated <= l.last_updated && e.connectors.iter().all(|c| c.last_updated <= e.last_updated)
        })
    }

    #[test]
    fn an_older_stamp_on_a_changed_site_is_replaced_by_a_newer_one() {
        let before = site(at(0));
        let mut after = site(at(-60_000));
        after.name = Some("Renamed".parse().expect("a valid name"));
        assert!(stamp_location(Some(&before), &mut after, at(5_000)));
        assert_eq!(after.last_updated, at(5_000));
        // The EVSEs did not change: they keep their stored stamps.
        assert!(after.evses.iter().all(|e| e.last_updated == at(0)));
    }

    #[test]
    fn the_changed_evse_and_connector_are_newer_than_before_even_if_the_clock_is_behind() {
        let before = site(at(10_000));
        let mut after = before.clone();
        after.evses[1].connectors[0].max_amperage = 16;
        assert!(stamp_location(Some(&before), &mut after, at(0)));
        let newer = at(10_001);
        assert_eq!(after.evses[1].connectors[0].last_updated, newer);
        assert_eq!(after.evses[1].last_updated, newer);
        assert_eq!(after.last_updated, newer);
        assert_eq!(
            after.evses[0].last_updated,
            at(10_000),
            "the other EVSE did not change"
        );
        assert_eq!(after.evses[1].connectors[1].last_updated, at(10_000));
    }

    #[test]
    fn a_child_change_bumps_its_parents_no_further_than_a_receiver_does() {
        let mut before = site(at(0));
        before.last_updated = at(20_000);
        // A status change while the CSO's clock is behind the stored EVSE stamp.
        let mut loc = before.clone();
        let uid = EvseUid::new("E1").expect("uid");
        loc.evses[0].status = Status::Charging;
        loc.evses[0].last_updated = at(-5_000);
        assert!(stamp_child(&before, &mut loc, &uid, None, at(-1_000)));
        assert_eq!(loc.evses[0].last_updated, at(1), "newer than the stored EVSE");
        assert_eq!(loc.last_updated, at(20_000), "the location only follows (T-82)");
        // A connector change: the connector is newer, its EVSE and location follow it.
        let before = loc.clone();
        let cid = ConnectorId::new("2").expect("id");
        loc.evses[0].connectors[1].max_amperage = 16;
        assert!(stamp_child(&before, &mut loc, &uid, Some(&cid), at(30_000)));
        assert_eq!(loc.evses[0].connectors[1].last_updated, at(30_000));
        assert_eq!(loc.evses[0].last_updated, at(30_000));
        assert_eq!(loc.last_updated, at(30_000));
        assert_eq!(loc.evses[0].connectors[0].last_updated, at(0));
        // Nothing but stamps: no change.
        let before = loc.clone();
        loc.evses[0].connectors[1].last_updated = at(40_000);
        assert!(!stamp_child(&before, &mut loc, &uid, Some(&cid), at(50_000)));
    }

    #[test]
    fn a_change_of_time_stamps_only_is_no_change() {
        let before = site(at(0));
        let mut after = site(at(99_000));
        assert!(!stamp_location(Some(&before), &mut after, at(100_000)));
    }

    #[test]
    fn stamps_in_the_future_become_now_on_a_new_site() {
        let mut l = site(at(3_600_000));
        assert!(stamp_location(None, &mut l, at(0)));
        assert_eq!(l.last_updated, at(0));
        assert!(l.evses.iter().all(|e| e.last_updated == at(0)));
    }

    #[test]
    fn tariffs_follow_the_same_clock() {
        let t = |lu: DateTime, price: &str| -> Tariff {
            serde_json::from_value(json!({
                "country_code": "NL", "party_id": "CSO", "id": "T1", "currency": "EUR",
                "elements": [{ "price_components": [{ "type": "ENERGY", "price": price, "step_size": 1 }] }],
                "last_updated": lu
            }))
            .expect("a valid tariff")
        };
        let before = t(at(0), "0.30");
        let mut same = t(at(50_000), "0.30");
        assert!(!stamp_tariff(Some(&before), &mut same, at(60_000)));
        let mut older = t(at(-1_000), "0.35");
        assert!(stamp_tariff(Some(&before), &mut older, at(60_000)));
        assert_eq!(older.last_updated, at(60_000));
        let mut future = t(at(999_999), "0.40");
        assert!(stamp_tariff(Some(&before), &mut future, at(60_000)));
        assert_eq!(future.last_updated, at(60_000));
    }

    proptest! {
        /// Whatever the operator's stamps and the clock: nothing is later than now unless it must be
        /// newer than a stored stamp, every changed object is newer than its stored version, unchanged
        /// content is no change, and stamping the result again changes nothing (T-80, T-82).
        #[test]
        fn the_cso_clock(
            before_ms in -100_000i64..100_000,
            stamps in proptest::collection::vec(-200_000i64..200_000, 7),
            now_ms in -100_000i64..100_000,
            change_site in any::<bool>(),
            change_evse in proptest::option::of(0usize..2),
            change_connector in proptest::option::of((0usize..2, 0usize..2)),
        ) {
            let before = site(at(before_ms));
            let mut after = before.clone();
            after.last_updated = at(stamps[0]);
            for (i, e) in after.evses.iter_mut().enumerate() {
                e.last_updated = at(stamps[1 + i]);
                for (j, c) in e.connectors.iter_mut().enumerate() {
                    c.last_updated = at(stamps[3 + 2 * i + j]);
                }
            }
            if change_site {
                after.name = Some("Renamed".parse().expect("a valid name"));
            }
            if let Some(i) = change_evse {
                after.evses[i].status = Status::Charging;
            }
            if let Some((i, j)) = change_connector {
                after.evses[i].connectors[j].max_amperage = 16;
            }
            let changed = change_site || change_evse.is_some() || change_connector.is_some();
            let now = at(now_ms);
            prop_assert_eq!(stamp_location(Some(&before), &mut after, now), changed);
            if changed {
                let limit = now.max(at(before_ms + 1));
                prop_assert!(after.last_updated > before.last_updated);
                prop_assert!(after.last_updated <= limit);
                prop_assert!(parents_not_older(&after));
                if let Some(i) = change_evse {
                    prop_assert!(after.evses[i].last_updated > before.evses[i].last_updated);
                }
                if let Some((i, j)) = change_connector {
                    prop_assert!(after.evses[i].connectors[j].last_updated > before.evses[i].connectors[j].last_updated);
                }
                for (i, e) in after.evses.iter().enumerate() {
                    prop_assert!(e.last_updated <= limit);
                    let touched = change_evse == Some(i) || change_connector.is_some_and(|(k, _)| k == i);
                    if !touched {
                        prop_assert_eq!(e.last_updated, before.evses[i].last_updated, "unchanged EVSE");
                    }
                }
                let mut again = after.clone();
                prop_assert!(!stamp_location(Some(&after), &mut again, now));
            }
        }
    }
}
