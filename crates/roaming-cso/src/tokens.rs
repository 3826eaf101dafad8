//! The CSO's copy of the CSPs' tokens (UC3-1), filled by the Tokens Receiver (checklist §10.1) and
//! read by the authorization decision.
//!
//! A token is unique by (uid, type) within its eMSP (TOK-11), so the key is
//! `<type>\0<uid>\0<cc>\0<pid>` (lower case): a lookup by what a charger reads (uid and type) is one
//! prefix scan, and two CSPs that happen to issue the same uid stay apart. Tokens are never deleted:
//! a CSP invalidates them (`valid = false`). Updates older than the stored token are ignored (T-80); a
//! stored stamp more than the clock skew ahead of our clock is not trusted (`roaming_peer::stamps`).
//!
//! A uid (of one type) that several CSPs hold is a *collision*: the authorization never decides it
//! from one copy (`authorization.rs`). Each collision is recorded when the second copy arrives
//! (`cso_token_collisions`, `GET /api/tokens/collisions`) and logged.

use roaming_peer::stamps::StampPolicy;
use roaming_peer::store::{Keyspace, Read, StoreError, StoreHandle, Tx, Write, key, prefix};
use roaming_types::DateTime;
use roaming_types::ids::PartyRef;
use roaming_types::modules::tokens::{Token, TokenPatch, TokenType};
use serde::{Deserialize, Serialize};

use crate::error::CsoError;
use crate::keyspaces;

/// The tokens' keyspace, untyped (read and written typed through [`Tokens`]).
pub use crate::keyspaces::TOKENS;

/// The tokens, by [`token_key`].
const COPIES: Keyspace<Token> = Keyspace::of(TOKENS);
/// The collisions, by `<type>\0<uid>`.
const COLLISIONS: Keyspace<Collision> = Keyspace::of(keyspaces::COLLISIONS);

/// A token uid (of one type) that several CSPs hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collision {
    /// The token type.
    #[serde(rename = "type")]
    pub token_type: TokenType,
    /// The uid.
    pub uid: String,
    /// The CSPs holding it (`CC-PID`), sorted.
    pub parties: Vec<String>,
    /// When the second copy arrived.
    pub first_seen: DateTime,
}

fn uid_prefix(token_type: &TokenType, uid: &str) -> Vec<u8> {
    prefix([token_type.as_str().to_ascii_lowercase(), uid.to_ascii_lowercase()])
}

/// The store key of a token.
pub fn token_key(token_type: &TokenType, uid: &str, owner: &PartyRef) -> Vec<u8> {
    key([
        token_type.as_str().to_ascii_lowercase(),
        uid.to_ascii_lowercase(),
        owner.country_code.to_key(),
        owner.party_id.to_key(),
    ])
}

/// The values of a typed read, without their keys.
fn values<T>(entries: Vec<(Vec<u8>, T)>) -> Vec<T> {
    entries.into_iter().map(|(_, v)| v).collect()
}

/// The tokens the CSPs pushed.
#[derive(Debug, Clone)]
pub struct Tokens {
    store: StoreHandle,
    stamps: StampPolicy,
}

impl Tokens {
    /// Tokens over a store.
    pub fn new(store: StoreHandle) -> Self {
        Self {
            store,
            stamps: StampPolicy::default(),
        }
    }

    /// With the clock skew of `http.max_clock_skew_secs`: a held stamp further ahead of our clock is
    /// not trusted (an earlier version accepted it, #12 item 12; `roaming_peer::stamps`).
    pub fn with_stamps(self, stamps: StampPolicy) -> Self {
        Self { stamps, ..self }
    }

    /// One token of one owner.
    pub fn get<R: Read + ?Sized>(
        r: &R,
        owner: &PartyRef,
        uid: &str,
        token_type: &TokenType,
    ) -> Result<Option<Token>, StoreError> {
        COPIES.get(r, &token_key(token_type, uid, owner))
    }

    /// Every stored token with this uid and type, whatever CSP issued it (committed data).
    pub fn find<R: Read + ?Sized>(
        r: &R,
        uid: &str,
        token_type: &TokenType,
    ) -> Result<Vec<Token>, StoreError> {
        Ok(values(COPIES.all(r, &uid_prefix(token_type, uid))?))
    }

    /// Every uid that several CSPs hold, by type and uid.
    pub fn collisions<R: Read + ?Sized>(r: &R) -> Result<Vec<Collision>, StoreError> {
        Ok(values(COLLISIONS.all(r, &[])?))
    }

    /// Every token, optionally of one owner (operator view).
    pub fn list<R: Read + ?Sized>(r: &R, owner: Option<&PartyRef>) -> Result<Vec<Token>, StoreError> {
        Ok(values(COPIES.all(r, &[])?)
            .into_iter()
            .filter(|t| owner.is_none_or(|o| t.party() == *o))
            .collect())
    }

    /// Stores a full token (PUT, T-91) unless the stored one is newer.
    pub fn put(&self, token: &Token) -> Result<Write, StoreError> {
        self.store.transact(|tx| self.put_tx(tx, token))
    }

