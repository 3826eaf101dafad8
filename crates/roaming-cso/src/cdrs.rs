//! CDRs (UC3-5, UC3-9): exactly one CDR per completed session (and per reservation that ended unused
//! with a reservation price), priced by the engine of `roaming_types::pricing` from what was sealed at
//! session start (CDR-03), stored, and delivered by POST to the owning CSP through the outbox until
//! acknowledged; the Sender GET serves each CSP its own CDRs; corrections are credit CDRs (CDR-02).
//!
//! The CDR is created in the same store transaction that completes the session, so a crash either
//! loses both (the charger's stop is re-reported) or keeps both: never a completed session without
//! its CDR, never two CDRs (an index by session guards against a repeated stop).

use std::str::FromStr;
use std::sync::Arc;

use roaming_peer::core::Core;
use roaming_peer::outbox::{Outbox, Push, PushOp};
use roaming_peer::store::Tx;
use roaming_peer::store::collection::StoredDoc;
use roaming_types::DateTime;
use roaming_types::ids::{CdrId, PartyRef, TariffId};
use roaming_types::modules::cdrs::{Cdr, CdrDimension, CdrDimensionType, CdrLocation, ChargingPeriod};
use roaming_types::modules::sessions::Session;
use roaming_types::modules::tariffs::Tariff;
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use roaming_types::money::Number;
use roaming_types::pricing::{
    MeterSample, PeriodRules, PricedSession, ReservationUsage, SessionUsage, price_session_with,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::CsoError;
use crate::sessions::Sample;

pub use crate::keyspaces::{BY_SESSION, CDRS};
const ALL: &str = "all";

/// What a session's CDR is built from, fixed when the session starts (CDR-03).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seal {
    /// The location, EVSE and connector as they were.
    pub location: CdrLocation,
    /// The tariff in force: the connector's, or the published free-of-charge tariff when it has
    /// none (§9.3 item 11; `None` only in seals made before that tariff was sealed in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff: Option<Tariff>,
    /// The location's time zone (IANA name).
    pub time_zone: String,
    /// When the EVSE was reserved for this session, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_at: Option<DateTime>,
}

/// How a session ended, for its CDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Charging ended.
    Charged,
    /// A reservation ended unused: expired (`true`) or cancelled.
    ReservationUnused {
        /// Expired rather than cancelled.
        expired: bool,
    },
}

fn kwh_of(wh: Decimal) -> Decimal {
    wh / Decimal::ONE_THOUSAND
}

/// The engine's view of the readings of a session.
pub fn usage_of(
    s: &Session,
    samples: &[Sample],
    meter_start_wh: Option<Decimal>,
    end: DateTime,
    reservation: Option<ReservationUsage>,
) -> SessionUsage {
    let start_wh = meter_start_wh
        .or_else(|| samples.first().map(|x| x.energy_wh))
        .unwrap_or(Decimal::ZERO);
    let mut readings: Vec<MeterSample> = samples
        .iter()
        .filter(|x| x.at >= s.start_date_time && x.at <= end)
        .map(|x| MeterSample {
            at: x.at,
            energy_kwh: kwh_of((x.energy_wh - start_wh).max(Decimal::ZERO)),
            power_kw: kwh_of(x.power_w),
            current_a: x.current_a.unwrap_or(Decimal::ZERO),
            charging: x.charging,
        })
        .collect();
    // The meter started at zero at the session start; energy reported by the first reading flowed
    // since then (linearly, as between any two readings).
    if readings.first().is_none_or(|f| f.at > s.start_date_time) {
        let first = readings.first().cloned();
        readings.insert(
            0,
            MeterSample {
                at: s.start_date_time,
                energy_kwh: Decimal::ZERO,
                power_kw: first.as_ref().map_or(Decimal::ZERO, |f| f.power_kw),
                current_a: first.as_ref().map_or(Decimal::ZERO, |f| f.current_a),
                charging: first.as_ref().is_some_and(|f| f.charging),
            },
        );
    }
    SessionUsage {
        start: s.start_date_time,
        end: end.max(s.start_date_time),
        samples: readings,
        reservation,
    }
}

/// How the CSO prices a session and cuts it into periods: the same for the live session (UC3-6)
/// and its CDR (UC3-5), so that the two always agree.
#[derive(Debug, Clone)]
pub struct Pricing {
    /// The published free-of-charge tariff's id, for seals made before it was sealed in.
    pub free_tariff_id: TariffId,
    /// A period starts at least this often (`cso.sessions.period_secs`, SES-02).
    pub max_period: std::time::Duration,
}

