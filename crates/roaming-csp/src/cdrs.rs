//! The CDRs of the CSP's drivers (UC3-9), as the CSOs POST them (CDRs Receiver) or as the CSP pulls
//! them (CDRs Sender GET with `date_from`, for records a push missed).
//!
//! Rules: a CDR is kept under its CSO (country_code/party_id) and id and is never replaced, updated or
//! removed (§8.1, CDR-02). A second POST of the same id with the same content is a harmless duplicate
//! (same `Location`); with different content it is refused with 2001 (CDR-09). The CDR must be for a
//! token of ours. It is durable before the answer.

use std::sync::Arc;

use roaming_peer::core::Core;
use roaming_peer::store::{Read, StoreError, key};
use roaming_types::ids::PartyRef;
use roaming_types::modules::cdrs::Cdr;

use crate::error::CspError;

/// Path of the CDRs module (Receiver): where CSOs POST CDRs and where a stored CDR is read back.
pub const PATH: &str = "/ocpi/2.2.1/cdrs";

pub use crate::keyspaces::CDRS;
const ALL: &str = "all";

/// What a received CDR did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored for the first time.
    Created,
    /// Already held with the same content (CDR-09).
    Duplicate,
}

fn ckey(owner: &PartyRef, id: &str) -> Vec<u8> {
    key([
        owner.country_code.to_key(),
        owner.party_id.to_key(),
        id.to_ascii_lowercase(),
    ])
}

/// A CDR of a CSO we hold, from the store or inside a transaction.
pub fn cdr<R: Read + ?Sized>(r: &R, owner: &PartyRef, id: &str) -> Result<Option<Cdr>, StoreError> {
    CDRS.get(r, &ckey(owner, id))
}

/// The CSP's CDR book.
#[derive(Debug, Clone)]
pub struct Cdrs {
    core: Arc<Core>,
}

impl Cdrs {
    /// Opens the book.
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Where a CDR can be read back (the `Location` header of the POST answer, §8.1).
    pub fn url_of(&self, owner: &PartyRef, id: &str) -> String {
        self.core.url_of(&format!(
            "{}/{}/{}/{id}",
            PATH,
            owner.country_code.to_upper(),
            owner.party_id.to_upper()
        ))
    }

    /// A CDR of a CSO.
    pub fn get(&self, owner: &PartyRef, id: &str) -> Result<Option<Cdr>, CspError> {
        Ok(cdr(&self.core.store, owner, id)?)
    }

    /// A CDR as received, for the Receiver GET: 404 + 2001 when we hold none.
    pub fn received(&self, owner: &PartyRef, id: &str) -> Result<Cdr, CspError> {
        self.get(owner, id)?
            .ok_or_else(|| CspError::NotFound(format!("unknown CDR {owner}/{id}")))
    }

    /// Every CDR, optionally of one contract, oldest first.
    pub fn list(&self, contract_id: Option<&str>) -> Result<Vec<Cdr>, CspError> {
        let mut out = Vec::new();
        for (_, c) in CDRS.all(&self.core.store, &[])? {
            if contract_id.is_some_and(|x| !c.cdr_token.contract_id.as_str().eq_ignore_ascii_case(x)) {
                continue;
            }
            out.push(c);
        }
        out.sort_by_key(|c| c.end_date_time);
        Ok(out)
    }

    /// A POST of a CDR by its CSO ([`receive`](Self::receive)), durable when this returns.
    pub async fn post(&self, cdr: &Cdr) -> Result<Received, CspError> {
        let r = self.receive(cdr)?;
        self.core.store.durable().await?;
        Ok(r)
    }

    /// Stores a received CDR (not yet durable): created, a duplicate, or refused.
    pub fn receive(&self, cdr: &Cdr) -> Result<Received, CspError> {
        cdr.validate().map_err(|e| CspError::Invalid(e.to_string()))?;
        if cdr.emsp() != self.core.config.party {
            return Err(CspError::Invalid(format!(
                "the CDR's token belongs to {}, not to us",
                cdr.emsp()
            )));
        }
        let owner = cdr.party();
        self.core.store.transact(|tx| {
            let k = ckey(&owner, cdr.id.as_str());
            if let Some(old) = CDRS.get(tx, &k)? {
                // Compared as CDRs, not as JSON text: the same CDR stored by an earlier version
                // reads `…:00Z` where we now write `…:00.000Z` (#12 item 19), `10` where `10.0`.
                return if old == *cdr {
                    Ok(Received::Duplicate)
                } else {
                    Err(CspError::Invalid(format!(
                        "CDR {owner}/{} exists with different content; CDRs are never replaced (CDR-09)",
                        cdr.id
                    )))
                };
            }
            CDRS.put(tx, &k, cdr, &[ALL])?;
            Ok(Received::Created)
        })
    }
}
