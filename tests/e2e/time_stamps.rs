//! Time stamps (checklist §3.9, §3.10): one fixed format on the way out (#12 item 19), and stamps a
//! peer gives its data that lie in the future refused (#12 item 12, T-80).

use http::Method;
use roaming_e2e::foreign::ForeignPeer;
use roaming_e2e::{Node, RawOcpi, Wire, instant};
use roaming_peer::store::collection::{Collection, StoredDoc};
use roaming_types::DateTime;
use roaming_types::ids::PartyRef;
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{method, path};

/// Far in the future: what froze our copies before #12 item 12.
const FUTURE: &str = "9999-12-31T23:59:59Z";

/// Our clock plus `secs` seconds, as a peer would write it.
fn now_plus(secs: i64) -> String {
    DateTime::now().plus(chrono::Duration::seconds(secs)).to_string()
}

/// Sets every `last_updated` in `v` (at any depth) to `t`.
fn stamp_all(v: &mut Value, t: &str) {
    match v {
        Value::Object(m) => {
            if m.contains_key("last_updated") {
                m.insert("last_updated".to_owned(), json!(t));
            }
            m.values_mut().for_each(|v| stamp_all(v, t));
        }
        Value::Array(a) => a.iter_mut().for_each(|v| stamp_all(v, t)),
        _ => {}
    }
}

use roaming_e2e::fixtures::foreign::{
    location as foreign_location, session as foreign_session, tariff as foreign_tariff,
};

/// The answer refuses a stamp in the future: 2001, naming the field's JSON path.
#[track_caller]
fn refused_as_future(w: &Wire, path: &str) {
    assert_eq!((w.status, w.code()), (200, 2001), "{:?}", w.body);
    let m = w.envelope().status_message.unwrap_or_default();
    assert!(m.contains(path) && m.contains("ahead of our clock"), "{m}");
}

/// A PUT of `future` at `url` is refused as a stamp in the future and stores nothing; the same object
/// stamped now (`current`) is then created.
async fn refused_then_created(raw: &RawOcpi, url: &str, tok: &str, future: &Value, current: &Value) {
    let w = raw.json(Method::PUT, url, tok, future).await;
    refused_as_future(&w, "last_updated");
    assert_eq!(raw.get(url, tok).await.status, 404, "not stored");
    let w = raw.json(Method::PUT, url, tok, current).await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
}

/// Rewrites the stored object at `key` of `collection` with every stamp at `t`: what an earlier
/// version, which accepted any stamp, may have left in the store.
fn freeze<T>(node: &Node, collection: Collection<T>, key: &[u8], t: &str) {
    let store = &node.core.store;
    let doc = collection.get_doc(store, key).unwrap().expect("stored");
    let mut v: Value = serde_json::from_slice(&doc.json).unwrap();
    stamp_all(&mut v, t);
    let frozen = StoredDoc {
        last_updated: t.parse().unwrap(),
        partitions: doc.partitions,
        json: serde_json::to_vec(&v).unwrap(),
    };
    store.transact(|tx| collection.put_doc(tx, key, &frozen)).unwrap();
}

fn nl_for() -> PartyRef {
    "NL-FOR".parse().unwrap()
}

/// A CDR stored by an earlier version (time stamps as `…:00Z`, before #12 item 19) and delivered again
/// by its CSO is the harmless duplicate it is (CDR-09), not "the same id with other content".
#[tokio::test]
async fn uc3_9_a_cdr_stored_by_an_earlier_version_is_a_duplicate_when_delivered_again() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR").register(&csp).await;
    let url = format!("{}/ocpi/2.2.1/cdrs", csp.ocpi_url);
    let c = roaming_e2e::fixtures::foreign::cdr("CDR-OLD");
    let raw = RawOcpi::new(None);
    let w = raw.json(Method::POST, &url, &cso.token_c, &c).await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
    // What the earlier version wrote: the same CDR with its stamps as `…:00Z`.
    let store = &csp.core.store;
    let (key, doc) = roaming_csp::cdrs::CDRS
        .all_docs(store, &[])
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    let old_text = String::from_utf8(doc.json.clone()).unwrap().replace(".000Z", "Z");
    assert!(
        !old_text.contains(".000Z") && old_text.contains("09:00:00Z"),
        "{old_text}"
    );
    store
        .transact(|tx| {
            roaming_csp::cdrs::CDRS.put_doc(
                tx,
                &key,
                &StoredDoc {
                    json: old_text.into_bytes(),
                    ..doc
                },
            )
        })
        .unwrap();
    let w = raw.json(Method::POST, &url, &cso.token_c, &c).await;
    assert_eq!((w.status, w.code()), (200, 1000), "a duplicate: {:?}", w.body);
}

