//! The end-to-end harness: real CSO and CSP endpoints on `127.0.0.1:0` with temporary sled
//! directories, driven through their public interfaces (style §13).
//!
//! ```ignore
//! let cso = Node::cso().start().await;
//! let csp = Node::csp().start().await;
//! csp.connect_to(&cso).await;
//! ```
//!
//! Each node runs on a runtime of its own, on threads of its own (unless
//! [`NodeBuilder::on_the_test_runtime`]), and when a test ends its nodes' outboxes must have
//! drained, with no dead letter, unless the test declared otherwise ([`drain`]).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failure in the harness is a test failure"
)]

pub mod drain;
pub mod fixtures;
pub mod foreign;
mod runtime;

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use roaming_peer::registration::peers::{PeerRecord, PeerView};
pub use roaming_peer::testing::{TestEndpoint, TestTls};
use roaming_types::Envelope;
use tempfile::TempDir;

use crate::drain::Watch;
use crate::runtime::NodeRuntime;

/// Which role a node plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CSO (OCPI CPO).
    Cso,
    /// CSP (OCPI eMSP).
    Csp,
}

/// A node to start.
#[derive(Debug)]
pub struct NodeBuilder {
    kind: Kind,
    party: String,
    tls: Option<TestTls>,
    settings: Vec<(&'static str, String)>,
    dir: Option<TempDir>,
    store: Option<roaming_peer::store::StoreHandle>,
    /// Carried across a restart: see [`Node::expect_undelivered`].
    undelivered_ok: bool,
    /// Carried across a restart: see [`Node::expect_dead_letters`].
    dead_ok: bool,
    /// See [`NodeBuilder::on_the_test_runtime`].
    on_test_runtime: bool,
}

impl NodeBuilder {
    fn new(kind: Kind, party: &str) -> Self {
        Self {
            kind,
            party: party.to_owned(),
            tls: None,
            settings: Vec::new(),
            dir: None,
            store: None,
            undelivered_ok: false,
            dead_ok: false,
            on_test_runtime: false,
        }
    }

    /// Our party, `CC-PID`.
    pub fn party(mut self, party: &str) -> Self {
        self.party = party.to_owned();
        self
    }

    /// Serve OCPI over HTTPS with this CA material (and trust the CA as a client).
    pub fn tls(mut self, tls: &TestTls) -> Self {
        self.tls = Some(tls.clone());
        self
    }

    /// An extra configuration key.
    pub fn setting(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.settings.push((key, value.into()));
        self
    }

