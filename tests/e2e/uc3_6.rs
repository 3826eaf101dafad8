//! UC3-6 Collect dynamic charging information: the CSO pushes the session (PUT on creation, PATCH on
//! every change, charging periods appended, SES-01…SES-03, SES-10); the CSP follows it live (server-
//! sent events filtered by contract) and, after an outage, ends with the complete session.

use std::time::Duration;

use http::Method;
use roaming_e2e::{EventStream, Node, RawOcpi};
use serde_json::{Value, json};

use crate::charging::{command, cso_session, csp_session, evse, finished, issue, kwh, pair};

const SECS10: Duration = Duration::from_secs(10);
const SECS20: Duration = Duration::from_secs(20);

async fn start(csp: &Node, evse_uid: &str) -> (Value, String) {
    let token = issue(csp, json!({ "type": "APP_USER" })).await;
    let c = command(
        csp,
        "start",
        json!({
            "token": { "uid": token["token"]["uid"], "type": "APP_USER" },
            "location_id": "U-1",
            "evse_uid": evse_uid,
            "connector_id": "1"
        }),
    )
    .await;
    finished(csp, c["id"].as_str().unwrap(), SECS10).await;
    let contract = token["token"]["contract_id"].as_str().unwrap().to_owned();
    (token, contract)
}