/// #12 item 12: a location PUT with `last_updated` 9999-12-31 used to be stored, and every later real
/// change of it was then ignored as older (T-80). A stamp more than `http.max_clock_skew_secs` (300 s)
/// ahead of our clock is refused with 2001 wherever it is in the object (EVSEs, connectors, PATCHes),
/// nothing is stored, and the next real change applies; a stamp within the skew is accepted.
#[tokio::test]
async fn uc1_2_a_future_last_updated_is_refused_and_later_changes_apply() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR").register(&csp).await;
    let (raw, tok) = (RawOcpi::new(None), cso.token_c.clone());
    let base = format!("{}/ocpi/2.2.1/locations/NL/FOR", csp.ocpi_url);
    let loc_url = format!("{base}/F-1");
    let w = raw
        .json(Method::PUT, &loc_url, &tok, &foreign_location("F-1", FUTURE))
        .await;
    refused_as_future(&w, "last_updated");
    assert_eq!(raw.get(&loc_url, &tok).await.status, 404, "not stored");

    let w = raw
        .json(
            Method::PUT,
            &loc_url,
            &tok,
            &foreign_location("F-1", &now_plus(0)),
        )
        .await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
    let stored = raw.get(&loc_url, &tok).await.envelope().data.unwrap();

    // A future stamp anywhere in the object, in every receiver operation.
    let mut nested = foreign_location("F-1", &now_plus(1));
    nested["name"] = json!("Changed");
    nested["evses"][1]["connectors"][0]["last_updated"] = json!(FUTURE);
    let mut evse = stored["evses"][0].clone();
    stamp_all(&mut evse, FUTURE);
    let mut connector = stored["evses"][0]["connectors"][0].clone();
    connector["last_updated"] = json!(FUTURE);
    let evse_url = format!("{loc_url}/F-1-E0");
    let conn_url = format!("{evse_url}/1");
    let cases = [
        (
            Method::PUT,
            &loc_url,
            nested,
            "evses[1].connectors[0].last_updated",
        ),
        (
            Method::PATCH,
            &loc_url,
            json!({ "name": "X", "last_updated": FUTURE }),
            "last_updated",
        ),
        (Method::PUT, &evse_url, evse, "last_updated"),
        (
            Method::PATCH,
            &evse_url,
            json!({ "status": "CHARGING", "last_updated": FUTURE }),
            "last_updated",
        ),
        (Method::PUT, &conn_url, connector, "last_updated"),
        (
            Method::PATCH,
            &conn_url,
            json!({ "max_electric_power": 1000, "last_updated": FUTURE }),
            "last_updated",
        ),
    ];
    for (m, url, body, field) in cases {
        let w = raw.json(m.clone(), url, &tok, &body).await;
        refused_as_future(&w, field);
    }
    assert_eq!(
        raw.get(&loc_url, &tok).await.envelope().data.unwrap(),
        stored,
        "nothing of a refused update is stored"
    );

    // The next real change applies; a stamp within the skew (60 s ahead) is accepted; 30 minutes
    // ahead is not.
    let w = raw
        .json(
            Method::PATCH,
            &evse_url,
            &tok,
            &json!({ "status": "CHARGING", "last_updated": now_plus(1) }),
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    let soon = now_plus(60);
    let w = raw
        .json(
            Method::PATCH,
            &evse_url,
            &tok,
            &json!({ "status": "BLOCKED", "last_updated": soon }),
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    let e = raw.get(&evse_url, &tok).await.envelope().data.unwrap();
    assert_eq!(e["status"], "BLOCKED");
    assert_eq!(instant(&e["last_updated"]), instant(&json!(soon)));
    let w = raw
        .json(
            Method::PATCH,
            &evse_url,
            &tok,
            &json!({ "status": "AVAILABLE", "last_updated": now_plus(1800) }),
        )
        .await;
    refused_as_future(&w, "last_updated");
}

/// `http.max_clock_skew_secs` sets how far ahead of our clock a stamp may be.
#[tokio::test]
async fn uc1_2_the_allowed_clock_skew_is_a_setting() {
    let csp = Node::csp()
        .setting("http.max_clock_skew_secs", "3600")
        .start()
        .await;
    let cso = ForeignPeer::cpo("NL-FOR").register(&csp).await;
    let raw = RawOcpi::new(None);
    let url = format!("{}/ocpi/2.2.1/locations/NL/FOR/F-1", csp.ocpi_url);
    let w = raw
        .json(
            Method::PUT,
            &url,
            &cso.token_c,
            &foreign_location("F-1", &now_plus(1800)),
        )
        .await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
    let w = raw
        .json(
            Method::PUT,
            &url,
            &cso.token_c,
            &foreign_location("F-1", &now_plus(7200)),
        )
        .await;
    refused_as_future(&w, "last_updated");
}

/// A copy that an earlier version stored with stamps in the future is not frozen for good: its
/// stamps count for nothing, so the next real change applies and gives it real stamps again.
#[tokio::test]
async fn uc1_2_a_copy_frozen_by_an_earlier_version_thaws_on_the_next_update() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR").register(&csp).await;
    let (raw, tok) = (RawOcpi::new(None), cso.token_c.clone());
    let loc_url = format!("{}/ocpi/2.2.1/locations/NL/FOR/F-1", csp.ocpi_url);
    let w = raw
        .json(
            Method::PUT,
            &loc_url,
            &tok,
            &foreign_location("F-1", &now_plus(0)),
        )
        .await;
    assert_eq!(w.code(), 1000, "{:?}", w.body);
    let key = roaming_csp::sites::object_key(&nl_for(), "F-1");
    freeze(&csp, roaming_csp::sites::LOCATIONS, &key, FUTURE);

    // An EVSE PATCH applies, and the location and the EVSE carry its stamp (T-82).
    let t = now_plus(1);
    let w = raw
        .json(
            Method::PATCH,
            &format!("{loc_url}/F-1-E0"),
            &tok,
            &json!({ "status": "CHARGING", "last_updated": t }),
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    let l = raw.get(&loc_url, &tok).await.envelope().data.unwrap();
    assert_eq!(
        l["evses"][0]["status"], "CHARGING",
        "applied, not ignored as older"
    );
    assert_eq!(instant(&l["evses"][0]["last_updated"]), instant(&json!(t)));
    assert_eq!(instant(&l["last_updated"]), instant(&json!(t)));
    assert!(
        instant(&l["evses"][1]["last_updated"]) <= instant(&json!(t)),
        "{l}"
    );

    // A whole-location PUT on a frozen copy applies too.
    freeze(&csp, roaming_csp::sites::LOCATIONS, &key, FUTURE);
    let mut again = foreign_location("F-1", &now_plus(2));
    again["name"] = json!("Renamed");
    let w = raw.json(Method::PUT, &loc_url, &tok, &again).await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    let l = raw.get(&loc_url, &tok).await.envelope().data.unwrap();
    assert_eq!(l["name"], "Renamed");
}

/// T-65: a pulled object with a stamp in the future is logged and skipped, not stored; the others of
/// the page are.
#[tokio::test]
async fn uc1_2_a_pulled_object_stamped_in_the_future_is_skipped() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR")
        .module("locations", "SENDER")
        .register(&csp)
        .await;
    let mut nested = foreign_location("F-3", &now_plus(0));
    nested["evses"][0]["last_updated"] = json!(FUTURE);
    let page = json!([
        foreign_location("F-1", &now_plus(0)),
        foreign_location("F-2", FUTURE),
        nested
    ]);
    Mock::given(method("GET"))
        .and(path("/ocpi/locations"))
        .respond_with(cso.answer(page))
        .mount(&cso.server)
        .await;
    let report: Value = csp.op(Method::POST, "/api/peers/NL-FOR/sync", &json!({})).await;
    assert_eq!(report["skipped"], 2, "{report}");
    let held: Value = csp.op_get("/api/locations/NL/FOR/F-1").await;
    assert_eq!(held["id"], "F-1");
    for id in ["F-2", "F-3"] {
        assert!(
            csp.operator
                .get::<Value>(&format!("/api/locations/NL/FOR/{id}"))
                .await
                .is_err(),
            "{id} is not stored"
        );
    }
}

