//! CDRs (UC3-5, UC3-9): exactly one CDR per completed session (and per reservation that ended unused
//! with a reservation price), priced by [`crate::pricing`] from what was sealed at session start
//! (CDR-03), stored, and delivered by POST to the owning CSP through the outbox until acknowledged;
//! the Sender GET serves each CSP its own CDRs; corrections are credit CDRs (CDR-02).
//!
//! The CDR is created in the same store transaction that completes the session, so a crash either
//! loses both (the charger's stop is re-reported) or keeps both: never a completed session without
//! its CDR, never two CDRs (an index by session guards against a repeated stop).
//!
//! Keyspaces: `cso_cdrs` ([`CDRS`], partitions `all` and the owning CSP's party key),
//! `cso_cdr_by_session` ([`BY_SESSION`]: session id → CDR id).

use std::sync::Arc;

use roaming_peer::core::Core;
use roaming_peer::outbox::{Address, Outbox, PushOp};
use roaming_peer::store::Tx;
use roaming_types::DateTime;
use roaming_types::ids::{CdrId, PartyRef, SessionId};
use roaming_types::modules::cdrs::Cdr;
use roaming_types::modules::versions::ModuleId;

use crate::error::CsoError;

pub use crate::keyspaces::{BY_SESSION, CDRS};

/// The operator's partition of every CDR.
const ALL: &str = "all";

fn key(id: &CdrId) -> Vec<u8> {
    id.as_str().to_ascii_lowercase().into_bytes()
}

/// What a CDR push addresses: a POST to the CSP's CDRs Receiver. The object is
/// `sessions/<session>/cdrs/<cdr>`, in its session's outbox group (`sessions/<session>`), so that the
/// CDR never overtakes the session's last update (the CSP checks the CDR against it); a CDR without a
/// session is `cdrs/<cdr>`, a group of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrAddress {
    /// The CDR.
    pub id: CdrId,
    /// Its session, if any.
    pub session_id: Option<SessionId>,
}

impl CdrAddress {
    /// The address of `cdr`.
    pub fn of(cdr: &Cdr) -> Self {
        Self {
            id: cdr.id.clone(),
            session_id: cdr.session_id.clone(),
        }
    }
}

impl Address for CdrAddress {
    fn object(&self) -> String {
        let id = self.id.as_str().to_ascii_lowercase();
        match &self.session_id {
            Some(s) => format!("sessions/{}/cdrs/{id}", s.to_key()),
            None => format!("cdrs/{id}"),
        }
    }

    fn group(&self) -> String {
        match &self.session_id {
            Some(s) => format!("sessions/{}", s.to_key()),
            None => self.object(),
        }
    }

    fn module(&self) -> ModuleId {
        ModuleId::Cdrs
    }

    fn path(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Stores a CDR and queues its POST to the CSP; returns the peers to wake. A second CDR for the same
/// session is not stored (exactly one per session).
pub fn issue(
    core: &Core,
    tx: &mut Tx<'_>,
    cdr: &Cdr,
    emsp: Option<&PartyRef>,
) -> Result<Vec<String>, CsoError> {
    let session_key = cdr
        .session_id
        .as_ref()
        .map(|s| s.as_str().to_ascii_lowercase().into_bytes());
    let credit = cdr.credit == Some(true);
    if let Some(k) = session_key.as_ref().filter(|_| !credit) {
        if tx.get(BY_SESSION, k)?.is_some() {
            return Ok(Vec::new());
        }
    }
    let party = emsp.map(PartyRef::to_key);
    let partitions: Vec<&str> = std::iter::once(ALL).chain(party.as_deref()).collect();
    CDRS.put(tx, &key(&cdr.id), cdr, &partitions)?;
    if let Some(k) = session_key.filter(|_| !credit) {
        tx.put(BY_SESSION, k, cdr.id.as_str().as_bytes().to_vec());
    }
    let Some(emsp) = emsp else {
        return Ok(Vec::new());
    };
    let op = PushOp::post(cdr).map_err(CsoError::internal)?;
    Ok(Outbox::push_to_owner(core, tx, emsp, &CdrAddress::of(cdr), op)?)
}

/// The CSO's CDR book (operator and Sender views, credit CDRs).
#[derive(Debug, Clone)]
pub struct Cdrs {
    core: Arc<Core>,
}

impl Cdrs {
    /// Opens the book.
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// A CDR.
    pub fn get(&self, id: &str) -> Result<Option<Cdr>, CsoError> {
        Ok(CDRS.get(&self.core.store, id.to_ascii_lowercase().as_bytes())?)
    }

    /// Every CDR, or those of one CSP, oldest first.
    pub fn list(&self, emsp: Option<&PartyRef>) -> Result<Vec<Cdr>, CsoError> {
        let mut out: Vec<Cdr> = CDRS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, c)| c)
            .filter(|c| emsp.is_none_or(|p| &c.emsp() == p))
            .collect();
        out.sort_by_key(|c| c.last_updated);
        Ok(out)
    }

    /// Issues the credit CDR of `id` (CDR-02: id + `-C`, only `total_cost` negated) and delivers it.
    pub async fn credit(&self, id: &str) -> Result<Cdr, CsoError> {
        let original = self
            .get(id)?
            .ok_or_else(|| CsoError::NotFound(format!("no CDR {id}")))?;
        if original.is_credit() {
            return Err(CsoError::Conflict(format!("{id} is a credit CDR itself")));
        }
        let credit_id = CdrId::new(format!("{}-C", original.id.as_str())).map_err(CsoError::internal)?;
        let credit = original.credit_for(credit_id, DateTime::now());
        let woken = self.core.store.transact(|tx| {
            if CDRS.get_doc(tx, &key(&credit.id))?.is_some() {
                return Err(CsoError::Conflict(format!("{id} was credited already")));
            }
            issue(&self.core, tx, &credit, Some(&credit.emsp()))
        })?;
        self.core.commit(woken).await?;
        tracing::info!(cdr = %credit.id, credit_reference_id = %original.id, "credit CDR issued");
        Ok(credit)
    }
}

#[cfg(test)]
mod tests {
    use roaming_peer::outbox::{Push, legacy_rules};

    use super::*;

    #[test]
    fn a_cdr_is_pushed_in_its_sessions_group_under_the_object_key_of_before() {
        let with = CdrAddress {
            id: CdrId::new("S-Abc").unwrap(),
            session_id: Some(SessionId::new("S-Abc").unwrap()),
        };
        let without = CdrAddress {
            id: CdrId::new("C-Xyz").unwrap(),
            session_id: None,
        };
        for (a, object, group) in [
            (with, "sessions/s-abc/cdrs/s-abc", "sessions/s-abc"),
            (without, "cdrs/c-xyz", "cdrs/c-xyz"),
        ] {
            let p = Push::new(&a, PushOp::Delete);
            assert_eq!((p.object.as_str(), p.group()), (object, group));
            assert_eq!(
                p.group(),
                legacy_rules(&p.object).0,
                "as entries queued before #13"
            );
            assert!(p.path.is_empty(), "POSTed to the module URL");
            assert_eq!(p.module, ModuleId::Cdrs);
        }
    }
}
