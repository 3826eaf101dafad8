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
//! CSP, and they would differ for good. So before a write (`clock`): no new `last_updated` is later
//! than now; an object (location, EVSE, connector, tariff) that changed is stamped newer than the
//! version it replaces unless the operator's value already is; and a write that changes nothing but
//! time stamps is not stored and not pushed (re-importing the same file is a no-op).
//!
//! Here: the [`Sites`] service, its typed reads and the writes of single objects. Apart:
//! - `clock`: the stamping above;
//! - `import`: the operator's input (prefill, strict decoding with JSON paths) and the bulk imports;
//! - `push`: the push addresses ([`LocationAddress`], [`TariffAddress`]) and the operation a change
//!   becomes;
//! - `fallback`: the T-94 full PUT ([`SitesFallback`]).

mod clock;
mod fallback;
mod import;
mod push;

use std::sync::Arc;

use roaming_peer::core::Core;
use roaming_peer::outbox::{Outbox, PushOp};
use roaming_peer::store::{Read, Tx};
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid, LocationId, PartyRef, TariffId};
use roaming_types::modules::locations::{
    Connector, ConnectorPatch, Evse, EvsePatch, Location, LocationPatch, Status,
};
use roaming_types::modules::tariffs::Tariff;
use serde_json::{Map, Value};

use self::clock::{stamp_child, stamp_location, stamp_tariff};
use self::import::{now_text, prefill, problem, strict};
use self::push::{ChildChange, child_op, location_op, to_json};
use crate::error::{CsoError, ImportProblem};

pub use self::fallback::SitesFallback;
pub use self::import::ImportCount;
pub use self::push::{LocationAddress, TariffAddress};
pub use crate::keyspaces::{LOCATIONS, TARIFFS};

/// The partition every peer may pull.
pub const PUBLIC: &str = "pub";
/// The operator's view.
pub const ALL: &str = "all";

/// The id of the free-of-charge tariff unless `cso.free_tariff_id` says otherwise.
pub const FREE_TARIFF_ID: &str = "FREE";

/// Whether the location is served and pushed: published with at least one valid EVSE (LOC-02, LOC-03).
pub fn is_public(loc: &Location) -> bool {
    loc.publish && loc.has_valid_evse()
}

/// The partitions a location is indexed in: the operator's view, and the public one when it is public.
fn location_partitions(loc: &Location) -> &'static [&'static str] {
    if is_public(loc) { &[ALL, PUBLIC] } else { &[ALL] }
}

/// The store key of a location or tariff id.
fn key(id: &str) -> Vec<u8> {
    id.to_ascii_lowercase().into_bytes()
}

/// The CSO's sites and tariffs.
#[derive(Debug, Clone)]
pub struct Sites {
    core: Arc<Core>,
    free_tariff_id: TariffId,
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

/// The EVSE `uid` of `loc`, to change.
fn evse_mut<'a>(loc: &'a mut Location, location_id: &str, uid: &EvseUid) -> Result<&'a mut Evse, CsoError> {
    loc.evse_mut(uid)
        .ok_or_else(|| CsoError::NotFound(format!("no EVSE {uid} at {location_id}")))
}

/// A PATCH body as the operator sent it (with the `last_updated` that `prefill` added).
fn patch_body(v: &Value) -> Result<Map<String, Value>, CsoError> {
    v.as_object()
        .cloned()
        .ok_or_else(|| CsoError::Invalid("a PATCH body is a JSON object".to_owned()))
}

