//! UC1-3 Sharing dynamic status of EV supply equipment: EVSE status PATCHes pushed through the durable
//! outbox, in order, newest state only, surviving CSP outages; pulls as the healing path; the PUT
//! fallback when the CSP does not know the object (T-82, T-94, T-96; LOC-01).

use std::time::Duration;

use http::Method;
use roaming_e2e::fixtures::{location, tariffs};
use roaming_e2e::{EventStream, Node, eventually, instant};
use roaming_types::DateTime;
use serde_json::{Value, json};

const STATUSES: [&str; 4] = ["CHARGING", "AVAILABLE", "BLOCKED", "OUTOFORDER"];

async fn connected_with_sites(n: usize) -> (Node, Node) {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let _: Value = cso.op(Method::POST, "/api/tariffs/import", &tariffs()).await;
    let locs: Vec<Value> = (0..n)
        .map(|i| location(&format!("S-{i}"), 52.0 + i as f64 * 0.01, 5.0, 2))
        .collect();
    let _: Value = cso
        .op(Method::POST, "/api/locations/import", &Value::Array(locs))
        .await;
    assert!(
        identical(&cso, &csp, Duration::from_secs(15)).await,
        "initial copy"
    );
    (cso, csp)
}

/// Whether the CSP's copy of every CSO location equals the CSO's, within `timeout`.
async fn identical(cso: &Node, csp: &Node, timeout: Duration) -> bool {
    let at_cso: Vec<Value> = cso.op_get("/api/locations").await;
    eventually(timeout, || async {
        for l in &at_cso {
            let id = l["id"].as_str().unwrap();
            match csp
                .operator
                .get::<Value>(&format!("/api/locations/NL/CSO/{id}"))
                .await
            {
                Ok(c) if &c == l => {}
                _ => return None,
            }
        }
        Some(())
    })
    .await
    .is_some()
}

async fn set_status(cso: &Node, loc: &str, evse: &str, status: &str) -> Value {
    cso.op(
        Method::PUT,
        &format!("/api/locations/{loc}/{evse}/status"),
        &json!({ "status": status }),
    )
    .await
}

#[tokio::test]
async fn uc1_3_status_changes_reach_the_csp_in_order() {
    let (cso, csp) = connected_with_sites(1).await;
    let mut events = EventStream::open(&csp).await;
    let mut sent = Vec::new();
    for i in 0..20 {
        let e = set_status(&cso, "S-0", "S-0-E0", STATUSES[i % 4]).await;
        sent.push(instant(&e["last_updated"]));
    }
    // Every EVSE event the CSP emits is newer than the one before (in order, never an older state),
    // and the last one is the last change. Time stamps compare as instants, never as text (#12 item
    // 19: `…:42Z` sorts after `…:42.002Z` as text).
    let mut seen: Vec<DateTime> = Vec::new();
    while let Some(ev) = events.next(Duration::from_secs(10)).await {
        if ev["type"] == "evse" && ev["evse"] == "S-0-E0" {
            let t = instant(&ev["last_updated"]);
            if let Some(prev) = seen.last() {
                assert!(t > *prev, "out of order: {t} after {prev}");
            }
            seen.push(t);
            if &t == sent.last().unwrap() {
                assert_eq!(ev["status"], STATUSES[19 % 4]);
                break;
            }
        }
    }
    assert_eq!(seen.last(), sent.last(), "the last change arrived");
    assert!(identical(&cso, &csp, Duration::from_secs(5)).await);
    // T-82 on both sides: the location carries the EVSE's last_updated.
    let l: Value = csp.op_get("/api/locations/NL/CSO/S-0").await;
    assert_eq!(Some(instant(&l["last_updated"])), sent.last().copied());
}

#[tokio::test]
async fn uc1_3_csp_down_catches_up_through_the_outbox() {
    let (cso, csp) = connected_with_sites(5).await;
    // Stopped, keeping its address so that the CSO's stored endpoints stay valid.
    let paused = csp.pause().await;
    for i in 0..100 {
        set_status(
            &cso,
            &format!("S-{}", i % 5),
            &format!("S-{}-E{}", i % 5, i % 2),
            STATUSES[i % 4],
        )
        .await;
    }
    let pending: Vec<Value> = cso.op_get("/api/outbox").await;
    assert!(
        pending[0]["pending"].as_u64().unwrap() > 0,
        "changes wait in the outbox while the CSP is down"
    );
    assert!(
        pending[0]["pending"].as_u64().unwrap() <= 10,
        "newest state only: one entry per EVSE"
    );
    let csp = paused.start().await;
    assert!(
        identical(&cso, &csp, Duration::from_secs(30)).await,
        "the CSP caught up from the outbox"
    );
    // Delivered entries leave the outbox once their acknowledgements are processed (in batches).
    let drained = roaming_e2e::eventually(Duration::from_secs(5), || async {
        let pending: Vec<Value> = cso.op_get("/api/outbox").await;
        (pending[0]["pending"] == 0).then_some(())
    })
    .await;
    assert!(drained.is_some(), "the outbox drained");
}

