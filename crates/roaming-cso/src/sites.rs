//! The CSO's sites and tariffs (UC1-2, UC1-3, UC2-1): the store of record, the operator's writes,
//! and the pushes they cause.
//!
//! Every write is one transaction: read the current object, apply the change, check it strictly
//! (our own data must follow every OCPI rule), bump parents' `last_updated` (T-82), store it, and queue
//! one push per registered CSP that offers the matching receiver interface (PUT for new or replaced
//! objects, PATCH for changes, DELETE for deleted tariffs). The change and its pushes are in the same
//! atomic batch, so a crash can lose neither without the other. Private locations (`publish=false`)
//! are never pushed or served (LOC-03).

use std::sync::Arc;

use roaming_peer::endpoint::Core;
use roaming_peer::outbox::{Fallback, Outbox, Push, PushOp};
use roaming_peer::store::collection::{Collection, StoredDoc};
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

/// Locations: key = lower-case location id; partitions `all` and, when published with a valid EVSE,
/// `pub`.
pub const LOCATIONS: Collection = Collection::new("cso_locations", "cso_locations_idx");
/// Tariffs: key = lower-case tariff id; partitions `all` and `pub`.
pub const TARIFFS: Collection = Collection::new("cso_tariffs", "cso_tariffs_idx");

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

impl Sites {
    /// Sites over the endpoint's store.
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
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
    pub async fn import_locations(&self, docs: &[&RawValue]) -> Result<usize, CsoError> {
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
        for part in checked.chunks(IMPORT_BATCH) {
            let w = self.core.store.transact(|tx| {
                let mut woken = Vec::new();
                for json in part {
                    let loc: Location = serde_json::from_slice(json).map_err(CsoError::internal)?;
                    woken.extend(self.store_location(tx, &loc, None)?);
                }
                Ok::<_, CsoError>(woken)
            })?;
            woken.extend(w);
        }
        self.commit(woken.into_iter().collect()).await?;
        tracing::info!(count = n, "locations imported");
        Ok(n)
    }

    fn store_location(
        &self,
        tx: &mut Tx<'_>,
        loc: &Location,
        patch: Option<Map<String, Value>>,
    ) -> Result<Vec<String>, CsoError> {
        let before: Option<Location> = LOCATIONS
            .get_tx(tx, &key(loc.id.as_str()))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()?;
        LOCATIONS.put(tx, &key(loc.id.as_str()), &location_doc(loc)?)?;
        // A full PUT when the operator replaced the object; PATCH bodies otherwise.
        let patch = if before.is_none() { None } else { patch };
        self.push_location(tx, before.as_ref(), loc, patch)
    }