    /// [`put`](Self::put) inside a transaction.
    pub fn put_tx(&self, tx: &mut Tx<'_>, token: &Token) -> Result<Write, StoreError> {
        let k = token_key(&token.token_type, token.uid.as_str(), &token.party());
        let stored = COPIES.get(tx, &k)?;
        let w = match &stored {
            None => Write::Created,
            Some(s) if token.last_updated < self.stamps.held(s.last_updated) => Write::Stale,
            Some(s) if s == token => Write::Unchanged,
            Some(_) => Write::Updated,
        };
        if w.changed() {
            COPIES.put(tx, k, token)?;
        }
        if w == Write::Created {
            Self::note_collision(tx, token)?;
        }
        Ok(w)
    }

    /// Records (and logs) a collision when another CSP already holds the new token's uid.
    fn note_collision(tx: &mut Tx<'_>, token: &Token) -> Result<(), StoreError> {
        let mut parties: Vec<String> = Self::find(tx, token.uid.as_str(), &token.token_type)?
            .iter()
            .map(|t| t.party().to_string())
            .collect();
        let mine = token.party().to_string();
        if !parties.contains(&mine) {
            parties.push(mine);
        }
        if parties.len() < 2 {
            return Ok(());
        }
        parties.sort();
        let ck = key([
            token.token_type.as_str().to_ascii_lowercase(),
            token.uid.as_str().to_ascii_lowercase(),
        ]);
        let first_seen = COLLISIONS
            .get(tx, &ck)?
            .map_or_else(DateTime::now, |c| c.first_seen);
        tracing::warn!(
            token.type = %token.token_type,
            parties = %parties.join(", "),
            "a token uid is held by several CSPs: it is authorized only in real time by all of them"
        );
        COLLISIONS.put(
            tx,
            ck,
            &Collision {
                token_type: token.token_type.clone(),
                uid: token.uid.as_str().to_owned(),
                parties,
                first_seen,
            },
        )?;
        Ok(())
    }

    /// Applies a PATCH (T-92) to a stored token; unknown → `NotFound` (T-94).
    pub fn patch(
        &self,
        owner: &PartyRef,
        uid: &str,
        token_type: &TokenType,
        patch: TokenPatch,
    ) -> Result<Write, CsoError> {
        self.store.transact(|tx| {
            let k = token_key(token_type, uid, owner);
            let mut token = COPIES.get(tx, &k)?.ok_or_else(|| {
                CsoError::NotFound(format!(
                    "unknown token {owner}/{uid} of type {token_type}; PUT it first (T-94)"
                ))
            })?;
            if patch.last_updated < self.stamps.held(token.last_updated) {
                return Ok(Write::Stale);
            }
            let before = token.clone();
            token
                .apply_patch(patch)
                .map_err(|e| CsoError::Invalid(e.to_string()))?;
            if token == before {
                return Ok(Write::Unchanged);
            }
            COPIES.put(tx, k, &token)?;
            Ok(Write::Updated)
        })
    }
}

#[cfg(test)]
mod tests {
    use roaming_types::DateTime;
    use serde_json::json;

    use super::*;

    fn token(party: &str, uid: &str, valid: bool, at: &str) -> Token {
        let (cc, pid) = party.split_once('-').unwrap_or(("DE", "CSP"));
        serde_json::from_value(json!({
            "country_code": cc, "party_id": pid, "uid": uid, "type": "RFID",
            "contract_id": "DE-CSP-C12345678-X", "issuer": "Test", "valid": valid,
            "whitelist": "ALLOWED", "last_updated": at
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn same_uid_of_two_csps_stays_apart_and_old_updates_are_ignored() {
        let t = Tokens::new(StoreHandle::memory());
        let a = token("DE-CSP", "04AABB", true, "2026-01-01T00:00:00Z");
        let b = token("FR-OTH", "04aabb", true, "2026-01-01T00:00:00Z");
        assert_eq!(t.put(&a).ok(), Some(Write::Created));
        assert_eq!(t.put(&b).ok(), Some(Write::Created));
        let store = &t.store;
        assert_eq!(
            Tokens::find(store, "04AABB", &TokenType::Rfid)
                .map(|v| v.len())
                .ok(),
            Some(2)
        );
        // T-80: an older full token does not overwrite a newer one.
        let old = token("DE-CSP", "04AABB", false, "2025-01-01T00:00:00Z");
        assert_eq!(t.put(&old).ok(), Some(Write::Stale));
        let patch: TokenPatch =
            serde_json::from_value(json!({"valid": false, "last_updated": "2026-02-01T00:00:00Z"}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.patch(&a.party(), "04aabb", &TokenType::Rfid, patch).ok(),
            Some(Write::Updated)
        );
        let got = Tokens::get(store, &a.party(), "04AABB", &TokenType::Rfid)
            .ok()
            .flatten();
        assert_eq!(
            got.map(|g| (g.valid, g.last_updated)),
            DateTime::parse_strict("2026-02-01T00:00:00Z")
                .ok()
                .map(|d| (false, d))
        );
        // Another type with the same uid is another token.
        assert!(Tokens::find(store, "04AABB", &TokenType::AppUser).is_ok_and(|v| v.is_empty()));
    }
}
