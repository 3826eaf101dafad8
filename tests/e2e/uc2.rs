//! UC2-1 Inform home-CSP on tariff information (Tariffs Receiver PUT/DELETE, `Connector.tariff_ids`)
//! and UC2-2 Home-CSP requests tariffs from visited-CSO (Tariffs Sender GET, paginated; the tariffs
//! of a connector in the CSP's operator API). Checklist §9.1, T-60…T-62, T-90…T-93.

use std::time::Duration;

use http::Method;
use roaming_e2e::fixtures::{location, tariffs};
use roaming_e2e::{Node, RawOcpi, eventually, instant};
use serde_json::{Value, json};

async fn csp_tariffs(csp: &Node, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(10), || async {
        let t: Vec<Value> = csp.op_get("/api/tariffs?party=NL-CSO").await;
        (t.len() == n).then_some(t)
    })
    .await
    .unwrap_or_else(|| panic!("the CSP did not reach {n} tariffs"))
}

#[tokio::test]
async fn uc2_1_tariffs_are_pushed_and_deleted() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let _: Value = cso.op(Method::POST, "/api/tariffs/import", &tariffs()).await;
    let _: Value = cso
        .op(
            Method::POST,
            "/api/locations/import",
            &json!([location("T-1", 52.0, 5.0, 2)]),
        )
        .await;
    // Both, and the free-of-charge tariff the CSO always publishes.
    let at_csp = csp_tariffs(&csp, 3).await;
    let at_cso: Vec<Value> = cso.op_get("/api/tariffs").await;
    assert_eq!(at_csp, at_cso, "the CSP holds the CSO's tariffs as sent");

    // A changed tariff is pushed again (PUT replaces).
    let mut t = at_cso[0].clone();
    t["elements"][0]["price_components"][0]["price"] = json!(0.39);
    t.as_object_mut().unwrap().remove("last_updated");
    let _: Value = cso.op(Method::PUT, "/api/tariffs/AC-STD", &t).await;
    let changed = eventually(Duration::from_secs(10), || async {
        let t: Vec<Value> = csp.op_get("/api/tariffs?party=NL-CSO").await;
        t.iter()
            .any(|x| x["id"] == "AC-STD" && x["elements"][0]["price_components"][0]["price"] == 0.39)
            .then_some(())
    })
    .await;
    assert!(changed.is_some());

    // A tariff still referenced by a connector cannot be deleted (§9.1: unreference it first).
    let err = cso
        .operator
        .send::<(), Value>(Method::DELETE, "/api/tariffs/DC-FAST", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("409"), "{err}");
    // Point the connector at the AC tariff (a connector PATCH, pushed), then delete: pushed as DELETE.
    let _: Value = cso
        .op(
            Method::PATCH,
            "/api/locations/T-1/T-1-E1/1",
            &json!({ "tariff_ids": ["AC-STD"] }),
        )
        .await;
    let _: Value = cso
        .operator
        .send::<(), Value>(Method::DELETE, "/api/tariffs/DC-FAST", None)
        .await
        .unwrap();
    let left = csp_tariffs(&csp, 2).await;
    assert_eq!(left[0]["id"], "AC-STD");
    assert_eq!(left[1]["id"], "FREE");
    let l: Value = csp.op_get("/api/locations/NL/CSO/T-1").await;
    assert_eq!(l["evses"][1]["connectors"][0]["tariff_ids"], json!(["AC-STD"]));
}

/// The CSO's clock for tariffs: a changed tariff whose `last_updated` is older than the stored one is
/// stamped newer, so the CSP (which ignores older versions, T-80) takes it; an unchanged one is no change.
#[tokio::test]
async fn uc2_1_a_changed_tariff_with_an_older_stamp_still_reaches_the_csp() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let mut t = tariffs()[0].clone();
    t["last_updated"] = json!("2026-06-01T00:00:00Z");
    let r: Value = cso
        .op(Method::POST, "/api/tariffs/import", &json!([t.clone()]))
        .await;
    assert_eq!(r, json!({ "imported": 1, "unchanged": 0 }));
    csp_tariffs(&csp, 2).await;
    t["last_updated"] = json!("2026-05-01T00:00:00Z");
    t["elements"][0]["price_components"][0]["price"] = json!(0.45);
    let stored: Value = cso.op(Method::PUT, "/api/tariffs/AC-STD", &t).await;
    assert!(
        instant(&stored["last_updated"]) > instant(&json!("2026-06-01T00:00:00Z")),
        "{stored}"
    );
    let reached = eventually(Duration::from_secs(10), || async {
        let at_csp: Vec<Value> = csp.op_get("/api/tariffs?party=NL-CSO").await;
        (at_csp.first() == Some(&stored)).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "the CSP holds the changed tariff as the CSO stored it"
    );
    let r: Value = cso.op(Method::POST, "/api/tariffs/import", &json!([t])).await;
    assert_eq!(r, json!({ "imported": 1, "unchanged": 1 }));
    assert_eq!(cso.op_get::<Value>("/api/tariffs/AC-STD").await, stored);
}

