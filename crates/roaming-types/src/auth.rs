//! Credentials tokens and the `Authorization: Token <base64>` header (checklist §3.2, T-10…T-15, E-01, E-02).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::TypeError;

/// A credentials token (T-11): 1–64 printable non-whitespace ASCII characters (U+0021..U+007E).
///
/// `Debug` and `Display` print `[redacted]`; the value is reached only through [`expose`](Self::expose).
/// Equality is constant-time.
#[derive(Clone)]
pub struct CredentialsToken(String);

impl CredentialsToken {
    /// Maximum length (T-11).
    pub const MAX_LEN: usize = 64;

    /// Validates a token.
    pub fn new(value: impl Into<String>) -> Result<Self, TypeError> {
        let value = value.into();
        if value.is_empty() {
            return Err(TypeError::Empty);
        }
        if value.len() > Self::MAX_LEN {
            return Err(TypeError::TooLong {
                max: Self::MAX_LEN,
                len: value.len(),
            });
        }
        if let Some(c) = value.chars().find(|c| !('!'..='~').contains(c)) {
            return Err(TypeError::Charset {
                value: "[redacted]".to_owned(),
                found: c,
            });
        }
        Ok(Self(value))
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `Authorization` header value for this token (T-10), or the raw form for peers in
    /// compatibility mode (T-15).
    pub fn authorization_header(&self, raw: bool) -> String {
        if raw {
            format!("Token {}", self.0)
        } else {
            format!("Token {}", STANDARD.encode(self.0.as_bytes()))
        }
    }
}

impl PartialEq for CredentialsToken {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}
impl Eq for CredentialsToken {}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl fmt::Debug for CredentialsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialsToken([redacted])")
    }
}

impl fmt::Display for CredentialsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for CredentialsToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CredentialsToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// What an `Authorization` header may carry: the base64-decoded token (T-10) and, for peers that send
/// the token raw (T-15, E-01), the text as it was. The server tries `decoded` first.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenCandidates {
    /// The token if the credential decodes as standard padded base64 to a valid token.
    pub decoded: Option<CredentialsToken>,
    /// The credential text itself, if it is a valid token.
    pub raw: Option<CredentialsToken>,
}

impl fmt::Debug for TokenCandidates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCandidates")
            .field("decoded", &self.decoded.is_some())
            .field("raw", &self.raw.is_some())
            .finish()
    }
}

/// Why an `Authorization` header was not understood. Every variant leads to HTTP 401 (T-12).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthHeaderError {
    /// No `Authorization` header.
    #[error("missing Authorization header")]
    Missing,
    /// Not `Token <credential>`.
    #[error("Authorization header must be 'Token <base64 token>'")]
    WrongScheme,
    /// Neither the decoded nor the raw credential is a valid token.
    #[error("Authorization header carries no valid token")]
    InvalidToken,
}

/// Parses an `Authorization` header value (T-10, T-15). The scheme `Token` is matched
/// case-insensitively (RFC 9110 §11.1); surrounding whitespace is ignored.
pub fn parse_authorization(header: Option<&str>) -> Result<TokenCandidates, AuthHeaderError> {
    let header = header.ok_or(AuthHeaderError::Missing)?.trim();
    let (scheme, credential) = header.split_once(' ').ok_or(AuthHeaderError::WrongScheme)?;
    if !scheme.eq_ignore_ascii_case("token") {
        return Err(AuthHeaderError::WrongScheme);
    }
    let credential = credential.trim();
    let decoded = STANDARD
        .decode(credential.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| CredentialsToken::new(s).ok());
    let raw = CredentialsToken::new(credential).ok();
    if decoded.is_none() && raw.is_none() {
        return Err(AuthHeaderError::InvalidToken);
    }
    Ok(TokenCandidates { decoded, raw })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn t15_example_token_vector() {
        let t = CredentialsToken::new("example-token").unwrap();
        assert_eq!(t.authorization_header(false), "Token ZXhhbXBsZS10b2tlbg==");
        assert_eq!(t.authorization_header(true), "Token example-token");
    }

    #[test]
    fn e02_spec_example_with_trailing_newline_is_not_the_token() {
        // The spec's header example encodes "example-token\n"; the newline makes it an invalid token,
        // so the decoded candidate is absent, and the raw text is not the token either.
        let c = parse_authorization(Some("Token ZXhhbXBsZS10b2tlbgo=")).unwrap();
        assert!(c.decoded.is_none());
        assert_ne!(c.raw.unwrap().expose(), "example-token");
    }

    #[test]
    fn t12_missing_or_malformed_headers() {
        assert_eq!(parse_authorization(None), Err(AuthHeaderError::Missing));
        assert_eq!(
            parse_authorization(Some("Bearer abc")),
            Err(AuthHeaderError::WrongScheme)
        );
        assert_eq!(
            parse_authorization(Some("Token")),
            Err(AuthHeaderError::WrongScheme)
        );
        assert_eq!(
            parse_authorization(Some("Token \u{e9}\u{e9}")),
            Err(AuthHeaderError::InvalidToken)
        );
    }

    #[test]
    fn t11_token_charset() {
        assert!(CredentialsToken::new("has space").is_err());
        assert!(CredentialsToken::new("").is_err());
        assert!(CredentialsToken::new("x".repeat(65)).is_err());
        assert!(CredentialsToken::new("x".repeat(64)).is_ok());
    }

    #[test]
    fn tokens_never_print() {
        let t = CredentialsToken::new("secret-value").unwrap();
        assert!(!format!("{t:?} {t}").contains("secret"));
    }

    proptest! {
        #[test]
        fn header_round_trips(token in "[!-~]{1,64}") {
            let t = CredentialsToken::new(token.clone()).unwrap();
            let c = parse_authorization(Some(&t.authorization_header(false))).unwrap();
            prop_assert_eq!(c.decoded.as_ref().unwrap().expose(), token.as_str());
            let c = parse_authorization(Some(&t.authorization_header(true))).unwrap();
            prop_assert_eq!(c.raw.as_ref().unwrap().expose(), token.as_str());
        }

        #[test]
        fn scheme_is_case_insensitive(token in "[!-~]{1,64}", scheme in "[tT][oO][kK][eE][nN]") {
            let t = CredentialsToken::new(token.clone()).unwrap();
            let header = t.authorization_header(false).replacen("Token", &scheme, 1);
            let c = parse_authorization(Some(&header)).unwrap();
            prop_assert_eq!(c.decoded.as_ref().unwrap().expose(), token.as_str());
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,100}") {
            let _ = parse_authorization(Some(&s));
        }
    }
}
