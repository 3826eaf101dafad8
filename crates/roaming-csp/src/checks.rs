//! The CSP's independent check of every received CDR (our extension of UC3-5): the CDR is re-priced
//! with the same engine from the tariff it carries and its own charging periods, and compared with the
//! session the CSP followed (energy, times, token, location). The verdict is ACCEPTED or DISPUTED with
//! reasons; it is kept, shown in the operator API and CLI, and sent to the CSO through the
//! `x-roaming-cdr-checks` extension module when the CSO offers it (`docs/extensions.md`).

use std::sync::Arc;

use roaming_peer::core::Core;
use roaming_peer::outbox::{Address, Outbox, PushOp};
use roaming_peer::store::{Keyspace, Read, key};
use roaming_types::DateTime;
use roaming_types::extensions::cdr_checks::{Reason, module_id, reason};
use roaming_types::ids::{CdrId, PartyRef};
use roaming_types::modules::cdrs::Cdr;
use roaming_types::modules::sessions::Session;
use roaming_types::modules::versions::ModuleId;
use roaming_types::money::{Number, Price};
use roaming_types::pricing::{parse_time_zone, price_session, usage_of_periods};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use roaming_types::extensions::cdr_checks::{CdrCheck, MODULE, Verdict};

use crate::error::CspError;
use crate::keyspaces;

/// Verdicts by CDR: `<cc>\0<pid>\0<cdr id>` → [`CdrCheck`].
pub const CHECKS: Keyspace<CdrCheck> = Keyspace::of(keyspaces::CHECKS);

/// How far money may differ before it is a dispute (the spec defines no rounding, §9.3 item 9).
const MONEY_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// How far times may differ from the session the CSP followed, seconds.
const TIME_TOLERANCE_SECS: i64 = 300;

fn check_key(owner: &PartyRef, id: &str) -> Vec<u8> {
    key([
        owner.country_code.to_key(),
        owner.party_id.to_key(),
        id.to_ascii_lowercase(),
    ])
}

/// Re-prices a CDR from its tariff and its charging periods, in `tz` (None when it cannot): the
/// periods carry the power and current the tariff's restrictions read (mod_cdrs), and the engine's
/// `usage_of_periods` turns them back into readings.
fn reprice(cdr: &Cdr, tz: chrono_tz::Tz) -> Result<Option<Price>, String> {
    let tariff_id = cdr.charging_periods.iter().find_map(|p| p.tariff_id.clone());
    let Some(tariff) = cdr
        .tariffs
        .iter()
        .find(|t| tariff_id.as_ref().is_none_or(|id| &t.id == id))
    else {
        return Ok(None);
    };
    let usage = usage_of_periods(&cdr.charging_periods, cdr.start_date_time, cdr.end_date_time);
    price_session(tariff, &usage, tz)
        .map(|p| Some(p.total_cost))
        .map_err(|e| e.to_string())
}

fn differs(a: Decimal, b: Decimal, tolerance: Decimal) -> bool {
    (a - b).abs() > tolerance
}

