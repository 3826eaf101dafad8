//! OCPI string types (checklist §3.9): `CiString(n)` and `string(n)`.
//!
//! - [`CiString<N>`]: printable ASCII, compared, ordered and hashed **case-insensitively** (`NL/TNM` =
//!   `nl/tnm`), printed exactly as received.
//! - [`Text<N>`]: `string(n)`, case-sensitive printable UTF-8.
//!
//! Both are strict when we build them ([`CiString::new`], `FromStr`) and lenient on length when a peer's
//! JSON is decoded (T-70): an over-length value is kept, reported as a warning, and refused in strict
//! decoding — within a bound: beyond [`tolerated_len`] it is refused in every mode. The character
//! set of a `CiString` is always checked strictly. A `string(n)` from a peer may carry TAB, CR or LF
//! (kept with a warning: a multi-line address means what it says); any other control character is
//! refused in every mode.
//!
//! [`ResponseUrl`]: the `URL` of a `response_url`, which we call: an absolute `http`/`https` URL of
//! at most 255 characters, from peers too.
//!
//! Values read back from our own store ([`Strictness::Trusted`]) are taken as written.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::decode::{self, DecodeWarning, Strictness};
use crate::error::TypeError;
use crate::limits::tolerated_len;

/// Checks a `CiString(max)` value: printable ASCII (U+0020..U+007E) and at most `max` characters.
pub(crate) fn check_ci(value: &str, max: usize) -> Result<(), TypeError> {
    if let Some(c) = value.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(TypeError::Charset {
            value: decode::preview(value),
            found: c,
        });
    }
    if value.len() > max {
        return Err(TypeError::TooLong {
            max,
            len: value.len(),
        });
    }
    Ok(())
}

/// Applies the decode-time length policy: over-length is a warning (lenient, up to
/// [`tolerated_len`]) or an error (strict, or beyond the tolerance).
pub(crate) fn length_policy(value: &str, len: usize, max: usize) -> Result<(), TypeError> {
    if len <= max {
        return Ok(());
    }
    match decode::options().strictness {
        Strictness::Trusted => Ok(()),
        Strictness::Strict => Err(TypeError::TooLong { max, len }),
        Strictness::Lenient if len > tolerated_len(max) => Err(TypeError::TooLong { max, len }),
        Strictness::Lenient => {
            decode::warn(DecodeWarning::OverLength {
                max,
                len,
                preview: decode::preview(value),
            });
            Ok(())
        }
    }
}

/// `CiString(N)`: case-insensitive printable ASCII of at most `N` characters.
#[derive(Clone)]
pub struct CiString<const N: usize>(String);

impl<const N: usize> CiString<N> {
    /// Builds a value, checking charset and length strictly.
    pub fn new(value: impl Into<String>) -> Result<Self, TypeError> {
        let value = value.into();
        check_ci(&value, N)?;
        Ok(Self(value))
    }

    /// Decode path: charset strict, length per the decode options (T-70).
    pub(crate) fn decode(value: String) -> Result<Self, TypeError> {
        length_policy(&value, value.len(), N)?;
        check_ci(&value, usize::MAX)?;
        Ok(Self(value))
    }

    /// The value exactly as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the value is longer than the OCPI maximum (accepted leniently, T-70).
    pub fn is_over_length(&self) -> bool {
        self.0.len() > N
    }

    /// The OCPI maximum length.
    pub const MAX_LEN: usize = N;

