//! The OCPI client (reqwest + rustls): authorization header, request and correlation ids, routing
//! headers, envelope decoding, pagination and timeouts (checklist §3.2–§3.8).
//!
//! Every call is logged once as an `ocpi.call` event (method, URL path, HTTP status, OCPI status,
//! duration) without tokens or bodies.

pub mod backoff;
pub mod pull;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method};
use roaming_types::auth::CredentialsToken;
use roaming_types::ids::PartyRef;
use roaming_types::{Envelope, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::deviations::{DeviationKind, DeviationSink};
use crate::headers;

/// How to authenticate one call.
#[derive(Debug, Clone, Copy)]
pub struct Auth<'a> {
    /// The token the peer gave us.
    pub token: &'a CredentialsToken,
    /// Send it raw instead of base64 (T-15 compatibility).
    pub raw: bool,
}

/// What one OCPI request sends: method, URL, JSON body and how long its answer may take. Who sends
/// it (the token, the routing headers) and its correlation id are given beside it.
#[derive(Debug)]
pub struct Call<'a, B: ?Sized = ()> {
    /// The method.
    pub method: Method,
    /// The URL: one the peer announced or gave us, or one built by [`join_url`] / [`with_query`].
    pub url: &'a str,
    /// The JSON body, if any.
    pub body: Option<&'a B>,
    /// How long the answer may take, when not the client's default.
    pub timeout: Option<Duration>,
}

impl<'a> Call<'a> {
    /// A request without a body, with the client's timeout.
    pub fn new(method: Method, url: &'a str) -> Self {
        Self {
            method,
            url,
            body: None,
            timeout: None,
        }
    }
}

impl<'a, B: ?Sized> Call<'a, B> {
    /// The same request with `body` as its JSON body.
    pub fn body<C: ?Sized>(self, body: &'a C) -> Call<'a, C> {
        Call {
            method: self.method,
            url: self.url,
            body: Some(body),
            timeout: self.timeout,
        }
    }

    /// The same request with its own timeout instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// The routing headers of a functional-module call (T-50…T-53).
#[derive(Debug, Clone)]
pub struct Routing {
    /// Us.
    pub from: PartyRef,
    /// The receiving party.
    pub to: PartyRef,
}

/// What went wrong with a call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// No answer: connection refused, TLS failure, timeout.
    #[error("could not reach {url}: {message}")]
    Transport {
        /// The URL called.
        url: String,
        /// What failed.
        message: String,
    },
    /// The answer is not an OCPI envelope.
    #[error("{url} answered HTTP {http} without a valid OCPI envelope: {message}")]
    NotOcpi {
        /// The URL called.
        url: String,
        /// The HTTP status.
        http: u16,
        /// What was wrong.
        message: String,
    },
    /// An envelope with a non-success status, or a success envelope on an HTTP error status.
    #[error("{url} answered HTTP {http}, OCPI {status}: {message}")]
    Status {
        /// The URL called.
        url: String,
        /// The HTTP status.
        http: u16,
        /// The OCPI status code.
        status: StatusCode,
        /// The status message.
        message: String,
    },
    /// A success envelope whose `data` is not what the endpoint should return.
    #[error("{url}: unexpected data: {message}")]
    Data {
        /// The URL called.
        url: String,
        /// What was wrong.
        message: String,
    },
}

impl ClientError {
    /// The HTTP status the peer answered, if it answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Transport { .. } | Self::Data { .. } => None,
            Self::NotOcpi { http, .. } | Self::Status { http, .. } => Some(*http),
        }
    }

    /// The OCPI status code the peer answered, if any.
    pub fn ocpi_status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the peer refuses our token: HTTP 401 (what the spec says, T-12) or 403 (what some
    /// implementations send instead). The one test of "the peer does not accept our token" (#12 item
    /// 10): the outbox keeps and retries such pushes, the peer is marked unauthorized until a call
    /// succeeds ([`Core::observe_call`](crate::core::Core::observe_call)), and a disconnect
    /// treats it as done.
    pub fn is_auth_refused(&self) -> bool {
        matches!(self.http_status(), Some(401 | 403))
    }

    /// Whether retrying later may help (transport failures, 5xx, 3xxx).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::NotOcpi { http, .. } => *http >= 500 || *http == 429,
            Self::Status { http, status, .. } => {
                *http >= 500 || *http == 429 || (3000..4000).contains(&status.code())
            }
            Self::Data { .. } => false,
        }
    }
}

