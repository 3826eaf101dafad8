//! What the sites push to the CSPs' Receivers: the addresses of locations, EVSEs, connectors and
//! tariffs ([`LocationAddress`], [`TariffAddress`], queued with
//! [`Outbox::push_to_receivers`](roaming_peer::outbox::Outbox::push_to_receivers)) and the operation
//! a change becomes (PUT of the full object, PATCH of the changed fields, a PATCH that hides a location
//! no longer public).
//!
//! The object keys and groups are those of before the one push API (#13), so entries pending on disk
//! keep their place: `locations/<id>[/<evse>[/<connector>]]` in group `locations/<id>` (a location's
//! EVSEs and connectors reach a CSP in the order they changed), `tariffs/<id>` alone.

use roaming_peer::outbox::{Address, PushOp};
use roaming_types::ids::{ConnectorId, EvseUid, LocationId, PartyRef, TariffId};
use roaming_types::modules::locations::{Connector, Evse, Location};
use roaming_types::modules::versions::ModuleId;
use serde_json::{Map, Value};

use super::is_public;
use crate::error::CsoError;

/// A location, one of its EVSEs or one of their connectors at the CSPs' Locations Receivers
/// (`{locations}/<cc>/<pid>/<id>[/<evse>[/<connector>]]`).
#[derive(Debug, Clone, Copy)]
pub struct LocationAddress<'a> {
    /// The CSO (us).
    pub party: &'a PartyRef,
    /// The location.
    pub id: &'a LocationId,
    /// The EVSE, for an EVSE or connector push.
    pub evse: Option<&'a EvseUid>,
    /// The connector, for a connector push (with its `evse`).
    pub connector: Option<&'a ConnectorId>,
}

impl<'a> LocationAddress<'a> {
    /// The address of the location `id`, of its EVSE `evse` or of that EVSE's `connector`.
    pub fn new(
        party: &'a PartyRef,
        id: &'a LocationId,
        evse: Option<&'a EvseUid>,
        connector: Option<&'a ConnectorId>,
    ) -> Self {
        Self {
            party,
            id,
            evse,
            connector,
        }
    }
}

impl Address for LocationAddress<'_> {
    fn object(&self) -> String {
        let mut object = self.group();
        for part in [
            self.evse.map(EvseUid::to_key),
            self.connector.map(ConnectorId::to_key),
        ]
        .into_iter()
        .flatten()
        {
            object.push('/');
            object.push_str(&part);
        }
        object
    }

    fn group(&self) -> String {
        format!("locations/{}", self.id.to_key())
    }

    fn module(&self) -> ModuleId {
        ModuleId::Locations
    }

    fn path(&self) -> Vec<String> {
        let mut path = vec![
            self.party.country_code.to_upper(),
            self.party.party_id.to_upper(),
            self.id.as_str().to_owned(),
        ];
        path.extend(self.evse.map(|e| e.as_str().to_owned()));
        path.extend(self.connector.map(|c| c.as_str().to_owned()));
        path
    }
}

/// A tariff at the CSPs' Tariffs Receivers (`{tariffs}/<cc>/<pid>/<id>`).
#[derive(Debug, Clone, Copy)]
pub struct TariffAddress<'a> {
    /// The CSO (us).
    pub party: &'a PartyRef,
    /// The tariff.
    pub id: &'a TariffId,
}

impl Address for TariffAddress<'_> {
    fn object(&self) -> String {
        format!("tariffs/{}", self.id.to_key())
    }

    fn module(&self) -> ModuleId {
        ModuleId::Tariffs
    }

    fn path(&self) -> Vec<String> {
        vec![
            self.party.country_code.to_upper(),
            self.party.party_id.to_upper(),
            self.id.as_str().to_owned(),
        ]
    }
}

/// The push of a location-level change from `before` (none: new) to `after`, `patch` being the PATCH
/// body when the change was one; `None` when no CSP may see the location, before or after (LOC-03).
pub(super) fn location_op(
    before: Option<&Location>,
    after: &Location,
    patch: Option<Map<String, Value>>,
) -> Result<Option<PushOp>, CsoError> {
    let was_public = before.is_some_and(is_public);
    let now_public = is_public(after);
    Ok(Some(match (was_public, now_public, patch) {
        (false, false, _) => return Ok(None),
        // Newly visible: the full object.
        (false, true, _) | (true, true, None) => PushOp::put(after).map_err(CsoError::internal)?,
        (true, true, Some(p)) => PushOp::Patch { body: p },
        // No longer visible: tell the CSP (LOC-02/LOC-03) with the fields that hide it.
        (true, false, _) => {
            let mut body = Map::new();
            body.insert("publish".to_owned(), Value::Bool(after.publish));
            if !after.has_valid_evse() {
                body.insert("evses".to_owned(), to_json(&after.evses)?);
            }
            body.insert("last_updated".to_owned(), to_json(&after.last_updated)?);
            PushOp::Patch { body }
        }
    }))
}

