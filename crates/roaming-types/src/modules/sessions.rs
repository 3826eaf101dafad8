//! Sessions module objects (checklist §7, `mod_sessions.asciidoc`).
//!
//! `ProfileType` is shared with Tokens, and the CDR types a Session carries (`CdrToken`,
//! `ChargingPeriod`, `AuthMethod`) with CDRs: they live in [`super::common`]; `ProfileType` is
//! re-exported here.

pub use crate::modules::common::ProfileType;

use serde::{Deserialize, Deserializer, Serialize};

use crate::ci_string::Text;
use crate::datetime::DateTime;
use crate::error::TypeError;
use crate::ids::{
    AuthorizationReference, ConnectorId, CountryCode, EvseUid, LocationId, PartyId, PartyRef, SessionId,
};
use crate::modules::common::{AuthMethod, CdrDimensionType, CdrToken, ChargingPeriod};
use crate::money::{Number, Price};
use crate::patch::Patch;

/// `SessionStatus` (§7.4). E-04: the prose says `RESERVED`; the enum is `RESERVATION`, and
/// `RESERVED` is read as `RESERVATION`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionStatus {
    /// Charging.
    Active,
    /// Finished; no further changes (SES-01).
    Completed,
    /// Declared invalid; not billed.
    Invalid,
    /// Created, not all preconditions met yet.
    Pending,
    /// A reservation (SES-11).
    Reservation,
    /// A value this version does not know (T-72).
    Other(String),
}

impl SessionStatus {
    /// Every known value.
    pub const KNOWN: &'static [SessionStatus] = &[
        Self::Active,
        Self::Completed,
        Self::Invalid,
        Self::Pending,
        Self::Reservation,
    ];

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "ACTIVE",
            Self::Completed => "COMPLETED",
            Self::Invalid => "INVALID",
            Self::Pending => "PENDING",
            Self::Reservation => "RESERVATION",
            Self::Other(s) => s,
        }
    }

    fn known(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(Self::Active),
            "COMPLETED" => Some(Self::Completed),
            "INVALID" => Some(Self::Invalid),
            "PENDING" => Some(Self::Pending),
            // E-04: the prose's spelling.
            "RESERVATION" | "RESERVED" => Some(Self::Reservation),
            _ => None,
        }
    }

    /// Whether the session can no longer change (SES-01).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Invalid)
    }
}

impl std::str::FromStr for SessionStatus {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::known(s).unwrap_or_else(|| Self::Other(s.to_owned())))
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SessionStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SessionStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        match Self::known(&s) {
            Some(v) => Ok(v),
            None => crate::open_enum::unknown("SessionStatus", s.into_owned())
                .map(Self::Other)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// The `#NA` placeholder for a reservation's EVSE or connector that is not known yet (E-18).
pub const NOT_APPLICABLE: &str = "#NA";

/// `Session` (§7.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Owner (CPO) country code.
    pub country_code: CountryCode,
    /// Owner (CPO) party id.
    pub party_id: PartyId,
    /// Id, unique per CPO.
    pub id: SessionId,
    /// Start; for PENDING the creation time, updated on activation (SES-10).
    pub start_date_time: DateTime,
    /// End, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<DateTime>,
    /// Energy charged so far, kWh ("how many kWh were charged": not negative).
    #[serde(deserialize_with = "crate::limits::non_negative")]
    pub kwh: Number,
    /// The token used (a snapshot, §8.3).
    pub cdr_token: CdrToken,
    /// How the session was authorized (SES-05).
    pub auth_method: AuthMethod,
    /// The eMSP's reference from authorize, StartSession or ReserveNow (SES-04).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<AuthorizationReference>,
    /// Location.
    pub location_id: LocationId,
    /// EVSE; `#NA` for a reservation without one yet (E-18).
    pub evse_uid: EvseUid,
    /// Connector; `#NA` likewise.
    pub connector_id: ConnectorId,
    /// Meter id, string(255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_id: Option<Text<255>>,
    /// ISO 4217 currency, string(3).
    pub currency: Text<3>,
    /// Charging periods so far (SES-02).
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub charging_periods: Vec<ChargingPeriod>,
    /// Cost so far; absent ≠ free (SES-06).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<Price>,
    /// Status.
    pub status: SessionStatus,
    /// Last change.
    pub last_updated: DateTime,
}

