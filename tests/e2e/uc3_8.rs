//! UC3-8 Reservation of an EV supply equipment: RESERVE_NOW creates a RESERVATION session and makes the
//! EVSE RESERVED for everyone (SES-11, CMD-05); the same token may start on it, others may not;
//! reservations are isolated per CSP; expiry, CSP cancellation and CSO cancellation
//! (CANCELED_RESERVATION on the RESERVE_NOW's `response_url`, CMD-06) free the EVSE.

use std::time::Duration;

use http::Method;
use roaming_e2e::{Node, eventually};
use roaming_types::DateTime;
use serde_json::{Value, json};

use crate::charging::{command, csp_session, evse, finished, issue, pair, present, rfid};

const SECS10: Duration = Duration::from_secs(10);

fn in_secs(s: i64) -> String {
    DateTime::now().plus(chrono::Duration::seconds(s)).to_string()
}

async fn reserve(csp: &Node, uid: &str, evse_uid: &str, reservation_id: &str, secs: i64) -> Value {
    let c = command(
        csp,
        "reserve",
        json!({
            "token": { "uid": uid },
            "location_id": "U-1",
            "evse_uid": evse_uid,
            "expiry_date": in_secs(secs),
            "reservation_id": reservation_id
        }),
    )
    .await;
    assert_eq!(c["response"]["result"], "ACCEPTED", "{c}");
    finished(csp, c["id"].as_str().unwrap(), SECS10).await
}

async fn evse_status(node: &Node, path: &str, i: usize, status: &str) {
    eventually(SECS10, || async {
        let l: Value = node.op_get(path).await;
        (l["evses"][i]["status"] == status).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("EVSE {i} never became {status} at {path}"));
}

#[tokio::test]
async fn uc3_8_reserve_then_start_with_the_same_token() {
    let (cso, csp) = pair(2).await;
    rfid(&csp, &cso, "R0000001", "ALWAYS").await;
    rfid(&csp, &cso, "R0000002", "ALWAYS").await;
    let done = reserve(&csp, "R0000001", &evse(0), "RES-1", 600).await;
    assert_eq!(done["result"]["result"], "ACCEPTED", "{done}");
    // A RESERVATION session (SES-11) and a RESERVED EVSE, at the CSO and at the CSP.
    let s = csp_session(&csp, SECS10, |s| s["status"] == "RESERVATION").await;
    assert_eq!(s["cdr_token"]["uid"], "R0000001");
    assert_eq!(s["auth_method"], "COMMAND");
    evse_status(&cso, "/api/locations/U-1", 0, "RESERVED").await;
    evse_status(&csp, "/api/locations/NL/CSO/U-1", 0, "RESERVED").await;
    // Another driver cannot use it.
    let out = present(&cso, &evse(0), "R0000002").await;
    assert_eq!(out["outcome"], "refused", "{out}");
    // The driver who reserved it can; the reservation session becomes the charging session (SES-05).
    let out = present(&cso, &evse(0), "R0000001").await;
    assert_eq!(out["outcome"], "starting", "{out}");
    let active = csp_session(&csp, SECS10, |x| x["id"] == s["id"] && x["status"] == "ACTIVE").await;
    assert_eq!(active["auth_method"], "WHITELIST");
    evse_status(&cso, "/api/locations/U-1", 0, "CHARGING").await;
    let r: Vec<Value> = cso.op_get("/api/reservations").await;
    assert_eq!(r[0]["state"], "USED");
}

#[tokio::test]
async fn uc3_8_reservations_are_isolated_between_csps() {
    let (cso, csp) = pair(3).await;
    let other = Node::csp().party("DE-OTH").start().await;
    other.connect_to(&cso).await;
    eventually(SECS10, || async {
        other
            .operator
            .get::<Value>("/api/locations/NL/CSO/U-1")
            .await
            .ok()
            .map(|_| ())
    })
    .await
    .unwrap();
    issue(&csp, json!({ "uid": "I0000001" })).await;
    issue(&other, json!({ "uid": "I0000002" })).await;
    // Both use the same reservation id, on different EVSEs.
    assert_eq!(
        reserve(&csp, "I0000001", &evse(0), "SAME", 600).await["result"]["result"],
        "ACCEPTED"
    );
    assert_eq!(
        reserve(&other, "I0000002", &evse(2), "SAME", 600).await["result"]["result"],
        "ACCEPTED"
    );
    // The other CSP cannot take this CSP's reserved EVSE.
    let c = command(
        &other,
        "reserve",
        json!({ "token": { "uid": "I0000002" }, "location_id": "U-1", "evse_uid": evse(0),
                "expiry_date": in_secs(600), "reservation_id": "OTHER" }),
    )
    .await;
    let done = finished(&other, c["id"].as_str().unwrap(), SECS10).await;
    assert_eq!(done["result"]["result"], "EVSE_OCCUPIED", "{done}");
    // Cancelling "SAME" at the other CSP cancels only its own.
    let c = command(&other, "cancel-reservation", json!({ "reservation_id": "SAME" })).await;
    assert_eq!(c["response"]["result"], "ACCEPTED", "{c}");
    finished(&other, c["id"].as_str().unwrap(), SECS10).await;
    evse_status(&cso, "/api/locations/U-1", 2, "AVAILABLE").await;
    let l: Value = cso.op_get("/api/locations/U-1").await;
    assert_eq!(l["evses"][0]["status"], "RESERVED");
    let sessions: Vec<Value> = csp.op_get("/api/sessions").await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["status"], "RESERVATION");
    // An unknown reservation: ACCEPTED, then UNKNOWN_RESERVATION.
    let c = command(&csp, "cancel-reservation", json!({ "reservation_id": "NOPE" })).await;
    let done = finished(&csp, c["id"].as_str().unwrap(), SECS10).await;
    assert_eq!(done["result"]["result"], "UNKNOWN_RESERVATION", "{done}");
}

