//! The tariff pricing engine (checklist §9.3, CDR totals §8.3): exact decimals, no I/O.
//!
//! [`price_session`] prices what a session consumed ([`SessionUsage`]) with one [`Tariff`] in the
//! location's time zone and returns the ChargingPeriods and totals of a CDR ([`PricedSession`]).
//! [`select_tariff`] picks the tariff (§9.3 item 1).
//!
//! # Rules, with the choices where the spec is silent (\[I\])
//!
//! - **Intervals** (§9.3 item 2): the session is cut wherever a restriction result of an element or
//!   the charging/parking state changes (local time of day and midnight, dates, weekdays, DST changes,
//!   `min/max_kwh` crossings interpolated inside a sample segment, `min/max_duration`, samples), and
//!   also wherever energy, power or current cross a limit of a restriction while the elements'
//!   results stay the same (an element with two conditions can fail for one reason before the cut
//!   and for another after it): so within a period *each* condition has one result, and the period's
//!   MAX_POWER / MAX_CURRENT and its energy read as linear between its ends say exactly what was
//!   priced. Each interval becomes one ChargingPeriod. Instants are milliseconds; a kWh crossing is
//!   rounded to the nearest ms and the energy there is exactly the threshold.
//! - **Component choice** (item 3): per interval and dimension, the component of the first element in
//!   list order that has the dimension and whose restrictions all hold; none = free.
//! - **Quantities** (item 4): ENERGY in kWh; TIME = time with the EV requesting power; PARKING_TIME =
//!   time connected without requesting power (E-07), billed only by PARKING_TIME components.
//! - **Meter model** \[I\]: a [`MeterSample`] gives the state from its instant until the next one, energy
//!   is linear between samples and constant after the last. Before the first sample (and without
//!   samples) the EV is idle: not charging, 0 kW, 0 A.
//! - **Reservation** (item 4): elements with `restrictions.reservation` price only the reservation
//!   (booking → end); session elements never do. On that timeline TIME is reservation time (energy 0,
//!   idle state, duration counted from the booking). When the reservation expired unused,
//!   RESERVATION_EXPIRES elements are tried before RESERVATION elements; otherwise they never apply.
//!   Elements with an unknown `reservation` value apply nowhere.
//! - **FLAT** (item 6) \[I\]: the session FLAT is the first session element with a FLAT component whose
//!   restrictions hold at session start; it is charged once, unless the usage is only an expired
//!   reservation (`expired_unused` and start = end). The reservation FLAT is the first RESERVATION
//!   element with FLAT that holds at booking, and, when the reservation expired unused, *also* the first
//!   RESERVATION_EXPIRES element with FLAT that holds at expiry (they happen at different instants, so
//!   both are due).
//! - **step_size** (item 5): applied once to the session total of ENERGY and once to TIME+PARKING_TIME
//!   (and once to reservation time), always to the *billed* total (quantities in intervals where a
//!   component was active). The step is that of the last relevant component: the last interval with an
//!   active component and a non-zero quantity. For TIME+PARKING_TIME that last interval decides which of
//!   the two totals is rounded (parking after charging: only parking). The extra quantity is billed at
//!   that component's price. Units: Wh for ENERGY, s for time. `step_size = 0` means no rounding \[I\].
//!   Before rounding, totals are rounded to 1e-9 of the step unit to drop interpolation noise.
//! - **VAT** (item 7) \[I\]: per component, incl = excl × (1 + vat/100). A component without `vat`
//!   ("no VAT applies", not 0 %) adds its excl amount to the incl sum. `incl_vat` of a Price is present
//!   when at least one component that contributed to it carries a `vat`, absent when none does.
//! - **min/max price** (item 8): clamp excl with the limits' excl values and incl with their incl
//!   values, independently. If the total has no incl (no VAT anywhere) but a limit has one, the incl
//!   total starts from the excl total (no VAT applies) and is clamped \[I\].
//! - **Rounding** (item 9): none. All amounts are exact decimals (≈ 28 significant digits).
//! - **Breakdown** (item 10): `total_fixed_cost` = session FLAT, `total_reservation_cost` = reservation
//!   TIME + reservation FLATs; a sub-total is `Some` when a component of its kind was active at all.
//! - **Quantities** are reported with 4 decimals, the default precision of an OCPI number
//!   (`types.asciidoc`): energy in kWh and time in hours are rounded (half away from zero) as
//!   *cumulative* values at every cut, and each period gets the difference, so the periods add up to
//!   the totals exactly. Energy is billed as reported (0.1 Wh: below any meter's resolution), so the
//!   energy cost of a CDR follows from its periods to the last digit. Time is billed to the
//!   millisecond (the spec's worked examples cut at minutes that are not whole 0.0001 h), so pricing
//!   a CDR from its rounded hours may differ by less than 1/10,000 of the hourly price per period.
//!   Money is never rounded.
//! - **Periods**: session periods carry ENERGY (kWh, when charging or non-zero) and TIME or
//!   PARKING_TIME (h); reservation periods carry RESERVATION_TIME (h). They also carry every dimension
//!   a restriction of the tariff reads that the time line cannot give (mod_cdrs: a new period SHALL
//!   carry all information relevant to the change of price component): MIN_POWER and MAX_POWER (kW)
//!   on every period when an element restricts on power (else MAX_POWER on charging periods, for the
//!   driver's app); MIN_CURRENT and MAX_CURRENT (A) on every period when an element restricts on
//!   current. Nothing more: every period is sent in the session and its CDR, to every CSP. Time of
//!   day, dates, durations and kWh thresholds follow from
//!   the periods' start times and energies. All periods carry the tariff id. Volumes are the
//!   measured quantities (step_size is not applied to them). With [`PeriodRules::max_period_ms`] a
//!   period also ends at the first reading that long after it began (SES-02). A usage with nothing to split gets one period
//!   at the session start with ENERGY 0, because a CDR needs at least one.

