//! Input checked against the OCPI types and lengths (checklist §3.9, §5–§12; #12 item 13): what a
//! peer sends to a receiver, and what an operator sends to the operator API that ends up in OCPI
//! objects. Every refusal is a 2001 (HTTP 200) naming the JSON path, or a 400 on the operator API, and
//! nothing of the refused request is stored or sent on. The tolerance the checklist asks for stays:
//! over-length values within reason (T-70), unknown enum values (T-72).

use http::Method;
use roaming_e2e::fixtures::{location, tariffs};
use roaming_e2e::foreign::ForeignPeer;
use roaming_e2e::{Node, RawOcpi, Wire};
use roaming_types::DateTime;
use serde_json::{Value, json};

/// A string of `n` copies of `c`.
fn long(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

fn now() -> String {
    DateTime::now().to_string()
}

fn foreign_location(id: &str) -> Value {
    roaming_e2e::fixtures::foreign::location(id, &now())
}

fn foreign_tariff() -> Value {
    roaming_e2e::fixtures::foreign::tariff(&now())
}

fn foreign_session() -> Value {
    roaming_e2e::fixtures::foreign::session(&now())
}

use roaming_e2e::fixtures::foreign::cdr as foreign_cdr;

/// `v` with `f` applied.
fn with(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut v);
    v
}

/// Why the answer is not a 2001 naming `path` (with a short message), if it is not.
fn not_refused(w: &Wire, what: &str, path: &str) -> Option<String> {
    let m = w.envelope().status_message.unwrap_or_default();
    if (w.status, w.code()) != (200, 2001) {
        Some(format!("{what}: HTTP {} {}", w.status, short(&w.body)))
    } else if !m.contains(path) {
        Some(format!("{what}: the message should name {path}: {m}"))
    } else if m.len() > 1000 {
        Some(format!(
            "{what}: the message must not echo the value ({} bytes)",
            m.len()
        ))
    } else {
        None
    }
}

/// Asserts that no case failed, listing those that did.
#[track_caller]
fn all_refused(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "not refused as they should be:\n{}",
        failures.join("\n")
    );
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(300).collect()
}

