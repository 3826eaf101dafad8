//! Secrets: credentials tokens we generate, their stored hashes, and the operator API key.
//!
//! Tokens come from the operating system's CSPRNG (`getrandom`): 32 random bytes in unpadded base64url,
//! 43 printable characters (T-11 allows 1–64), never starting with `-` (an operator pastes them into
//! command lines, where a leading `-` reads as an option). Tokens that peers use to call us are stored only as
//! SHA-256 hashes ([`TokenHash`]) and compared in constant time. Nothing here implements `Display` or
//! a revealing `Debug`, so a token cannot end up in a log line by accident.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roaming_types::auth::{CredentialsToken, constant_time_eq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// 32 bytes from the operating system's CSPRNG.
pub fn random_bytes() -> [u8; 32] {
    let mut buf = [0u8; 32];
    // getrandom only fails when the OS has no entropy source at all; nothing sensible can go on then.
    #[expect(
        clippy::expect_used,
        reason = "no CSPRNG means no secure operation is possible"
    )]
    getrandom::fill(&mut buf).expect("the operating system CSPRNG is unavailable");
    buf
}

/// 32 CSPRNG bytes in unpadded base64url, drawn again while the first character is `-` (1 in 64):
/// the rest keep their full randomness.
fn random_secret() -> String {
    loop {
        let s = URL_SAFE_NO_PAD.encode(random_bytes());
        if !s.starts_with('-') {
            return s;
        }
    }
}

/// A fresh credentials token (token A, B or C).
pub fn generate_token() -> CredentialsToken {
    #[expect(
        clippy::expect_used,
        reason = "43 base64url characters always form a valid token"
    )]
    CredentialsToken::new(random_secret()).expect("base64url of 32 bytes is a valid token")
}

/// The SHA-256 of a token: what we store for tokens that peers present to us.
#[derive(Clone, Copy)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token.
    pub fn of(token: &CredentialsToken) -> Self {
        Self::of_str(token.expose())
    }

    /// Hashes any secret string (the operator key).
    pub fn of_str(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// The hash as lower-case hex: the store key.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses the hex form.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hex = std::str::from_utf8(chunk).ok()?;
            out[i] = u8::from_str_radix(hex, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}
impl Eq for TokenHash {}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix of the hash identifies a token in diagnostics without revealing it.
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_hex(&s).ok_or_else(|| serde::de::Error::custom("invalid token hash"))
    }
}

/// The operator API key: a bearer secret for the operator face, generated on first start.
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorKey(String);

impl OperatorKey {
    /// A fresh key.
    pub fn generate() -> Self {
        Self(random_secret())
    }

    /// Wraps a key read from a file or flag (surrounding whitespace removed).
    pub fn new(key: &str) -> Option<Self> {
        let key = key.trim();
        (!key.is_empty() && key.chars().all(|c| c.is_ascii_graphic())).then(|| Self(key.to_owned()))
    }

    /// The secret. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented key.
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

impl fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OperatorKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_valid_distinct_and_hash_stably() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert_eq!(TokenHash::of(&a), TokenHash::of(&a.clone()));
        assert_ne!(TokenHash::of(&a), TokenHash::of(&b));
        let h = TokenHash::of(&a);
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert!(!format!("{h:?}").contains(&h.to_hex()));
    }

    #[test]
    fn generated_secrets_never_start_with_a_hyphen() {
        // Without the redraw, 2,000 draws would hold about 31 such secrets.
        for _ in 0..1_000 {
            assert!(!generate_token().expose().starts_with('-'));
            assert!(!OperatorKey::generate().expose().starts_with('-'));
        }
    }

    #[test]
    fn operator_key_never_prints() {
        let k = OperatorKey::generate();
        assert!(!format!("{k:?}").contains(k.expose()));
        assert!(k.matches(k.expose()));
        assert!(!k.matches("nope"));
    }
}
