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