mod intervals;
#[cfg(test)]
mod tests;

use chrono::Duration;
use chrono_tz::Tz;
use rust_decimal::Decimal;

use self::intervals::{
    Interval, State, Timeline, add, div, mul, quantity, reported_hours, restrictions_hold, sub, sub_ms,
};
use crate::datetime::DateTime;
use crate::modules::common::{CdrDimension, CdrDimensionType, ChargingPeriod};
use crate::modules::tariffs::{
    PriceComponent, ReservationRestrictionType, Tariff, TariffDimensionType, TariffElement, TariffType,
};
use crate::money::{Number, Price};

/// One meter reading of a session: the state from `at` until the next sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterSample {
    /// When the reading was taken.
    pub at: DateTime,
    /// Energy delivered since the session start, kWh (cumulative; linear between samples).
    pub energy_kwh: Decimal,
    /// Power in kW from `at` on.
    pub power_kw: Decimal,
    /// Current in A, summed over the phases, from `at` on.
    pub current_a: Decimal,
    /// Whether the EV requests power from `at` on (false = PARKING_TIME, checklist §8.3 erratum E-07).
    pub charging: bool,
}

/// A reservation that preceded (or replaced) the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationUsage {
    /// When the reservation was made (start of the reservation time).
    pub booked_at: DateTime,
    /// When it ended: the session start, or the expiry.
    pub ended_at: DateTime,
    /// The reservation expired without a charging session (RESERVATION_EXPIRES elements apply).
    pub expired_unused: bool,
}

/// What was consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUsage {
    /// Session start.
    pub start: DateTime,
    /// Session end (equal to `start` for a reservation that was never used).
    pub end: DateTime,
    /// Meter samples, sorted by time; may be empty (no energy, not charging).
    pub samples: Vec<MeterSample>,
    /// The reservation, if any; it must end no later than a non-empty session starts.
    pub reservation: Option<ReservationUsage>,
}