/// A decoded answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub http: u16,
    /// The envelope.
    pub envelope: Envelope<serde_json::Value>,
    /// Response headers.
    pub headers: HeaderMap,
    /// Where the deviations this answer shows are recorded: its peer, once bound.
    sink: Option<Arc<dyn DeviationSink>>,
}

impl Answer {
    /// Binds the answer to where its deviations are recorded (its peer, see
    /// [`Core::call_peer`](crate::core::Core::call_peer), or a handshake's collector).
    pub fn bind(mut self, sink: Arc<dyn DeviationSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The single object (or list) in `data`, decoded; `url` names the call in errors and examples.
    ///
    /// Tolerant in (#12 item 2): where one object is expected, a one-element array holding it is
    /// accepted, and the peer's deviation is recorded ([`DeviationKind::ObjectAsArray`], once per
    /// peer, see [`crate::deviations`]) when the answer is bound. An empty or longer array is still
    /// an error; a list type `T` (`Vec<Version>`) decodes a one-element list as the list it is. Do
    /// not use it with a `T` that accepts any JSON (`serde_json::Value`): read `envelope.data`.
    pub fn data<T: DeserializeOwned>(&self, url: &str) -> Result<T, ClientError> {
        match decode_single::<T>(self.envelope.data.as_ref()) {
            Ok((value, false)) => Ok(value),
            Ok((value, true)) => {
                let example = format!("{url}: {} sent as a one-element array", short_type_name::<T>());
                match &self.sink {
                    Some(sink) => sink.record(DeviationKind::ObjectAsArray, &example),
                    None => {
                        tracing::warn!(deviation = %DeviationKind::ObjectAsArray, %example, "answer deviates from OCPI 2.2.1; tolerated")
                    }
                }
                Ok(value)
            }
            Err(e) => Err(ClientError::Data {
                url: url.to_owned(),
                message: e.to_string(),
            }),
        }
    }
}

/// Decodes `data` as `T`, accepting a one-element array whose element (not itself an array) is a
/// `T`; the flag tells whether that happened. The element is tried first, so that serde's
/// acceptance of a sequence for a struct never reads `[{…}]` field by field; a list `T` does not
/// decode from a single element and falls through to the whole value.
pub fn decode_single<T: DeserializeOwned>(
    data: Option<&serde_json::Value>,
) -> Result<(T, bool), roaming_types::decode::DecodeError> {
    // A peer's data: the checklist's leniency rules and their bounds (T-70…T-72, #12 item 13).
    let lenient = |v: &serde_json::Value| {
        roaming_types::decode::decode_value::<T>(v.clone(), roaming_types::decode::DecodeOptions::LENIENT)
            .map(|d| d.value)
    };
    if let Some(serde_json::Value::Array(items)) = data {
        if let [item] = items.as_slice() {
            if !item.is_array() {
                if let Ok(v) = lenient(item) {
                    return Ok((v, true));
                }
            }
        }
    }
    lenient(data.unwrap_or(&serde_json::Value::Null)).map(|v| (v, false))
}

/// `CommandResponse` for `roaming_types::modules::commands::CommandResponse`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// One page of a paginated GET (T-61).
#[derive(Debug, Clone)]
pub struct Page {
    /// The items, undecoded, so that one bad object does not lose the page (T-65).
    pub items: Vec<serde_json::Value>,
    /// The target of `Link: <…>; rel="next"` as sent (it may be relative, or point elsewhere:
    /// [`pull::Pull`] decides whether to follow it).
    pub link: Option<String>,
    /// `X-Total-Count`.
    pub total: Option<u64>,
    /// `X-Limit`.
    pub limit: Option<u64>,
}

/// The OCPI HTTP client.
#[derive(Debug, Clone)]
pub struct OcpiClient {
    http: reqwest::Client,
    /// Who we are, for the `ocpi.call` log lines (our party, e.g. `NL-CSO`).
    label: String,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

impl OcpiClient {
    /// A client with the given TLS trust and timeouts.
    pub fn new(
        tls: rustls::ClientConfig,
        settings: &ClientSettings,
        label: &str,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("roaming-endpoint/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Transport {
                url: String::new(),
                message: e.to_string(),
            })?;
        Ok(Self {
            http,
            label: label.to_owned(),
        })
    }

