//! Exact decimal numbers for money and energy (checklist §3.9 `number`, `Price`).
//!
//! [`Number`] wraps [`rust_decimal::Decimal`]; nothing in this crate adds or multiplies `f64`.
//! On the wire a `number` is a JSON number. serde_json hands non-integer numbers to us as `f64`; we
//! convert that `f64` through its shortest round-trip decimal text, which gives back the exact decimal
//! that was written in the JSON for every value of up to 15 significant digits (OCPI's default
//! precision is 4 decimals). Integers are taken exactly. Numeric strings (`"0.25"`) are accepted on
//! input. When emitting, values with more than 15 significant digits are rounded to 15.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Mul, Neg, Sub};
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OCPI `number` held as an exact decimal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Number(pub Decimal);

impl Number {
    /// Zero.
    pub const ZERO: Self = Self(Decimal::ZERO);

    /// The decimal value.
    pub fn value(self) -> Decimal {
        self.0
    }

    /// From an integer.
    pub fn from_i64(v: i64) -> Self {
        Self(Decimal::from(v))
    }

    /// The value rounded to `dp` decimals, half away from zero.
    pub fn round_dp(self, dp: u32) -> Self {
        Self(
            self.0
                .round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        )
    }

    /// The value with trailing zeros removed (`4.40` → `4.4`).
    pub fn normalize(self) -> Self {
        Self(self.0.normalize())
    }
}

impl From<Decimal> for Number {
    fn from(d: Decimal) -> Self {
        Self(d)
    }
}

impl From<Number> for Decimal {
    fn from(n: Number) -> Self {
        n.0
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Self::from_i64(v)
    }
}

impl FromStr for Number {
    type Err = rust_decimal::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::from_str_exact(s)
            .or_else(|_| Decimal::from_scientific(s))
            .map(Self)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.normalize(), f)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({})", self.0)
    }
}

impl Add for Number {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0 + rhs.0)
    }
}

impl Sub for Number {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self(self.0 - rhs.0)
    }
}

impl Mul for Number {
    type Output = Self;
    fn mul(self, rhs: Self) -> Self {
        Self(self.0 * rhs.0)
    }
}

impl Neg for Number {
    type Output = Self;
    fn neg(self) -> Self {
        Self(-self.0)
    }
}

impl Sum for Number {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        Self(iter.map(|n| n.0).sum())
    }
}

/// The exact decimal written as the shortest text that reads back as `v` (Rust's `Display` for
/// `f64` is the shortest round-trip form and never uses an exponent).
fn decimal_from_f64(v: f64) -> Option<Decimal> {
    if !v.is_finite() {
        return None;
    }
    let text = v.to_string();
    Decimal::from_str_exact(&text)
        .ok()
        .or_else(|| Decimal::from_f64(v))
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let d = self.0.normalize();
        if d.scale() == 0 {
            if let Some(i) = d.to_i64() {
                return serializer.serialize_i64(i);
            }
        }
        // ≤ 15 significant digits survive f64 exactly; round anything longer to 15.
        let digits = d.mantissa().unsigned_abs().checked_ilog10().map_or(1, |l| l + 1);
        let d = if digits > 15 {
            let drop = digits - 15;
            d.round_dp(d.scale().saturating_sub(drop))
        } else {
            d
        };
        match d.to_f64() {
            Some(f) => serializer.serialize_f64(f),
            None => Err(serde::ser::Error::custom("number out of range")),
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(Decimal::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Number, E> {
                decimal_from_f64(v)
                    .map(Number)
                    .ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim()
                    .parse::<Number>()
                    .map_err(|_| E::custom(format!("{v:?} is not a number")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `Price` (2.2.1): an amount excluding VAT and, where VAT applies, including it (§3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Price excluding VAT.
    pub excl_vat: Number,
    /// Price including VAT; absent when VAT does not apply (which is not the same as 0 % VAT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incl_vat: Option<Number>,
}

impl Price {
    /// Zero, with zero VAT.
    pub const ZERO: Self = Self {
        excl_vat: Number::ZERO,
        incl_vat: Some(Number::ZERO),
    };

    /// A price from its two parts.
    pub fn new(excl_vat: impl Into<Number>, incl_vat: Option<Number>) -> Self {
        Self {
            excl_vat: excl_vat.into(),
            incl_vat,
        }
    }

    /// The price negated, as in credit CDRs (CDR-02).
    pub fn negated(self) -> Self {
        Self {
            excl_vat: -self.excl_vat,
            incl_vat: self.incl_vat.map(|v| -v),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn exact_values_from_json() {
        let n: Number = serde_json::from_str("0.1").unwrap();
        assert_eq!(n.0, dec!(0.1));
        let n: Number = serde_json::from_str("4.40").unwrap();
        assert_eq!(n.0, dec!(4.4));
        let n: Number = serde_json::from_str("12345678901234").unwrap();
        assert_eq!(n.0, dec!(12345678901234));
        let n: Number = serde_json::from_str("\"0.2500\"").unwrap();
        assert_eq!(n.0, dec!(0.25));
        let n: Number = serde_json::from_str("1e-4").unwrap();
        assert_eq!(n.0, dec!(0.0001));
    }

    #[test]
    fn emits_plain_json_numbers() {
        assert_eq!(serde_json::to_string(&Number(dec!(4.40))).unwrap(), "4.4");
        assert_eq!(serde_json::to_string(&Number(dec!(4.00))).unwrap(), "4");
        assert_eq!(serde_json::to_string(&Number(dec!(-0.0001))).unwrap(), "-0.0001");
        assert_eq!(
            serde_json::to_string(&Number(dec!(0.1) + dec!(0.2))).unwrap(),
            "0.3"
        );
    }

    #[test]
    fn price_vat_absent_is_not_zero() {
        let p: Price = serde_json::from_str(r#"{"excl_vat": 4}"#).unwrap();
        assert_eq!(p.incl_vat, None);
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"excl_vat":4}"#);
        assert_eq!(p.negated().excl_vat.0, dec!(-4));
    }

    proptest! {
        /// Every decimal of up to 15 significant digits survives the JSON number exactly.
        #[test]
        fn decimals_round_trip_exactly(mantissa in -999_999_999_999_999i64..=999_999_999_999_999, scale in 0u32..=15) {
            let d = Decimal::new(mantissa, scale);
            let json = serde_json::to_string(&Number(d)).unwrap();
            let back: Number = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back.0, d, "{}", json);
        }
    }
}