/// UC2-1: a tariff stamped in the future is refused; a frozen copy thaws.
#[tokio::test]
async fn uc2_1_a_tariff_stamped_in_the_future_is_refused_and_a_frozen_copy_thaws() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR").register(&csp).await;
    let (raw, tok) = (RawOcpi::new(None), cso.token_c.clone());
    let url = format!("{}/ocpi/2.2.1/tariffs/NL/FOR/AC-STD", csp.ocpi_url);
    refused_then_created(
        &raw,
        &url,
        &tok,
        &foreign_tariff(FUTURE),
        &foreign_tariff(&now_plus(0)),
    )
    .await;
    freeze(
        &csp,
        roaming_csp::sites::TARIFFS,
        &roaming_csp::sites::object_key(&nl_for(), "AC-STD"),
        FUTURE,
    );
    let mut changed = foreign_tariff(&now_plus(1));
    changed["elements"][0]["price_components"][0]["price"] = json!(0.45);
    let w = raw.json(Method::PUT, &url, &tok, &changed).await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    let t = raw.get(&url, &tok).await.envelope().data.unwrap();
    assert_eq!(
        t["elements"][0]["price_components"][0]["price"], 0.45,
        "applied, not ignored"
    );
}

/// UC3-6: a session PUT or PATCH stamped in the future is refused; a frozen copy thaws.
#[tokio::test]
async fn uc3_6_a_session_stamped_in_the_future_is_refused_and_a_frozen_copy_thaws() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR").register(&csp).await;
    let (raw, tok) = (RawOcpi::new(None), cso.token_c.clone());
    let url = format!("{}/ocpi/2.2.1/sessions/NL/FOR/S-1", csp.ocpi_url);
    refused_then_created(
        &raw,
        &url,
        &tok,
        &foreign_session(FUTURE),
        &foreign_session(&now_plus(0)),
    )
    .await;
    let w = raw
        .json(
            Method::PATCH,
            &url,
            &tok,
            &json!({ "kwh": 1, "last_updated": FUTURE }),
        )
        .await;
    refused_as_future(&w, "last_updated");
    let key = roaming_peer::store::key(["nl", "for", "s-1"]);
    freeze(&csp, roaming_csp::sessions::SESSIONS, &key, FUTURE);
    let w = raw
        .json(
            Method::PATCH,
            &url,
            &tok,
            &json!({ "kwh": 2.5, "last_updated": now_plus(1) }),
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    let s = raw.get(&url, &tok).await.envelope().data.unwrap();
    assert_eq!(s["kwh"], 2.5, "applied, not ignored as older");
}

