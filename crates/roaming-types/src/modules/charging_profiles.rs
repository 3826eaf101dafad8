//! ChargingProfiles module objects (checklist §12, `mod_charging_profiles.asciidoc`, CP-01…CP-07).

use serde::{Deserialize, Serialize};

use crate::ci_string::ResponseUrl;
use crate::datetime::DateTime;
use crate::error::TypeError;
use crate::money::Number;

crate::open_enum! {
    /// `ChargingRateUnit` (§12.3).
    pub enum ChargingRateUnit("ChargingRateUnit") {
        /// Watts: total power.
        W => "W",
        /// Amperes: current **per phase**.
        A => "A",
    }
}

crate::open_enum! {
    /// `ChargingProfileResponseType` (§12.3): the immediate answer.
    pub enum ChargingProfileResponseType("ChargingProfileResponseType") {
        /// Accepted; a result will follow.
        Accepted => "ACCEPTED",
        /// The EVSE cannot do it.
        NotSupported => "NOT_SUPPORTED",
        /// Rejected (e.g. not the session's owner, CP-01).
        Rejected => "REJECTED",
        /// Too many requests (CP-03).
        TooOften => "TOO_OFTEN",
        /// No such session.
        UnknownSession => "UNKNOWN_SESSION",
    }
}

crate::open_enum! {
    /// `ChargingProfileResultType` (§12.3): the charger's outcome.
    pub enum ChargingProfileResultType("ChargingProfileResultType") {
        /// Done.
        Accepted => "ACCEPTED",
        /// Refused by the charger.
        Rejected => "REJECTED",
        /// No such session or profile at the charger.
        Unknown => "UNKNOWN",
    }
}

/// `ChargingProfilePeriod` (§12.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingProfilePeriod {
    /// Seconds from the profile start.
    pub start_period: u32,
    /// The cap, in the profile's unit (one decimal).
    pub limit: Number,
}

/// `ChargingProfile` (§12.3): a cap, not a target (CP-02).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingProfile {
    /// Absolute start; absent = relative to the start of charging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime>,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
    /// W or A per phase.
    pub charging_rate_unit: ChargingRateUnit,
    /// Minimum rate the EV can use efficiently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_charging_rate: Option<Number>,
    /// The periods.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub charging_profile_period: Vec<ChargingProfilePeriod>,
}

impl ChargingProfile {
    /// Context rules: periods start at 0 and are in increasing order; limits are not negative.
    pub fn validate(&self) -> Result<(), TypeError> {
        if let Some(first) = self.charging_profile_period.first() {
            if first.start_period != 0 {
                return Err(TypeError::format(
                    "ChargingProfile",
                    "charging_profile_period",
                    "the first period starts at 0",
                ));
            }
        }
        if self
            .charging_profile_period
            .windows(2)
            .any(|w| w[1].start_period <= w[0].start_period)
        {
            return Err(TypeError::format(
                "ChargingProfile",
                "charging_profile_period",
                "start_period must increase",
            ));
        }
        if self
            .charging_profile_period
            .iter()
            .any(|p| p.limit.value().is_sign_negative())
            || self
                .min_charging_rate
                .is_some_and(|m| m.value().is_sign_negative())
        {
            return Err(TypeError::format(
                "ChargingProfile",
                "limit",
                "limits must not be negative",
            ));
        }
        if !self.charging_rate_unit.is_known() {
            return Err(TypeError::format(
                "ChargingProfile",
                "charging_rate_unit",
                "must be W or A",
            ));
        }
        Ok(())
    }

    /// The limit in force `elapsed_s` seconds after the profile start (`None` after its duration or
    /// when it has no periods).
    pub fn limit_at(&self, elapsed_s: u64) -> Option<Number> {
        if self.duration.is_some_and(|d| elapsed_s >= u64::from(d)) {
            return None;
        }
        self.charging_profile_period
            .iter()
            .rev()
            .find(|p| u64::from(p.start_period) <= elapsed_s)
            .map(|p| p.limit)
    }
}