/// The CSP's receivers (Locations, Tariffs, Sessions, CDRs, Commands results) refuse values outside
/// the OCPI types: the issue's 1,000,000-character EVSE status and `kwh: -1`, over-long ids, enum
/// values no enum could have, prices and durations below zero. Nothing of them is stored.
#[tokio::test]
async fn uc1_2_csp_receivers_refuse_values_outside_the_ocpi_types() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR").register(&csp).await;
    let (raw, tok) = (RawOcpi::new(None), cso.token_c.clone());
    let base = format!("{}/ocpi/2.2.1", csp.ocpi_url);
    let loc_url = format!("{base}/locations/NL/FOR/F-1");
    let evse_url = format!("{loc_url}/F-1-E0");
    let tariff_url = format!("{base}/tariffs/NL/FOR/AC-STD");
    let session_url = format!("{base}/sessions/NL/FOR/S-1");
    let cdrs_url = format!("{base}/cdrs");
    let result_url = format!("{base}/commands/START_SESSION/unknown");
    let profile_result_url = format!("{base}/chargingprofiles/results/unknown");
    for (url, body) in [
        (&loc_url, foreign_location("F-1")),
        (&tariff_url, foreign_tariff()),
        (&session_url, foreign_session()),
    ] {
        let w = raw.json(Method::PUT, url, &tok, &body).await;
        assert_eq!((w.status, w.code()), (201, 1000), "{url}: {:?}", w.body);
    }
    let snapshot = |raw: RawOcpi, tok: String| {
        let urls = [loc_url.clone(), tariff_url.clone(), session_url.clone()];
        async move {
            let mut out = Vec::new();
            for u in urls {
                out.push(raw.get(&u, &tok).await.envelope().data.unwrap());
            }
            out
        }
    };
    let before = snapshot(raw.clone(), tok.clone()).await;
    // Each PATCH a stamp of its own, newer than the last: a refusal must come from the value, never
    // from an update that looks older than the one before.
    let start = DateTime::now();
    let n = std::cell::Cell::new(0);
    let stamp = || {
        n.set(n.get() + 1);
        json!(start.plus(chrono::Duration::milliseconds(n.get())).to_string())
    };
    let cases: Vec<(&str, Method, &String, Value, &str)> = vec![
        (
            "1,000,000-character EVSE status",
            Method::PATCH,
            &evse_url,
            json!({ "status": long('A', 1_000_000), "last_updated": stamp() }),
            "status",
        ),
        (
            "empty EVSE status",
            Method::PATCH,
            &evse_url,
            json!({ "status": "", "last_updated": stamp() }),
            "status",
        ),
        (
            "kwh -1 in a session PATCH",
            Method::PATCH,
            &session_url,
            json!({ "kwh": -1, "last_updated": stamp() }),
            "kwh",
        ),
        (
            "kwh -1 in a session PATCH older than the session",
            Method::PATCH,
            &session_url,
            json!({ "kwh": -1, "last_updated": "2020-01-01T00:00:00Z" }),
            "kwh",
        ),
        (
            "kwh -1 in a session PUT",
            Method::PUT,
            &session_url,
            with(foreign_session(), |s| s["kwh"] = json!(-1)),
            "kwh",
        ),
        (
            "10,000-character authorization_reference (CiString(36))",
            Method::PATCH,
            &session_url,
            json!({ "authorization_reference": long('R', 10_000), "last_updated": stamp() }),
            "authorization_reference",
        ),
        (
            "37-character token uid (CiString(36))",
            Method::PATCH,
            &session_url,
            json!({ "cdr_token": { "country_code": "DE", "party_id": "CSP", "uid": long('U', 37), "type": "RFID",
                                   "contract_id": "DE-CSP-C00000001-5" }, "last_updated": stamp() }),
            "cdr_token.uid",
        ),
        (
            "negative TIME volume",
            Method::PATCH,
            &session_url,
            json!({ "charging_periods": [{ "start_date_time": "2026-01-01T10:00:00Z", "dimensions": [{ "type": "TIME", "volume": -0.5 }] }],
                    "last_updated": stamp() }),
            "charging_periods[0].dimensions[0]",
        ),
        (
            "state of charge above 100",
            Method::PATCH,
            &session_url,
            json!({ "charging_periods": [{ "start_date_time": "2026-01-01T10:00:00Z", "dimensions": [{ "type": "STATE_OF_CHARGE", "volume": 101 }] }],
                    "last_updated": stamp() }),
            "charging_periods[0].dimensions[0]",
        ),
        (
            "1,000-character dimension type",
            Method::PATCH,
            &session_url,
            json!({ "charging_periods": [{ "start_date_time": "2026-01-01T10:00:00Z", "dimensions": [{ "type": long('X', 1000), "volume": 1 }] }],
                    "last_updated": stamp() }),
            "charging_periods[0].dimensions[0].type",
        ),
        (
            "10,000-character location name (string(255))",
            Method::PUT,
            &loc_url,
            with(foreign_location("F-1"), |l| l["name"] = json!(long('n', 10_000))),
            "name",
        ),
        (
            "37-character EVSE uid (CiString(36))",
            Method::PUT,
            &loc_url,
            with(foreign_location("F-1"), |l| {
                l["evses"][0]["uid"] = json!(long('E', 37))
            }),
            "evses[0].uid",
        ),
        (
            "49-character evse_id (CiString(48))",
            Method::PUT,
            &loc_url,
            with(foreign_location("F-1"), |l| {
                l["evses"][0]["evse_id"] = json!(long('E', 49))
            }),
            "evses[0].evse_id",
        ),
        (
            "1,000-character connector standard",
            Method::PUT,
            &loc_url,
            with(foreign_location("F-1"), |l| {
                l["evses"][0]["connectors"][0]["standard"] = json!(long('S', 1000))
            }),
            "evses[0].connectors[0].standard",
        ),
        (
            "an enum value with spaces",
            Method::PATCH,
            &evse_url,
            json!({ "status": "OUT OF ORDER", "last_updated": stamp() }),
            "status",
        ),
        (
            "a control character in a name",
            Method::PATCH,
            &loc_url,
            json!({ "name": "Site\u{0}1", "last_updated": stamp() }),
            "name",
        ),
        (
            "negative price",
            Method::PUT,
            &tariff_url,
            with(foreign_tariff(), |x| {
                x["elements"][0]["price_components"][0]["price"] = json!(-0.35)
            }),
            "elements[0].price_components[0].price",
        ),
        (
            "negative VAT",
            Method::PUT,
            &tariff_url,
            with(foreign_tariff(), |x| {
                x["elements"][0]["price_components"][0]["vat"] = json!(-21)
            }),
            "elements[0].price_components[0].vat",
        ),
        (
            "negative total_time in a CDR",
            Method::POST,
            &cdrs_url,
            with(foreign_cdr("CDR-1"), |c| c["total_time"] = json!(-1)),
            "total_time",
        ),
        (
            "10,000-character CDR authorization_reference",
            Method::POST,
            &cdrs_url,
            with(foreign_cdr("CDR-2"), |c| {
                c["authorization_reference"] = json!(long('R', 10_000))
            }),
            "authorization_reference",
        ),
        (
            "40-character CDR id (CiString(39))",
            Method::POST,
            &cdrs_url,
            with(foreign_cdr("CDR-3"), |c| c["id"] = json!(long('C', 40))),
            "id",
        ),
        (
            "20,000-character signed plain_data (string(5000))",
            Method::POST,
            &cdrs_url,
            with(foreign_cdr("CDR-4"), |c| {
                c["signed_data"] = json!({ "encoding_method": "OCMF",
                "signed_values": [{ "nature": "Start", "plain_data": long('p', 20_000), "signed_data": "c2ln" }] })
            }),
            "signed_data.signed_values[0].plain_data",
        ),
        (
            "1,000,000-character command result",
            Method::POST,
            &result_url,
            json!({ "result": long('A', 1_000_000) }),
            "result",
        ),
        (
            "1,000,000-character charging profile result",
            Method::POST,
            &profile_result_url,
            json!({ "result": long('A', 1_000_000) }),
            "result",
        ),
    ];
    let mut failures = Vec::new();
    for (what, method, url, body, path) in cases {
        let w = raw.json(method, url, &tok, &body).await;
        failures.extend(not_refused(&w, what, path));
    }
    all_refused(&failures);
    assert_eq!(
        snapshot(raw.clone(), tok.clone()).await,
        before,
        "nothing refused was stored"
    );
    let held: Vec<Value> = csp.op_get("/api/cdrs").await;
    assert!(held.is_empty(), "no refused CDR was stored");

    // Still tolerated (T-70, T-72): a long address (errata 45 → 255, here 300), an unknown connector
    // standard of a later version, an unknown status.
    let tolerated = with(foreign_location("F-1"), |l| {
        l["address"] = json!(long('a', 300));
        l["evses"][0]["connectors"][0]["standard"] = json!("MCS");
        l["evses"][1]["status"] = json!("PARKED_OUT");
    });
    let w = raw.json(Method::PUT, &loc_url, &tok, &tolerated).await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    let w = raw
        .json(Method::POST, &cdrs_url, &tok, &foreign_cdr("CDR-OK"))
        .await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
}