/// Checks a CDR against its tariff and the session (pure; `tz` is the location's time zone).
pub fn check(cdr: &Cdr, session: Option<&Session>, tz: Option<chrono_tz::Tz>) -> CdrCheck {
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    let credit = cdr.is_credit();
    let reservation = cdr.total_reservation_cost.is_some();
    let repriced = match (credit, reservation, tz) {
        (true, _, _) => {
            notes.push("a credit CDR: checked against the CDR it credits".to_owned());
            None
        }
        (_, true, _) => {
            notes.push("a reservation is priced from the booking time, which the CDR does not carry: price not re-computed".to_owned());
            None
        }
        (_, _, None) => {
            notes.push("the location's time zone is unknown: price not re-computed".to_owned());
            None
        }
        (false, false, Some(tz)) => match reprice(cdr, tz) {
            Ok(Some(p)) => Some(p),
            Ok(None) => {
                reasons.push("the CDR carries no tariff its periods refer to".to_owned());
                None
            }
            Err(e) => {
                reasons.push(format!("the CDR cannot be priced from its own tariff: {e}"));
                None
            }
        },
    };
    if let Some(p) = &repriced {
        let ours = p.excl_vat.value();
        let theirs = cdr.total_cost.excl_vat.value();
        if differs(ours, theirs, MONEY_TOLERANCE) {
            reasons.push(format!(
                "total_cost excl. VAT is {theirs} but the tariff gives {ours} for the periods sent"
            ));
        }
        if let (Some(a), Some(b)) = (p.incl_vat, cdr.total_cost.incl_vat) {
            if differs(a.value(), b.value(), MONEY_TOLERANCE) {
                reasons.push(format!(
                    "total_cost incl. VAT is {} but the tariff gives {}",
                    b.value(),
                    a.value()
                ));
            }
        }
    }
    match session {
        None if !credit && !reservation => {
            notes.push("no session was reported for this CDR".to_owned());
        }
        None => {}
        Some(s) => {
            let kwh = s.kwh.value();
            let cdr_kwh = cdr.total_energy.value();
            let tolerance = (kwh.abs() / Decimal::from(200)).max(Decimal::new(1, 3));
            if !credit && differs(kwh, cdr_kwh, tolerance) {
                reasons.push(format!(
                    "total_energy is {cdr_kwh} kWh but the session reported {kwh} kWh"
                ));
            }
            let secs = |a: DateTime, b: DateTime| (a.timestamp_millis() - b.timestamp_millis()).abs() / 1000;
            if secs(s.start_date_time, cdr.start_date_time) > TIME_TOLERANCE_SECS && !reservation {
                reasons.push(format!(
                    "start_date_time {} differs from the session's {}",
                    cdr.start_date_time, s.start_date_time
                ));
            }
            if let Some(end) = s.end_date_time {
                if secs(end, cdr.end_date_time) > TIME_TOLERANCE_SECS {
                    reasons.push(format!(
                        "end_date_time {} differs from the session's {end}",
                        cdr.end_date_time
                    ));
                }
            }
            if s.cdr_token.uid != cdr.cdr_token.uid || s.cdr_token.contract_id != cdr.cdr_token.contract_id {
                reasons.push("the token differs from the session's".to_owned());
            }
            if s.location_id != cdr.cdr_location.id || s.evse_uid != cdr.cdr_location.evse_uid {
                reasons.push("the location or EVSE differs from the session's".to_owned());
            }
        }
    }
    CdrCheck {
        cpo: cdr.party(),
        cdr_id: cdr.id.clone(),
        contract_id: cdr.cdr_token.contract_id.clone(),
        verdict: if reasons.is_empty() {
            Verdict::Accepted
        } else {
            Verdict::Disputed
        },
        reasons: reasons.iter().map(|r| reason(r)).collect(),
        notes: notes.iter().map(|n| reason(n)).collect(),
        repriced_total: repriced,
        total_cost: cdr.total_cost,
        total_energy: cdr.total_energy,
        checked_at: DateTime::now(),
        sent_to_cso: false,
    }
}

/// Where a verdict is pushed: `PUT {x-roaming-cdr-checks}/{cdr_id}` at the CSO that sent the CDR
/// (object and group `cdr-checks/<cdr id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrCheckAddress {
    /// The CDR checked.
    pub cdr_id: CdrId,
}

impl Address for CdrCheckAddress {
    fn object(&self) -> String {
        format!("cdr-checks/{}", self.cdr_id.as_str().to_ascii_lowercase())
    }

    fn module(&self) -> ModuleId {
        module_id()
    }

    fn path(&self) -> Vec<String> {
        vec![self.cdr_id.as_str().to_owned()]
    }
}

/// Where verdicts are kept and sent from.
#[derive(Debug, Clone)]
pub struct Checks {
    core: Arc<Core>,
}

impl Checks {
    /// Opens the book.
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Stores a verdict and queues it to the CSO when it offers the extension; durable on return.
    pub async fn record(&self, mut c: CdrCheck) -> Result<CdrCheck, CspError> {
        let address = CdrCheckAddress {
            cdr_id: c.cdr_id.clone(),
        };
        c.sent_to_cso = Outbox::owner_peer(&self.core, &c.cpo, &address)?.is_some();
        let woken = self.core.store.transact(|tx| {
            CHECKS.put(tx, check_key(&c.cpo, c.cdr_id.as_str()), &c)?;
            if !c.sent_to_cso {
                return Ok::<_, CspError>(Vec::new());
            }
            let op = PushOp::put(&c).map_err(CspError::internal)?;
            Ok(Outbox::push_to_owner(&self.core, tx, &c.cpo, &address, op)?)
        })?;
        self.core.commit(woken).await?;
        if c.verdict == Verdict::Disputed {
            tracing::warn!(cdr = %c.cdr_id, reasons = ?c.reasons, "CDR disputed");
        }
        Ok(c)
    }

