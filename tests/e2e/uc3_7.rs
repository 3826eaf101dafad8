//! UC3-7 Charge plan exchange and UC3-10 charge plan update by the visited CSO (checklist §12, CP-01…
//! CP-04): the CSP caps its driver's running session, reads and clears the plan; the simulator's power
//! follows; the CSO tells the CSP when the effective plan changes — only for sessions where the CSP set
//! a profile.

use std::time::Duration;

use http::Method;
use roaming_e2e::{Node, eventually, instant};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::charging::{SITE, command, csp_session, evse, fast_cso, finished, issue, load_site};

const SECS10: Duration = Duration::from_secs(10);

/// A fast CSO (profile rate limit 1.5 s) and a CSP, with a running remote session on EVSE `i`.
async fn running(cso: &Node, csp: &Node, i: usize) -> String {
    let token = issue(csp, json!({ "type": "APP_USER" })).await;
    let c = command(
        csp,
        "start",
        json!({ "token": { "uid": token["token"]["uid"], "type": "APP_USER" }, "location_id": SITE, "evse_uid": evse(i) }),
    )
    .await;
    finished(csp, c["id"].as_str().unwrap(), SECS10).await;
    let uid = token["token"]["uid"].clone();
    let s = csp_session(csp, SECS10, |s| {
        s["cdr_token"]["uid"] == uid && s["status"] == "ACTIVE"
    })
    .await;
    let _ = cso;
    s["id"].as_str().unwrap().to_owned()
}

async fn pair() -> (Node, Node) {
    let cso = fast_cso()
        .setting("cso.profiles.min_interval_ms", "1500")
        .start()
        .await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    load_site(&cso, &csp, 3).await;
    (cso, csp)
}