impl SessionUsage {
    /// A synthetic session for price quotes: `energy_kwh` delivered evenly over `charging_minutes`
    /// at constant power, then `parking_minutes` connected without charging. With
    /// `charging_minutes = 0` no energy is delivered.
    pub fn constant(
        start: DateTime,
        energy_kwh: Decimal,
        charging_minutes: u32,
        parking_minutes: u32,
        current_a: Decimal,
    ) -> Self {
        let charge_end = start.plus(Duration::minutes(i64::from(charging_minutes)));
        let end = charge_end.plus(Duration::minutes(i64::from(parking_minutes)));
        let idle = |at: DateTime, energy_kwh: Decimal| MeterSample {
            at,
            energy_kwh,
            power_kw: Decimal::ZERO,
            current_a: Decimal::ZERO,
            charging: false,
        };
        let samples = if charging_minutes == 0 {
            vec![idle(start, Decimal::ZERO)]
        } else {
            let power_kw = energy_kwh
                .checked_mul(Decimal::from(60))
                .and_then(|e| e.checked_div(Decimal::from(charging_minutes)))
                .unwrap_or(Decimal::ZERO);
            vec![
                MeterSample {
                    at: start,
                    energy_kwh: Decimal::ZERO,
                    power_kw,
                    current_a,
                    charging: true,
                },
                idle(charge_end, energy_kwh),
            ]
        };
        Self {
            start,
            end,
            samples,
            reservation: None,
        }
    }
}

/// The current (A, summed over phases) an EV draws to deliver `energy_kwh` evenly over
/// `charging_minutes` at `voltage` V — what current restrictions see in a quote.
pub fn quote_current_a(energy_kwh: Decimal, charging_minutes: u32, voltage: u32) -> Decimal {
    if charging_minutes == 0 || voltage == 0 {
        return Decimal::ZERO;
    }
    energy_kwh
        .checked_mul(Decimal::from(60_000))
        .and_then(|w| w.checked_div(Decimal::from(charging_minutes)))
        .and_then(|w| w.checked_div(Decimal::from(voltage)))
        .unwrap_or(Decimal::ZERO)
}

/// The result, ready for a CDR: all quantities exact, money not rounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedSession {
    /// One period per interval of §9.3 item 2, reservation periods first.
    pub charging_periods: Vec<ChargingPeriod>,
    /// Energy delivered, kWh.
    pub total_energy: Decimal,
    /// Hours, whole session (start → end).
    pub total_time: Decimal,
    /// Hours connected without requesting power.
    pub total_parking_time: Decimal,
    /// Total after min_price / max_price (excl and incl clamped independently).
    pub total_cost: Price,
    /// The session FLAT (not parking or reservation).
    pub total_fixed_cost: Option<Price>,
    /// ENERGY cost.
    pub total_energy_cost: Option<Price>,
    /// Charging TIME cost.
    pub total_time_cost: Option<Price>,
    /// PARKING_TIME cost.
    pub total_parking_cost: Option<Price>,
    /// Reservation TIME and FLAT cost.
    pub total_reservation_cost: Option<Price>,
}

/// Why a session could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The session ends before it starts.
    #[error("session ends ({end}) before it starts ({start})")]
    EndBeforeStart {
        /// Session start.
        start: DateTime,
        /// Session end.
        end: DateTime,
    },
    /// Meter samples out of time order.
    #[error("meter sample {index} is earlier than the sample before it")]
    UnsortedSamples {
        /// Index of the first sample out of order.
        index: usize,
    },
    /// The reservation ends before it was booked.
    #[error("reservation ends ({ended_at}) before it was booked ({booked_at})")]
    ReservationEndsBeforeBooking {
        /// Booking instant.
        booked_at: DateTime,
        /// End instant.
        ended_at: DateTime,
    },
    /// The reservation is still running when the (non-empty) session starts.
    #[error("reservation ends ({ended_at}) after the session starts ({start})")]
    ReservationOverlapsSession {
        /// End of the reservation.
        ended_at: DateTime,
        /// Session start.
        start: DateTime,
    },
    /// A Location `time_zone` that is not an IANA zone name.
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    /// The tariff has no currency.
    #[error("tariff {tariff_id} has no currency")]
    MissingCurrency {
        /// The tariff id.
        tariff_id: String,
    },
    /// A number or an instant left the representable range.
    #[error("arithmetic overflow while pricing")]
    Overflow,
}