    /// The verdict on a CDR.
    pub fn get(&self, owner: &PartyRef, id: &str) -> Result<Option<CdrCheck>, CspError> {
        Ok(CHECKS.get(&self.core.store, &check_key(owner, id))?)
    }

    /// Every verdict.
    pub fn list(&self) -> Result<Vec<CdrCheck>, CspError> {
        Ok(CHECKS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, c)| c)
            .collect())
    }
}

/// The location time zone, if the CSP holds the location.
pub fn time_zone_of(store: &impl Read, cdr: &Cdr) -> Option<chrono_tz::Tz> {
    crate::sites::location(store, &cdr.party(), cdr.cdr_location.id.as_str())
        .ok()
        .flatten()
        .and_then(|l| parse_time_zone(l.time_zone.as_str()).ok())
}

/// A disputed CDR in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disputed {
    /// The CSO.
    pub cpo: String,
    /// The CDR.
    pub cdr_id: String,
    /// Its total.
    pub total_cost: Price,
    /// Why.
    pub reasons: Vec<Reason>,
}

/// The reconciliation of a period: what was received, what it costs, what is disputed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Start (CDR end at or after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime>,
    /// End (CDR end before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime>,
    /// CDRs, credit CDRs included.
    pub count: usize,
    /// Credit CDRs among them.
    pub credits: usize,
    /// Energy, kWh (credit CDRs subtract theirs).
    pub energy_kwh: Number,
    /// Amount excl. VAT (credits are negative already).
    pub total_excl_vat: Number,
    /// Amount incl. VAT (where given).
    pub total_incl_vat: Number,
    /// Accepted CDRs.
    pub accepted: usize,
    /// Not checked yet.
    pub unchecked: usize,
    /// Disputed CDRs with reasons.
    pub disputed: Vec<Disputed>,
}

type CheckIndex = std::collections::BTreeMap<(String, String), CdrCheck>;

fn index_key(c: &Cdr) -> (String, String) {
    (c.party().to_string(), c.id.as_str().to_ascii_lowercase())
}

impl Report {
    /// The report of `cdrs` with their checks.
    pub fn of(from: Option<DateTime>, to: Option<DateTime>, cdrs: &[Cdr], checks: &CheckIndex) -> Self {
        let mut r = Self {
            from,
            to,
            count: cdrs.len(),
            credits: 0,
            energy_kwh: Number::ZERO,
            total_excl_vat: Number::ZERO,
            total_incl_vat: Number::ZERO,
            accepted: 0,
            unchecked: 0,
            disputed: Vec::new(),
        };
        for c in cdrs {
            let sign = if c.is_credit() {
                r.credits += 1;
                Decimal::NEGATIVE_ONE
            } else {
                Decimal::ONE
            };
            r.energy_kwh = Number(r.energy_kwh.value() + sign * c.total_energy.value());
            r.total_excl_vat = Number(r.total_excl_vat.value() + c.total_cost.excl_vat.value());
            r.total_incl_vat = Number(
                r.total_incl_vat.value() + c.total_cost.incl_vat.unwrap_or(c.total_cost.excl_vat).value(),
            );
            match checks.get(&index_key(c)) {
                None => r.unchecked += 1,
                Some(k) if k.verdict == Verdict::Accepted => r.accepted += 1,
                Some(k) => r.disputed.push(Disputed {
                    cpo: c.party().to_string(),
                    cdr_id: c.id.as_str().to_owned(),
                    total_cost: c.total_cost,
                    reasons: k.reasons.clone(),
                }),
            }
        }
        r
    }

