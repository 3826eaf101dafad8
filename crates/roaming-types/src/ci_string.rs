//! OCPI string types (checklist §3.9): `CiString(n)` and `string(n)`.
//!
//! - [`CiString<N>`]: printable ASCII, compared, ordered and hashed **case-insensitively** (`NL/TNM` =
//!   `nl/tnm`), printed exactly as received.
//! - [`Text<N>`]: `string(n)`, case-sensitive printable UTF-8.
//!
//! Both are strict when we build them ([`CiString::new`], `FromStr`) and lenient on length when a peer's
//! JSON is decoded (T-70): an over-length value is kept, reported as a warning, and refused in strict
//! decoding. The character set of a `CiString` is always checked strictly.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::decode::{self, DecodeWarning, Strictness};
use crate::error::TypeError;

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

/// Applies the decode-time length policy: over-length is a warning (lenient) or an error (strict).
pub(crate) fn length_policy(value: &str, len: usize, max: usize) -> Result<(), TypeError> {
    if len <= max {
        return Ok(());
    }
    match decode::options().strictness {
        Strictness::Strict => Err(TypeError::TooLong { max, len }),
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
        check_ci(&value, usize::MAX)?;
        length_policy(&value, value.len(), N)?;
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
        if has_control(&value) {
            match decode::options().strictness {
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
        length_policy(&value, value.chars().count(), N)?;
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
        fn ci_round_trips_json(a in "[ -~]{0,36}") {
            let x = CiString::<36>::new(a.clone()).unwrap();
            let json = serde_json::to_string(&x).unwrap();
            let y: CiString<36> = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(y.as_str(), a.as_str());
        }
    }
}