impl Session {
    /// The owner (CPO).
    pub fn party(&self) -> PartyRef {
        PartyRef::new(self.country_code.clone(), self.party_id.clone())
    }

    /// The eMSP the session belongs to (its token's owner).
    pub fn emsp(&self) -> PartyRef {
        PartyRef::new(
            self.cdr_token.country_code.clone(),
            self.cdr_token.party_id.clone(),
        )
    }

    /// Context rules (§7.4): `#NA` only for reservations (E-18), end not before start, kWh ≥ 0.
    pub fn validate(&self) -> Result<(), TypeError> {
        let path = format!("session {}", self.id);
        let na = self.evse_uid.as_str() == NOT_APPLICABLE || self.connector_id.as_str() == NOT_APPLICABLE;
        let may_na = matches!(
            self.status,
            SessionStatus::Reservation | SessionStatus::Completed | SessionStatus::Invalid
        );
        if na && !may_na {
            return Err(TypeError::format(
                "Session",
                &path,
                "#NA is only allowed for reservations (E-18)",
            ));
        }
        if self.end_date_time.is_some_and(|e| e < self.start_date_time) {
            return Err(TypeError::format(
                "Session",
                &path,
                "end_date_time is before start_date_time",
            ));
        }
        if self.kwh.value().is_sign_negative() {
            return Err(TypeError::format("Session", &path, "kwh must not be negative"));
        }
        if let Some(i) = self.charging_periods.iter().position(|p| p.dimensions.is_empty()) {
            return Err(TypeError::format(
                "Session",
                &path,
                format!("charging_periods[{i}].dimensions needs at least one entry"),
            ));
        }
        Ok(())
    }

    /// E-08: whether the ENERGY volumes of the periods look like Wh rather than kWh (Σ ENERGY ≈ 1000 × kwh).
    pub fn energy_unit_suspect(&self) -> bool {
        let sum: Number = self
            .charging_periods
            .iter()
            .flat_map(|p| p.dimensions.iter())
            .filter(|d| d.dimension_type == CdrDimensionType::Energy)
            .map(|d| d.volume)
            .sum();
        let kwh = self.kwh.value();
        if kwh <= rust_decimal::Decimal::ZERO {
            return false;
        }
        let ratio = sum.value() / kwh;
        ratio > rust_decimal::Decimal::from(500) && ratio < rust_decimal::Decimal::from(2000)
    }

    /// E-08: divides the ENERGY volumes by 1000 (call when [`energy_unit_suspect`](Self::energy_unit_suspect)).
    pub fn rescale_energy_to_kwh(&mut self) {
        for d in self
            .charging_periods
            .iter_mut()
            .flat_map(|p| p.dimensions.iter_mut())
        {
            if d.dimension_type == CdrDimensionType::Energy {
                d.volume = Number(d.volume.value() / rust_decimal::Decimal::from(1000));
            }
        }
    }

    /// Applies a PATCH: fields replace, except `charging_periods`, which are **appended**
    /// (SES-02, §7.1; absent or empty = no change). Ids must match (T-93).
    pub fn apply_patch(&mut self, patch: SessionPatch) -> Result<(), TypeError> {
        let mismatch =
            |field: &'static str| TypeError::format("PATCH", field, "differs from the object's (T-93)");
        if patch.id.value().is_some_and(|v| v != &self.id) {
            return Err(mismatch("id"));
        }
        if patch
            .country_code
            .value()
            .is_some_and(|v| v != &self.country_code)
        {
            return Err(mismatch("country_code"));
        }
        if patch.party_id.value().is_some_and(|v| v != &self.party_id) {
            return Err(mismatch("party_id"));
        }
        patch
            .start_date_time
            .apply_required(&mut self.start_date_time, "start_date_time")?;
        patch.end_date_time.apply_optional(&mut self.end_date_time);
        patch.kwh.apply_required(&mut self.kwh, "kwh")?;
        patch.cdr_token.apply_required(&mut self.cdr_token, "cdr_token")?;
        patch
            .auth_method
            .apply_required(&mut self.auth_method, "auth_method")?;
        patch
            .authorization_reference
            .apply_optional(&mut self.authorization_reference);
        patch
            .location_id
            .apply_required(&mut self.location_id, "location_id")?;
        patch.evse_uid.apply_required(&mut self.evse_uid, "evse_uid")?;
        patch
            .connector_id
            .apply_required(&mut self.connector_id, "connector_id")?;
        patch.meter_id.apply_optional(&mut self.meter_id);
        patch.currency.apply_required(&mut self.currency, "currency")?;
        if let Patch::Value(periods) = patch.charging_periods {
            self.charging_periods.extend(periods);
        }
        patch.total_cost.apply_optional(&mut self.total_cost);
        patch.status.apply_required(&mut self.status, "status")?;
        self.last_updated = patch.last_updated;
        Ok(())
    }
}

