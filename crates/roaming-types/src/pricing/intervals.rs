//! Timelines, interval splitting and restriction checks (checklist §9.3 items 2 and 3).
//!
//! A [`Timeline`] is one stretch of priced time: the charging session (start → end) or the
//! reservation (booking → end of reservation). Instants on it are integer milliseconds after its
//! origin, the precision of an OCPI `DateTime`. Restrictions are evaluated at the *midpoint* of each
//! interval (half-millisecond units), never at its ends: the cut points already hold every instant
//! where a restriction result can change, so the result is the same everywhere inside an interval and
//! the inclusive/exclusive ends of `min_*`/`max_*`, `start_*`/`end_*` take care of themselves.
//!
//! Cut points:
//! - the meter samples (state changes: charging/parking, power, current);
//! - the instants where the cumulative energy crosses a `min_kwh`/`max_kwh` value, interpolated
//!   within the sample segment and rounded to the millisecond. The energy *at that cut* is pinned to
//!   exactly the threshold value, so the energy on each side of it is exact; the curve itself stays
//!   linear between the samples (restrictions and all other cuts use the curve);
//! - `min_duration`/`max_duration` after the origin;
//! - every `start_time`/`end_time` and every local midnight (date and weekday changes), on every local
//!   day of the timeline, both instants when a local time occurs twice (DST fall-back);
//! - every UTC offset change of the time zone (a local time that does not exist in a DST gap switches
//!   at the offset change).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::Excluded;

use chrono::{Datelike, Duration, LocalResult, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::{MeterSample, PricingError};
use crate::modules::tariffs::{DayOfWeek, TariffElement, TariffRestrictions};

/// Checked `a + b`.
pub(super) fn add(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_add(b).ok_or(PricingError::Overflow)
}

/// Checked `a - b`.
pub(super) fn sub(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_sub(b).ok_or(PricingError::Overflow)
}

/// Checked `a * b`.
pub(super) fn mul(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_mul(b).ok_or(PricingError::Overflow)
}

/// Checked `a / b` (`b` is never zero where this is called; zero also maps to the error).
pub(super) fn div(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_div(b).ok_or(PricingError::Overflow)
}

fn ms_add(a: i64, b: i64) -> Result<i64, PricingError> {
    a.checked_add(b).ok_or(PricingError::Overflow)
}

pub(super) fn sub_ms(a: i64, b: i64) -> Result<i64, PricingError> {
    ms_sub(a, b)
}

fn ms_sub(a: i64, b: i64) -> Result<i64, PricingError> {
    a.checked_sub(b).ok_or(PricingError::Overflow)
}

fn twice(a: i64) -> Result<i64, PricingError> {
    a.checked_mul(2).ok_or(PricingError::Overflow)
}

/// What the EV does from a sample on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct State {
    /// The EV requests power (TIME); otherwise PARKING_TIME.
    pub(super) charging: bool,
    /// Power, kW.
    pub(super) power_kw: Decimal,
    /// Current summed over the phases, A.
    pub(super) current_a: Decimal,
}

impl State {
    /// Before the first sample, during a reservation, or without samples: connected, requesting no power.
    pub(super) const IDLE: Self = Self {
        charging: false,
        power_kw: Decimal::ZERO,
        current_a: Decimal::ZERO,
    };
}

/// Everything a `TariffRestrictions` looks at, at one instant.
#[derive(Debug, Clone)]
pub(super) struct Conditions {
    /// Local date and time.
    pub(super) local: NaiveDateTime,
    /// Seconds since the origin of the timeline.
    pub(super) duration_s: Decimal,
    /// kWh since the origin of the timeline.
    pub(super) energy_kwh: Decimal,
    /// The EV's state.
    pub(super) state: State,
}

/// One interval of a timeline with a constant restriction result per element and a constant state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Interval {
    /// Start, ms after the origin.
    pub(super) from_ms: i64,
    /// End, ms after the origin.
    pub(super) to_ms: i64,
    /// Whether the EV requests power in the interval.
    pub(super) charging: bool,
    /// For each element given to [`Timeline::split`], whether its restrictions hold.
    pub(super) holds: Vec<bool>,
    /// Where energy, power and current lie among the restrictions' kWh, power and current limits
    /// (how many limits they reach): constant within an interval, so that *each* of those conditions
    /// gives one result in it, not only each element — and any power or current of the interval
    /// stands for all of it, and its energy can be read as linear between its ends.
    pub(super) bands: (usize, usize, usize),
}

