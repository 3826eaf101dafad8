//! UC3-5 Complete a charging service transaction: exactly one CDR per finished session, priced from
//! the tariff in force at the start (CDR-03, §9.3), delivered by POST to the CSP through the outbox
//! even across outages and restarts; credit CDRs for corrections (CDR-02).

use std::time::Duration;

use http::Method;
use roaming_e2e::{Node, eventually};
use roaming_types::DateTime;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::charging::{SITE, cso_session, evse, load_site, pair, present, rfid};

const SECS10: Duration = Duration::from_secs(10);
const SECS20: Duration = Duration::from_secs(20);

/// A CSO behind a webhook gateway (so that meter values are exactly what the test reports) and a
/// connected CSP, the site loaded.
async fn webhook_pair() -> (Node, Node, MockServer) {
    let sms = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&sms)
        .await;
    let cso = Node::cso()
        .setting("cso.gateway", "webhook")
        .setting("cso.gateway.webhook_url", sms.uri())
        .start()
        .await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    load_site(&cso, &csp, 2).await;
    (cso, csp, sms)
}

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

    // A CDR whose total does not follow from its tariff is disputed, with the reason.
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
