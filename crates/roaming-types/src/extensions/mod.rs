//! Our extension modules (`docs/extensions.md`): where OCPI 2.2.1 has no equivalent, the endpoints add
//! modules of their own, announced in the version details under a prefixed id ([`PREFIX`]) so that a
//! peer that does not know one ignores it. One file per extension, holding its module id and its wire
//! types, used by both roles: the host decodes the requests and encodes the answers, the caller the
//! other way round. Bodies follow the OCPI conventions (envelope, DateTime, Price, CiString ids).

pub mod cdr_checks;
pub mod quotes;

/// The prefix of every extension module id (`x-roaming-…`).
pub const PREFIX: &str = "x-roaming-";

/// `CC-PID` text for a party reference (`"NL-CSO"` rather than an object), with
/// `#[serde(with = …)]`.
mod cc_pid {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ids::PartyRef;

    /// Writes `CC-PID`.
    pub(super) fn serialize<S: Serializer>(v: &PartyRef, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Reads `CC-PID`.
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PartyRef, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<PartyRef>()
            .map_err(|e| serde::de::Error::custom(format!("party {s:?} (CC-PID): {e}")))
    }
}

#[cfg(test)]
mod tests {
    use crate::modules::versions::ModuleId;

    #[test]
    fn module_ids_are_prefixed_custom_modules() {
        for (id, module) in [
            (super::quotes::MODULE, super::quotes::module_id()),
            (super::cdr_checks::MODULE, super::cdr_checks::module_id()),
        ] {
            assert!(id.starts_with(super::PREFIX), "{id}");
            assert_eq!(module, ModuleId::Custom(id.to_owned()));
            let announced: ModuleId = serde_json::from_value(serde_json::json!(id)).unwrap();
            assert_eq!(announced, module, "read back from version details");
            assert_eq!(serde_json::to_value(&module).unwrap(), serde_json::json!(id));
        }
    }
}
