//! The operator face: a small JSON API on loopback, behind the operator key, through which the
//! operator's own systems and the CLI drive the endpoint (`docs/api.md`).
//!
//! Errors are plain JSON problems `{"error": <code>, "message": <text>}` with an HTTP status; this face
//! does not use the OCPI envelope.

pub mod client;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::server::body::{BodyError, BodyLimit, read_limited};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use roaming_types::auth::CredentialsToken;
use serde::{Deserialize, Serialize};

use crate::core::{Core, Readiness, StartError};
use crate::error::OcpiError;
use crate::registration::peers::PEER_RECORDS;
use crate::registration::peers::{PeerCompat, PeerRecord, PeerView, peer_key, put_peer};
use crate::registration::{self, HandshakeError, InvitationMessage};
use crate::secret::OperatorKey;
use crate::store::StoreError;

/// The operator key file in the data directory.
pub const KEY_FILE: &str = "operator.key";
/// The instance file: where the running endpoint can be reached.
pub const INSTANCE_FILE: &str = "instance.json";

/// A problem answered by the operator API.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct OperatorError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short machine-readable code.
    pub code: &'static str,
    /// What happened.
    pub message: String,
    /// Structured details (e.g. every problem of a refused import with its JSON path).
    pub details: Option<serde_json::Value>,
}

impl OperatorError {
    /// A problem.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 400 invalid input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 500; the detail is logged, not returned.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let detail = detail.to_string();
        crate::throttled!(
            error,
            &format!("operator request failed: {}", detail.chars().take(80).collect::<String>()),
            error = %detail,
            "operator request failed"
        );
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the endpoint's log",
        )
    }
}

/// The body of an operator API problem.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    /// Short code.
    pub error: String,
    /// Message.
    pub message: String,
    /// Structured details, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl IntoResponse for OperatorError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(Problem {
                error: self.code.to_owned(),
                message: self.message,
                details: self.details,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for OperatorError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

/// An error of the OCPI face met by an operator route that shares its logic (the CSO's quotes): a
/// failure on our side (5xx: the store, a timeout) stays one, 500 or 503 with the detail logged;
/// anything about the request is 400 with its message.
impl From<OcpiError> for OperatorError {
    fn from(e: OcpiError) -> Self {
        let (http, _, message) = e.parts();
        match http {
            StatusCode::SERVICE_UNAVAILABLE => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            h if h.is_server_error() => Self::internal(e),
            _ => Self::invalid(message),
        }
    }
}

impl From<HandshakeError> for OperatorError {
    fn from(e: HandshakeError) -> Self {
        let status = match &e {
            HandshakeError::Peer { .. } => StatusCode::BAD_GATEWAY,
            HandshakeError::NoCommonVersion { .. }
            | HandshakeError::MissingModule(_)
            | HandshakeError::AlreadyRegistered(_) => StatusCode::CONFLICT,
            HandshakeError::BadCredentials(_) => StatusCode::UNPROCESSABLE_ENTITY,
            HandshakeError::UnknownPeer(_) => StatusCode::NOT_FOUND,
            HandshakeError::Store(_) => return Self::internal(e),
        };
        let code = match status {
            StatusCode::BAD_GATEWAY => "peer_error",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_peer",
            _ => "conflict",
        };
        Self::new(status, code, e.to_string())
    }
}

/// Reads the operator key from configuration or the data directory, generating it on first start.
pub fn ensure_key(data_dir: &Path, configured: Option<&str>) -> Result<OperatorKey, StartError> {
    if let Some(k) = configured {
        return OperatorKey::new(k)
            .ok_or_else(|| StartError::Other("operator.key is not a valid key".to_owned()));
    }
    let path = data_dir.join(KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return OperatorKey::new(&text)
            .ok_or_else(|| StartError::Other(format!("{} does not hold a valid key", path.display())));
    }
    let key = OperatorKey::generate();
    write_private(&path, key.expose()).map_err(|e| StartError::Other(format!("{}: {e}", path.display())))?;
    tracing::info!(path = %path.display(), "operator API key generated");
    Ok(key)
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// The instance file written at start and removed at shutdown, so that the CLI on the same machine
/// finds the running endpoint with no flags.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceFile {
    /// Operator API base URL.
    pub operator_url: String,
    /// OCPI face base URL.
    pub ocpi_url: String,
    /// Versions URL.
    pub versions_url: String,
    /// Process id.
    pub pid: u32,
    #[serde(skip)]
    path: PathBuf,
}

impl InstanceFile {
    /// The file of this process in `data_dir`, naming where its faces are.
    pub fn new(data_dir: &Path, operator_url: String, ocpi_url: String, versions_url: String) -> Self {
        Self {
            operator_url,
            ocpi_url,
            versions_url,
            pid: std::process::id(),
            path: data_dir.join(INSTANCE_FILE),
        }
    }