/// What a session consumed as its ChargingPeriods tell it, for pricing a CDR someone else built: each
/// period is a reading at its start with the energy of the periods before it, the period's MAX_POWER
/// and MAX_CURRENT as the EV's state (0 when absent: within a period every restriction gives one
/// result, so its maximum stands for all of it), charging when it has TIME or no PARKING_TIME; the
/// last period ends at `end` with all the energy. RESERVATION_TIME periods are left out (a CDR does
/// not say when the reservation was made).
pub fn usage_of_periods(periods: &[ChargingPeriod], start: DateTime, end: DateTime) -> SessionUsage {
    let mut samples = Vec::with_capacity(periods.len() + 1);
    let mut energy = Decimal::ZERO;
    for p in periods {
        let volume = |t: &CdrDimensionType| {
            p.dimensions
                .iter()
                .find(|d| &d.dimension_type == t)
                .map(|d| d.volume.0)
        };
        if volume(&CdrDimensionType::ReservationTime).is_some() {
            continue;
        }
        samples.push(MeterSample {
            at: p.start_date_time,
            energy_kwh: energy,
            power_kw: volume(&CdrDimensionType::MaxPower).unwrap_or(Decimal::ZERO),
            current_a: volume(&CdrDimensionType::MaxCurrent).unwrap_or(Decimal::ZERO),
            charging: volume(&CdrDimensionType::Time).is_some()
                || volume(&CdrDimensionType::ParkingTime).is_none(),
        });
        energy += volume(&CdrDimensionType::Energy).unwrap_or(Decimal::ZERO);
    }
    if let Some(last) = samples.last().cloned() {
        if end > last.at {
            samples.push(MeterSample {
                at: end,
                energy_kwh: energy,
                power_kw: Decimal::ZERO,
                current_a: Decimal::ZERO,
                charging: last.charging,
            });
        }
    }
    SessionUsage {
        start,
        end,
        samples,
        reservation: None,
    }
}

/// A quantity (kWh, h) as reported: 4 decimals, half away from zero (see the module documentation).
pub fn round_quantity(d: Decimal) -> Decimal {
    quantity(d)
}

/// A Location `time_zone` (IANA name such as `Europe/Oslo`) as a [`Tz`].
pub fn parse_time_zone(name: &str) -> Result<Tz, PricingError> {
    name.parse::<Tz>()
        .map_err(|_| PricingError::UnknownTimeZone(name.to_owned()))
}

/// §9.3 item 1: among the connector's tariffs, the first whose `type` fits (`wanted` = None means
/// REGULAR or untyped; an untyped tariff fits every session) and that is valid at `at`.
pub fn select_tariff<'a>(
    tariffs: &'a [Tariff],
    wanted: Option<&TariffType>,
    at: DateTime,
) -> Option<&'a Tariff> {
    tariffs.iter().find(|t| {
        let fits = match (t.tariff_type.as_ref(), wanted) {
            (None, _) => true,
            (Some(have), None) => *have == TariffType::Regular,
            (Some(have), Some(want)) => have == want,
        };
        fits && t.is_valid_at(at)
    })
}

/// Which timeline an element prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Session,
    Reservation,
    Expires,
    Unknown,
}

fn kind(e: &TariffElement) -> Kind {
    match e.restrictions.as_ref().and_then(|r| r.reservation.as_ref()) {
        None => Kind::Session,
        Some(ReservationRestrictionType::Reservation) => Kind::Reservation,
        Some(ReservationRestrictionType::ReservationExpires) => Kind::Expires,
        Some(ReservationRestrictionType::Other(_)) => Kind::Unknown,
    }
}

fn component<'t>(e: &'t TariffElement, dim: &TariffDimensionType) -> Option<&'t PriceComponent> {
    e.price_components.iter().find(|c| c.dimension == *dim)
}

/// The active component of `dim` in an interval: the first holding element that has one.
fn active<'t>(
    elements: &[&'t TariffElement],
    holds: &[bool],
    dim: &TariffDimensionType,
) -> Option<&'t PriceComponent> {
    elements
        .iter()
        .zip(holds)
        .filter(|(_, h)| **h)
        .find_map(|(e, _)| component(e, dim))
}

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;
const SECONDS_PER_HOUR: Decimal = Decimal::from_parts(3600, 0, 0, false, 0);
const WH_PER_KWH: Decimal = Decimal::ONE_THOUSAND;