    /// Sends one OCPI request and decodes the envelope. Any non-success envelope or HTTP error is a
    /// [`ClientError`].
    pub async fn call<B: Serialize + ?Sized>(
        &self,
        request: Call<'_, B>,
        auth: Auth<'_>,
        routing: Option<&Routing>,
        correlation_id: &str,
    ) -> Result<Answer, ClientError> {
        let url = request.url;
        let answer = self.call_raw(request, auth, routing, correlation_id).await?;
        let status = answer.envelope.status_code;
        if !status.is_success() || !(200..300).contains(&answer.http) {
            return Err(ClientError::Status {
                url: url.to_owned(),
                http: answer.http,
                status,
                message: answer.envelope.status_message.clone().unwrap_or_default(),
            });
        }
        Ok(answer)
    }

    /// Like [`call`](Self::call) but returns envelopes with any status code.
    pub async fn call_raw<B: Serialize + ?Sized>(
        &self,
        request: Call<'_, B>,
        auth: Auth<'_>,
        routing: Option<&Routing>,
        correlation_id: &str,
    ) -> Result<Answer, ClientError> {
        let Call {
            method,
            url,
            body,
            timeout,
        } = request;
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut req = self
            .http
            .request(method.clone(), url)
            .header(
                http::header::AUTHORIZATION,
                auth.token.authorization_header(auth.raw),
            )
            .header(headers::X_REQUEST_ID, &request_id)
            .header(headers::X_CORRELATION_ID, correlation_id)
            .header(http::header::ACCEPT, "application/json");
        if let Some(r) = routing {
            req = req
                .header(headers::OCPI_FROM_COUNTRY_CODE, r.from.country_code.as_str())
                .header(headers::OCPI_FROM_PARTY_ID, r.from.party_id.as_str())
                .header(headers::OCPI_TO_COUNTRY_CODE, r.to.country_code.as_str())
                .header(headers::OCPI_TO_PARTY_ID, r.to.party_id.as_str());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let started = Instant::now();
        let parsed = url::Url::parse(url).ok();
        let path = parsed
            .as_ref()
            .map_or_else(|| url.to_owned(), |u| u.path().to_owned());
        let host = parsed
            .as_ref()
            .map(|u| {
                format!(
                    "{}:{}",
                    u.host_str().unwrap_or(""),
                    u.port_or_known_default().unwrap_or(0)
                )
            })
            .unwrap_or_default();
        let caller = self.label.as_str();
        let result = req.send().await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                let message = describe(&e);
                tracing::info!(target: "ocpi.call", caller, host = %host, method = %method, path = %path, correlation_id, duration_ms = elapsed_ms, error = %message, "call failed");
                return Err(ClientError::Transport {
                    url: url.to_owned(),
                    message,
                });
            }
        };
        let http = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| ClientError::Transport {
            url: url.to_owned(),
            message: describe(&e),
        })?;
        let envelope: Envelope<serde_json::Value> = match serde_json::from_slice(&bytes) {
            Ok(e) => e,
            Err(e) => {
                tracing::info!(target: "ocpi.call", caller, host = %host, method = %method, path = %path, status = http, correlation_id, duration_ms = elapsed_ms, "call answered without an envelope");
                return Err(ClientError::NotOcpi {
                    url: url.to_owned(),
                    http,
                    message: e.to_string(),
                });
            }
        };
        tracing::info!(
            target: "ocpi.call",
            caller,
            host = %host,
            method = %method,
            path = %path,
            status = http,
            ocpi_status = envelope.status_code.code(),
            request_id = %request_id,
            correlation_id,
            duration_ms = elapsed_ms,
            "call answered"
        );
        Ok(Answer {
            http,
            envelope,
            headers,
            sink: None,
        })
    }

    /// GETs one page of a paginated list (T-60…T-63).
    pub async fn get_page(
        &self,
        url: &str,
        auth: Auth<'_>,
        routing: Option<&Routing>,
        correlation_id: &str,
    ) -> Result<Page, ClientError> {
        let answer = self
            .call(Call::new(Method::GET, url), auth, routing, correlation_id)
            .await?;
        Page::from_answer(&answer, url)
    }
}

impl Page {
    /// The page in the answer to a list GET of `url`: its items, `Link` next, `X-Total-Count` and
    /// `X-Limit`.
    pub fn from_answer(answer: &Answer, url: &str) -> Result<Self, ClientError> {
        let items: Vec<serde_json::Value> = match answer.envelope.data.clone() {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(a)) => a,
            Some(_) => {
                return Err(ClientError::Data {
                    url: url.to_owned(),
                    message: "a list GET must return an array".to_owned(),
                });
            }
        };
        let number = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Ok(Self {
            items,
            link: link_target(&answer.headers),
            total: number(headers::X_TOTAL_COUNT),
            limit: number(headers::X_LIMIT),
        })
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The `rel="next"` target of the `Link` headers, as sent (T-61).
pub fn link_target(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(http::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let mut pieces = part.split(';');
            let Some(target) = pieces.next().map(str::trim) else {
                continue;
            };
            let is_next = pieces.any(|p| {
                let p = p.trim();
                p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
            });
            if is_next && target.starts_with('<') && target.ends_with('>') {
                return Some(target[1..target.len() - 1].to_owned());
            }
        }
    }
    None
}

