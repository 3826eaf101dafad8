//! The CSP crate's error and its two mappings: to the OCPI face (`OcpiError`) and to the operator face
//! (`OperatorError`), in one place (style §7).

use roaming_peer::error::OcpiError;
use roaming_peer::operator::OperatorError;
use roaming_peer::store::StoreError;

/// What can go wrong in the CSP role.
#[derive(Debug, thiserror::Error)]
pub enum CspError {
    /// The object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The location a request is about does not exist (OCPI 2003).
    #[error("{0}")]
    UnknownLocation(String),
    /// The input breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// The change conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The request lacks what is needed to answer (TOK-03).
    #[error("{0}")]
    NotEnoughInformation(String),
    /// A peer could not be reached or refused.
    #[error("{0}")]
    Peer(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

impl CspError {
    /// An internal error from anything displayable.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<CspError> for OcpiError {
    fn from(e: CspError) -> Self {
        match e {
            CspError::NotFound(m) => OcpiError::unknown_object(m),
            CspError::UnknownLocation(m) => OcpiError::unknown_location(m),
            CspError::Invalid(m) | CspError::Conflict(m) => OcpiError::InvalidParameters(m),
            CspError::NotEnoughInformation(m) => OcpiError::NotEnoughInformation(m),
            CspError::Store(s) => OcpiError::from(s),
            CspError::Peer(m) | CspError::Internal(m) => OcpiError::Internal(m),
        }
    }
}

impl From<CspError> for OperatorError {
    fn from(e: CspError) -> Self {
        match e {
            CspError::NotFound(m) | CspError::UnknownLocation(m) => OperatorError::not_found(m),
            CspError::Invalid(m) | CspError::NotEnoughInformation(m) => OperatorError::invalid(m),
            CspError::Conflict(m) => OperatorError::conflict(m),
            CspError::Peer(m) => OperatorError::new(http::StatusCode::BAD_GATEWAY, "peer", m),
            CspError::Store(s) => OperatorError::internal(s),
            CspError::Internal(m) => OperatorError::internal(m),
        }
    }
}