/// A running sum of one cost category.
///
/// Amounts are kept multiplied by 3600 (currency × s / h), so that time-based amounts (price per hour
/// × seconds) add up exactly and are divided by 3600 only once, when the sum is read.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    excl_x3600: Decimal,
    incl_x3600: Decimal,
    used: bool,
    vat: bool,
}

impl Acc {
    /// Adds an amount (FLAT price, or price × kWh) priced by `comp` (its VAT, or none).
    fn charge(&mut self, comp: &PriceComponent, amount: Decimal) -> Result<(), PricingError> {
        self.add_scaled(comp, mul(amount, SECONDS_PER_HOUR)?)
    }

    /// Adds `seconds` of a per-hour component.
    fn charge_seconds(&mut self, comp: &PriceComponent, seconds: Decimal) -> Result<(), PricingError> {
        self.add_scaled(comp, mul(comp.price.0, seconds)?)
    }

    fn add_scaled(&mut self, comp: &PriceComponent, excl: Decimal) -> Result<(), PricingError> {
        self.used = true;
        self.excl_x3600 = add(self.excl_x3600, excl)?;
        let incl = match comp.vat {
            Some(vat) => {
                self.vat = true;
                div(mul(excl, add(HUNDRED, vat.0)?)?, HUNDRED)?
            }
            None => excl,
        };
        self.incl_x3600 = add(self.incl_x3600, incl)?;
        Ok(())
    }

    fn merge(self, other: Self) -> Result<Self, PricingError> {
        Ok(Self {
            excl_x3600: add(self.excl_x3600, other.excl_x3600)?,
            incl_x3600: add(self.incl_x3600, other.incl_x3600)?,
            used: self.used || other.used,
            vat: self.vat || other.vat,
        })
    }

    /// The sum excluding VAT.
    fn excl(self) -> Result<Decimal, PricingError> {
        div(self.excl_x3600, SECONDS_PER_HOUR)
    }

    /// The sum including VAT where it applies (excl where it does not).
    fn incl(self) -> Result<Decimal, PricingError> {
        div(self.incl_x3600, SECONDS_PER_HOUR)
    }

    fn price(self) -> Result<Option<Price>, PricingError> {
        if !self.used {
            return Ok(None);
        }
        let incl = if self.vat {
            Some(Number(self.incl()?.normalize()))
        } else {
            None
        };
        Ok(Some(Price::new(Number(self.excl()?.normalize()), incl)))
    }
}

/// A billed quantity (kWh or s) at one component.
#[derive(Debug, Clone, Copy)]
struct Line<'t> {
    comp: &'t PriceComponent,
    qty: Decimal,
}

/// The extra quantity that rounds `total` (in qty units; `per_unit` step units per qty unit) up to a
/// whole number of `step`s; 0 when nothing is to be rounded.
fn step_extra(total: Decimal, per_unit: Decimal, step: u32) -> Result<Decimal, PricingError> {
    if step == 0 || total <= Decimal::ZERO {
        return Ok(Decimal::ZERO);
    }
    let step = Decimal::from(step);
    let in_units = mul(total, per_unit)?.round_dp(9);
    let rounded = mul(div(in_units, step)?.ceil(), step)?;
    Ok(sub(div(rounded, per_unit)?, total)?.max(Decimal::ZERO))
}

fn sum_qty(lines: &[Line<'_>]) -> Result<Decimal, PricingError> {
    lines.iter().try_fold(Decimal::ZERO, |acc, l| add(acc, l.qty))
}

fn dim(dimension_type: CdrDimensionType, volume: Decimal) -> CdrDimension {
    CdrDimension {
        dimension_type,
        volume: Number(volume.normalize()),
    }
}

/// How periods are cut beyond §9.3 item 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeriodRules {
    /// A period ends at the first reading at least this long (ms) after it began, whatever the
    /// price does: live feedback (SES-02). Readings closer together are not cut; periods are never
    /// cut between readings for it.
    pub max_period_ms: Option<i64>,
}

/// Prices a session with one tariff in the location's time zone (checklist §9.3 items 2–11; see the
/// module documentation for the exact rules).
pub fn price_session(tariff: &Tariff, usage: &SessionUsage, tz: Tz) -> Result<PricedSession, PricingError> {
    price_session_with(tariff, usage, tz, PeriodRules::default())
}

