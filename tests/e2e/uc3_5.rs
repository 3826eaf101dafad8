//! UC3-5 Complete a charging service transaction: exactly one CDR per finished session, priced from
//! the tariff in force at the start (CDR-03, §9.3), delivered by POST to the CSP through the outbox
//! even across outages and restarts; credit CDRs for corrections (CDR-02).

use std::time::Duration;

use http::Method;
use roaming_e2e::{Node, eventually};
use roaming_types::DateTime;
use serde_json::{Value, json};

use crate::charging::{Reported, SITE, cso_session, evse, pair, present, rfid, webhook_pair};

const SECS10: Duration = Duration::from_secs(10);
const SECS20: Duration = Duration::from_secs(20);

/// `minutes_ago` before `now` (whole seconds, so that durations are exact).
fn at_from(now: DateTime, minutes_ago: i64) -> String {
    now.plus(chrono::Duration::minutes(-minutes_ago)).to_string()
}

fn whole_second_now() -> DateTime {
    let ms = DateTime::now().timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms % 1000).unwrap()
}

fn at(minutes_ago: i64) -> String {
    at_from(whole_second_now(), minutes_ago)
}

/// Reports a whole session as a station-management system would: start, readings, stop.
async fn charge(
    cso: &Node,
    tx: &str,
    evse_uid: &str,
    uid: &str,
    readings: &[(i64, i64, bool)],
    stop: (i64, i64),
) {
    let now = whole_second_now();
    let at = |ago: i64| at_from(now, ago);
    let events = std::iter::once(json!({
        "type": "session_started", "transaction_id": tx, "location_id": SITE, "evse_uid": evse_uid,
        "connector_id": "1", "token_uid": uid, "token_type": "RFID", "meter_start_wh": 1000,
        "at": at(readings.first().map_or(stop.0, |r| r.0))
    }))
    .chain(readings.iter().map(|(ago, wh, charging)| {
        json!({ "type": "meter_values", "transaction_id": tx, "energy_wh": wh,
                "power_w": if *charging { 11000 } else { 0 }, "current_a": if *charging { 16 } else { 0 },
                "charging": charging, "at": at(*ago) })
    }))
    .chain(std::iter::once(json!({
        "type": "session_stopped", "transaction_id": tx, "energy_wh": stop.1, "at": at(stop.0)
    })));
    for e in events {
        let _: Value = cso.op(Method::POST, "/api/stations/events", &e).await;
    }
}

async fn csp_cdrs(csp: &Node, n: usize, within: Duration) -> Vec<Value> {
    eventually(within, || async {
        let all: Vec<Value> = csp.op_get("/api/cdrs").await;
        (all.len() == n).then_some(all)
    })
    .await
    .unwrap_or_else(|| panic!("the CSP never held {n} CDR(s)"))
}

/// The CSP's verdict on a CDR of NL-CSO, once it has one.
async fn csp_check(csp: &Node, id: &str) -> Value {
    eventually(SECS10, || async {
        csp.operator
            .get::<Value>(&format!("/api/cdrs/NL/CSO/{id}/check"))
            .await
            .ok()
    })
    .await
    .unwrap_or_else(|| panic!("no verdict on {id}"))
}