/// A priced stretch of time (see the module documentation).
#[derive(Debug, Clone)]
pub(super) struct Timeline {
    origin: chrono::DateTime<Utc>,
    length_ms: i64,
    tz: Tz,
    /// Cumulative energy since the origin (kWh), by ms; linear between points, constant outside.
    curve: Vec<(i64, Decimal)>,
    /// The state from each instant on; [`State::IDLE`] before the first.
    states: Vec<(i64, State)>,
    /// kWh crossing cuts and the threshold value the energy is pinned to there.
    pinned: BTreeMap<i64, Decimal>,
}

impl Timeline {
    /// A timeline without energy, in the idle state (a reservation).
    pub(super) fn idle(origin: chrono::DateTime<Utc>, length_ms: i64, tz: Tz) -> Self {
        Self {
            origin,
            length_ms,
            tz,
            curve: Vec::new(),
            states: Vec::new(),
            pinned: BTreeMap::new(),
        }
    }

    /// The charging session timeline from its meter samples (which must be sorted by time; for equal
    /// times the last sample wins). Before the first sample the state is idle and the energy rises
    /// linearly from 0 at the origin to the first sample's value.
    pub(super) fn session(
        origin: chrono::DateTime<Utc>,
        length_ms: i64,
        tz: Tz,
        samples: &[MeterSample],
    ) -> Result<Self, PricingError> {
        let origin_ms = origin.timestamp_millis();
        let mut curve: Vec<(i64, Decimal)> = Vec::with_capacity(samples.len() + 1);
        let mut states: Vec<(i64, State)> = Vec::with_capacity(samples.len());
        for (index, s) in samples.iter().enumerate() {
            let at = ms_sub(s.at.timestamp_millis(), origin_ms)?;
            let state = State {
                charging: s.charging,
                power_kw: s.power_kw,
                current_a: s.current_a,
            };
            match (curve.last_mut(), states.last_mut()) {
                (Some(last), _) if last.0 > at => return Err(PricingError::UnsortedSamples { index }),
                (Some(last), Some(last_state)) if last.0 == at => {
                    *last = (at, s.energy_kwh);
                    *last_state = (at, state);
                }
                _ => {
                    curve.push((at, s.energy_kwh));
                    states.push((at, state));
                }
            }
        }
        if curve.first().is_some_and(|p| p.0 > 0) {
            curve.insert(0, (0, Decimal::ZERO));
        }
        // Energy is measured from the origin even when a sample lies before it.
        let base = energy_on(&curve, 0)?;
        for p in &mut curve {
            p.1 = sub(p.1, base)?;
        }
        Ok(Self {
            origin,
            length_ms,
            tz,
            curve,
            states,
            pinned: BTreeMap::new(),
        })
    }

    /// The UTC instant `ms` after the origin.
    pub(super) fn instant(&self, ms: i64) -> Result<chrono::DateTime<Utc>, PricingError> {
        Duration::try_milliseconds(ms)
            .and_then(|d| self.origin.checked_add_signed(d))
            .ok_or(PricingError::Overflow)
    }

    /// The cumulative kWh at `ms` (a cut or an end of the timeline), exact.
    fn energy_at(&self, ms: i64) -> Result<Decimal, PricingError> {
        match self.pinned.get(&ms) {
            Some(k) => Ok(*k),
            None => energy_on(&self.curve, twice(ms)?),
        }
    }

    /// kWh from `a_ms` to `b_ms` as billed and reported: the cumulative energy rounded to
    /// [`quantity`] at both cuts, so that the parts add up to the rounded total exactly.
    pub(super) fn billed_energy_between(&self, a_ms: i64, b_ms: i64) -> Result<Decimal, PricingError> {
        sub(quantity(self.energy_at(b_ms)?), quantity(self.energy_at(a_ms)?))
    }

    /// The EV's states from `a_ms` (inclusive) to `b_ms` (exclusive): the one in force at `a_ms`
    /// and every one that begins inside.
    pub(super) fn states_between(&self, a_ms: i64, b_ms: i64) -> Vec<State> {
        let first = self.states.partition_point(|(at, _)| *at <= a_ms);
        let at_start = first
            .checked_sub(1)
            .and_then(|i| self.states.get(i))
            .map_or(State::IDLE, |(_, s)| *s);
        std::iter::once(at_start)
            .chain(
                self.states[first..]
                    .iter()
                    .take_while(|(at, _)| *at < b_ms)
                    .map(|(_, s)| *s),
            )
            .collect()
    }

