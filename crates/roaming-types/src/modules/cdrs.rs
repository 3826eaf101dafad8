//! CDRs module objects (checklist §8, `mod_cdrs.asciidoc`).
//!
//! AuthMethod, CdrToken, CdrDimension(Type) and ChargingPeriod are shared with Sessions: they live in
//! [`super::common`] and are re-exported here.

use serde::{Deserialize, Serialize};

use crate::ci_string::{CiString, Text};
use crate::datetime::DateTime;
use crate::error::TypeError;
use crate::ids::{
    AuthorizationReference, CdrId, ConnectorId, CountryCode, EvseIdText, EvseUid, InvoiceReferenceId,
    LocationId, PartyId, PartyRef, SessionId,
};
use crate::modules::locations::{ConnectorFormat, ConnectorType, GeoLocation, PowerType};
use crate::modules::tariffs::Tariff;
use crate::money::{Number, Price};

pub use crate::modules::common::{AuthMethod, CdrDimension, CdrDimensionType, CdrToken, ChargingPeriod};

/// `CdrLocation` (§8.3): the location data as it was at session start (CDR-03). `address` and `state`
/// keep their old limits 45 and 20 here (E-05): longer values are accepted on input and cut when built
/// from a Location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrLocation {
    /// Location id.
    pub id: LocationId,
    /// Name, string(255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text<255>>,
    /// Address, string(45).
    pub address: Text<45>,
    /// City, string(45).
    pub city: Text<45>,
    /// Postal code, string(10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Text<10>>,
    /// State, string(20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Text<20>>,
    /// ISO 3166-1 alpha-3 country.
    pub country: Text<3>,
    /// Coordinates.
    pub coordinates: GeoLocation,
    /// EVSE uid (`#NA` for reservation-only CDRs, CDR-07).
    pub evse_uid: EvseUid,
    /// EVSE ID (`#NA` likewise).
    pub evse_id: EvseIdText,
    /// Connector id (`#NA` likewise).
    pub connector_id: ConnectorId,
    /// Connector standard.
    pub connector_standard: ConnectorType,
    /// Connector format.
    pub connector_format: ConnectorFormat,
    /// Connector power type.
    pub connector_power_type: PowerType,
}

impl CdrLocation {
    /// The CdrLocation of a connector of a location, cutting address and state to their CDR limits
    /// (E-05).
    pub fn of(
        loc: &crate::modules::locations::Location,
        evse: &crate::modules::locations::Evse,
        connector: &crate::modules::locations::Connector,
    ) -> Self {
        Self {
            id: loc.id.clone(),
            name: loc.name.clone(),
            address: loc.address.truncated(),
            city: loc.city.clone(),
            postal_code: loc.postal_code.clone(),
            state: loc.state.as_ref().map(Text::truncated),
            country: loc.country.clone(),
            coordinates: loc.coordinates.clone(),
            evse_uid: evse.uid.clone(),
            evse_id: evse
                .evse_id
                .clone()
                .unwrap_or_else(|| EvseIdText::new(evse.uid.as_str()).unwrap_or_else(|_| evse_na())),
            connector_id: connector.id.clone(),
            connector_standard: connector.standard.clone(),
            connector_format: connector.format.clone(),
            connector_power_type: connector.power_type.clone(),
        }
    }
}

fn evse_na() -> EvseIdText {
    #[expect(clippy::expect_used, reason = "a constant valid id")]
    EvseIdText::new("#NA").expect("#NA is a valid id")
}

/// `SignedValue` (§8.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedValue {
    /// `Start`, `End`, `Intermediate`…, CiString(32).
    pub nature: CiString<32>,
    /// The unsigned data, string(5000) (E-06: was 512).
    pub plain_data: Text<5000>,
    /// The signed data, base64, string(5000).
    pub signed_data: Text<5000>,
}

/// `SignedData` (§8.3): calibration-law signed meter values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedData {
    /// Encoding, e.g. OCMF, CiString(36).
    pub encoding_method: CiString<36>,
    /// Encoding version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_method_version: Option<u32>,
    /// Public key, string(512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<Text<512>>,
    /// The values (at least one).
    pub signed_values: Vec<SignedValue>,
    /// Where to verify, string(512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Text<512>>,
}

