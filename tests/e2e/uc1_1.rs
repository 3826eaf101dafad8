//! UC1-1 Platform authentication: versions, credentials handshake from either side, rotation,
//! unregistration, token checks, TLS (checklist §3–§5: T-10…T-22, T-40…T-42, V-01…V-10, CR-10…CR-40).

use http::Method;
use roaming_e2e::{Node, RawOcpi, TestTls, token_header};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CREDENTIALS: &str = "/ocpi/2.2.1/credentials";

fn credentials_body(token: &str, url: &str, role: &str, cc: &str, pid: &str) -> serde_json::Value {
    json!({
        "token": token,
        "url": url,
        "roles": [{ "role": role, "party_id": pid, "country_code": cc, "business_details": { "name": "Peer under test" } }]
    })
}

#[tokio::test]
async fn uc1_1_csp_initiated_handshake() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    let inv = cso.operator.invite().await.unwrap();
    let view = csp.operator.connect(&inv.versions_url, &inv.token).await.unwrap();
    assert_eq!(view.id, "NL-CSO");
    assert_eq!(view.version, "2.2.1", "V-10: highest common version");
    assert!(view.initiated_by_us);
    let cso_side = cso.operator.peers().await.unwrap();
    assert_eq!(cso_side.len(), 1);
    assert_eq!(cso_side[0].id, "DE-CSP");
    assert!(!cso_side[0].initiated_by_us);
    assert!(cso_side[0].modules.iter().any(|m| m.starts_with("credentials")));

    // CR-13: token A is dead everywhere after registration.
    let raw = RawOcpi::new(None);
    let w = raw.get(&inv.versions_url, &inv.token).await;
    assert_eq!(w.status, 401);
    assert!(
        w.envelope().timestamp.timestamp_millis() > 0,
        "T-22: 401 carries the envelope"
    );

    // Both sides call each other with the exchanged tokens (B and C).
    let w = raw.get(&cso.versions_url, &csp.token_for(&cso)).await;
    assert_eq!((w.status, w.code()), (200, 1000));
    let w = raw.get(&csp.versions_url, &cso.token_for(&csp)).await;
    assert_eq!((w.status, w.code()), (200, 1000));
    // CR-40: GET credentials returns the server's credentials with the caller's token.
    let w = raw
        .get(&format!("{}{CREDENTIALS}", cso.ocpi_url), &csp.token_for(&cso))
        .await;
    let data = w.envelope().data.unwrap();
    assert_eq!(data["token"], csp.token_for(&cso));
    assert_eq!(data["url"], cso.versions_url);
    assert_eq!(data["roles"][0]["role"], "CPO");
}

#[tokio::test]
async fn uc1_1_cso_initiated_handshake() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    let view = cso.connect_to(&csp).await;
    assert_eq!(view.id, "DE-CSP");
    assert_eq!(csp.operator.peers().await.unwrap()[0].id, "NL-CSO");
    let raw = RawOcpi::new(None);
    assert_eq!(raw.get(&csp.versions_url, &cso.token_for(&csp)).await.status, 200);
    assert_eq!(raw.get(&cso.versions_url, &csp.token_for(&cso)).await.status, 200);
}

#[tokio::test]
async fn uc1_1_version_details_list_credentials() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let raw = RawOcpi::new(None);
    let versions = raw
        .get(&cso.versions_url, &csp.token_for(&cso))
        .await
        .envelope()
        .data
        .unwrap();
    assert_eq!(
        versions,
        json!([{ "version": "2.2.1", "url": format!("{}/ocpi/2.2.1", cso.ocpi_url) }])
    );
    let details = raw
        .get(&format!("{}/ocpi/2.2.1", cso.ocpi_url), &csp.token_for(&cso))
        .await
        .envelope()
        .data
        .unwrap();
    assert_eq!(details["version"], "2.2.1");
    let creds = details["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["identifier"] == "credentials")
        .unwrap();
    assert_eq!(creds["url"], format!("{}{CREDENTIALS}", cso.ocpi_url));
}