fn invalid(e: impl std::fmt::Display) -> CsoError {
    CsoError::Invalid(e.to_string())
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

    /// The store the sites are kept in (for the typed reads: `Sites::location(sites.store(), id)`).
    pub fn store(&self) -> &roaming_peer::store::StoreHandle {
        &self.core.store
    }

    /// A location in the operator's view (private ones included), from the store or inside a
    /// transaction.
    pub fn location<R: Read + ?Sized>(r: &R, id: &str) -> Result<Option<Location>, CsoError> {
        Ok(LOCATIONS.get(r, &key(id))?)
    }

    /// Every location (operator view).
    pub fn locations<R: Read + ?Sized>(r: &R) -> Result<Vec<Location>, CsoError> {
        Ok(LOCATIONS.all(r, &[])?.into_iter().map(|(_, l)| l).collect())
    }

    /// A tariff, from the store or inside a transaction.
    pub fn tariff<R: Read + ?Sized>(r: &R, id: &str) -> Result<Option<Tariff>, CsoError> {
        Ok(TARIFFS.get(r, &key(id))?)
    }

    /// Every tariff.
    pub fn tariffs<R: Read + ?Sized>(r: &R) -> Result<Vec<Tariff>, CsoError> {
        Ok(TARIFFS.all(r, &[])?.into_iter().map(|(_, t)| t).collect())
    }

    /// The location to change: `NotFound` when there is none.
    fn existing_location<R: Read + ?Sized>(r: &R, id: &str) -> Result<Location, CsoError> {
        Self::location(r, id)?.ok_or_else(|| CsoError::NotFound(format!("no location {id}")))
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
        match Self::tariff(&self.core.store, self.free_tariff_id.as_str())? {
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
        if Self::tariff(&self.core.store, self.free_tariff_id.as_str())?.is_some() {
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

    /// The address of a location, EVSE or connector of ours.
    fn address<'a>(
        &'a self,
        id: &'a LocationId,
        evse: Option<&'a EvseUid>,
        connector: Option<&'a ConnectorId>,
    ) -> LocationAddress<'a> {
        LocationAddress::new(self.party(), id, evse, connector)
    }

    /// Queues a push of a location-level change to every CSP with a locations receiver.
    fn push_location(
        &self,
        tx: &mut Tx<'_>,
        before: Option<&Location>,
        after: &Location,
        patch: Option<Map<String, Value>>,
    ) -> Result<Vec<String>, CsoError> {
        match location_op(before, after, patch)? {
            Some(op) => Ok(Outbox::push_to_receivers(
                &self.core,
                tx,
                &self.address(&after.id, None, None),
                op,
            )?),
            None => Ok(Vec::new()),
        }
    }

    async fn commit(&self, woken: Vec<String>) -> Result<(), CsoError> {
        Ok(self.core.commit(woken).await?)
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
        let before = Self::location(tx, loc.id.as_str())?;
        if !stamp_location(before.as_ref(), loc, DateTime::now()) {
            if let Some(b) = before {
                *loc = b;
            }
            return Ok(None);
        }
        LOCATIONS.put(tx, &key(loc.id.as_str()), loc, location_partitions(loc))?;
        // A full PUT when the operator replaced the object; PATCH bodies otherwise, with the stamped
        // time stamps.
        let patch = match (&before, patch) {
            (Some(_), Some(mut p)) => {
                p.insert("last_updated".to_owned(), to_json(&loc.last_updated)?);
                if p.contains_key("evses") {
                    p.insert("evses".to_owned(), to_json(&loc.evses)?);
                }
                Some(p)
            }
            _ => None,
        };
        self.push_location(tx, before.as_ref(), loc, patch).map(Some)
    }

    /// Creates or replaces one location (full replace, T-91).
    pub async fn put_location(&self, id: &str, mut v: Value) -> Result<Location, CsoError> {
        prefill(&mut v, Some(self.party()), &now_text(), &["evses", "connectors"]);
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
        prefill(&mut v, None, &now_text(), &[]);
        let body = patch_body(&v)?;
        let patch: LocationPatch = strict(v, "").map_err(CsoError::Import)?;
        let (loc, woken) = self.core.store.transact(|tx| {
            let mut loc = Self::existing_location(tx, id)?;
            loc.apply_patch(patch).map_err(invalid)?;
            self.check_location(&loc, "").map_err(CsoError::Import)?;
            let woken = self.store_location(tx, &mut loc, Some(body))?;
            Ok::<_, CsoError>((loc, woken))
        })?;
        self.commit(woken.unwrap_or_default()).await?;
        Ok(loc)
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
        LOCATIONS.put(tx, &key(loc.id.as_str()), loc, location_partitions(loc))?;
        let woken = match (is_public(before), is_public(loc)) {
            (true, true) => {
                let e = loc
                    .evse(evse)
                    .ok_or_else(|| CsoError::internal(format!("EVSE {evse} vanished from {}", loc.id)))?;
                let c =
                    match connector {
                        Some(c) => Some(e.connector(c).ok_or_else(|| {
                            CsoError::internal(format!("connector {c} vanished from {evse}"))
                        })?),
                        None => None,
                    };
                let address = self.address(&loc.id, Some(evse), connector);
                Outbox::push_to_receivers(&self.core, tx, &address, child_op(e, c, change)?)?
            }
            // Visibility changed: handled at location level.
            _ => self.push_location(tx, Some(before), loc, None)?,
        };
        Ok(Some(woken))
    }

    /// One write of an EVSE or connector in a transaction of its own: `edit` changes the stored location
    /// `location_id`, [`store_child`](Self::store_child) stores it with its push, then the peers are
    /// woken. Returns the location as stored.
    async fn write_child(
        &self,
        location_id: &str,
        uid: &EvseUid,
        connector: Option<&ConnectorId>,
        change: ChildChange,
        edit: impl FnOnce(&mut Location) -> Result<(), CsoError>,
    ) -> Result<Location, CsoError> {
        let (loc, woken) = self.core.store.transact(|tx| {
            let before = Self::existing_location(tx, location_id)?;
            let mut loc = before.clone();
            edit(&mut loc)?;
            let woken = self.store_child(tx, &before, &mut loc, uid, connector, change)?;
            Ok::<_, CsoError>((loc, woken))
        })?;
        self.commit(woken.unwrap_or_default()).await?;
        Ok(loc)
    }

    /// Creates or replaces an EVSE of a location.
    pub async fn put_evse(&self, location_id: &str, uid: &str, mut v: Value) -> Result<Evse, CsoError> {
        prefill(&mut v, None, &now_text(), &["connectors"]);
        let evse: Evse = strict(v, "").map_err(CsoError::Import)?;
        if !evse.uid.as_str().eq_ignore_ascii_case(uid) {
            return Err(CsoError::Invalid(format!(
                "the URL names EVSE {uid}, the body {}",
                evse.uid
            )));
        }
        let uid = evse.uid.clone();
        let loc = self
            .write_child(location_id, &uid, None, ChildChange::Replaced, |loc| {
                match loc.evse_mut(&evse.uid) {
                    Some(e) => *e = evse,
                    None => loc.evses.push(evse),
                }
                Ok(())
            })
            .await?;
        stored_evse(&loc, &uid)
    }

    /// Changes fields of an EVSE (a status alone: [`set_status`](Self::set_status)).
    pub async fn patch_evse(&self, location_id: &str, uid: &str, mut v: Value) -> Result<Evse, CsoError> {
        prefill(&mut v, None, &now_text(), &[]);
        let body = patch_body(&v)?;
        let patch: EvsePatch = strict(v, "").map_err(CsoError::Import)?;
        let uid = EvseUid::new(uid).map_err(invalid)?;
        let change = ChildChange::Patched(body);
        let loc = self
            .write_child(location_id, &uid, None, change, |loc| {
                evse_mut(loc, location_id, &uid)?
                    .apply_patch(patch)
                    .map_err(invalid)
            })
            .await?;
        stored_evse(&loc, &uid)
    }

    /// Sets the status of an EVSE inside a transaction — the one status path: the operator's (UC1-3,
    /// [`set_status`](Self::set_status)) and the sessions' and reservations' (AVAILABLE, CHARGING,
    /// RESERVED). The EVSE is stamped `at` under the CSO's clock, its location follows (T-82), and a
    /// PATCH of `status` and `last_updated` is queued for every CSP that may see the location. Returns
    /// the peers to wake; nothing when the status already is `status`.
    pub fn set_evse_status(
        &self,
        tx: &mut Tx<'_>,
        location: &LocationId,
        evse: &EvseUid,
        status: Status,
        at: DateTime,
    ) -> Result<Vec<String>, CsoError> {
        Ok(self.change_status(tx, location.as_str(), evse, status, at)?.1)
    }

    /// [`set_evse_status`](Self::set_evse_status) for a caller that has read `location` in this
    /// transaction already (a session start): the location is not read again.
    pub fn set_evse_status_of(
        &self,
        tx: &mut Tx<'_>,
        location: &Location,
        evse: &EvseUid,
        status: Status,
        at: DateTime,
    ) -> Result<Vec<String>, CsoError> {
        Ok(self.change_status_of(tx, location, evse, status, at)?.1)
    }

    /// [`set_evse_status`](Self::set_evse_status), also giving the location as stored afterwards.
    fn change_status(
        &self,
        tx: &mut Tx<'_>,
        location_id: &str,
        evse: &EvseUid,
        status: Status,
        at: DateTime,
    ) -> Result<(Location, Vec<String>), CsoError> {
        let before = Self::existing_location(tx, location_id)?;
        self.change_status_of(tx, &before, evse, status, at)
    }

    /// The status change on a location as read in this transaction.
    fn change_status_of(
        &self,
        tx: &mut Tx<'_>,
        before: &Location,
        evse: &EvseUid,
        status: Status,
        at: DateTime,
    ) -> Result<(Location, Vec<String>), CsoError> {
        let location_id = before.id.as_str();
        let mut loc = before.clone();
        let e = evse_mut(&mut loc, location_id, evse)?;
        if e.status == status {
            return Ok((before.clone(), Vec::new()));
        }
        e.status = status;
        e.last_updated = at;
        let woken = self.store_child(tx, before, &mut loc, evse, None, ChildChange::Status)?;
        Ok((loc, woken.unwrap_or_default()))
    }

    /// Sets the status of an EVSE now (UC1-3, the operator's route): [`set_evse_status`](Self::set_evse_status)
    /// in a transaction of its own. Returns the EVSE as stored.
    pub async fn set_status(&self, location_id: &str, uid: &str, status: Status) -> Result<Evse, CsoError> {
        let uid = EvseUid::new(uid).map_err(invalid)?;
        let (evse, woken) = self.core.store.transact(|tx| {
            let (loc, woken) = self.change_status(tx, location_id, &uid, status, DateTime::now())?;
            Ok::<_, CsoError>((stored_evse(&loc, &uid)?, woken))
        })?;
        self.commit(woken).await?;
        Ok(evse)
    }

    /// Creates or replaces a connector.
    pub async fn put_connector(
        &self,
        location_id: &str,
        uid: &str,
        connector_id: &str,
        mut v: Value,
    ) -> Result<Connector, CsoError> {
        prefill(&mut v, None, &now_text(), &[]);
        let c: Connector = strict(v, "").map_err(CsoError::Import)?;
        if !c.id.as_str().eq_ignore_ascii_case(connector_id) {
            return Err(CsoError::Invalid(format!(
                "the URL names connector {connector_id}, the body {}",
                c.id
            )));
        }
        let uid = EvseUid::new(uid).map_err(invalid)?;
        let cid = c.id.clone();
        let loc = self
            .write_child(location_id, &uid, Some(&cid), ChildChange::Replaced, |loc| {
                let evse = evse_mut(loc, location_id, &uid)?;
                match evse.connector_mut(&c.id) {
                    Some(x) => *x = c,
                    None => evse.connectors.push(c),
                }
                Ok(())
            })
            .await?;
        stored_connector(&loc, &uid, &cid)
    }

    /// Changes fields of a connector (e.g. its `tariff_ids`, UC2-1).
    pub async fn patch_connector(
        &self,
        location_id: &str,
        uid: &str,
        connector_id: &str,
        mut v: Value,
    ) -> Result<Connector, CsoError> {
        prefill(&mut v, None, &now_text(), &[]);
        let body = patch_body(&v)?;
        let patch: ConnectorPatch = strict(v, "").map_err(CsoError::Import)?;
        let uid = EvseUid::new(uid).map_err(invalid)?;
        let cid = ConnectorId::new(connector_id).map_err(invalid)?;
        let change = ChildChange::Patched(body);
        let loc = self
            .write_child(location_id, &uid, Some(&cid), change, |loc| {
                evse_mut(loc, location_id, &uid)?
                    .connector_mut(&cid)
                    .ok_or_else(|| CsoError::NotFound(format!("no connector {cid} on EVSE {uid}")))?
                    .apply_patch(patch)
                    .map_err(invalid)
            })
            .await?;
        stored_connector(&loc, &uid, &cid)
    }

    /// Stores `t` (stamped by `stamp_tariff`) and queues its PUT. `None` when nothing but
    /// `last_updated` changed: nothing is stored, and `t` becomes the stored version.
    fn store_tariff(&self, tx: &mut Tx<'_>, t: &mut Tariff) -> Result<Option<Vec<String>>, CsoError> {
        let before = Self::tariff(tx, t.id.as_str())?;
        if !stamp_tariff(before.as_ref(), t, DateTime::now()) {
            if let Some(b) = before {
                *t = b;
            }
            return Ok(None);
        }
        TARIFFS.put(tx, &key(t.id.as_str()), t, &[ALL, PUBLIC])?;
        let op = PushOp::put(&*t).map_err(CsoError::internal)?;
        let address = TariffAddress {
            party: self.party(),
            id: &t.id,
        };
        Ok(Some(Outbox::push_to_receivers(&self.core, tx, &address, op)?))
    }

    /// Creates or replaces one tariff.
    pub async fn put_tariff(&self, id: &str, mut v: Value) -> Result<Tariff, CsoError> {
        prefill(&mut v, Some(self.party()), &now_text(), &[]);
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
        let tid = TariffId::new(id).map_err(invalid)?;
        if tid == self.free_tariff_id {
            return Err(CsoError::Conflict(format!(
                "tariff {id} is the free-of-charge tariff that the CDRs of unpriced sessions refer to; it cannot be deleted (replace it instead)"
            )));
        }
        let users: Vec<String> = Self::locations(&self.core.store)?
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
            let address = TariffAddress {
                party: self.party(),
                id: &tid,
            };
            Ok(Outbox::push_to_receivers(
                &self.core,
                tx,
                &address,
                PushOp::Delete,
            )?)
        })?;
        self.commit(woken).await
    }
}