    /// One line per CDR, with its verdict and reasons.
    pub fn csv(&self, cdrs: &[Cdr], checks: &CheckIndex) -> String {
        let field = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = String::from(
            "cpo,cdr_id,contract_id,start,end,energy_kwh,total_excl_vat,total_incl_vat,currency,credit,verdict,reasons\n",
        );
        for c in cdrs {
            let check = checks.get(&index_key(c));
            let verdict = check.map_or("UNCHECKED", |k| k.verdict.as_str());
            let reasons = check
                .map(|k| {
                    k.reasons
                        .iter()
                        .map(Reason::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                c.party(),
                field(c.id.as_str()),
                field(c.cdr_token.contract_id.as_str()),
                c.start_date_time,
                c.end_date_time,
                c.total_energy.value(),
                c.total_cost.excl_vat.value(),
                c.total_cost
                    .incl_vat
                    .map(|v| v.value().to_string())
                    .unwrap_or_default(),
                c.currency.as_str(),
                c.is_credit(),
                verdict,
                field(&reasons)
            ));
        }
        out.push_str(&format!(
            "TOTAL,{},,,,{},{},{},,,{} disputed,\n",
            self.count,
            self.energy_kwh.value(),
            self.total_excl_vat.value(),
            self.total_incl_vat.value(),
            self.disputed.len()
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verdict's push keeps the object key of before, and its group is the one the outbox derived.
    #[test]
    fn a_verdict_push_keeps_its_object_key() {
        let push = roaming_peer::outbox::Push::new(
            &CdrCheckAddress {
                cdr_id: CdrId::new("CDR-7").unwrap(),
            },
            PushOp::Delete,
        );
        assert_eq!(push.object, "cdr-checks/cdr-7");
        assert_eq!(push.group(), roaming_peer::outbox::legacy_rules(&push.object).0);
        assert_eq!((push.module, push.path), (module_id(), vec!["CDR-7".to_owned()]));
        assert!(push.query.is_empty() && push.to.is_none());
    }

    /// A check as an earlier version stored it (`csp_cdr_checks`, where the ids and reasons were plain
    /// strings) still reads back, and is written again as it was: the body sent to the CSO is the same.
    #[test]
    fn a_stored_check_of_the_earlier_version_reads_back() {
        let stored = serde_json::json!({
            "cpo": "NL-CSO", "cdr_id": "CDR-2026-0042", "contract_id": "DE-CSP-C12345678-X",
            "verdict": "DISPUTED",
            "reasons": ["total_cost excl. VAT is 9.99 but the tariff gives 3.5 for the periods sent"],
            "notes": ["no session was reported for this CDR"],
            "repriced_total": { "excl_vat": 3.5, "incl_vat": 4.235 },
            "total_cost": { "excl_vat": 9.99, "incl_vat": 12.09 }, "total_energy": 10,
            "checked_at": "2026-03-02T10:00:07.000Z", "sent_to_cso": true
        });
        let store = roaming_peer::store::StoreHandle::memory();
        let mut batch = roaming_peer::store::Batch::new();
        batch.put(
            CHECKS.space(),
            b"nl\0cso\0cdr-2026-0042".to_vec(),
            serde_json::to_vec(&stored).unwrap(),
        );
        store.apply(batch).unwrap();
        let c = CHECKS.get(&store, b"nl\0cso\0cdr-2026-0042").unwrap().unwrap();
        assert_eq!(c.verdict, Verdict::Disputed);
        assert_eq!(c.cpo.to_string(), "NL-CSO");
        assert_eq!(serde_json::to_value(&c).unwrap(), stored);
        // An accepted check without notes, not sent.
        let old = serde_json::json!({
            "cpo": "NL-CSO", "cdr_id": "CDR-1", "contract_id": "DE-CSP-C12345678-X", "verdict": "ACCEPTED",
            "reasons": [], "total_cost": { "excl_vat": 0 }, "total_energy": 0,
            "checked_at": "2026-03-02T10:00:07.000Z", "sent_to_cso": false
        });
        let c: CdrCheck = serde_json::from_value(old.clone()).unwrap();
        assert_eq!((c.verdict.clone(), c.notes.len()), (Verdict::Accepted, 0));
        assert_eq!(serde_json::to_value(&c).unwrap(), old);
    }
}
