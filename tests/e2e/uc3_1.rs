//! UC3-1 Start charging roaming locally at the EV supply equipment: tokens pushed by the CSP, the
//! CSO's whitelist decision (TOK-10) online and offline, the real-time authorization (§10.2.2,
//! TOK-02…TOK-09) and the session's `auth_method` / `authorization_reference` (SES-04, SES-05).

use std::time::Duration;

use http::Method;
use roaming_e2e::{Node, RawOcpi};
use serde_json::{Value, json};

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
