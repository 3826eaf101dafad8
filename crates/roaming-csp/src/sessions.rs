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
use roaming_peer::store::collection::StoredDoc;
use roaming_peer::store::{Write, key};
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
        SESSIONS
            .get(&self.core.store, &skey(owner, id))?
            .map(|d| serde_json::from_slice(&d.json).map_err(CspError::internal))
            .transpose()
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
        for (_, d) in SESSIONS.all(&self.core.store, &[])? {
            let s: Session = serde_json::from_slice(&d.json).map_err(CspError::internal)?;
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

    fn store(tx: &mut roaming_peer::store::Tx<'_>, owner: &PartyRef, s: &Session) -> Result<(), CspError> {
        SESSIONS.put(
            tx,
            &skey(owner, s.id.as_str()),
            &StoredDoc {
                last_updated: s.last_updated,
                partitions: vec![ALL.to_owned()],
                json: serde_json::to_vec(s).map_err(CspError::internal)?,
            },
        )?;
        Ok(())
    }

    /// Stores a full session (PUT or pulled); not yet durable.
    pub fn put(&self, s: &Session) -> Result<Write, CspError> {
        s.validate().map_err(|e| CspError::Invalid(e.to_string()))?;
        self.check_ours(s)?;
        let owner = s.party();
        let stamps = self.core.stamps();
        self.core.store.transact(|tx| {
            let k = skey(&owner, s.id.as_str());
            let old = SESSIONS.get_tx(tx, &k)?;
            let w = match &old {
                Some(d) if stamps.held(d.last_updated) > s.last_updated => return Ok(Write::Stale),
                // Compared as sessions, not as JSON text (an earlier version wrote `…:00Z`).
                Some(d)
                    if d.last_updated == s.last_updated
                        && serde_json::from_slice::<Session>(&d.json).ok().as_ref() == Some(s) =>
                {
                    return Ok(Write::Unchanged);
                }
                Some(_) => Write::Updated,
                None => Write::Created,
            };
            Self::store(tx, &owner, s)?;
            Ok(w)
        })
    }

    /// Applies a PATCH of a CSO's session; not yet durable. Returns the write and the session.
    pub fn patch(
        &self,
        owner: &PartyRef,
        id: &str,
        mut patch: SessionPatch,
    ) -> Result<(Write, Session), CspError> {
        self.core.store.transact(|tx| {
            let k = skey(owner, id);
            let doc = SESSIONS
                .get_tx(tx, &k)?
                .ok_or_else(|| CspError::NotFound(format!("unknown session {owner}/{id}")))?;
            let mut s: Session = serde_json::from_slice(&doc.json).map_err(CspError::internal)?;
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