#[tokio::test]
async fn uc3_6_live_session_with_periods() {
    let (cso, csp) = pair(2).await;
    let mut stream = EventStream::open_filtered(&csp, "type=session").await;
    let (_token, contract) = start(&csp, &evse(0)).await;
    // Energy grows and periods accumulate (period length 1 s in the test set-up).
    let live = csp_session(&csp, SECS20, |s| {
        s["status"] == "ACTIVE" && s["charging_periods"].as_array().is_some_and(|p| p.len() >= 3)
    })
    .await;
    assert!(kwh(&live) > 0.0);
    // The cost so far travels with the session (UC3-6), updated as periods close.
    assert!(
        live["total_cost"]["excl_vat"].as_f64().is_some_and(|c| c > 0.0),
        "{live}"
    );
    let p = &live["charging_periods"][0];
    let types: Vec<&str> = p["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"ENERGY") && types.contains(&"TIME"), "{types:?}");
    // The stream carried this driver's session changes.
    let mut seen = 0;
    while let Some(e) = stream.next(Duration::from_secs(2)).await {
        assert_eq!(e["type"], "session");
        if e["contract_id"] == contract.as_str() {
            seen += 1;
        }
        if seen >= 3 {
            break;
        }
    }
    assert!(seen >= 3, "live session events for the contract");

    let id = live["id"].as_str().unwrap().to_owned();
    let c = command(&csp, "stop", json!({ "session_id": id })).await;
    finished(&csp, c["id"].as_str().unwrap(), SECS10).await;
    let end = csp_session(&csp, SECS10, |s| {
        s["id"] == id.as_str() && s["status"] == "COMPLETED"
    })
    .await;
    let at_cso = cso_session(&cso, SECS10, |s| s["id"] == id.as_str()).await;
    assert_eq!(end, at_cso, "the CSP holds exactly the CSO's session");
    // Periods are in order and do not overlap.
    let starts: Vec<&str> = end["charging_periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["start_date_time"].as_str().unwrap())
        .collect();
    let mut sorted = starts.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(starts, sorted);
    // The CSP's filter by contract.
    let mine: Vec<Value> = csp.op_get(&format!("/api/sessions?contract_id={contract}")).await;
    assert_eq!(mine.len(), 1);
    let none: Vec<Value> = csp.op_get("/api/sessions?contract_id=DE-CSP-X").await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn uc3_6_csp_restart_in_the_middle_of_a_session() {
    let (cso, csp) = pair(2).await;
    let (_token, _contract) = start(&csp, &evse(0)).await;
    let live = csp_session(&csp, SECS10, |s| s["status"] == "ACTIVE").await;
    let id = live["id"].as_str().unwrap().to_owned();
    // The CSP is down while the session goes on: PATCHes queue at the CSO.
    let paused = csp.pause().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let csp = paused.start().await;
    // Stop from the CSO side (driver unplugs).
    let _: Value = cso
        .op(
            Method::POST,
            &format!("/api/simulator/evses/U-1/{}/unplug", evse(0)),
            &json!({}),
        )
        .await;
    let at_cso = cso_session(&cso, SECS10, |s| {
        s["id"] == id.as_str() && s["status"] == "COMPLETED"
    })
    .await;
    let end = csp_session(&csp, SECS20, |s| {
        s["id"] == id.as_str() && s["status"] == "COMPLETED"
    })
    .await;
    assert_eq!(end, at_cso, "nothing lost: the session and all its periods");
    assert!(end["charging_periods"].as_array().unwrap().len() >= 3);
}

#[tokio::test]
async fn uc3_6_sessions_receiver_rules() {
    let (cso, csp) = pair(1).await;
    let raw = RawOcpi::new(None);
    let token = cso.token_for(&csp);
    let url = |party: &str, id: &str| format!("{}/ocpi/2.2.1/sessions/{party}/{id}", csp.ocpi_url);
    let session = |cc: &str, pid: &str| {
        json!({
            "country_code": "NL", "party_id": "CSO", "id": "S-1",
            "start_date_time": "2026-01-01T10:00:00Z", "kwh": 0,
            "cdr_token": { "country_code": cc, "party_id": pid, "uid": "X1", "type": "RFID", "contract_id": "DE-CSP-C00000001-5" },
            "auth_method": "WHITELIST", "location_id": "U-1", "evse_uid": "U-1-E0", "connector_id": "1",
            "currency": "EUR", "status": "ACTIVE", "last_updated": "2026-01-01T10:00:00Z"
        })
    };
    // Not a token of ours: refused (2001).
    let w = raw
        .json(Method::PUT, &url("NL/CSO", "S-1"), &token, &session("NL", "OTH"))
        .await;
    assert_eq!(w.code(), 2001, "{:?}", w.body);
    // Another CSO's session: 404 + 2001 (T-90).
    let w = raw
        .json(Method::PUT, &url("BE/XYZ", "S-1"), &token, &session("DE", "CSP"))
        .await;
    assert_eq!(w.code(), 2001);
    // Created, then a PATCH with one period, delivered twice: appended once.
    let w = raw
        .json(Method::PUT, &url("NL/CSO", "S-1"), &token, &session("DE", "CSP"))
        .await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
    let patch = json!({
        "kwh": 1.5,
        "charging_periods": [{ "start_date_time": "2026-01-01T10:00:00Z", "dimensions": [{ "type": "ENERGY", "volume": 1.5 }] }],
        "last_updated": "2026-01-01T10:15:00Z"
    });
    for _ in 0..2 {
        let w = raw
            .json(Method::PATCH, &url("NL/CSO", "S-1"), &token, &patch)
            .await;
        assert_eq!(w.code(), 1000, "{:?}", w.body);
    }
    let w = raw.get(&url("NL/CSO", "S-1"), &token).await;
    let s = w.envelope().data.unwrap();
    assert_eq!(s["charging_periods"].as_array().unwrap().len(), 1);
    assert_eq!(s["kwh"], 1.5);
    // PATCH without last_updated (T-81); of an unknown session (T-94).
    let w = raw
        .json(Method::PATCH, &url("NL/CSO", "S-1"), &token, &json!({ "kwh": 2 }))
        .await;
    assert_eq!(w.code(), 2001);
    let w = raw
        .json(
            Method::PATCH,
            &url("NL/CSO", "S-9"),
            &token,
            &json!({ "kwh": 2, "last_updated": "2026-01-01T11:00:00Z" }),
        )
        .await;
    assert_eq!((w.status, w.code()), (404, 2001));
}

#[tokio::test]
async fn uc3_6_sessions_sender_serves_only_the_callers_sessions() {
    let (cso, csp) = pair(1).await;
    start(&csp, &evse(0)).await;
    cso_session(&cso, SECS10, |s| s["status"] == "ACTIVE").await;
    let raw = RawOcpi::new(None);
    // E-14: without date_from, served from the epoch.
    let w = raw
        .get(
            &format!("{}/ocpi/2.2.1/sessions", cso.ocpi_url),
            &csp.token_for(&cso),
        )
        .await;
    assert_eq!(w.code(), 1000, "{:?}", w.body);
    assert_eq!(w.envelope().data.unwrap().as_array().unwrap().len(), 1);
    let w = raw
        .get(
            &format!(
                "{}/ocpi/2.2.1/sessions?date_from=2099-01-01T00:00:00Z",
                cso.ocpi_url
            ),
            &csp.token_for(&cso),
        )
        .await;
    assert!(w.envelope().data.unwrap().as_array().unwrap().is_empty());
}

#[tokio::test]
async fn uc3_6_charging_preferences_and_invalid_sessions() {
    let (cso, csp) = pair(1).await;
    start(&csp, &evse(0)).await;
    let s = cso_session(&cso, SECS10, |s| s["status"] == "ACTIVE").await;
    let id = s["id"].as_str().unwrap();
    let raw = RawOcpi::new(None);
    let token = csp.token_for(&cso);
    let url = format!("{}/ocpi/2.2.1/sessions/{id}/charging_preferences", cso.ocpi_url);
    // SES-07: REGULAR is always possible; a profile without a tariff of that type is not.
    let w = raw
        .json(Method::PUT, &url, &token, &json!({ "profile_type": "REGULAR" }))
        .await;
    assert_eq!(w.envelope().data.unwrap(), "ACCEPTED", "{:?}", w.body);
    let w = raw
        .json(Method::PUT, &url, &token, &json!({ "profile_type": "FAST" }))
        .await;
    assert_eq!(w.envelope().data.unwrap(), "PROFILE_TYPE_NOT_SUPPORTED");
    // Unknown session: 404 + 2001.
    let w = raw
        .json(
            Method::PUT,
            &format!("{}/ocpi/2.2.1/sessions/NOPE/charging_preferences", cso.ocpi_url),
            &token,
            &json!({ "profile_type": "REGULAR" }),
        )
        .await;
    assert_eq!((w.status, w.code()), (404, 2001));
    // The CSO operator invalidates the session: INVALID reaches the CSP.
    let _: Value = cso
        .op(
            Method::POST,
            &format!("/api/sessions/{id}/invalidate"),
            &json!({}),
        )
        .await;
    csp_session(&csp, SECS10, |x| x["id"] == id && x["status"] == "INVALID").await;
}

#[tokio::test]
async fn uc3_6_session_periods_cover_the_whole_session() {
    // A charger that reports every 15 minutes: its first reading already shows 2 kWh, which flowed
    // since the start. The periods start at start_date_time and add up to kwh, as the CDR does.
    let (cso, csp, _sms) = crate::charging::webhook_pair().await;
    crate::charging::rfid(&csp, &cso, "Q0000001", "ALWAYS").await;
    crate::charging::Reported {
        tx: "TX-Q1",
        evse: &evse(0),
        uid: "Q0000001",
        start_wh: 1000,
        readings: &[(900, 3000, 8000, 12), (1800, 5000, 8000, 12)],
        stop: (2700, 7000),
    }
    .send(&cso)
    .await;
    let s = csp_session(&csp, SECS10, |s| {
        s["cdr_token"]["uid"] == "Q0000001" && s["status"] == "COMPLETED"
    })
    .await;
    let periods = s["charging_periods"].as_array().unwrap();
    assert_eq!(periods[0]["start_date_time"], s["start_date_time"], "{s}");
    let energy = |p: &Value| {
        p["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["type"] == "ENERGY")
            .map_or(0.0, |d| d["volume"].as_f64().unwrap())
    };
    let sum: f64 = periods.iter().map(energy).sum();
    assert!(
        (sum - 6.0).abs() < 1e-9,
        "periods add up to {sum} of {}: {s}",
        s["kwh"]
    );
    assert_eq!(s["kwh"], 6.0);
    // Session and CDR agree period by period.
    let cdr = roaming_e2e::eventually(SECS10, || async {
        let all: Vec<Value> = csp.op_get("/api/cdrs").await;
        all.into_iter().find(|c| c["cdr_token"]["uid"] == "Q0000001")
    })
    .await
    .unwrap();
    let shape = |ps: &Value| -> Vec<(Value, f64)> {
        ps.as_array()
            .unwrap()
            .iter()
            .map(|p| (p["start_date_time"].clone(), energy(p)))
            .collect()
    };
    assert_eq!(shape(&cdr["charging_periods"]), shape(&s["charging_periods"]));
}
