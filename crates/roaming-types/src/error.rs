//! The one error type of this crate: a value that breaks an OCPI type rule.

/// A value that breaks an OCPI type rule (checklist §3.9). Messages name the rule so that they can be
/// returned to a peer as the `status_message` of a 2001 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    /// The value is longer than the OCPI maximum.
    #[error("longer than {max} characters ({len})")]
    TooLong {
        /// The maximum.
        max: usize,
        /// The actual length.
        len: usize,
    },
    /// A required value is empty.
    #[error("must not be empty")]
    Empty,
    /// A character outside the allowed set.
    #[error("character {found:?} is not allowed in {value:?}")]
    Charset {
        /// The value (shortened).
        value: String,
        /// The first offending character.
        found: char,
    },
    /// Control characters in a `string(n)`.
    #[error("control characters are not allowed in {value:?}")]
    ControlCharacters {
        /// The value (shortened).
        value: String,
    },
    /// The value does not have the required shape.
    #[error("{value:?} is not a valid {what}: {reason}")]
    Format {
        /// Which type.
        what: &'static str,
        /// The value (shortened).
        value: String,
        /// Why.
        reason: String,
    },
    /// An enum value that is not known, in strict mode.
    #[error("unknown {enum_name} value {value:?}")]
    UnknownEnumValue {
        /// The enum.
        enum_name: &'static str,
        /// The value.
        value: String,
    },
}

impl TypeError {
    pub(crate) fn format(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self::Format {
            what,
            value: crate::decode::preview(value),
            reason: reason.into(),
        }
    }
}
