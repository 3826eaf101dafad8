//! The CSO crate's error and its two mappings: to the OCPI face (`OcpiError`) and to the operator face
//! (`OperatorError`).

use http::StatusCode;
use roaming_peer::error::OcpiError;
use roaming_peer::operator::OperatorError;
use roaming_peer::store::StoreError;

/// One problem of an import or of an object the operator wrote, with the JSON path of the offending
/// value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportProblem {
    /// JSON path, e.g. `[3].evses[0].connectors[1].standard`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// What can go wrong in the CSO role.
#[derive(Debug, thiserror::Error)]
pub enum CsoError {
    /// The object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The location does not exist, or is not published (OCPI 2003 on the OCPI face).
    #[error("{0}")]
    UnknownLocation(String),
    /// The input breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// The change conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// An import or object was refused: every problem with its JSON path.
    #[error("{} problem(s), first: {}", .0.len(), .0.first().map(|p| format!("{}: {}", p.path, p.message)).unwrap_or_default())]
    Import(Vec<ImportProblem>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

impl CsoError {
    /// An internal error from anything displayable.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    /// Whether trying the same thing again later may succeed: a failure of the storage engine (I/O, a
    /// resource that ran out). Everything else, a stored record that does not decode included, is
    /// about the input or the state and would fail the same way again.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(StoreError::Engine(_)))
    }
}

impl From<CsoError> for OcpiError {
    fn from(e: CsoError) -> Self {
        match e {
            CsoError::NotFound(m) => OcpiError::unknown_object(m),
            CsoError::UnknownLocation(m) => OcpiError::unknown_location(m),
            CsoError::Invalid(m) | CsoError::Conflict(m) => OcpiError::InvalidParameters(m),
            CsoError::Import(_) => OcpiError::InvalidParameters(e.to_string()),
            CsoError::Store(s) => OcpiError::from(s),
            CsoError::Internal(m) => OcpiError::Internal(m),
        }
    }
}

impl From<CsoError> for OperatorError {
    fn from(e: CsoError) -> Self {
        match e {
            CsoError::NotFound(m) | CsoError::UnknownLocation(m) => OperatorError::not_found(m),
            CsoError::Invalid(m) => OperatorError::invalid(m),
            CsoError::Conflict(m) => OperatorError::conflict(m),
            CsoError::Import(problems) => {
                let message = format!("{} problem(s); nothing was stored", problems.len());
                OperatorError::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", message)
                    .with_details(serde_json::to_value(&problems).unwrap_or_default())
            }
            CsoError::Store(s) => OperatorError::internal(s),
            CsoError::Internal(m) => OperatorError::internal(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failing_storage_engine_is_worth_trying_again() {
        assert!(CsoError::Store(StoreError::Engine("disk full".to_owned())).is_transient());
        let corrupt = StoreError::Corrupt {
            space: crate::keyspaces::LOCATIONS.objects(),
            message: "expected a location".to_owned(),
        };
        assert!(!CsoError::Store(corrupt).is_transient());
        assert!(!CsoError::Invalid("no".to_owned()).is_transient());
    }
}
