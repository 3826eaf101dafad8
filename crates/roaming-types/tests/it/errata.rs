//! One test per erratum of the checklist (§17) that applies to parsing. Each test fails if the rule it
//! names is broken.

use roaming_types::auth::{CredentialsToken, parse_authorization};
use roaming_types::decode::{DecodeOptions, decode_value};
use roaming_types::modules::cdrs::CdrLocation;
use roaming_types::modules::locations::{ConnectorType, GeoLocation, Location};
use roaming_types::modules::sessions::{Session, SessionStatus};
use roaming_types::modules::versions::{InterfaceRole, ModuleId, VersionDetails};
use roaming_types::{DateTime, Text};
use serde_json::json;

fn location() -> serde_json::Value {
    json!({
        "country_code": "NL", "party_id": "ABC", "id": "L1", "publish": true,
        "address": "Stationsplein 7", "city": "Utrecht", "country": "NLD",
        "coordinates": { "latitude": "52.089444", "longitude": "5.110278" }, "time_zone": "Europe/Amsterdam",
        "evses": [{ "uid": "E1", "evse_id": "NL*ABC*E1", "status": "AVAILABLE", "last_updated": "2026-01-01T00:00:00Z",
            "connectors": [{ "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                             "max_voltage": 230, "max_amperage": 16, "last_updated": "2026-01-01T00:00:00Z" }] }],
        "last_updated": "2026-01-01T00:00:00Z"
    })
}

/// E-01/T-15: a raw token in the header is offered as the raw candidate.
#[test]
fn e01_raw_token_is_a_candidate() {
    let c = parse_authorization(Some("Token example-token")).unwrap();
    assert_eq!(c.raw.unwrap().expose(), "example-token");
}

/// E-02: the spec's header example encodes a trailing newline; the right vector has none.
#[test]
fn e02_header_vector_without_newline() {
    let t = CredentialsToken::new("example-token").unwrap();
    assert_eq!(t.authorization_header(false), "Token ZXhhbXBsZS10b2tlbg==");
    let c = parse_authorization(Some("Token ZXhhbXBsZS10b2tlbgo=")).unwrap();
    assert!(c.decoded.is_none(), "the newline makes it an invalid token");
}

/// E-04: `RESERVED` is read as `RESERVATION`.
#[test]
fn e04_reserved_status() {
    assert_eq!(
        serde_json::from_str::<SessionStatus>("\"RESERVED\"").unwrap(),
        SessionStatus::Reservation
    );
}

/// E-05: Location address 255 / state 45; CdrLocation keeps 45 / 20 and cuts on output.
#[test]
fn e05_address_lengths() {
    let mut v = location();
    v["address"] = json!("x".repeat(200));
    v["state"] = json!("y".repeat(45));
    let loc = decode_value::<Location>(v, DecodeOptions::STRICT).unwrap().value;
    let cl = CdrLocation::of(&loc, &loc.evses[0], &loc.evses[0].connectors[0]);
    assert_eq!(cl.address.as_str().len(), 45);
    assert_eq!(cl.state.unwrap().as_str().len(), 20);
}

/// E-06: SignedValue plain_data up to 5000.
#[test]
fn e06_plain_data_5000() {
    let v = json!({ "nature": "Start", "plain_data": "p".repeat(5000), "signed_data": "c2ln" });
    assert!(decode_value::<roaming_types::modules::cdrs::SignedValue>(v, DecodeOptions::STRICT).is_ok());
}

/// E-08: ENERGY volumes in Wh are recognised and rescaled.
#[test]
fn e08_energy_in_wh() {
    let mut s: Session = serde_json::from_value(json!({
        "country_code": "NL", "party_id": "ABC", "id": "S", "start_date_time": "2026-01-01T00:00:00Z", "kwh": 15.0,
        "cdr_token": { "country_code": "DE", "party_id": "MOV", "uid": "U", "type": "RFID", "contract_id": "C" },
        "auth_method": "WHITELIST", "location_id": "L1", "evse_uid": "E1", "connector_id": "1", "currency": "EUR",
        "charging_periods": [{ "start_date_time": "2026-01-01T00:00:00Z", "dimensions": [{ "type": "ENERGY", "volume": 15000 }] }],
        "status": "ACTIVE", "last_updated": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    assert!(s.energy_unit_suspect());
    s.rescale_energy_to_kwh();
    assert_eq!(s.charging_periods[0].dimensions[0].volume.to_string(), "15");
}

/// E-12/V-05: the role of the credentials endpoint is ignored.
#[test]
fn e12_credentials_role_ignored() {
    let d: VersionDetails = serde_json::from_value(json!({ "version": "2.2.1", "endpoints": [
        { "identifier": "credentials", "role": "RECEIVER", "url": "https://x.example/c" }] }))
    .unwrap();
    assert!(
        d.endpoint(&ModuleId::Credentials, &InterfaceRole::Sender)
            .is_some()
    );
}

/// E-17/T-94 is a receiver rule (tested end to end); the PATCH shape needs `last_updated` (T-81).
#[test]
fn e17_patch_needs_last_updated() {
    assert!(
        serde_json::from_value::<roaming_types::modules::locations::EvsePatch>(
            json!({ "status": "CHARGING" })
        )
        .is_err()
    );
}

/// E-18: `#NA` is accepted for reservation EVSE/connector ids and CDR locations.
#[test]
fn e18_na_placeholder() {
    let v = json!({ "id": "L1", "address": "a", "city": "b", "country": "NLD",
        "coordinates": { "latitude": "52.089444", "longitude": "5.110278" },
        "evse_uid": "#NA", "evse_id": "#NA", "connector_id": "#NA",
        "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET", "connector_power_type": "AC_3_PHASE" });
    assert!(serde_json::from_value::<CdrLocation>(v).is_ok());
}

/// E-19: offsets are refused unless the peer is in lenient mode; a missing `Z` means UTC.
#[test]
fn e19_datetime_offsets() {
    assert!("2026-01-01T01:00:00+01:00".parse::<DateTime>().is_err());
    assert_eq!(
        "2026-01-01T00:00:00".parse::<DateTime>().unwrap(),
        "2026-01-01T00:00:00Z".parse::<DateTime>().unwrap()
    );
    let lenient = DecodeOptions {
        lenient_datetime: true,
        ..DecodeOptions::LENIENT
    };
    let t = decode_value::<DateTime>(json!("2026-01-01T01:00:00+01:00"), lenient).unwrap();
    assert_eq!(t.value.to_string(), "2026-01-01T00:00:00.000Z");
}

/// E-20: coordinates are strings with 5–7 decimals; numbers are accepted leniently, never emitted.
#[test]
fn e20_coordinates_are_strings() {
    let g: GeoLocation = serde_json::from_value(json!({ "latitude": 52.0894, "longitude": 5.1102 })).unwrap();
    assert!(serde_json::to_value(&g).unwrap()["latitude"].is_string());
    assert!(
        decode_value::<GeoLocation>(
            json!({ "latitude": 52.0894, "longitude": 5.1102 }),
            DecodeOptions::STRICT
        )
        .is_err()
    );
}

/// E-21: enum values are case-sensitive, including the mixed-case IEC 60309 ones.
#[test]
fn e21_mixed_case_enums() {
    assert!(
        serde_json::from_str::<ConnectorType>("\"IEC_60309_2_single_16\"")
            .unwrap()
            .is_known()
    );
    assert!(
        !serde_json::from_str::<ConnectorType>("\"IEC_60309_2_SINGLE_16\"")
            .unwrap()
            .is_known()
    );
}

/// E-22: module ids are compared case-insensitively.
#[test]
fn e22_module_id_case() {
    assert_eq!(
        serde_json::from_str::<ModuleId>("\"Tariffs\"").unwrap(),
        ModuleId::Tariffs
    );
}

/// E-23: the CDR-06 escape value only in lenient mode.
#[test]
fn e23_1970_escape() {
    assert!("1970-1-1T00:00:00Z".parse::<DateTime>().is_err());
    let lenient = DecodeOptions {
        lenient_datetime: true,
        ..DecodeOptions::LENIENT
    };
    assert!(decode_value::<DateTime>(json!("1970-1-1T00:00:00Z"), lenient).is_ok());
}

/// T-70: an over-length value from a peer is kept with a warning; ours are refused.
#[test]
fn t70_over_length() {
    let mut v = location();
    v["city"] = json!("c".repeat(60));
    let d = decode_value::<Location>(v.clone(), DecodeOptions::LENIENT).unwrap();
    assert_eq!(d.warnings.len(), 1);
    assert!(decode_value::<Location>(v, DecodeOptions::STRICT).is_err());
    assert!(Text::<45>::new("c".repeat(60)).is_err());
}

/// T-71: unknown fields are ignored.
#[test]
fn t71_unknown_fields() {
    let mut v = location();
    v["parking_places"] = json!([{ "vehicle_types": ["CAR"] }]);
    assert!(serde_json::from_value::<Location>(v).is_ok());
}

/// T-72: unknown enum values are kept and re-emitted.
#[test]
fn t72_unknown_enum_values() {
    let mut v = location();
    v["evses"][0]["connectors"][0]["standard"] = json!("MCS");
    let l: Location = serde_json::from_value(v).unwrap();
    assert_eq!(
        serde_json::to_value(&l).unwrap()["evses"][0]["connectors"][0]["standard"],
        "MCS"
    );
}
