//! Versions module objects (checklist §4, `version_information_endpoint.asciidoc`, V-01…V-10).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ci_string::Url;

crate::open_enum! {
    /// `VersionNumber` (V-07).
    pub enum VersionNumber("VersionNumber") {
        /// 2.0.
        V2_0 => "2.0",
        /// 2.1 (deprecated).
        V2_1 => "2.1",
        /// 2.1.1.
        V2_1_1 => "2.1.1",
        /// 2.2 (deprecated).
        V2_2 => "2.2",
        /// 2.2.1: the version these endpoints speak.
        V2_2_1 => "2.2.1",
        /// 2.3.0.
        V2_3_0 => "2.3.0",
    }
}

impl VersionNumber {
    /// The numeric parts (`2.2.1` → `[2, 2, 1]`), for choosing the highest mutual version (V-10).
    /// `None` for values that are not dotted numbers.
    pub fn parts(&self) -> Option<Vec<u32>> {
        self.as_str().split('.').map(|p| p.parse::<u32>().ok()).collect()
    }

    /// Compares two versions numerically (`2.10` > `2.2.1`); non-numeric values sort first.
    pub fn cmp_numeric(&self, other: &Self) -> Ordering {
        match (self.parts(), other.parts()) {
            (Some(a), Some(b)) => {
                let len = a.len().max(b.len());
                let pad = |v: Vec<u32>| -> Vec<u32> {
                    v.into_iter().chain(std::iter::repeat(0)).take(len).collect()
                };
                pad(a).cmp(&pad(b))
            }
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => self.as_str().cmp(other.as_str()),
        }
    }
}

/// The highest version present in both lists (V-10), or `None` (→ 3002).
pub fn highest_mutual<'a>(
    ours: &[VersionNumber],
    theirs: impl IntoIterator<Item = &'a VersionNumber>,
) -> Option<VersionNumber> {
    theirs
        .into_iter()
        .filter(|v| ours.contains(v))
        .max_by(|a, b| a.cmp_numeric(b))
        .cloned()
}

/// `ModuleID` (V-06): the standard modules plus custom ones (V-08). Compared case-insensitively
/// (E-22); known ids print in their canonical lower case, custom ids as received.
#[derive(Debug, Clone)]
pub enum ModuleId {
    /// `cdrs`.
    Cdrs,
    /// `chargingprofiles`.
    ChargingProfiles,
    /// `commands`.
    Commands,
    /// `credentials`.
    Credentials,
    /// `hubclientinfo`.
    HubClientInfo,
    /// `locations`.
    Locations,
    /// `sessions`.
    Sessions,
    /// `tariffs`.
    Tariffs,
    /// `tokens`.
    Tokens,
    /// A custom module (V-08), e.g. one of our extensions.
    Custom(String),
}

impl ModuleId {
    /// Every standard 2.2.1 module.
    pub const STANDARD: &'static [ModuleId] = &[
        Self::Cdrs,
        Self::ChargingProfiles,
        Self::Commands,
        Self::Credentials,
        Self::HubClientInfo,
        Self::Locations,
        Self::Sessions,
        Self::Tariffs,
        Self::Tokens,
    ];

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Cdrs => "cdrs",
            Self::ChargingProfiles => "chargingprofiles",
            Self::Commands => "commands",
            Self::Credentials => "credentials",
            Self::HubClientInfo => "hubclientinfo",
            Self::Locations => "locations",
            Self::Sessions => "sessions",
            Self::Tariffs => "tariffs",
            Self::Tokens => "tokens",
            Self::Custom(s) => s,
        }
    }

    /// Whether this is a configuration module (no routing headers, T-51).
    pub fn is_configuration(&self) -> bool {
        matches!(self, Self::Credentials | Self::HubClientInfo)
    }
}

impl PartialEq for ModuleId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}
impl Eq for ModuleId {}

impl PartialOrd for ModuleId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ModuleId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str()
            .to_ascii_lowercase()
            .cmp(&other.as_str().to_ascii_lowercase())
    }
}

impl FromStr for ModuleId {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::STANDARD
            .iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .cloned()
            .unwrap_or_else(|| Self::Custom(s.to_owned())))
    }
}

