//! UC1-2 Sites information exchange: import at the CSO, push (PUT/PATCH) and pull (paginated GET)
//! to the CSP, Receiver rules, search (checklist §3.8, §3.10, §3.11, §6; T-60…T-62, T-82, T-90…T-95,
//! LOC-02, LOC-03).

use std::time::Duration;

use http::Method;
use roaming_e2e::fixtures::{location, tariffs};
use roaming_e2e::{Node, RawOcpi, eventually, instant};
use serde_json::{Value, json};

async fn import(cso: &Node, locations: Vec<Value>) {
    let r: Value = cso.op(Method::POST, "/api/tariffs/import", &tariffs()).await;
    assert_eq!(r["imported"], 2);
    let r: Value = cso
        .op(
            Method::POST,
            "/api/locations/import",
            &Value::Array(locations.clone()),
        )
        .await;
    assert_eq!(r["imported"], locations.len());
}

/// Waits until the CSP holds `n` locations (visible or not) and returns its search answer.
async fn csp_holds(csp: &Node, n: usize) -> Value {
    eventually(Duration::from_secs(15), || async {
        let r: Value = csp.op_get("/api/locations?include_hidden=true&limit=1000").await;
        (r["total"] == n).then_some(r)
    })
    .await
    .unwrap_or_else(|| panic!("the CSP did not reach {n} locations"))
}

async fn same_at_both(cso: &Node, csp: &Node, id: &str) {
    let at_cso: Value = cso.op_get(&format!("/api/locations/{id}")).await;
    let ok = eventually(Duration::from_secs(10), || async {
        let at_csp: Value = csp.op_get(&format!("/api/locations/NL/CSO/{id}")).await;
        (at_csp == at_cso).then_some(())
    })
    .await;
    if ok.is_none() {
        let at_csp: Value = csp.op_get(&format!("/api/locations/NL/CSO/{id}")).await;
        panic!("CSP copy differs:\nCSO {at_cso:#}\nCSP {at_csp:#}");
    }
}

#[tokio::test]
async fn uc1_2_pull_after_registration_copies_public_sites() {
    let cso = Node::cso().start().await;
    let mut private = location("PRIV", 52.30, 4.80, 1);
    private["publish"] = json!(false);
    import(
        &cso,
        vec![
            location("AMS-1", 52.37, 4.89, 2),
            location("AMS-2", 52.36, 4.90, 2),
            private,
        ],
    )
    .await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let found = csp_holds(&csp, 2).await;
    assert!(
        found["locations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["id"] != "PRIV"),
        "LOC-03: private sites are never sent"
    );
    same_at_both(&cso, &csp, "AMS-1").await;
    same_at_both(&cso, &csp, "AMS-2").await;
    let t: Vec<Value> = csp.op_get("/api/tariffs").await;
    let ids: Vec<&Value> = t.iter().map(|t| &t["id"]).collect();
    assert_eq!(
        ids,
        ["AC-STD", "DC-FAST", "FREE"],
        "with the free-of-charge tariff"
    );
}

#[tokio::test]
async fn uc1_2_push_after_import_and_changes() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    import(&cso, vec![location("UTR-1", 52.09, 5.12, 2)]).await;
    csp_holds(&csp, 1).await;
    same_at_both(&cso, &csp, "UTR-1").await;
    // A location PATCH, an EVSE PUT (new EVSE) and a connector PATCH are pushed too.
    let _: Value = cso
        .op(
            Method::PATCH,
            "/api/locations/UTR-1",
            &json!({ "name": "Utrecht Centraal P+R" }),
        )
        .await;
    let mut evse = location("UTR-1", 0.0, 0.0, 1)["evses"][0].clone();
    evse["uid"] = json!("UTR-1-E9");
    let _: Value = cso.op(Method::PUT, "/api/locations/UTR-1/UTR-1-E9", &evse).await;
    let _: Value = cso
        .op(
            Method::PATCH,
            "/api/locations/UTR-1/UTR-1-E9/1",
            &json!({ "max_electric_power": 11000 }),
        )
        .await;
    same_at_both(&cso, &csp, "UTR-1").await;
    // T-82: the parents' last_updated follow the newest child on both sides.
    let at_csp: Value = csp.op_get("/api/locations/NL/CSO/UTR-1").await;
    let evse = at_csp["evses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uid"] == "UTR-1-E9")
        .unwrap();
    assert_eq!(evse["last_updated"], evse["connectors"][0]["last_updated"]);
    assert_eq!(at_csp["last_updated"], evse["last_updated"]);
}