/// Which instantaneous dimensions the periods must carry.
#[derive(Debug, Clone, Copy)]
struct Reads {
    power: bool,
    current: bool,
}

/// [`price_session`] with explicit [`PeriodRules`].
pub fn price_session_with(
    tariff: &Tariff,
    usage: &SessionUsage,
    tz: Tz,
    rules: PeriodRules,
) -> Result<PricedSession, PricingError> {
    if tariff.currency.as_str().trim().is_empty() {
        return Err(PricingError::MissingCurrency {
            tariff_id: tariff.id.as_str().to_owned(),
        });
    }
    let length_ms = usage
        .end
        .timestamp_millis()
        .checked_sub(usage.start.timestamp_millis())
        .ok_or(PricingError::Overflow)?;
    if length_ms < 0 {
        return Err(PricingError::EndBeforeStart {
            start: usage.start,
            end: usage.end,
        });
    }
    let tariff_id = Some(tariff.id.clone());
    let mut periods: Vec<ChargingPeriod> = Vec::new();

    // --- Reservation (booking → end of reservation) ---------------------------------------------
    let mut reservation = Acc::default();
    let mut reservation_only = false;
    if let Some(r) = &usage.reservation {
        if r.ended_at < r.booked_at {
            return Err(PricingError::ReservationEndsBeforeBooking {
                booked_at: r.booked_at,
                ended_at: r.ended_at,
            });
        }
        if length_ms > 0 && r.ended_at > usage.start {
            return Err(PricingError::ReservationOverlapsSession {
                ended_at: r.ended_at,
                start: usage.start,
            });
        }
        reservation_only = r.expired_unused && length_ms == 0;
        price_reservation(tariff, r, tz, &mut reservation, &mut periods)?;
    }

    // --- Session (start → end) -------------------------------------------------------------------
    let elements: Vec<&TariffElement> = tariff
        .elements
        .iter()
        .filter(|e| kind(e) == Kind::Session)
        .collect();
    let mut timeline = Timeline::session(usage.start.to_chrono(), length_ms, tz, &usage.samples)?;
    let intervals = timeline.split_with(&elements, rules.max_period_ms)?;
    let restricts = |f: fn(&crate::modules::tariffs::TariffRestrictions) -> bool| {
        elements.iter().any(|e| e.restrictions.as_ref().is_some_and(f))
    };
    let reads = Reads {
        power: restricts(|r| r.min_power.is_some() || r.max_power.is_some()),
        current: restricts(|r| r.min_current.is_some() || r.max_current.is_some()),
    };

    let mut fixed = Acc::default();
    if !reservation_only {
        let at_start = timeline.conditions(0)?;
        let flat = elements
            .iter()
            .filter(|e| restrictions_hold(e.restrictions.as_ref(), &at_start))
            .find_map(|e| component(e, &TariffDimensionType::Flat));
        if let Some(c) = flat {
            fixed.charge(c, c.price.0)?;
        }
    }

    let mut energy_lines: Vec<Line<'_>> = Vec::new();
    let mut time_lines: Vec<Line<'_>> = Vec::new();
    let mut parking_lines: Vec<Line<'_>> = Vec::new();
    let mut last_energy: Option<&PriceComponent> = None;
    // The last interval with an active TIME (charging) or PARKING_TIME (parking) component.
    let mut last_time: Option<(bool, &PriceComponent)> = None;

    let mut parking_hours = Decimal::ZERO;
    for iv in &intervals {
        let seconds = Decimal::new(sub_ms(iv.to_ms, iv.from_ms)?, 3);
        let hours = sub(reported_hours(iv.to_ms)?, reported_hours(iv.from_ms)?)?;
        let kwh = timeline.billed_energy_between(iv.from_ms, iv.to_ms)?;
        if let Some(c) = active(&elements, &iv.holds, &TariffDimensionType::Energy) {
            energy_lines.push(Line { comp: c, qty: kwh });
            if !kwh.is_zero() {
                last_energy = Some(c);
            }
        }
        let (time_dim, lines) = if iv.charging {
            (TariffDimensionType::Time, &mut time_lines)
        } else {
            parking_hours = add(parking_hours, hours)?;
            (TariffDimensionType::ParkingTime, &mut parking_lines)
        };
        if let Some(c) = active(&elements, &iv.holds, &time_dim) {
            lines.push(Line {
                comp: c,
                qty: seconds,
            });
            last_time = Some((!iv.charging, c));
        }
        periods.push(session_period(
            &timeline,
            iv,
            kwh,
            hours,
            reads,
            tariff_id.clone(),
        )?);
    }

    let mut energy = Acc::default();
    for l in &energy_lines {
        energy.charge(l.comp, mul(l.comp.price.0, l.qty)?)?;
    }
    if let Some(c) = last_energy {
        let extra = step_extra(sum_qty(&energy_lines)?, WH_PER_KWH, c.step_size)?;
        if !extra.is_zero() {
            energy.charge(c, mul(c.price.0, extra)?)?;
        }
    }

    let mut time = Acc::default();
    for l in &time_lines {
        time.charge_seconds(l.comp, l.qty)?;
    }
    let mut parking = Acc::default();
    for l in &parking_lines {
        parking.charge_seconds(l.comp, l.qty)?;
    }
    if let Some((is_parking, c)) = last_time {
        let (lines, acc) = if is_parking {
            (&parking_lines, &mut parking)
        } else {
            (&time_lines, &mut time)
        };
        let extra = step_extra(sum_qty(lines)?, Decimal::ONE, c.step_size)?;
        if !extra.is_zero() {
            acc.charge_seconds(c, extra)?;
        }
    }

    if periods.is_empty() {
        periods.push(ChargingPeriod {
            start_date_time: usage.start,
            dimensions: vec![dim(CdrDimensionType::Energy, Decimal::ZERO)],
            tariff_id,
        });
    }

    let all = [fixed, energy, time, parking, reservation]
        .into_iter()
        .try_fold(Acc::default(), Acc::merge)?;
    Ok(PricedSession {
        charging_periods: periods,
        total_energy: timeline.billed_energy_between(0, length_ms)?.normalize(),
        total_time: reported_hours(length_ms)?.normalize(),
        total_parking_time: parking_hours.normalize(),
        total_cost: clamp(all, tariff.min_price.as_ref(), tariff.max_price.as_ref())?,
        total_fixed_cost: fixed.price()?,
        total_energy_cost: energy.price()?,
        total_time_cost: time.price()?,
        total_parking_cost: parking.price()?,
        total_reservation_cost: reservation.price()?,
    })
}