#[tokio::test]
async fn uc1_3_csp_down_catches_up_by_pull() {
    let (cso, csp) = connected_with_sites(5).await;
    // The CSP comes back on another address: the CSO's pushes cannot reach it, only its pull heals.
    let (dir, _) = csp.stop().await;
    cso.expect_undelivered(); // its pushes wait for the old address
    for i in 0..100 {
        set_status(
            &cso,
            &format!("S-{}", i % 5),
            &format!("S-{}-E{}", i % 5, i % 2),
            STATUSES[(i + 1) % 4],
        )
        .await;
    }
    let csp = Node::csp().data_dir(dir).start().await;
    let report: Value = csp.op(Method::POST, "/api/peers/NL-CSO/sync", &json!({})).await;
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    assert!(report["stored"].as_u64().unwrap() >= 5, "{report}");
    assert!(
        identical(&cso, &csp, Duration::from_secs(5)).await,
        "the pull (date_from = last sync) healed the copy"
    );
}

/// An incremental pull starts `csp.sync.overlap_secs` (default 5 min) before the last pull did: an
/// object the CSO stamped a little before that (an operator's file, or a CSO clock behind ours) is
/// not missed.
#[tokio::test]
async fn uc1_3_pull_overlaps_the_last_one_for_objects_stamped_earlier() {
    let (cso, csp) = connected_with_sites(2).await;
    let report: Value = csp
        .op(Method::POST, "/api/peers/NL-CSO/sync?full=true", &json!({}))
        .await;
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    let states: Vec<Value> = csp.op_get("/api/sync").await;
    let last = states
        .iter()
        .find(|s| s["module"] == "locations")
        .and_then(|s| s["last_success"].as_str())
        .expect("a successful pull")
        .to_owned();
    let (dir, _) = csp.stop().await;
    cso.expect_undelivered(); // the CSP comes back on another address: the push of LATE waits for the old one
    // Created while the CSP is away (so no push reaches it), stamped a minute before its last pull.
    let earlier = roaming_types::DateTime::parse_strict(&last)
        .unwrap()
        .plus(chrono::Duration::seconds(-60))
        .to_string();
    let mut late = location("LATE", 52.5, 5.0, 1);
    late["last_updated"] = json!(earlier);
    late["evses"][0]["last_updated"] = json!(earlier);
    late["evses"][0]["connectors"][0]["last_updated"] = json!(earlier);
    let _: Value = cso
        .op(Method::POST, "/api/locations/import", &json!([late]))
        .await;
    let csp = Node::csp().data_dir(dir).start().await;
    let report: Value = csp.op(Method::POST, "/api/peers/NL-CSO/sync", &json!({})).await;
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    let at_csp: Value = csp.op_get("/api/locations/NL/CSO/LATE").await;
    assert_eq!(at_csp["last_updated"], json!(earlier));
    assert!(identical(&cso, &csp, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn uc1_3_unknown_object_falls_back_to_put() {
    let (cso, csp) = connected_with_sites(1).await;
    // The CSP loses the location (say, its operator deleted it by mistake).
    csp.core
        .store
        .transact(|tx| {
            roaming_csp::sites::LOCATIONS
                .delete(tx, b"nl/cso/s-0")
                .map(|_| ())
        })
        .unwrap();
    assert!(
        csp.operator
            .get::<Value>("/api/locations/NL/CSO/S-0")
            .await
            .is_err()
    );
    // A status PATCH answered 404 + 2003 makes the CSO PUT the whole location (T-94).
    set_status(&cso, "S-0", "S-0-E1", "CHARGING").await;
    assert!(identical(&cso, &csp, Duration::from_secs(15)).await);
    let l: Value = csp.op_get("/api/locations/NL/CSO/S-0").await;
    assert_eq!(l["evses"][1]["status"], "CHARGING");
    let dead: Vec<Value> = cso.op_get("/api/outbox").await;
    assert!(dead[0]["dead"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn uc1_3_private_location_changes_are_not_pushed() {
    let (cso, csp) = connected_with_sites(1).await;
    let _: Value = cso
        .op(Method::PATCH, "/api/locations/S-0", &json!({ "publish": false }))
        .await;
    // The CSP is told the site is no longer published and hides it from searches.
    let hidden = eventually(Duration::from_secs(10), || async {
        let r: Value = csp.op_get("/api/locations").await;
        (r["total"] == 0).then_some(())
    })
    .await;
    assert!(hidden.is_some());
    set_status(&cso, "S-0", "S-0-E0", "CHARGING").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let l: Value = csp.op_get("/api/locations/NL/CSO/S-0").await;
    assert_eq!(
        l["evses"][0]["status"], "AVAILABLE",
        "LOC-03: nothing of a private site is sent"
    );
}

#[tokio::test]
async fn uc1_3_changes_after_a_late_registration_are_pushed() {
    // Sites exist before the CSP registers; it gets them by pull, then changes by push.
    let cso = Node::cso().start().await;
    let _: Value = cso
        .op(
            Method::POST,
            "/api/locations/import",
            &json!([location("LATE", 52.0, 5.0, 1)]),
        )
        .await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    assert!(identical(&cso, &csp, Duration::from_secs(10)).await);
    set_status(&cso, "LATE", "LATE-E0", "CHARGING").await;
    assert!(
        identical(&cso, &csp, Duration::from_secs(10)).await,
        "the change after registration was pushed"
    );
}
