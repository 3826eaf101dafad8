//! How the vocabulary's Client Owned Objects are addressed (§3.11) and what a body sent to their
//! URL must name (T-93): the [`Addressed`], [`BodyOf`] and [`OwnedObject`] implementations behind
//! the extractors [`Owned`](super::extract::Owned), [`OwnedBody`](super::extract::OwnedBody) and
//! [`Posted`](super::extract::Posted).
//!
//! | Object | URL after the module | key |
//! |---|---|---|
//! | Location | `{cc}/{pid}/{location_id}` | `location_id` |
//! | EVSE | `{cc}/{pid}/{location_id}/{evse_uid}` | `(location_id, evse_uid)` |
//! | Connector | `{cc}/{pid}/{location_id}/{evse_uid}/{connector_id}` | `(location_id, evse_uid, connector_id)` |
//! | Tariff, Session, CDR | `{cc}/{pid}/{id}` | `id` |
//! | Token | `{cc}/{pid}/{uid}[?type=]` | `(uid, type)`, RFID when absent (TOK-11) |

use http::request::Parts;
use roaming_types::ids::{ConnectorId, EvseUid, PartyRef};
use roaming_types::modules::cdrs::Cdr;
use roaming_types::modules::locations::{
    Connector, ConnectorPatch, Evse, EvsePatch, Location, LocationPatch,
};
use roaming_types::modules::sessions::{Session, SessionPatch};
use roaming_types::modules::tariffs::Tariff;
use roaming_types::modules::tokens::{Token, TokenPatch, TokenType};
use roaming_types::modules::types::Role;

use super::extract::{Addressed, BodyOf, OcpiQuery, OwnedObject, TokenTypeQuery};
use crate::error::OcpiError;

/// The `N` ids a route gives after the owner; another count is a route that does not fit its type.
fn ids<const N: usize>(ids: Vec<String>, parts: &Parts) -> Result<[String; N], OcpiError> {
    <[String; N]>::try_from(ids).map_err(|ids| {
        OcpiError::Internal(format!(
            "route {} gives {} ids after the owner, not {N}",
            parts.uri.path(),
            ids.len()
        ))
    })
}

fn invalid(e: impl std::fmt::Display) -> OcpiError {
    OcpiError::InvalidParameters(e.to_string())
}

/// T-93 for an object named by owner and id: both must be the URL's (the id compared without case).
fn same_object(owner: &PartyRef, id: &str, party: &PartyRef, body_id: &str) -> Result<(), OcpiError> {
    if party != owner || !body_id.eq_ignore_ascii_case(id) {
        return Err(invalid(format!(
            "the URL names {owner}/{id} but the body is {party}/{body_id} (T-93)"
        )));
    }
    Ok(())
}

/// A PATCH names nothing: it applies to the object of its URL.
macro_rules! patch_of {
    ($patch:ty => $object:ty) => {
        impl BodyOf<$object> for $patch {
            fn check_address(
                &self,
                _owner: &PartyRef,
                _key: &<$object as Addressed>::Key,
            ) -> Result<(), OcpiError> {
                Ok(())
            }
        }
    };
}

impl Addressed for Location {
    type Key = String;

    fn owner_role() -> Role {
        Role::Cpo
    }

    fn key(v: Vec<String>, parts: &Parts) -> Result<Self::Key, OcpiError> {
        let [id] = ids(v, parts)?;
        Ok(id)
    }
}

impl BodyOf<Location> for Location {
    fn check_address(&self, owner: &PartyRef, id: &String) -> Result<(), OcpiError> {
        same_object(owner, id, &self.party(), self.id.as_str())
    }
}

patch_of!(LocationPatch => Location);

impl Addressed for Evse {
    type Key = (String, String);

    fn owner_role() -> Role {
        Role::Cpo
    }

    fn key(v: Vec<String>, parts: &Parts) -> Result<Self::Key, OcpiError> {
        let [location, uid] = ids(v, parts)?;
        Ok((location, uid))
    }
}