impl fmt::Display for ModuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ModuleId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ModuleId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        let id: Self = s.parse().unwrap_or_else(|e: std::convert::Infallible| match e {});
        if let (Self::Custom(c), true) = (&id, crate::decode::checks_bounds()) {
            // A custom module id (V-08) looks like one: no megabyte of text (#12 item 13).
            crate::limits::check_enum_text("ModuleID", c).map_err(serde::de::Error::custom)?;
        }
        Ok(id)
    }
}

crate::open_enum! {
    /// `InterfaceRole` (V-04).
    pub enum InterfaceRole("InterfaceRole") {
        /// The data owner's interface (pull target); for Commands/ChargingProfiles, the eMSP side.
        Sender => "SENDER",
        /// The interface that accepts pushes; for Commands/ChargingProfiles, the CPO side.
        Receiver => "RECEIVER",
    }
}

/// `Version` (V-02): one entry of the versions list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The version number.
    pub version: VersionNumber,
    /// URL of its version details.
    pub url: Url,
}

/// `Endpoint` (V-03): one module interface of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The module.
    pub identifier: ModuleId,
    /// Sender or receiver interface (meaningless for `credentials`, V-05).
    pub role: InterfaceRole,
    /// The module's URL.
    pub url: Url,
}

/// `VersionDetails` (V-03): the endpoints of one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionDetails {
    /// The version.
    pub version: VersionNumber,
    /// Its endpoints (at least one).
    pub endpoints: Vec<Endpoint>,
}

impl VersionDetails {
    /// The URL of a module interface. For `credentials` the role is ignored (V-05, E-12).
    pub fn endpoint(&self, module: &ModuleId, role: &InterfaceRole) -> Option<&Url> {
        self.endpoints
            .iter()
            .find(|e| &e.identifier == module && (module == &ModuleId::Credentials || &e.role == role))
            .map(|e| &e.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v10_highest_mutual_version() {
        let ours = [VersionNumber::V2_2_1];
        let theirs = [
            VersionNumber::V2_1_1,
            VersionNumber::V2_2_1,
            VersionNumber::V2_3_0,
        ];
        assert_eq!(highest_mutual(&ours, &theirs), Some(VersionNumber::V2_2_1));
        assert_eq!(highest_mutual(&ours, &[VersionNumber::V2_1_1]), None);
        let ours = [VersionNumber::V2_1_1, VersionNumber::V2_2_1, VersionNumber::V2_2];
        assert_eq!(highest_mutual(&ours, &ours), Some(VersionNumber::V2_2_1));
        assert_eq!(
            VersionNumber::Other("2.10".to_owned()).cmp_numeric(&VersionNumber::V2_2_1),
            Ordering::Greater
        );
        assert_eq!(
            VersionNumber::V2_2.cmp_numeric(&VersionNumber::V2_2_1),
            Ordering::Less
        );
    }

    #[test]
    fn e22_module_ids_are_case_insensitive() {
        let m: ModuleId = serde_json::from_str("\"Locations\"").unwrap();
        assert_eq!(m, ModuleId::Locations);
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"locations\"");
        let c: ModuleId = serde_json::from_str("\"Booking\"").unwrap();
        assert_eq!(c, ModuleId::Custom("booking".to_owned()));
        assert_eq!(c.as_str(), "Booking");
    }

    #[test]
    fn v05_credentials_role_is_ignored() {
        let details: VersionDetails = serde_json::from_str(
            r#"{"version":"2.2.1","endpoints":[
                {"identifier":"credentials","role":"RECEIVER","url":"https://x.example/ocpi/2.2.1/credentials"},
                {"identifier":"locations","role":"SENDER","url":"https://x.example/ocpi/2.2.1/locations"}]}"#,
        )
        .unwrap();
        assert!(
            details
                .endpoint(&ModuleId::Credentials, &InterfaceRole::Sender)
                .is_some()
        );
        assert!(
            details
                .endpoint(&ModuleId::Locations, &InterfaceRole::Receiver)
                .is_none()
        );
    }

    #[test]
    fn enums_are_consistent() {
        crate::open_enum::assert_consistent(VersionNumber::KNOWN);
        crate::open_enum::assert_consistent(InterfaceRole::KNOWN);
    }
}
