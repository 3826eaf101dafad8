//! UC3-1 Start charging roaming locally at the EV supply equipment: tokens pushed by the CSP, the
//! CSO's whitelist decision (TOK-10) online and offline, the real-time authorization (§10.2.2,
//! TOK-02…TOK-09) and the session's `auth_method` / `authorization_reference` (SES-04, SES-05).

use std::time::Duration;

use http::Method;
use roaming_e2e::foreign::ForeignPeer;
use roaming_e2e::{Node, RawOcpi};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::charging::{
    cso_session, cso_token, csp_session, evse, fast_cso, issue, load_site, pair, present, rfid,
};

const SECS10: Duration = Duration::from_secs(10);

fn decision(outcome: &Value) -> &Value {
    &outcome["decision"]
}

#[tokio::test]
async fn uc3_1_every_whitelist_type_online() {
    let (cso, csp) = pair(4).await;
    // (uid, whitelist, where the decision comes from, auth_method)
    let cases = [
        ("A0000001", "ALWAYS", "LOCAL", "WHITELIST"),
        ("A0000002", "ALLOWED", "LOCAL", "WHITELIST"),
        ("A0000003", "ALLOWED_OFFLINE", "REAL_TIME", "AUTH_REQUEST"),
        ("A0000004", "NEVER", "REAL_TIME", "AUTH_REQUEST"),
    ];
    for (i, (uid, whitelist, source, method)) in cases.iter().enumerate() {
        rfid(&csp, &cso, uid, whitelist).await;
        let out = present(&cso, &evse(i), uid).await;
        assert_eq!(out["outcome"], "starting", "{whitelist}: {out}");
        let d = decision(&out);
        assert_eq!(d["allowed"], true, "{whitelist}");
        assert_eq!(d["source"], *source, "{whitelist}: {d}");
        assert_eq!(d["auth_method"], *method, "{whitelist}");
        let real_time = *source == "REAL_TIME";
        assert_eq!(
            d.get("authorization_reference").is_some(),
            real_time,
            "{whitelist}: {d}"
        );

        // The session carries the decision (SES-04, SES-05) and reaches the CSP.
        let s = cso_session(&cso, SECS10, |s| s["cdr_token"]["uid"] == *uid).await;
        assert_eq!(s["auth_method"], *method);
        assert_eq!(s["authorization_reference"], d["authorization_reference"].clone());
        let at_csp = csp_session(&csp, SECS10, |x| x["id"] == s["id"]).await;
        assert_eq!(at_csp["auth_method"], *method);
        assert_eq!(at_csp["cdr_token"]["contract_id"], s["cdr_token"]["contract_id"]);
    }
    // The CSP remembers the real-time authorizations it gave (TOK-09).
    let given: Vec<Value> = csp.op_get("/api/authorizations").await;
    assert_eq!(given.len(), 2, "{given:?}");
    assert!(
        given
            .iter()
            .all(|g| g["allowed"] == "ALLOWED" && g["cpo"] == "NL-CSO"),
        "{given:?}"
    );
}

#[tokio::test]
async fn uc3_1_every_whitelist_type_offline() {
    let (cso, csp) = pair(4).await;
    for (uid, whitelist) in [
        ("B0000001", "ALWAYS"),
        ("B0000002", "ALLOWED"),
        ("B0000003", "ALLOWED_OFFLINE"),
        ("B0000004", "NEVER"),
    ] {
        rfid(&csp, &cso, uid, whitelist).await;
    }
    // The CSP goes down: the CSO decides by the whitelist rule (TOK-07, TOK-10).
    let _csp_down = csp.stop().await;
    cso.expect_undelivered(); // the sessions of the test wait for the CSP that never comes back
    let expect = [
        ("B0000001", true, "LOCAL"),
        ("B0000002", true, "LOCAL"),
        ("B0000003", true, "OFFLINE_FALLBACK"),
        ("B0000004", false, "OFFLINE_FALLBACK"),
    ];
    for (i, (uid, allowed, source)) in expect.iter().enumerate() {
        let out = present(&cso, &evse(i), uid).await;
        let d = decision(&out);
        assert_eq!(d["allowed"], *allowed, "{uid}: {out}");
        assert_eq!(d["source"], *source, "{uid}: {out}");
        assert_eq!(
            out["outcome"],
            if *allowed { "starting" } else { "refused" },
            "{uid}"
        );
    }
    // The fallback start of the ALLOWED_OFFLINE token is a whitelist start without reference.
    let s = cso_session(&cso, SECS10, |s| s["cdr_token"]["uid"] == "B0000003").await;
    assert_eq!(s["auth_method"], "WHITELIST");
    assert!(s.get("authorization_reference").is_none());
}

