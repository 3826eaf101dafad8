//! Open enums (T-72): every OCPI enum has its known values plus `Other(String)`.
//!
//! `as_str`, `FromStr`, `Display`, `Serialize` and `Deserialize` are all generated from one table by
//! [`open_enum!`](macro@crate::open_enum), so they cannot disagree. Decoding an unknown value keeps it as
//! `Other` and reports a [`DecodeWarning::UnknownEnumValue`](crate::decode::DecodeWarning) when it
//! looks like an enum value ([`check_enum_text`](crate::limits::check_enum_text): at most 64 ASCII
//! letters, digits, `_`, `-`, `.`; a megabyte of text is no enum value, #12 item 13); strict decoding
//! refuses it. Values are case-sensitive (E-21: `IEC_60309_2_single_16`).

/// Defines an OCPI enum with an `Other(String)` variant.
///
/// ```
/// roaming_types::open_enum! {
///     /// Colours.
///     pub enum Colour("Colour") {
///         /// Red.
///         Red => "RED",
///         /// Green.
///         Green => "GREEN",
///     }
/// }
/// assert_eq!(Colour::Red.as_str(), "RED");
/// assert_eq!("BLUE".parse::<Colour>().unwrap(), Colour::Other("BLUE".to_owned()));
/// ```
#[macro_export]
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($ocpi_name:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $value:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know (T-72), kept as received.
            Other(String),
        }

        impl $name {
            /// Every known value, in table order.
            pub const KNOWN: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The OCPI name of this enum.
            pub const OCPI_NAME: &'static str = $ocpi_name;

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $value, )+
                    $name::Other(s) => s.as_str(),
                }
            }

            /// Whether this is one of the known values.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }

            /// The known value with this wire text, if any.
            pub fn known(s: &str) -> Option<Self> {
                match s {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::known(s).unwrap_or_else(|| $name::Other(s.to_owned())))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                match Self::known(&s) {
                    Some(v) => Ok(v),
                    None => $crate::open_enum::unknown($ocpi_name, s.into_owned())
                        .map($name::Other)
                        .map_err(::serde::de::Error::custom),
                }
            }
        }
    };
}

/// Decode-time policy for an unknown enum value: keep and warn (lenient) or refuse (strict).
#[doc(hidden)]
pub fn unknown(enum_name: &'static str, value: String) -> Result<String, crate::error::TypeError> {
    use crate::decode::{self, DecodeWarning, Strictness};
    match decode::options().strictness {
        Strictness::Trusted => Ok(value),
        Strictness::Strict => Err(crate::error::TypeError::UnknownEnumValue {
            enum_name,
            value: decode::preview(&value),
        }),
        Strictness::Lenient => {
            crate::limits::check_enum_text(enum_name, &value)?;
            decode::warn(DecodeWarning::UnknownEnumValue {
                enum_name,
                value: value.clone(),
            });
            Ok(value)
        }
    }
}

/// Asserts that `as_str`, `FromStr`, `Display` and serde agree for every known value and for an
/// unknown one. Used by the enum tests of every module.
#[cfg(test)]
pub(crate) fn assert_consistent<T>(known: &[T])
where
    T: std::fmt::Debug
        + std::fmt::Display
        + std::str::FromStr<Err = std::convert::Infallible>
        + serde::Serialize
        + serde::de::DeserializeOwned
        + PartialEq,
{
    for v in known {
        let text = v.to_string();
        assert_eq!(text.parse::<T>().ok().as_ref(), Some(v));
        assert_eq!(serde_json::to_string(v).unwrap(), format!("\"{text}\""));
        assert_eq!(&serde_json::from_str::<T>(&format!("\"{text}\"")).unwrap(), v);
    }
    let other: T = "SOMETHING_NEW_IN_2_4".parse().unwrap();
    assert_eq!(other.to_string(), "SOMETHING_NEW_IN_2_4");
    let decoded: T = serde_json::from_str("\"SOMETHING_NEW_IN_2_4\"").unwrap();
    assert_eq!(decoded, other);
}

#[cfg(test)]
#[expect(
    unreachable_pub,
    dead_code,
    reason = "macro output inside a private test module"
)]
mod tests {
    use crate::decode::{DecodeOptions, decode_slice};

    crate::open_enum! {
        /// Test enum.
        pub enum Sample("Sample") {
            /// One.
            One => "ONE",
            /// Mixed case (E-21).
            Mixed => "Mixed_case",
        }
    }

    #[test]
    fn t72_unknown_values_round_trip_and_warn() {
        super::assert_consistent(Sample::KNOWN);
        let d = decode_slice::<Sample>(br#""TWO""#, DecodeOptions::LENIENT).unwrap();
        assert_eq!(d.value, Sample::Other("TWO".to_owned()));
        assert_eq!(d.warnings.len(), 1);
        assert!(decode_slice::<Sample>(br#""TWO""#, DecodeOptions::STRICT).is_err());
    }

    /// #12 item 13: a 1,000,000-character EVSE status was kept as an unknown value.
    #[test]
    fn t72_keeps_only_what_looks_like_an_enum_value() {
        for bad in ["", "OUT OF ORDER", &"A".repeat(65), &"A".repeat(1_000_000)] {
            let json = serde_json::to_vec(bad).unwrap();
            assert!(
                decode_slice::<Sample>(&json, DecodeOptions::LENIENT).is_err(),
                "{}",
                bad.len()
            );
        }
        let json = serde_json::to_vec(&"A".repeat(64)).unwrap();
        assert!(decode_slice::<Sample>(&json, DecodeOptions::LENIENT).is_ok());
    }

    #[test]
    fn e21_values_are_case_sensitive() {
        assert_eq!("Mixed_case".parse::<Sample>().unwrap(), Sample::Mixed);
        assert_eq!(
            "MIXED_CASE".parse::<Sample>().unwrap(),
            Sample::Other("MIXED_CASE".to_owned())
        );
        assert_eq!("one".parse::<Sample>().unwrap(), Sample::Other("one".to_owned()));
    }
}
