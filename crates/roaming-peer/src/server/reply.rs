//! Answers of the OCPI face that are not errors, shared by every module of both roles: an object in
//! `data`, or an envelope without `data` for a Receiver write (T-20), with 201 for a created object
//! and a status message for an ignored stale update (T-80); and `data` under a non-success status
//! (a REJECTED CommandResponse with 2003, CMD-02). Errors are [`OcpiError`]s.

use axum::response::{IntoResponse, Response};
use http::StatusCode as Http;
use roaming_types::{Envelope, StatusCode};

use crate::error::OcpiError;
use crate::store::Write;

/// 1000 with `data` = `v`.
pub fn data<T: serde::Serialize>(v: &T) -> Result<Response, OcpiError> {
    data_with_status(StatusCode::Success, v)
}

/// `data` = `v` under `status`, HTTP 200: the answer of a request that did not succeed but still
/// carries its object (CMD-02: an unknown location is 2003 with a REJECTED CommandResponse). A
/// non-success status gets the code's meaning as its message ([`meaning`]); 1000 is [`data`].
pub fn data_with_status<T: serde::Serialize>(status: StatusCode, v: &T) -> Result<Response, OcpiError> {
    let v = serde_json::to_value(v).map_err(|e| OcpiError::Internal(e.to_string()))?;
    let mut e = Envelope::success(v);
    e.status_code = status;
    if !status.is_success() {
        e.status_message = meaning(status).map(str::to_owned);
    }
    Ok(axum::Json(e).into_response())
}

/// What an OCPI status code means (§3.5), as a status message; `None` for success and for codes
/// outside the standard list.
pub fn meaning(status: StatusCode) -> Option<&'static str> {
    Some(match status {
        StatusCode::Success | StatusCode::Other(_) => return None,
        StatusCode::ClientError => "client error",
        StatusCode::InvalidOrMissingParameters => "invalid or missing parameters",
        StatusCode::NotEnoughInformation => "not enough information",
        StatusCode::UnknownLocation => "unknown location",
        StatusCode::UnknownToken => "unknown token",
        StatusCode::ServerError => "server error",
        StatusCode::UnableToUseClientApi => "unable to use the client's API",
        StatusCode::UnsupportedVersion => "unsupported version",
        StatusCode::NoMatchingEndpoints => "no matching endpoints",
        StatusCode::HubError => "hub error",
        StatusCode::UnknownReceiver => "unknown receiver",
        StatusCode::HubTimeout => "timeout on a forwarded request",
        StatusCode::ReceiverNotConnected => "receiver not connected",
    })
}

/// 1000 without `data`, with an optional status message.
pub fn ok(status: Http, message: Option<&str>) -> Response {
    let mut e = Envelope::<serde_json::Value>::ok();
    e.status_message = message.map(str::to_owned);
    (status, axum::Json(e)).into_response()
}

/// The answer to a Receiver PUT/PATCH: 201 when created, 200 otherwise; a stale update is
/// acknowledged with a message saying it was ignored.
pub fn written(w: Write) -> Response {
    written_as(w, "object")
}

/// [`written`], the message naming what was not replaced (`older than the stored tariff; ignored`).
pub fn written_as(w: Write, what: &str) -> Response {
    match w {
        Write::Created => ok(Http::CREATED, None),
        Write::Updated | Write::Unchanged => ok(Http::OK, None),
        Write::Stale => ok(Http::OK, Some(&format!("older than the stored {what}; ignored"))),
    }
}