/// Builds a `Link` header value for the next page.
pub fn link_header(next: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")).ok()
}

/// The URL of a peer's interface (T-04, T-05, E-09): the announced `base` **exactly** when there
/// are no `segments` (a peer that announced `…/cdrs/` is POSTed at `…/cdrs/`); otherwise the base's
/// path with its trailing slashes removed, then each segment percent-encoded after exactly one `/`,
/// then the base's query, if it has one. Every URL we call at a peer is built by this function (and
/// [`with_query`]), or is one the peer gave us (`response_url`, `Link`), used as given.
pub fn join_url(base: &str, segments: &[&str]) -> String {
    if segments.is_empty() {
        return base.to_owned();
    }
    let (path, rest) = base.split_at(base.find(['?', '#']).unwrap_or(base.len()));
    let mut out = path.trim_end_matches('/').to_owned();
    for s in segments {
        out.push('/');
        out.push_str(&percent_encoding::utf8_percent_encode(s, SEGMENT).to_string());
    }
    out.push_str(rest);
    out
}

/// `url` with the query parameters `pairs` added, percent-encoded, after the query it may already
/// have (`?` or `&` as needed); no pairs leave `url` exactly as it is.
pub fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return url.to_owned();
    }
    let (before, fragment) = url.split_at(url.find('#').unwrap_or(url.len()));
    let mut out = before.to_owned();
    if !out.contains('?') {
        out.push('?');
    } else if !out.ends_with(['?', '&']) {
        out.push('&');
    }
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY).to_string();
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    out.push_str(&query.join("&"));
    out.push_str(fragment);
    out
}

