//! The bounds of tolerant decoding (checklist §3.9, T-70, T-72; issue #12 item 13).
//!
//! Lenient decoding keeps what a peer sends where the meaning is clear, but never without a bound:
//!
//! - **T-70 over-length values** are kept with a warning up to [`tolerated_len`] — twice the OCPI
//!   maximum, at least 255 characters (the errata's longest growth is 45 → 255: a Location address
//!   copied into a CdrLocation) — and refused beyond. Ids are exact whatever the mode (`ids`).
//! - **T-72 unknown enum values** are kept only when they look like an enum value
//!   ([`check_enum_text`]): 1 to [`MAX_ENUM_LEN`] ASCII letters, digits, `_`, `-` or `.`.
//! - **Numbers the spec does not allow below zero** (durations, prices, VAT, the energy of a session
//!   or a preference) are refused when negative, from peers and operators alike: the serde helpers
//!   below are used as `deserialize_with` on those fields, so the error carries the field's JSON path.
//!
//! None of this applies when we read back what we stored ([`Strictness::Trusted`]).
//!
//! [`Strictness::Trusted`]: crate::decode::Strictness::Trusted

use serde::{Deserialize, Deserializer};

use crate::error::TypeError;
use crate::money::Number;
use crate::patch::Patch;

/// The longest enum value lenient decoding keeps as an unknown value (T-72). The longest 2.2.1 and
/// 2.3.0 values have 32 characters.
pub const MAX_ENUM_LEN: usize = 64;

/// The longest value lenient decoding keeps for a field of OCPI maximum `max` (T-70): twice the
/// maximum, and at least 255.
pub const fn tolerated_len(max: usize) -> usize {
    let twice = max.saturating_mul(2);
    if twice > 255 { twice } else { 255 }
}

/// Whether `value` may be kept as an unknown value of enum `enum_name` (T-72): 1 to
/// [`MAX_ENUM_LEN`] ASCII letters, digits, `_`, `-` or `.` — what enum values look like, so that a
/// megabyte of text or a sentence is refused instead of kept and passed on.
pub fn check_enum_text(enum_name: &'static str, value: &str) -> Result<(), TypeError> {
    let ok_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    if value.is_empty() || value.len() > MAX_ENUM_LEN || !value.bytes().all(ok_char) {
        return Err(TypeError::format(
            enum_name,
            value,
            format!("not a {enum_name} value: at most {MAX_ENUM_LEN} ASCII letters, digits, '_', '-' or '.'"),
        ));
    }
    Ok(())
}

fn negative<E: serde::de::Error>(n: Number) -> E {
    E::custom(TypeError::format(
        "number",
        &n.to_string(),
        "must not be negative here (checklist §5–§12)",
    ))
}

fn below_zero(n: &Number) -> bool {
    n.value().is_sign_negative() && !n.value().is_zero() && crate::decode::checks_bounds()
}

/// `deserialize_with` for a `number` that may not be negative.
pub(crate) fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
    let n = Number::deserialize(d)?;
    if below_zero(&n) {
        return Err(negative(n));
    }
    Ok(n)
}

/// `deserialize_with` for an optional `number` that may not be negative.
pub(crate) fn non_negative_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Number>, D::Error> {
    match Option::<Number>::deserialize(d)? {
        Some(n) if below_zero(&n) => Err(negative(n)),
        other => Ok(other),
    }
}

