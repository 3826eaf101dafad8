//! Shared set-up of the group 3 tests: a CSO with a simulated site and a connected CSP, with the
//! simulator and timers made fast so that whole sessions take a second or two.

use std::time::Duration;

use http::Method;
use roaming_e2e::fixtures::{location, tariffs};
use roaming_e2e::{Node, NodeBuilder, eventually};
use roaming_types::DateTime;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The site every group 3 test charges at.
pub(crate) const SITE: &str = "U-1";

/// The uid of EVSE `i` of [`SITE`] (EVSE 1 is the DC one).
pub(crate) fn evse(i: usize) -> String {
    format!("{SITE}-E{i}")
}

/// A CSO with fast simulated chargers.
pub(crate) fn fast_cso() -> NodeBuilder {
    Node::cso()
        .setting("cso.simulator.plug_in_delay_ms", "100")
        .setting("cso.simulator.meter_interval_ms", "150")
        .setting("cso.sessions.period_secs", "1")
        .setting("cso.commands.timeout_secs", "2")
        .setting("cso.authorization.timeout_ms", "1000")
}

/// Loads the tariffs and [`SITE`] with `evses` EVSEs at the CSO and waits until `csp` holds the site.
pub(crate) async fn load_site(cso: &Node, csp: &Node, evses: usize) {
    let _: Value = cso.op(Method::POST, "/api/tariffs/import", &tariffs()).await;
    let _: Value = cso
        .op(
            Method::POST,
            "/api/locations/import",
            &json!([location(SITE, 52.37, 4.89, evses)]),
        )
        .await;
    let path = format!("/api/locations/{}/{SITE}", cso.party().replace('-', "/"));
    eventually(Duration::from_secs(10), || async {
        csp.operator.get::<Value>(&path).await.ok().map(|_| ())
    })
    .await
    .expect("the CSP received the site");
}

/// A fast CSO and a CSP connected to it, the site loaded.
pub(crate) async fn pair(evses: usize) -> (Node, Node) {
    let cso = fast_cso().start().await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    load_site(&cso, &csp, evses).await;
    (cso, csp)
}

/// Issues a token at the CSP.
pub(crate) async fn issue(csp: &Node, body: Value) -> Value {
    csp.op(Method::POST, "/api/tokens", &body).await
}

/// Issues an RFID token with a whitelist type and waits until `cso` holds it.
pub(crate) async fn rfid(csp: &Node, cso: &Node, uid: &str, whitelist: &str) -> Value {
    let t = issue(csp, json!({ "uid": uid, "whitelist": whitelist })).await;
    cso_token(cso, uid, |_| true).await;
    t
}

/// Waits until the CSO's copy of token `uid` satisfies `f`.
pub(crate) async fn cso_token(cso: &Node, uid: &str, f: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(10), || async {
        let all: Vec<Value> = cso.op_get("/api/tokens").await;
        all.into_iter().find(|t| t["uid"] == uid && f(t))
    })
    .await
    .unwrap_or_else(|| panic!("the CSO never held token {uid} as expected"))
}

/// A driver holds token `uid` to the reader of EVSE `evse` (simulator).
pub(crate) async fn present(cso: &Node, evse: &str, uid: &str) -> Value {
    cso.op(
        Method::POST,
        &format!("/api/simulator/evses/{SITE}/{evse}/present-token"),
        &json!({ "uid": uid }),
    )
    .await
}

/// Sends a command through the CSP's operator API.
pub(crate) async fn command(csp: &Node, kind: &str, body: Value) -> Value {
    csp.op(Method::POST, &format!("/api/commands/{kind}"), &body)
        .await
}

/// Waits until the command has its result (or its timeout) and returns it.
pub(crate) async fn finished(csp: &Node, id: &str, within: Duration) -> Value {
    eventually(within, || async {
        let c: Value = csp.op_get(&format!("/api/commands/{id}")).await;
        c.get("result").is_some().then_some(c)
    })
    .await
    .unwrap_or_else(|| panic!("command {id} got no result"))
}