    /// Creates or replaces one location (full replace, T-91).
    pub async fn put_location(&self, id: &str, mut v: Value) -> Result<Location, CsoError> {
        prefill(
            &mut v,
            Some(self.party()),
            &Self::now_text(),
            &["evses", "connectors"],
        );
        let loc: Location = strict(v, "").map_err(CsoError::Import)?;
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
            .transact(|tx| self.store_location(tx, &loc, None))?;
        self.commit(woken).await?;
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
            let woken = self.store_location(tx, &loc, Some(body))?;
            Ok::<_, CsoError>((loc, woken))
        })?;
        self.commit(woken).await?;
        Ok(loc)
    }

    fn location_tx(&self, tx: &Tx<'_>, id: &str) -> Result<Location, CsoError> {
        LOCATIONS
            .get_tx(tx, &key(id))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()?
            .ok_or_else(|| CsoError::NotFound(format!("no location {id}")))
    }

    /// Stores a changed EVSE or connector of `loc` (already modified) and queues `op` on the child URL.
    fn store_child(
        &self,
        tx: &mut Tx<'_>,
        before: &Location,
        loc: &mut Location,
        evse: &EvseUid,
        connector: Option<&ConnectorId>,
        op: PushOp,
    ) -> Result<Vec<String>, CsoError> {
        // T-82: the child's last_updated bumps its EVSE and the location.
        let t = loc.evse(evse).map(|e| {
            connector
                .and_then(|c| e.connector(c))
                .map_or(e.last_updated, |c| c.last_updated.max(e.last_updated))
        });
        if let Some(t) = t {
            loc.touch_evse(evse, t);
        }
        self.check_location(loc, "").map_err(CsoError::Import)?;
        LOCATIONS.put(tx, &key(loc.id.as_str()), &location_doc(loc)?)?;
        match (is_public(before), is_public(loc)) {
            (true, true) => self.enqueue(
                tx,
                &ModuleId::Locations,
                location_push(self.party(), &loc.id, Some(evse), connector, op),
            ),
            // Visibility changed: handled at location level.
            _ => self.push_location(tx, Some(before), loc, None),
        }
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
        let woken = self.core.store.transact(|tx| {
            let before = self.location_tx(tx, location_id)?;
            let mut loc = before.clone();
            match loc.evse_mut(&evse.uid) {
                Some(e) => *e = evse.clone(),
                None => loc.evses.push(evse.clone()),
            }
            let body = serde_json::to_value(&evse).map_err(CsoError::internal)?;
            self.store_child(tx, &before, &mut loc, &evse.uid, None, PushOp::Put { body })
        })?;
        self.commit(woken).await?;
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
            let evse = evse.clone();
            let woken = self.store_child(tx, &before, &mut loc, &uid, None, PushOp::Patch { body })?;
            Ok::<_, CsoError>((evse, woken))
        })?;
        self.commit(woken).await?;
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
        self.store_child(tx, &before, &mut loc, uid, None, PushOp::Patch { body })
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
        let woken = self.core.store.transact(|tx| {
            let before = self.location_tx(tx, location_id)?;
            let mut loc = before.clone();
            let evse = loc
                .evse_mut(&uid)
                .ok_or_else(|| CsoError::NotFound(format!("no EVSE {uid} at {location_id}")))?;
            match evse.connector_mut(&c.id) {
                Some(x) => *x = c.clone(),
                None => evse.connectors.push(c.clone()),
            }
            let body = serde_json::to_value(&c).map_err(CsoError::internal)?;
            self.store_child(tx, &before, &mut loc, &uid, Some(&c.id), PushOp::Put { body })
        })?;
        self.commit(woken).await?;
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
            let c = c.clone();
            let woken = self.store_child(tx, &before, &mut loc, &uid, Some(&cid), PushOp::Patch { body })?;
            Ok::<_, CsoError>((c, woken))
        })?;
        self.commit(woken).await?;
        Ok(c)
    }

    /// Imports a JSON array of tariffs, all or nothing.
    pub async fn import_tariffs(&self, docs: &[&RawValue]) -> Result<usize, CsoError> {
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
        let woken = self.core.store.transact(|tx| {
            let mut woken = Vec::new();
            for t in &parsed {
                woken.extend(self.store_tariff(tx, t)?);
            }
            Ok::<_, CsoError>(woken)
        })?;
        self.commit(woken).await?;
        tracing::info!(count = n, "tariffs imported");
        Ok(n)
    }

    fn store_tariff(&self, tx: &mut Tx<'_>, t: &Tariff) -> Result<Vec<String>, CsoError> {
        TARIFFS.put(tx, &key(t.id.as_str()), &tariff_doc(t)?)?;
        let body = serde_json::to_value(t).map_err(CsoError::internal)?;
        self.enqueue(
            tx,
            &ModuleId::Tariffs,
            tariff_push(self.party(), &t.id, PushOp::Put { body }),
        )
    }

    /// Creates or replaces one tariff.
    pub async fn put_tariff(&self, id: &str, mut v: Value) -> Result<Tariff, CsoError> {
        prefill(&mut v, Some(self.party()), &Self::now_text(), &[]);
        let t: Tariff = strict(v, "").map_err(CsoError::Import)?;
        if !t.id.as_str().eq_ignore_ascii_case(id) {
            return Err(CsoError::Invalid(format!(
                "the URL names tariff {id}, the body {}",
                t.id
            )));
        }
        self.check_tariff(&t, "").map_err(CsoError::Import)?;
        let woken = self.core.store.transact(|tx| self.store_tariff(tx, &t))?;
        self.commit(woken).await?;
        Ok(t)
    }

    /// Deletes a tariff and pushes the DELETE (UC2-1). Tariffs still referenced by a connector are
    /// refused: the spec recommends unreferencing them first (§9.1).
    pub async fn delete_tariff(&self, id: &str) -> Result<(), CsoError> {
        let tid = TariffId::new(id).map_err(|e| CsoError::Invalid(e.to_string()))?;
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