/// `CDR` (§8.3): the final, immutable billing record (CDR-02).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    /// Owner (CPO) country code.
    pub country_code: CountryCode,
    /// Owner (CPO) party id.
    pub party_id: PartyId,
    /// Id, CiString(39); ≤ 36 for normal CDRs (CDR-08).
    pub id: CdrId,
    /// Start.
    pub start_date_time: DateTime,
    /// End.
    pub end_date_time: DateTime,
    /// The session (may be absent for reservation-only CDRs, CDR-07).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// The token used.
    pub cdr_token: CdrToken,
    /// The last authorization method used.
    pub auth_method: AuthMethod,
    /// Authorization reference (TOK-09).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<AuthorizationReference>,
    /// Where (sealed at start, CDR-03).
    pub cdr_location: CdrLocation,
    /// Meter id, string(255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_id: Option<Text<255>>,
    /// ISO 4217 currency.
    pub currency: Text<3>,
    /// The tariffs in force (sealed at start, CDR-03).
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tariffs: Vec<Tariff>,
    /// Periods (at least one).
    pub charging_periods: Vec<ChargingPeriod>,
    /// Signed meter data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_data: Option<SignedData>,
    /// Total cost (after min/max price).
    pub total_cost: Price,
    /// Fixed costs except parking and reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_fixed_cost: Option<Price>,
    /// Energy, kWh.
    pub total_energy: Number,
    /// Energy cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_energy_cost: Option<Price>,
    /// Total time, h (whole session; not negative).
    #[serde(deserialize_with = "crate::limits::non_negative")]
    pub total_time: Number,
    /// Charging time cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_time_cost: Option<Price>,
    /// Parking time, h (not negative).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::limits::non_negative_opt"
    )]
    pub total_parking_time: Option<Number>,
    /// Parking cost (incl. parking fixed parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_parking_cost: Option<Price>,
    /// Reservation cost (incl. reservation fixed parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_reservation_cost: Option<Price>,
    /// Remark, string(255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<Text<255>>,
    /// Invoice reference, CiString(39).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_reference_id: Option<InvoiceReferenceId>,
    /// Whether this is a credit CDR (CDR-02).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<bool>,
    /// The CDR this one credits (CDR-02).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_reference_id: Option<CdrId>,
    /// Home charging compensation (CDR-05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_charging_compensation: Option<bool>,
    /// Creation time (T-83).
    pub last_updated: DateTime,
}

impl Cdr {
    /// The owner (CPO).
    pub fn party(&self) -> PartyRef {
        PartyRef::new(self.country_code.clone(), self.party_id.clone())
    }

    /// The eMSP it is for.
    pub fn emsp(&self) -> PartyRef {
        PartyRef::new(
            self.cdr_token.country_code.clone(),
            self.cdr_token.party_id.clone(),
        )
    }

    /// Whether this is a credit CDR.
    pub fn is_credit(&self) -> bool {
        self.credit == Some(true)
    }

    /// Charging time, h: total time minus parking time (§8.3).
    pub fn charging_time(&self) -> Number {
        self.total_time - self.total_parking_time.unwrap_or(Number::ZERO)
    }

    /// Context rules (§8.3): periods `+`, end not before start, credit rules and id length
    /// (CDR-02, CDR-08).
    pub fn validate(&self) -> Result<(), TypeError> {
        let path = format!("CDR {}", self.id);
        if self.charging_periods.is_empty() {
            return Err(TypeError::format(
                "CDR",
                &path,
                "charging_periods needs at least one entry (§8.3)",
            ));
        }
        if let Some(i) = self.charging_periods.iter().position(|p| p.dimensions.is_empty()) {
            return Err(TypeError::format(
                "CDR",
                &path,
                format!("charging_periods[{i}].dimensions needs at least one entry"),
            ));
        }
        if self.end_date_time < self.start_date_time {
            return Err(TypeError::format(
                "CDR",
                &path,
                "end_date_time is before start_date_time",
            ));
        }
        match (self.is_credit(), &self.credit_reference_id) {
            (true, None) => {
                return Err(TypeError::format(
                    "CDR",
                    &path,
                    "a credit CDR needs credit_reference_id (CDR-02)",
                ));
            }
            (false, Some(_)) => {
                return Err(TypeError::format(
                    "CDR",
                    &path,
                    "credit_reference_id is only for credit CDRs (CDR-02)",
                ));
            }
            (false, None) if self.id.as_str().len() > 36 => {
                return Err(TypeError::format(
                    "CDR",
                    &path,
                    "a normal CDR id has at most 36 characters (CDR-08)",
                ));
            }
            _ => {}
        }
        if let Some(sd) = &self.signed_data {
            if sd.signed_values.is_empty() {
                return Err(TypeError::format(
                    "CDR",
                    &path,
                    "signed_data.signed_values needs at least one entry",
                ));
            }
        }
        Ok(())
    }