    /// The conditions at `t2` half-milliseconds after the origin (`2 * ms` for an instant, `a + b` for
    /// the midpoint of `[a, b)`).
    pub(super) fn conditions(&self, t2: i64) -> Result<Conditions, PricingError> {
        let whole_ms = t2.div_euclid(2);
        let half = t2.rem_euclid(2);
        let instant = self
            .instant(whole_ms)?
            .checked_add_signed(Duration::microseconds(500 * half))
            .ok_or(PricingError::Overflow)?;
        let idx = self.states.partition_point(|(at, _)| at.saturating_mul(2) <= t2);
        let state = idx
            .checked_sub(1)
            .and_then(|i| self.states.get(i))
            .map_or(State::IDLE, |(_, s)| *s);
        Ok(Conditions {
            local: instant.with_timezone(&self.tz).naive_local(),
            duration_s: Decimal::new(t2.checked_mul(5).ok_or(PricingError::Overflow)?, 4),
            energy_kwh: energy_on(&self.curve, t2)?,
            state,
        })
    }

    /// Splits the timeline at every instant where the restriction result of one of `elements` or the
    /// charging state changes (§9.3 item 2), and merges neighbours that end up equal, so every interval
    /// differs from the one before it in at least one restriction result, in the charging state, or in
    /// where energy, power or current lie among the restrictions' limits (a condition of an element
    /// can change while the element's result does not, when another condition of it fails on both
    /// sides; a CDR's reader must still see it, mod_cdrs).
    pub(super) fn split(&mut self, elements: &[&TariffElement]) -> Result<Vec<Interval>, PricingError> {
        self.split_with(elements, None)
    }

