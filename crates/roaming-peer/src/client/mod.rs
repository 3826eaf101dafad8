//! The OCPI client (reqwest + rustls): authorization header, request and correlation ids, routing
//! headers, envelope decoding, pagination and timeouts (checklist §3.2–§3.8).
//!
//! Every call is logged once as an `ocpi.call` event (method, URL path, HTTP status, OCPI status,
//! duration) without tokens or bodies.

pub mod backoff;

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method};
use roaming_types::auth::CredentialsToken;
use roaming_types::ids::PartyRef;
use roaming_types::{Envelope, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::headers;

/// How to authenticate one call.
#[derive(Debug, Clone, Copy)]
pub struct Auth<'a> {
    /// The token the peer gave us.
    pub token: &'a CredentialsToken,
    /// Send it raw instead of base64 (T-15 compatibility).
    pub raw: bool,
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
}

impl Answer {
    /// The `data`, decoded with the checklist's leniency rules and their bounds (a peer's data,
    /// T-70…T-72, #12 item 13).
    pub fn data<T: DeserializeOwned>(&self, url: &str) -> Result<T, ClientError> {
        let value = self.envelope.data.clone().unwrap_or(serde_json::Value::Null);
        roaming_types::decode::decode_value(value, roaming_types::decode::DecodeOptions::LENIENT)
            .map(|d| d.value)
            .map_err(|e| ClientError::Data {
                url: url.to_owned(),
                message: e.to_string(),
            })
    }
}

/// One page of a paginated GET (T-61).
#[derive(Debug, Clone)]
pub struct Page {
    /// The items, undecoded, so that one bad object does not lose the page (T-65).
    pub items: Vec<serde_json::Value>,
    /// The `Link: <…>; rel="next"` URL.
    pub next: Option<String>,
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
    /// [`ClientError`]; the `timeout` overrides the client's default when given.
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is one OCPI request attribute"
    )]
    pub async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: &str,
        auth: Auth<'_>,
        routing: Option<&Routing>,
        correlation_id: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<Answer, ClientError> {
        let answer = self
            .call_raw(method, url, auth, routing, correlation_id, body, timeout)
            .await?;
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
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is one OCPI request attribute"
    )]
    pub async fn call_raw<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: &str,
        auth: Auth<'_>,
        routing: Option<&Routing>,
        correlation_id: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<Answer, ClientError> {
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
            .call::<()>(Method::GET, url, auth, routing, correlation_id, None, None)
            .await?;
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
        Ok(Page {
            items,
            next: next_link(&answer.headers, url),
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

/// The `rel="next"` target of the `Link` headers, resolved against the request URL (T-61).
pub fn next_link(headers: &HeaderMap, base: &str) -> Option<String> {
    for value in headers.get_all(http::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let mut pieces = part.split(';');
            let target = pieces.next()?.trim();
            let is_next = pieces.any(|p| {
                let p = p.trim();
                p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
            });
            if is_next && target.starts_with('<') && target.ends_with('>') {
                let href = &target[1..target.len() - 1];
                return url::Url::parse(base)
                    .ok()
                    .and_then(|b| b.join(href).ok())
                    .map(|u| u.to_string());
            }
        }
    }
    None
}

/// Builds a `Link` header value for the next page.
pub fn link_header(next: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")).ok()
}

/// Joins an OCPI base URL and path segments with exactly one `/` (T-05, E-09), percent-encoding each
/// segment.
pub fn join_url(base: &str, segments: &[&str]) -> String {
    let mut out = base.trim_end_matches('/').to_owned();
    for s in segments {
        out.push('/');
        out.push_str(&percent_encoding::utf8_percent_encode(s, SEGMENT).to_string());
    }
    out
}

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
    fn next_link_is_found_and_resolved() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::LINK,
            HeaderValue::from_static("<https://a.example/ocpi/x?offset=10&limit=10>; rel=\"next\""),
        );
        assert_eq!(
            next_link(&h, "https://a.example/ocpi/x").as_deref(),
            Some("https://a.example/ocpi/x?offset=10&limit=10")
        );
        let mut h = HeaderMap::new();
        h.append(
            http::header::LINK,
            HeaderValue::from_static("</ocpi/x?offset=5>; rel=next, <https://a.example/p>; rel=\"prev\""),
        );
        assert_eq!(
            next_link(&h, "https://a.example/ocpi/x").as_deref(),
            Some("https://a.example/ocpi/x?offset=5")
        );
        assert_eq!(next_link(&HeaderMap::new(), "https://a.example/"), None);
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
    }
}