async fn plan(csp: &Node, m: Method, session: &str, body: Option<Value>) -> Value {
    let path = format!("/api/sessions/NL/CSO/{session}/profile");
    csp.operator
        .send::<Value, Value>(m.clone(), &path, body.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{m} {path}: {e}"))
}

async fn result(csp: &Node, id: &str) -> Value {
    eventually(SECS10, || async {
        let r: Value = csp.op_get(&format!("/api/profile-requests/{id}")).await;
        r.get("result").is_some().then_some(r)
    })
    .await
    .unwrap_or_else(|| panic!("profile request {id} got no result"))
}

/// The MAX_POWER volumes of the periods that start after `after` (compared as instants, #12 item 19).
fn max_power_of_periods_after(s: &Value, after: &Value) -> Vec<f64> {
    let after = instant(after);
    s["charging_periods"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| instant(&p["start_date_time"]) > after)
        .filter_map(|p| {
            p["dimensions"]
                .as_array()?
                .iter()
                .find(|d| d["type"] == "MAX_POWER")
                .and_then(|d| d["volume"].as_f64())
        })
        .collect()
}

#[tokio::test]
async fn uc3_7_cap_read_and_clear_a_running_session() {
    let (cso, csp) = pair().await;
    let session = running(&cso, &csp, 0).await;
    // Before: the EV draws 11 kW.
    let r = plan(&csp, Method::PUT, &session, Some(json!({ "limit_kw": 7 }))).await;
    assert_eq!(r["response"]["result"], "ACCEPTED", "{r}");
    let set_at = r["sent_at"].clone();
    let done = result(&csp, r["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["result"], "ACCEPTED", "{done}");
    // The charger follows the cap (CP-02): new periods stay at or below 7 kW.
    let view: Value = cso
        .op_get(&format!("/api/simulator/evses/{SITE}/{}", evse(0)))
        .await;
    assert_eq!(view["limit_w"], "7000", "{view}");
    let s = csp_session(&csp, SECS10, |s| {
        s["id"] == session.as_str() && max_power_of_periods_after(s, &set_at).len() >= 2
    })
    .await;
    let powers = max_power_of_periods_after(&s, &set_at);
    assert!(powers.iter().skip(1).all(|p| *p <= 7.0 && *p > 0.0), "{powers:?}");

    // Read the active plan: 7000 W.
    let r = plan(&csp, Method::GET, &session, None).await;
    assert_eq!(r["response"]["result"], "ACCEPTED");
    let done = result(&csp, r["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["result"], "ACCEPTED");
    assert_eq!(
        done["result"]["profile"]["charging_profile"]["charging_profile_period"][0]["limit"],
        7000.0
    );
    let active: Value = csp
        .op_get(&format!("/api/sessions/NL/CSO/{session}/active-profile"))
        .await;
    assert_eq!(active["source"], "GET");

    // Too often (CP-03): two changes in a row; then clear; clearing again finds nothing (UNKNOWN).
    let r = plan(&csp, Method::PUT, &session, Some(json!({ "limit_kw": 5 }))).await;
    assert_eq!(r["response"]["result"], "ACCEPTED", "{r}");
    let r = plan(&csp, Method::PUT, &session, Some(json!({ "limit_kw": 6 }))).await;
    assert_eq!(r["response"]["result"], "TOO_OFTEN", "{r}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = plan(&csp, Method::DELETE, &session, None).await;
    assert_eq!(
        result(&csp, r["id"].as_str().unwrap()).await["result"]["result"],
        "ACCEPTED"
    );
    let view: Value = cso
        .op_get(&format!("/api/simulator/evses/{SITE}/{}", evse(0)))
        .await;
    assert!(view.get("limit_w").is_none(), "{view}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = plan(&csp, Method::DELETE, &session, None).await;
    assert_eq!(
        result(&csp, r["id"].as_str().unwrap()).await["result"]["result"],
        "UNKNOWN"
    );
}

#[tokio::test]
async fn uc3_7_unknown_foreign_and_incapable_sessions() {
    let (cso, csp) = pair().await;
    let session = running(&cso, &csp, 0).await;
    // Unknown session.
    let r = plan(
        &csp,
        Method::PUT,
        "NO-SUCH-SESSION",
        Some(json!({ "limit_kw": 7 })),
    )
    .await;
    assert_eq!(r["response"]["result"], "UNKNOWN_SESSION", "{r}");
    assert_eq!(r["state"], "NOT_ACCEPTED");
    // Another CSP's session (CP-01).
    let other = Node::csp().party("DE-OTH").start().await;
    other.connect_to(&cso).await;
    let r = plan(&other, Method::PUT, &session, Some(json!({ "limit_kw": 7 }))).await;
    assert_eq!(r["response"]["result"], "REJECTED", "{r}");
    // An EVSE without CHARGING_PROFILE_CAPABLE.
    let _: Value = cso
        .op(
            Method::PATCH,
            &format!("/api/locations/{SITE}/{}", evse(2)),
            &json!({ "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"] }),
        )
        .await;
    let s2 = running(&cso, &csp, 2).await;
    let r = plan(&csp, Method::PUT, &s2, Some(json!({ "limit_kw": 7 }))).await;
    assert_eq!(r["response"]["result"], "NOT_SUPPORTED", "{r}");
    // Charging preferences go through the Sessions module (SES-07).
    let p: Value = csp
        .op(
            Method::PUT,
            &format!("/api/sessions/NL/CSO/{session}/preferences"),
            &json!({ "profile_type": "REGULAR" }),
        )
        .await;
    assert_eq!(p, "ACCEPTED");
}

#[tokio::test]
async fn uc3_10_local_limits_and_ended_profiles_reach_the_csp() {
    let (cso, csp) = pair().await;
    let with_profile = running(&cso, &csp, 0).await;
    let without = running(&cso, &csp, 2).await;
    let r = plan(
        &csp,
        Method::PUT,
        &with_profile,
        Some(json!({ "limit_kw": 7, "duration": 4 })),
    )
    .await;
    result(&csp, r["id"].as_str().unwrap()).await;
    // The site's load management caps the whole location at 4 kW.
    let _: Value = cso
        .op(
            Method::PUT,
            &format!("/api/limits/{SITE}"),
            &json!({ "limit_kw": 4 }),
        )
        .await;
    let active = eventually(SECS10, || async {
        csp.operator
            .get::<Value>(&format!("/api/sessions/NL/CSO/{with_profile}/active-profile"))
            .await
            .ok()
            .filter(|a| a["source"] == "CSO")
    })
    .await
    .expect("the CSO pushed the new plan (CP-04)");
    let period = &active["profile"]["charging_profile"]["charging_profile_period"][0];
    assert_eq!(period["limit"], 4000.0, "{active}");
    let horizon = active["profile"]["charging_profile"]["duration"]
        .as_u64()
        .unwrap();
    assert!((300..=3600).contains(&horizon));
    // The simulator applies it to both sessions, but only the one with a profile is told (CP-04).
    let view: Value = cso
        .op_get(&format!("/api/simulator/evses/{SITE}/{}", evse(2)))
        .await;
    assert_eq!(view["limit_w"], "4000");
    assert!(
        csp.operator
            .get::<Value>(&format!("/api/sessions/NL/CSO/{without}/active-profile"))
            .await
            .is_err()
    );
    // The limit is lifted and the profile has ended (duration 4 s): the EVSE's maximum is reported.
    let _: Value = cso
        .op(
            Method::PUT,
            &format!("/api/limits/{SITE}"),
            &json!({ "limit_kw": null }),
        )
        .await;
    let max = eventually(Duration::from_secs(15), || async {
        let a: Value = csp
            .op_get(&format!("/api/sessions/NL/CSO/{with_profile}/active-profile"))
            .await;
        let limit = a["profile"]["charging_profile"]["charging_profile_period"][0]["limit"].as_f64()?;
        (limit > 7000.0).then_some(limit)
    })
    .await
    .expect("the end of the profile reached the CSP");
    assert_eq!(max, 22080.0);
}

#[tokio::test]
async fn uc3_7_webhook_gateway_forwards_limits_and_a_silent_cso_times_out() {
    let sms = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(6)))
        .mount(&sms)
        .await;
    let cso = Node::cso()
        .setting("cso.gateway", "webhook")
        .setting("cso.gateway.webhook_url", sms.uri())
        .setting("cso.commands.timeout_secs", "2")
        .start()
        .await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    load_site(&cso, &csp, 1).await;
    let token = issue(&csp, json!({ "uid": "P0000001", "whitelist": "ALWAYS" })).await;
    crate::charging::cso_token(&cso, "P0000001", |_| true).await;
    let now = roaming_types::DateTime::now().to_string();
    for e in [
        json!({ "type": "session_started", "transaction_id": "W1", "location_id": SITE, "evse_uid": evse(0),
                "connector_id": "1", "token_uid": "P0000001", "token_type": "RFID", "meter_start_wh": 0, "at": now }),
        json!({ "type": "meter_values", "transaction_id": "W1", "energy_wh": 10, "power_w": 11000,
                "charging": true, "at": now }),
    ] {
        let _: Value = cso.op(Method::POST, "/api/stations/events", &e).await;
    }
    let s = csp_session(&csp, SECS10, |s| s["status"] == "ACTIVE").await;
    let r = plan(
        &csp,
        Method::PUT,
        s["id"].as_str().unwrap(),
        Some(json!({ "limit_kw": 7 })),
    )
    .await;
    assert_eq!(r["response"]["result"], "ACCEPTED", "{r}");
    // The SMS takes 6 s to answer; the response's timeout is 2 s: TIMEOUT at the CSP.
    let done = result(&csp, r["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "TIMED_OUT", "{done}");
    assert_eq!(done["result"]["result"], "TIMEOUT");
    // The SMS's late answer comes after the gateway gave up (5 s): the CSO reports REJECTED, and the
    // late result is recorded.
    let late = eventually(SECS10, || async {
        let r: Value = csp
            .op_get(&format!("/api/profile-requests/{}", r["id"].as_str().unwrap()))
            .await;
        (r["result"]["result"] == "REJECTED").then_some(r)
    })
    .await
    .expect("the late REJECTED result");
    assert_eq!(late["state"], "COMPLETED");
    let sent = eventually(SECS10, || async {
        let r = sms.received_requests().await.unwrap_or_default();
        r.iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
            .find(|b| b["type"] == "SET_POWER_LIMIT")
    })
    .await
    .expect("the limit reached the station-management system");
    assert_eq!(sent["limit_w"], "7000");
    assert_eq!(
        sent["charging_profile"]["charging_profile_period"][0]["limit"],
        7000.0
    );
    let _ = token;
}