/// `deserialize_with` for a PATCH `number` field that may not be negative.
pub(crate) fn non_negative_patch<'de, D: Deserializer<'de>>(d: D) -> Result<Patch<Number>, D::Error> {
    let p = Patch::<Number>::deserialize(d)?;
    match &p {
        Patch::Value(n) if below_zero(n) => Err(negative(*n)),
        _ => Ok(p),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tolerance_covers_the_errata_and_no_more() {
        // Location address 45 → 255 (copied into a CdrLocation), state 20 → 45.
        assert!(tolerated_len(45) >= 255 && tolerated_len(20) >= 45);
        assert_eq!(tolerated_len(5000), 10_000);
        assert_eq!(tolerated_len(255), 510);
    }

    #[test]
    fn enum_text_is_bounded() {
        for ok in ["MCS", "SAE_J3400", "IEC_60309_2_single_16", "x-roaming.v1", "A"] {
            assert!(check_enum_text("Status", ok).is_ok(), "{ok}");
        }
        let long = "A".repeat(MAX_ENUM_LEN + 1);
        for bad in ["", "OUT OF ORDER", "CHARGING\n", "caf\u{e9}", long.as_str()] {
            assert!(check_enum_text("Status", bad).is_err(), "{bad:?}");
        }
    }

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[serde(deserialize_with = "non_negative")]
        a: Number,
        #[serde(default, deserialize_with = "non_negative_opt")]
        b: Option<Number>,
        #[serde(default, deserialize_with = "non_negative_patch")]
        c: Patch<Number>,
    }

    #[test]
    fn negative_numbers_are_refused_with_their_path() {
        let lenient = |json: &str| {
            crate::decode::decode_slice::<Sample>(json.as_bytes(), crate::decode::DecodeOptions::LENIENT)
        };
        let ok = lenient(r#"{"a": 0, "b": null, "c": null}"#).unwrap().value;
        assert_eq!((ok.b, ok.c), (None, Patch::Null));
        let ok = lenient(r#"{"a": -0.0}"#).unwrap().value;
        assert_eq!((ok.a, ok.c), (Number::ZERO, Patch::Absent));
        // What we stored is read back as written.
        assert!(serde_json::from_str::<Sample>(r#"{"a": -1}"#).is_ok());
        for (json, path) in [
            (r#"{"a": -1}"#, "a"),
            (r#"{"a": 1, "b": -0.001}"#, "b"),
            (r#"{"a": 1, "c": "-2"}"#, "c"),
        ] {
            let e =
                crate::decode::decode_slice::<Sample>(json.as_bytes(), crate::decode::DecodeOptions::LENIENT)
                    .unwrap_err();
            assert_eq!(e.path, path, "{json}");
            assert!(!e.syntax);
        }
    }

    /// What an earlier version stored (before the bounds) reads back as it was written, so that a
    /// store full of such values still opens.
    #[test]
    fn stored_values_read_back_without_the_bounds() {
        use crate::ids::EvseUid;
        use crate::modules::locations::Status;
        let uid: EvseUid = serde_json::from_value(serde_json::json!("E".repeat(40))).unwrap();
        assert_eq!(uid.as_str().len(), 40);
        let status: Status = serde_json::from_value(serde_json::json!("S".repeat(1000))).unwrap();
        assert!(!status.is_known());
        let t: crate::Text<10> = serde_json::from_value(serde_json::json!("t".repeat(1000))).unwrap();
        assert!(t.is_over_length());
        let u: crate::ResponseUrl = serde_json::from_value(serde_json::json!("garbage")).unwrap();
        assert_eq!(u.as_str(), "garbage");
        let from_peer = serde_json::json!("E".repeat(40));
        assert!(
            crate::decode::decode_value::<EvseUid>(from_peer, crate::decode::DecodeOptions::LENIENT).is_err()
        );
        // Charsets and empty ids were always refused.
        assert!(serde_json::from_value::<EvseUid>(serde_json::json!("")).is_err());
        assert!(serde_json::from_value::<EvseUid>(serde_json::json!("caf\u{e9}")).is_err());
    }

    proptest! {
        #[test]
        fn non_negative_accepts_exactly_the_values_at_or_above_zero(v in -1_000_000i64..1_000_000, scale in 0u32..6) {
            let n = Number(rust_decimal::Decimal::new(v, scale));
            let json = format!(r#"{{"a": {n}}}"#);
            let r = crate::decode::decode_slice::<Sample>(json.as_bytes(), crate::decode::DecodeOptions::STRICT);
            prop_assert_eq!(r.is_ok(), v >= 0, "{}", json);
        }
    }
}