/// What a query key or value keeps unescaped: RFC 3986 unreserved characters.
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'*');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_as_sent() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::LINK,
            HeaderValue::from_static("<https://a.example/ocpi/x?offset=10&limit=10>; rel=\"next\""),
        );
        assert_eq!(
            link_target(&h).as_deref(),
            Some("https://a.example/ocpi/x?offset=10&limit=10")
        );
        let mut h = HeaderMap::new();
        h.append(
            http::header::LINK,
            HeaderValue::from_static("<https://a.example/p>; rel=\"prev\", </ocpi/x?offset=5>; rel=next"),
        );
        assert_eq!(link_target(&h).as_deref(), Some("/ocpi/x?offset=5"));
        assert_eq!(link_target(&HeaderMap::new()), None);
    }

    #[test]
    fn e09_urls_join_with_one_slash() {
        assert_eq!(
            join_url("https://a/ocpi/2.2.1/tokens/", &["T 1", "authorize"]),
            "https://a/ocpi/2.2.1/tokens/T%201/authorize"
        );
        assert_eq!(
            join_url("https://a/cmd", &["START_SESSION"]),
            "https://a/cmd/START_SESSION"
        );
        assert_eq!(
            join_url("https://a/ocpi/sessions/", &["NL", "CSO", "S1"]),
            "https://a/ocpi/sessions/NL/CSO/S1"
        );
        // Segments go into the path, before a query the announced URL carries.
        assert_eq!(
            join_url("https://a/ocpi/tokens/?tenant=7", &["T1", "authorize"]),
            "https://a/ocpi/tokens/T1/authorize?tenant=7"
        );
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct One {
        result: String,
        #[serde(default)]
        timeout: Option<u32>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Nested {
        inner: One,
        #[serde(default)]
        note: Option<String>,
    }

    #[test]
    fn a_peer_refusing_our_token_is_401_or_403_with_or_without_an_envelope() {
        let status = |http: u16| ClientError::Status {
            url: String::new(),
            http,
            status: StatusCode::ClientError,
            message: String::new(),
        };
        let bare = |http: u16| ClientError::NotOcpi {
            url: String::new(),
            http,
            message: String::new(),
        };
        for http in [401, 403] {
            assert!(status(http).is_auth_refused() && bare(http).is_auth_refused());
        }
        for http in [200, 400, 404, 405, 500] {
            assert!(
                !status(http).is_auth_refused() && !bare(http).is_auth_refused(),
                "{http}"
            );
        }
        let transport = ClientError::Transport {
            url: String::new(),
            message: String::new(),
        };
        assert!(!transport.is_auth_refused());
    }

    #[test]
    fn a_single_object_is_accepted_in_a_one_element_array() {
        use serde_json::json;
        let one = One {
            result: "ACCEPTED".to_owned(),
            timeout: Some(30),
        };
        let decode = |v: serde_json::Value| decode_single::<One>(Some(&v)).map_err(|e| e.to_string());
        assert_eq!(
            decode(json!({"result": "ACCEPTED", "timeout": 30})),
            Ok((one, false))
        );
        let (got, wrapped) = decode(json!([{"result": "ACCEPTED", "timeout": 30}])).unwrap();
        assert_eq!((got.timeout, wrapped), (Some(30), true));
        // Only one element: an empty or longer array is still an error.
        assert!(decode(json!([])).is_err());
        assert!(decode(json!([{"result": "A"}, {"result": "B"}])).is_err());
        assert!(decode(json!([[{"result": "A"}]])).is_err());
        assert!(decode_single::<One>(None).is_err());
        // A struct whose first field is an object is not read field by field from `[{…}]`.
        let v = json!([{"inner": {"result": "A"}}]);
        let (n, wrapped) = decode_single::<Nested>(Some(&v)).unwrap();
        assert_eq!((n.inner.result.as_str(), wrapped), ("A", true));
        // A list is a list, one element or more.
        let v = json!([{"result": "A"}]);
        let (list, wrapped) = decode_single::<Vec<One>>(Some(&v)).unwrap();
        assert_eq!((list.len(), wrapped), (1, false));
        // Strings and enums too (ChargingPreferencesResponse).
        let v = json!(["ACCEPTED"]);
        assert_eq!(
            decode_single::<String>(Some(&v)).unwrap(),
            ("ACCEPTED".to_owned(), true)
        );
        assert_eq!(short_type_name::<One>(), "One");
        assert_eq!(short_type_name::<Vec<One>>(), "Vec");
    }

    #[test]
    fn t04_the_announced_url_is_called_exactly_when_nothing_is_appended() {
        // A peer announcing `…/cdrs/` gets its CDRs POSTed at `…/cdrs/` (#12 item 9).
        for base in [
            "https://a/ocpi/cdrs/",
            "https://a/ocpi/cdrs",
            "https://a/ocpi/cdrs/?x=1",
        ] {
            assert_eq!(join_url(base, &[]), base);
            assert_eq!(with_query(base, &[]), base);
        }
    }

    #[test]
    fn query_parameters_are_added_after_any_query_the_url_has() {
        assert_eq!(
            with_query("https://a/t/DE/CSP/1", &[("type", "APP_USER")]),
            "https://a/t/DE/CSP/1?type=APP_USER"
        );
        assert_eq!(
            with_query("https://a/t?k=1", &[("type", "RFID"), ("u", "https://b/r?x=1&y")]),
            "https://a/t?k=1&type=RFID&u=https%3A%2F%2Fb%2Fr%3Fx%3D1%26y"
        );
        assert_eq!(with_query("https://a/t?", &[("a", "b")]), "https://a/t?a=b");
    }

    proptest::proptest! {
        /// T-05: whatever slashes the announced URL ends with, the path is the announced path's
        /// segments followed by ours, each joined by exactly one `/`.
        #[test]
        fn t05_segments_are_joined_by_exactly_one_slash(
            base in proptest::collection::vec("[a-z0-9][a-z0-9.]{0,7}", 0..4),
            slashes in 0usize..3,
            segments in proptest::collection::vec("[ -~]{1,12}", 1..4),
        ) {
            // "." and ".." are dot segments to every URL parser, whatever the encoding (no OCPI id is one).
            proptest::prop_assume!(segments.iter().all(|s| !s.trim_matches('.').is_empty()));
            let announced = format!("https://peer.example/{}{}", base.join("/"), "/".repeat(slashes));
            let refs: Vec<&str> = segments.iter().map(String::as_str).collect();
            let joined = url::Url::parse(&join_url(&announced, &refs)).unwrap();
            let got: Vec<String> = joined
                .path_segments()
                .unwrap()
                .map(|s| percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned())
                .collect();
            let want: Vec<String> = base.iter().chain(segments.iter()).cloned().collect();
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(joined.query(), None);
        }
    }
}