#[tokio::test]
async fn uc1_1_handshake_over_tls_with_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let tls = TestTls::generate(dir.path());
    let cso = Node::cso().tls(&tls).start().await;
    let csp = Node::csp().tls(&tls).start().await;
    assert!(cso.versions_url.starts_with("https://"));
    let view = csp.connect_to(&cso).await;
    assert_eq!(view.version, "2.2.1");
    let raw = RawOcpi::new(Some(&tls));
    assert_eq!(raw.get(&cso.versions_url, &csp.token_for(&cso)).await.status, 200);
    assert_eq!(raw.get(&csp.versions_url, &cso.token_for(&csp)).await.status, 200);
    // Rotation and disconnect over TLS too.
    csp.operator.rotate("NL-CSO").await.unwrap();
    cso.operator.disconnect("DE-CSP", false).await.unwrap();
    assert!(csp.operator.peers().await.unwrap().is_empty());
}

#[tokio::test]
async fn uc1_1_untrusted_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tls = TestTls::generate(dir.path());
    let other_dir = tempfile::tempdir().unwrap();
    let other = TestTls::generate(other_dir.path());
    let cso = Node::cso().tls(&tls).start().await;
    // The CSP trusts a different CA: the TLS handshake to the CSO must fail.
    let csp = Node::csp().tls(&other).start().await;
    let inv = cso.operator.invite().await.unwrap();
    let err = csp
        .operator
        .connect(&inv.versions_url, &inv.token)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("502"), "{err}");
    assert!(csp.operator.peers().await.unwrap().is_empty());
    // The invitation is still usable: nothing was consumed.
    let csp2 = Node::csp().party("DE-CS2").tls(&tls).start().await;
    csp2.operator
        .connect(&inv.versions_url, &inv.token)
        .await
        .unwrap();
}

#[tokio::test]
async fn uc1_1_rotation_from_csp() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let raw = RawOcpi::new(None);
    let old_csp_to_cso = csp.token_for(&cso);
    let old_cso_to_csp = cso.token_for(&csp);
    csp.operator.rotate("NL-CSO").await.unwrap();
    let new_csp_to_cso = csp.token_for(&cso);
    let new_cso_to_csp = cso.token_for(&csp);
    assert_ne!(old_csp_to_cso, new_csp_to_cso);
    assert_ne!(old_cso_to_csp, new_cso_to_csp);
    // New tokens work; once used, the old ones are rejected (CR-24 grace ends on first use).
    assert_eq!(raw.get(&cso.versions_url, &new_csp_to_cso).await.status, 200);
    assert_eq!(raw.get(&cso.versions_url, &old_csp_to_cso).await.status, 401);
    assert_eq!(raw.get(&csp.versions_url, &new_cso_to_csp).await.status, 200);
    assert_eq!(raw.get(&csp.versions_url, &old_cso_to_csp).await.status, 401);
}

#[tokio::test]
async fn uc1_1_rotation_from_cso() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let raw = RawOcpi::new(None);
    let old = csp.token_for(&cso);
    cso.operator.rotate("DE-CSP").await.unwrap();
    let new = csp.token_for(&cso);
    assert_ne!(old, new);
    assert_eq!(raw.get(&cso.versions_url, &new).await.status, 200);
    assert_eq!(raw.get(&cso.versions_url, &old).await.status, 401);
    // And again: rotation is repeatable.
    cso.operator.rotate("DE-CSP").await.unwrap();
    assert_eq!(raw.get(&cso.versions_url, &csp.token_for(&cso)).await.status, 200);
}

#[tokio::test]
async fn uc1_1_old_token_has_a_grace_period_until_the_new_one_is_used() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let raw = RawOcpi::new(None);
    let old = csp.token_for(&cso);
    cso.operator.rotate("DE-CSP").await.unwrap();
    // CR-24: before the new token is used, the old one still works (messages in flight).
    assert_eq!(raw.get(&cso.versions_url, &old).await.status, 200);
}