#[tokio::test]
async fn uc1_2_import_is_all_or_nothing_with_json_paths() {
    let cso = Node::cso().start().await;
    let good = location("OK-1", 52.0, 5.0, 1);
    let mut bad = location("BAD-1", 52.0, 5.0, 2);
    bad["evses"][1]["connectors"][0]["standard"] = json!("IEC_62196_T9");
    let mut bad2 = location("BAD-2", 52.0, 5.0, 1);
    bad2["coordinates"]["latitude"] = json!("52.1");
    let err = cso
        .operator
        .post::<_, Value>("/api/locations/import", &json!([good, bad, bad2]))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("422"), "{text}");
    assert!(text.contains("[1].evses[1].connectors[0].standard"), "{text}");
    assert!(text.contains("[2].coordinates.latitude"), "{text}");
    let all: Vec<Value> = cso.op_get("/api/locations").await;
    assert!(all.is_empty(), "nothing of a rejected file is applied");
    // Not ours: another party's country_code is refused.
    let mut foreign = location("F-1", 52.0, 5.0, 1);
    foreign["country_code"] = json!("BE");
    foreign["party_id"] = json!("XYZ");
    assert!(
        cso.operator
            .post::<_, Value>("/api/locations/import", &json!([foreign]))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn uc1_2_sender_pagination_rules() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let locations: Vec<Value> = (0..25)
        .map(|i| {
            let mut l = location(&format!("P-{i:02}"), 52.0, 5.0, 1);
            l["last_updated"] = json!(format!("2026-01-01T00:{i:02}:00Z"));
            l["evses"][0]["last_updated"] = l["last_updated"].clone();
            l["evses"][0]["connectors"][0]["last_updated"] = l["last_updated"].clone();
            l
        })
        .collect();
    let _: Value = cso
        .op(Method::POST, "/api/locations/import", &Value::Array(locations))
        .await;
    let raw = RawOcpi::new(None);
    let token = csp.token_for(&cso);
    let base = format!("{}/ocpi/2.2.1/locations", cso.ocpi_url);
    // T-61: headers; the Link keeps the filters; T-62: stable order across pages.
    let mut url = format!("{base}?date_from=2026-01-01T00:05:00Z&date_to=2026-01-01T00:20:00Z&limit=4");
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let w = raw.get(&url, &token).await;
        assert_eq!((w.status, w.code()), (200, 1000));
        assert_eq!(
            w.header("x-total-count").as_deref(),
            Some("15"),
            "inclusive from, exclusive to"
        );
        assert_eq!(w.header("x-limit").as_deref(), Some("500"));
        for l in w.envelope().data.unwrap().as_array().unwrap() {
            ids.push(l["id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        match w.header("link") {
            Some(link) => {
                assert!(
                    link.contains("date_from=2026-01-01T00%3A05%3A00Z") && link.contains("date_to="),
                    "{link}"
                );
                url = link.trim_start_matches('<').split('>').next().unwrap().to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 4);
    let expected: Vec<String> = (5..20).map(|i| format!("P-{i:02}")).collect();
    assert_eq!(ids, expected);
    // A plain offset (no cursor) gives the same page as following the link.
    let w = raw.get(&format!("{base}?limit=5&offset=5"), &token).await;
    let page: Vec<String> = w
        .envelope()
        .data
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(page, (5..10).map(|i| format!("P-{i:02}")).collect::<Vec<_>>());
    assert_eq!(w.header("x-total-count").as_deref(), Some("25"));
    // Bad parameters → 2001.
    for q in ["limit=0", "offset=-3", "date_from=yesterday"] {
        let w = raw.get(&format!("{base}?{q}"), &token).await;
        assert_eq!(w.code(), 2001, "{q}");
    }
}

#[tokio::test]
async fn uc1_2_sender_get_object() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let mut private = location("HIDDEN", 52.0, 5.0, 1);
    private["publish"] = json!(false);
    import(&cso, vec![location("G-1", 52.0, 5.0, 2), private]).await;
    let raw = RawOcpi::new(None);
    let token = csp.token_for(&cso);
    let base = format!("{}/ocpi/2.2.1/locations", cso.ocpi_url);
    let w = raw.get(&format!("{base}/G-1"), &token).await;
    assert_eq!(w.envelope().data.unwrap()["id"], "G-1");
    let w = raw.get(&format!("{base}/G-1/G-1-E1"), &token).await;
    assert_eq!(w.envelope().data.unwrap()["uid"], "G-1-E1");
    let w = raw.get(&format!("{base}/G-1/G-1-E1/1"), &token).await;
    assert_eq!(w.envelope().data.unwrap()["standard"], "IEC_62196_T2_COMBO");
    for (path, code) in [
        ("NOPE", 2003),
        ("HIDDEN", 2003),
        ("G-1/NOPE", 2001),
        ("G-1/G-1-E1/9", 2001),
    ] {
        let w = raw.get(&format!("{base}/{path}"), &token).await;
        assert_eq!((w.status, w.code()), (404, code), "{path}");
    }
}

#[tokio::test]
async fn uc1_2_receiver_rules() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let raw = RawOcpi::new(None);
    let token = cso.token_for(&csp);
    let base = format!("{}/ocpi/2.2.1/locations", csp.ocpi_url);
    let mut loc = location("R-1", 52.0, 5.0, 1);
    loc["country_code"] = json!("NL");
    loc["party_id"] = json!("CSO");
    loc["last_updated"] = json!("2026-05-01T10:00:00Z");
    loc["evses"][0]["last_updated"] = json!("2026-05-01T10:00:00Z");
    loc["evses"][0]["connectors"][0]["last_updated"] = json!("2026-05-01T10:00:00Z");

    let w = raw
        .json(Method::PUT, &format!("{base}/NL/CSO/R-1"), &token, &loc)
        .await;
    assert_eq!((w.status, w.code()), (201, 1000));
    let w = raw
        .json(Method::PUT, &format!("{base}/NL/CSO/R-1"), &token, &loc)
        .await;
    assert_eq!((w.status, w.code()), (200, 1000));
    // T-90: another party's objects.
    let w = raw
        .json(Method::PUT, &format!("{base}/BE/XYZ/R-1"), &token, &loc)
        .await;
    assert_eq!((w.status, w.code()), (404, 2001));
    // T-93: URL id ≠ body id.
    let w = raw
        .json(Method::PUT, &format!("{base}/NL/CSO/R-2"), &token, &loc)
        .await;
    assert_eq!((w.status, w.code()), (200, 2001));
    // T-94: PATCH of unknown objects.
    let patch = json!({ "status": "CHARGING", "last_updated": "2026-05-01T11:00:00Z" });
    let w = raw
        .json(
            Method::PATCH,
            &format!("{base}/NL/CSO/NOPE/R-1-E0"),
            &token,
            &patch,
        )
        .await;
    assert_eq!((w.status, w.code()), (404, 2003));
    let w = raw
        .json(Method::PATCH, &format!("{base}/NL/CSO/R-1/NOPE"), &token, &patch)
        .await;
    assert_eq!((w.status, w.code()), (404, 2001));
    // T-81: PATCH without last_updated.
    let w = raw
        .json(
            Method::PATCH,
            &format!("{base}/NL/CSO/R-1/R-1-E0"),
            &token,
            &json!({ "status": "CHARGING" }),
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 2001));
    assert!(w.envelope().status_message.unwrap().contains("last_updated"));
    // A good PATCH, then an older one that must be ignored.
    let w = raw
        .json(
            Method::PATCH,
            &format!("{base}/NL/CSO/R-1/R-1-E0"),
            &token,
            &patch,
        )
        .await;
    assert_eq!((w.status, w.code()), (200, 1000));
    let old = json!({ "status": "OUTOFORDER", "last_updated": "2026-05-01T10:30:00Z" });
    let w = raw
        .json(Method::PATCH, &format!("{base}/NL/CSO/R-1/R-1-E0"), &token, &old)
        .await;
    assert_eq!((w.status, w.code()), (200, 1000));
    let stored = raw
        .get(&format!("{base}/NL/CSO/R-1"), &token)
        .await
        .envelope()
        .data
        .unwrap();
    assert_eq!(stored["evses"][0]["status"], "CHARGING", "stale update ignored");
    assert_eq!(
        instant(&stored["last_updated"]),
        instant(&json!("2026-05-01T11:00:00Z")),
        "T-82: parent bumped"
    );
    // A connector PUT for an EVSE that does not exist: 404 + 2001.
    let conn = loc["evses"][0]["connectors"][0].clone();
    let w = raw
        .json(Method::PUT, &format!("{base}/NL/CSO/R-1/NOPE/1"), &token, &conn)
        .await;
    assert_eq!((w.status, w.code()), (404, 2001));
    // Not JSON, and a CSP calling the CSP's receiver with a CSP token → 401.
    let w = raw
        .send(
            Method::PUT,
            &format!("{base}/NL/CSO/R-1"),
            Some(&roaming_e2e::token_header(&token)),
            &[],
            Some(b"{".to_vec()),
        )
        .await;
    assert_eq!(w.status, 400);
    let w = raw
        .json(Method::PUT, &format!("{base}/NL/CSO/R-1"), "not-a-token", &loc)
        .await;
    assert_eq!(w.status, 401);
}

