//! Validated OCPI ids (checklist §3.9, §5.1 CR-02, §6.1).
//!
//! Every id is a newtype over [`CiString`]: compared, ordered and hashed case-insensitively, printed as
//! received. One validation function per id is shared by `new`, `FromStr`, `TryFrom` and `Deserialize`.
//! Object ids are non-empty and at most their OCPI length in every mode, from peers too: an id is a
//! key, we echo it in what we send (Sessions and CDRs carry `authorization_reference`, commands carry
//! location, EVSE and reservation ids), and no erratum changed an id's length — so the T-70 tolerance
//! of text fields does not apply to them (#12 item 13). [`CountryCode`] and [`PartyId`] are exact
//! (2 letters, 3 alphanumerics) because they are the keys of ownership. Ids read back from our own
//! store are taken at the length they were stored with.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ci_string::CiString;
use crate::error::TypeError;

macro_rules! ci_id {
    ($(#[$meta:meta])* $name:ident, $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(CiString<$max>);

        impl $name {
            /// The OCPI maximum length.
            pub const MAX_LEN: usize = $max;

            /// Builds the id, checking it strictly.
            pub fn new(value: impl Into<String>) -> Result<Self, TypeError> {
                let value = value.into();
                if value.is_empty() {
                    return Err(TypeError::Empty);
                }
                CiString::new(value).map(Self)
            }

            /// The id as received.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The lower-case form used in store keys.
            pub fn to_key(&self) -> String {
                self.0.to_key()
            }

            /// The underlying `CiString`.
            pub fn as_ci(&self) -> &CiString<$max> {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0.as_str())
            }
        }

        impl FromStr for $name {
            type Err = TypeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TypeError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = TypeError;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.0.as_str()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == **other
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                if s.is_empty() {
                    return Err(serde::de::Error::custom(TypeError::Empty));
                }
                if crate::decode::checks_bounds() {
                    Self::new(s).map_err(serde::de::Error::custom)
                } else {
                    // Read back from our store: as an earlier version may have written it.
                    CiString::decode(s).map(Self).map_err(serde::de::Error::custom)
                }
            }
        }
    };
}

ci_id!(
    /// `Location.id`, CiString(36), unique per CPO and immutable (§6.3).
    LocationId, 36
);
ci_id!(
    /// `EVSE.uid`, CiString(36), unique per CPO forever (LOC-07). `#NA` is accepted for reservations (E-18).
    EvseUid, 36
);
ci_id!(
    /// `Connector.id`, CiString(36), unique within its EVSE.
    ConnectorId, 36
);
ci_id!(
    /// `Tariff.id`, CiString(36), unique per CPO.
    TariffId, 36
);
ci_id!(
    /// `Session.id`, CiString(36), unique per CPO.
    SessionId, 36
);
ci_id!(
    /// `CDR.id`, CiString(39): 36 for normal CDRs (CDR-08) plus a suffix such as `-C` for credit CDRs (CDR-02).
    CdrId, 39
);
ci_id!(
    /// `Token.uid`, CiString(36); unique with the token type within an eMSP (TOK-11).
    TokenUid, 36
);
ci_id!(
    /// `authorization_reference`, CiString(36): copied from authorize/commands into Sessions and CDRs (SES-04).
    AuthorizationReference, 36
);
ci_id!(
    /// `ReserveNow.reservation_id`, CiString(36), chosen by the eMSP (CMD-05).
    ReservationId, 36
);
ci_id!(
    /// `Token.group_id`, CiString(36).
    GroupId, 36
);
ci_id!(
    /// `Token.contract_id` / `CdrToken.contract_id`, CiString(36): the eMAID where the eMSP uses one.
    ContractId, 36
);
ci_id!(
    /// `EVSE.evse_id`, CiString(48): the eMI3 / ISO 15118 EVSE ID as sent. See `global_ids::EvseId` for parsing.
    EvseIdText, 48
);
ci_id!(
    /// `invoice_reference_id`, CiString(39).
    InvoiceReferenceId, 39
);

/// `country_code`, CiString(2): ISO 3166-1 alpha-2, two ASCII letters, any case (CR-02).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode(CiString<2>);

/// `party_id`, CiString(3): three ASCII alphanumerics, any case (CR-02).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyId(CiString<3>);

fn check_country_code(value: &str) -> Result<(), TypeError> {
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(())
    } else {
        Err(TypeError::format(
            "country code",
            value,
            "expected two letters (ISO 3166-1 alpha-2)",
        ))
    }
}

fn check_party_id(value: &str) -> Result<(), TypeError> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(TypeError::format(
            "party id",
            value,
            "expected three letters or digits",
        ))
    }
}

