//! The error of the OCPI face and the ONE function that maps it to HTTP status + OCPI status code
//! (checklist §3.4, §3.5; style §7).
//!
//! Handlers return `Result<_, OcpiError>`; nothing else builds error envelopes. Infrastructure errors
//! are converted once (`From` impls), logged where they are turned into a response, and never sent to
//! the peer in detail.

use axum::response::{IntoResponse, Response};
use http::StatusCode as Http;
use roaming_types::{Envelope, StatusCode};

use crate::store::StoreError;

/// Everything that can go wrong while answering an OCPI request.
#[derive(Debug, thiserror::Error)]
pub enum OcpiError {
    /// No, malformed, unknown or revoked credentials token (T-12), or token A on a functional module
    /// (T-13). HTTP 401.
    #[error("{0}")]
    Unauthorized(String),
    /// The body is not JSON at all (§3.4). HTTP 400 + 2001.
    #[error("request body is not valid JSON: {0}")]
    BadJson(String),
    /// Valid JSON that breaks a field or context rule (T-81, T-93, …). HTTP 200 + 2001.
    #[error("{0}")]
    InvalidParameters(String),
    /// Not enough information to answer (TOK-03). HTTP 200 + 2002.
    #[error("{0}")]
    NotEnoughInformation(String),
    /// An object that does not exist, with the OCPI code to report (2000, 2001, 2003, 2004) (§3.4,
    /// T-94). HTTP 404.
    #[error("{message}")]
    NotFound {
        /// 2000 (unknown route), 2001 (unknown object), 2003 (unknown Location) or 2004 (unknown Token).
        status: StatusCode,
        /// What was not found.
        message: String,
    },
    /// An existing route called with a method it does not have. HTTP 405 + 2000.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Credentials POST while registered, or PUT/DELETE while not registered (CR-12, CR-22, CR-31).
    /// HTTP 405 + 2000.
    #[error("{0}")]
    RegistrationState(String),
    /// The request body exceeds the limit. HTTP 413 + 2000.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Missing or wrong `Content-Type` on a request with a body (T-02). HTTP 415 + 2001.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// Registration: the client's versions or details could not be read (CR-10). HTTP 200 + 3001.
    #[error("{0}")]
    UnableToUseClientApi(String),
    /// Registration: no mutual version (CR-11). HTTP 200 + 3002.
    #[error("{0}")]
    UnsupportedVersion(String),
    /// Registration: required modules missing (CR-11). HTTP 200 + 3003.
    #[error("{0}")]
    NoMatchingEndpoints(String),
    /// The request took longer than the server allows. HTTP 503 + 3000.
    #[error("request timed out")]
    Timeout,
    /// Anything else on our side. HTTP 500 + 3000; the detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl OcpiError {
    /// The HTTP status, OCPI status code and message for this error. The one mapping (style §7).
    pub fn parts(&self) -> (Http, StatusCode, String) {
        match self {
            Self::Unauthorized(m) => (Http::UNAUTHORIZED, StatusCode::ClientError, m.clone()),
            Self::BadJson(_) => (
                Http::BAD_REQUEST,
                StatusCode::InvalidOrMissingParameters,
                self.to_string(),
            ),
            Self::InvalidParameters(m) => (Http::OK, StatusCode::InvalidOrMissingParameters, m.clone()),
            Self::NotEnoughInformation(m) => (Http::OK, StatusCode::NotEnoughInformation, m.clone()),
            Self::NotFound { status, message } => (Http::NOT_FOUND, *status, message.clone()),
            Self::MethodNotAllowed => (
                Http::METHOD_NOT_ALLOWED,
                StatusCode::ClientError,
                self.to_string(),
            ),
            Self::RegistrationState(m) => (Http::METHOD_NOT_ALLOWED, StatusCode::ClientError, m.clone()),
            Self::PayloadTooLarge => (Http::PAYLOAD_TOO_LARGE, StatusCode::ClientError, self.to_string()),
            Self::UnsupportedMediaType => (
                Http::UNSUPPORTED_MEDIA_TYPE,
                StatusCode::InvalidOrMissingParameters,
                self.to_string(),
            ),
            Self::UnableToUseClientApi(m) => (Http::OK, StatusCode::UnableToUseClientApi, m.clone()),
            Self::UnsupportedVersion(m) => (Http::OK, StatusCode::UnsupportedVersion, m.clone()),
            Self::NoMatchingEndpoints(m) => (Http::OK, StatusCode::NoMatchingEndpoints, m.clone()),
            Self::Timeout => (
                Http::SERVICE_UNAVAILABLE,
                StatusCode::ServerError,
                self.to_string(),
            ),
            Self::Internal(_) => (
                Http::INTERNAL_SERVER_ERROR,
                StatusCode::ServerError,
                "internal server error".to_owned(),
            ),
        }
    }