#[tokio::test]
async fn uc3_1_ask_the_csp_for_allowed_tokens_when_configured() {
    let cso = fast_cso()
        .setting("cso.authorization.allowed_whitelist", "realtime")
        .start()
        .await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    load_site(&cso, &csp, 2).await;
    rfid(&csp, &cso, "C0000001", "ALLOWED").await;
    let out = present(&cso, &evse(0), "C0000001").await;
    assert_eq!(decision(&out)["source"], "REAL_TIME", "{out}");
    assert_eq!(decision(&out)["auth_method"], "AUTH_REQUEST");
}

#[tokio::test]
async fn uc3_1_blocked_expired_and_unknown_tokens_are_refused() {
    let (cso, csp) = pair(4).await;
    // Blocked: the PATCH valid=false reaches the CSO, which refuses from its copy.
    rfid(&csp, &cso, "D0000001", "ALWAYS").await;
    let _: Value = csp
        .op(
            Method::PATCH,
            "/api/tokens/RFID/D0000001",
            &json!({ "state": "BLOCKED" }),
        )
        .await;
    cso_token(&cso, "D0000001", |t| t["valid"] == false).await;
    let out = present(&cso, &evse(0), "D0000001").await;
    assert_eq!(out["outcome"], "refused", "{out}");
    assert_eq!(decision(&out)["allowed"], false);

    // Expired, decided in real time (NEVER): the CSP answers EXPIRED (TOK-08).
    rfid(&csp, &cso, "D0000002", "NEVER").await;
    let _: Value = csp
        .op(
            Method::PATCH,
            "/api/tokens/RFID/D0000002",
            &json!({ "state": "EXPIRED" }),
        )
        .await;
    cso_token(&cso, "D0000002", |t| t["valid"] == false).await;
    let out = present(&cso, &evse(2), "D0000002").await;
    assert_eq!(out["outcome"], "refused", "{out}");
    assert_eq!(decision(&out)["allowed"], false, "{out}");

    // Unknown everywhere: refused, no session.
    let out = present(&cso, &evse(3), "FFFFFFFF").await;
    assert_eq!(out["outcome"], "refused", "{out}");
    let sessions: Vec<Value> = cso.op_get("/api/sessions").await;
    assert!(sessions.is_empty(), "{sessions:?}");
}