fn session_period(
    timeline: &Timeline,
    iv: &Interval,
    kwh: Decimal,
    hours: Decimal,
    reads: Reads,
    tariff_id: Option<crate::ids::TariffId>,
) -> Result<ChargingPeriod, PricingError> {
    let mut dimensions = Vec::with_capacity(6);
    if iv.charging || !kwh.is_zero() {
        dimensions.push(dim(CdrDimensionType::Energy, kwh));
    }
    let time_type = if iv.charging {
        CdrDimensionType::Time
    } else {
        CdrDimensionType::ParkingTime
    };
    dimensions.push(dim(time_type, hours));
    let states = timeline.states_between(iv.from_ms, iv.to_ms);
    let range = |f: fn(&State) -> Decimal| {
        let values = states.iter().map(f);
        let min = values.clone().min().unwrap_or(Decimal::ZERO);
        let max = values.max().unwrap_or(Decimal::ZERO);
        (quantity(min), quantity(max))
    };
    if reads.power {
        let (min, max) = range(|s| s.power_kw);
        dimensions.push(dim(CdrDimensionType::MinPower, min));
        dimensions.push(dim(CdrDimensionType::MaxPower, max));
    } else if iv.charging {
        // What a driver's app shows; not needed for the price.
        dimensions.push(dim(CdrDimensionType::MaxPower, range(|s| s.power_kw).1));
    }
    if reads.current {
        let (min, max) = range(|s| s.current_a);
        dimensions.push(dim(CdrDimensionType::MinCurrent, min));
        dimensions.push(dim(CdrDimensionType::MaxCurrent, max));
    }
    Ok(ChargingPeriod {
        start_date_time: DateTime::from_chrono(timeline.instant(iv.from_ms)?),
        dimensions,
        tariff_id,
    })
}

