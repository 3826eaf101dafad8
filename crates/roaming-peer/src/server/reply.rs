//! Success answers of the OCPI face, shared by every module of both roles: an object in `data`,
//! or an envelope without `data` for a Receiver write (T-20), with 201 for a created object and a
//! status message for an ignored stale update (T-80).

use axum::response::{IntoResponse, Response};
use http::StatusCode as Http;
use roaming_types::Envelope;

use crate::error::OcpiError;
use crate::store::Write;

/// 1000 with `data` = `v`.
pub fn data<T: serde::Serialize>(v: &T) -> Result<Response, OcpiError> {
    let v = serde_json::to_value(v).map_err(|e| OcpiError::Internal(e.to_string()))?;
    Ok(axum::Json(Envelope::success(v)).into_response())
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
    match w {
        Write::Created => ok(Http::CREATED, None),
        Write::Updated | Write::Unchanged => ok(Http::OK, None),
        Write::Stale => ok(Http::OK, Some("older than the stored object; ignored")),
    }
}
