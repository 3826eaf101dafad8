//! The CSPs' verdicts on our CDRs (UC3-5, extension module `x-roaming-cdr-checks`;
//! `docs/extensions.md`): received on the OCPI face (`ocpi/cdr_checks.rs`), kept durably, one per CDR
//! (a later verdict replaces an earlier one), shown in the operator API (`GET /api/cdrs/{id}/check`,
//! `GET /api/cdr-checks`).
//!
//! Only the CSP the CDR belongs to may give a verdict on it ([`CsoError::NotFound`] otherwise, as for
//! an unknown CDR); the body must name the CDR of the URL (T-93), the verdict must be ACCEPTED or
//! DISPUTED and a DISPUTED verdict needs reasons ([`CsoError::Invalid`]).

use roaming_peer::store::{Keyspace, StoreHandle};
use roaming_types::DateTime;
use roaming_types::extensions::cdr_checks::{CdrVerdict, Reason, Verdict};
use roaming_types::ids::{CdrId, PartyRef};
use roaming_types::money::Price;
use serde::{Deserialize, Serialize};

use crate::cdrs::Cdrs;
use crate::error::CsoError;
use crate::keyspaces;

/// Verdicts by lower-case CDR id.
const CHECKS: Keyspace<ReceivedCheck> = Keyspace::of(keyspaces::CHECKS);

/// A CSP's verdict on one of our CDRs, as we keep and show it: the [`CdrVerdict`] received, who sent
/// it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedCheck {
    /// The CDR.
    pub cdr_id: CdrId,
    /// `ACCEPTED` or `DISPUTED`.
    pub verdict: Verdict,
    /// Why disputed.
    #[serde(default)]
    pub reasons: Vec<Reason>,
    /// The CSP's own price of the CDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repriced_total: Option<Price>,
    /// When the CSP checked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime>,
    /// The peer that sent it.
    #[serde(default)]
    pub from_peer: String,
    /// When we received it.
    #[serde(default = "DateTime::now")]
    pub received_at: DateTime,
}

impl ReceivedCheck {
    /// The record of `v`, received from `peer_id` at `received_at`.
    pub fn new(v: CdrVerdict, peer_id: &str, received_at: DateTime) -> Self {
        Self {
            cdr_id: v.cdr_id,
            verdict: v.verdict,
            reasons: v.reasons,
            repriced_total: v.repriced_total,
            checked_at: v.checked_at,
            from_peer: peer_id.to_owned(),
            received_at,
        }
    }
}

/// Who gives a verdict: the peer, and the eMSP parties it may act for in this request.
#[derive(Debug, Clone, Copy)]
pub struct Giver<'a> {
    /// The peer's id.
    pub peer_id: &'a str,
    /// Its eMSP parties (the routed one, or every one it registered).
    pub emsps: &'a [PartyRef],
}

/// Where the verdicts are kept.
#[derive(Debug, Clone)]
pub struct CdrChecks {
    store: StoreHandle,
}

fn check_key(cdr_id: &str) -> Vec<u8> {
    cdr_id.to_ascii_lowercase().into_bytes()
}

impl CdrChecks {
    /// Opens the book.
    pub fn new(store: StoreHandle) -> Self {
        Self { store }
    }

    /// Records `verdict` on the CDR `cdr_id` (the id of the URL) from `giver`; durable on return.
    pub async fn receive(
        &self,
        cdrs: &Cdrs,
        giver: Giver<'_>,
        cdr_id: &str,
        verdict: CdrVerdict,
    ) -> Result<ReceivedCheck, CsoError> {
        let unknown = || CsoError::NotFound(format!("unknown CDR {cdr_id}"));
        let cdr = cdrs.get(cdr_id)?.ok_or_else(unknown)?;
        if !giver.emsps.contains(&cdr.emsp()) {
            return Err(unknown());
        }
        if !verdict.cdr_id.as_str().eq_ignore_ascii_case(cdr_id) {
            return Err(CsoError::Invalid(format!(
                "the URL names CDR {cdr_id} but the body {} (T-93)",
                verdict.cdr_id
            )));
        }
        if !verdict.verdict.is_known() {
            return Err(CsoError::Invalid(format!(
                "verdict {:?} is not ACCEPTED or DISPUTED",
                verdict.verdict
            )));
        }
        if verdict.verdict == Verdict::Disputed && verdict.reasons.is_empty() {
            return Err(CsoError::Invalid("a DISPUTED verdict needs reasons".to_owned()));
        }
        let check = ReceivedCheck::new(verdict, giver.peer_id, DateTime::now());
        self.store
            .transact(|tx| CHECKS.put(tx, check_key(cdr.id.as_str()), &check))?;
        self.store.durable().await?;
        if check.verdict == Verdict::Disputed {
            tracing::warn!(cdr = %cdr.id, peer.id = %giver.peer_id, reasons = ?check.reasons, "a CSP disputes a CDR");
        }
        Ok(check)
    }

    /// The verdict on a CDR, if one was received.
    pub fn get(&self, cdr_id: &str) -> Result<Option<ReceivedCheck>, CsoError> {
        Ok(CHECKS.get(&self.store, &check_key(cdr_id))?)
    }

    /// Every verdict received.
    pub fn list(&self) -> Result<Vec<ReceivedCheck>, CsoError> {
        Ok(CHECKS
            .all(&self.store, &[])?
            .into_iter()
            .map(|(_, c)| c)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verdict as an earlier version stored it (`cso_cdr_checks`) still reads back, and is written
    /// again as it was.
    #[test]
    fn a_stored_check_of_the_earlier_version_reads_back() {
        let store = StoreHandle::memory();
        let checks = CdrChecks::new(store.clone());
        let held = |id: &str, json: Vec<u8>| {
            let mut b = roaming_peer::store::Batch::new();
            b.put(keyspaces::CHECKS, check_key(id), json);
            store.apply(b).unwrap();
            checks.get(id).unwrap().unwrap()
        };
        let stored = serde_json::json!({
            "cdr_id": "CDR-2026-0042", "verdict": "DISPUTED",
            "reasons": ["total_cost excl. VAT is 9.99 but the tariff gives 3.5 for the periods sent"],
            "repriced_total": { "excl_vat": 3.5, "incl_vat": 4.235 },
            "checked_at": "2026-03-02T10:00:07.000Z",
            "from_peer": "peer-1", "received_at": "2026-03-02T10:00:08.000Z"
        });
        let c = held("CDR-2026-0042", serde_json::to_vec(&stored).unwrap());
        assert_eq!(c.verdict, Verdict::Disputed);
        assert_eq!(c.reasons.len(), 1);
        assert_eq!(c.from_peer, "peer-1");
        assert_eq!(serde_json::to_value(&c).unwrap(), stored);
        // The least an earlier record held.
        let old = br#"{ "cdr_id": "CDR-1", "verdict": "ACCEPTED" }"#;
        let c = held("CDR-1", old.to_vec());
        assert_eq!(
            (c.verdict, c.reasons.len(), c.from_peer.as_str()),
            (Verdict::Accepted, 0, "")
        );
    }
}