impl Pricing {
    /// The period rules of a session: a period ends at the first reading `max_period` after it began.
    pub fn rules(&self) -> PeriodRules {
        PeriodRules {
            max_period_ms: i64::try_from(self.max_period.as_millis()).ok(),
        }
    }

    /// The tariff a seal prices with: the one in force at the start (CDR-03), or — for a seal made
    /// before the free-of-charge tariff was sealed in, or for a session without a seal — the
    /// free-of-charge tariff in the session's currency.
    fn tariff_of(&self, seal: Option<&Seal>, s: &Session) -> Result<Tariff, CsoError> {
        match seal.and_then(|x| x.tariff.as_ref()) {
            Some(t) => Ok(t.clone()),
            None => Tariff::free(
                &s.party(),
                self.free_tariff_id.clone(),
                s.currency.as_str(),
                s.start_date_time,
            )
            .map_err(CsoError::internal),
        }
    }

    /// Prices a session so far (or in full, with `usage.end` its end). Without a seal, the periods
    /// are those of the free-of-charge tariff in UTC.
    pub fn price(
        &self,
        s: &Session,
        seal: Option<&Seal>,
        usage: &SessionUsage,
        rules: PeriodRules,
    ) -> Result<(Tariff, PricedSession), CsoError> {
        let tariff = self.tariff_of(seal, s)?;
        let tz = match seal {
            Some(seal) => chrono_tz::Tz::from_str(&seal.time_zone)
                .map_err(|e| CsoError::Internal(format!("time zone {:?}: {e}", seal.time_zone)))?,
            None => chrono_tz::UTC,
        };
        let priced = price_session_with(&tariff, usage, tz, rules)
            .map_err(|e| CsoError::Internal(format!("pricing: {e}")))?;
        Ok((tariff, priced))
    }

    /// What a session consumed until `end`, with the reservation before it (CMD-05).
    pub fn usage(
        &self,
        s: &Session,
        seal: Option<&Seal>,
        samples: &[Sample],
        meter_start_wh: Option<Decimal>,
        end: DateTime,
        ending: Ending,
    ) -> SessionUsage {
        let reservation = match (ending, seal.and_then(|x| x.reserved_at)) {
            (Ending::ReservationUnused { expired }, Some(booked)) => Some(ReservationUsage {
                booked_at: booked,
                ended_at: end,
                expired_unused: expired,
            }),
            (Ending::Charged, Some(booked)) => Some(ReservationUsage {
                booked_at: booked,
                ended_at: s.start_date_time,
                expired_unused: false,
            }),
            (_, None) => None,
        };
        match ending {
            Ending::Charged => usage_of(s, samples, meter_start_wh, end, reservation),
            Ending::ReservationUnused { .. } => SessionUsage {
                start: end,
                end,
                samples: Vec::new(),
                reservation,
            },
        }
    }

    /// The periods and cost of a running session so far (readings until `end`).
    pub fn so_far(
        &self,
        s: &Session,
        seal: Option<&Seal>,
        samples: &[Sample],
        meter_start_wh: Option<Decimal>,
        end: DateTime,
    ) -> Result<PricedSession, CsoError> {
        let usage = self.usage(s, seal, samples, meter_start_wh, end, Ending::Charged);
        Ok(self.price(s, seal, &usage, self.rules())?.1)
    }