#[tokio::test]
async fn uc1_2_search_by_area_status_standard_power() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    import(
        &cso,
        vec![
            location("AMS", 52.3676, 4.9041, 2), // Amsterdam, AC + DC
            location("RTM", 51.9244, 4.4777, 1), // Rotterdam, AC only
            location("GRQ", 53.2194, 6.5665, 1), // Groningen, AC only
        ],
    )
    .await;
    csp_holds(&csp, 3).await;
    let ids = |v: &Value| -> Vec<String> {
        v["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let r: Value = csp.op_get("/api/locations?near=52.09,5.12&radius_km=60").await;
    assert_eq!(ids(&r), ["AMS", "RTM"], "ordered by distance from Utrecht");
    let r: Value = csp.op_get("/api/locations?bbox=51.5,4.0,52.5,5.0").await;
    assert_eq!(ids(&r), ["AMS", "RTM"]);
    let r: Value = csp.op_get("/api/locations?standard=IEC_62196_T2_COMBO").await;
    assert_eq!(ids(&r), ["AMS"]);
    let r: Value = csp.op_get("/api/locations?min_power_kw=50").await;
    assert_eq!(ids(&r), ["AMS"]);
    let _: Value = cso
        .op(
            Method::PUT,
            "/api/locations/GRQ/GRQ-E0/status",
            &json!({ "status": "OUTOFORDER" }),
        )
        .await;
    let r = eventually(Duration::from_secs(10), || async {
        let r: Value = csp.op_get("/api/locations?status=OUTOFORDER").await;
        (r["total"] == 1).then_some(r)
    })
    .await
    .unwrap();
    assert_eq!(ids(&r), ["GRQ"]);
    let r: Value = csp.op_get("/api/locations?limit=1&offset=1").await;
    assert_eq!((r["total"].as_u64(), ids(&r).len()), (Some(3), 1), "pagination");
    assert!(
        csp.operator
            .get::<Value>("/api/locations?near=abc")
            .await
            .is_err()
    );
}

/// The CSO is the clock of its own objects (a receiver drops what is older than its copy, T-80): a re-import
/// whose file carries an older `last_updated` still reaches the CSP, a stamp in the future is not kept,
/// and re-importing unchanged objects stores and pushes nothing.
#[tokio::test]
async fn uc1_2_reimport_with_stale_or_future_time_stamps_keeps_the_csp_equal() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    let stamped = |name: &str, t: &str| {
        let mut l = location("R-1", 52.0, 5.0, 2);
        l["name"] = json!(name);
        l["last_updated"] = json!(t);
        for e in l["evses"].as_array_mut().unwrap() {
            e["last_updated"] = json!(t);
            for c in e["connectors"].as_array_mut().unwrap() {
                c["last_updated"] = json!(t);
            }
        }
        l
    };
    import(&cso, vec![stamped("First", "2026-05-01T10:00:00Z")]).await;
    csp_holds(&csp, 1).await;
    same_at_both(&cso, &csp, "R-1").await;

    // An older file with a change: stamped newer than the stored version, so the CSP takes it.
    import(&cso, vec![stamped("Second", "2026-04-01T00:00:00Z")]).await;
    let at_cso: Value = cso.op_get("/api/locations/R-1").await;
    assert_eq!(at_cso["name"], "Second");
    assert!(instant(&at_cso["last_updated"]) > instant(&json!("2026-05-01T10:00:00Z")));
    assert_eq!(
        instant(&at_cso["evses"][0]["last_updated"]),
        instant(&json!("2026-05-01T10:00:00Z")),
        "unchanged EVSEs keep their stamps"
    );
    same_at_both(&cso, &csp, "R-1").await;

    // The same content with other stamps is no change: nothing stored, nothing queued.
    let paused = csp.pause().await;
    let r: Value = cso
        .op(
            Method::POST,
            "/api/locations/import",
            &json!([stamped("Second", "2026-12-31T00:00:00Z")]),
        )
        .await;
    assert_eq!(
        (r["imported"].as_u64(), r["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(cso.op_get::<Value>("/api/locations/R-1").await, at_cso);
    let pending: Vec<Value> = cso.op_get("/api/outbox").await;
    assert_eq!(pending[0]["pending"], 0, "nothing queued for an unchanged import");

    // A stamp in the future is not kept: later changes stamped now would look older to every CSP.
    let r: Value = cso
        .op(
            Method::POST,
            "/api/locations/import",
            &json!([stamped("Third", "2099-01-01T00:00:00Z")]),
        )
        .await;
    assert_eq!(r["unchanged"], 0);
    let at_cso: Value = cso.op_get("/api/locations/R-1").await;
    assert!(
        instant(&at_cso["last_updated"]) <= roaming_types::DateTime::now(),
        "{at_cso}"
    );
    let csp = paused.start().await;
    same_at_both(&cso, &csp, "R-1").await;
    // And a status change after it reaches the CSP too.
    let _: Value = cso
        .op(
            Method::PUT,
            "/api/locations/R-1/R-1-E0/status",
            &json!({ "status": "BLOCKED" }),
        )
        .await;
    same_at_both(&cso, &csp, "R-1").await;
    let at_csp: Value = csp.op_get("/api/locations/NL/CSO/R-1").await;
    assert_eq!(at_csp["evses"][0]["status"], "BLOCKED");
}

#[tokio::test]
async fn uc1_2_restart_of_either_side_loses_nothing() {
    let cso = Node::cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    import(
        &cso,
        vec![location("K-1", 52.0, 5.0, 2), location("K-2", 52.1, 5.1, 1)],
    )
    .await;
    csp_holds(&csp, 2).await;
    let cso = cso.restart().await;
    let csp = csp.restart().await;
    assert_eq!(cso.op_get::<Vec<Value>>("/api/locations").await.len(), 2);
    csp_holds(&csp, 2).await;
    // And they still talk: a change after the restarts arrives.
    let _: Value = cso
        .op(
            Method::PUT,
            "/api/locations/K-1/K-1-E0/status",
            &json!({ "status": "BLOCKED" }),
        )
        .await;
    let ok = eventually(Duration::from_secs(10), || async {
        let l: Value = csp.op_get("/api/locations/NL/CSO/K-1").await;
        (l["evses"][0]["status"] == "BLOCKED").then_some(())
    })
    .await;
    assert!(ok.is_some());
}

#[tokio::test]
async fn uc1_2_a_peer_refusing_our_token_keeps_its_pushes_until_it_accepts_again() {
    // #12 item 10: a 403 (where the spec says 401) is "the peer does not accept our token", like a
    // 401: the entries stay and are retried with the normal backoff (no dead letter), the peer is
    // shown as unauthorized, and everything is delivered once it accepts us again.
    use wiremock::matchers::method;
    use wiremock::{Mock, ResponseTemplate};

    let cso = Node::cso()
        .setting("push.retry_base_ms", "50")
        .setting("push.retry_max_secs", "1")
        .start()
        .await;
    let peer = roaming_e2e::foreign::ForeignPeer::emsp("DE-FOR")
        .module("locations", "RECEIVER")
        .register(&cso)
        .await;
    for m in ["PUT", "PATCH"] {
        Mock::given(method(m))
            .respond_with(ResponseTemplate::new(403).set_body_string("Forbidden"))
            .mount(&peer.server)
            .await;
    }
    import(
        &cso,
        vec![location("R-1", 52.0, 4.0, 1), location("R-2", 52.1, 4.1, 1)],
    )
    .await;
    let outbox = |cso: &Node| {
        let op = cso.operator.clone();
        async move {
            let all: Vec<Value> = op.get("/api/outbox").await.unwrap();
            all.into_iter().find(|s| s["peer"] == "DE-FOR").unwrap()
        }
    };
    let peer_view = |cso: &Node| {
        let op = cso.operator.clone();
        async move {
            let all: Vec<Value> = op.get("/api/peers").await.unwrap();
            all.into_iter().find(|p| p["id"] == "DE-FOR").unwrap()
        }
    };
    // Refused a few times: still pending, nothing dead, the peer marked unauthorized.
    let status = eventually(Duration::from_secs(10), || async {
        let s = outbox(&cso).await;
        (s["oldest"]["attempts"].as_u64().unwrap_or(0) >= 3 || !s["dead"].as_array().unwrap().is_empty())
            .then_some(s)
    })
    .await
    .expect("the pushes were tried");
    assert!(
        status["dead"].as_array().unwrap().is_empty(),
        "no dead letter: {status}"
    );
    assert_eq!(status["pending"], 2, "{status}");
    let view = peer_view(&cso).await;
    let unauthorized = &view["unauthorized"];
    assert!(unauthorized["since"].is_string(), "{view}");
    assert!(
        unauthorized["last_error"].as_str().unwrap().contains("403"),
        "{view}"
    );
    // The peer accepts our token again: everything is delivered and the mark clears.
    peer.server.reset().await;
    for m in ["PUT", "PATCH"] {
        Mock::given(method(m))
            .respond_with(peer.answer(Value::Null))
            .mount(&peer.server)
            .await;
    }
    eventually(Duration::from_secs(10), || async {
        (outbox(&cso).await["pending"] == 0).then_some(())
    })
    .await
    .expect("delivered once accepted");
    let status = outbox(&cso).await;
    assert!(status["dead"].as_array().unwrap().is_empty(), "{status}");
    let got = peer.requests().await;
    for id in ["R-1", "R-2"] {
        assert!(
            got.contains(&format!("PUT /ocpi/locations/NL/CSO/{id}")),
            "{got:?}"
        );
    }
    let view = peer_view(&cso).await;
    assert!(
        view["unauthorized"].is_null(),
        "cleared by the successful call: {view}"
    );
}

/// A location of the foreign CPO NL-FOR, complete as another implementation would send it.
fn foreign_location(id: &str) -> Value {
    let mut l = location(id, 52.2, 4.2, 1);
    let stamp = json!("2026-01-01T00:00:00Z");
    l["country_code"] = json!("NL");
    l["party_id"] = json!("FOR");
    l["last_updated"] = stamp.clone();
    l["evses"][0]["last_updated"] = stamp.clone();
    l["evses"][0]["connectors"][0]["last_updated"] = stamp;
    l["evses"][0]["connectors"][0]["tariff_ids"] = json!([]);
    l
}

fn foreign_tariff(id: &str) -> Value {
    json!({
        "country_code": "NL", "party_id": "FOR", "id": id, "currency": "EUR",
        "elements": [{ "price_components": [{ "type": "ENERGY", "price": 0.30, "step_size": 1 }] }],
        "last_updated": "2026-01-01T00:00:00Z"
    })
}

/// Waits until the pull that follows a registration has tried `modules` of `peer` (the mock had
/// nothing mounted yet), so that the test's own pull is the only one running.
async fn first_pull_done(csp: &Node, peer: &str, modules: &[&str]) {
    eventually(Duration::from_secs(10), || async {
        let states: Vec<Value> = csp.op_get("/api/sync").await;
        modules
            .iter()
            .all(|m| {
                states
                    .iter()
                    .any(|s| s["peer"] == peer && s["module"] == *m && s["last_attempt"].is_string())
            })
            .then_some(())
    })
    .await
    .expect("the first pull ran");
}

/// Serves `items` of `module` in pages of two at `offset` 0, 2, 4…, each page but the last with
/// `Link: <link(next offset)>; rel="next"` and `X-Total-Count`.
async fn serve_pages(
    peer: &roaming_e2e::foreign::ForeignPeer,
    module: &str,
    items: &[Value],
    link: impl Fn(usize) -> String,
) {
    use wiremock::matchers::{method, path, query_param, query_param_is_missing};
    use wiremock::{Mock, ResponseTemplate};
    for (page, chunk) in items.chunks(2).enumerate() {
        let offset = page * 2;
        let mut answer = ResponseTemplate::new(200)
            .set_body_json(roaming_e2e::foreign::envelope(Value::Array(chunk.to_vec())))
            .insert_header("X-Total-Count", items.len().to_string())
            .insert_header("X-Limit", "2");
        if offset + 2 < items.len() {
            answer = answer.insert_header("Link", format!("<{}>; rel=\"next\"", link(offset + 2)));
        }
        let m = Mock::given(method("GET")).and(path(format!("/ocpi/{module}")));
        let m = if offset == 0 {
            m.and(query_param_is_missing("offset"))
        } else {
            m.and(query_param("offset", offset.to_string()))
        };
        m.respond_with(answer).mount(&peer.server).await;
    }
}

#[tokio::test]
async fn uc1_2_a_pull_goes_on_by_offset_when_the_link_points_elsewhere() {
    // #12 item 11: one popular library sends a `Link` whose scheme, host or path is not the endpoint
    // it announced. Such a Link is unusable: the pull goes on with offset/limit on the announced
    // endpoint (offset + items received, same filters) and the deviation is recorded once.
    let csp = Node::csp().start().await;
    let peer = roaming_e2e::foreign::ForeignPeer::cpo("NL-FOR")
        .module("locations", "SENDER")
        .module("tariffs", "SENDER")
        .register(&csp)
        .await;
    first_pull_done(&csp, "NL-FOR", &["locations", "tariffs"]).await;
    let base = peer.server.uri();
    let port = url::Url::parse(&base).unwrap().port().unwrap();
    let locations: Vec<Value> = (1..=5).map(|i| foreign_location(&format!("F-{i}"))).collect();
    serve_pages(&peer, "locations", &locations, |offset| match offset {
        // Another host, then another path.
        2 => format!("http://ocpi.internal:{port}/ocpi/locations?offset=2&limit=2"),
        _ => format!("{base}/ocpi/cpo/2.2.1/locations?offset={offset}&limit=2"),
    })
    .await;
    let tariffs: Vec<Value> = (1..=5).map(|i| foreign_tariff(&format!("T-{i}"))).collect();
    // The right host and path, but https where the endpoint is http.
    let https = base.replacen("http://", "https://", 1);
    serve_pages(&peer, "tariffs", &tariffs, |offset| {
        format!("{https}/ocpi/tariffs?offset={offset}&limit=2")
    })
    .await;

    let report: Value = csp
        .op(Method::POST, "/api/peers/NL-FOR/sync?full=true", &json!({}))
        .await;
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(report["stored"], 10, "{report}");
    let held: Value = csp.op_get("/api/locations?include_hidden=true&limit=1000").await;
    assert_eq!(held["total"], 5, "{held}");
    let held: Vec<Value> = csp.op_get("/api/tariffs").await;
    assert_eq!(held.len(), 5, "{held:?}");
    // Every page came from the announced endpoint, at the offset after what we had received.
    let gets: Vec<String> = peer
        .requests()
        .await
        .into_iter()
        .filter(|r| r.starts_with("GET /ocpi/locations") || r.starts_with("GET /ocpi/tariffs"))
        .collect();
    for m in ["locations", "tariffs"] {
        for page in ["", "?offset=2", "?offset=4"] {
            let want = format!("GET /ocpi/{m}{page}");
            assert!(gets.contains(&want), "{want} in {gets:?}");
        }
    }
    // Recorded once, though both modules and several pages showed it.
    let peers: Vec<Value> = csp.op_get("/api/peers").await;
    let view = peers.iter().find(|p| p["id"] == "NL-FOR").unwrap();
    let deviations: Vec<&Value> = view["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "unusable_link")
        .collect();
    assert_eq!(deviations.len(), 1, "{view}");
    assert!(
        deviations[0]["example"]
            .as_str()
            .unwrap()
            .contains("ocpi.internal")
            || deviations[0]["example"].as_str().unwrap().contains("https://"),
        "{view}"
    );
    // The next pull is as good.
    let again: Value = csp
        .op(Method::POST, "/api/peers/NL-FOR/sync?full=true", &json!({}))
        .await;
    assert_eq!(
        (again["errors"].clone(), again["removed"].clone()),
        (json!([]), json!(0)),
        "{again}"
    );
}

#[tokio::test]
async fn uc1_2_a_peer_ignoring_offset_does_not_make_the_pull_loop() {
    // A peer that answers every page request with its first page, whether it sends a Link we may
    // follow (and repeats it) or one we may not (and ignores our offset): the pull stops with a
    // clear error instead of looping, keeps what it got, and removes nothing (T-64 needs a
    // complete pull).
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let csp = Node::csp().start().await;
    let peer = roaming_e2e::foreign::ForeignPeer::cpo("NL-FOR")
        .module("locations", "SENDER")
        .module("tariffs", "SENDER")
        .register(&csp)
        .await;
    first_pull_done(&csp, "NL-FOR", &["locations", "tariffs"]).await;
    let base = peer.server.uri();
    let page = |items: Vec<Value>, link: String| {
        ResponseTemplate::new(200)
            .set_body_json(roaming_e2e::foreign::envelope(Value::Array(items)))
            .insert_header("Link", format!("<{link}>; rel=\"next\""))
    };
    // Locations: a usable Link, always the same one, always the same page.
    Mock::given(method("GET"))
        .and(path("/ocpi/locations"))
        .respond_with(page(
            vec![foreign_location("F-1"), foreign_location("F-2")],
            format!("{base}/ocpi/locations?offset=2&limit=2"),
        ))
        .mount(&peer.server)
        .await;
    // Tariffs: an unusable Link, and our offset ignored (no X-Total-Count to stop at).
    Mock::given(method("GET"))
        .and(path("/ocpi/tariffs"))
        .respond_with(page(
            vec![foreign_tariff("T-1"), foreign_tariff("T-2")],
            "https://elsewhere.example/ocpi/tariffs?page=2".to_owned(),
        ))
        .mount(&peer.server)
        .await;
    let empty = json!({});
    let sync =
        csp.operator
            .send::<Value, Value>(Method::POST, "/api/peers/NL-FOR/sync?full=true", Some(&empty));
    let report = tokio::time::timeout(Duration::from_secs(20), sync)
        .await
        .expect("the pull ends")
        .unwrap();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{report}");
    for e in errors {
        assert!(e.as_str().unwrap().contains("same page"), "{report}");
    }
    assert_eq!(report["removed"], 0, "{report}");
    let held: Value = csp.op_get("/api/locations?include_hidden=true&limit=1000").await;
    assert_eq!(held["total"], 2, "{held}");
    let held: Vec<Value> = csp.op_get("/api/tariffs").await;
    assert_eq!(held.len(), 2, "{held:?}");
    // A handful of requests, not a loop.
    let gets = peer
        .requests()
        .await
        .into_iter()
        .filter(|r| r.starts_with("GET /ocpi/l") || r.starts_with("GET /ocpi/t"))
        .count();
    assert!(gets <= 4 + 2, "{gets} page requests");
}
