//! OCPI header names (checklist §3.6–§3.8).

/// `X-Request-ID` (T-40): unique per request, echoed in the response.
pub const X_REQUEST_ID: &str = "x-request-id";
/// `X-Correlation-ID` (T-41): shared by every call of one business flow, echoed in the response.
pub const X_CORRELATION_ID: &str = "x-correlation-id";
/// `OCPI-from-country-code` (T-50).
pub const OCPI_FROM_COUNTRY_CODE: &str = "ocpi-from-country-code";
/// `OCPI-from-party-id` (T-50).
pub const OCPI_FROM_PARTY_ID: &str = "ocpi-from-party-id";
/// `OCPI-to-country-code` (T-50).
pub const OCPI_TO_COUNTRY_CODE: &str = "ocpi-to-country-code";
/// `OCPI-to-party-id` (T-50).
pub const OCPI_TO_PARTY_ID: &str = "ocpi-to-party-id";
/// `X-Total-Count` (T-61).
pub const X_TOTAL_COUNT: &str = "x-total-count";
/// `X-Limit` (T-61).
pub const X_LIMIT: &str = "x-limit";

/// A new id for a request or a business flow (a UUID v4, as the spec recommends).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The longest `X-Request-ID` / `X-Correlation-ID` we echo, log and pass on (the spec advises UUIDs,
/// 36 characters).
pub const MAX_ID_LEN: usize = 255;

/// Whether a received request or correlation id may be echoed, logged and passed on: 1 to
/// [`MAX_ID_LEN`] visible ASCII characters (no spaces, no control characters).
pub fn acceptable_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_visible_ascii() {
        assert!(acceptable_id(&new_id()));
        assert!(acceptable_id(&"a".repeat(MAX_ID_LEN)));
        assert!(!acceptable_id(&"a".repeat(MAX_ID_LEN + 1)));
        assert!(!acceptable_id(""));
        assert!(!acceptable_id("with space"));
        assert!(!acceptable_id("tab\there"));
        assert!(!acceptable_id("caf\u{e9}"));
    }
}