    /// Builds the CDR of a finished session.
    pub fn build(
        &self,
        s: &Session,
        seal: &Seal,
        samples: &[Sample],
        meter_start_wh: Option<Decimal>,
        end: DateTime,
        ending: Ending,
    ) -> Result<Cdr, CsoError> {
        let usage = self.usage(s, Some(seal), samples, meter_start_wh, end, ending);
        let (tariff, priced) = self.price(s, Some(seal), &usage, self.rules())?;
        let start = match ending {
            Ending::Charged => s.start_date_time,
            Ending::ReservationUnused { .. } => seal.reserved_at.unwrap_or(s.start_date_time),
        };
        let mut periods = priced.charging_periods;
        if periods.is_empty() {
            // A CDR has at least one period (§8.3): the whole session, nothing consumed.
            periods.push(ChargingPeriod {
                start_date_time: start,
                dimensions: vec![CdrDimension {
                    dimension_type: CdrDimensionType::Time,
                    volume: Number::ZERO,
                }],
                tariff_id: Some(tariff.id.clone()),
            });
        }
        let cdr = Cdr {
            country_code: s.country_code.clone(),
            party_id: s.party_id.clone(),
            id: CdrId::new(s.id.as_str()).map_err(CsoError::internal)?,
            start_date_time: start,
            end_date_time: end.max(start),
            session_id: Some(s.id.clone()),
            cdr_token: s.cdr_token.clone(),
            auth_method: s.auth_method.clone(),
            authorization_reference: s.authorization_reference.clone(),
            cdr_location: seal.location.clone(),
            meter_id: s.meter_id.clone(),
            currency: s.currency.clone(),
            tariffs: vec![tariff],
            charging_periods: periods,
            signed_data: None,
            total_cost: priced.total_cost,
            total_fixed_cost: priced.total_fixed_cost,
            total_energy: Number(priced.total_energy),
            total_energy_cost: priced.total_energy_cost,
            total_time: Number(priced.total_time),
            total_time_cost: priced.total_time_cost,
            total_parking_time: Some(Number(priced.total_parking_time)),
            total_parking_cost: priced.total_parking_cost,
            total_reservation_cost: priced.total_reservation_cost,
            remark: None,
            invoice_reference_id: None,
            credit: None,
            credit_reference_id: None,
            home_charging_compensation: None,
            last_updated: DateTime::now().max(end),
        };
        cdr.validate()
            .map_err(|e| CsoError::Internal(format!("the CDR of session {} is invalid: {e}", s.id)))?;
        Ok(cdr)
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
    if cdr.credit != Some(true) {
        if let Some(k) = &session_key {
            if tx.get(BY_SESSION, k)?.is_some() {
                return Ok(Vec::new());
            }
        }
    }
    let mut partitions = vec![ALL.to_owned()];
    if let Some(p) = emsp {
        partitions.push(p.to_key());
    }
    CDRS.put(
        tx,
        cdr.id.as_str().to_ascii_lowercase().as_bytes(),
        &StoredDoc {
            last_updated: cdr.last_updated,
            partitions,
            json: serde_json::to_vec(cdr).map_err(CsoError::internal)?,
        },
    )?;
    if cdr.credit != Some(true) {
        if let Some(k) = session_key {
            tx.put(BY_SESSION, k, cdr.id.as_str().as_bytes().to_vec());
        }
    }
    let Some(emsp) = emsp else {
        return Ok(Vec::new());
    };
    let Some(peer) = core.peers.hosting(emsp, &Role::Emsp)? else {
        return Ok(Vec::new());
    };
    if peer.endpoint(&ModuleId::Cdrs, &InterfaceRole::Receiver).is_none() {
        return Ok(Vec::new());
    }
    Outbox::enqueue(
        tx,
        &peer.id,
        Push {
            // Under its session's object, so that the outbox keeps it in the session's group: the CDR
            // never overtakes the session's last update (the CSP checks the CDR against it).
            object: {
                let id = cdr.id.as_str().to_ascii_lowercase();
                match &cdr.session_id {
                    Some(s) => format!("sessions/{}/cdrs/{id}", s.to_key()),
                    None => format!("cdrs/{id}"),
                }
            },
            module: ModuleId::Cdrs,
            role: InterfaceRole::Receiver,
            path: Vec::new(),
            op: PushOp::Post {
                body: serde_json::to_value(cdr).map_err(CsoError::internal)?,
            },
            to: Some(emsp.clone()),
            query: Vec::new(),
            group: None,
            appended: Vec::new(),
        },
    )?;
    Ok(vec![peer.id.clone()])
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
        CDRS.get(&self.core.store, id.to_ascii_lowercase().as_bytes())?
            .map(|d| serde_json::from_slice(&d.json).map_err(CsoError::internal))
            .transpose()
    }

    /// Every CDR, or those of one CSP, oldest first.
    pub fn list(&self, emsp: Option<&PartyRef>) -> Result<Vec<Cdr>, CsoError> {
        let mut out = Vec::new();
        for (_, d) in CDRS.all(&self.core.store, &[])? {
            let c: Cdr = serde_json::from_slice(&d.json).map_err(CsoError::internal)?;
            if emsp.is_some_and(|p| &c.emsp() != p) {
                continue;
            }
            out.push(c);
        }
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
            if CDRS
                .get_tx(tx, credit.id.as_str().to_ascii_lowercase().as_bytes())?
                .is_some()
            {
                return Err(CsoError::Conflict(format!("{id} was credited already")));
            }
            issue(&self.core, tx, &credit, Some(&credit.emsp()))
        })?;
        self.core.commit(woken).await?;
        tracing::info!(cdr = %credit.id, credit_reference_id = %original.id, "credit CDR issued");
        Ok(credit)
    }
}
