//! The sessions of the CSP's drivers at the CSOs (UC3-6), as the CSOs push them (Sessions Receiver)
//! or as the CSP pulls them after an outage (Sessions Sender GET with `date_from`).
//!
//! Rules: a session is kept under its CSO (country_code/party_id) and id; it must be for one of our
//! tokens (`cdr_token` of our party). A PUT replaces the session unless it is older than ours (T-80);
//! a PATCH needs `last_updated` (T-81), is 404 + 2001 for an unknown session (T-94), is ignored when
//! not newer than ours (a resent PATCH), and **appends** its `charging_periods` (SES-02) — only those
//! that start after the last period we hold, so that a PATCH delivered twice adds nothing twice. A held
//! stamp more than the clock skew ahead of our clock is not trusted (`roaming_peer::stamps`).
//! Everything is durable before the answer.

use std::sync::Arc;

use roaming_peer::core::Core;
use roaming_peer::store::{Read, StoreError, Tx, Write, key};
use roaming_types::ids::PartyRef;
use roaming_types::modules::sessions::{Session, SessionPatch, SessionStatus};
use roaming_types::patch::Patch;

use crate::error::CspError;

pub use crate::keyspaces::SESSIONS;
const ALL: &str = "all";

fn skey(owner: &PartyRef, id: &str) -> Vec<u8> {
    key([
        owner.country_code.to_key(),
        owner.party_id.to_key(),
        id.to_ascii_lowercase(),
    ])
}

/// A session of a CSO we hold, from the store or inside a transaction.
pub fn session<R: Read + ?Sized>(r: &R, owner: &PartyRef, id: &str) -> Result<Option<Session>, StoreError> {
    SESSIONS.get(r, &skey(owner, id))
}

fn unknown(owner: &PartyRef, id: &str) -> CspError {
    CspError::NotFound(format!("unknown session {owner}/{id}"))
}

/// The CSP's session book.
#[derive(Debug, Clone)]
pub struct Sessions {
    core: Arc<Core>,
}

impl Sessions {
    /// Opens the book.
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// A session of a CSO.
    pub fn get(&self, owner: &PartyRef, id: &str) -> Result<Option<Session>, CspError> {
        Ok(session(&self.core.store, owner, id)?)
    }

    /// A session as received, for the Receiver GET: 404 + 2001 when we hold none.
    pub fn received(&self, owner: &PartyRef, id: &str) -> Result<Session, CspError> {
        self.get(owner, id)?.ok_or_else(|| unknown(owner, id))
    }

    /// A session by id alone (ids are unique per CSO; the first match when two CSOs share one).
    pub fn find(&self, id: &str) -> Result<Option<Session>, CspError> {
        Ok(self
            .list(None, None)?
            .into_iter()
            .find(|s| s.id.as_str().eq_ignore_ascii_case(id)))
    }

    /// The sessions, optionally of one contract and/or in one status, oldest change first.
    pub fn list(
        &self,
        contract_id: Option<&str>,
        status: Option<&SessionStatus>,
    ) -> Result<Vec<Session>, CspError> {
        let mut out = Vec::new();
        for (_, s) in SESSIONS.all(&self.core.store, &[])? {
            if contract_id.is_some_and(|c| !s.cdr_token.contract_id.as_str().eq_ignore_ascii_case(c)) {
                continue;
            }
            if status.is_some_and(|st| &s.status != st) {
                continue;
            }
            out.push(s);
        }
        out.sort_by_key(|s| s.last_updated);
        Ok(out)
    }

    fn check_ours(&self, s: &Session) -> Result<(), CspError> {
        let token_party = PartyRef::new(s.cdr_token.country_code.clone(), s.cdr_token.party_id.clone());
        if token_party != self.core.config.party {
            return Err(CspError::Invalid(format!(
                "the session's token belongs to {token_party}, not to us"
            )));
        }
        Ok(())
    }

    fn store(tx: &mut Tx<'_>, owner: &PartyRef, s: &Session) -> Result<(), CspError> {
        Ok(SESSIONS.put(tx, &skey(owner, s.id.as_str()), s, &[ALL])?)
    }

    /// Stores a full session (PUT or pulled); not yet durable.
    pub fn put(&self, s: &Session) -> Result<Write, CspError> {
        s.validate().map_err(|e| CspError::Invalid(e.to_string()))?;
        self.check_ours(s)?;
        let owner = s.party();
        let stamps = self.core.stamps();
        self.core.store.transact(|tx| {
            let w = match session(tx, &owner, s.id.as_str())? {
                Some(old) if stamps.held(old.last_updated) > s.last_updated => return Ok(Write::Stale),
                // Compared as sessions, not as JSON text (an earlier version wrote `…:00Z`).
                Some(old) if old == *s => return Ok(Write::Unchanged),
                Some(_) => Write::Updated,
                None => Write::Created,
            };
            Self::store(tx, &owner, s)?;
            Ok(w)
        })
    }

    /// A PUT of a session by its CSO ([`put`](Self::put)), durable when this returns.
    pub async fn receive(&self, s: &Session) -> Result<Write, CspError> {
        let w = self.put(s)?;
        self.core.store.durable().await?;
        Ok(w)
    }

    /// A PATCH of a session by its CSO ([`patch`](Self::patch)), durable when this returns.
    pub async fn receive_patch(
        &self,
        owner: &PartyRef,
        id: &str,
        patch: SessionPatch,
    ) -> Result<(Write, Session), CspError> {
        let r = self.patch(owner, id, patch)?;
        self.core.store.durable().await?;
        Ok(r)
    }

    /// Applies a PATCH of a CSO's session; not yet durable. Returns the write and the session.
    pub fn patch(
        &self,
        owner: &PartyRef,
        id: &str,
        mut patch: SessionPatch,
    ) -> Result<(Write, Session), CspError> {
        self.core.store.transact(|tx| {
            let mut s = session(tx, owner, id)?.ok_or_else(|| unknown(owner, id))?;
            if patch.last_updated <= self.core.stamps().held(s.last_updated) {
                return Ok((Write::Stale, s));
            }
            if let Patch::Value(periods) = &mut patch.charging_periods {
                let last = s.charging_periods.last().map(|p| p.start_date_time);
                periods.retain(|p| last.is_none_or(|l| p.start_date_time > l));
            }
            s.apply_patch(patch)
                .map_err(|e| CspError::Invalid(e.to_string()))?;
            s.validate().map_err(|e| CspError::Invalid(e.to_string()))?;
            Self::store(tx, owner, &s)?;
            Ok((Write::Updated, s))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case() {
        let a: PartyRef = "NL-CSO".parse().unwrap_or_else(|_| unreachable!());
        let b: PartyRef = "nl-cso".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(skey(&a, "S1"), skey(&b, "s1"));
    }
}
