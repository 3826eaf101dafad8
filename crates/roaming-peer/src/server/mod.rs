//! The OCPI face: one router for versions, credentials and the role's modules, wrapped in the
//! middleware every OCPI request goes through (style §7–§9):
//!
//! 1. request context: `X-Request-ID` / `X-Correlation-ID` read or generated and echoed (T-40…T-42),
//!    one tracing span per request, one `ocpi.serve` log line per answer;
//! 2. request timeout → enveloped 503 + 3000;
//! 3. authentication: `Authorization: Token …` → a peer, an invitation (token A) or a pending
//!    registration (token B), else 401 (T-10…T-15); module handlers demand a peer (T-13);
//! 4. on functional modules, routing headers checked against the caller's roles and set on the answer
//!    (T-50…T-53);
//! 5. the framework's own rejections (unknown route, wrong method, body too large, bad JSON) answered
//!    in the envelope (T-22).

pub mod addressed;
pub mod body;
pub mod extract;
pub mod paginate;
pub mod reply;
pub mod serve;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::HeaderValue;
use roaming_types::DateTime;
use roaming_types::auth::parse_authorization;
use roaming_types::ids::{CountryCode, PartyId, PartyRef};
use roaming_types::modules::versions::{
    Endpoint, InterfaceRole, ModuleId, Version, VersionDetails, VersionNumber,
};
use roaming_types::{Envelope, Url};
use tokio::time::Instant;
use tracing::Instrument;

use crate::core::Core;
use crate::error::OcpiError;
use crate::headers::{self, new_id};
use crate::registration::peers::Authenticated;
use extract::{CallerAuth, PresentedToken, RequestContext, RoutedFrom};

pub use crate::core::{V221_PATH, VERSIONS_PATH};

/// One module interface we offer, for the version details (V-03).
#[derive(Debug, Clone)]
pub struct ModuleEndpoint {
    /// The module.
    pub module: ModuleId,
    /// Our interface role.
    pub role: InterfaceRole,
    /// Its path under the public base URL, e.g. `/ocpi/2.2.1/locations`.
    pub path: String,
}

/// The role crate's functional modules: their endpoints and their routes (with state applied).
#[derive(Debug, Default)]
pub struct OcpiModules {
    /// What the version details list besides credentials.
    pub endpoints: Vec<ModuleEndpoint>,
    /// The routes.
    pub router: Router,
}

#[derive(Debug, Clone)]
struct AppState {
    core: Arc<Core>,
    endpoints: Arc<Vec<ModuleEndpoint>>,
}

/// Builds the complete OCPI face.
pub fn ocpi_app(core: Arc<Core>, modules: OcpiModules) -> Router {
    let state = AppState {
        core: Arc::clone(&core),
        endpoints: Arc::new(modules.endpoints),
    };
    let config_routes = Router::new()
        .route(VERSIONS_PATH, get(get_versions))
        .route(V221_PATH, get(get_version_details))
        .with_state(state)
        .merge(crate::registration::credentials::router(Arc::clone(&core)));
    let functional = modules
        .router
        .layer(middleware::from_fn_with_state(Arc::clone(&core), routing_headers));
    let timeout = core.config.request_timeout;
    Router::new()
        .merge(config_routes)
        .merge(functional)
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(core.config.body_limit))
        .layer(axum::Extension(body::BodyLimit(core.config.body_limit)))
        .layer(axum::Extension(core.stamps()))
        .layer(middleware::from_fn_with_state(Arc::clone(&core), authenticate))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            request_timeout(timeout, req, next)
        }))
        .layer(middleware::from_fn(request_context))
}

async fn unknown_route(uri: http::Uri) -> OcpiError {
    OcpiError::unknown_route(uri.path())
}

async fn method_not_allowed() -> OcpiError {
    OcpiError::MethodNotAllowed
}

fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A received id header, or a new id when it is absent or not acceptable ([`headers::acceptable_id`]:
/// at most 255 visible ASCII characters). An unacceptable one is neither echoed nor logged nor passed
/// on; only its length is logged, at debug level.
fn id_from(req: &Request, name: &'static str) -> String {
    match req.headers().get(name) {
        None => new_id(),
        Some(v) => match v.to_str().map(str::trim) {
            Ok(id) if headers::acceptable_id(id) => id.to_owned(),
            _ => {
                tracing::debug!(
                    header = name,
                    length = v.len(),
                    "unacceptable id header replaced by a generated id (at most 255 visible ASCII characters)"
                );
                new_id()
            }
        },
    }
}

/// T-40…T-42: ids read or generated, echoed; one span and one log line per request.
async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id = id_from(&req, headers::X_REQUEST_ID);
    let correlation_id = id_from(&req, headers::X_CORRELATION_ID);
    let ctx = RequestContext {
        request_id: request_id.clone(),
        correlation_id: correlation_id.clone(),
    };
    req.extensions_mut().insert(ctx);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("ocpi.request", method = %method, path = %path, request_id = %request_id, correlation_id = %correlation_id, peer = tracing::field::Empty);
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(target: "ocpi.serve", method = %method, path = %path, status = status, duration_ms = started.elapsed().as_millis() as u64, "request served");
    });
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(headers::X_REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&correlation_id) {
        h.insert(headers::X_CORRELATION_ID, v);
    }
    response
}

async fn request_timeout(limit: std::time::Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => OcpiError::Timeout.into_response(),
    }
}

/// T-10…T-15: every OCPI request carries a known token; the caller is attached to the request.
async fn authenticate(State(core): State<Arc<Core>>, mut req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let candidates = match parse_authorization(header) {
        Ok(c) => c,
        Err(e) => return OcpiError::Unauthorized(e.to_string()).into_response(),
    };
    let now = DateTime::now();
    let mut found = None;
    // Base64 first (T-10); the raw text only for peers in compatibility mode and for token A/B,
    // whose holders we do not know yet (T-15).
    if let Some(t) = &candidates.decoded {
        match core.peers.authenticate(t, now) {
            Ok(Some(a)) => found = Some((a, t.clone())),
            Ok(None) => {}
            Err(e) => return OcpiError::from(e).into_response(),
        }
    }
    if found.is_none() {
        if let Some(t) = &candidates.raw {
            match core.peers.authenticate(t, now) {
                Ok(Some(Authenticated::Peer(p))) if !p.compat.raw_token_in => {}
                Ok(Some(a)) => found = Some((a, t.clone())),
                Ok(None) => {}
                Err(e) => return OcpiError::from(e).into_response(),
            }
        }
    }
    let Some((auth, token)) = found else {
        return OcpiError::Unauthorized("unknown or revoked token (T-12)".to_owned()).into_response();
    };
    if let Authenticated::Peer(p) = &auth {
        tracing::Span::current().record("peer", p.id.as_str());
        if let Err(e) = core.peers.end_grace_if_current(p, &token) {
            return OcpiError::from(e).into_response();
        }
    }
    req.extensions_mut().insert(CallerAuth(auth));
    req.extensions_mut().insert(PresentedToken(token));
    next.run(req).await
}

fn party_from_headers(req: &Request, cc: &str, pid: &str) -> Result<Option<PartyRef>, OcpiError> {
    match (header_str(req, cc), header_str(req, pid)) {
        (None, None) => Ok(None),
        (Some(c), Some(p)) => {
            let c = CountryCode::new(c).map_err(|e| OcpiError::InvalidParameters(format!("{cc}: {e}")))?;
            let p = PartyId::new(p).map_err(|e| OcpiError::InvalidParameters(format!("{pid}: {e}")))?;
            Ok(Some(PartyRef::new(c, p)))
        }
        _ => Err(OcpiError::InvalidParameters(format!(
            "{cc} and {pid} must be sent together (T-50)"
        ))),
    }
}