/// The CSO's receivers (Commands, Tokens, ChargingProfiles, the CDR-checks extension) refuse values
/// outside the OCPI types: `response_url` "garbage", "" or 1 MB long (a URL we would call must be an
/// absolute http(s) URL of at most 255 characters), a 10,000-character `authorization_reference`, and
/// the like. Nothing is stored, nothing reaches a charger, nothing is called back.
#[tokio::test]
async fn uc3_2_cso_receivers_refuse_values_outside_the_ocpi_types() {
    let cso = Node::cso().start().await;
    let _: Value = cso.op(Method::POST, "/api/tariffs/import", &tariffs()).await;
    let _: Value = cso
        .op(
            Method::POST,
            "/api/locations/import",
            &json!([location("U-1", 52.37, 4.89, 2)]),
        )
        .await;
    let csp = ForeignPeer::emsp("DE-FOR").register(&cso).await;
    let (raw, tok) = (RawOcpi::new(None), csp.token_c.clone());
    let base = format!("{}/ocpi/2.2.1", cso.ocpi_url);
    let callback = format!("{}/ocpi/commands/START_SESSION/1", csp.server.uri());
    let token = json!({
        "country_code": "DE", "party_id": "FOR", "uid": "F0000001", "type": "RFID",
        "contract_id": "DE-FOR-C00000001-5", "issuer": "Test", "valid": true,
        "whitelist": "ALLOWED", "last_updated": now()
    });
    let start = |f: &dyn Fn(&mut Value)| {
        let mut s =
            json!({ "response_url": callback, "token": token, "location_id": "U-1", "evse_uid": "U-1-E0" });
        f(&mut s);
        s
    };
    let cmd = |c: &str| format!("{base}/commands/{c}");
    let token_url = format!("{base}/tokens/DE/FOR/F0000001");
    let profile_url = format!("{base}/chargingprofiles/S-1");
    let profile = |url: &str| {
        json!({ "response_url": url, "charging_profile": { "charging_rate_unit": "W",
                "charging_profile_period": [{ "start_period": 0, "limit": 7000 }] } })
    };
    let huge_url = format!("https://example.com/{}", long('a', 1_000_000));
    let cases: Vec<(&str, Method, String, Value, &str)> = vec![
        (
            "response_url \"garbage\"",
            Method::POST,
            cmd("START_SESSION"),
            start(&|s| s["response_url"] = json!("garbage")),
            "response_url",
        ),
        (
            "empty response_url",
            Method::POST,
            cmd("START_SESSION"),
            start(&|s| s["response_url"] = json!("")),
            "response_url",
        ),
        (
            "1 MB response_url",
            Method::POST,
            cmd("START_SESSION"),
            start(&|s| s["response_url"] = json!(huge_url)),
            "response_url",
        ),
        (
            "256-character response_url (URL = string(255))",
            Method::POST,
            cmd("START_SESSION"),
            start(&|s| s["response_url"] = json!(format!("https://example.com/{}", long('a', 236)))),
            "response_url",
        ),
        (
            "ftp response_url",
            Method::POST,
            cmd("START_SESSION"),
            start(&|s| s["response_url"] = json!("ftp://example.com/r")),
            "response_url",
        ),
        (
            "10,000-character authorization_reference (CiString(36))",
            Method::POST,
            cmd("START_SESSION"),
            start(&|s| s["authorization_reference"] = json!(long('R', 10_000))),
            "authorization_reference",
        ),
        (
            "37-character token uid",
            Method::POST,
            cmd("START_SESSION"),
            start(&|s| s["token"]["uid"] = json!(long('U', 37))),
            "token.uid",
        ),
        (
            "37-character location id",
            Method::POST,
            cmd("START_SESSION"),
            start(&|s| s["location_id"] = json!(long('L', 37))),
            "location_id",
        ),
        (
            "1 MB whitelist in a command's token",
            Method::POST,
            cmd("START_SESSION"),
            start(&|s| s["token"]["whitelist"] = json!(long('W', 1_000_000))),
            "token.whitelist",
        ),
        (
            "STOP_SESSION with a garbage response_url",
            Method::POST,
            cmd("STOP_SESSION"),
            json!({ "response_url": "garbage", "session_id": "S-1" }),
            "response_url",
        ),
        (
            "STOP_SESSION with a 37-character session id",
            Method::POST,
            cmd("STOP_SESSION"),
            json!({ "response_url": callback, "session_id": long('S', 37) }),
            "session_id",
        ),
        (
            "RESERVE_NOW with a 10,000-character reservation id",
            Method::POST,
            cmd("RESERVE_NOW"),
            json!({ "response_url": callback, "token": token, "expiry_date": "2099-01-01T00:00:00Z",
                    "reservation_id": long('R', 10_000), "location_id": "U-1" }),
            "reservation_id",
        ),
        (
            "CANCEL_RESERVATION with a relative response_url",
            Method::POST,
            cmd("CANCEL_RESERVATION"),
            json!({ "response_url": "/ocpi/commands/x", "reservation_id": "R-1" }),
            "response_url",
        ),
        (
            "UNLOCK_CONNECTOR with a garbage response_url",
            Method::POST,
            cmd("UNLOCK_CONNECTOR"),
            json!({ "response_url": "garbage", "location_id": "U-1", "evse_uid": "U-1-E0", "connector_id": "1" }),
            "response_url",
        ),
        (
            "1 MB token whitelist",
            Method::PUT,
            token_url.clone(),
            with(token.clone(), |t| t["whitelist"] = json!(long('W', 1_000_000))),
            "whitelist",
        ),
        (
            "10,000-character token issuer (string(64))",
            Method::PUT,
            token_url.clone(),
            with(token.clone(), |t| t["issuer"] = json!(long('i', 10_000))),
            "issuer",
        ),
        (
            "37-character contract id",
            Method::PUT,
            token_url.clone(),
            with(token.clone(), |t| t["contract_id"] = json!(long('C', 37))),
            "contract_id",
        ),
        (
            "token PATCH with a 1 MB whitelist",
            Method::PATCH,
            token_url.clone(),
            json!({ "whitelist": long('W', 1_000_000), "last_updated": now() }),
            "whitelist",
        ),
        (
            "charging profile with a garbage response_url",
            Method::PUT,
            profile_url.clone(),
            profile("garbage"),
            "response_url",
        ),
        (
            "charging profile with a 1,000-character rate unit",
            Method::PUT,
            profile_url.clone(),
            with(profile(&callback), |p| {
                p["charging_profile"]["charging_rate_unit"] = json!(long('W', 1000))
            }),
            "charging_profile.charging_rate_unit",
        ),
        (
            "CDR check with a 1 MB verdict",
            Method::PUT,
            format!("{base}/x-roaming-cdr-checks/CDR-1"),
            json!({ "cdr_id": "CDR-1", "verdict": long('A', 1_000_000) }),
            "verdict",
        ),
        (
            "CDR check with a 40-character CDR id",
            Method::PUT,
            format!("{base}/x-roaming-cdr-checks/CDR-1"),
            json!({ "cdr_id": long('C', 40), "verdict": "ACCEPTED" }),
            "cdr_id",
        ),
    ];
    let mut failures = Vec::new();
    for (what, method, url, body, path) in cases {
        let w = raw.json(method, &url, &tok, &body).await;
        failures.extend(not_refused(&w, what, path));
    }
    // A response_url in the query of a charging-profile GET or DELETE, too.
    for m in [Method::GET, Method::DELETE] {
        let w = raw
            .send(
                m.clone(),
                &format!("{profile_url}?duration=60&response_url=garbage"),
                Some(&roaming_e2e::token_header(&tok)),
                &[],
                None,
            )
            .await;
        failures.extend(not_refused(
            &w,
            &format!("{m} with a garbage response_url"),
            "response_url",
        ));
    }
    all_refused(&failures);
    let commands: Vec<Value> = cso.op_get("/api/commands").await;
    assert!(commands.is_empty(), "no refused command was stored: {commands:?}");
    let tokens: Vec<Value> = cso.op_get("/api/tokens").await;
    assert!(tokens.is_empty(), "no refused token was stored: {tokens:?}");
    let calls = csp.requests().await;
    assert!(
        calls.iter().all(|c| c.starts_with("GET ")),
        "nothing was called back: {calls:?}"
    );

    // The same command with good values is taken (the refusals above were about the values).
    let w = raw
        .json(Method::POST, &cmd("START_SESSION"), &tok, &start(&|_| {}))
        .await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    assert_eq!(w.envelope().data.unwrap()["result"], "ACCEPTED");
}

