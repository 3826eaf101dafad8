//! T-94 for the sites: when a CSP answers "unknown object" to a PATCH of a location, EVSE or
//! connector, or to a child PUT whose parent it does not know, the outbox replaces the entry by a PUT
//! of the full object, or of its parent, built here from the stored location.

use roaming_peer::core::Core;
use roaming_peer::outbox::{Fallback, Push, PushOp};
use roaming_peer::store::{StoreError, StoreHandle};
use roaming_types::ids::{ConnectorId, EvseUid, PartyRef};
use roaming_types::modules::versions::ModuleId;
use serde_json::Value;

use super::push::LocationAddress;
use super::{LOCATIONS, is_public, key};

/// T-94 fallback: when a CSP does not know an object we PATCHed (or the parent of a child we PUT),
/// PUT the full object, or its location.
#[derive(Debug)]
pub struct SitesFallback {
    // Not the Core: the Core holds the fallback, and a cycle would keep the store open forever.
    store: StoreHandle,
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
        let Some(loc) = LOCATIONS.get(&self.store, &key(&push.path[2]))? else {
            return Ok(None);
        };
        if !is_public(&loc) {
            return Ok(None);
        }
        let evse = push.path.get(3).and_then(|u| EvseUid::new(u.as_str()).ok());
        let connector = push.path.get(4).and_then(|c| ConnectorId::new(c.as_str()).ok());
        let at = |e, c| LocationAddress::new(&self.party, &loc.id, e, c);
        let full = match (&evse, &connector, parent_unknown) {
            // The location itself, or the parent of a child that could not be placed.
            (None, _, _) | (Some(_), None, true) => Some(Push::new(&at(None, None), put(&loc))),
            (Some(e), None, false) | (Some(e), Some(_), true) => {
                loc.evse(e).map(|x| Push::new(&at(Some(e), None), put(x)))
            }
            (Some(e), Some(c), false) => loc
                .evse(e)
                .and_then(|x| x.connector(c))
                .map(|x| Push::new(&at(Some(e), Some(c)), put(x))),
        };
        // Addressed like the push it replaces.
        Ok(full.map(|mut full| {
            full.to.clone_from(&push.to);
            full
        }))
    }
}

/// The PUT of a location object (they cannot fail to serialise: no maps with non-string keys).
fn put<T: serde::Serialize>(v: &T) -> PushOp {
    PushOp::Put {
        body: serde_json::to_value(v).unwrap_or(Value::Null),
    }
}