/// T-50…T-53 on functional modules: the sender must be one of the caller's parties and the receiver
/// us; when absent, the caller must host a single counterpart party. The answer carries them swapped.
async fn routing_headers(State(core): State<Arc<Core>>, mut req: Request, next: Next) -> Response {
    let peer = match req.extensions().get::<CallerAuth>() {
        Some(CallerAuth(Authenticated::Peer(p))) => Arc::clone(p),
        // Token A/B on a functional module: the handler's PeerCaller answers 401 (T-13).
        _ => return next.run(req).await,
    };
    let counterpart = core.counterpart_role();
    let checked = (|| {
        let from = party_from_headers(&req, headers::OCPI_FROM_COUNTRY_CODE, headers::OCPI_FROM_PARTY_ID)?;
        let to = party_from_headers(&req, headers::OCPI_TO_COUNTRY_CODE, headers::OCPI_TO_PARTY_ID)?;
        if let Some(to) = &to {
            if to != &core.config.party {
                return Err(OcpiError::InvalidParameters(format!(
                    "OCPI-to {to} is not this platform's party {} (T-52)",
                    core.config.party
                )));
            }
        }
        match &from {
            Some(f) if !peer.hosts(f, &counterpart) => Err(OcpiError::InvalidParameters(format!(
                "OCPI-from {f} is not a {counterpart} party of your credentials (T-53)"
            ))),
            Some(_) => Ok(from),
            None if peer.parties(&counterpart).len() > 1 => Err(OcpiError::InvalidParameters(
                "routing headers are required: your credentials list several parties (T-53)".to_owned(),
            )),
            None => Ok(None),
        }
    })();
    let from = match checked {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let reply_to = from
        .clone()
        .or_else(|| peer.parties(&counterpart).into_iter().next());
    req.extensions_mut().insert(RoutedFrom(from));
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    let ours = &core.config.party;
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(headers::OCPI_FROM_COUNTRY_CODE, ours.country_code.as_str());
    set(headers::OCPI_FROM_PARTY_ID, ours.party_id.as_str());
    if let Some(to) = reply_to {
        set(headers::OCPI_TO_COUNTRY_CODE, to.country_code.as_str());
        set(headers::OCPI_TO_PARTY_ID, to.party_id.as_str());
    }
    response
}

/// V-02: the versions we speak. Any valid token (A, B or C) may read it.
async fn get_versions(
    State(state): State<AppState>,
    _caller: CallerAuth,
) -> Result<axum::Json<Envelope<Vec<Version>>>, OcpiError> {
    let url = Url::new(format!("{}{V221_PATH}", state.core.base_url()))
        .map_err(|e| OcpiError::Internal(e.to_string()))?;
    Ok(axum::Json(Envelope::success(vec![Version {
        version: VersionNumber::V2_2_1,
        url,
    }])))
}

/// V-03: exactly the modules this role implements, plus credentials.
async fn get_version_details(
    State(state): State<AppState>,
    _caller: CallerAuth,
) -> Result<axum::Json<Envelope<VersionDetails>>, OcpiError> {
    let base = state.core.base_url();
    let url = |path: &str| Url::new(format!("{base}{path}")).map_err(|e| OcpiError::Internal(e.to_string()));
    let mut endpoints = vec![Endpoint {
        identifier: ModuleId::Credentials,
        role: InterfaceRole::Sender,
        url: url(crate::registration::credentials::CREDENTIALS_PATH)?,
    }];
    for e in state.endpoints.iter() {
        endpoints.push(Endpoint {
            identifier: e.module.clone(),
            role: e.role.clone(),
            url: url(&e.path)?,
        });
    }
    Ok(axum::Json(Envelope::success(VersionDetails {
        version: VersionNumber::V2_2_1,
        endpoints,
    })))
}
