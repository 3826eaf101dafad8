//! The extension modules' bodies (`docs/extensions.md`) through example documents written from that
//! page: strict decoding, a lossless round trip, and what a receiver reads of them.

use roaming_types::decode::{DecodeOptions, decode_slice};
use roaming_types::extensions::cdr_checks::{CdrCheck, CdrVerdict, Verdict};
use roaming_types::extensions::quotes::{Quote, QuoteRequest};
use roaming_types::modules::tariffs::TariffType;
use roaming_types::{Number, Price};
use rust_decimal::Decimal;

use crate::spec_examples::{fixture, round_trip};

#[test]
fn quotes() {
    let r: QuoteRequest = round_trip("quote_request");
    assert_eq!(r.energy_kwh, Number::from(10));
    assert_eq!(r.parking_minutes, 15);
    assert_eq!(r.tariff_type, Some(TariffType::Regular));
    // The optional parts have their defaults (`docs/extensions.md`).
    let m = decode_slice::<QuoteRequest>(&fixture("quote_request_minimal"), DecodeOptions::STRICT)
        .unwrap()
        .value;
    assert_eq!(
        (
            m.connector_id,
            m.start_date_time,
            m.parking_minutes,
            m.tariff_type
        ),
        (None, None, 0, None)
    );
    assert_eq!(m.energy_kwh, r.energy_kwh);
    // Energy as a numeric string is read too, and written as a number.
    let mut text: serde_json::Value = serde_json::from_slice(&fixture("quote_request_minimal")).unwrap();
    text["energy_kwh"] = serde_json::json!("10");
    let s: QuoteRequest = serde_json::from_value(text).unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap()["energy_kwh"],
        serde_json::json!(10)
    );
    let q: Quote = round_trip("quote");
    q.tariff.validate().unwrap();
    assert_eq!(q.currency.as_str(), "EUR");
    assert_eq!(q.total_cost.excl_vat, Number(Decimal::new(35, 1)));
    assert_eq!(q.charging_periods.len(), 1);
}

#[test]
fn cdr_checks() {
    let c: CdrCheck = round_trip("cdr_check");
    assert_eq!(c.cpo.to_string(), "NL-CSO");
    assert_eq!(c.verdict, Verdict::Disputed);
    assert_eq!(c.reasons.len(), 1);
    assert_eq!(c.notes.len(), 1);
    // What a receiver reads of the same body.
    let v = decode_slice::<CdrVerdict>(&fixture("cdr_check"), DecodeOptions::LENIENT)
        .unwrap()
        .value;
    assert_eq!(v, CdrVerdict::from(&c));
    let repriced = Price::new(Decimal::new(35, 1), Some(Number(Decimal::new(4235, 3))));
    assert_eq!(v.repriced_total, Some(repriced));
    // The least a verdict can be.
    let m: CdrVerdict = round_trip("cdr_verdict_minimal");
    assert_eq!(m.verdict, Verdict::Accepted);
    assert!(m.reasons.is_empty() && m.repriced_total.is_none() && m.checked_at.is_none());
    // Bounded like any OCPI input: an unknown verdict is kept leniently and refused strictly, a CDR id
    // over 39 characters is refused.
    let other = br#"{ "cdr_id": "CDR-1", "verdict": "MAYBE" }"#;
    let d = decode_slice::<CdrVerdict>(other, DecodeOptions::LENIENT).unwrap();
    assert_eq!(d.value.verdict, Verdict::Other("MAYBE".to_owned()));
    assert!(!d.value.verdict.is_known());
    assert!(decode_slice::<CdrVerdict>(other, DecodeOptions::STRICT).is_err());
    let long = format!(r#"{{ "cdr_id": "{}", "verdict": "ACCEPTED" }}"#, "C".repeat(40));
    let e = decode_slice::<CdrVerdict>(long.as_bytes(), DecodeOptions::LENIENT).unwrap_err();
    assert!(e.to_string().contains("cdr_id"), "{e}");
}