#[tokio::test]
async fn uc2_1_tariff_receiver_rules() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let raw = RawOcpi::new(None);
    let token = cso.token_for(&csp);
    let base = format!("{}/ocpi/2.2.1/tariffs", csp.ocpi_url);
    let mut t = tariffs()[0].clone();
    t["country_code"] = json!("NL");
    t["party_id"] = json!("CSO");
    t["last_updated"] = json!("2026-06-01T00:00:00Z");
    let w = raw
        .json(Method::PUT, &format!("{base}/NL/CSO/AC-STD"), &token, &t)
        .await;
    assert_eq!((w.status, w.code()), (201, 1000));
    let w = raw.get(&format!("{base}/NL/CSO/AC-STD"), &token).await;
    assert_eq!(w.envelope().data.unwrap()["id"], "AC-STD");
    let w = raw
        .json(Method::PUT, &format!("{base}/NL/CSO/OTHER"), &token, &t)
        .await;
    assert_eq!((w.status, w.code()), (200, 2001), "T-93");
    let w = raw
        .json(Method::PUT, &format!("{base}/BE/XYZ/AC-STD"), &token, &t)
        .await;
    assert_eq!((w.status, w.code()), (404, 2001), "T-90");
    // An older version is acknowledged and ignored.
    let mut old = t.clone();
    old["last_updated"] = json!("2026-05-01T00:00:00Z");
    old["currency"] = json!("USD");
    let w = raw
        .json(Method::PUT, &format!("{base}/NL/CSO/AC-STD"), &token, &old)
        .await;
    assert_eq!(w.code(), 1000);
    let w = raw.get(&format!("{base}/NL/CSO/AC-STD"), &token).await;
    assert_eq!(w.envelope().data.unwrap()["currency"], "EUR");
    let w = raw
        .send(
            Method::DELETE,
            &format!("{base}/NL/CSO/NOPE"),
            Some(&roaming_e2e::token_header(&token)),
            &[],
            None,
        )
        .await;
    assert_eq!((w.status, w.code()), (404, 2001));
    let w = raw
        .send(
            Method::DELETE,
            &format!("{base}/NL/CSO/AC-STD"),
            Some(&roaming_e2e::token_header(&token)),
            &[],
            None,
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 1000));
    // PATCH does not exist for tariffs in 2.2.1.
    let w = raw
        .json(
            Method::PATCH,
            &format!("{base}/NL/CSO/AC-STD"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(w.status, 405);
}

#[tokio::test]
async fn uc2_2_csp_pulls_tariffs_and_shows_those_of_a_connector() {
    let cso = Node::cso().start().await;
    let mut more = tariffs().as_array().unwrap().clone();
    for i in 0..5 {
        let mut t = more[0].clone();
        t["id"] = json!(format!("OLD-{i}"));
        t["end_date_time"] = json!("2025-01-01T00:00:00Z");
        more.push(t);
    }
    let _: Value = cso
        .op(Method::POST, "/api/tariffs/import", &Value::Array(more))
        .await;
    let mut loc = location("Q-1", 52.0, 5.0, 1);
    loc["evses"][0]["connectors"][0]["tariff_ids"] = json!(["AC-STD", "OLD-0"]);
    let _: Value = cso.op(Method::POST, "/api/locations/import", &json!([loc])).await;

    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    // The Tariffs Sender GET is paginated like every list (T-60…T-62).
    let raw = RawOcpi::new(None);
    let token = csp.token_for(&cso);
    let w = raw
        .get(&format!("{}/ocpi/2.2.1/tariffs?limit=3", cso.ocpi_url), &token)
        .await;
    assert_eq!(w.envelope().data.unwrap().as_array().unwrap().len(), 3);
    // The seven, and the free-of-charge tariff.
    assert_eq!(w.header("x-total-count").as_deref(), Some("8"));
    assert!(w.header("link").is_some());
    // The CSP pulled them all after registering, and can pull again any time.
    csp_tariffs(&csp, 8).await;
    let report: Value = csp
        .op(Method::POST, "/api/peers/NL-CSO/sync?full=true", &json!({}))
        .await;
    assert_eq!(report["removed"], 0);
    let for_connector: Vec<Value> = csp.op_get("/api/locations/NL/CSO/Q-1/Q-1-E0/1/tariffs").await;
    assert_eq!(for_connector.len(), 2);
    assert_eq!(
        (
            for_connector[0]["tariff_id"].as_str(),
            for_connector[0]["active_now"].as_bool()
        ),
        (Some("AC-STD"), Some(true))
    );
    assert_eq!(
        (
            for_connector[1]["tariff_id"].as_str(),
            for_connector[1]["active_now"].as_bool()
        ),
        (Some("OLD-0"), Some(false))
    );
    assert_eq!(
        for_connector[0]["tariff"]["elements"][0]["price_components"][0]["price"],
        0.35
    );
}

/// A plain OCPI CSO (no extension modules), registered with `csp` through the real flow.
async fn plain_cso(csp: &Node) -> (roaming_e2e::TestEndpoint, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut defaults = roaming_peer::testing::defaults(roaming_types::modules::types::Role::Cpo);
    defaults.party = "NL-CSX".parse().unwrap();
    let plain =
        roaming_e2e::TestEndpoint::start(&defaults, dir.path().to_path_buf(), &[], None, |_core| async {
            Ok(roaming_peer::endpoint::RoleParts::default())
        })
        .await
        .unwrap();
    let inv = csp.operator.invite().await.unwrap();
    plain
        .operator
        .connect(&inv.versions_url, &inv.token)
        .await
        .unwrap();
    let token = plain
        .core
        .peers
        .get("DE-CSP")
        .unwrap()
        .unwrap()
        .token_out
        .expose()
        .to_owned();
    (plain, dir, token)
}

#[tokio::test]
async fn uc2_2_a_cso_without_the_quote_extension_is_priced_locally() {
    let csp = Node::csp().start().await;
    let (_plain, _dir, token) = plain_cso(&csp).await;
    let raw = RawOcpi::new(None);
    let now = "2026-01-01T00:00:00Z";
    let mut t = tariffs()[0].clone();
    t["country_code"] = json!("NL");
    t["party_id"] = json!("CSX");
    t["last_updated"] = json!(now);
    let w = raw
        .json(
            Method::PUT,
            &format!("{}/ocpi/2.2.1/tariffs/NL/CSX/AC-STD", csp.ocpi_url),
            &token,
            &t,
        )
        .await;
    assert_eq!(w.code(), 1000, "{:?}", w.body);
    let mut l = location("Q-1", 52.0, 5.0, 1);
    l["country_code"] = json!("NL");
    l["party_id"] = json!("CSX");
    l["last_updated"] = json!(now);
    l["evses"][0]["last_updated"] = json!(now);
    l["evses"][0]["connectors"][0]["last_updated"] = json!(now);
    let w = raw
        .json(
            Method::PUT,
            &format!("{}/ocpi/2.2.1/locations/NL/CSX/Q-1", csp.ocpi_url),
            &token,
            &l,
        )
        .await;
    assert_eq!(w.code(), 1000, "{:?}", w.body);
    // 10 kWh over an hour on AC-STD (0.35/kWh + 21 % VAT), priced by the CSP itself.
    let q: Value = csp
        .op(
            Method::POST,
            "/api/quotes",
            &json!({ "cpo": "NL-CSX", "location_id": "Q-1", "evse_uid": "Q-1-E0", "energy_kwh": 10, "charging_minutes": 60 }),
        )
        .await;
    assert_eq!(q["source"], "local", "{q}");
    assert_eq!(q["total_cost"], json!({ "excl_vat": 3.5, "incl_vat": 4.235 }));
    assert_eq!(q["tariff"]["id"], "AC-STD");
    // An unknown location is a 404 at the operator API.
    let err = csp
        .operator
        .send::<Value, Value>(
            Method::POST,
            "/api/quotes",
            Some(&json!({ "cpo": "NL-CSX", "location_id": "NOPE", "evse_uid": "X", "energy_kwh": 1, "charging_minutes": 5 })),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}