#[tokio::test]
async fn uc3_1_real_time_authorization_rules() {
    let (cso, csp) = pair(2).await;
    let raw = RawOcpi::new(None);
    let token = cso.token_for(&csp);
    let url = |uid: &str, q: &str| format!("{}/ocpi/2.2.1/tokens/{uid}/authorize{q}", csp.ocpi_url);
    let here = json!({ "location_id": "U-1", "evse_uids": ["U-1-E0"] });

    // TOK-02: unknown → HTTP 404 + 2004, no data.
    let w = raw.json(Method::POST, &url("NOPE", ""), &token, &here).await;
    assert_eq!((w.status, w.code()), (404, 2004), "{:?}", w.body);
    assert!(w.body.get("data").is_none_or(Value::is_null));

    // ALLOWED with LocationReferences: the allowed EVSEs come back with a reference (TOK-04, TOK-09).
    issue(&csp, json!({ "uid": "E0000001", "whitelist": "NEVER" })).await;
    let w = raw
        .json(Method::POST, &url("E0000001", "?type=RFID"), &token, &here)
        .await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    let info = w.envelope().data.unwrap();
    assert_eq!(info["allowed"], "ALLOWED");
    assert_eq!(info["location"], here);
    assert!(info["authorization_reference"].is_string());
    // No body at all is fine for an unrestricted token.
    let w = raw
        .send(
            Method::POST,
            &url("E0000001", ""),
            Some(&roaming_e2e::token_header(&token)),
            &[],
            None,
        )
        .await;
    assert_eq!(w.envelope().data.unwrap()["allowed"], "ALLOWED", "{:?}", w.body);

    // The type matters (TOK-11): the same uid as APP_USER is unknown.
    let w = raw
        .json(Method::POST, &url("E0000001", "?type=APP_USER"), &token, &here)
        .await;
    assert_eq!((w.status, w.code()), (404, 2004));

    // A token limited to some locations: without LocationReferences 2002 (TOK-03), elsewhere NOT_ALLOWED.
    issue(
        &csp,
        json!({ "uid": "E0000002", "whitelist": "NEVER", "allowed_locations": ["U-9"] }),
    )
    .await;
    let w = raw
        .json(Method::POST, &url("E0000002", ""), &token, &Value::Null)
        .await;
    assert_eq!((w.status, w.code()), (200, 2002), "{:?}", w.body);
    let w = raw.json(Method::POST, &url("E0000002", ""), &token, &here).await;
    assert_eq!(w.envelope().data.unwrap()["allowed"], "NOT_ALLOWED");

    // Blocked and out of credit: 200 + 1000 with that verdict (TOK-08), no reference.
    for (uid, state) in [
        ("E0000003", "BLOCKED"),
        ("E0000004", "NO_CREDIT"),
        ("E0000005", "EXPIRED"),
    ] {
        issue(&csp, json!({ "uid": uid, "whitelist": "NEVER", "state": state })).await;
        let w = raw.json(Method::POST, &url(uid, ""), &token, &here).await;
        assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
        let info = w.envelope().data.unwrap();
        assert_eq!(info["allowed"], state);
        assert!(info.get("authorization_reference").is_none());
    }

    // The Tokens Sender lists every token (paginated).
    let w = raw
        .get(&format!("{}/ocpi/2.2.1/tokens?limit=2", csp.ocpi_url), &token)
        .await;
    assert_eq!(w.envelope().data.unwrap().as_array().unwrap().len(), 2);
    assert_eq!(w.headers["x-total-count"], "5");
}

#[tokio::test]
async fn uc3_1_tokens_receiver_rules_at_the_cso() {
    let (cso, csp) = pair(1).await;
    let raw = RawOcpi::new(None);
    let token = csp.token_for(&cso);
    let url = |party: &str, uid: &str| format!("{}/ocpi/2.2.1/tokens/{party}/{uid}", cso.ocpi_url);
    let t = json!({
        "country_code": "DE", "party_id": "CSP", "uid": "F0000001", "type": "RFID",
        "contract_id": "DE-CSP-C00000001-5", "issuer": "Test", "valid": true,
        "whitelist": "ALWAYS", "last_updated": "2026-01-01T00:00:00Z"
    });
    // Created, then read back with the default type RFID.
    let w = raw
        .json(Method::PUT, &url("DE/CSP", "F0000001"), &token, &t)
        .await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
    let w = raw.get(&url("DE/CSP", "F0000001"), &token).await;
    assert_eq!(w.envelope().data.unwrap()["uid"], "F0000001");
    // Another party's token: 404 + 2001 (T-90).
    let w = raw
        .json(Method::PUT, &url("NL/OTH", "F0000001"), &token, &t)
        .await;
    assert_eq!(w.code(), 2001, "{:?}", w.body);
    // URL and body disagree (T-93).
    let w = raw
        .json(Method::PUT, &url("DE/CSP", "F0000002"), &token, &t)
        .await;
    assert_eq!(w.code(), 2001);
    // PATCH without last_updated (T-81), and of an unknown token (T-94).
    let w = raw
        .json(
            Method::PATCH,
            &url("DE/CSP", "F0000001"),
            &token,
            &json!({ "valid": false }),
        )
        .await;
    assert_eq!(w.code(), 2001);
    let w = raw
        .json(
            Method::PATCH,
            &url("DE/CSP", "F0000009"),
            &token,
            &json!({ "valid": false, "last_updated": "2026-01-02T00:00:00Z" }),
        )
        .await;
    assert_eq!((w.status, w.code()), (404, 2001));
    // An older PUT is acknowledged and ignored (T-80).
    let mut old = t.clone();
    old["valid"] = json!(false);
    old["last_updated"] = json!("2025-01-01T00:00:00Z");
    let w = raw
        .json(Method::PUT, &url("DE/CSP", "F0000001"), &token, &old)
        .await;
    assert_eq!((w.status, w.code()), (200, 1000));
    cso_token(&cso, "F0000001", |t| t["valid"] == true).await;
}

