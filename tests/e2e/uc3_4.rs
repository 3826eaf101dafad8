//! UC3-4 Stop energy transfer session via home-CSP: STOP_SESSION; UNKNOWN_SESSION for a session that
//! is not there or belongs to another CSP (CMD-02); the session reaches COMPLETED (SES-01).

use std::time::Duration;

use roaming_e2e::Node;
use serde_json::{Value, json};

use crate::charging::{command, cso_session, csp_session, evse, finished, issue, pair};

const SECS10: Duration = Duration::from_secs(10);

async fn started(csp: &Node, evse_uid: &str) -> Value {
    let token = issue(csp, json!({ "type": "APP_USER" })).await;
    let c = command(
        csp,
        "start",
        json!({
            "token": { "uid": token["token"]["uid"], "type": "APP_USER" },
            "location_id": "U-1",
            "evse_uid": evse_uid
        }),
    )
    .await;
    let done = finished(csp, c["id"].as_str().unwrap(), SECS10).await;
    assert_eq!(done["result"]["result"], "ACCEPTED", "{done}");
    let uid = token["token"]["uid"].clone();
    csp_session(csp, SECS10, |s| {
        s["cdr_token"]["uid"] == uid && s["status"] == "ACTIVE"
    })
    .await
}

#[tokio::test]
async fn uc3_4_remote_stop() {
    let (cso, csp) = pair(2).await;
    let s = started(&csp, &evse(0)).await;
    let id = s["id"].as_str().unwrap();
    // The CSO is found from the session.
    let c = command(&csp, "stop", json!({ "session_id": id })).await;
    assert_eq!(c["response"]["result"], "ACCEPTED", "{c}");
    let done = finished(&csp, c["id"].as_str().unwrap(), SECS10).await;
    assert_eq!(done["result"]["result"], "ACCEPTED", "{done}");
    let end = csp_session(&csp, SECS10, |x| x["id"] == id && x["status"] == "COMPLETED").await;
    assert!(end["end_date_time"].is_string());
    // The CSP ends with exactly the CSO's session.
    let at_cso = cso_session(&cso, SECS10, |x| x["id"] == id).await;
    assert_eq!(end, at_cso);
    // The EVSE is free again.
    let l: Value = cso.op_get("/api/locations/U-1").await;
    assert_eq!(l["evses"][0]["status"], "AVAILABLE");
}

#[tokio::test]
async fn uc3_4_stop_of_an_unknown_session() {
    let (_cso, csp) = pair(1).await;
    let c = command(
        &csp,
        "stop",
        json!({ "session_id": "no-such-session", "cpo": "NL-CSO" }),
    )
    .await;
    assert_eq!(c["response"]["result"], "UNKNOWN_SESSION", "{c}");
    assert_eq!(c["state"], "NOT_ACCEPTED");
}

#[tokio::test]
async fn uc3_4_another_csps_session_is_unknown_to_it() {
    let (cso, csp) = pair(2).await;
    let other = Node::csp().party("DE-OTH").start().await;
    other.connect_to(&cso).await;
    load_site_seen(&other).await;
    let s = started(&csp, &evse(0)).await;
    let id = s["id"].as_str().unwrap();
    let c = command(&other, "stop", json!({ "session_id": id, "cpo": "NL-CSO" })).await;
    assert_eq!(c["response"]["result"], "UNKNOWN_SESSION", "{c}");
    // Still charging.
    let still = cso_session(&cso, SECS10, |x| x["id"] == id).await;
    assert_eq!(still["status"], "ACTIVE");
}

async fn load_site_seen(csp: &Node) {
    roaming_e2e::eventually(SECS10, || async {
        csp.operator
            .get::<Value>("/api/locations/NL/CSO/U-1")
            .await
            .ok()
            .map(|_| ())
    })
    .await
    .expect("the second CSP received the site");
}