/// Prices the reservation timeline into `acc` and appends its periods.
fn price_reservation(
    tariff: &Tariff,
    r: &ReservationUsage,
    tz: Tz,
    acc: &mut Acc,
    periods: &mut Vec<ChargingPeriod>,
) -> Result<(), PricingError> {
    let of_kind = |k: Kind| tariff.elements.iter().filter(move |e| kind(e) == k);
    // RESERVATION_EXPIRES elements win over RESERVATION ones, and only for an expired reservation.
    let elements: Vec<&TariffElement> = if r.expired_unused {
        of_kind(Kind::Expires).chain(of_kind(Kind::Reservation)).collect()
    } else {
        of_kind(Kind::Reservation).collect()
    };
    let length_ms = r
        .ended_at
        .timestamp_millis()
        .checked_sub(r.booked_at.timestamp_millis())
        .ok_or(PricingError::Overflow)?;
    let mut timeline = Timeline::idle(r.booked_at.to_chrono(), length_ms, tz);

    let flat_at = |k: Kind, t2: i64| -> Result<Option<&PriceComponent>, PricingError> {
        let c = timeline.conditions(t2)?;
        Ok(of_kind(k)
            .filter(|e| restrictions_hold(e.restrictions.as_ref(), &c))
            .find_map(|e| component(e, &TariffDimensionType::Flat)))
    };
    if let Some(c) = flat_at(Kind::Reservation, 0)? {
        acc.charge(c, c.price.0)?;
    }
    if r.expired_unused {
        let end2 = length_ms.checked_mul(2).ok_or(PricingError::Overflow)?;
        if let Some(c) = flat_at(Kind::Expires, end2)? {
            acc.charge(c, c.price.0)?;
        }
    }

    let intervals = timeline.split(&elements)?;
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut last: Option<&PriceComponent> = None;
    for iv in &intervals {
        let seconds = Decimal::new(sub_ms(iv.to_ms, iv.from_ms)?, 3);
        let hours = sub(reported_hours(iv.to_ms)?, reported_hours(iv.from_ms)?)?;
        if let Some(c) = active(&elements, &iv.holds, &TariffDimensionType::Time) {
            lines.push(Line {
                comp: c,
                qty: seconds,
            });
            last = Some(c);
        }
        periods.push(ChargingPeriod {
            start_date_time: DateTime::from_chrono(timeline.instant(iv.from_ms)?),
            dimensions: vec![dim(CdrDimensionType::ReservationTime, hours)],
            tariff_id: Some(tariff.id.clone()),
        });
    }
    for l in &lines {
        acc.charge_seconds(l.comp, l.qty)?;
    }
    if let Some(c) = last {
        let extra = step_extra(sum_qty(&lines)?, Decimal::ONE, c.step_size)?;
        if !extra.is_zero() {
            acc.charge_seconds(c, extra)?;
        }
    }
    Ok(())
}

/// §9.3 item 8: excl clamped with the limits' excl values, incl with their incl values.
fn clamp(total: Acc, min: Option<&Price>, max: Option<&Price>) -> Result<Price, PricingError> {
    let total_excl = total.excl()?;
    let mut excl = total_excl;
    if let Some(m) = min {
        excl = excl.max(m.excl_vat.0);
    }
    if let Some(m) = max {
        excl = excl.min(m.excl_vat.0);
    }
    let min_incl = min.and_then(|p| p.incl_vat).map(|n| n.0);
    let max_incl = max.and_then(|p| p.incl_vat).map(|n| n.0);
    let incl = if total.vat {
        Some(total.incl()?)
    } else if min_incl.is_some() || max_incl.is_some() {
        Some(total_excl)
    } else {
        None
    };
    let incl = incl.map(|mut v| {
        if let Some(m) = min_incl {
            v = v.max(m);
        }
        if let Some(m) = max_incl {
            v = v.min(m);
        }
        Number(v.normalize())
    });
    Ok(Price::new(Number(excl.normalize()), incl))
}