#[tokio::test]
async fn uc3_1_a_cso_connecting_later_gets_every_token() {
    let cso = fast_cso().start().await;
    let csp = Node::csp().start().await;
    issue(&csp, json!({ "uid": "G0000001", "whitelist": "ALWAYS" })).await;
    issue(&csp, json!({ "type": "APP_USER" })).await;
    csp.connect_to(&cso).await;
    cso_token(&cso, "G0000001", |t| t["whitelist"] == "ALWAYS").await;
    let all: Vec<Value> = cso.op_get("/api/tokens").await;
    assert_eq!(all.len(), 2, "{all:?}");
}

// --- Against another implementation's eMSP (issue #12, items 1-3) -------------------------------

/// A foreign eMSP with a real-time authorization endpoint, registered with `cso`.
async fn foreign_emsp(cso: &Node, party: &str) -> ForeignPeer {
    ForeignPeer::emsp(party)
        .module("tokens", "SENDER")
        .register(cso)
        .await
}

/// A token of `peer` as another implementation sends it.
fn foreign_token(peer: &ForeignPeer, uid: &str, whitelist: &str, valid: bool) -> Value {
    let (cc, pid) = peer.party.split_once('-').unwrap();
    json!({
        "country_code": cc, "party_id": pid, "uid": uid, "type": "RFID",
        "contract_id": format!("{cc}-{pid}-C{uid}"), "issuer": "Foreign", "valid": valid,
        "whitelist": whitelist, "last_updated": "2026-01-01T00:00:00Z"
    })
}

/// `peer` pushes `token` to the CSO's Tokens Receiver (as its implementation would).
async fn push_token(cso: &Node, peer: &ForeignPeer, token: &Value) {
    let (cc, pid) = peer.party.split_once('-').unwrap();
    let url = format!(
        "{}/ocpi/2.2.1/tokens/{cc}/{pid}/{}?type=RFID",
        cso.ocpi_url,
        token["uid"].as_str().unwrap()
    );
    let w = RawOcpi::new(None)
        .json(Method::PUT, &url, &peer.token_c, token)
        .await;
    assert_eq!(w.code(), 1000, "{}", w.body);
}

/// The foreign eMSP answers `POST {tokens}/{uid}/authorize` with `answer`.
async fn authorize_answers(peer: &ForeignPeer, uid: &str, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("/ocpi/tokens/{uid}/authorize")))
        .respond_with(answer)
        .mount(&peer.server)
        .await;
}

async fn authorize_calls(peer: &ForeignPeer, uid: &str) -> usize {
    let p = format!("POST /ocpi/tokens/{uid}/authorize?type=RFID");
    peer.requests().await.iter().filter(|r| **r == p).count()
}