    /// 404 + 2001: an object that does not exist (T-94).
    pub fn unknown_object(what: impl Into<String>) -> Self {
        Self::NotFound {
            status: StatusCode::InvalidOrMissingParameters,
            message: what.into(),
        }
    }

    /// 404 + 2003: an unknown Location.
    pub fn unknown_location(what: impl Into<String>) -> Self {
        Self::NotFound {
            status: StatusCode::UnknownLocation,
            message: what.into(),
        }
    }

    /// 404 + 2004: an unknown Token (TOK-02, E-03).
    pub fn unknown_token(what: impl Into<String>) -> Self {
        Self::NotFound {
            status: StatusCode::UnknownToken,
            message: what.into(),
        }
    }

    /// 404 + 2000: no such route.
    pub fn unknown_route(path: &str) -> Self {
        Self::NotFound {
            status: StatusCode::ClientError,
            message: format!("no OCPI endpoint at {path}"),
        }
    }
}

impl From<StoreError> for OcpiError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<roaming_types::decode::DecodeError> for OcpiError {
    fn from(e: roaming_types::decode::DecodeError) -> Self {
        if e.syntax {
            Self::BadJson(e.message)
        } else {
            Self::InvalidParameters(e.to_string())
        }
    }
}

impl From<crate::stamps::FutureStamp> for OcpiError {
    fn from(e: crate::stamps::FutureStamp) -> Self {
        Self::InvalidParameters(e.to_string())
    }
}

impl From<roaming_types::TypeError> for OcpiError {
    fn from(e: roaming_types::TypeError) -> Self {
        Self::InvalidParameters(e.to_string())
    }
}

impl IntoResponse for OcpiError {
    fn into_response(self) -> Response {
        let (http, status, message) = self.parts();
        match &self {
            // A broken store fails every request the same way: one line per distinct failure and
            // interval (#12 item 15).
            Self::Internal(detail) => crate::throttled!(
                error,
                &format!("ocpi request failed: {}", detail.chars().take(80).collect::<String>()),
                error = %detail,
                "request failed"
            ),
            Self::Unauthorized(reason) => tracing::info!(reason = %reason, "request refused: unauthorized"),
            _ => {
                tracing::debug!(http = http.as_u16(), ocpi_status = status.code(), message = %message, "request answered with an error")
            }
        }
        let envelope: Envelope<serde_json::Value> = Envelope::status(status, message);
        (http, axum::Json(envelope)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_matches_the_checklist_table() {
        let cases: Vec<(OcpiError, u16, u16)> = vec![
            (OcpiError::Unauthorized("x".into()), 401, 2000),
            (OcpiError::BadJson("x".into()), 400, 2001),
            (OcpiError::InvalidParameters("x".into()), 200, 2001),
            (OcpiError::NotEnoughInformation("x".into()), 200, 2002),
            (OcpiError::unknown_object("x"), 404, 2001),
            (OcpiError::unknown_location("x"), 404, 2003),
            (OcpiError::unknown_token("x"), 404, 2004),
            (OcpiError::unknown_route("/x"), 404, 2000),
            (OcpiError::MethodNotAllowed, 405, 2000),
            (OcpiError::RegistrationState("x".into()), 405, 2000),
            (OcpiError::PayloadTooLarge, 413, 2000),
            (OcpiError::UnsupportedMediaType, 415, 2001),
            (OcpiError::UnableToUseClientApi("x".into()), 200, 3001),
            (OcpiError::UnsupportedVersion("x".into()), 200, 3002),
            (OcpiError::NoMatchingEndpoints("x".into()), 200, 3003),
            (OcpiError::Timeout, 503, 3000),
            (OcpiError::Internal("secret detail".into()), 500, 3000),
        ];
        for (e, http, code) in cases {
            let (h, s, m) = e.parts();
            assert_eq!((h.as_u16(), s.code()), (http, code), "{e:?}");
            assert!(!m.contains("secret detail"), "internal detail must not be sent");
        }
    }

    /// #13 item 6: a store failure is ours: 500 + 3000, whatever it says.
    #[test]
    fn a_store_failure_is_a_server_error() {
        let (http, status, message) = OcpiError::from(StoreError::Engine("disk full".into())).parts();
        assert_eq!((http.as_u16(), status.code()), (500, 3000));
        assert!(!message.contains("disk full"));
    }
}
