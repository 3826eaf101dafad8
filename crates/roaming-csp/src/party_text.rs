//! `CC-PID` text for party references in the operator API (`"NL-CSO"` rather than an object), with
//! `#[serde(with = …)]`.

use roaming_types::ids::PartyRef;
use serde::{Deserialize, Deserializer, Serializer};

fn parse<E: serde::de::Error>(s: &str) -> Result<PartyRef, E> {
    s.parse::<PartyRef>()
        .map_err(|e| E::custom(format!("party {s:?} (CC-PID): {e}")))
}

/// An optional party.
pub mod option {
    use super::{Deserialize, Deserializer, PartyRef, Serializer, parse};

    /// Writes `CC-PID`.
    pub fn serialize<S: Serializer>(v: &Option<PartyRef>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(p) => s.serialize_str(&p.to_string()),
            None => s.serialize_none(),
        }
    }

    /// Reads `CC-PID` (or null).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PartyRef>, D::Error> {
        Option::<String>::deserialize(d)?.map(|s| parse(&s)).transpose()
    }
}

/// A list of parties.
pub mod list {
    use super::{Deserialize, Deserializer, PartyRef, Serializer, parse};

    /// Writes `["CC-PID", …]`.
    pub fn serialize<S: Serializer>(v: &[PartyRef], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(ToString::to_string))
    }

    /// Reads `["CC-PID", …]`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PartyRef>, D::Error> {
        Vec::<String>::deserialize(d)?.iter().map(|s| parse(s)).collect()
    }
}

/// One party.
pub mod one {
    use super::{Deserialize, Deserializer, PartyRef, Serializer, parse};

    /// Writes `CC-PID`.
    pub fn serialize<S: Serializer>(v: &PartyRef, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Reads `CC-PID`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PartyRef, D::Error> {
        parse(&String::deserialize(d)?)
    }
}
