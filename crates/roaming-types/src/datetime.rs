//! OCPI `DateTime` (checklist §3.9, E-19, E-23).
//!
//! - Emitted in one fixed format, `YYYY-MM-DDThh:mm:ss.sssZ` (24 characters, within the 25 the spec
//!   allows), milliseconds included when they are zero. Values are kept at millisecond precision, so
//!   what we emit reads back equal, and the text of two emitted values orders like their instants
//!   (years 0000–9999). Peers' values may have any shape the spec allows: compare parsed values, never
//!   the text received.
//! - Accepted: `YYYY-MM-DDThh:mm:ss[.f+][Z]`; a missing `Z` means UTC.
//! - Refused: any other offset (`+00:00`, `+01:00`), unless the decode call runs with
//!   [`DecodeOptions::lenient_datetime`](crate::decode::DecodeOptions), which converts to UTC, reports a
//!   warning, and also accepts the CDR-06 escape value `1970-1-1T00:00:00Z` (E-23).

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::decode::{self, DecodeWarning};
use crate::error::TypeError;

/// A UTC instant with millisecond precision, in the OCPI DateTime format.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(chrono::DateTime<Utc>);

impl DateTime {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Self = Self(chrono::DateTime::<Utc>::UNIX_EPOCH);

    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        Self::from_chrono(Utc::now())
    }

    /// Converts a chrono UTC time, truncating to milliseconds.
    pub fn from_chrono(t: chrono::DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(3))
    }

    /// The chrono value.
    pub fn to_chrono(self) -> chrono::DateTime<Utc> {
        self.0
    }

    /// Milliseconds since the Unix epoch (negative before 1970).
    pub fn timestamp_millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// From milliseconds since the Unix epoch.
    pub fn from_timestamp_millis(ms: i64) -> Option<Self> {
        chrono::DateTime::from_timestamp_millis(ms).map(Self)
    }

    /// A UTC date and time from its parts, for tests and fixtures.
    pub fn from_ymd_hms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<Self> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().map(Self)
    }

    /// This time plus a duration (saturating at the chrono range).
    pub fn plus(self, d: chrono::Duration) -> Self {
        Self::from_chrono(self.0.checked_add_signed(d).unwrap_or(self.0))
    }

    /// Parses strictly (E-19 rules, no lenient offsets).
    pub fn parse_strict(s: &str) -> Result<Self, TypeError> {
        parse(s, false).map(|(t, _)| t)
    }

    /// Parses; with `lenient` also offsets and the E-23 escape. Returns whether leniency was used.
    pub fn parse(s: &str, lenient: bool) -> Result<(Self, bool), TypeError> {
        parse(s, lenient)
    }
}