#[tokio::test]
async fn uc3_8_expiry_frees_the_evse() {
    let (cso, csp) = pair(1).await;
    issue(&csp, json!({ "uid": "X0000001" })).await;
    reserve(&csp, "X0000001", &evse(0), "SHORT", 2).await;
    evse_status(&cso, "/api/locations/U-1", 0, "RESERVED").await;
    evse_status(&cso, "/api/locations/U-1", 0, "AVAILABLE").await;
    let s = csp_session(&csp, SECS10, |s| s["status"] == "COMPLETED").await;
    assert!(s["end_date_time"].is_string());
    let r: Vec<Value> = cso.op_get("/api/reservations").await;
    assert_eq!(r[0]["state"], "EXPIRED");
}

#[tokio::test]
async fn uc3_8_the_cso_cancels_a_reservation() {
    let (cso, csp) = pair(1).await;
    issue(&csp, json!({ "uid": "Y0000001" })).await;
    let done = reserve(&csp, "Y0000001", &evse(0), "RES-C", 600).await;
    let id = done["id"].as_str().unwrap().to_owned();
    evse_status(&csp, "/api/locations/NL/CSO/U-1", 0, "RESERVED").await;
    let r: Value = cso
        .op(Method::POST, "/api/reservations/DE/CSP/RES-C/cancel", &json!({}))
        .await;
    assert_eq!(r["state"], "CANCELED_BY_OPERATOR");
    // CMD-06: the CSP learns it on the RESERVE_NOW's response_url.
    let c = eventually(SECS10, || async {
        let c: Value = csp.op_get(&format!("/api/commands/{id}")).await;
        (c["result"]["result"] == "CANCELED_RESERVATION").then_some(c)
    })
    .await;
    assert!(c.is_some(), "CANCELED_RESERVATION reached the CSP");
    evse_status(&csp, "/api/locations/NL/CSO/U-1", 0, "AVAILABLE").await;
}
