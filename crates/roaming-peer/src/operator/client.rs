//! A client of the operator API: what the CLI and the end-to-end tests use.

use std::path::Path;
use std::time::Duration;

use http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ConnectRequest, Health, InstanceFile, KEY_FILE, Problem};
use crate::core::Readiness;
use crate::registration::InvitationMessage;
use crate::registration::peers::PeerView;
use crate::secret::OperatorKey;

/// How long `healthcheck` waits for an answer: a liveness probe must not hang on a stuck endpoint.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed operator API call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OperatorClientError {
    /// The endpoint is not reachable (not running, wrong URL).
    #[error("cannot reach the endpoint at {url}: {message}")]
    Unreachable {
        /// Operator URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The endpoint answered with a problem.
    #[error("{status} {error}: {message}{}", details.as_ref().map(|d| format!("\n{d:#}")).unwrap_or_default())]
    Problem {
        /// HTTP status.
        status: u16,
        /// Problem code.
        error: String,
        /// Problem message.
        message: String,
        /// Structured details.
        details: Option<serde_json::Value>,
    },
    /// The local set-up (instance file, key file) is missing.
    #[error("{0}")]
    Setup(String),
}

/// The operator API client.
#[derive(Debug, Clone)]
pub struct OperatorClient {
    base: String,
    key: OperatorKey,
    http: reqwest::Client,
}

impl OperatorClient {
    /// A client for `base` (`http://127.0.0.1:9411`) with `key`.
    pub fn new(base: &str, key: OperatorKey, extra_ca: Option<&Path>) -> Result<Self, OperatorClientError> {
        let tls = crate::tls::client_config(extra_ca, crate::tls::MinTlsVersion::Tls12)
            .map_err(|e| OperatorClientError::Setup(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(600))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| OperatorClientError::Setup(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            key,
            http,
        })
    }

    /// The client of the endpoint running with `data_dir`, found through its instance and key files;
    /// `url` and `key` override them.
    pub fn discover(
        data_dir: &Path,
        url: Option<&str>,
        key: Option<&str>,
        extra_ca: Option<&Path>,
    ) -> Result<Self, OperatorClientError> {
        let base = match url {
            Some(u) => u.to_owned(),
            None => InstanceFile::read(data_dir)
                .map_err(|e| {
                    OperatorClientError::Setup(format!(
                        "no running endpoint found in {} ({e}); start it with `serve`, or pass --operator-url",
                        data_dir.display()
                    ))
                })?
                .operator_url,
        };
        let key = match key {
            Some(k) => OperatorKey::new(k)
                .ok_or_else(|| OperatorClientError::Setup("--operator-key is not a valid key".to_owned()))?,
            None => {
                let path = data_dir.join(KEY_FILE);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    OperatorClientError::Setup(format!(
                        "cannot read the operator key {} ({e}); pass --operator-key",
                        path.display()
                    ))
                })?;
                OperatorKey::new(&text).ok_or_else(|| {
                    OperatorClientError::Setup(format!("{} holds no valid key", path.display()))
                })?
            }
        };
        Self::new(&base, key, extra_ca)
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request; a non-success answer is the operator API's problem as an error.
    async fn exchange<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(u16, bytes::Bytes), OperatorClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(self.key.expose());
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| OperatorClientError::Unreachable {
            url: self.base.clone(),
            message: e.to_string(),
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| OperatorClientError::Unreachable {
            url: self.base.clone(),
            message: e.to_string(),
        })?;
        if !status.is_success() {
            let p: Problem = serde_json::from_slice(&bytes).unwrap_or_else(|_| Problem {
                error: "http".to_owned(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
                details: None,
            });
            return Err(OperatorClientError::Problem {
                status: status.as_u16(),
                error: p.error,
                message: p.message,
                details: p.details,
            });
        }
        Ok((status.as_u16(), bytes))
    }

    /// Sends a request and decodes the JSON answer (`null` for 204).
    pub async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, OperatorClientError> {
        let (status, bytes) = self.exchange(method, path, body).await?;
        let bytes = if bytes.is_empty() {
            bytes::Bytes::from_static(b"null")
        } else {
            bytes
        };
        serde_json::from_slice(&bytes).map_err(|e| OperatorClientError::Problem {
            status,
            error: "decode".to_owned(),
            message: e.to_string(),
            details: None,
        })
    }

    /// GET of a text answer (e.g. CSV).
    pub async fn get_text(&self, path: &str) -> Result<String, OperatorClientError> {
        let (_, bytes) = self.exchange::<()>(Method::GET, path, None).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// GET.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, OperatorClientError> {
        self.send::<(), T>(Method::GET, path, None).await
    }

    /// POST with a JSON body.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, OperatorClientError> {
        self.send(Method::POST, path, Some(body)).await
    }

    /// `GET /api/health` (liveness), given at most [`PROBE_TIMEOUT`] to answer.
    pub async fn health(&self) -> Result<Health, OperatorClientError> {
        let resp = self.probe("/api/health").await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if status != 200 {
            return Err(OperatorClientError::Problem {
                status,
                error: "http".to_owned(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
                details: None,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| OperatorClientError::Problem {
            status,
            error: "decode".to_owned(),
            message: e.to_string(),
            details: None,
        })
    }

    /// `GET /api/ready`: the readiness, whether the answer was 200 or 503, given at most
    /// [`PROBE_TIMEOUT`] to answer.
    pub async fn ready(&self) -> Result<Readiness, OperatorClientError> {
        let resp = self.probe("/api/ready").await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        serde_json::from_slice(&bytes).map_err(|e| OperatorClientError::Problem {
            status,
            error: "decode".to_owned(),
            message: format!("{e}: {}", String::from_utf8_lossy(&bytes)),
            details: None,
        })
    }

    async fn probe(&self, path: &str) -> Result<reqwest::Response, OperatorClientError> {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.key.expose())
            .timeout(PROBE_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> OperatorClientError {
        OperatorClientError::Unreachable {
            url: self.base.clone(),
            message: e.to_string(),
        }
    }

    /// `POST /api/peers/invitations`.
    pub async fn invite(&self) -> Result<InvitationMessage, OperatorClientError> {
        self.send::<(), _>(Method::POST, "/api/peers/invitations", None)
            .await
    }

    /// `POST /api/peers/connect`.
    pub async fn connect(&self, versions_url: &str, token: &str) -> Result<PeerView, OperatorClientError> {
        self.post(
            "/api/peers/connect",
            &ConnectRequest {
                versions_url: versions_url.to_owned(),
                token: token.to_owned(),
            },
        )
        .await
    }

    /// `GET /api/peers`.
    pub async fn peers(&self) -> Result<Vec<PeerView>, OperatorClientError> {
        self.get("/api/peers").await
    }

    /// `POST /api/peers/{id}/rotate`.
    pub async fn rotate(&self, id: &str) -> Result<PeerView, OperatorClientError> {
        self.send::<(), _>(Method::POST, &format!("/api/peers/{}/rotate", encode(id)), None)
            .await
    }

    /// `DELETE /api/peers/{id}`.
    pub async fn disconnect(&self, id: &str, force: bool) -> Result<(), OperatorClientError> {
        let path = format!(
            "/api/peers/{}{}",
            encode(id),
            if force { "?force=true" } else { "" }
        );
        self.send::<(), serde_json::Value>(Method::DELETE, &path, None)
            .await
            .map(|_| ())
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