fn bad(s: &str, reason: &str) -> TypeError {
    TypeError::format("DateTime", s, reason)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |acc, d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// Parses `YYYY-MM-DDThh:mm:ss[.f+]` into a naive time; the caller handles the zone suffix.
fn parse_naive(s: &str, lenient: bool) -> Result<(NaiveDateTime, usize), TypeError> {
    let b = s.as_bytes();
    let t_pos = b
        .iter()
        .position(|&c| c == b'T')
        .ok_or_else(|| bad(s, "missing 'T'"))?;
    let date = &b[..t_pos];
    let parts: Vec<&[u8]> = date.split(|&c| c == b'-').collect();
    let ok_widths = parts.len() == 3
        && parts[0].len() == 4
        && if lenient {
            (1..=2).contains(&parts[1].len()) && (1..=2).contains(&parts[2].len())
        } else {
            parts[1].len() == 2 && parts[2].len() == 2
        };
    if !ok_widths {
        return Err(bad(s, "expected YYYY-MM-DD"));
    }
    let (Some(y), Some(mo), Some(d)) = (digits(parts[0]), digits(parts[1]), digits(parts[2])) else {
        return Err(bad(s, "expected YYYY-MM-DD"));
    };
    let rest = &b[t_pos + 1..];
    if rest.len() < 8 || rest[2] != b':' || rest[5] != b':' {
        return Err(bad(s, "expected hh:mm:ss"));
    }
    let (Some(h), Some(mi), Some(sec)) = (digits(&rest[0..2]), digits(&rest[3..5]), digits(&rest[6..8]))
    else {
        return Err(bad(s, "expected hh:mm:ss"));
    };
    let mut idx = t_pos + 1 + 8;
    let mut nanos = 0u32;
    if b.get(idx) == Some(&b'.') {
        let start = idx + 1;
        let end = b[start..]
            .iter()
            .position(|c| !c.is_ascii_digit())
            .map_or(b.len(), |p| start + p);
        if end == start {
            return Err(bad(s, "empty fraction of a second"));
        }
        // Keep nanosecond digits; more digits than that are ignored.
        for (i, &c) in b[start..end].iter().enumerate().take(9) {
            nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
        }
        idx = end;
    }
    let year = i32::try_from(y).map_err(|_| bad(s, "year out of range"))?;
    let date = NaiveDate::from_ymd_opt(year, mo, d).ok_or_else(|| bad(s, "no such date"))?;
    let time = NaiveTime::from_hms_nano_opt(h, mi, sec, nanos).ok_or_else(|| bad(s, "no such time"))?;
    Ok((NaiveDateTime::new(date, time), idx))
}

fn parse(s: &str, lenient: bool) -> Result<(DateTime, bool), TypeError> {
    let (naive, idx) = parse_naive(s, lenient)?;
    let suffix = &s[idx..];
    let date_part_len = s.find('T').unwrap_or(0);
    let short_date = date_part_len != 10;
    let utc = Utc.from_utc_datetime(&naive);
    match suffix {
        "" | "Z" => Ok((DateTime::from_chrono(utc), short_date)),
        _ if lenient => {
            let offset = parse_offset(suffix).ok_or_else(|| bad(s, "unrecognised zone suffix"))?;
            Ok((
                DateTime::from_chrono(utc - chrono::Duration::seconds(i64::from(offset))),
                true,
            ))
        }
        _ => Err(bad(s, "only UTC is allowed: end with 'Z' or nothing (E-19)")),
    }
}

/// `+hh:mm`, `-hh:mm`, `+hhmm`, `+hh` → seconds east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let compact: String = rest.chars().filter(|&c| c != ':').collect();
    let (h, m) = match compact.len() {
        2 => (compact.parse::<i32>().ok()?, 0),
        4 => (
            compact[..2].parse::<i32>().ok()?,
            compact[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Always `YYYY-MM-DDThh:mm:ss.sssZ` (24 characters), milliseconds included when they are zero: one
/// fixed width, so the text of two time stamps we emit orders like their instants (issue #12 item 19).
impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DateTime({self})")
    }
}

impl FromStr for DateTime {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_strict(s)
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        Self::from_chrono(t)
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let lenient = decode::options().lenient_datetime;
        let (t, used_leniency) = parse(&s, lenient).map_err(serde::de::Error::custom)?;
        if used_leniency {
            decode::warn(DecodeWarning::DateTimeOffset {
                value: s.into_owned(),
            });
        }
        Ok(t)
    }
}

/// Test support: asserts that two JSON documents are equal, with strings that are OCPI DateTimes
/// compared as instants (`…T10:00:00Z` = `…T10:00:00.000Z`), never as text.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_same_json(actual: &serde_json::Value, expected: &serde_json::Value) {
    fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (a, b) {
            (Value::String(x), Value::String(y)) => {
                x == y || matches!((x.parse::<DateTime>(), y.parse::<DateTime>()), (Ok(p), Ok(q)) if p == q)
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            _ => a == b,
        }
    }
    assert!(same(actual, expected), "JSON differs:\n{actual:#}\n{expected:#}");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::decode::{DecodeOptions, decode_slice};

    #[test]
    fn emits_milliseconds_always() {
        let t = DateTime::from_ymd_hms(2026, 3, 14, 9, 30, 0).unwrap();
        assert_eq!(t.to_string(), "2026-03-14T09:30:00.000Z");
        let t: DateTime = "2026-03-14T09:30:00.25Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-03-14T09:30:00.250Z");
        assert!(t.to_string().len() <= 25);
    }

    /// The pair of issue #12 item 19: a whole second and two milliseconds later.
    #[test]
    fn emitted_text_of_a_whole_second_orders_before_the_next_milliseconds() {
        let whole: DateTime = "2026-03-14T04:58:42Z".parse().unwrap();
        let later: DateTime = "2026-03-14T04:58:42.002Z".parse().unwrap();
        assert!(whole < later);
        assert!(
            whole.to_string() < later.to_string(),
            "{whole} must sort before {later} as text"
        );
    }

    #[test]
    fn e19_missing_z_means_utc() {
        let a: DateTime = "2026-03-14T09:30:00".parse().unwrap();
        let b: DateTime = "2026-03-14T09:30:00Z".parse().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn e19_offsets_are_refused_unless_lenient() {
        for s in [
            "2026-03-14T09:30:00+00:00",
            "2026-03-14T10:30:00+01:00",
            "2026-03-14T09:30:00-0000",
        ] {
            assert!(s.parse::<DateTime>().is_err(), "{s}");
        }
        let json = br#""2026-03-14T10:30:00+01:00""#;
        assert!(decode_slice::<DateTime>(json, DecodeOptions::LENIENT).is_err());
        let opts = DecodeOptions {
            lenient_datetime: true,
            ..DecodeOptions::LENIENT
        };
        let d = decode_slice::<DateTime>(json, opts).unwrap();
        assert_eq!(d.value.to_string(), "2026-03-14T09:30:00.000Z");
        assert_eq!(d.warnings.len(), 1);
    }

    #[test]
    fn e23_escape_value_only_when_lenient() {
        assert!("1970-1-1T00:00:00Z".parse::<DateTime>().is_err());
        let opts = DecodeOptions {
            lenient_datetime: true,
            ..DecodeOptions::LENIENT
        };
        let d = decode_slice::<DateTime>(br#""1970-1-1T00:00:00Z""#, opts).unwrap();
        assert_eq!(d.value.timestamp_millis(), 0);
    }

    #[test]
    fn malformed_values_are_refused() {
        for s in [
            "",
            "2026-03-14",
            "2026-03-14 09:30:00Z",
            "2026-13-14T09:30:00Z",
            "2026-02-30T09:30:00Z",
            "2026-03-14T25:30:00Z",
            "2026-03-14T09:30:00.Z",
            "2026-03-14T09:30Z",
            "26-03-14T09:30:00Z",
            "2026-03-14T09:30:00ZZ",
        ] {
            assert!(s.parse::<DateTime>().is_err(), "{s:?} should be refused");
        }
    }

    #[test]
    fn fractions_truncate_to_milliseconds() {
        let t: DateTime = "2026-03-14T09:30:00.123456789Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-03-14T09:30:00.123Z");
    }

    proptest! {
        #[test]
        fn round_trips_through_text(ms in 0i64..4_102_444_800_000) {
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            let s = t.to_string();
            prop_assert!(s.len() <= 25);
            prop_assert!(s.ends_with('Z'));
            prop_assert_eq!(s.parse::<DateTime>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            prop_assert_eq!(serde_json::from_str::<DateTime>(&json).unwrap(), t);
        }

        #[test]
        fn lenient_offset_equals_utc(ms in 0i64..4_102_444_800_000, off_min in -720i64..=840) {
            let t = DateTime::from_timestamp_millis(ms - ms % 1000).unwrap();
            let local = t.to_chrono() + chrono::Duration::minutes(off_min);
            let sign = if off_min < 0 { '-' } else { '+' };
            let a = off_min.abs();
            let s = format!("{}{sign}{:02}:{:02}", local.format("%Y-%m-%dT%H:%M:%S"), a / 60, a % 60);
            let (parsed, lenient) = DateTime::parse(&s, true).unwrap();
            prop_assert!(lenient);
            prop_assert_eq!(parsed, t);
            prop_assert!(DateTime::parse_strict(&s).is_err());
        }

        /// One fixed format (`YYYY-MM-DDThh:mm:ss.sssZ`, 24 characters), so that the text of two emitted
        /// time stamps orders exactly like their instants: `…:42Z` and `…:42.002Z` (the two formats we
        /// used to send) order the wrong way round as text (issue #12 item 19).
        #[test]
        fn emitted_text_has_one_format_and_orders_like_the_instants(
            a in 0i64..253_402_300_800_000,
            b in 0i64..253_402_300_800_000,
            near in -2_000i64..2_000,
        ) {
            for (x, y) in [(a, b), (a, a.saturating_add(near).max(0))] {
                let (tx, ty) = (DateTime::from_timestamp_millis(x).unwrap(), DateTime::from_timestamp_millis(y).unwrap());
                let (sx, sy) = (tx.to_string(), ty.to_string());
                for s in [&sx, &sy] {
                    prop_assert_eq!(s.len(), 24, "{}", s);
                    prop_assert!(chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3fZ").is_ok(), "{}", s);
                    prop_assert_eq!(&s[19..20], ".");
                }
                prop_assert_eq!(sx.cmp(&sy), tx.cmp(&ty), "{} vs {}", sx, sy);
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = DateTime::parse(&s, true);
            let _ = DateTime::parse(&s, false);
        }
    }
}