    /// The value in lower case: the canonical form for keys and hashing.
    pub fn to_key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// Consumes the value.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const N: usize> PartialEq for CiString<N> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl<const N: usize> Eq for CiString<N> {}

impl<const N: usize> PartialEq<str> for CiString<N> {
    fn eq(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl<const N: usize> PartialEq<&str> for CiString<N> {
    fn eq(&self, other: &&str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl<const N: usize> Hash for CiString<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl<const N: usize> Ord for CiString<N> {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.0.bytes().map(|b| b.to_ascii_lowercase());
        let b = other.0.bytes().map(|b| b.to_ascii_lowercase());
        a.cmp(b)
    }
}
impl<const N: usize> PartialOrd for CiString<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> fmt::Debug for CiString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const N: usize> fmt::Display for CiString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const N: usize> FromStr for CiString<N> {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<const N: usize> TryFrom<String> for CiString<N> {
    type Error = TypeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl<const N: usize> TryFrom<&str> for CiString<N> {
    type Error = TypeError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl<const N: usize> AsRef<str> for CiString<N> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> Borrow<str> for CiString<N> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> Serialize for CiString<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, const N: usize> Deserialize<'de> for CiString<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::decode(s).map_err(serde::de::Error::custom)
    }
}

/// `string(N)`: case-sensitive printable UTF-8 of at most `N` characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<const N: usize>(String);

fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// A control character other than TAB, CR and LF: refused even from peers.
fn has_hard_control(value: &str) -> bool {
    value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
}

impl<const N: usize> Text<N> {
    /// Builds a value, checking length and the absence of control characters strictly.
    pub fn new(value: impl Into<String>) -> Result<Self, TypeError> {
        let value = value.into();
        if has_control(&value) {
            return Err(TypeError::ControlCharacters {
                value: decode::preview(&value),
            });
        }
        let len = value.chars().count();
        if len > N {
            return Err(TypeError::TooLong { max: N, len });
        }
        Ok(Self(value))
    }

    pub(crate) fn decode(value: String) -> Result<Self, TypeError> {
        length_policy(&value, value.chars().count(), N)?;
        if has_control(&value) {
            match decode::options().strictness {
                Strictness::Trusted => {}
                Strictness::Lenient if has_hard_control(&value) => {
                    return Err(TypeError::ControlCharacters {
                        value: decode::preview(&value),
                    });
                }
                Strictness::Strict => {
                    return Err(TypeError::ControlCharacters {
                        value: decode::preview(&value),
                    });
                }
                Strictness::Lenient => {
                    decode::warn(DecodeWarning::ControlCharacters {
                        preview: decode::preview(&value),
                    });
                }
            }
        }
        Ok(Self(value))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the value is longer than the OCPI maximum (accepted leniently, T-70).
    pub fn is_over_length(&self) -> bool {
        self.0.chars().count() > N
    }

    /// The value cut to the OCPI maximum, for fields whose limit is smaller where we copy them to
    /// (E-05: Location address 255 → CdrLocation address 45).
    pub fn truncated<const M: usize>(&self) -> Text<M> {
        Text(self.0.chars().take(M).collect())
    }

    /// Consumes the value.
    pub fn into_inner(self) -> String {
        self.0
    }

    /// A value from text we compose ourselves (a message, a reason) that must fit whatever it holds:
    /// control characters become spaces and the text is cut to `N` characters. Never fails.
    pub fn lossy(value: &str) -> Self {
        Self(
            value
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(N)
                .collect(),
        )
    }
}

impl<const N: usize> fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const N: usize> fmt::Display for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const N: usize> FromStr for Text<N> {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<const N: usize> TryFrom<String> for Text<N> {
    type Error = TypeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl<const N: usize> TryFrom<&str> for Text<N> {
    type Error = TypeError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl<const N: usize> AsRef<str> for Text<N> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> Serialize for Text<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, const N: usize> Deserialize<'de> for Text<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::decode(s).map_err(serde::de::Error::custom)
    }
}

/// An OCPI `URL`: a `string(255)`.
pub type Url = Text<255>;

/// The `response_url` of a command or charging-profile request (§11.2, §12.3): an OCPI `URL` that we
/// will call, so it must be an absolute `http` or `https` URL with a host, of at most 255 characters
/// and without control characters or spaces — from peers too (a value we cannot call is no
/// `response_url`). What we stored is read back as written.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResponseUrl(String);

impl ResponseUrl {
    /// Checks a `response_url`.
    pub fn new(value: impl Into<String>) -> Result<Self, TypeError> {
        let value = value.into();
        let bad = |reason: &str| TypeError::format("response_url", &value, reason);
        let len = value.chars().count();
        if len > 255 {
            return Err(bad(&format!("longer than 255 characters ({len})")));
        }
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("control characters or spaces in a URL"));
        }
        let url = url::Url::parse(&value).map_err(|e| bad(&format!("not an absolute URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(bad("must be an http or https URL with a host"));
        }
        Ok(Self(value))
    }

    /// The URL as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the value.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ResponseUrl {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for ResponseUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for ResponseUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResponseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        if !decode::checks_bounds() {
            return Ok(Self(s));
        }
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::hash::DefaultHasher;

    use proptest::prelude::*;

    use super::*;
    use crate::decode::{DecodeOptions, decode_slice};

    fn hash_of<T: Hash>(t: &T) -> u64 {
        let mut h = DefaultHasher::new();
        t.hash(&mut h);
        h.finish()
    }

    #[test]
    fn t50_ci_string_compares_case_insensitively_and_prints_as_received() {
        let a = CiString::<3>::new("TNM").unwrap();
        let b = CiString::<3>::new("tnm").unwrap();
        assert_eq!(a, b);
        assert_eq!(hash_of(&a), hash_of(&b));
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(b.to_string(), "tnm");
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"tnm\"");
        let set: BTreeSet<_> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn ci_string_charset_is_strict_even_when_decoding() {
        assert!(CiString::<10>::new("caf\u{e9}").is_err());
        assert!(CiString::<10>::new("a\tb").is_err());
        assert!(decode_slice::<CiString<10>>("\"caf\u{e9}\"".as_bytes(), DecodeOptions::LENIENT).is_err());
    }

    #[test]
    fn t70_over_length_is_a_warning_when_lenient_and_an_error_when_strict() {
        assert!(CiString::<3>::new("ABCD").is_err());
        let d = decode_slice::<CiString<3>>(b"\"ABCD\"", DecodeOptions::LENIENT).unwrap();
        assert!(d.value.is_over_length());
        assert_eq!(d.warnings.len(), 1);
        assert!(decode_slice::<CiString<3>>(b"\"ABCD\"", DecodeOptions::STRICT).is_err());

        let d = decode_slice::<Text<2>>("\"\u{e9}\u{e9}\u{e9}\"".as_bytes(), DecodeOptions::LENIENT).unwrap();
        assert!(d.value.is_over_length());
        assert!(decode_slice::<Text<2>>("\"\u{e9}\u{e9}\"".as_bytes(), DecodeOptions::STRICT).is_ok());
    }

    /// #12 item 13: T-70 keeps over-length values within reason, not a megabyte of them.
    #[test]
    fn t70_tolerance_has_a_bound_in_lenient_mode() {
        let at = |n: usize| format!("\"{}\"", "a".repeat(n));
        assert!(decode_slice::<Text<45>>(at(255).as_bytes(), DecodeOptions::LENIENT).is_ok());
        assert!(decode_slice::<Text<45>>(at(256).as_bytes(), DecodeOptions::LENIENT).is_err());
        assert!(decode_slice::<Text<5000>>(at(10_000).as_bytes(), DecodeOptions::LENIENT).is_ok());
        assert!(decode_slice::<Text<5000>>(at(10_001).as_bytes(), DecodeOptions::LENIENT).is_err());
        assert!(decode_slice::<CiString<32>>(at(255).as_bytes(), DecodeOptions::LENIENT).is_ok());
        assert!(decode_slice::<CiString<32>>(at(1_000_000).as_bytes(), DecodeOptions::LENIENT).is_err());
    }

    #[test]
    fn only_tab_cr_and_lf_are_tolerated_from_peers() {
        assert!(decode_slice::<Text<20>>(br#""a\tb\r\nc""#, DecodeOptions::LENIENT).is_ok());
        for bad in [r#""a\u0000b""#, r#""a\u001bb""#, r#""a\u007fb""#, r#""a\u0085b""#] {
            assert!(
                decode_slice::<Text<20>>(bad.as_bytes(), DecodeOptions::LENIENT).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_response_url_is_an_absolute_http_url_of_at_most_255_characters() {
        for ok in [
            "https://csp.example/ocpi/commands/START_SESSION/1",
            "http://127.0.0.1:9420/r?x=1",
        ] {
            assert_eq!(
                ResponseUrl::new(ok).map(|u| u.as_str().to_owned()),
                Ok(ok.to_owned())
            );
        }
        let long = format!("https://csp.example/{}", "a".repeat(236));
        assert_eq!(long.len(), 256);
        for bad in [
            "",
            "garbage",
            "/ocpi/commands/1",
            "ftp://csp.example/r",
            "https://",
            "mailto:a@b.c",
            "https://csp.example/a b",
            "https://csp.example/\n",
            long.as_str(),
        ] {
            assert!(ResponseUrl::new(bad).is_err(), "{bad:?}");
            let json = serde_json::to_vec(bad).unwrap();
            let e = decode_slice::<ResponseUrl>(&json, DecodeOptions::LENIENT).unwrap_err();
            assert!(!e.syntax && e.message.contains("response_url"), "{e}");
        }
    }

    #[test]
    fn text_counts_characters_not_bytes() {
        assert!(Text::<3>::new("\u{e6}\u{f8}\u{e5}").is_ok());
        assert!(Text::<3>::new("abcd").is_err());
    }

    #[test]
    fn text_control_characters_strict_on_build_warning_on_read() {
        assert!(Text::<20>::new("line\nbreak").is_err());
        let d = decode_slice::<Text<20>>(br#""line\nbreak""#, DecodeOptions::LENIENT).unwrap();
        assert_eq!(d.warnings.len(), 1);
        assert!(decode_slice::<Text<20>>(br#""line\nbreak""#, DecodeOptions::STRICT).is_err());
    }

    #[test]
    fn lossy_text_always_fits() {
        let t = Text::<5>::lossy("a\nbcdefg");
        assert_eq!(t.as_str(), "a bcd");
        assert_eq!(Text::<512>::lossy("fine").as_str(), "fine");
        assert!(Text::<5>::new(t.as_str()).is_ok(), "strictly valid");
    }

    #[test]
    fn truncation_for_cdr_location() {
        let long = Text::<255>::new("x".repeat(100)).unwrap();
        assert_eq!(long.truncated::<45>().as_str().len(), 45);
    }

    proptest! {
        #[test]
        fn ci_eq_iff_lowercase_eq(a in "[ -~]{0,8}", b in "[ -~]{0,8}") {
            let x = CiString::<8>::new(a.clone()).unwrap();
            let y = CiString::<8>::new(b.clone()).unwrap();
            let oracle = a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase());
            prop_assert_eq!(x == y, oracle == Ordering::Equal);
            prop_assert_eq!(x.cmp(&y), oracle);
            if x == y { prop_assert_eq!(hash_of(&x), hash_of(&y)); }
        }

        #[test]
        fn lenient_length_is_kept_up_to_the_tolerance_and_refused_beyond(n in 0usize..700) {
            let json = format!("\"{}\"", "x".repeat(n));
            let lenient = decode_slice::<Text<100>>(json.as_bytes(), DecodeOptions::LENIENT);
            prop_assert_eq!(lenient.is_ok(), n <= tolerated_len(100));
            if let Ok(d) = lenient {
                prop_assert_eq!(d.warnings.len(), usize::from(n > 100));
            }
            let strict = decode_slice::<Text<100>>(json.as_bytes(), DecodeOptions::STRICT);
            prop_assert_eq!(strict.is_ok(), n <= 100);
        }

        #[test]
        fn response_urls_never_panic_and_accept_only_http(s in "\\PC{0,80}") {
            if let Ok(u) = ResponseUrl::new(s.clone()) {
                prop_assert!(s.starts_with("http://") || s.starts_with("https://"), "{}", s);
                prop_assert_eq!(u.as_str(), s.as_str());
            }
        }

        #[test]
        fn ci_round_trips_json(a in "[ -~]{0,36}") {
            let x = CiString::<36>::new(a.clone()).unwrap();
            let json = serde_json::to_string(&x).unwrap();
            let y: CiString<36> = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(y.as_str(), a.as_str());
        }
    }
}