/// `SetChargingProfile` (§12.3): the body of `PUT {chargingprofiles}/{session_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetChargingProfile {
    /// The profile.
    pub charging_profile: ChargingProfile,
    /// Where to POST the ChargingProfileResult.
    pub response_url: ResponseUrl,
}

/// `ActiveChargingProfile` (§12.3): the profile in force, relative to `start_date_time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveChargingProfile {
    /// When the charger calculated it.
    pub start_date_time: DateTime,
    /// The profile.
    pub charging_profile: ChargingProfile,
}

/// `ChargingProfileResponse` (§12.3): the immediate answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingProfileResponse {
    /// Accepted or why not.
    pub result: ChargingProfileResponseType,
    /// Seconds to wait for the result.
    pub timeout: u32,
}

/// `ActiveChargingProfileResult` (§12.3): the result of a GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveChargingProfileResult {
    /// The outcome.
    pub result: ChargingProfileResultType,
    /// The profile, when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ActiveChargingProfile>,
}

/// `ChargingProfileResult` (§12.3): the result of a PUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingProfileResult {
    /// The outcome.
    pub result: ChargingProfileResultType,
}

/// `ClearProfileResult` (§12.3): the result of a DELETE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearProfileResult {
    /// The outcome.
    pub result: ChargingProfileResultType,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn profile() -> serde_json::Value {
        json!({ "start_date_time": "2026-05-01T18:00:00Z", "duration": 7200, "charging_rate_unit": "W", "min_charging_rate": 1400.0,
                "charging_profile_period": [{ "start_period": 0, "limit": 11000 }, { "start_period": 1800, "limit": 7400.5 }] })
    }

    #[test]
    fn profiles_round_trip_and_validate() {
        let v = json!({ "charging_profile": profile(), "response_url": "https://csp.example/cp/1" });
        let s: SetChargingProfile = serde_json::from_value(v.clone()).unwrap();
        let mut expected = v.clone();
        expected["charging_profile"]["min_charging_rate"] = json!(1400);
        crate::datetime::assert_same_json(&serde_json::to_value(&s).unwrap(), &expected);
        s.charging_profile.validate().unwrap();
        assert_eq!(s.charging_profile.limit_at(0), Some(Number::from(11000)));
        assert_eq!(s.charging_profile.limit_at(1800).unwrap().to_string(), "7400.5");
        assert_eq!(s.charging_profile.limit_at(7200), None);
        let a = json!({ "result": "ACCEPTED", "profile": { "start_date_time": "2026-05-01T18:05:00Z", "charging_profile": profile() } });
        let r: ActiveChargingProfileResult = serde_json::from_value(a).unwrap();
        assert!(r.profile.is_some());
        let v = json!({ "result": "TOO_OFTEN", "timeout": 10 });
        let r: ChargingProfileResponse = serde_json::from_value(v.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&r).unwrap(), &v);
        let _: ChargingProfileResult = serde_json::from_value(json!({ "result": "REJECTED" })).unwrap();
        let _: ClearProfileResult = serde_json::from_value(json!({ "result": "UNKNOWN" })).unwrap();
    }

    #[test]
    fn profile_rules() {
        let mut p: ChargingProfile = serde_json::from_value(profile()).unwrap();
        p.charging_profile_period.swap(0, 1);
        assert!(p.validate().is_err());
        let mut p: ChargingProfile = serde_json::from_value(profile()).unwrap();
        p.charging_profile_period[0].limit = Number::from(-1);
        assert!(p.validate().is_err());
    }

    #[test]
    fn enums_are_consistent() {
        crate::open_enum::assert_consistent(ChargingRateUnit::KNOWN);
        crate::open_enum::assert_consistent(ChargingProfileResponseType::KNOWN);
        crate::open_enum::assert_consistent(ChargingProfileResultType::KNOWN);
    }
}