#[tokio::test]
async fn uc1_1_disconnect_from_csp() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let raw = RawOcpi::new(None);
    let to_cso = csp.token_for(&cso);
    let to_csp = cso.token_for(&csp);
    csp.operator.disconnect("NL-CSO", false).await.unwrap();
    assert!(csp.operator.peers().await.unwrap().is_empty());
    assert!(
        cso.operator.peers().await.unwrap().is_empty(),
        "CR-30: both sides forget"
    );
    assert_eq!(
        raw.get(&cso.versions_url, &to_cso).await.status,
        401,
        "revoked token"
    );
    assert_eq!(
        raw.get(&csp.versions_url, &to_csp).await.status,
        401,
        "revoked token"
    );
    // They can connect again afterwards.
    cso.connect_to(&csp).await;
}

#[tokio::test]
async fn uc1_1_disconnect_from_cso() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    cso.connect_to(&csp).await;
    cso.operator.disconnect("DE-CSP", false).await.unwrap();
    assert!(csp.operator.peers().await.unwrap().is_empty());
    assert!(cso.operator.peers().await.unwrap().is_empty());
}

#[tokio::test]
async fn uc1_1_unauthorized_requests_get_401() {
    let cso = Node::cso().start().await;
    let raw = RawOcpi::new(None);
    for auth in [
        None,
        Some("Token"),
        Some("Bearer abc"),
        Some(token_header("wrong-token").as_str()),
        Some("Token d3Jvbmc="),
    ] {
        let w = raw.send(Method::GET, &cso.versions_url, auth, &[], None).await;
        assert_eq!(w.status, 401, "{auth:?}");
        assert_eq!(w.code(), 2000);
        assert!(w.header("x-request-id").is_some(), "T-40 on errors too");
    }
    for path in [CREDENTIALS, "/ocpi/2.2.1", "/ocpi/2.2.1/locations"] {
        let w = raw
            .send(Method::GET, &format!("{}{path}", cso.ocpi_url), None, &[], None)
            .await;
        assert_eq!(w.status, 401, "{path}");
    }
}

#[tokio::test]
async fn uc1_1_token_a_reaches_only_versions_and_credentials() {
    let cso = Node::cso().start().await;
    let raw = RawOcpi::new(None);
    let inv = cso.operator.invite().await.unwrap();
    assert_eq!(raw.get(&inv.versions_url, &inv.token).await.status, 200);
    assert_eq!(
        raw.get(&format!("{}/ocpi/2.2.1", cso.ocpi_url), &inv.token)
            .await
            .status,
        200
    );
    // T-22: a functional module with token A → 401.
    let w = raw
        .get(&format!("{}/ocpi/2.2.1/locations", cso.ocpi_url), &inv.token)
        .await;
    assert_eq!(w.status, 401, "{}", w.body);
    // CR-22 / CR-31: PUT, DELETE (and GET) of credentials before registration → 405.
    let url = format!("{}{CREDENTIALS}", cso.ocpi_url);
    let body = credentials_body("abc", "https://peer.example/ocpi/versions", "EMSP", "DE", "XYZ");
    for m in [Method::PUT, Method::DELETE, Method::GET] {
        let w = raw.json(m.clone(), &url, &inv.token, &body).await;
        assert_eq!(w.status, 405, "{m}");
        assert_eq!(w.code(), 2000);
    }
}

#[tokio::test]
async fn uc1_1_repeated_post_is_405() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let raw = RawOcpi::new(None);
    let body = credentials_body("another-token", &csp.versions_url, "EMSP", "DE", "CSP");
    let w = raw
        .json(
            Method::POST,
            &format!("{}{CREDENTIALS}", cso.ocpi_url),
            &csp.token_for(&cso),
            &body,
        )
        .await;
    assert_eq!(w.status, 405, "CR-12");
    assert_eq!(cso.operator.peers().await.unwrap().len(), 1);
}

#[tokio::test]
async fn uc1_1_unreachable_initiator_gives_3001_and_leaves_nothing() {
    let cso = Node::cso().start().await;
    let raw = RawOcpi::new(None);
    let inv = cso.operator.invite().await.unwrap();
    let body = credentials_body(
        "token-b-of-a-dead-peer",
        "http://127.0.0.1:1/ocpi/versions",
        "EMSP",
        "DE",
        "CSP",
    );
    let w = raw
        .json(
            Method::POST,
            &format!("{}{CREDENTIALS}", cso.ocpi_url),
            &inv.token,
            &body,
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 3001), "CR-10: {}", w.body);
    assert!(
        cso.operator.peers().await.unwrap().is_empty(),
        "no half-registered peer"
    );
    // The invitation is still valid and a real peer can use it (CR-14).
    let csp = Node::csp().start().await;
    csp.operator.connect(&inv.versions_url, &inv.token).await.unwrap();
}

