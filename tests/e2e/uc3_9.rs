//! UC3-9 SDR information exchange: the CSP's CDRs Receiver (§8.1): POST → 201 with `Location`, GET at
//! that URL, duplicates harmless and never overwritten (CDR-09), only the caller's own CDRs (T-90).

use std::time::Duration;

use http::Method;
use roaming_e2e::fixtures::cdr;
use roaming_e2e::{RawOcpi, token_header};
use serde_json::{Value, json};

use crate::charging::pair;

#[tokio::test]
async fn uc3_9_cdr_receiver_rules() {
    let (cso, csp) = pair(1).await;
    // The CDRs are posted in the CSO's name without the CSO: it refuses the verdicts on them (404).
    csp.expect_dead_letters();
    let raw = RawOcpi::new(None);
    let token = cso.token_for(&csp);
    let url = format!("{}/ocpi/2.2.1/cdrs", csp.ocpi_url);
    // Created: 201 and where to read it back.
    let w = raw.json(Method::POST, &url, &token, &cdr("CDR-1")).await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
    let location = w.header("location").expect("a Location header (§8.1)");
    assert!(location.ends_with("/ocpi/2.2.1/cdrs/NL/CSO/CDR-1"), "{location}");
    let back = raw.get(&location, &token).await;
    assert_eq!(back.envelope().data.unwrap()["id"], "CDR-1");
    // The same CDR again: harmless, same Location (CDR-09).
    let w = raw.json(Method::POST, &url, &token, &cdr("CDR-1")).await;
    assert_eq!((w.status, w.code()), (200, 1000));
    assert_eq!(w.header("location").as_deref(), Some(location.as_str()));
    // The same id with other content: refused, never overwritten.
    let mut changed = cdr("CDR-1");
    changed["total_cost"] = json!({ "excl_vat": 1.0 });
    let w = raw.json(Method::POST, &url, &token, &changed).await;
    assert_eq!(w.code(), 2001, "{:?}", w.body);
    let back = raw.get(&location, &token).await;
    assert_eq!(back.envelope().data.unwrap()["total_cost"]["excl_vat"], 3.5);
    // Another CSO's CDR, or a CDR for a token that is not ours.
    let mut foreign = cdr("CDR-2");
    foreign["party_id"] = json!("XYZ");
    let w = raw.json(Method::POST, &url, &token, &foreign).await;
    assert_eq!(w.code(), 2001);
    let mut not_ours = cdr("CDR-3");
    not_ours["cdr_token"]["party_id"] = json!("OTH");
    let w = raw.json(Method::POST, &url, &token, &not_ours).await;
    assert_eq!(w.code(), 2001);
    // No PUT, PATCH or DELETE of CDRs.
    let w = raw
        .send(Method::DELETE, &location, Some(&token_header(&token)), &[], None)
        .await;
    assert_eq!(w.status, 405, "{:?}", w.body);
    // The operator API lists the CDR for the driver's contract.
    let list: Vec<Value> = csp.op_get("/api/cdrs?contract_id=DE-CSP-C00000001-5").await;
    assert_eq!(list.len(), 1);
}

/// A token of the foreign eMSP DE-FOR that may always charge (whitelist ALWAYS, decided locally).
fn foreign_token(uid: &str) -> Value {
    json!({
        "country_code": "DE", "party_id": "FOR", "uid": uid, "type": "RFID",
        "contract_id": format!("DE-FOR-C{uid}"), "issuer": "Foreign eMSP", "valid": true,
        "whitelist": "ALWAYS", "last_updated": "2026-01-01T00:00:00Z"
    })
}

#[tokio::test]
async fn uc3_9_pushes_to_a_foreign_emsp_go_to_the_announced_urls_exactly() {
    // T-04/T-05: a peer that announces `…/sessions/` and `…/cdrs/` gets its session updates at
    // `…/sessions/NL/CSO/<id>` (one slash) and its CDR POSTed at `…/cdrs/` itself, not at a URL
    // we altered (that only worked before because the server redirected).
    use wiremock::Mock;
    use wiremock::matchers::method;

    let cso = crate::charging::fast_cso().start().await;
    let peer = roaming_e2e::foreign::ForeignPeer::emsp("DE-FOR")
        .module("sessions", "RECEIVER")
        .module("cdrs", "RECEIVER")
        .trailing_slash()
        .register(&cso)
        .await;
    for m in ["PUT", "PATCH", "POST"] {
        Mock::given(method(m))
            .respond_with(peer.answer(Value::Null))
            .mount(&peer.server)
            .await;
    }
    let _: Value = cso
        .op(
            Method::POST,
            "/api/tariffs/import",
            &roaming_e2e::fixtures::tariffs(),
        )
        .await;
    let _: Value = cso
        .op(
            Method::POST,
            "/api/locations/import",
            &json!([roaming_e2e::fixtures::location(
                crate::charging::SITE,
                52.37,
                4.89,
                1
            )]),
        )
        .await;
    // The foreign eMSP pushes its driver's token with its token C.
    let w = RawOcpi::new(None)
        .json(
            Method::PUT,
            &format!("{}/ocpi/2.2.1/tokens/DE/FOR/W0000001", cso.ocpi_url),
            &peer.token_c,
            &foreign_token("W0000001"),
        )
        .await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
    // A whole session at the simulator.
    let evse = crate::charging::evse(0);
    let out = crate::charging::present(&cso, &evse, "W0000001").await;
    assert_eq!(out["outcome"], "starting", "{out}");
    let s = crate::charging::cso_session(&cso, Duration::from_secs(10), |s| {
        s["status"] == "ACTIVE" && s["kwh"].as_f64().unwrap_or(0.0) > 0.0
    })
    .await;
    let id = s["id"].as_str().unwrap().to_owned();
    let _: Value = cso
        .op(
            Method::POST,
            &format!("/api/simulator/evses/{}/{evse}/unplug", crate::charging::SITE),
            &json!({}),
        )
        .await;
    let session_url = format!("/ocpi/sessions/NL/CSO/{id}");
    let seen = roaming_e2e::eventually(Duration::from_secs(15), || async {
        let r = peer.requests().await;
        r.iter().any(|x| x.starts_with("POST ")).then_some(r)
    })
    .await
    .expect("the CDR was POSTed");
    let pushes: Vec<&String> = seen.iter().filter(|r| !r.starts_with("GET ")).collect();
    assert!(
        pushes.iter().any(|r| **r == format!("PUT {session_url}")),
        "{pushes:?}"
    );
    assert!(
        pushes.iter().any(|r| **r == format!("PATCH {session_url}")),
        "{pushes:?}"
    );
    for r in &pushes {
        let (m, path) = r.split_once(' ').unwrap();
        match m {
            "PUT" | "PATCH" => assert_eq!(path, session_url, "{pushes:?}"),
            "POST" => assert_eq!(path, "/ocpi/cdrs/", "the announced URL exactly: {pushes:?}"),
            other => panic!("unexpected {other}: {pushes:?}"),
        }
    }
}