#[tokio::test]
async fn uc3_1_a_real_time_refusal_never_becomes_a_local_allow() {
    // TOK-08, TOK-10: the CSP refused NO_CREDIT and sent its token (whitelist ALLOWED, valid).
    let (cso, _csp) = pair(3).await;
    let peer = foreign_emsp(&cso, "DE-FOR").await;
    let refusal = |uid: &str| {
        peer.answer(json!({ "allowed": "NO_CREDIT", "token": foreign_token(&peer, uid, "ALLOWED", true) }))
    };
    // A token the CSO never received: refused in real time, and asked again the next time instead
    // of being allowed from the token object of the refusal.
    authorize_answers(&peer, "R0000001", refusal("R0000001")).await;
    for i in 0..2 {
        let out = present(&cso, &evse(0), "R0000001").await;
        assert_eq!(out["outcome"], "refused", "attempt {i}: {out}");
        assert_eq!(decision(&out)["source"], "REAL_TIME", "attempt {i}: {out}");
        assert_eq!(decision(&out)["verdict"], "NO_CREDIT", "attempt {i}: {out}");
    }
    assert_eq!(authorize_calls(&peer, "R0000001").await, 2);
    let copies: Vec<Value> = cso.op_get("/api/tokens").await;
    assert!(
        copies.iter().all(|t| t["uid"] != "R0000001"),
        "an answer never creates a copy: {copies:?}"
    );

    // A pushed ALLOWED_OFFLINE token refused in real time: when the CSP is unreachable next, the
    // offline fallback must not let it charge while the CSP has not changed the token since.
    push_token(
        &cso,
        &peer,
        &foreign_token(&peer, "R0000002", "ALLOWED_OFFLINE", true),
    )
    .await;
    authorize_answers(&peer, "R0000002", refusal("R0000002")).await;
    let out = present(&cso, &evse(2), "R0000002").await;
    assert_eq!(out["outcome"], "refused", "{out}");
    let token_c = peer.token_c.clone();
    drop(peer);
    let out = present(&cso, &evse(2), "R0000002").await;
    assert_eq!(out["outcome"], "refused", "the refusal stands: {out}");
    assert_eq!(decision(&out)["source"], "OFFLINE_FALLBACK", "{out}");
    assert!(
        decision(&out)["reason"].as_str().unwrap().contains("NO_CREDIT"),
        "{out}"
    );

    // Once the CSP sends a newer version of the token (credit topped up), the whitelist rule
    // applies again.
    let newer = json!({
        "country_code": "DE", "party_id": "FOR", "uid": "R0000002", "type": "RFID",
        "contract_id": "DE-FOR-CR0000002", "issuer": "Foreign", "valid": true,
        "whitelist": "ALLOWED_OFFLINE", "last_updated": "2026-01-02T00:00:00Z"
    });
    let url = format!("{}/ocpi/2.2.1/tokens/DE/FOR/R0000002?type=RFID", cso.ocpi_url);
    let w = RawOcpi::new(None).json(Method::PUT, &url, &token_c, &newer).await;
    assert_eq!(w.code(), 1000, "{}", w.body);
    let out = present(&cso, &evse(2), "R0000002").await;
    assert_eq!(out["outcome"], "starting", "{out}");
    assert_eq!(decision(&out)["source"], "OFFLINE_FALLBACK", "{out}");
}