/// How an EVSE or connector changed.
pub(super) enum ChildChange {
    /// Replaced by the operator: pushed whole (PUT).
    Replaced,
    /// Patched with the operator's body: pushed as that PATCH, with the stamps the CSO gave.
    Patched(Map<String, Value>),
    /// The EVSE's status changed (UC1-3): a PATCH of `status` and `last_updated`.
    Status,
}

/// The push of a change of the EVSE `e` or of its connector `c` (already stamped).
pub(super) fn child_op(e: &Evse, c: Option<&Connector>, change: ChildChange) -> Result<PushOp, CsoError> {
    let last_updated = c.map_or(e.last_updated, |c| c.last_updated);
    Ok(match change {
        // Serialised only when it is sent whole: a status change is the hot path.
        ChildChange::Replaced => match c {
            Some(c) => PushOp::put(c),
            None => PushOp::put(e),
        }
        .map_err(CsoError::internal)?,
        ChildChange::Patched(mut body) => {
            body.insert("last_updated".to_owned(), to_json(&last_updated)?);
            if c.is_none() && body.contains_key("connectors") {
                // With the stamps the CSO stored, not the operator's.
                body.insert("connectors".to_owned(), to_json(&e.connectors)?);
            }
            PushOp::Patch { body }
        }
        ChildChange::Status => {
            let mut body = Map::new();
            body.insert("status".to_owned(), to_json(&e.status)?);
            body.insert("last_updated".to_owned(), to_json(&last_updated)?);
            PushOp::Patch { body }
        }
    })
}

/// A field of a pushed body.
pub(super) fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<Value, CsoError> {
    serde_json::to_value(v).map_err(CsoError::internal)
}

#[cfg(test)]
mod tests {
    use roaming_peer::outbox::{Push, legacy_rules};

    use super::*;

    fn party() -> PartyRef {
        PartyRef::new(
            roaming_types::ids::CountryCode::new("nl").expect("cc"),
            roaming_types::ids::PartyId::new("cso").expect("pid"),
        )
    }

    /// The keys, groups and paths of before the one push API: pending entries on disk keep their place.
    #[test]
    fn addresses_keep_the_object_keys_groups_and_paths_of_before() {
        let p = party();
        let id = LocationId::new("Loc-1").expect("id");
        let uid = EvseUid::new("Evse-1").expect("uid");
        let cid = ConnectorId::new("C1").expect("cid");
        for (a, object, path) in [
            (
                LocationAddress::new(&p, &id, None, None),
                "locations/loc-1",
                vec!["NL", "CSO", "Loc-1"],
            ),
            (
                LocationAddress::new(&p, &id, Some(&uid), None),
                "locations/loc-1/evse-1",
                vec!["NL", "CSO", "Loc-1", "Evse-1"],
            ),
            (
                LocationAddress::new(&p, &id, Some(&uid), Some(&cid)),
                "locations/loc-1/evse-1/c1",
                vec!["NL", "CSO", "Loc-1", "Evse-1", "C1"],
            ),
        ] {
            let push = Push::new(&a, PushOp::Delete);
            assert_eq!(push.object, object);
            assert_eq!(push.group(), legacy_rules(object).0);
            assert_eq!(push.group(), "locations/loc-1");
            assert_eq!(push.path, path);
            assert_eq!(push.module, ModuleId::Locations);
            assert!(push.to.is_none() && push.query.is_empty());
        }
        let tid = TariffId::new("AC-Std").expect("tid");
        let push = Push::new(&TariffAddress { party: &p, id: &tid }, PushOp::Delete);
        assert_eq!(push.object, "tariffs/ac-std");
        assert_eq!(push.group(), legacy_rules("tariffs/ac-std").0);
        assert_eq!(push.path, ["NL", "CSO", "AC-Std"]);
        assert_eq!(push.module, ModuleId::Tariffs);
    }
}