    /// Reuse a data directory (restart tests).
    pub fn data_dir(mut self, dir: TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Run over this store instead of the sled store the endpoint opens (a
    /// [`roaming_peer::testing::FaultyStore`] for fault drills); not kept across a restart.
    pub fn store(mut self, store: roaming_peer::store::StoreHandle) -> Self {
        self.store = Some(store);
        self
    }

    /// Runs the node's tasks on the test's runtime instead of one of its own, taking turns with the
    /// test's code on its thread (as every node ran before the end-of-test check). The check then
    /// cannot wait for this node's outboxes: pending entries are not waited for (dead letters are
    /// still checked), and other nodes cannot deliver to this one while the check waits. For a test
    /// whose client needs that turn-taking; say why where it is used.
    pub fn on_the_test_runtime(mut self) -> Self {
        self.on_test_runtime = true;
        self
    }

    /// Starts the node, on a runtime of its own unless [`on_the_test_runtime`](Self::on_the_test_runtime).
    pub async fn start(self) -> Node {
        let dir = self.dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let (cc, pid) = self.party.split_once('-').unwrap();
        let mut settings = self.settings.clone();
        settings.push(("party.country_code", cc.to_owned()));
        settings.push(("party.party_id", pid.to_owned()));
        let data_dir = dir.path().to_path_buf();
        let name = format!("{:?} {}", self.kind, self.party);
        let runtime = (!self.on_test_runtime).then(|| NodeRuntime::start(&name));
        let (kind, tls, store) = (self.kind, self.tls.clone(), self.store);
        let start = async move {
            match kind {
                Kind::Cso => {
                    let defaults = roaming_cso::defaults();
                    TestEndpoint::start_with_store(
                        &defaults,
                        data_dir,
                        &settings,
                        tls.as_ref(),
                        store,
                        roaming_cso::build,
                    )
                    .await
                }
                Kind::Csp => {
                    let defaults = roaming_csp::defaults();
                    TestEndpoint::start_with_store(
                        &defaults,
                        data_dir,
                        &settings,
                        tls.as_ref(),
                        store,
                        roaming_csp::build,
                    )
                    .await
                }
            }
        };
        let ep = match &runtime {
            Some(rt) => rt.handle.spawn(start).await.expect("the start task"),
            None => start.await,
        }
        .expect("endpoint starts");
        let core = Arc::clone(&ep.core);
        let status: drain::StatusFn = Box::new(move || {
            let all = roaming_peer::outbox::Outbox::status(&core).map_err(|e| e.to_string())?;
            serde_json::to_value(all)
                .map_err(|e| e.to_string())
                .map(|v| match v {
                    serde_json::Value::Array(a) => a,
                    _ => Vec::new(),
                })
        });
        Node {
            ep: Some(ep),
            kind: self.kind,
            dir: Some(dir),
            tls: self.tls,
            party: self.party,
            settings: self.settings,
            watch: Watch::register(
                name,
                status,
                self.undelivered_ok || self.on_test_runtime,
                self.dead_ok,
            ),
            runtime,
            on_test_runtime: self.on_test_runtime,
        }
    }
}

/// A running endpoint with its temporary data directory.
#[derive(Debug)]
pub struct Node {
    ep: Option<TestEndpoint>,
    /// Its role.
    pub kind: Kind,
    dir: Option<TempDir>,
    tls: Option<TestTls>,
    party: String,
    settings: Vec<(&'static str, String)>,
    /// The end-of-test check's view of this node.
    watch: Arc<Watch>,
    /// Dropped after the endpoint; `None` [`on_the_test_runtime`](NodeBuilder::on_the_test_runtime).
    runtime: Option<NodeRuntime>,
    on_test_runtime: bool,
}

impl Drop for Node {
    /// The end-of-test check ([`drain`]), then the node stops.
    fn drop(&mut self) {
        let verdict = if self.ep.is_some() && !std::thread::panicking() {
            self.watch.check_at_drop()
        } else {
            Ok(())
        };
        self.watch.forget();
        drop(self.ep.take());
        drop(self.runtime.take());
        if let Err(msg) = verdict {
            panic!("{msg}");
        }
    }
}

impl Deref for Node {
    type Target = TestEndpoint;
    fn deref(&self) -> &TestEndpoint {
        self.ep.as_ref().unwrap()
    }
}

impl Node {
    /// A CSO (party NL-CSO unless changed).
    pub fn cso() -> NodeBuilder {
        NodeBuilder::new(Kind::Cso, "NL-CSO")
    }

    /// A CSP (party DE-CSP unless changed).
    pub fn csp() -> NodeBuilder {
        NodeBuilder::new(Kind::Csp, "DE-CSP")
    }

    /// Declares that this node may end the test with pushes not delivered (its peer refuses them, is
    /// gone, or never answers): the end-of-test check ([`drain`]) does not wait for its outboxes.
    /// Kept across a restart.
    pub fn expect_undelivered(&self) {
        self.watch.undelivered_ok.store(true, Ordering::SeqCst);
    }

    /// Declares that this node may end the test with dead letters (pushes a peer refused for good).
    /// Kept across a restart.
    pub fn expect_dead_letters(&self) {
        self.watch.dead_ok.store(true, Ordering::SeqCst);
    }

    /// Our party id as peers see it.
    pub fn party(&self) -> String {
        self.core.config.party.to_string()
    }

    /// Registers `self` with `responder` through the real invitation flow (`self` initiates).
    pub async fn connect_to(&self, responder: &Node) -> PeerView {
        let inv = responder.operator.invite().await.unwrap();
        self.operator
            .connect(&inv.versions_url, &inv.token)
            .await
            .unwrap()
    }

    /// The stored record of a peer.
    pub fn peer(&self, id: &str) -> Option<PeerRecord> {
        self.core.peers.get(id).unwrap().map(|p| (*p).clone())
    }

    /// The token this node uses to call `peer`.
    pub fn token_for(&self, peer: &Node) -> String {
        self.peer(&peer.party())
            .expect("registered")
            .token_out
            .expose()
            .to_owned()
    }

    /// Stops the node and starts it again on the same address with the same data directory.
    pub async fn restart(self) -> Node {
        self.pause().await.start().await
    }

    /// Stops the node; the returned builder starts it again on the same address and data directory.
    pub async fn pause(self) -> NodeBuilder {
        let addr = url::Url::parse(&self.ocpi_url).unwrap();
        let listen = format!("{}:{}", addr.host_str().unwrap(), addr.port().unwrap());
        let (kind, party) = (self.kind, self.party.clone());
        let mut settings: Vec<_> = self
            .settings
            .iter()
            .filter(|(k, _)| *k != "listen")
            .cloned()
            .collect();
        settings.push(("listen", listen));
        let on_test_runtime = self.on_test_runtime;
        let undelivered_ok = self.watch.undelivered_ok.load(Ordering::SeqCst);
        let dead_ok = self.watch.dead_ok.load(Ordering::SeqCst);
        let (dir, tls) = self.stop().await;
        NodeBuilder {
            tls,
            settings,
            dir: Some(dir),
            undelivered_ok,
            dead_ok,
            on_test_runtime,
            ..NodeBuilder::new(kind, &party)
        }
    }

    /// GET on the operator API, decoded.
    pub async fn op_get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.operator
            .get(path)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A request with a JSON body on the operator API, decoded.
    pub async fn op<T: serde::de::DeserializeOwned>(
        &self,
        method: http::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> T {
        self.operator
            .send(method.clone(), path, Some(body))
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Stops the node, keeping its data directory for a restart. A stopped node is not checked at
    /// the end of the test ([`drain`]).
    pub async fn stop(mut self) -> (TempDir, Option<TestTls>) {
        self.watch.forget();
        if let Some(ep) = self.ep.take() {
            ep.stop().await;
        }
        drop(self.runtime.take());
        (self.dir.take().unwrap(), self.tls.take())
    }
}

/// An OCPI answer as seen on the wire.
#[derive(Debug)]
pub struct Wire {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// The body as JSON (Null when it was not JSON).
    pub body: serde_json::Value,
}

impl Wire {
    /// The body as an envelope.
    pub fn envelope(&self) -> Envelope<serde_json::Value> {
        serde_json::from_value(self.body.clone())
            .unwrap_or_else(|e| panic!("not an envelope ({e}): {}", self.body))
    }

    /// The OCPI status code.
    pub fn code(&self) -> u16 {
        self.envelope().status_code.code()
    }

    /// A response header.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// Raw OCPI calls with full control of the headers, for negative tests.
#[derive(Debug, Clone)]
pub struct RawOcpi {
    http: reqwest::Client,
}

impl RawOcpi {
    /// A client trusting the system roots and, if given, a test CA.
    pub fn new(tls: Option<&TestTls>) -> Self {
        let config = roaming_peer::tls::client_config(
            tls.map(|t| t.ca.as_path()),
            roaming_peer::tls::MinTlsVersion::Tls12,
        )
        .unwrap();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self { http }
    }

    /// Sends a request with an optional `Authorization` header value, extra headers and a raw body.
    pub async fn send(
        &self,
        method: http::Method,
        url: &str,
        authorization: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Wire {
        let mut req = self.http.request(method, url);
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                req = req.header("content-type", "application/json");
            }
            req = req.body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Wire {
            status,
            headers,
            body,
        }
    }

    /// GET with a token in the standard base64 form.
    pub async fn get(&self, url: &str, token: &str) -> Wire {
        self.send(http::Method::GET, url, Some(&token_header(token)), &[], None)
            .await
    }

    /// A request with a JSON body and a token in the standard form.
    pub async fn json(&self, method: http::Method, url: &str, token: &str, body: &serde_json::Value) -> Wire {
        self.send(
            method,
            url,
            Some(&token_header(token)),
            &[],
            Some(serde_json::to_vec(body).unwrap()),
        )
        .await
    }
}

/// `Token <base64(token)>` (T-10).
pub fn token_header(token: &str) -> String {
    use base64::Engine as _;
    format!(
        "Token {}",
        base64::engine::general_purpose::STANDARD.encode(token)
    )
}

/// The instant of an OCPI DateTime in a JSON answer. Time stamps are compared as instants, never as
/// text: peers (and we, before issue #12 item 19) send several shapes of one instant (`…:42Z`,
/// `…:42.000Z`), and `"…:42Z" > "…:42.002Z"` as text.
pub fn instant(v: &serde_json::Value) -> roaming_types::DateTime {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an OCPI DateTime: {v}"))
}

/// Polls `f` until it returns `Some`, for at most `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A subscription to a CSP's server-sent events (`GET /api/events`).
#[derive(Debug)]
pub struct EventStream {
    resp: reqwest::Response,
    buf: String,
}

impl EventStream {
    /// Subscribes to the events of `node` (a CSP).
    pub async fn open(node: &Node) -> Self {
        Self::open_filtered(node, "").await
    }

    /// Subscribes with a query (`contract_id=…&type=session,command`).
    pub async fn open_filtered(node: &Node, query: &str) -> Self {
        let key = std::fs::read_to_string(node.data_dir.join("operator.key")).unwrap();
        let resp = reqwest::Client::new()
            .get(format!("{}/api/events?{query}", node.operator.base()))
            .bearer_auth(key.trim())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        Self {
            resp,
            buf: String::new(),
        }
    }

    /// The next event's JSON, or `None` after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim)
                    .collect();
                if !data.is_empty() {
                    if let Ok(v) = serde_json::from_str(&data) {
                        return Some(v);
                    }
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .ok()?
                .ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::instant;

    /// Issue #12 item 19: `uc1_3_status_changes_reach_the_csp_in_order` compared time stamps as text
    /// and failed whenever one change fell on a whole second (`…:42Z`) and the next did not
    /// (`…:42.002Z`). Compared as instants, the order is right whatever the shapes.
    #[test]
    fn time_stamps_compare_as_instants_not_as_text() {
        let (whole, later) = (json!("2026-03-14T04:58:42Z"), json!("2026-03-14T04:58:42.002Z"));
        assert!(
            whole.as_str() > later.as_str(),
            "as text the earlier one sorts last"
        );
        assert!(instant(&later) > instant(&whole));
        assert_eq!(instant(&json!("2026-03-14T04:58:42.000Z")), instant(&whole));
    }
}
