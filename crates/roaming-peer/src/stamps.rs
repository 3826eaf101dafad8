//! The time stamps peers give their data (checklist §3.10, T-80; issue #12 item 12).
//!
//! A receiver ignores an update older than the object it holds (T-80), so one stamp in the future —
//! `last_updated: 9999-12-31T23:59:59Z` — would make every later real change look older and freeze
//! our copy for good. Hence:
//!
//! - **refused on input**: a stamp more than `http.max_clock_skew_secs` (default 300 s) ahead of our
//!   clock, anywhere in a body we receive (the object, its EVSEs and connectors, a PATCH, the tariffs
//!   of a CDR) or in an object we pull, is an OCPI 2001 naming its JSON path; nothing of that object
//!   is stored ([`StampPolicy::check`], applied by the `OcpiJson` extractor and the CSP's pulls);
//! - **thawed when held**: a stamp more than the skew ahead in what we already hold (left by an earlier
//!   version that accepted anything) is not trusted — the stale checks treat it as older than any
//!   update ([`StampPolicy::held`]), so the next real change applies and the copy gets real stamps.
//!
//! The stamps checked are the fields named in [`STAMP_FIELDS`].

use std::fmt;
use std::time::Duration;

use roaming_types::DateTime;
use serde_json::Value;

/// The fields that carry a peer's time stamp of its data: `last_updated` of every OCPI object (T-80)
/// and `checked_at` of the `x-roaming-cdr-checks` verdicts (`extensions.md`).
pub const STAMP_FIELDS: &[&str] = &["last_updated", "checked_at"];

/// The default of `http.max_clock_skew_secs`.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// How far ahead of our clock a peer's stamp may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StampPolicy {
    /// `http.max_clock_skew_secs`.
    pub max_skew: Duration,
}

impl Default for StampPolicy {
    fn default() -> Self {
        Self {
            max_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }
}

/// A stamp too far in the future, with the JSON path of its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path}: {value} is more than {skew_secs} s ahead of our clock ({now}); a time stamp in the future \
     would hide every later change of the object (T-80), so it is refused"
)]
pub struct FutureStamp {
    /// JSON path of the field (`evses[0].last_updated`).
    pub path: String,
    /// The value received.
    pub value: String,
    /// The allowed skew in seconds.
    pub skew_secs: u64,
    /// Our clock when it was checked.
    pub now: DateTime,
}

impl StampPolicy {
    /// A policy allowing `max_skew`.
    pub fn new(max_skew: Duration) -> Self {
        Self { max_skew }
    }

    fn skew(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.max_skew).unwrap_or(chrono::Duration::MAX)
    }

    /// The latest stamp accepted at `now`.
    pub fn limit_at(&self, now: DateTime) -> DateTime {
        now.plus(self.skew())
    }

    /// The latest stamp accepted now.
    pub fn limit(&self) -> DateTime {
        self.limit_at(DateTime::now())
    }

    /// Checks every stamp field ([`STAMP_FIELDS`]) of a JSON document, at any depth, against our clock.
    /// `lenient_datetime` reads stamps with offsets as the peer's compatibility switch allows (E-19);
    /// a stamp that does not parse is left to the decoder to refuse.
    pub fn check(&self, value: &Value, lenient_datetime: bool) -> Result<(), FutureStamp> {
        self.check_at(value, lenient_datetime, DateTime::now())
    }

    /// [`check`](Self::check) with a given clock.
    pub fn check_at(&self, value: &Value, lenient_datetime: bool, now: DateTime) -> Result<(), FutureStamp> {
        let limit = self.limit_at(now);
        let mut path = Path::default();
        walk(
            value,
            &mut path,
            &mut |path, field, text| match DateTime::parse(text, lenient_datetime) {
                Ok((t, _)) if t > limit => Err(FutureStamp {
                    path: path.with(field),
                    value: text.to_owned(),
                    skew_secs: self.max_skew.as_secs(),
                    now,
                }),
                _ => Ok(()),
            },
        )
    }

    /// [`check`](Self::check) on the raw bytes of a body, without building a JSON tree: the body is
    /// read once more as tokens (what the receivers decode from the same bytes afterwards). `Err(None)`
    /// when the bytes are not JSON.
    pub fn check_slice(&self, bytes: &[u8], lenient_datetime: bool) -> Result<(), Option<FutureStamp>> {
        self.check_slice_at(bytes, lenient_datetime, DateTime::now())
    }

    /// [`check_slice`](Self::check_slice) with a given clock.
    pub fn check_slice_at(
        &self,
        bytes: &[u8],
        lenient_datetime: bool,
        now: DateTime,
    ) -> Result<(), Option<FutureStamp>> {
        let found = std::cell::RefCell::new(None);
        let scan = scan::Scan {
            limit: self.limit_at(now),
            lenient_datetime,
            found: &found,
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let result = serde::de::DeserializeSeed::deserialize(scan, &mut de).and_then(|()| de.end());
        match (result, found.into_inner()) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some((mut segments, value))) => {
                segments.reverse();
                let last = segments.pop();
                let path = Path(segments);
                let field = match last {
                    Some(Segment::Key(k)) => k,
                    _ => String::new(),
                };
                Err(Some(FutureStamp {
                    path: path.with(&field),
                    value,
                    skew_secs: self.max_skew.as_secs(),
                    now,
                }))
            }
            (Err(_), None) => Err(None),
        }
    }

    /// A stamp we hold, as the stale checks must see it: more than the skew ahead of our clock (left by
    /// an earlier version that accepted any stamp) it counts as the epoch, older than any update.
    pub fn held(&self, stamp: DateTime) -> DateTime {
        self.held_at(stamp, DateTime::now())
    }

    /// [`held`](Self::held) with a given clock.
    pub fn held_at(&self, stamp: DateTime, now: DateTime) -> DateTime {
        if stamp > self.limit_at(now) {
            DateTime::UNIX_EPOCH
        } else {
            stamp
        }
    }
}