#[tokio::test]
async fn uc3_1_an_answer_that_does_not_decode_is_a_refusal_not_an_outage() {
    // A peer that answered is not unreachable: the offline fallback is for transport failures and
    // timeouts only.
    let (cso, _csp) = pair(4).await;
    let peer = foreign_emsp(&cso, "DE-FOR").await;
    let bad_answers = [
        (
            "V0000001",
            peer.answer(json!({ "allowed": "NO_CREDIT", "token": { "uid": "V0000001" } })),
        ),
        (
            "V0000002",
            ResponseTemplate::new(200).set_body_string("<html>Service</html>"),
        ),
        ("V0000003", peer.answer(json!("ALLOWED"))),
    ];
    for (i, (uid, answer)) in bad_answers.into_iter().enumerate() {
        push_token(&cso, &peer, &foreign_token(&peer, uid, "ALLOWED_OFFLINE", true)).await;
        authorize_answers(&peer, uid, answer).await;
        let out = present(&cso, &evse(i), uid).await;
        assert_eq!(out["outcome"], "refused", "{uid}: {out}");
        let d = decision(&out);
        assert_eq!(d["source"], "REAL_TIME", "{uid}: {out}");
        assert!(
            d["reason"].as_str().unwrap().contains("answer"),
            "the reason says the answer was unusable: {out}"
        );
    }
    // Tolerant in: a one-element array holding the AuthorizationInfo is that AuthorizationInfo.
    let uid = "V0000004";
    push_token(&cso, &peer, &foreign_token(&peer, uid, "ALLOWED_OFFLINE", true)).await;
    let info = json!({ "allowed": "ALLOWED", "token": foreign_token(&peer, uid, "ALLOWED_OFFLINE", true),
                       "authorization_reference": "REF-ARRAY-1" });
    authorize_answers(&peer, uid, peer.answer(json!([info]))).await;
    let out = present(&cso, &evse(3), uid).await;
    assert_eq!(out["outcome"], "starting", "{out}");
    assert_eq!(decision(&out)["authorization_reference"], "REF-ARRAY-1", "{out}");
}

#[tokio::test]
async fn uc3_1_a_uid_held_by_two_csps_is_never_decided_by_one_of_them_alone() {
    // DE-AAA sorts before DE-CSP: before the fix its copy alone decided.
    let (cso, csp) = pair(3).await;
    let peer = foreign_emsp(&cso, "DE-AAA").await;
    let allowed = |uid: &str| {
        peer.answer(
            json!({ "allowed": "ALLOWED", "token": foreign_token(&peer, uid, "ALLOWED", true),
                            "authorization_reference": format!("AAA-{uid}") }),
        )
    };
    // Both CSPs hold Z0000001 and both allow it: nobody can tell whose driver this is.
    rfid(&csp, &cso, "Z0000001", "ALLOWED").await;
    push_token(&cso, &peer, &foreign_token(&peer, "Z0000001", "ALLOWED", true)).await;
    authorize_answers(&peer, "Z0000001", allowed("Z0000001")).await;
    let out = present(&cso, &evse(0), "Z0000001").await;
    assert_eq!(out["outcome"], "refused", "{out}");
    let reason = decision(&out)["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("DE-AAA") && reason.contains("DE-CSP"), "{reason}");
    assert_eq!(authorize_calls(&peer, "Z0000001").await, 1, "each owner is asked");

    // DE-AAA blocked its copy of Z0000002; DE-CSP's driver may still charge, billed to DE-CSP.
    rfid(&csp, &cso, "Z0000002", "ALLOWED").await;
    push_token(&cso, &peer, &foreign_token(&peer, "Z0000002", "ALLOWED", false)).await;
    authorize_answers(
        &peer,
        "Z0000002",
        peer.answer(
            json!({ "allowed": "BLOCKED", "token": foreign_token(&peer, "Z0000002", "ALLOWED", false) }),
        ),
    )
    .await;
    let out = present(&cso, &evse(2), "Z0000002").await;
    assert_eq!(out["outcome"], "starting", "{out}");
    let s = cso_session(&cso, SECS10, |s| s["cdr_token"]["uid"] == "Z0000002").await;
    assert_eq!(
        s["cdr_token"]["party_id"], "CSP",
        "billed to the CSP that allowed it: {s}"
    );
    csp_session(&csp, SECS10, |x| x["id"] == s["id"]).await;

    // The operator sees both collisions.
    let collisions: Vec<Value> = cso.op_get("/api/tokens/collisions").await;
    assert_eq!(collisions.len(), 2, "{collisions:?}");
    assert_eq!(collisions[0]["uid"], "Z0000001");
    assert_eq!(collisions[0]["parties"], json!(["DE-AAA", "DE-CSP"]));
}
