//! Extension module `x-roaming-cdr-checks` (UC3-5 CDR acceptance and dispute, `docs/extensions.md`):
//! hosted by the CSO (role RECEIVER in its version details); the CSP pushes its verdict on each CDR it
//! received with `PUT {x-roaming-cdr-checks}/{cdr_id}`.
//!
//! The CSP sends its whole check ([`CdrCheck`], which it also keeps and shows); a receiver needs only
//! the verdict proper ([`CdrVerdict`]: `cdr_id` and `verdict`, with `reasons`, `repriced_total` and
//! `checked_at` when given) and ignores the rest (T-71). The fields have OCPI types, so that what a
//! peer may put in them is bounded like any OCPI input: the CDR id a `CiString(39)`, the verdict an
//! enum value, each reason a `string(512)`, the prices `Price`.

use serde::{Deserialize, Serialize};

use crate::ci_string::Text;
use crate::datetime::DateTime;
use crate::ids::{CdrId, ContractId, PartyRef};
use crate::modules::versions::ModuleId;
use crate::money::{Number, Price};

/// The module id, as announced in version details (prefixed: not an OCPI module).
pub const MODULE: &str = "x-roaming-cdr-checks";

/// [`MODULE`] as a version-details module id.
pub fn module_id() -> ModuleId {
    ModuleId::Custom(MODULE.to_owned())
}

crate::open_enum! {
    /// The verdict of a CDR check.
    pub enum Verdict("Verdict") {
        /// The CSP accepts the CDR: it agrees with the CSP's pricing and its view of the session.
        Accepted => "ACCEPTED",
        /// The CSP disputes it (with reasons).
        Disputed => "DISPUTED",
    }
}

/// Why a CDR is disputed, or a remark that does not make a dispute: a `string(512)`.
pub type Reason = Text<512>;

/// A reason from text we compose (cut to 512 characters, control characters as spaces).
pub fn reason(text: &str) -> Reason {
    Text::lossy(text)
}

/// The check of one CDR as the CSP makes it, keeps it and sends it (the body of
/// `PUT {x-roaming-cdr-checks}/{cdr_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdrCheck {
    /// The CSO that issued the CDR (`CC-PID`).
    #[serde(with = "super::cc_pid")]
    pub cpo: PartyRef,
    /// The CDR.
    pub cdr_id: CdrId,
    /// The driver's contract.
    pub contract_id: ContractId,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it is disputed (empty when accepted).
    #[serde(default)]
    pub reasons: Vec<Reason>,
    /// Remarks that do not make a dispute (e.g. no session was seen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Reason>,
    /// The CSP's own price of the CDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repriced_total: Option<Price>,
    /// The CDR's total.
    pub total_cost: Price,
    /// kWh in the CDR.
    pub total_energy: Number,
    /// When the CSP checked it.
    pub checked_at: DateTime,
    /// Whether the CSO offers the extension (the verdict was queued to it).
    #[serde(default)]
    pub sent_to_cso: bool,
}

/// What a receiver reads of a [`CdrCheck`]: the verdict proper. `cdr_id` and `verdict` are required;
/// a body with only those is a valid verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdrVerdict {
    /// The CDR.
    pub cdr_id: CdrId,
    /// `ACCEPTED` or `DISPUTED`.
    pub verdict: Verdict,
    /// Why disputed (a DISPUTED verdict needs at least one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// The CSP's own price of the CDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repriced_total: Option<Price>,
    /// When the CSP checked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime>,
}

impl From<&CdrCheck> for CdrVerdict {
    fn from(c: &CdrCheck) -> Self {
        Self {
            cdr_id: c.cdr_id.clone(),
            verdict: c.verdict.clone(),
            reasons: c.reasons.clone(),
            repriced_total: c.repriced_total,
            checked_at: Some(c.checked_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_is_consistent() {
        crate::open_enum::assert_consistent(Verdict::KNOWN);
    }

    #[test]
    fn reasons_always_fit() {
        let long = reason(&format!("line one\nand {}", "x".repeat(600)));
        assert_eq!(long.as_str().chars().count(), 512);
        assert!(long.as_str().starts_with("line one and "));
    }
}