/// Waits until the CSP holds a session satisfying `f`.
pub(crate) async fn csp_session(csp: &Node, within: Duration, f: impl Fn(&Value) -> bool) -> Value {
    eventually(within, || async {
        let all: Vec<Value> = csp.op_get("/api/sessions").await;
        all.into_iter().find(|s| f(s))
    })
    .await
    .expect("the CSP never saw the expected session")
}

/// Waits until the CSO holds a session satisfying `f`.
pub(crate) async fn cso_session(cso: &Node, within: Duration, f: impl Fn(&Value) -> bool) -> Value {
    eventually(within, || async {
        let all: Vec<Value> = cso.op_get("/api/sessions").await;
        all.into_iter().find(|s| f(s))
    })
    .await
    .expect("the CSO never had the expected session")
}

/// The kWh of a session as a number.
pub(crate) fn kwh(s: &Value) -> f64 {
    s["kwh"].as_f64().unwrap_or(0.0)
}

/// A CSO behind a webhook gateway (so that meter values are exactly what the test reports) and a
/// connected CSP, the site loaded.
pub(crate) async fn webhook_pair() -> (Node, Node, MockServer) {
    let sms = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&sms)
        .await;
    let cso = Node::cso()
        .setting("cso.gateway", "webhook")
        .setting("cso.gateway.webhook_url", sms.uri())
        .start()
        .await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    load_site(&cso, &csp, 2).await;
    (cso, csp, sms)
}

/// One meter reading as a station-management system reports it: seconds after the session start,
/// meter Wh, power W and current A from then on (the EV draws power when the power is not 0).
pub(crate) type Reading = (i64, i64, i64, i64);

/// A whole session in the past, as a station-management system reports it afterwards through the
/// webhook gateway's event API ([`Reported::send`]).
pub(crate) struct Reported<'a> {
    /// The gateway's transaction id.
    pub(crate) tx: &'a str,
    /// The EVSE, `<location>-E<i>` as in the fixture locations (the location is read from it).
    pub(crate) evse: &'a str,
    /// The token presented.
    pub(crate) uid: &'a str,
    /// The meter at the start (Wh).
    pub(crate) start_wh: i64,
    /// The readings.
    pub(crate) readings: &'a [Reading],
    /// The stop: seconds after the start, meter Wh.
    pub(crate) stop: (i64, i64),
}

impl Reported<'_> {
    /// Reports the session to `cso`: the start, the readings, the stop.
    pub(crate) async fn send(&self, cso: &Node) {
        let Self {
            tx,
            evse,
            uid,
            start_wh,
            readings,
            stop,
        } = *self;
        let location = evse.rsplit_once("-E").map_or(SITE, |(l, _)| l);
        let ms = DateTime::now().timestamp_millis();
        let start = DateTime::from_timestamp_millis(ms - ms % 1000 - (stop.0 + 60) * 1000).unwrap();
        let at = |secs: i64| start.plus(chrono::Duration::seconds(secs)).to_string();
        let mut events = vec![json!({
            "type": "session_started", "transaction_id": tx, "location_id": location, "evse_uid": evse,
            "connector_id": "1", "token_uid": uid, "token_type": "RFID", "meter_start_wh": start_wh,
            "at": at(0)
        })];
        for (secs, wh, power_w, current_a) in readings {
            events.push(
                json!({ "type": "meter_values", "transaction_id": tx, "energy_wh": wh,
                                "power_w": power_w, "current_a": current_a, "charging": *power_w != 0,
                                "at": at(*secs) }),
            );
        }
        events.push(
            json!({ "type": "session_stopped", "transaction_id": tx, "energy_wh": stop.1, "at": at(stop.0) }),
        );
        for e in events {
            let _: Value = cso.op(Method::POST, "/api/stations/events", &e).await;
        }
    }
}