    /// The credit CDR for this one (CDR-02): a new id, `credit = true`, `credit_reference_id` = this
    /// id, all data copied, and only `total_cost` negated (the spec: "Only the values in the
    /// total_cost field SHALL contain the negative amounts").
    pub fn credit_for(&self, credit_id: CdrId, last_updated: DateTime) -> Cdr {
        Cdr {
            id: credit_id,
            credit: Some(true),
            credit_reference_id: Some(self.id.clone()),
            total_cost: self.total_cost.negated(),
            last_updated,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod shared_tests {
    use super::*;

    fn cdr_json() -> serde_json::Value {
        serde_json::json!({
            "country_code": "BE", "party_id": "LAD", "id": "CDR-2026-0042",
            "start_date_time": "2026-04-02T07:10:00Z", "end_date_time": "2026-04-02T09:10:00Z",
            "session_id": "S-2026-0042",
            "cdr_token": { "country_code": "DE", "party_id": "MOV", "uid": "04A1B2C3", "type": "RFID", "contract_id": "DE-MOV-C00012345-6" },
            "auth_method": "WHITELIST",
            "cdr_location": {
                "id": "GENT-SINT-PIETERS", "address": "Koningin Maria Hendrikaplein 1", "city": "Gent", "country": "BEL",
                "coordinates": { "latitude": "51.035600", "longitude": "3.710700" },
                "evse_uid": "GSP-03", "evse_id": "BE*LAD*E003", "connector_id": "2",
                "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET", "connector_power_type": "AC_3_PHASE"
            },
            "currency": "EUR",
            "charging_periods": [{ "start_date_time": "2026-04-02T07:10:00Z", "dimensions": [{ "type": "ENERGY", "volume": 20.5 }] }],
            "total_cost": { "excl_vat": 6.15, "incl_vat": 7.4415 },
            "total_energy_cost": { "excl_vat": 6.15, "incl_vat": 7.4415 },
            "total_energy": 20.5, "total_time": 2, "total_parking_time": 0.25,
            "last_updated": "2026-04-02T09:11:00Z"
        })
    }

    #[test]
    fn cdr_round_trips_and_credit_rules() {
        let v = cdr_json();
        let c: Cdr = serde_json::from_value(v.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&c).unwrap(), &v);
        c.validate().unwrap();
        assert_eq!(c.charging_time(), Number(rust_decimal::Decimal::new(175, 2)));
        let credit = c.credit_for(CdrId::new("CDR-2026-0042-C").unwrap(), DateTime::now());
        credit.validate().unwrap();
        assert!(credit.is_credit());
        assert_eq!(credit.total_cost.excl_vat, -c.total_cost.excl_vat);
        assert_eq!(
            credit.total_energy_cost, c.total_energy_cost,
            "CDR-02: only total_cost is negated"
        );
        assert_eq!(credit.credit_reference_id.as_ref(), Some(&c.id));
        let mut bad = credit.clone();
        bad.credit_reference_id = None;
        assert!(bad.validate().is_err());
        let mut long = c.clone();
        long.id = CdrId::new("x".repeat(37)).unwrap();
        assert!(long.validate().is_err(), "CDR-08");
        let mut empty = c;
        empty.charging_periods.clear();
        assert!(empty.validate().is_err());
    }

    #[test]
    fn e05_cdr_location_cuts_long_addresses() {
        let loc: crate::modules::locations::Location = serde_json::from_value(serde_json::json!({
            "country_code": "NL", "party_id": "CSO", "id": "L", "publish": true,
            "address": "A very long street name that goes on and on beyond forty-five characters 12",
            "city": "Utrecht", "country": "NLD", "state": "A state name longer than twenty",
            "coordinates": { "latitude": "52.000000", "longitude": "5.000000" }, "time_zone": "Europe/Amsterdam",
            "evses": [{ "uid": "E", "status": "AVAILABLE", "last_updated": "2026-01-01T00:00:00Z",
                "connectors": [{ "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                                 "max_voltage": 230, "max_amperage": 16, "last_updated": "2026-01-01T00:00:00Z" }] }],
            "last_updated": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let cl = CdrLocation::of(&loc, &loc.evses[0], &loc.evses[0].connectors[0]);
        assert_eq!(cl.address.as_str().chars().count(), 45);
        assert_eq!(cl.state.unwrap().as_str().chars().count(), 20);
        assert_eq!(cl.evse_id.as_str(), "E");
    }

    #[test]
    fn e06_plain_data_up_to_5000() {
        let v = serde_json::json!({ "nature": "Start", "plain_data": "x".repeat(5000), "signed_data": "c2lnbmVk" });
        let d = crate::decode::decode_value::<SignedValue>(v, crate::decode::DecodeOptions::STRICT).unwrap();
        assert_eq!(d.value.plain_data.as_str().len(), 5000);
    }
}