    /// Writes the file.
    pub fn write(self) -> Result<Self, StartError> {
        let me = self;
        let text = serde_json::to_string_pretty(&me).map_err(|e| StartError::Other(e.to_string()))?;
        write_private(&me.path, &text)
            .map_err(|e| StartError::Other(format!("{}: {e}", me.path.display())))?;
        Ok(me)
    }

    /// Reads the file of a data directory.
    pub fn read(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join(INSTANCE_FILE);
        let text = std::fs::read_to_string(&path)?;
        let mut me: Self = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        me.path = path;
        Ok(me)
    }

    /// Removes the file.
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Builds the operator face as it is served (#12 item 17): behind the key check, `/api/health` and
/// `/api/ready` are answered by whatever runtime serves the face (the endpoint serves it from a thread
/// of its own) without touching the store, so that they answer while every worker of the endpoint's
/// runtime is blocked in a frozen store; every other route runs on `main`, the endpoint's runtime.
pub fn app(core: Arc<Core>, key: OperatorKey, role_routes: Router, main: tokio::runtime::Handle) -> Router {
    let routes = routes(Arc::clone(&core), role_routes);
    let forward = tower::service_fn(move |req: Request| {
        let (routes, main) = (routes.clone(), main.clone());
        async move {
            let answer = main.spawn(async move { tower::ServiceExt::oneshot(routes, req).await });
            Ok::<_, std::convert::Infallible>(match answer.await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(e) => {
                    OperatorError::internal(format!("operator request did not finish: {e}")).into_response()
                }
            })
        }
    });
    Router::new()
        .route("/api/health", get(health))
        .route("/api/ready", get(ready))
        .with_state(core)
        .fallback_service(forward)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let key = key.clone();
            async move { check_key(&key, req, next).await }
        }))
}

/// Every operator route but health and readiness, without the key check (see [`app`]).
fn routes(core: Arc<Core>, role_routes: Router) -> Router {
    let limit = core.config.operator_body_limit;
    let shared = Router::new()
        .route("/api/peers", get(list_peers))
        .route("/api/peers/invitations", post(invite))
        .route("/api/peers/connect", post(connect))
        .route(
            "/api/peers/{id}",
            get(get_peer).delete(disconnect).patch(set_compat),
        )
        .route("/api/peers/{id}/rotate", post(rotate))
        .route("/api/outbox", get(outbox_status))
        .with_state(core);
    Router::new()
        .merge(shared)
        .merge(role_routes)
        .fallback(|| async { OperatorError::not_found("no such operator API route") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::Extension(BodyLimit(limit)))
}

async fn check_key(key: &OperatorKey, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(k) if key.matches(k) => next.run(req).await,
        _ => OperatorError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong operator key (Authorization: Bearer <key>)",
        )
        .into_response(),
    }
}

/// What `healthcheck` reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` when answered.
    pub status: String,
    /// CPO or EMSP.
    pub role: String,
    /// Our party.
    pub party: String,
    /// Our versions URL.
    pub versions_url: String,
    /// Software version.
    pub version: String,
}

async fn health(State(core): State<Arc<Core>>) -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        role: core.config.role.to_string(),
        party: core.config.party.to_string(),
        versions_url: core.versions_url(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// 200 when ready, 503 with the reason otherwise ([`Core::readiness`]).
async fn ready(State(core): State<Arc<Core>>) -> (StatusCode, Json<Readiness>) {
    let r = core.readiness();
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(r))
}

async fn list_peers(State(core): State<Arc<Core>>) -> Result<Json<Vec<PeerView>>, OperatorError> {
    Ok(Json(core.peers.list()?.iter().map(PeerRecord::view).collect()))
}

async fn get_peer(
    State(core): State<Arc<Core>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<PeerView>, OperatorError> {
    core.peers
        .get(&id)?
        .map(|p| Json(p.view()))
        .ok_or_else(|| OperatorError::not_found(format!("no peer {id}")))
}

async fn invite(
    State(core): State<Arc<Core>>,
) -> Result<(StatusCode, Json<InvitationMessage>), OperatorError> {
    Ok((StatusCode::CREATED, Json(registration::invite(&core).await?)))
}

/// The body of `POST /api/peers/connect`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectRequest {
    /// The peer's versions URL.
    pub versions_url: String,
    /// Token A from the peer's invitation.
    pub token: String,
}

async fn connect(
    State(core): State<Arc<Core>>,
    body: Result<Json<ConnectRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<PeerView>), OperatorError> {
    let Json(body) = body.map_err(|e| OperatorError::invalid(e.body_text()))?;
    url::Url::parse(&body.versions_url).map_err(|e| OperatorError::invalid(format!("versions_url: {e}")))?;
    let token = CredentialsToken::new(body.token.trim())
        .map_err(|e| OperatorError::invalid(format!("token: {e}")))?;
    Ok((
        StatusCode::CREATED,
        Json(registration::connect(&core, &body.versions_url, &token).await?),
    ))
}