/// The CSP's operator API refuses, with 400 and the field, what would put values outside the OCPI
/// types into the objects it sends: over-long ids in commands, over-long or malformed token fields.
/// Nothing is stored or sent to the CSO.
#[tokio::test]
async fn uc3_2_csp_operator_api_refuses_values_outside_the_ocpi_types() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR")
        .module("commands", "RECEIVER")
        .module("tokens", "RECEIVER")
        .register(&csp)
        .await;
    // The foreign CPO mounts no Tokens answer: the token pushed to it is refused for good (404).
    csp.expect_dead_letters();
    let t: Value = csp
        .op(
            Method::POST,
            "/api/tokens",
            &json!({ "uid": "A0000001", "whitelist": "ALWAYS" }),
        )
        .await;
    assert_eq!(t["token"]["uid"], "A0000001");
    let tok = json!({ "uid": "A0000001", "type": "RFID" });
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "start at a 37-character location",
            "/api/commands/start",
            json!({ "token": tok, "location_id": long('L', 37) }),
            "location_id",
        ),
        (
            "start at a 10,000-character EVSE",
            "/api/commands/start",
            json!({ "token": tok, "location_id": "U-1", "evse_uid": long('E', 10_000) }),
            "evse_uid",
        ),
        (
            "reserve with a 10,000-character reservation id",
            "/api/commands/reserve",
            json!({ "token": tok, "location_id": "U-1", "expiry_date": "2099-01-01T00:00:00Z",
                    "reservation_id": long('R', 10_000) }),
            "reservation_id",
        ),
        (
            "stop a 37-character session id",
            "/api/commands/stop",
            json!({ "session_id": long('S', 37) }),
            "session_id",
        ),
        (
            "token with a 1,000-character visual number (string(64))",
            "/api/tokens",
            json!({ "uid": "A0000002", "visual_number": long('v', 1000) }),
            "visual_number",
        ),
        (
            "token with a three-letter language (string(2))",
            "/api/tokens",
            json!({ "uid": "A0000003", "language": "deu" }),
            "language",
        ),
        (
            "token with an unknown whitelist",
            "/api/tokens",
            json!({ "uid": "A0000004", "whitelist": "SOMETIMES" }),
            "whitelist",
        ),
        (
            "token with a 37-character group id",
            "/api/tokens",
            json!({ "uid": "A0000005", "group_id": long('G', 37) }),
            "group_id",
        ),
    ];
    let mut failures = Vec::new();
    for (what, path, body, field) in cases {
        match csp
            .operator
            .send::<_, Value>(Method::POST, path, Some(&body))
            .await
        {
            Ok(v) => failures.push(format!("{what}: accepted: {}", short(&v))),
            Err(e) => {
                let e: String = e.to_string().chars().take(300).collect();
                if !e.starts_with("400 ") || !e.contains(field) {
                    failures.push(format!("{what}: expected a 400 naming {field}: {e}"));
                }
            }
        }
    }
    all_refused(&failures);
    let commands: Vec<Value> = csp.op_get("/api/commands").await;
    assert!(commands.is_empty(), "{commands:?}");
    let tokens: Vec<Value> = csp.op_get("/api/tokens").await;
    assert_eq!(tokens.len(), 1, "only the good token: {tokens:?}");
    let calls = cso.requests().await;
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("/commands/") || (c.contains("A000000") && !c.contains("A0000001"))),
        "nothing refused was sent: {calls:?}"
    );
}

