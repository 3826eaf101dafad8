//! How the CSO prices a session and its CDR (UC3-5, UC3-6): the meter readings kept with a session
//! ([`Sample`]), what is sealed when it starts ([`Seal`], CDR-03), and [`Pricing`], the glue to the
//! engine of `roaming_types::pricing` that cuts a running session into its periods, prices it, and
//! builds its CDR — the same cuts and prices for both, so that they always agree. Quotes use it too.
//!
//! Sessions and CDRs both depend on this module, and it on neither: the session state machine
//! (`crate::sessions`) calls [`Pricing`] and then issues the CDR through `crate::cdrs`.

use std::str::FromStr;

use roaming_types::DateTime;
use roaming_types::ids::{CdrId, TariffId};
use roaming_types::modules::cdrs::{Cdr, CdrDimension, CdrDimensionType, CdrLocation, ChargingPeriod};
use roaming_types::modules::sessions::Session;
use roaming_types::modules::tariffs::Tariff;
use roaming_types::money::Number;
use roaming_types::pricing::{
    MeterSample, PeriodRules, PricedSession, ReservationUsage, SessionUsage, price_session_with,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::CsoError;

/// One meter reading of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When.
    pub at: DateTime,
    /// Cumulative meter reading, Wh.
    pub energy_wh: Decimal,
    /// Instantaneous power, W.
    pub power_w: Decimal,
    /// Instantaneous current, A.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_a: Option<Decimal>,
    /// Whether the EV drew power.
    pub charging: bool,
}

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
