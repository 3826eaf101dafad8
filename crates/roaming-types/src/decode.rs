//! Decoding with the checklist's leniency rules, and strict checks for what we emit.
//!
//! OCPI peers send data that does not always follow the 2.2.1 tables to the letter. The rules we apply
//! (checklist §3.9, §17):
//!
//! - **T-70** over-length strings are accepted on input and reported as a [`DecodeWarning::OverLength`];
//!   in [`Strictness::Strict`] mode (our own imports, what we emit) they are an error.
//! - **T-71** unknown JSON fields are ignored (no type uses `deny_unknown_fields`).
//! - **T-72** unknown enum values are kept as `Other(String)` and reported; strict mode rejects them.
//! - **E-19** DateTime offsets other than `Z` are an error unless [`DecodeOptions::lenient_datetime`] is
//!   on (a per-peer setting), in which case they are converted to UTC and reported.
//! - The tolerance has bounds ([`crate::limits`], #12 item 13): over-length values beyond twice the
//!   maximum, ids longer than their maximum, unknown enum values that do not look like one, negative
//!   numbers where the spec allows none, and a `response_url` we could not call are refused in
//!   lenient mode too.
//!
//! The options and the warnings travel through a thread-local context that exists only for the
//! duration of one synchronous `decode_*` call. Outside one — plain `serde_json::from_*`, which is how
//! we read back what we stored — the mode is [`Strictness::Trusted`]: what an earlier version stored
//! reads back as it was written. Peers' data must therefore go through `decode_*` with
//! [`DecodeOptions::LENIENT`] (the OCPI face's extractors, pulls and the client's answers do).

use std::cell::RefCell;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// How strictly lengths, character sets and enum values are checked while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// Input from peers: over-length values and unknown enum values are kept and reported (T-70, T-72).
    #[default]
    Lenient,
    /// Our own data (operator imports, objects we are about to emit): every rule is an error.
    Strict,
    /// What we stored ourselves, read back (the mode outside a `decode_*` call): nothing that an
    /// earlier version accepted is refused — lengths, unknown enum values and signs are not checked;
    /// character sets, empty ids and formats are, as they always were.
    Trusted,
}

/// Options for one decode call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeOptions {
    /// Length / enum strictness.
    pub strictness: Strictness,
    /// E-19: accept DateTime values with an explicit UTC offset (`+01:00`) and the CDR-06 escape
    /// `1970-1-1T00:00:00Z`, converting to UTC. Off by default; a per-peer compatibility switch.
    pub lenient_datetime: bool,
}

impl DecodeOptions {
    /// Lenient decoding of peer input (the default).
    pub const LENIENT: Self = Self {
        strictness: Strictness::Lenient,
        lenient_datetime: false,
    };
    /// Strict decoding of our own data.
    pub const STRICT: Self = Self {
        strictness: Strictness::Strict,
        lenient_datetime: false,
    };
    /// Reading back what we stored (the mode outside a `decode_*` call).
    pub const TRUSTED: Self = Self {
        strictness: Strictness::Trusted,
        lenient_datetime: false,
    };
}

/// Something accepted leniently that a strict reader would have refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeWarning {
    /// T-70: a string longer than its OCPI maximum.
    OverLength {
        /// The OCPI maximum length.
        max: usize,
        /// The actual length.
        len: usize,
        /// The first characters of the value (never a credentials token: tokens are not `CiString`s).
        preview: String,
    },
    /// T-72: an enum value this version does not know.
    UnknownEnumValue {
        /// The enum's OCPI name.
        enum_name: &'static str,
        /// The value received.
        value: String,
    },
    /// A `string(n)` value containing control characters (CR, LF, TAB…).
    ControlCharacters {
        /// The first characters of the value.
        preview: String,
    },
    /// E-19: a DateTime with an explicit offset, converted to UTC.
    DateTimeOffset {
        /// The value received.
        value: String,
    },
    /// A value outside its format that could still be understood (e.g. E-20 coordinates as numbers
    /// or with fewer than 5 decimals).
    Format {
        /// Which type.
        what: &'static str,
        /// The value received.
        value: String,
    },
}

impl fmt::Display for DecodeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OverLength { max, len, preview } => {
                write!(
                    f,
                    "value of {len} characters exceeds the maximum of {max}: {preview:?}"
                )
            }
            Self::UnknownEnumValue { enum_name, value } => {
                write!(f, "unknown {enum_name} value {value:?} kept as is")
            }
            Self::ControlCharacters { preview } => write!(f, "control characters in {preview:?}"),
            Self::DateTimeOffset { value } => write!(f, "DateTime {value:?} has an offset; converted to UTC"),
            Self::Format { what, value } => {
                write!(f, "{what} {value:?} is outside the OCPI format; accepted")
            }
        }
    }
}

/// A decoded value with what was accepted leniently on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T> {
    /// The value.
    pub value: T,
    /// Leniency warnings, in input order.
    pub warnings: Vec<DecodeWarning>,
}

/// A decoding failure with the JSON path of the offending value (`evses[0].connectors[1].standard`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", if path.is_empty() { "." } else { path.as_str() })]
pub struct DecodeError {
    /// JSON path of the value that failed, empty for the document itself.
    pub path: String,
    /// What was wrong.
    pub message: String,
    /// Whether the input is not JSON at all (HTTP 400) rather than JSON that breaks a rule (2001).
    pub syntax: bool,
}