/// The PATCH shape of a Session (T-92). `last_updated` is required (T-81).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPatch {
    /// Must match (T-93).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub country_code: Patch<CountryCode>,
    /// Must match (T-93).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub party_id: Patch<PartyId>,
    /// Must match (T-93).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub id: Patch<SessionId>,
    /// Start.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub start_date_time: Patch<DateTime>,
    /// End.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub end_date_time: Patch<DateTime>,
    /// Energy so far (not negative).
    #[serde(
        default,
        skip_serializing_if = "Patch::is_absent",
        deserialize_with = "crate::limits::non_negative_patch"
    )]
    pub kwh: Patch<Number>,
    /// Token.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub cdr_token: Patch<CdrToken>,
    /// Auth method (SES-05).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub auth_method: Patch<AuthMethod>,
    /// Authorization reference (SES-04).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub authorization_reference: Patch<AuthorizationReference>,
    /// Location.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub location_id: Patch<LocationId>,
    /// EVSE.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub evse_uid: Patch<EvseUid>,
    /// Connector.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub connector_id: Patch<ConnectorId>,
    /// Meter.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub meter_id: Patch<Text<255>>,
    /// Currency.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub currency: Patch<Text<3>>,
    /// Periods to **append** (SES-02).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub charging_periods: Patch<Vec<ChargingPeriod>>,
    /// Cost so far.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub total_cost: Patch<Price>,
    /// Status.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub status: Patch<SessionStatus>,
    /// Required (T-81).
    pub last_updated: DateTime,
}

/// `ChargingPreferences` (§7.4, SES-07).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingPreferences {
    /// The preference.
    pub profile_type: ProfileType,
    /// Expected departure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departure_time: Option<DateTime>,
    /// Energy wanted, kWh (not negative).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::limits::non_negative_opt"
    )]
    pub energy_need: Option<Number>,
    /// V2G allowed (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discharge_allowed: Option<bool>,
}

