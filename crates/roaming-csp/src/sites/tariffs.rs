//! The tariffs received (UC2-1, checklist §9.1): stored per owner like the locations
//! (`<cc>/<pid>/<id>`), replaced by a PUT unless older than the one held (T-80, with the same
//! distrust of stamps too far ahead as locations), removed by a DELETE (404 + 2001 for one we do not
//! hold) or by a full pull that no longer has them (T-64, [`Sites::remove_missing`]).

use roaming_peer::store::{Read, StoreError, Write};
use roaming_types::ids::PartyRef;
use roaming_types::modules::tariffs::Tariff;

use super::{ALL, Sites, TARIFFS, object_key, owner_prefix};
use crate::error::CspError;

/// A tariff of `owner` we hold, from the store or inside a transaction.
pub fn tariff<R: Read + ?Sized>(r: &R, owner: &PartyRef, id: &str) -> Result<Option<Tariff>, StoreError> {
    TARIFFS.get(r, &object_key(owner, id))
}

fn unknown_tariff(id: &str) -> CspError {
    CspError::NotFound(format!("unknown tariff {id}"))
}

impl Sites {
    /// Every tariff of an owner (or of everyone).
    pub fn tariffs(&self, owner: Option<&PartyRef>) -> Result<Vec<Tariff>, StoreError> {
        let prefix = owner.map(owner_prefix).unwrap_or_default();
        Ok(TARIFFS
            .all(&self.store, &prefix)?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }

    /// Upserts a tariff unless it is older than the stored one.
    pub fn upsert_tariff(&self, t: &Tariff) -> Result<Write, StoreError> {
        self.store.transact(|tx| {
            let k = object_key(&t.party(), t.id.as_str());
            self.note_write(&k);
            let w = match TARIFFS.get(tx, &k)? {
                Some(old) if self.stamps.held(old.last_updated) > t.last_updated => return Ok(Write::Stale),
                Some(old) if old == *t => return Ok(Write::Unchanged),
                Some(_) => Write::Updated,
                None => Write::Created,
            };
            TARIFFS.put(tx, &k, t, &[ALL])?;
            Ok(w)
        })
    }

    /// A tariff as received, for the Receiver GET: 404 + 2001 when we hold none.
    pub fn received_tariff(&self, owner: &PartyRef, id: &str) -> Result<Tariff, CspError> {
        tariff(&self.store, owner, id)?.ok_or_else(|| unknown_tariff(id))
    }

    /// A PUT of a tariff: stored unless older than the one held, durable when this returns.
    pub async fn receive_tariff(&self, t: &Tariff) -> Result<Write, CspError> {
        let w = self.upsert_tariff(t)?;
        self.store.durable().await?;
        Ok(w)
    }

    /// A DELETE of a tariff: 404 + 2001 when we hold none; durable when this returns.
    pub async fn remove_tariff(&self, owner: &PartyRef, id: &str) -> Result<(), CspError> {
        if !self.delete_tariff(owner, id)? {
            return Err(unknown_tariff(id));
        }
        self.store.durable().await?;
        Ok(())
    }

    /// Deletes a tariff; `false` when there was none.
    pub fn delete_tariff(&self, owner: &PartyRef, id: &str) -> Result<bool, StoreError> {
        self.store
            .transact(|tx| TARIFFS.delete(tx, &object_key(owner, id)))
    }
}
