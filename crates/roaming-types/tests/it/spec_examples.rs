//! Every OCPI 2.2.1 object through our own example documents: strict decoding, the context rules,
//! strict re-checking for emission, and a lossless round trip.

use std::path::PathBuf;

use roaming_types::decode::{DecodeOptions, decode_slice, ensure_strict};
use roaming_types::modules::cdrs::Cdr;
use roaming_types::modules::charging_profiles::{
    ActiveChargingProfile, ActiveChargingProfileResult, ChargingProfileResponse, ChargingProfileResult,
    ClearProfileResult, SetChargingProfile,
};
use roaming_types::modules::commands::{
    CancelReservation, CommandResponse, CommandResult, ReserveNow, StartSession, StopSession, UnlockConnector,
};
use roaming_types::modules::credentials::Credentials;
use roaming_types::modules::locations::{
    Connector, ConnectorPatch, Evse, EvsePatch, Location, LocationPatch,
};
use roaming_types::modules::sessions::{ChargingPreferences, Session, SessionPatch};
use roaming_types::modules::tariffs::Tariff;
use roaming_types::modules::tokens::{AuthorizationInfo, LocationReferences, Token, TokenPatch};
use roaming_types::modules::versions::{Version, VersionDetails};
use roaming_types::{DateTime, Envelope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// JSON equality where numbers compare by value (`11.0` = `11`) and time stamps as instants
/// (`…T10:00:00Z` = `…T10:00:00.000Z`: we emit one fixed format, the examples use several).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) if x != y => {
            matches!((x.parse::<DateTime>(), y.parse::<DateTime>()), (Ok(p), Ok(q)) if p == q)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Decodes strictly (our documents follow every rule), re-encodes, compares, and re-checks strictly.
pub(crate) fn round_trip<T: Serialize + DeserializeOwned>(name: &str) -> T {
    let bytes = fixture(name);
    let original: Value = serde_json::from_slice(&bytes).unwrap();
    let decoded = decode_slice::<T>(&bytes, DecodeOptions::STRICT).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(decoded.warnings.is_empty(), "{name}: {:?}", decoded.warnings);
    let again = serde_json::to_value(&decoded.value).unwrap();
    assert!(
        same(&original, &again),
        "{name} does not round-trip:\n{original:#}\n{again:#}"
    );
    ensure_strict(&decoded.value).unwrap_or_else(|e| panic!("{name}: {e}"));
    decoded.value
}

#[test]
fn versions_and_credentials() {
    let list: Vec<Version> = round_trip("version_list");
    assert_eq!(list.len(), 2);
    let details: VersionDetails = round_trip("version_details");
    assert_eq!(details.endpoints.len(), 9);
    for name in ["credentials_minimal", "credentials_full"] {
        let c: Credentials = round_trip(name);
        c.validate().unwrap();
    }
}

#[test]
fn locations() {
    for name in ["location_full", "location_minimal", "location_twentyfourseven"] {
        let l: Location = round_trip(name);
        l.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let e: Evse = round_trip("evse_full");
    e.validate().unwrap();
    let _: Connector = round_trip("connector_full");
    let mut l: Location = round_trip("location_full");
    l.apply_patch(round_trip::<LocationPatch>("location_patch"))
        .unwrap();
    assert_eq!(l.charging_when_closed, Some(false));
    l.evses[0]
        .apply_patch(round_trip::<EvsePatch>("evse_patch_status"))
        .unwrap();
    l.evses[0].connectors[0]
        .apply_patch(round_trip::<ConnectorPatch>("connector_patch"))
        .unwrap();
    l.validate().unwrap();
}

#[test]
fn tariffs() {
    for name in ["tariff_full", "tariff_minimal", "tariff_free"] {
        let t: Tariff = round_trip(name);
        t.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(round_trip::<Tariff>("tariff_free").is_free());
    assert!(!round_trip::<Tariff>("tariff_full").is_free());
}

#[test]
fn sessions() {
    for name in ["session_pending", "session_completed", "session_reservation"] {
        let s: Session = round_trip(name);
        s.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut s: Session = round_trip("session_pending");
    s.apply_patch(round_trip::<SessionPatch>("session_patch"))
        .unwrap();
    assert_eq!(s.charging_periods.len(), 1);
    let _: ChargingPreferences = round_trip("charging_preferences");
}

#[test]
fn cdrs() {
    for name in ["cdr_full", "cdr_credit", "cdr_reservation"] {
        let c: Cdr = round_trip(name);
        c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let original: Cdr = round_trip("cdr_full");
    let credit: Cdr = round_trip("cdr_credit");
    assert_eq!(
        original.credit_for(credit.id.clone(), credit.last_updated),
        credit,
        "CDR-02"
    );
}

#[test]
fn tokens() {
    let mut t: Token = round_trip("token_rfid_full");
    t.validate().unwrap();
    let _: Token = round_trip("token_app_user");
    t.apply_patch(round_trip::<TokenPatch>("token_patch")).unwrap();
    assert!(!t.valid);
    let _: LocationReferences = round_trip("location_references");
    let _: AuthorizationInfo = round_trip("authorization_info");
}

#[test]
fn commands() {
    let s: StartSession = round_trip("command_start_session");
    s.validate().unwrap();
    let _: StopSession = round_trip("command_stop_session");
    let _: ReserveNow = round_trip("command_reserve_now");
    let _: CancelReservation = round_trip("command_cancel_reservation");
    let _: UnlockConnector = round_trip("command_unlock_connector");
    let _: CommandResponse = round_trip("command_response");
    let _: CommandResult = round_trip("command_result");
}

#[test]
fn charging_profiles() {
    let s: SetChargingProfile = round_trip("set_charging_profile");
    s.charging_profile.validate().unwrap();
    let _: ActiveChargingProfile = round_trip("active_charging_profile");
    let _: ChargingProfileResponse = round_trip("charging_profile_response");
    let _: ActiveChargingProfileResult = round_trip("active_charging_profile_result");
    let _: ChargingProfileResult = round_trip("charging_profile_result");
    let _: ClearProfileResult = round_trip("clear_profile_result");
}

#[test]
fn envelopes() {
    let e: Envelope<Vec<Location>> = round_trip("envelope_location_list");
    assert_eq!(e.data.unwrap().len(), 1);
    let e: Envelope<Value> = round_trip("envelope_error");
    assert_eq!(e.status_code.code(), 2001);
    assert!(e.data.is_none());
}

#[test]
fn every_fixture_is_used() {
    let src = [include_str!("spec_examples.rs"), include_str!("extensions.rs")].concat();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".json") {
            assert!(
                src.contains(&format!("\"{stem}\"")),
                "fixture {stem} is not tested"
            );
        }
    }
}