macro_rules! exact_id {
    ($name:ident, $max:literal, $check:ident) => {
        impl $name {
            /// Builds the value, checking it.
            pub fn new(value: impl Into<String>) -> Result<Self, TypeError> {
                let value = value.into();
                $check(&value)?;
                CiString::new(value).map(Self)
            }

            /// The value as received.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The upper-case form (`nl` → `NL`).
            pub fn to_upper(&self) -> String {
                self.0.as_str().to_ascii_uppercase()
            }

            /// The lower-case form used in store keys.
            pub fn to_key(&self) -> String {
                self.0.to_key()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0.as_str())
            }
        }

        impl FromStr for $name {
            type Err = TypeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TypeError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = TypeError;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == **other
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

exact_id!(CountryCode, 2, check_country_code);
exact_id!(PartyId, 3, check_party_id);

/// A party: the pair (country_code, party_id) that owns objects (CR-02, T-90).
///
/// Printed as `NL-TNM`; parsed from `NL-TNM`, `NL*TNM`, `NL/TNM` or `NLTNM`, any case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartyRef {
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: CountryCode,
    /// The party id.
    pub party_id: PartyId,
}

impl PartyRef {
    /// Builds a party reference.
    pub fn new(country_code: CountryCode, party_id: PartyId) -> Self {
        Self {
            country_code,
            party_id,
        }
    }

    /// The lower-case key form `nl/tnm`, used as a store prefix.
    pub fn to_key(&self) -> String {
        format!("{}/{}", self.country_code.to_key(), self.party_id.to_key())
    }
}

impl fmt::Display for PartyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.country_code.to_upper(), self.party_id.to_upper())
    }
}

impl FromStr for PartyRef {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let compact: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '*' | '/' | ' '))
            .collect();
        if compact.len() != 5 || !compact.is_ascii() {
            return Err(TypeError::format(
                "party",
                s,
                "expected a country code and a party id, e.g. NL-TNM",
            ));
        }
        let (cc, pid) = compact.split_at(2);
        Ok(Self {
            country_code: CountryCode::new(cc)?,
            party_id: PartyId::new(pid)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn ids_are_case_insensitive() {
        assert_eq!(LocationId::new("LOC1").unwrap(), LocationId::new("loc1").unwrap());
        assert_eq!(CountryCode::new("nl").unwrap(), CountryCode::new("NL").unwrap());
    }

    #[test]
    fn empty_ids_are_refused_even_when_decoding() {
        assert_eq!(LocationId::new(""), Err(TypeError::Empty));
        assert!(serde_json::from_str::<LocationId>("\"\"").is_err());
    }

    #[test]
    fn country_and_party_are_exact() {
        assert!(CountryCode::new("NLD").is_err());
        assert!(CountryCode::new("N1").is_err());
        assert!(PartyId::new("TN").is_err());
        assert!(PartyId::new("T-M").is_err());
        assert!(PartyId::new("T1M").is_ok());
        assert!(serde_json::from_str::<CountryCode>("\"NLD\"").is_err());
    }

    /// #12 item 13: a 10,000-character `authorization_reference` (CiString(36)) was accepted.
    #[test]
    fn ids_are_exact_in_every_decode_mode() {
        use crate::decode::{DecodeOptions, decode_slice};
        for n in [37, 255, 10_000] {
            let json = serde_json::to_vec(&"R".repeat(n)).unwrap();
            let e = decode_slice::<AuthorizationReference>(&json, DecodeOptions::LENIENT).unwrap_err();
            assert!(e.message.contains("longer than 36"), "{e}");
        }
        let json = serde_json::to_vec(&"R".repeat(36)).unwrap();
        assert!(decode_slice::<AuthorizationReference>(&json, DecodeOptions::LENIENT).is_ok());
    }

    #[test]
    fn cdr_ids_allow_credit_suffix() {
        assert!(CdrId::new(format!("{}-C", "a".repeat(36))).is_ok());
        assert!(SessionId::new("a".repeat(37)).is_err());
    }

    #[test]
    fn party_ref_parses_every_separator() {
        for s in ["NL-TNM", "nl*tnm", "NL/TNM", "NLTNM", "nl tnm"] {
            let p: PartyRef = s.parse().unwrap();
            assert_eq!(p.to_string(), "NL-TNM");
            assert_eq!(p.to_key(), "nl/tnm");
        }
        assert!("NL-TN".parse::<PartyRef>().is_err());
    }

    proptest! {
        #[test]
        fn location_id_round_trips(s in "[!-~][ -~]{0,35}") {
            let id = LocationId::new(s.clone()).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
            let back: LocationId = serde_json::from_str(&serde_json::to_string(&id).unwrap()).unwrap();
            prop_assert_eq!(&back, &id);
            prop_assert_eq!(LocationId::new(s.to_ascii_uppercase()).unwrap(), id);
        }

        #[test]
        fn party_ref_round_trips(cc in "[A-Za-z]{2}", pid in "[A-Za-z0-9]{3}") {
            let p: PartyRef = format!("{cc}{pid}").parse().unwrap();
            let q: PartyRef = p.to_string().parse().unwrap();
            prop_assert_eq!(p, q);
        }

        #[test]
        fn bad_country_codes_are_refused(s in "[A-Za-z]{0,1}|[A-Za-z]{3,5}|[0-9]{2}") {
            prop_assert!(CountryCode::new(s).is_err());
        }
    }
}