fn money(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[tokio::test]
async fn uc3_5_energy_only_cdr_is_delivered_exactly_once() {
    let (cso, csp, _sms) = webhook_pair().await;
    rfid(&csp, &cso, "K0000001", "ALWAYS").await;
    // 10 kWh in one hour on AC-STD (0.35 EUR/kWh + 21 % VAT).
    charge(
        &cso,
        "TX-1",
        &evse(0),
        "K0000001",
        &[(60, 1000, true), (30, 6000, true)],
        (0, 11000),
    )
    .await;
    let cdrs = csp_cdrs(&csp, 1, SECS10).await;
    let c = &cdrs[0];
    assert_eq!(money(&c["total_energy"]), 10.0, "{c}");
    assert_eq!(money(&c["total_cost"]["excl_vat"]), 3.5, "{c}");
    assert_eq!(money(&c["total_cost"]["incl_vat"]), 4.235, "{c}");
    assert_eq!(money(&c["total_energy_cost"]["excl_vat"]), 3.5);
    assert_eq!(c["tariffs"][0]["id"], "AC-STD");
    assert_eq!(c["cdr_location"]["evse_uid"], evse(0));
    assert_eq!(c["cdr_token"]["uid"], "K0000001");
    assert!(c["charging_periods"].as_array().is_some_and(|p| !p.is_empty()));
    // The session at the CSO carries the same total; the CSO's copy equals the CSP's.
    let s = cso_session(&cso, SECS10, |s| s["status"] == "COMPLETED").await;
    assert_eq!(s["total_cost"], c["total_cost"]);
    let at_cso: Value = cso
        .op_get(&format!("/api/cdrs/{}", c["id"].as_str().unwrap()))
        .await;
    assert_eq!(&at_cso, c);
    // The charger reports the stop again: still one CDR.
    let _: Value = cso
        .op(
            Method::POST,
            "/api/stations/events",
            &json!({ "type": "session_stopped", "transaction_id": "TX-1", "energy_wh": 11000, "at": at(0) }),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all: Vec<Value> = cso.op_get("/api/cdrs").await;
    assert_eq!(all.len(), 1);
    assert_eq!(csp_cdrs(&csp, 1, SECS10).await.len(), 1);
}

#[tokio::test]
async fn uc3_5_time_and_parking_are_priced_separately() {
    let (cso, csp, _sms) = webhook_pair().await;
    let _: Value = cso
        .op(
            Method::PUT,
            "/api/tariffs/TP",
            &json!({ "id": "TP", "currency": "EUR", "elements": [
                { "price_components": [{ "type": "TIME", "price": 2.0, "step_size": 1 },
                                       { "type": "PARKING_TIME", "price": 1.0, "step_size": 1 }] }] }),
        )
        .await;
    let _: Value = cso
        .op(
            Method::PATCH,
            &format!("/api/locations/{SITE}/{}/1", evse(0)),
            &json!({ "tariff_ids": ["TP"] }),
        )
        .await;
    rfid(&csp, &cso, "K0000002", "ALWAYS").await;
    // 30 minutes charging, then 15 minutes parked (the EV requests no power).
    charge(
        &cso,
        "TX-2",
        &evse(0),
        "K0000002",
        &[(45, 1000, true), (15, 6000, false)],
        (0, 6000),
    )
    .await;
    let c = &csp_cdrs(&csp, 1, SECS10).await[0];
    assert_eq!(money(&c["total_time_cost"]["excl_vat"]), 1.0, "{c}");
    assert_eq!(money(&c["total_parking_cost"]["excl_vat"]), 0.25, "{c}");
    assert_eq!(money(&c["total_cost"]["excl_vat"]), 1.25);
    assert_eq!(money(&c["total_parking_time"]), 0.25);
    assert_eq!(money(&c["total_time"]), 0.75);
}

#[tokio::test]
async fn uc3_5_flat_fee_and_free_charging() {
    let (cso, csp, _sms) = webhook_pair().await;
    rfid(&csp, &cso, "K0000003", "ALWAYS").await;
    // DC-FAST: 1.00 start fee + 0.59/kWh, 21 % VAT; 2 kWh.
    charge(&cso, "TX-3", &evse(1), "K0000003", &[(20, 1000, true)], (0, 3000)).await;
    let c = &csp_cdrs(&csp, 1, SECS10).await[0];
    assert_eq!(money(&c["total_fixed_cost"]["excl_vat"]), 1.0, "{c}");
    assert_eq!(money(&c["total_cost"]["excl_vat"]), 2.18, "{c}");
    // A connector without a tariff charges for free: a CDR with a zero total and a free tariff.
    let _: Value = cso
        .op(
            Method::PATCH,
            &format!("/api/locations/{SITE}/{}/1", evse(0)),
            &json!({ "tariff_ids": [] }),
        )
        .await;
    charge(&cso, "TX-4", &evse(0), "K0000003", &[(20, 1000, true)], (0, 5000)).await;
    let all = csp_cdrs(&csp, 2, SECS10).await;
    let free = all
        .iter()
        .find(|c| c["cdr_location"]["evse_uid"] == evse(0))
        .unwrap();
    assert_eq!(money(&free["total_cost"]["excl_vat"]), 0.0, "{free}");
    assert_eq!(money(&free["total_energy"]), 4.0);
}

#[tokio::test]
async fn uc3_5_cdr_reaches_a_csp_that_was_down_and_survives_a_cso_restart() {
    let (cso, csp) = pair(1).await;
    rfid(&csp, &cso, "K0000004", "ALWAYS").await;
    let csp_paused = csp.pause().await;
    // A whole session while the CSP is down.
    let out = present(&cso, &evse(0), "K0000004").await;
    assert_eq!(out["outcome"], "starting", "{out}");
    cso_session(&cso, SECS10, |s| s["status"] == "ACTIVE").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let _: Value = cso
        .op(
            Method::POST,
            &format!("/api/simulator/evses/{SITE}/{}/unplug", evse(0)),
            &json!({}),
        )
        .await;
    let done = cso_session(&cso, SECS10, |s| s["status"] == "COMPLETED").await;
    let cdrs: Vec<Value> = cso.op_get("/api/cdrs").await;
    assert_eq!(cdrs.len(), 1);
    // The CSO restarts before the CSP is back: the queued POST survives.
    let cso = cso.restart().await;
    let csp = csp_paused.start().await;
    let got = csp_cdrs(&csp, 1, SECS20).await;
    assert_eq!(got[0]["session_id"], done["id"]);
    assert_eq!(got[0]["total_cost"], done["total_cost"]);
    // The session's updates and its CDR were queued together; the CDR waits for the session in the
    // outbox, so the CSP checks it against the final session: accepted.
    let id = got[0]["id"].as_str().unwrap().to_owned();
    let check = csp_check(&csp, &id).await;
    assert_eq!(check["verdict"], "ACCEPTED", "{check}");
    let _ = cso;
}

#[tokio::test]
async fn uc3_5_credit_cdr_negates_only_the_total() {
    let (cso, csp, _sms) = webhook_pair().await;
    rfid(&csp, &cso, "K0000005", "ALWAYS").await;
    charge(&cso, "TX-5", &evse(0), "K0000005", &[(60, 1000, true)], (0, 3000)).await;
    let original = csp_cdrs(&csp, 1, SECS10).await.remove(0);
    let id = original["id"].as_str().unwrap();
    let credit: Value = cso
        .op(Method::POST, &format!("/api/cdrs/{id}/credit"), &json!({}))
        .await;
    assert_eq!(credit["id"], format!("{id}-C"));
    let all = csp_cdrs(&csp, 2, SECS10).await;
    let c = all.iter().find(|c| c["credit"] == true).unwrap();
    assert_eq!(c["credit_reference_id"], id);
    assert_eq!(
        money(&c["total_cost"]["excl_vat"]),
        -money(&original["total_cost"]["excl_vat"])
    );
    assert_eq!(c["total_energy_cost"], original["total_energy_cost"]);
    // A second credit of the same CDR is refused.
    let err = cso
        .operator
        .send::<Value, Value>(Method::POST, &format!("/api/cdrs/{id}/credit"), Some(&json!({})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("409"), "{err}");
}

#[tokio::test]
async fn uc3_5_the_csp_checks_every_cdr_and_tells_the_cso() {
    let (cso, csp, _sms) = webhook_pair().await;
    rfid(&csp, &cso, "K0000006", "ALWAYS").await;
    charge(
        &cso,
        "TX-6",
        &evse(0),
        "K0000006",
        &[(60, 1000, true), (30, 6000, true)],
        (0, 11000),
    )
    .await;
    let c = csp_cdrs(&csp, 1, SECS10).await.remove(0);
    let id = c["id"].as_str().unwrap().to_owned();
    // Re-priced and compared with the session the CSP followed: accepted.
    let check = csp_check(&csp, &id).await;
    assert_eq!(check["verdict"], "ACCEPTED", "{check}");
    assert_eq!(check["repriced_total"], c["total_cost"]);
    // The CSO sees the verdict through the extension module.
    let at_cso: Value = eventually(SECS10, || async {
        cso.operator
            .get::<Value>(&format!("/api/cdrs/{id}/check"))
            .await
            .ok()
    })
    .await
    .expect("the verdict reached the CSO");
    assert_eq!(at_cso["verdict"], "ACCEPTED");

    // A CDR whose total does not follow from its tariff is disputed, with the reason. It is posted in
    // the CSO's name without the CSO: the CSO refuses the verdict on a CDR it does not know (404).
    csp.expect_dead_letters();
    let mut tampered = roaming_e2e::fixtures::cdr("CDR-TAMPERED");
    tampered["total_cost"] = json!({ "excl_vat": 9.99, "incl_vat": 12.09 });
    let w = roaming_e2e::RawOcpi::new(None)
        .json(
            Method::POST,
            &format!("{}/ocpi/2.2.1/cdrs", csp.ocpi_url),
            &cso.token_for(&csp),
            &tampered,
        )
        .await;
    assert_eq!(w.status, 201, "{:?}", w.body);
    let check: Value = eventually(SECS10, || async {
        csp.operator
            .get::<Value>("/api/cdrs/NL/CSO/CDR-TAMPERED/check")
            .await
            .ok()
    })
    .await
    .unwrap();
    assert_eq!(check["verdict"], "DISPUTED", "{check}");
    let reasons = check["reasons"].to_string();
    assert!(
        reasons.contains("total_cost excl. VAT is 9.99 but the tariff gives 3.5"),
        "{reasons}"
    );
    // The reconciliation report: two CDRs, one disputed, as JSON and CSV.
    let report: Value = csp.op_get("/api/reports/cdrs").await;
    assert_eq!(report["count"], 2, "{report}");
    assert_eq!(report["accepted"], 1);
    assert_eq!(report["disputed"][0]["cdr_id"], "CDR-TAMPERED");
    let csv = reqwest::Client::new()
        .get(format!("{}/api/reports/cdrs?format=csv", csp.operator.base()))
        .bearer_auth(
            std::fs::read_to_string(csp.data_dir.join("operator.key"))
                .unwrap()
                .trim(),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.lines().count() == 4, "{csv}");
    assert!(csv.contains("DISPUTED") && csv.contains("ACCEPTED"), "{csv}");
}

#[tokio::test]
async fn uc2_2_quote_equals_the_cdr_for_the_same_consumption() {
    let (cso, csp, _sms) = webhook_pair().await;
    // 10 kWh over 60 minutes on AC-STD.
    let q: Value = csp
        .op(
            Method::POST,
            "/api/quotes",
            &json!({ "location_id": SITE, "evse_uid": evse(0), "energy_kwh": 10, "charging_minutes": 60 }),
        )
        .await;
    assert_eq!(q["tariff"]["id"], "AC-STD", "{q}");
    rfid(&csp, &cso, "K0000007", "ALWAYS").await;
    charge(
        &cso,
        "TX-7",
        &evse(0),
        "K0000007",
        &[(60, 1000, true)],
        (0, 11000),
    )
    .await;
    let c = csp_cdrs(&csp, 1, SECS10).await.remove(0);
    assert_eq!(q["total_cost"], c["total_cost"], "quote {q} vs CDR {c}");
    // DC-FAST with its start fee, and an unknown location.
    let q: Value = csp
        .op(
            Method::POST,
            "/api/quotes",
            &json!({ "location_id": SITE, "evse_uid": evse(1), "energy_kwh": 2, "charging_minutes": 20 }),
        )
        .await;
    assert_eq!(money(&q["total_cost"]["excl_vat"]), 2.18, "{q}");
    let err = csp
        .operator
        .send::<Value, Value>(
            Method::POST,
            "/api/quotes",
            Some(&json!({ "location_id": "NOPE", "evse_uid": "X", "energy_kwh": 1, "charging_minutes": 5 })),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("2003"), "{err}");
}

#[tokio::test]
async fn uc3_9_cdrs_pulled_again_are_not_duplicated() {
    let (cso, csp, _sms) = webhook_pair().await;
    rfid(&csp, &cso, "K0000008", "ALWAYS").await;
    charge(&cso, "TX-8", &evse(0), "K0000008", &[(10, 1000, true)], (0, 2000)).await;
    csp_cdrs(&csp, 1, SECS10).await;
    let report: Value = csp
        .op(Method::POST, "/api/peers/NL-CSO/sync?full=true", &json!({}))
        .await;
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(csp_cdrs(&csp, 1, SECS10).await.len(), 1);
    // The Sender serves each CSP its own CDRs.
    let w = roaming_e2e::RawOcpi::new(None)
        .get(&format!("{}/ocpi/2.2.1/cdrs", cso.ocpi_url), &csp.token_for(&cso))
        .await;
    assert_eq!(w.envelope().data.unwrap().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn uc3_5_an_expired_reservation_is_billed_by_its_reservation_price() {
    let (cso, csp) = pair(1).await;
    let _: Value = cso
        .op(
            Method::PUT,
            "/api/tariffs/RES",
            &json!({ "id": "RES", "currency": "EUR", "elements": [
                { "price_components": [{ "type": "FLAT", "price": 1.5, "vat": 21, "step_size": 1 }],
                  "restrictions": { "reservation": "RESERVATION_EXPIRES" } },
                { "price_components": [{ "type": "TIME", "price": 6.0, "vat": 21, "step_size": 1 }],
                  "restrictions": { "reservation": "RESERVATION" } },
                { "price_components": [{ "type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1 }] }] }),
        )
        .await;
    let _: Value = cso
        .op(
            Method::PATCH,
            &format!("/api/locations/{SITE}/{}/1", evse(0)),
            &json!({ "tariff_ids": ["RES"] }),
        )
        .await;
    crate::charging::issue(&csp, json!({ "uid": "K0000009" })).await;
    let c = crate::charging::command(
        &csp,
        "reserve",
        json!({ "token": { "uid": "K0000009" }, "location_id": SITE, "evse_uid": evse(0),
                "expiry_date": DateTime::now().plus(chrono::Duration::seconds(2)).to_string(),
                "reservation_id": "R-EXP" }),
    )
    .await;
    assert_eq!(c["response"]["result"], "ACCEPTED", "{c}");
    let cdr = csp_cdrs(&csp, 1, SECS20).await.remove(0);
    // The expiry fee plus about two seconds at 6.00/h.
    let reservation = money(&cdr["total_reservation_cost"]["excl_vat"]);
    assert!(reservation > 1.5 && reservation < 1.52, "{cdr}");
    assert_eq!(
        cdr["total_cost"]["excl_vat"],
        cdr["total_reservation_cost"]["excl_vat"]
    );
    assert_eq!(money(&cdr["total_energy"]), 0.0);
    let r: Vec<Value> = cso.op_get("/api/reservations").await;
    assert_eq!(r[0]["state"], "EXPIRED");
}

// --- Periods that carry what their price depends on, exactly (issue #12, items 5, 7, 8) ---------

/// A period's dimension volume, as the exact decimal written in the JSON.
fn volume(p: &Value, t: &str) -> Option<roaming_types::money::Number> {
    p["dimensions"]
        .as_array()?
        .iter()
        .find(|d| d["type"] == t)
        .map(|d| d["volume"].to_string().parse().unwrap())
}

fn decimal(v: &Value) -> roaming_types::money::Number {
    v.to_string().parse().unwrap()
}

/// The CDR of the session started with token `uid`, once the CSP holds it.
async fn cdr_of(csp: &Node, uid: &str) -> Value {
    eventually(SECS10, || async {
        let all: Vec<Value> = csp.op_get("/api/cdrs").await;
        all.into_iter().find(|c| c["cdr_token"]["uid"] == uid)
    })
    .await
    .unwrap_or_else(|| panic!("no CDR for {uid}"))
}

/// An independent reading of a CDR (as a third-party calculator does): each period's ENERGY at the
/// price of the first element whose power/current restrictions the period's MIN/MAX dimensions meet.
fn energy_cost_from_periods(cdr: &Value) -> roaming_types::money::Number {
    let tariff = &cdr["tariffs"][0];
    let mut total = roaming_types::money::Number::ZERO;
    for p in cdr["charging_periods"].as_array().unwrap() {
        let holds = |r: &Value| {
            let within = |min: &str, max: &str, lo: &str, hi: &str| {
                let (lo, hi) = (volume(p, lo), volume(p, hi));
                r.get(min).is_none_or(|m| lo.is_some_and(|v| v >= decimal(m)))
                    && r.get(max).is_none_or(|m| hi.is_some_and(|v| v < decimal(m)))
            };
            within("min_power", "max_power", "MIN_POWER", "MAX_POWER")
                && within("min_current", "max_current", "MIN_CURRENT", "MAX_CURRENT")
        };
        let element = tariff["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e.get("restrictions").is_none_or(holds))
            .unwrap();
        let price = decimal(&element["price_components"][0]["price"]);
        total = total + price * volume(p, "ENERGY").unwrap_or_default();
    }
    total
}

#[tokio::test]
async fn uc3_5_periods_carry_the_power_and_current_their_price_depends_on() {
    // mod_cdrs: a new period SHALL carry all information relevant to the change of price component.
    let (cso, csp, _sms) = webhook_pair().await;
    let _: Value = cso
        .op(
            Method::POST,
            "/api/tariffs/import",
            &json!([
                // The spec's own max_power example (mod_tariffs.asciidoc) on the AC connector.
                { "id": "AC-STD", "currency": "EUR", "type": "REGULAR", "elements": [
                    { "price_components": [{ "type": "ENERGY", "price": 0.20, "vat": 20.0, "step_size": 1 }],
                      "restrictions": { "max_power": 16.00 } },
                    { "price_components": [{ "type": "ENERGY", "price": 0.35, "vat": 20.0, "step_size": 1 }],
                      "restrictions": { "max_power": 32.00 } },
                    { "price_components": [{ "type": "ENERGY", "price": 0.50, "vat": 20.0, "step_size": 1 }] }
                ]},
                // Current-restricted on the DC connector.
                { "id": "DC-FAST", "currency": "EUR", "elements": [
                    { "price_components": [{ "type": "ENERGY", "price": 0.25, "step_size": 1 }],
                      "restrictions": { "max_current": 100 } },
                    { "price_components": [{ "type": "ENERGY", "price": 0.60, "step_size": 1 }] }
                ]}
            ]),
        )
        .await;
    rfid(&csp, &cso, "P0000001", "ALWAYS").await;
    rfid(&csp, &cso, "P0000002", "ALWAYS").await;
    // The spec's session: 1 kWh at 6 kW, 40 kWh at 48 kW, 0.5 kWh at 4 kW → EUR 20.30 excl. VAT.
    Reported {
        tx: "TX-P1",
        evse: &evse(0),
        uid: "P0000001",
        start_wh: 1000,
        readings: &[
            (0, 1000, 6000, 26),
            (600, 2000, 48000, 70),
            (3600, 42000, 4000, 17),
        ],
        stop: (4050, 42500),
    }
    .send(&cso)
    .await;
    // 10 kWh at 80 A, then 10 kWh at 150 A → 2.50 + 6.00.
    Reported {
        tx: "TX-P2",
        evse: &evse(1),
        uid: "P0000002",
        start_wh: 0,
        readings: &[(0, 0, 40000, 80), (900, 10000, 75000, 150)],
        stop: (1380, 20000),
    }
    .send(&cso)
    .await;
    for (uid, dims, total) in [
        ("P0000001", ["MIN_POWER", "MAX_POWER"], "20.3"),
        ("P0000002", ["MIN_CURRENT", "MAX_CURRENT"], "8.5"),
    ] {
        let cdr = cdr_of(&csp, uid).await;
        assert_eq!(cdr["total_cost"]["excl_vat"].to_string(), total, "{cdr}");
        for p in cdr["charging_periods"].as_array().unwrap() {
            for d in dims {
                assert!(volume(p, d).is_some(), "{uid}: a period without {d}: {p}");
            }
        }
        assert_eq!(
            energy_cost_from_periods(&cdr).to_string(),
            total,
            "{uid}: priced from its own periods: {cdr}"
        );
        // Our own CSP re-prices the CDR from its periods and accepts it.
        let check = csp_check(&csp, cdr["id"].as_str().unwrap()).await;
        assert_eq!(check["verdict"], "ACCEPTED", "{uid}: {check}");
        // The session the CSP followed carries them too.
        let s = crate::charging::csp_session(&csp, SECS10, |s| {
            s["cdr_token"]["uid"] == uid && s["status"] == "COMPLETED"
        })
        .await;
        for p in s["charging_periods"].as_array().unwrap() {
            for d in dims {
                assert!(volume(p, d).is_some(), "{uid}: a session period without {d}: {p}");
            }
        }
    }
}

#[tokio::test]
async fn uc3_5_an_unpriced_session_refers_to_the_published_free_tariff() {
    let (cso, csp, _sms) = webhook_pair().await;
    let mut free_site = roaming_e2e::fixtures::location("U-2", 52.36, 4.88, 1);
    free_site["evses"][0]["connectors"][0]
        .as_object_mut()
        .unwrap()
        .remove("tariff_ids");
    let _: Value = cso
        .op(Method::POST, "/api/locations/import", &json!([free_site]))
        .await;
    rfid(&csp, &cso, "F0000001", "ALWAYS").await;
    Reported {
        tx: "TX-F1",
        evse: "U-2-E0",
        uid: "F0000001",
        start_wh: 0,
        readings: &[(0, 0, 11000, 16)],
        stop: (1800, 5500),
    }
    .send(&cso)
    .await;
    let cdr = cdr_of(&csp, "F0000001").await;
    assert_eq!(cdr["total_cost"]["excl_vat"], 0, "{cdr}");
    let ids: Vec<&Value> = cdr["tariffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert_eq!(ids, [&json!("FREE")], "{cdr}");
    for p in cdr["charging_periods"].as_array().unwrap() {
        assert_eq!(p["tariff_id"], "FREE", "{p}");
    }
    // The CSP can see the tariff the CDR refers to: the CSO publishes it like any other.
    let tariffs: Vec<Value> = csp.op_get("/api/tariffs").await;
    let free = tariffs
        .iter()
        .find(|t| t["id"] == "FREE" && t["party_id"] == "CSO")
        .unwrap_or_else(|| panic!("the CSP does not hold the free tariff: {tariffs:?}"));
    assert_eq!(free["elements"], cdr["tariffs"][0]["elements"]);
    // It cannot be deleted while CDRs may refer to it.
    let err = cso
        .operator
        .send::<(), Value>(Method::DELETE, "/api/tariffs/FREE", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("free"), "{err}");
}

#[tokio::test]
async fn uc3_5_energy_between_readings_is_exact_to_four_decimals() {
    // OCPI numbers have 4 decimals by default (types.asciidoc): a period cut between two readings
    // gets the interpolated energy rounded at the cut, so the periods add up to the totals exactly.
    let (cso, csp, _sms) = webhook_pair().await;
    let _: Value = cso
        .op(
            Method::POST,
            "/api/tariffs/import",
            &json!([{ "id": "AC-STD", "currency": "EUR", "elements": [
                { "price_components": [{ "type": "ENERGY", "price": 0.30, "step_size": 1 }],
                  "restrictions": { "max_duration": 1000 } },
                { "price_components": [{ "type": "ENERGY", "price": 0.40, "step_size": 1 }] }
            ]}]),
        )
        .await;
    rfid(&csp, &cso, "X0000001", "ALWAYS").await;
    // 13 kWh in 1,500 s: the cut at 1,000 s lies at 2/3 of the way (8.666… kWh).
    Reported {
        tx: "TX-X1",
        evse: &evse(0),
        uid: "X0000001",
        start_wh: 1000,
        readings: &[(0, 1000, 31200, 45)],
        stop: (1500, 14000),
    }
    .send(&cso)
    .await;
    let cdr = cdr_of(&csp, "X0000001").await;
    let four = |v: &Value| v.to_string().split('.').nth(1).map_or(0, str::len) <= 4;
    let mut energy = roaming_types::money::Number::ZERO;
    let mut hours = roaming_types::money::Number::ZERO;
    for p in cdr["charging_periods"].as_array().unwrap() {
        for d in p["dimensions"].as_array().unwrap() {
            assert!(four(&d["volume"]), "more than 4 decimals: {p}");
        }
        energy = energy + volume(p, "ENERGY").unwrap_or_default();
        hours = hours + volume(p, "TIME").unwrap_or_default();
    }
    assert_eq!(energy, decimal(&cdr["total_energy"]), "{cdr}");
    assert_eq!(energy.to_string(), "13", "{cdr}");
    assert_eq!(hours, decimal(&cdr["total_time"]), "{cdr}");
    // Until the price changes at 1,000 s: 8.6667 kWh.
    let periods = cdr["charging_periods"].as_array().unwrap();
    assert_eq!(periods.len(), 2, "{cdr}");
    let at = |v: &Value| roaming_e2e::instant(v).timestamp_millis();
    assert_eq!(
        at(&periods[1]["start_date_time"]) - at(&cdr["start_date_time"]),
        1_000_000
    );
    assert_eq!(
        volume(&periods[0], "ENERGY").unwrap().to_string(),
        "8.6667",
        "{cdr}"
    );
    // The price is that of the periods as sent: 8.6667 × 0.30 + 4.3333 × 0.40.
    assert_eq!(cdr["total_cost"]["excl_vat"].to_string(), "4.33333", "{cdr}");
    let s = crate::charging::csp_session(&csp, SECS10, |s| {
        s["cdr_token"]["uid"] == "X0000001" && s["status"] == "COMPLETED"
    })
    .await;
    assert!(four(&s["kwh"]), "{s}");
    assert_eq!(decimal(&s["kwh"]), energy);
}