#[derive(Debug, Default)]
struct Context {
    options: DecodeOptions,
    warnings: Vec<DecodeWarning>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// The options of the decode call in progress on this thread ([`DecodeOptions::TRUSTED`] outside
/// one).
pub(crate) fn options() -> DecodeOptions {
    CONTEXT.with(|c| c.borrow().as_ref().map_or(DecodeOptions::TRUSTED, |c| c.options))
}

/// Whether the value being decoded comes from outside (a peer, an operator) rather than from our
/// own store, so that the bounds of [`crate::limits`] apply.
pub(crate) fn checks_bounds() -> bool {
    options().strictness != Strictness::Trusted
}

/// Records a warning for the decode call in progress (dropped outside one).
pub(crate) fn warn(warning: DecodeWarning) {
    CONTEXT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            ctx.warnings.push(warning);
        }
    });
}

/// Shortens a value for a warning message.
pub(crate) fn preview(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let mut s: String = value.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

fn with_context<T>(
    options: DecodeOptions,
    f: impl FnOnce() -> Result<T, DecodeError>,
) -> Result<Decoded<T>, DecodeError> {
    let previous = CONTEXT.with(|c| {
        c.replace(Some(Context {
            options,
            warnings: Vec::new(),
        }))
    });
    let result = f();
    let ctx = CONTEXT.with(|c| c.replace(previous)).unwrap_or_default();
    result.map(|value| Decoded {
        value,
        warnings: ctx.warnings,
    })
}

fn path_error(err: serde_path_to_error::Error<serde_json::Error>) -> DecodeError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let syntax = matches!(
        inner.classify(),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof
    );
    // serde_json appends " at line L column C" to data errors; the JSON path says more.
    let mut message = inner.to_string();
    if let Some(idx) = message.rfind(" at line ") {
        message.truncate(idx);
    }
    DecodeError {
        path: if path == "." { String::new() } else { path },
        message,
        syntax,
    }
}

/// Runs a synchronous deserialization by another format (a query string, say) with the given
/// options, so that the same rules apply as to a JSON body; returns its result and the warnings.
pub fn with_options<T, E>(
    options: DecodeOptions,
    f: impl FnOnce() -> Result<T, E>,
) -> (Result<T, E>, Vec<DecodeWarning>) {
    let previous = CONTEXT.with(|c| {
        c.replace(Some(Context {
            options,
            warnings: Vec::new(),
        }))
    });
    let result = f();
    let ctx = CONTEXT.with(|c| c.replace(previous)).unwrap_or_default();
    (result, ctx.warnings)
}

/// Decodes JSON bytes with the given options, reporting the JSON path of the first error.
pub fn decode_slice<T: DeserializeOwned>(
    bytes: &[u8],
    options: DecodeOptions,
) -> Result<Decoded<T>, DecodeError> {
    with_context(options, || {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
        de.end().map_err(|e| DecodeError {
            path: String::new(),
            message: e.to_string(),
            syntax: true,
        })?;
        Ok(value)
    })
}

/// Decodes a JSON value with the given options.
pub fn decode_value<T: DeserializeOwned>(
    value: serde_json::Value,
    options: DecodeOptions,
) -> Result<Decoded<T>, DecodeError> {
    with_context(options, || {
        serde_path_to_error::deserialize(value).map_err(path_error)
    })
}

/// Checks that a value we are about to emit obeys every strict rule (lengths, charsets, known enum
/// values, UTC DateTimes): it is serialized and decoded again in [`Strictness::Strict`] mode.
pub fn ensure_strict<T: Serialize + DeserializeOwned>(value: &T) -> Result<(), DecodeError> {
    let json = serde_json::to_value(value).map_err(|e| DecodeError {
        path: String::new(),
        message: e.to_string(),
        syntax: false,
    })?;
    decode_value::<T>(json, DecodeOptions::STRICT).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_scoped_to_one_call() {
        assert_eq!(options(), DecodeOptions::TRUSTED);
        let _ = decode_slice::<serde_json::Value>(b"{}", DecodeOptions::STRICT);
        assert_eq!(options(), DecodeOptions::TRUSTED);
    }

    #[test]
    fn error_carries_json_path() {
        #[derive(Debug, serde::Deserialize)]
        struct Inner {
            #[expect(dead_code)]
            n: u32,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Outer {
            #[expect(dead_code)]
            items: Vec<Inner>,
        }
        let err =
            decode_slice::<Outer>(br#"{"items":[{"n":1},{"n":"x"}]}"#, DecodeOptions::LENIENT).unwrap_err();
        assert_eq!(err.path, "items[1].n");
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(
            decode_slice::<serde_json::Value>(b"{} x", DecodeOptions::LENIENT)
                .unwrap_err()
                .syntax
        );
    }

    #[test]
    fn syntax_errors_are_told_apart_from_rule_errors() {
        assert!(
            decode_slice::<Vec<u32>>(b"[1,", DecodeOptions::LENIENT)
                .unwrap_err()
                .syntax
        );
        assert!(
            decode_slice::<serde_json::Value>(b"{\"a\" 1}", DecodeOptions::LENIENT)
                .unwrap_err()
                .syntax
        );
        assert!(
            !decode_slice::<u32>(b"\"x\"", DecodeOptions::LENIENT)
                .unwrap_err()
                .syntax
        );
        assert!(
            !decode_slice::<u32>(b"{}", DecodeOptions::LENIENT)
                .unwrap_err()
                .syntax
        );
    }
}