crate::open_enum! {
    /// `ChargingPreferencesResponse` (§7.4).
    pub enum ChargingPreferencesResponse("ChargingPreferencesResponse") {
        /// Accepted.
        Accepted => "ACCEPTED",
        /// A departure time is needed.
        DepartureRequired => "DEPARTURE_REQUIRED",
        /// An energy need is needed.
        EnergyNeedRequired => "ENERGY_NEED_REQUIRED",
        /// Not possible.
        NotPossible => "NOT_POSSIBLE",
        /// No tariff for this profile type.
        ProfileTypeNotSupported => "PROFILE_TYPE_NOT_SUPPORTED",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::decode::{DecodeOptions, decode_value};

    pub(crate) fn session_json() -> serde_json::Value {
        json!({
            "country_code": "BE", "party_id": "LAD", "id": "S-2026-0042",
            "start_date_time": "2026-04-02T07:10:00Z", "kwh": 3.25,
            "cdr_token": { "country_code": "DE", "party_id": "MOV", "uid": "04A1B2C3", "type": "RFID", "contract_id": "DE-MOV-C00012345-6" },
            "auth_method": "WHITELIST", "authorization_reference": "AUTH-77",
            "location_id": "GENT-SINT-PIETERS", "evse_uid": "GSP-03", "connector_id": "2",
            "meter_id": "MTR-1188", "currency": "EUR",
            "charging_periods": [{
                "start_date_time": "2026-04-02T07:10:00Z",
                "dimensions": [{ "type": "ENERGY", "volume": 3.25 }, { "type": "POWER", "volume": 10.8 }, { "type": "STATE_OF_CHARGE", "volume": 41 }],
                "tariff_id": "AC-STD"
            }],
            "total_cost": { "excl_vat": 1.14, "incl_vat": 1.38 },
            "status": "ACTIVE", "last_updated": "2026-04-02T07:28:00Z"
        })
    }

    #[test]
    fn session_round_trips_and_validates() {
        let v = session_json();
        let s: Session = serde_json::from_value(v.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&s).unwrap(), &v);
        s.validate().unwrap();
        assert_eq!(s.emsp().to_string(), "DE-MOV");
    }

    #[test]
    fn e04_reserved_is_read_as_reservation() {
        let s: SessionStatus = serde_json::from_str("\"RESERVED\"").unwrap();
        assert_eq!(s, SessionStatus::Reservation);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"RESERVATION\"");
        for v in SessionStatus::KNOWN {
            let text = serde_json::to_string(v).unwrap();
            assert_eq!(&serde_json::from_str::<SessionStatus>(&text).unwrap(), v);
        }
        assert!(decode_value::<SessionStatus>(json!("PAUSED"), DecodeOptions::STRICT).is_err());
        assert_eq!(
            serde_json::from_str::<SessionStatus>("\"PAUSED\"").unwrap(),
            SessionStatus::Other("PAUSED".to_owned())
        );
    }

    #[test]
    fn e18_na_only_for_reservations() {
        let mut v = session_json();
        v["evse_uid"] = json!("#NA");
        let mut s: Session = serde_json::from_value(v).unwrap();
        assert!(s.validate().is_err());
        s.status = SessionStatus::Reservation;
        s.validate().unwrap();
    }

    #[test]
    fn ses02_patch_appends_periods_and_t81_requires_last_updated() {
        let mut s: Session = serde_json::from_value(session_json()).unwrap();
        let p: SessionPatch = serde_json::from_value(json!({
            "kwh": 5.5,
            "charging_periods": [{ "start_date_time": "2026-04-02T07:30:00Z", "dimensions": [{ "type": "ENERGY", "volume": 2.25 }] }],
            "last_updated": "2026-04-02T07:45:00Z"
        }))
        .unwrap();
        s.apply_patch(p).unwrap();
        assert_eq!(s.charging_periods.len(), 2, "appended, not replaced");
        assert_eq!(s.kwh, Number(rust_decimal::Decimal::new(55, 1)));
        let empty: SessionPatch =
            serde_json::from_value(json!({ "charging_periods": [], "last_updated": "2026-04-02T07:46:00Z" }))
                .unwrap();
        s.apply_patch(empty).unwrap();
        assert_eq!(s.charging_periods.len(), 2, "empty = no change");
        assert!(serde_json::from_value::<SessionPatch>(json!({ "kwh": 1 })).is_err());
        let wrong: SessionPatch =
            serde_json::from_value(json!({ "id": "OTHER", "last_updated": "2026-04-02T07:46:00Z" })).unwrap();
        assert!(s.apply_patch(wrong).is_err(), "T-93");
        let null: SessionPatch =
            serde_json::from_value(json!({ "kwh": null, "last_updated": "2026-04-02T07:46:00Z" })).unwrap();
        assert!(s.apply_patch(null).is_err());
    }

    #[test]
    fn e08_energy_in_wh_is_detected_and_rescaled() {
        let mut v = session_json();
        v["charging_periods"][0]["dimensions"][0]["volume"] = json!(3250);
        let mut s: Session = serde_json::from_value(v).unwrap();
        assert!(s.energy_unit_suspect());
        s.rescale_energy_to_kwh();
        assert!(!s.energy_unit_suspect());
        assert_eq!(
            s.charging_periods[0].dimensions[0].volume,
            Number(rust_decimal::Decimal::new(325, 2))
        );
    }

    #[test]
    fn preferences_round_trip() {
        let v = json!({ "profile_type": "GREEN", "departure_time": "2026-04-02T16:00:00Z", "energy_need": 32.5, "discharge_allowed": false });
        let p: ChargingPreferences = serde_json::from_value(v.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&p).unwrap(), &v);
        crate::open_enum::assert_consistent(ChargingPreferencesResponse::KNOWN);
    }
}