/// UC3-9: a CDR stamped in the future, or carrying a tariff stamped in the future, is refused.
#[tokio::test]
async fn uc3_9_a_cdr_stamped_in_the_future_is_refused() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR").register(&csp).await;
    let raw = RawOcpi::new(None);
    let url = format!("{}/ocpi/2.2.1/cdrs", csp.ocpi_url);
    let c = roaming_e2e::fixtures::foreign::cdr("CDR-F");
    let mut future = c.clone();
    future["last_updated"] = json!(FUTURE);
    let mut future_tariff = c.clone();
    future_tariff["tariffs"][0]["last_updated"] = json!(FUTURE);
    for (body, field) in [
        (future, "last_updated"),
        (future_tariff, "tariffs[0].last_updated"),
    ] {
        let w = raw.json(Method::POST, &url, &cso.token_c, &body).await;
        refused_as_future(&w, field);
    }
    let held: Vec<Value> = csp.op_get("/api/cdrs").await;
    assert!(held.is_empty(), "not stored: {held:?}");
    let w = raw.json(Method::POST, &url, &cso.token_c, &c).await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
}

/// UC3-1 at the CSO: a token stamped in the future is refused; a copy frozen by an earlier version
/// thaws, so that blocking the token works.
#[tokio::test]
async fn uc3_1_a_token_stamped_in_the_future_is_refused_and_a_frozen_copy_thaws() {
    let cso = Node::cso().start().await;
    let csp = ForeignPeer::emsp("DE-FOR").register(&cso).await;
    let (raw, tok) = (RawOcpi::new(None), csp.token_c.clone());
    let url = format!("{}/ocpi/2.2.1/tokens/DE/FOR/F0000001", cso.ocpi_url);
    let token = |t: &str| {
        json!({
            "country_code": "DE", "party_id": "FOR", "uid": "F0000001", "type": "RFID",
            "contract_id": "DE-FOR-C00000001-5", "issuer": "Test", "valid": true,
            "whitelist": "ALLOWED", "last_updated": t
        })
    };
    refused_then_created(&raw, &url, &tok, &token(FUTURE), &token(&now_plus(0))).await;
    let w = raw
        .json(
            Method::PATCH,
            &url,
            &tok,
            &json!({ "valid": false, "last_updated": FUTURE }),
        )
        .await;
    refused_as_future(&w, "last_updated");

    // What an earlier version may have stored: the token stamped 9999.
    let store = &cso.core.store;
    let owner: PartyRef = "DE-FOR".parse().unwrap();
    let key = roaming_cso::tokens::token_key(
        &roaming_types::modules::tokens::TokenType::Rfid,
        "F0000001",
        &owner,
    );
    let mut held: Value = store
        .get_json(roaming_cso::tokens::TOKENS, &key)
        .unwrap()
        .unwrap();
    held["last_updated"] = json!(FUTURE);
    store
        .transact(|tx| {
            tx.put_json(roaming_cso::tokens::TOKENS, key.clone(), &held)
                .map(|_| ())
        })
        .unwrap();
    let w = raw
        .json(
            Method::PATCH,
            &url,
            &tok,
            &json!({ "valid": false, "last_updated": now_plus(1) }),
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 1000), "{:?}", w.body);
    let t = raw.get(&url, &tok).await.envelope().data.unwrap();
    assert_eq!(t["valid"], false, "blocked, not ignored as older");
}

/// UC3-5: a verdict on a CDR dated in the future (`checked_at`, `x-roaming-cdr-checks`) is refused
/// before anything else is looked at.
#[tokio::test]
async fn uc3_5_a_cdr_check_dated_in_the_future_is_refused() {
    let cso = Node::cso().start().await;
    let csp = ForeignPeer::emsp("DE-FOR").register(&cso).await;
    let raw = RawOcpi::new(None);
    let url = format!("{}/ocpi/2.2.1/x-roaming-cdr-checks/CDR-X", cso.ocpi_url);
    let check = |t: &str| json!({ "cdr_id": "CDR-X", "verdict": "ACCEPTED", "checked_at": t });
    let w = raw.json(Method::PUT, &url, &csp.token_c, &check(FUTURE)).await;
    refused_as_future(&w, "checked_at");
    let w = raw
        .json(Method::PUT, &url, &csp.token_c, &check(&now_plus(0)))
        .await;
    assert_eq!((w.status, w.code()), (404, 2001), "an unknown CDR: {:?}", w.body);
}
