//! A foreign OCPI 2.2.1 peer for interoperability tests: a [`wiremock`] server that plays another
//! implementation's CPO or eMSP, registered with one of our nodes through the real credentials
//! handshake (the foreign peer initiates, so the mock only has to serve its versions and details).
//!
//! Module answers are mounted by the test with the shapes other implementations send — a one-element
//! array where one object is expected, 403 instead of 401, a `Link` header that points elsewhere,
//! URLs announced with a trailing slash — and the requests our node made are read back exactly as
//! they arrived ([`ForeignPeer::requests`]).
//!
//! ```ignore
//! let peer = ForeignPeer::emsp("DE-FOR").module("tokens", "SENDER").register(&cso).await;
//! Mock::given(method("POST")).respond_with(peer.answer(json!([info]))).mount(&peer.server).await;
//! ```

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{Node, RawOcpi};

/// A foreign peer being set up.
#[derive(Debug)]
pub struct ForeignPeerBuilder {
    role: &'static str,
    party: String,
    modules: Vec<(String, String)>,
    trailing_slash: bool,
    details_as_array: bool,
}

impl ForeignPeerBuilder {
    /// Announces `module` (e.g. `tokens`) with `role` (`SENDER`/`RECEIVER`) at `/ocpi/<module>`.
    pub fn module(mut self, module: &str, role: &str) -> Self {
        self.modules.push((module.to_owned(), role.to_owned()));
        self
    }

    /// Announces every module URL with a trailing slash (`…/cdrs/`), as some implementations do.
    pub fn trailing_slash(mut self) -> Self {
        self.trailing_slash = true;
        self
    }

    /// Serves its version details as a one-element array, as one widely used library does.
    pub fn details_as_array(mut self) -> Self {
        self.details_as_array = true;
        self
    }

    /// Starts the mock and registers it with `node` (token A from `node`'s invitation).
    pub async fn register(self, node: &Node) -> ForeignPeer {
        // Not from wiremock's pool: dropping the peer really closes its port (an unreachable CSP).
        let server = MockServer::builder().start().await;
        let base = server.uri();
        let slash = if self.trailing_slash { "/" } else { "" };
        let mut endpoints = vec![json!({
            "identifier": "credentials", "role": "RECEIVER", "url": format!("{base}/ocpi/credentials{slash}")
        })];
        for (m, r) in &self.modules {
            endpoints.push(json!({ "identifier": m, "role": r, "url": format!("{base}/ocpi/{m}{slash}") }));
        }
        let versions = json!([{ "version": "2.2.1", "url": format!("{base}/ocpi/2.2.1") }]);
        let mut details = json!({ "version": "2.2.1", "endpoints": endpoints });
        if self.details_as_array {
            details = json!([details]);
        }
        Mock::given(method("GET"))
            .and(path("/ocpi/versions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(envelope(versions)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/ocpi/2.2.1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(envelope(details)))
            .mount(&server)
            .await;
        let (cc, pid) = self.party.split_once('-').expect("party is CC-PID");
        let token_b = format!("foreign-token-b-{}", self.party.to_ascii_lowercase());
        let inv = node.operator.invite().await.expect("invitation");
        let body = json!({
            "token": token_b,
            "url": format!("{base}/ocpi/versions"),
            "roles": [{ "role": self.role, "party_id": pid, "country_code": cc,
                        "business_details": { "name": format!("Foreign {}", self.party) } }]
        });
        let w = RawOcpi::new(None)
            .json(
                http::Method::POST,
                &format!("{}/ocpi/2.2.1/credentials", node.ocpi_url),
                &inv.token,
                &body,
            )
            .await;
        assert_eq!((w.status, w.code()), (200, 1000), "registration: {}", w.body);
        let token_c = w.envelope().data.expect("credentials")["token"]
            .as_str()
            .expect("token C")
            .to_owned();
        ForeignPeer {
            server,
            party: self.party,
            token_b,
            token_c,
        }
    }
}

/// A registered foreign peer.
#[derive(Debug)]
pub struct ForeignPeer {
    /// The mock: mount module answers on it.
    pub server: MockServer,
    /// Its party, `CC-PID` (also our node's peer id for it).
    pub party: String,
    /// The token our node calls it with.
    pub token_b: String,
    /// The token it calls our node with.
    pub token_c: String,
}

impl ForeignPeer {
    /// A foreign eMSP (to register with a CSO).
    pub fn emsp(party: &str) -> ForeignPeerBuilder {
        ForeignPeerBuilder {
            role: "EMSP",
            party: party.to_owned(),
            modules: Vec::new(),
            trailing_slash: false,
            details_as_array: false,
        }
    }

    /// A foreign CPO (to register with a CSP).
    pub fn cpo(party: &str) -> ForeignPeerBuilder {
        ForeignPeerBuilder {
            role: "CPO",
            party: party.to_owned(),
            modules: Vec::new(),
            trailing_slash: false,
            details_as_array: false,
        }
    }

    /// The base URL of its module `m` as announced, without a trailing slash.
    pub fn module_url(&self, m: &str) -> String {
        format!("{}/ocpi/{m}", self.server.uri())
    }

    /// A 200 answer with `data` in a success envelope.
    pub fn answer(&self, data: Value) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(envelope(data))
    }

    /// The requests our node made to it, as `METHOD path?query`, in order (the handshake's
    /// versions and details GETs included).
    pub async fn requests(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let q = r.url.query().map(|q| format!("?{q}")).unwrap_or_default();
                format!("{} {}{q}", r.method, r.url.path())
            })
            .collect()
    }
}

/// A success envelope around `data`.
pub fn envelope(data: Value) -> Value {
    json!({ "data": data, "status_code": 1000, "status_message": "Success", "timestamp": "2026-01-01T00:00:00Z" })
}