impl BodyOf<Evse> for Evse {
    fn check_address(&self, _owner: &PartyRef, (_, uid): &(String, String)) -> Result<(), OcpiError> {
        let uid = EvseUid::new(uid.as_str()).map_err(invalid)?;
        if self.uid != uid {
            return Err(invalid(format!(
                "the URL names EVSE {uid} but the body {} (T-93)",
                self.uid
            )));
        }
        Ok(())
    }
}

patch_of!(EvsePatch => Evse);

impl Addressed for Connector {
    type Key = (String, String, String);

    fn owner_role() -> Role {
        Role::Cpo
    }

    fn key(v: Vec<String>, parts: &Parts) -> Result<Self::Key, OcpiError> {
        let [location, uid, connector] = ids(v, parts)?;
        Ok((location, uid, connector))
    }
}

impl BodyOf<Connector> for Connector {
    fn check_address(
        &self,
        _owner: &PartyRef,
        (_, uid, cid): &(String, String, String),
    ) -> Result<(), OcpiError> {
        EvseUid::new(uid.as_str()).map_err(invalid)?;
        let cid = ConnectorId::new(cid.as_str()).map_err(invalid)?;
        if self.id != cid {
            return Err(invalid(format!(
                "the URL names connector {cid} but the body {} (T-93)",
                self.id
            )));
        }
        Ok(())
    }
}

patch_of!(ConnectorPatch => Connector);

impl Addressed for Tariff {
    type Key = String;

    fn owner_role() -> Role {
        Role::Cpo
    }

    fn key(v: Vec<String>, parts: &Parts) -> Result<Self::Key, OcpiError> {
        let [id] = ids(v, parts)?;
        Ok(id)
    }
}

impl BodyOf<Tariff> for Tariff {
    fn check_address(&self, owner: &PartyRef, id: &String) -> Result<(), OcpiError> {
        same_object(owner, id, &self.party(), self.id.as_str())
    }
}

impl Addressed for Session {
    type Key = String;

    fn owner_role() -> Role {
        Role::Cpo
    }

    fn key(v: Vec<String>, parts: &Parts) -> Result<Self::Key, OcpiError> {
        let [id] = ids(v, parts)?;
        Ok(id)
    }
}

impl BodyOf<Session> for Session {
    fn check_address(&self, owner: &PartyRef, id: &String) -> Result<(), OcpiError> {
        same_object(owner, id, &self.party(), self.id.as_str())
    }
}

patch_of!(SessionPatch => Session);

impl Addressed for Cdr {
    type Key = String;

    fn owner_role() -> Role {
        Role::Cpo
    }

    fn key(v: Vec<String>, parts: &Parts) -> Result<Self::Key, OcpiError> {
        let [id] = ids(v, parts)?;
        Ok(id)
    }
}

impl OwnedObject for Cdr {
    fn owner(&self) -> PartyRef {
        self.party()
    }
}

impl Addressed for Token {
    type Key = (String, TokenType);

    fn owner_role() -> Role {
        Role::Emsp
    }

    fn key(v: Vec<String>, parts: &Parts) -> Result<Self::Key, OcpiError> {
        let [uid] = ids(v, parts)?;
        let OcpiQuery(q) = OcpiQuery::<TokenTypeQuery>::parse(parts)?;
        Ok((uid, q.get()))
    }
}

impl BodyOf<Token> for Token {
    fn check_address(&self, owner: &PartyRef, (uid, t): &(String, TokenType)) -> Result<(), OcpiError> {
        if self.party() != *owner || !self.uid.as_str().eq_ignore_ascii_case(uid) || self.token_type != *t {
            return Err(invalid(format!(
                "the URL names {owner}/{uid} of type {t} but the body is {}/{} of type {} (T-93)",
                self.party(),
                self.uid,
                self.token_type
            )));
        }
        Ok(())
    }
}

patch_of!(TokenPatch => Token);