/// A JSON path under construction (`evses[0].connectors[1]`).
#[derive(Debug, Default)]
struct Path(Vec<Segment>);

#[derive(Debug)]
enum Segment {
    Key(String),
    Index(usize),
}

impl Path {
    fn with(&self, field: &str) -> String {
        let mut s = self.to_string();
        if !s.is_empty() {
            s.push('.');
        }
        s.push_str(field);
        s
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

fn walk<E>(
    value: &Value,
    path: &mut Path,
    f: &mut impl FnMut(&Path, &str, &str) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::String(text) if STAMP_FIELDS.contains(&k.as_str()) => f(path, k, text)?,
                    Value::Object(_) | Value::Array(_) => {
                        path.0.push(Segment::Key(k.clone()));
                        walk(v, path, f)?;
                        path.0.pop();
                    }
                    _ => {}
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.0.push(Segment::Index(i));
                walk(v, path, f)?;
                path.0.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// The token scan of [`StampPolicy::check_slice`]: a serde visitor that goes through any JSON value
/// and stops at the first stamp field beyond the limit, leaving its segments (innermost first) and
/// text in `found`; keys are borrowed from the input where it has no escapes.
mod scan {
    use std::borrow::Cow;
    use std::cell::RefCell;
    use std::fmt;

    use roaming_types::DateTime;
    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

    use super::{STAMP_FIELDS, Segment};

    /// The first stamp too far ahead: its path (innermost segment first) and its text.
    pub(super) type Found = Option<(Vec<Segment>, String)>;

    #[derive(Clone, Copy)]
    pub(super) struct Scan<'s> {
        pub(super) limit: DateTime,
        pub(super) lenient_datetime: bool,
        pub(super) found: &'s RefCell<Found>,
    }

    impl Scan<'_> {
        /// Adds the segment a failed child was found under (the path is built while unwinding).
        fn under<E>(&self, seg: impl FnOnce() -> Segment, e: E) -> E {
            if let Some((path, _)) = self.found.borrow_mut().as_mut() {
                path.push(seg());
            }
            e
        }
    }

    impl<'de> DeserializeSeed<'de> for Scan<'_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Scan<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            loop {
                match seq.next_element_seed(self) {
                    Ok(Some(())) => i += 1,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(self.under(|| Segment::Index(i), e)),
                }
            }
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                if STAMP_FIELDS.contains(&key.as_ref()) {
                    if let Some(text) = map.next_value::<Stamp<'de>>()?.0 {
                        let late =
                            DateTime::parse(&text, self.lenient_datetime).is_ok_and(|(t, _)| t > self.limit);
                        if late {
                            *self.found.borrow_mut() =
                                Some((vec![Segment::Key(key.into_owned())], text.into_owned()));
                            return Err(de::Error::custom("a time stamp in the future"));
                        }
                    }
                } else if let Err(e) = map.next_value_seed(self) {
                    return Err(self.under(|| Segment::Key(key.into_owned()), e));
                }
            }
            Ok(())
        }
    }

    /// A map key, borrowed where possible.
    struct Key<'de>(Cow<'de, str>);

    impl<'de> de::Deserialize<'de> for Key<'de> {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(StrVisitor).map(Key)
        }
    }

    /// A stamp field's value: its text when it is a string (anything else is left to the decoder).
    struct Stamp<'de>(Option<Cow<'de, str>>);

    impl<'de> de::Deserialize<'de> for Stamp<'de> {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(StampVisitor)
        }
    }

    struct StrVisitor;

    impl<'de> Visitor<'de> for StrVisitor {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
    }

    struct StampVisitor;

    impl<'de> Visitor<'de> for StampVisitor {
        type Value = Stamp<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Stamp(Some(Cow::Borrowed(v))))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Stamp(Some(Cow::Owned(v.to_owned()))))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Stamp(None))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Stamp(None))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Stamp(None))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Stamp(None))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Stamp(None))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(Stamp(None))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
            Ok(Stamp(None))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn a_stamp_beyond_the_skew_is_refused_with_its_json_path() {
        let p = StampPolicy::default();
        let now = at("2026-03-01T12:00:00Z");
        let ok = json!({ "last_updated": "2026-03-01T12:04:59Z",
                         "evses": [{ "last_updated": "2026-03-01T12:05:00Z" }] });
        assert_eq!(p.check_at(&ok, false, now), Ok(()));
        let bad = json!({ "last_updated": "2026-03-01T12:00:00Z",
                          "evses": [{ "last_updated": "2026-03-01T12:00:00Z",
                                      "connectors": [{}, { "last_updated": "2026-03-01T12:05:00.001Z" }] }] });
        let e = p.check_at(&bad, false, now).unwrap_err();
        assert_eq!(e.path, "evses[0].connectors[1].last_updated");
        assert!(e.to_string().contains("ahead of our clock"), "{e}");
        let e = p
            .check_at(&json!([{ "checked_at": "9999-12-31T23:59:59Z" }]), false, now)
            .unwrap_err();
        assert_eq!(e.path, "[0].checked_at");
    }

    #[test]
    fn other_fields_and_unparsable_stamps_are_left_alone() {
        let p = StampPolicy::new(Duration::ZERO);
        let now = at("2026-03-01T12:00:00Z");
        // A reservation may end in the future; only the stamps of the data are checked.
        let v = json!({ "expiry_date": "9999-12-31T23:59:59Z", "start_date_time": "2099-01-01T00:00:00Z",
                        "last_updated": "not a time" });
        assert_eq!(p.check_at(&v, false, now), Ok(()));
        // E-19: an offset is read only with the peer's switch.
        let v = json!({ "last_updated": "2026-03-01T13:00:01+01:00" });
        assert_eq!(p.check_at(&v, false, now), Ok(()));
        assert!(p.check_at(&v, true, now).is_err());
    }

    /// The token scan finds what the tree check finds, with the same path, on the same documents.
    #[test]
    fn the_token_scan_agrees_with_the_tree_check() {
        let p = StampPolicy::default();
        let now = at("2026-03-01T12:00:00Z");
        let docs = [
            json!({ "last_updated": "2026-03-01T12:04:59Z",
                    "evses": [{ "last_updated": "2026-03-01T12:05:00Z" }] }),
            json!({ "last_updated": "2026-03-01T12:00:00Z",
                    "evses": [{ "last_updated": "2026-03-01T12:00:00Z", "status": "AVAILABLE",
                                "connectors": [{ "id": "1", "max_voltage": 230 },
                                               { "last_updated": "2026-03-01T12:05:00.001Z" }] }] }),
            json!([{ "checked_at": "9999-12-31T23:59:59Z" }]),
            json!({ "tariffs": [{ "elements": [{ "price_components": [{ "price": 0.25 }] }],
                                  "last_updated": "9999-12-31T23:59:59Z" }] }),
            json!({ "a\"b": { "last_updated": 5 }, "ok": [true, null, 1.5, -3, "x"] }),
        ];
        for d in docs {
            let bytes = serde_json::to_vec(&d).unwrap();
            let tree = p.check_at(&d, false, now);
            let scan = p.check_slice_at(&bytes, false, now);
            match (tree, scan) {
                (Ok(()), Ok(())) => {}
                (Err(a), Err(Some(b))) => assert_eq!(a, b, "{d}"),
                (a, b) => panic!("{d}: tree {a:?}, scan {b:?}"),
            }
        }
        // Not JSON at all: no stamp, an error for the decoder to report.
        assert_eq!(p.check_slice_at(b"{ nope", false, now), Err(None));
    }

    #[test]
    fn a_held_stamp_beyond_the_skew_counts_as_older_than_any_update() {
        let p = StampPolicy::default();
        let now = at("2026-03-01T12:00:00Z");
        assert_eq!(p.held_at(at("9999-12-31T23:59:59Z"), now), DateTime::UNIX_EPOCH);
        let soon = at("2026-03-01T12:04:00Z");
        assert_eq!(p.held_at(soon, now), soon, "within the skew it is kept");
    }
}