/// The CSO's operator API refuses, with 400 and the field, what would put values outside the OCPI
/// types into what it sends: an EVSE status no enum could have (pushed to every CSP), a token uid
/// longer than CiString(36) from a charger (it would go into the real-time authorization URL and the
/// session), a charger's message longer than a DisplayText (it would go into the CommandResult).
#[tokio::test]
async fn uc3_1_cso_operator_api_refuses_values_outside_the_ocpi_types() {
    let cso = Node::cso().start().await;
    let _: Value = cso.op(Method::POST, "/api/tariffs/import", &tariffs()).await;
    let _: Value = cso
        .op(
            Method::POST,
            "/api/locations/import",
            &json!([location("U-1", 52.37, 4.89, 1)]),
        )
        .await;
    // (Station events are tagged by `type`; serde loses the JSON path inside them, so those problems
    // name the rule instead of the field.)
    let cases: Vec<(&str, Method, &str, Value, &str)> = vec![
        (
            "1,000,000-character EVSE status",
            Method::PUT,
            "/api/locations/U-1/U-1-E0/status",
            json!({ "status": long('A', 1_000_000) }),
            "status",
        ),
        (
            "unknown EVSE status",
            Method::PUT,
            "/api/locations/U-1/U-1-E0/status",
            json!({ "status": "SOMETHING" }),
            "status",
        ),
        (
            "37-character token uid from a charger",
            Method::POST,
            "/api/stations/authorize",
            json!({ "location_id": "U-1", "evse_uid": "U-1-E0", "token_uid": long('U', 37) }),
            "token_uid",
        ),
        (
            "10,000-character token uid in a session start",
            Method::POST,
            "/api/stations/events",
            json!({ "type": "session_started", "transaction_id": "T1", "location_id": "U-1", "evse_uid": "U-1-E0",
                    "connector_id": "1", "token_uid": long('U', 10_000), "token_type": "RFID",
                    "meter_start_wh": 0, "at": now() }),
            "longer than 36",
        ),
        (
            "1,000-character charger message",
            Method::POST,
            "/api/stations/events",
            json!({ "type": "command_result", "command_id": "C1", "result": "ACCEPTED", "message": long('m', 1000) }),
            "longer than 512",
        ),
    ];
    let mut failures = Vec::new();
    for (what, method, path, body, field) in cases {
        match cso.operator.send::<_, Value>(method, path, Some(&body)).await {
            Ok(v) => failures.push(format!("{what}: accepted: {}", short(&v))),
            Err(e) => {
                let e: String = e.to_string().chars().take(300).collect();
                if !e.starts_with("400 ") || !e.contains(field) {
                    failures.push(format!("{what}: expected a 400 naming {field}: {e}"));
                }
            }
        }
    }
    all_refused(&failures);
    let l: Value = cso.op_get("/api/locations/U-1").await;
    assert_eq!(l["evses"][0]["status"], "AVAILABLE");
    let sessions: Vec<Value> = cso.op_get("/api/sessions").await;
    assert!(sessions.is_empty(), "{sessions:?}");
}
