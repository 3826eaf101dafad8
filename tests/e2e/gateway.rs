//! The webhook station gateway (issue #5, `docs/api.md` "Station gateway"): commands reach a
//! station-management system as JSON POSTs; what happens at the chargers comes back through the CSO
//! operator API and becomes command results and sessions at the CSP (UC3-2, UC3-4, UC3-6 without the
//! simulator).

use std::time::Duration;

use http::Method;
use roaming_e2e::{Node, eventually};
use roaming_types::DateTime;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::charging::{SITE, command, csp_session, evse, finished, issue, load_site};

const SECS10: Duration = Duration::from_secs(10);

async fn received(sms: &MockServer, n: usize) -> Vec<Value> {
    eventually(SECS10, || async {
        let r = sms.received_requests().await.unwrap_or_default();
        (r.len() >= n).then(|| {
            r.iter()
                .map(|r| serde_json::from_slice(&r.body).unwrap())
                .collect()
        })
    })
    .await
    .unwrap_or_else(|| panic!("the station-management system did not get {n} commands"))
}

#[tokio::test]
async fn webhook_gateway_carries_a_whole_remote_session() {
    let sms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ocpp/commands"))
        .and(header("authorization", "Bearer sms-secret"))
        .and(body_partial_json(json!({ "type": "UNLOCK_CONNECTOR" })))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .mount(&sms)
        .await;
    Mock::given(method("POST"))
        .and(path("/ocpp/commands"))
        .and(header("authorization", "Bearer sms-secret"))
        .respond_with(ResponseTemplate::new(202))
        .with_priority(2)
        .mount(&sms)
        .await;
    let cso = Node::cso()
        .setting("cso.gateway", "webhook")
        .setting("cso.gateway.webhook_url", format!("{}/ocpp/commands", sms.uri()))
        .setting("cso.gateway.webhook_token", "sms-secret")
        .start()
        .await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    load_site(&cso, &csp, 1).await;
    let gw: Value = cso.op_get("/api/gateway").await;
    assert_eq!(gw["gateway"], "webhook");

    let token = issue(&csp, json!({ "type": "APP_USER" })).await;
    let uid = token["token"]["uid"].as_str().unwrap().to_owned();
    let c = command(
        &csp,
        "start",
        json!({ "token": { "uid": uid, "type": "APP_USER" }, "location_id": SITE, "evse_uid": evse(0) }),
    )
    .await;
    assert_eq!(c["response"]["result"], "ACCEPTED", "{c}");
    let sent = received(&sms, 1).await;
    assert_eq!(sent[0]["type"], "START_SESSION", "{}", sent[0]);
    assert_eq!(sent[0]["token_uid"], uid.as_str());
    assert_eq!(sent[0]["evse_uid"], evse(0));
    let command_id = sent[0]["command_id"].as_str().unwrap().to_owned();

    // The SMS reports the charger's answer, the start, a reading and the stop.
    let events = [
        json!({ "type": "command_result", "command_id": command_id, "result": "ACCEPTED" }),
        json!({ "type": "session_started", "transaction_id": "T-77", "location_id": SITE, "evse_uid": evse(0),
                "connector_id": "1", "token_uid": uid, "token_type": "APP_USER", "command_id": command_id,
                "meter_start_wh": 1000, "at": DateTime::now().to_string() }),
        json!({ "type": "meter_values", "transaction_id": "T-77", "energy_wh": 3500, "power_w": 11000,
                "charging": true, "at": DateTime::now().plus(chrono::Duration::seconds(1)).to_string() }),
    ];
    for e in &events {
        let _: Value = cso.op(Method::POST, "/api/stations/events", e).await;
    }
    let done = finished(&csp, c["id"].as_str().unwrap(), SECS10).await;
    assert_eq!(done["result"]["result"], "ACCEPTED");
    let s = csp_session(&csp, SECS10, |s| s["status"] == "ACTIVE" && s["kwh"] == 2.5).await;
    assert_eq!(s["auth_method"], "COMMAND");

    // Remote stop: the SMS gets STOP_SESSION with the transaction, then reports the stop.
    let stop = command(&csp, "stop", json!({ "session_id": s["id"] })).await;
    assert_eq!(stop["response"]["result"], "ACCEPTED", "{stop}");
    let sent = received(&sms, 2).await;
    assert_eq!(sent[1]["type"], "STOP_SESSION");
    assert_eq!(sent[1]["transaction_id"], "T-77");
    for e in [
        json!({ "type": "command_result", "command_id": sent[1]["command_id"], "result": "ACCEPTED" }),
        json!({ "type": "session_stopped", "transaction_id": "T-77", "energy_wh": 5000,
                "at": DateTime::now().plus(chrono::Duration::seconds(2)).to_string() }),
    ] {
        let _: Value = cso.op(Method::POST, "/api/stations/events", &e).await;
    }
    let end = csp_session(&csp, SECS10, |x| x["id"] == s["id"] && x["status"] == "COMPLETED").await;
    assert_eq!(end["kwh"], 4.0);

    // An SMS that refuses a command: the CSP hears REJECTED at once (CMD-01: no result follows).
    let u = command(
        &csp,
        "unlock",
        json!({ "location_id": SITE, "evse_uid": evse(0), "connector_id": "1" }),
    )
    .await;
    assert_eq!(u["response"]["result"], "REJECTED", "{u}");

    // A charger asks whether a token may charge (RFID at the station).
    let d: Value = cso
        .op(
            Method::POST,
            "/api/stations/authorize",
            &json!({ "location_id": SITE, "evse_uid": evse(0), "token_uid": "UNKNOWN1" }),
        )
        .await;
    assert_eq!(d["allowed"], false, "{d}");
    // The simulator is not there.
    let err = cso
        .operator
        .get::<Value>(&format!("/api/simulator/evses/{SITE}/{}", evse(0)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("409"), "{err}");
    // A bad event is a 400 with a reason, not a half-written session.
    let err = cso
        .operator
        .send::<Value, Value>(
            Method::POST,
            "/api/stations/events",
            Some(&json!({ "type": "meter_values" })),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
}
