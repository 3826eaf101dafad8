//! Paginated Sender GETs (checklist §3.8, T-60…T-62): query parsing and the answer with
//! `X-Total-Count`, `X-Limit` and `Link: <…>; rel="next"` (the link repeats the filters and carries
//! an opaque cursor so that following it costs the same whatever the offset).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use roaming_types::DateTime;
use serde::Deserialize;

use crate::error::OcpiError;
use crate::headers;
use crate::store::collection::{PageQuery, PageResult};

/// The query parameters of a list GET, as received.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageParams {
    /// `date_from` (inclusive).
    pub date_from: Option<String>,
    /// `date_to` (exclusive).
    pub date_to: Option<String>,
    /// `offset`.
    pub offset: Option<String>,
    /// `limit`.
    pub limit: Option<String>,
    /// Our opaque cursor (hex), set in our own `Link`s.
    pub cursor: Option<String>,
}

fn date(name: &str, v: &Option<String>, lenient: bool) -> Result<Option<DateTime>, OcpiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            DateTime::parse(s, lenient)
                .map(|(t, _)| t)
                .map_err(|e| OcpiError::InvalidParameters(format!("{name}: {e}")))
        })
        .transpose()
}

fn number(name: &str, v: &Option<String>) -> Result<Option<u64>, OcpiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| OcpiError::InvalidParameters(format!("{name}: {s:?} is not a whole number")))
        })
        .transpose()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl PageParams {
    /// Validates the parameters; `limit` is capped at `max_limit` (T-61: the server may return fewer).
    pub fn query(&self, max_limit: usize, lenient_datetime: bool) -> Result<PageQuery, OcpiError> {
        let date_from = date("date_from", &self.date_from, lenient_datetime)?;
        let date_to = date("date_to", &self.date_to, lenient_datetime)?;
        let limit = number("limit", &self.limit)?.map_or(max_limit, |l| {
            usize::try_from(l).unwrap_or(max_limit).min(max_limit)
        });
        if limit == 0 {
            return Err(OcpiError::InvalidParameters(
                "limit must be at least 1".to_owned(),
            ));
        }
        Ok(PageQuery {
            date_from,
            date_to,
            offset: number("offset", &self.offset)?.unwrap_or(0),
            limit,
            // An unusable cursor is ignored: the offset still tells where to start.
            cursor: self.cursor.as_deref().and_then(unhex),
        })
    }
}

/// Builds the answer of a page: the envelope around the stored JSON bytes and the paging headers.
/// `url` is the public URL of the endpoint (without query).
pub fn page_response(
    url: &str,
    params: &PageParams,
    q: &PageQuery,
    page: PageResult,
    max_limit: usize,
) -> Response {
    let mut body = Vec::with_capacity(page.items.iter().map(Vec::len).sum::<usize>() + page.items.len() + 96);
    body.extend_from_slice(b"{\"data\":[");
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"],\"status_code\":1000,\"timestamp\":\"");
    body.extend_from_slice(DateTime::now().to_string().as_bytes());
    body.extend_from_slice(b"\"}");
    let mut response = (
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&page.total.to_string()) {
        h.insert(headers::X_TOTAL_COUNT, v);
    }
    if let Ok(v) = HeaderValue::from_str(&max_limit.to_string()) {
        h.insert(headers::X_LIMIT, v);
    }
    if let Some(cursor) = page.next_cursor {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        if let Some(v) = params.date_from.as_deref().filter(|s| !s.is_empty()) {
            next.append_pair("date_from", v);
        }
        if let Some(v) = params.date_to.as_deref().filter(|s| !s.is_empty()) {
            next.append_pair("date_to", v);
        }
        next.append_pair("offset", &(q.offset + q.limit as u64).to_string());
        next.append_pair("limit", &q.limit.to_string());
        next.append_pair("cursor", &hex(&cursor));
        if let Some(v) = crate::client::link_header(&format!("{url}?{}", next.finish())) {
            h.insert(http::header::LINK, v);
        }
    }
    response
}

/// A page of the objects only the caller's party may pull (sessions, CDRs): the partition of the
/// routed party, or the caller's first party in `role` (T-53). `url` is the public URL of the endpoint.
pub fn caller_page<T>(
    core: &crate::core::Core,
    collection: &crate::store::collection::Collection<T>,
    caller: &crate::server::extract::PeerCaller,
    role: &roaming_types::modules::types::Role,
    params: &PageParams,
    url: &str,
    max_limit: usize,
) -> Result<Response, OcpiError> {
    let q = params.query(max_limit, caller.peer.compat.lenient_datetime)?;
    let Some(party) = caller.parties(role).into_iter().next() else {
        return Err(OcpiError::InvalidParameters(format!(
            "you call for no {role} party of yours"
        )));
    };
    let page = collection.page(&core.store, &party.to_key(), &q)?;
    Ok(page_response(url, params, &q, page, max_limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_capped_and_values_checked() {
        let p = PageParams {
            limit: Some("1000".into()),
            ..Default::default()
        };
        assert_eq!(p.query(100, false).unwrap().limit, 100);
        let p = PageParams {
            limit: Some("0".into()),
            ..Default::default()
        };
        assert!(p.query(100, false).is_err());
        let p = PageParams {
            offset: Some("-1".into()),
            ..Default::default()
        };
        assert!(p.query(100, false).is_err());
        let p = PageParams {
            date_from: Some("yesterday".into()),
            ..Default::default()
        };
        assert!(p.query(100, false).is_err());
        let p = PageParams {
            date_from: Some("2026-01-01T00:00:00".into()),
            cursor: Some("zz".into()),
            ..Default::default()
        };
        let q = p.query(100, false).unwrap();
        assert!(q.date_from.is_some());
        assert!(q.cursor.is_none());
    }

    #[test]
    fn cursor_hex_round_trips() {
        let bytes = vec![0u8, 1, 0xab, 0xff];
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
    }
}