    /// [`split`](Self::split), with a cut that is never merged away at the first reading at least
    /// `max_period_ms` after the previous such cut (periods often enough for live feedback, SES-02).
    pub(super) fn split_with(
        &mut self,
        elements: &[&TariffElement],
        max_period_ms: Option<i64>,
    ) -> Result<Vec<Interval>, PricingError> {
        if self.length_ms <= 0 {
            return Ok(Vec::new());
        }
        let restrictions: Vec<&TariffRestrictions> =
            elements.iter().filter_map(|e| e.restrictions.as_ref()).collect();

        let thresholds: BTreeSet<Decimal> = restrictions
            .iter()
            .flat_map(|r| [r.min_kwh, r.max_kwh])
            .flatten()
            .map(|n| n.0)
            .collect();
        self.pin_crossings(&thresholds)?;

        let length = self.length_ms;
        let mut cuts = BTreeSet::from([0, length]);
        let inside = |t: i64| 0 < t && t < length;
        cuts.extend(self.curve.iter().map(|p| p.0).filter(|&t| inside(t)));
        cuts.extend(self.pinned.keys().copied().filter(|&t| inside(t)));
        cuts.extend(self.states.iter().map(|p| p.0).filter(|&t| inside(t)));
        cuts.extend(
            restrictions
                .iter()
                .flat_map(|r| [r.min_duration, r.max_duration])
                .flatten()
                .filter_map(|s| i64::try_from(s).ok()?.checked_mul(1000))
                .filter(|&t| inside(t)),
        );
        let mut minutes = BTreeSet::from([0u32]);
        minutes.extend(
            restrictions
                .iter()
                .flat_map(|r| [r.start_time, r.end_time])
                .flatten()
                .map(|hm| hm.minutes()),
        );
        self.local_cuts(&minutes, &mut cuts)?;
        self.offset_cuts(&mut cuts)?;
        // A period also ends at the first reading at least `max_period_ms` after it began: periods are
        // measured, not interpolated between readings, and as frequent as the charger reports allow.
        let mut hard = BTreeSet::new();
        if let Some(every) = max_period_ms.filter(|&e| e > 0) {
            let mut last = 0;
            for &(t, _) in &self.states {
                if inside(t) && ms_sub(t, last)? >= every {
                    hard.insert(t);
                    last = t;
                }
            }
        }

        let limits = |f: fn(&TariffRestrictions) -> [Option<crate::money::Number>; 2]| {
            restrictions
                .iter()
                .flat_map(|r| f(r))
                .flatten()
                .map(|n| n.0)
                .collect::<BTreeSet<Decimal>>()
        };
        let energy_limits = limits(|r| [r.min_kwh, r.max_kwh]);
        let power_limits = limits(|r| [r.min_power, r.max_power]);
        let current_limits = limits(|r| [r.min_current, r.max_current]);
        let band = |set: &BTreeSet<Decimal>, v: Decimal| set.range(..=v).count();

        let cuts: Vec<i64> = cuts.into_iter().collect();
        let mut out: Vec<Interval> = Vec::with_capacity(cuts.len());
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let c = self.conditions(ms_add(a, b)?)?;
            let holds: Vec<bool> = elements
                .iter()
                .map(|e| restrictions_hold(e.restrictions.as_ref(), &c))
                .collect();
            let charging = c.state.charging;
            let bands = (
                band(&energy_limits, c.energy_kwh),
                band(&power_limits, c.state.power_kw),
                band(&current_limits, c.state.current_a),
            );
            match out.last_mut() {
                Some(last)
                    if last.charging == charging
                        && last.holds == holds
                        && last.bands == bands
                        && !hard.contains(&a) =>
                {
                    last.to_ms = b;
                }
                _ => out.push(Interval {
                    from_ms: a,
                    to_ms: b,
                    charging,
                    holds,
                    bands,
                }),
            }
        }
        Ok(out)
    }

    /// Pins the energy to the threshold at every instant (rounded to the ms) where it crosses one of
    /// `thresholds` strictly inside a segment of the curve.
    fn pin_crossings(&mut self, thresholds: &BTreeSet<Decimal>) -> Result<(), PricingError> {
        self.pinned.clear();
        if thresholds.is_empty() {
            return Ok(());
        }
        for w in self.curve.windows(2) {
            let ((t0, e0), (t1, e1)) = (w[0], w[1]);
            if e0 == e1 {
                continue;
            }
            let (lo, hi) = if e0 < e1 { (e0, e1) } else { (e1, e0) };
            let dt = Decimal::from(ms_sub(t1, t0)?);
            let de = sub(e1, e0)?;
            for &k in thresholds.range((Excluded(lo), Excluded(hi))) {
                let offset = div(mul(sub(k, e0)?, dt)?, de)?;
                // Rounding to 12 decimals first drops division noise, so a crossing that is exactly
                // on a half millisecond always goes the same way.
                let tc = add(Decimal::from(t0), offset)?
                    .round_dp(12)
                    .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
                    .to_i64()
                    .ok_or(PricingError::Overflow)?;
                if t0 < tc && tc < t1 {
                    // Of two thresholds crossed within the same ms, the first one found stays.
                    self.pinned.entry(tc).or_insert(k);
                }
            }
        }
        Ok(())
    }

    /// The instants of the local times `minutes` (minutes after local midnight) on every local day that
    /// touches the timeline.
    fn local_cuts(&self, minutes: &BTreeSet<u32>, cuts: &mut BTreeSet<i64>) -> Result<(), PricingError> {
        let end = self.instant(self.length_ms)?;
        let first_day = self.origin.with_timezone(&self.tz).date_naive();
        let first_day = first_day.pred_opt().unwrap_or(first_day);
        let last_day = end.with_timezone(&self.tz).date_naive();
        let last_day = last_day.succ_opt().unwrap_or(last_day);
        let origin_ms = self.origin.timestamp_millis();
        let mut day = first_day;
        while day <= last_day {
            for &m in minutes {
                let Some(naive) = day.and_hms_opt(m / 60, m % 60, 0) else {
                    continue;
                };
                let found = match self.tz.from_local_datetime(&naive) {
                    LocalResult::Single(t) => [Some(t), None],
                    LocalResult::Ambiguous(a, b) => [Some(a), Some(b)],
                    // In a DST gap the local time switches at the offset change (see `offset_cuts`).
                    LocalResult::None => [None, None],
                };
                for t in found.into_iter().flatten() {
                    let off = ms_sub(t.timestamp_millis(), origin_ms)?;
                    if 0 < off && off < self.length_ms {
                        cuts.insert(off);
                    }
                }
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        Ok(())
    }

    /// The instants where the zone's UTC offset changes (found hour by hour, then to the ms).
    fn offset_cuts(&self, cuts: &mut BTreeSet<i64>) -> Result<(), PricingError> {
        const HOUR_MS: i64 = 3_600_000;
        let offset_at = |ms: i64| -> Result<i32, PricingError> {
            let t = self.instant(ms)?;
            Ok(self
                .tz
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc())
        };
        let mut prev_t = 0;
        let mut prev_off = offset_at(0)?;
        while prev_t < self.length_ms {
            let t = prev_t.saturating_add(HOUR_MS).min(self.length_ms);
            let off = offset_at(t)?;
            if off != prev_off {
                let (mut lo, mut hi) = (prev_t, t);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if offset_at(mid)? == prev_off {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                if hi < self.length_ms {
                    cuts.insert(hi);
                }
            }
            prev_t = t;
            prev_off = off;
        }
        Ok(())
    }
}

/// A reported and billed quantity (kWh, h): OCPI numbers have 4 decimals unless the spec says
/// otherwise (`types.asciidoc`), rounded half away from zero.
pub(super) fn quantity(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
}

/// Hours from the origin to `ms`, as reported ([`quantity`]).
pub(super) fn reported_hours(ms: i64) -> Result<Decimal, PricingError> {
    Ok(quantity(div(Decimal::new(ms, 3), Decimal::from(3600))?))
}

/// Energy of the curve at `t2` half-milliseconds: linear between points, constant outside them.
fn energy_on(curve: &[(i64, Decimal)], t2: i64) -> Result<Decimal, PricingError> {
    let idx = curve.partition_point(|p| p.0.saturating_mul(2) <= t2);
    let prev = idx.checked_sub(1).and_then(|i| curve.get(i));
    match (prev, curve.get(idx)) {
        (None, None) => Ok(Decimal::ZERO),
        (None, Some(&(_, e))) | (Some(&(_, e)), None) => Ok(e),
        (Some(&(t0, e0)), Some(&(t1, e1))) => {
            let elapsed = Decimal::from(ms_sub(t2, twice(t0)?)?);
            let span = Decimal::from(twice(ms_sub(t1, t0)?)?);
            add(e0, div(mul(sub(e1, e0)?, elapsed)?, span)?)
        }
    }
}

/// Whether `t` lies in the `start_time`/`end_time` window: start inclusive, end exclusive, end before
/// start wraps past midnight, end `00:00` is the end of the day, equal start and end = all day.
fn time_of_day_holds(r: &TariffRestrictions, t: NaiveTime) -> bool {
    let end_of_day = |m: u32| if m == 0 { 24 * 60 } else { m };
    match (r.start_time, r.end_time) {
        (None, None) => true,
        (Some(s), None) => t >= s.to_naive(),
        (None, Some(e)) => e.minutes() == 0 || t < e.to_naive(),
        (Some(s), Some(e)) => {
            let (sm, em) = (s.minutes(), end_of_day(e.minutes()));
            let after_start = t >= s.to_naive();
            let before_end = em == 24 * 60 || t < e.to_naive();
            match sm.cmp(&em) {
                std::cmp::Ordering::Less => after_start && before_end,
                std::cmp::Ordering::Greater => after_start || before_end,
                std::cmp::Ordering::Equal => true,
            }
        }
    }
}

/// Whether all restrictions except `reservation` hold under `c` (logical AND; none = always).
pub(super) fn restrictions_hold(r: Option<&TariffRestrictions>, c: &Conditions) -> bool {
    let Some(r) = r else { return true };
    let date = c.local.date();
    let at_least = |min: Option<crate::money::Number>, v: Decimal| min.is_none_or(|m| m.0 <= v);
    let below = |max: Option<crate::money::Number>, v: Decimal| max.is_none_or(|m| v < m.0);
    time_of_day_holds(r, c.local.time())
        && r.start_date.is_none_or(|d| d.0 <= date)
        && r.end_date.is_none_or(|d| date < d.0)
        && (r.day_of_week.is_empty() || r.day_of_week.contains(&DayOfWeek::from_chrono(date.weekday())))
        && at_least(r.min_kwh, c.energy_kwh)
        && below(r.max_kwh, c.energy_kwh)
        && at_least(r.min_current, c.state.current_a)
        && below(r.max_current, c.state.current_a)
        && at_least(r.min_power, c.state.power_kw)
        && below(r.max_power, c.state.power_kw)
        && r.min_duration.is_none_or(|s| Decimal::from(s) <= c.duration_s)
        && r.max_duration.is_none_or(|s| c.duration_s < Decimal::from(s))
}