async fn outbox_status(
    State(core): State<Arc<Core>>,
) -> Result<Json<Vec<crate::outbox::OutboxStatus>>, OperatorError> {
    Ok(Json(crate::outbox::Outbox::status(&core)?))
}

async fn rotate(
    State(core): State<Arc<Core>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<PeerView>, OperatorError> {
    Ok(Json(registration::rotate(&core, &id).await?))
}

/// Query of `DELETE /api/peers/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DisconnectQuery {
    /// Remove locally even if the peer cannot be told.
    #[serde(default)]
    pub force: bool,
}

async fn disconnect(
    State(core): State<Arc<Core>>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<DisconnectQuery>,
) -> Result<StatusCode, OperatorError> {
    registration::disconnect(&core, &id, q.force).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of `PATCH /api/peers/{id}`: compatibility switches to change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CompatChange {
    /// Send our token raw (T-15).
    pub raw_token_out: Option<bool>,
    /// Accept the peer's token raw (T-15).
    pub raw_token_in: Option<bool>,
    /// Accept DateTime offsets (E-19).
    pub lenient_datetime: Option<bool>,
}

async fn set_compat(
    State(core): State<Arc<Core>>,
    UrlPath(id): UrlPath<String>,
    body: Result<Json<CompatChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<PeerView>, OperatorError> {
    let Json(change) = body.map_err(|e| OperatorError::invalid(e.body_text()))?;
    let view = core.peers.write(|tx| {
        let Some(mut p) = PEER_RECORDS.get(tx, &peer_key(&id))? else {
            return Err(OperatorError::not_found(format!("no peer {id}")));
        };
        let c: &mut PeerCompat = &mut p.compat;
        if let Some(v) = change.raw_token_out {
            c.raw_token_out = v;
        }
        if let Some(v) = change.raw_token_in {
            c.raw_token_in = v;
        }
        if let Some(v) = change.lenient_datetime {
            c.lenient_datetime = v;
        }
        put_peer(tx, &p)?;
        Ok(p.view())
    })?;
    core.store.durable().await?;
    Ok(Json(view))
}

/// A JSON body of the operator API whose rejection is an [`OperatorError`] (400, or 413 when too large).
/// It is decoded strictly (our own data: OCPI lengths, known enum values, no negative amounts; the
/// problem names the JSON path), so that nothing outside the OCPI types reaches the objects we send
/// (#12 item 13).
#[derive(Debug, Clone)]
pub struct OpJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for OpJson<T> {
    type Rejection = OperatorError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || v.ends_with("+json")
            });
        if !json_type {
            return Err(OperatorError::invalid(
                "expected a request with Content-Type: application/json",
            ));
        }
        let limit = req.extensions().get::<BodyLimit>().copied();
        let bytes = match limit {
            // The rest of an over-limit body is drained, so the client gets the 413 (server/body.rs).
            Some(BodyLimit(limit)) => {
                let (parts, body) = req.into_parts();
                match read_limited(&parts.headers, body, limit).await {
                    Ok(b) => b,
                    Err(BodyError::TooLarge) => {
                        return Err(OperatorError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too_large",
                            format!("the body is larger than {limit} bytes"),
                        ));
                    }
                    Err(BodyError::Read(e)) => return Err(OperatorError::invalid(e)),
                }
            }
            None => match bytes::Bytes::from_request(req, state).await {
                Ok(b) => b,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(OperatorError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
                        e.body_text(),
                    ));
                }
                Err(e) => return Err(OperatorError::invalid(e.body_text())),
            },
        };
        roaming_types::decode::decode_slice::<T>(&bytes, roaming_types::decode::DecodeOptions::STRICT)
            .map(|d| Self(d.value))
            .map_err(|e| OperatorError::invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #13 item 6: an OCPI-face error met on the operator API keeps a failure on our side a 5xx
    /// (a store failure is not the request's fault) and anything else a 400 with its message.
    #[test]
    fn ocpi_errors_on_the_operator_face() {
        let store = OperatorError::from(OcpiError::from(StoreError::Engine("disk".to_owned())));
        assert_eq!((store.status.as_u16(), store.code), (500, "internal"));
        assert!(!store.message.contains("disk"), "the detail is logged, not sent");
        let timeout = OperatorError::from(OcpiError::Timeout);
        assert_eq!(timeout.status.as_u16(), 503);
        let unknown = OperatorError::from(OcpiError::unknown_location("unknown location X"));
        assert_eq!(
            (unknown.status.as_u16(), unknown.message.as_str()),
            (400, "unknown location X")
        );
    }
}