async fn fake_peer(versions: serde_json::Value, details: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    let envelope = |data: serde_json::Value| json!({ "data": data, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z" });
    Mock::given(method("GET"))
        .and(path("/versions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(versions)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/details"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(details)))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn uc1_1_no_common_version_gives_3002() {
    let peer = fake_peer(json!([]), json!({})).await;
    let versions = json!([{ "version": "2.1.1", "url": format!("{}/details", peer.uri()) }]);
    let peer = fake_peer(versions, json!({})).await;
    let cso = Node::cso().start().await;
    let inv = cso.operator.invite().await.unwrap();
    let body = credentials_body(
        "token-b",
        &format!("{}/versions", peer.uri()),
        "EMSP",
        "DE",
        "CSP",
    );
    let w = RawOcpi::new(None)
        .json(
            Method::POST,
            &format!("{}{CREDENTIALS}", cso.ocpi_url),
            &inv.token,
            &body,
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 3002), "CR-11: {}", w.body);
    assert!(cso.operator.peers().await.unwrap().is_empty());
    // As initiator, the same peer is refused before anything is POSTed.
    let err = cso
        .operator
        .connect(&format!("{}/versions", peer.uri()), "some-token-a")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no common OCPI version"), "{err}");
}

#[tokio::test]
async fn uc1_1_missing_credentials_module_gives_3003() {
    let server = MockServer::start().await;
    let details = json!({ "version": "2.2.1", "endpoints": [
        { "identifier": "locations", "role": "RECEIVER", "url": format!("{}/locations", server.uri()) }
    ]});
    let versions = json!([{ "version": "2.2.1", "url": format!("{}/details", server.uri()) }]);
    let envelope = |data: serde_json::Value| json!({ "data": data, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z" });
    Mock::given(method("GET"))
        .and(path("/versions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(versions)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/details"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(details)))
        .mount(&server)
        .await;
    let cso = Node::cso().start().await;
    let inv = cso.operator.invite().await.unwrap();
    let body = credentials_body(
        "token-b",
        &format!("{}/versions", server.uri()),
        "EMSP",
        "DE",
        "CSP",
    );
    let w = RawOcpi::new(None)
        .json(
            Method::POST,
            &format!("{}{CREDENTIALS}", cso.ocpi_url),
            &inv.token,
            &body,
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 3003), "CR-11: {}", w.body);
}

#[tokio::test]
async fn uc1_1_wrong_role_or_bad_credentials_give_2001() {
    let cso = Node::cso().start().await;
    let inv = cso.operator.invite().await.unwrap();
    let url = format!("{}{CREDENTIALS}", cso.ocpi_url);
    let raw = RawOcpi::new(None);
    // A CPO registering with a CPO.
    let body = credentials_body("token-b", "http://127.0.0.1:1/v", "CPO", "DE", "CPX");
    let w = raw.json(Method::POST, &url, &inv.token, &body).await;
    assert_eq!((w.status, w.code()), (200, 2001), "{}", w.body);
    // Missing roles, bad token charset.
    for body in [
        json!({ "token": "x", "url": "http://a/v", "roles": [] }),
        json!({ "token": "has space", "url": "http://a/v", "roles": [] }),
    ] {
        let w = raw.json(Method::POST, &url, &inv.token, &body).await;
        assert_eq!((w.status, w.code()), (200, 2001), "{}", w.body);
    }
}

#[tokio::test]
async fn uc1_1_framework_errors_are_enveloped() {
    let cso = Node::cso().start().await;
    let raw = RawOcpi::new(None);
    let inv = cso.operator.invite().await.unwrap();
    let auth = token_header(&inv.token);
    // T-22: unknown route.
    let w = raw
        .send(
            Method::GET,
            &format!("{}/ocpi/2.2.1/nothing", cso.ocpi_url),
            Some(&auth),
            &[],
            None,
        )
        .await;
    assert_eq!((w.status, w.code()), (404, 2000));
    // Wrong method.
    let w = raw
        .send(Method::PATCH, &cso.versions_url, Some(&auth), &[], None)
        .await;
    assert_eq!((w.status, w.code()), (405, 2000));
    // Not JSON → 400 (§3.4).
    let w = raw
        .send(
            Method::POST,
            &format!("{}{CREDENTIALS}", cso.ocpi_url),
            Some(&auth),
            &[],
            Some(b"{not json".to_vec()),
        )
        .await;
    assert_eq!((w.status, w.code()), (400, 2001));
    // Body too large → 413.
    let big = vec![b' '; 5 * 1024 * 1024];
    let w = raw
        .send(
            Method::POST,
            &format!("{}{CREDENTIALS}", cso.ocpi_url),
            Some(&auth),
            &[],
            Some(big),
        )
        .await;
    assert_eq!((w.status, w.code()), (413, 2000));
    // Wrong content type → 415.
    let w = raw
        .send(
            Method::POST,
            &format!("{}{CREDENTIALS}", cso.ocpi_url),
            Some(&auth),
            &[("content-type", "text/plain")],
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(w.status, 415);
}

#[tokio::test]
async fn uc1_1_request_and_correlation_ids_are_echoed_or_generated() {
    let cso = Node::cso().start().await;
    let raw = RawOcpi::new(None);
    let inv = cso.operator.invite().await.unwrap();
    let auth = token_header(&inv.token);
    let w = raw
        .send(
            Method::GET,
            &cso.versions_url,
            Some(&auth),
            &[("x-request-id", "req-1"), ("x-correlation-id", "corr-1")],
            None,
        )
        .await;
    assert_eq!(w.header("x-request-id").as_deref(), Some("req-1"));
    assert_eq!(w.header("x-correlation-id").as_deref(), Some("corr-1"));
    let w = raw
        .send(Method::GET, &cso.versions_url, Some(&auth), &[], None)
        .await;
    assert!(
        w.header("x-request-id").is_some_and(|v| v.len() >= 16),
        "T-40: generated when absent"
    );
    assert!(w.header("x-correlation-id").is_some(), "T-41");
    // Configuration modules carry no routing headers (T-51).
    assert!(w.header("ocpi-from-country-code").is_none());
}

#[tokio::test]
async fn uc1_1_raw_token_compatibility_mode() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let raw = RawOcpi::new(None);
    let token = csp.token_for(&cso);
    let raw_header = format!("Token {token}");
    // T-15: off by default.
    let w = raw
        .send(Method::GET, &cso.versions_url, Some(&raw_header), &[], None)
        .await;
    assert_eq!(w.status, 401);
    let _: serde_json::Value = cso
        .operator
        .send(
            Method::PATCH,
            "/api/peers/DE-CSP",
            Some(&json!({ "raw_token_in": true })),
        )
        .await
        .unwrap();
    let w = raw
        .send(Method::GET, &cso.versions_url, Some(&raw_header), &[], None)
        .await;
    assert_eq!(w.status, 200);
}

#[tokio::test]
async fn uc1_1_invitation_is_single_use() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    let inv = cso.operator.invite().await.unwrap();
    csp.operator.connect(&inv.versions_url, &inv.token).await.unwrap();
    let other = Node::csp().party("DE-OTH").start().await;
    let err = other
        .operator
        .connect(&inv.versions_url, &inv.token)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    assert_eq!(cso.operator.peers().await.unwrap().len(), 1);
}

#[tokio::test]
async fn uc1_1_registration_survives_restart() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let token = csp.token_for(&cso);
    let (dir, _) = cso.stop().await;
    let cso = Node::cso().data_dir(dir).start().await;
    assert_eq!(cso.operator.peers().await.unwrap().len(), 1);
    assert_eq!(
        RawOcpi::new(None).get(&cso.versions_url, &token).await.status,
        200
    );
}

#[tokio::test]
async fn uc1_1_a_foreign_emsp_registers_through_the_handshake() {
    // The harness every interoperability test builds on: another implementation initiates.
    let cso = Node::cso().start().await;
    let peer = roaming_e2e::foreign::ForeignPeer::emsp("DE-FOR")
        .module("tokens", "SENDER")
        .register(&cso)
        .await;
    let stored = cso.peer("DE-FOR").expect("registered");
    assert_eq!(stored.token_out.expose(), peer.token_b);
    assert_eq!(
        stored.endpoint(
            &roaming_types::modules::versions::ModuleId::Tokens,
            &roaming_types::modules::versions::InterfaceRole::Sender
        ),
        Some(peer.module_url("tokens").as_str())
    );
    // Our node read its versions and details with token B (§5.2 steps 5–6).
    assert_eq!(peer.requests().await, ["GET /ocpi/versions", "GET /ocpi/2.2.1"]);
    // Token C works on our node.
    let w = RawOcpi::new(None)
        .get(&format!("{}/ocpi/2.2.1/locations", cso.ocpi_url), &peer.token_c)
        .await;
    assert_eq!((w.status, w.code()), (200, 1000), "{}", w.body);
}

#[tokio::test]
async fn uc1_1_version_details_in_a_one_element_array_are_accepted_and_recorded() {
    // #12 item 2, tolerant in: the handshake reads version details sent as `[{…}]` (a widely used
    // library's deviation); the new peer record carries the deviation, shown to the operator.
    let csp = Node::csp().start().await;
    let _peer = roaming_e2e::foreign::ForeignPeer::cpo("NL-FOR")
        .module("locations", "SENDER")
        .details_as_array()
        .register(&csp)
        .await;
    let peers: Vec<serde_json::Value> = csp.op_get("/api/peers").await;
    let view = peers.iter().find(|p| p["id"] == "NL-FOR").expect("registered");
    assert_eq!(view["modules"][1], "locations SENDER", "{view}");
    let deviations = view["deviations"].as_array().unwrap();
    assert_eq!(deviations.len(), 1, "{deviations:?}");
    assert_eq!(deviations[0]["kind"], "object_as_array");
    assert!(
        deviations[0]["example"]
            .as_str()
            .unwrap()
            .contains("/ocpi/2.2.1: VersionDetails sent as a one-element array"),
        "{deviations:?}"
    );
}

#[tokio::test]
async fn uc1_1_disconnect_succeeds_when_the_peer_refuses_our_token() {
    // #12 item 10: 401, 403 and 405 to our credentials DELETE all mean the peer no longer accepts
    // us (or has forgotten us): the disconnect succeeds locally instead of failing with 502.
    let csp = Node::csp().start().await;
    for (i, status) in [401u16, 403, 405].into_iter().enumerate() {
        let party = format!("NL-FO{i}");
        let peer = roaming_e2e::foreign::ForeignPeer::cpo(&party)
            .register(&csp)
            .await;
        Mock::given(method("DELETE"))
            .and(path("/ocpi/credentials"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "status_code": 2000, "status_message": "no", "timestamp": "2026-01-01T00:00:00Z"
            })))
            .mount(&peer.server)
            .await;
        if status == 403 {
            // A rotation it refuses fails, and marks the peer unauthorized.
            Mock::given(method("PUT"))
                .and(path("/ocpi/credentials"))
                .respond_with(ResponseTemplate::new(403).set_body_string("Forbidden"))
                .mount(&peer.server)
                .await;
            assert!(csp.operator.rotate(&party).await.is_err());
            let view = csp
                .operator
                .peers()
                .await
                .unwrap()
                .into_iter()
                .find(|p| p.id == party)
                .unwrap();
            let view = serde_json::to_value(view).unwrap();
            assert!(view["unauthorized"]["since"].is_string(), "{view}");
        }
        csp.operator
            .disconnect(&party, false)
            .await
            .unwrap_or_else(|e| panic!("HTTP {status}: {e}"));
        assert!(csp.peer(&party).is_none(), "HTTP {status}: removed locally");
        assert!(
            peer.requests()
                .await
                .contains(&"DELETE /ocpi/credentials".to_owned()),
            "the peer was told"
        );
    }
}
