//! The OCPI response envelope and status codes (checklist §3.3–§3.5, T-20…T-31).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::datetime::DateTime;

/// OCPI `status_code` (§3.5), sorted by code. Codes outside the list (custom ranges 19xx, 29xx, 39xx,
/// 49xx, or future ones) are kept in [`StatusCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusCode {
    /// 1000: generic success.
    Success,
    /// 2000: generic client error.
    ClientError,
    /// 2001: invalid or missing parameters (PATCH without `last_updated`, URL id ≠ body id, …).
    InvalidOrMissingParameters,
    /// 2002: not enough information (authorize without LocationReferences when they are needed).
    NotEnoughInformation,
    /// 2003: unknown Location.
    UnknownLocation,
    /// 2004: unknown Token.
    UnknownToken,
    /// 3000: generic server error.
    ServerError,
    /// 3001: unable to use the client's API (registration: the client's versions could not be read).
    UnableToUseClientApi,
    /// 3002: unsupported version (no mutual version).
    UnsupportedVersion,
    /// 3003: no matching (expected) endpoints.
    NoMatchingEndpoints,
    /// 4000: generic hub error.
    HubError,
    /// 4001: unknown receiver (hub).
    UnknownReceiver,
    /// 4002: timeout on a forwarded request (hub).
    HubTimeout,
    /// 4003: connection problem; receiver not connected (hub).
    ReceiverNotConnected,
    /// Any other code, including the custom ranges x900–x999.
    Other(u16),
}

impl StatusCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            Self::Success => 1000,
            Self::ClientError => 2000,
            Self::InvalidOrMissingParameters => 2001,
            Self::NotEnoughInformation => 2002,
            Self::UnknownLocation => 2003,
            Self::UnknownToken => 2004,
            Self::ServerError => 3000,
            Self::UnableToUseClientApi => 3001,
            Self::UnsupportedVersion => 3002,
            Self::NoMatchingEndpoints => 3003,
            Self::HubError => 4000,
            Self::UnknownReceiver => 4001,
            Self::HubTimeout => 4002,
            Self::ReceiverNotConnected => 4003,
            Self::Other(c) => c,
        }
    }

    /// The status for a numeric code.
    pub fn from_code(code: u16) -> Self {
        match code {
            1000 => Self::Success,
            2000 => Self::ClientError,
            2001 => Self::InvalidOrMissingParameters,
            2002 => Self::NotEnoughInformation,
            2003 => Self::UnknownLocation,
            2004 => Self::UnknownToken,
            3000 => Self::ServerError,
            3001 => Self::UnableToUseClientApi,
            3002 => Self::UnsupportedVersion,
            3003 => Self::NoMatchingEndpoints,
            4000 => Self::HubError,
            4001 => Self::UnknownReceiver,
            4002 => Self::HubTimeout,
            4003 => Self::ReceiverNotConnected,
            c => Self::Other(c),
        }
    }

    /// 1xxx: success (T-31).
    pub fn is_success(self) -> bool {
        (1000..2000).contains(&self.code())
    }

    /// The custom ranges x900–x999, which standard modules must not use (T-30).
    pub fn is_custom(self) -> bool {
        (900..1000).contains(&(self.code() % 1000))
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl Serialize for StatusCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u16(self.code())
    }
}

impl<'de> Deserialize<'de> for StatusCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u16::deserialize(deserializer).map(Self::from_code)
    }
}

/// The response envelope of every OCPI response, errors included (§3.3, T-22).
///
/// `data` is whatever the endpoint returns; where the spec says nothing it is left out on output and
/// any value is accepted on input (T-20): decode into `Envelope<serde_json::Value>` and then
/// [`Envelope::into_data`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The payload; absent, `null` or anything when the status is not 1xxx (T-31).
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// The OCPI status code.
    pub status_code: StatusCode,
    /// Free-text message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// When the response was generated.
    pub timestamp: DateTime,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> Envelope<T> {
    /// A 1000 envelope with data.
    pub fn success(data: T) -> Self {
        Self {
            data: Some(data),
            status_code: StatusCode::Success,
            status_message: None,
            timestamp: DateTime::now(),
        }
    }

    /// An envelope without data.
    pub fn status(status_code: StatusCode, message: impl Into<String>) -> Self {
        Self {
            data: None,
            status_code,
            status_message: Some(message.into()),
            timestamp: DateTime::now(),
        }
    }
}

impl Envelope<serde_json::Value> {
    /// A 1000 envelope without data (T-20).
    pub fn ok() -> Self {
        Self {
            data: None,
            status_code: StatusCode::Success,
            status_message: None,
            timestamp: DateTime::now(),
        }
    }

    /// Decodes `data` into `T`. `null` and absent both give `None`.
    pub fn into_data<T: DeserializeOwned>(self) -> Result<Option<T>, serde_json::Error> {
        match self.data {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip() {
        for code in [
            1000u16, 1901, 2000, 2001, 2002, 2003, 2004, 2950, 3000, 3001, 3002, 3003, 4000, 4001, 4002, 4003,
        ] {
            assert_eq!(StatusCode::from_code(code).code(), code);
        }
        assert!(StatusCode::from_code(1901).is_success());
        assert!(StatusCode::from_code(1901).is_custom());
        assert!(!StatusCode::UnknownToken.is_custom());
        assert!(!StatusCode::UnknownToken.is_success());
    }

    #[test]
    fn t20_data_left_out_and_accepted_in_any_shape() {
        let e = Envelope::ok();
        let json = serde_json::to_value(&e).unwrap();
        assert!(json.get("data").is_none());
        assert!(json.get("timestamp").is_some());
        for body in [
            r#"{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"data":null,"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"data":"debug","status_code":2001,"timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"data":{"x":1},"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}"#,
        ] {
            let e: Envelope<serde_json::Value> = serde_json::from_str(body).unwrap();
            assert!(e.timestamp.timestamp_millis() > 0);
        }
    }
}
