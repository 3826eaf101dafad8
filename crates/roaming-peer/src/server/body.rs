//! Reading a request body within a limit, so that an over-limit body is still answered.
//!
//! axum's own limit stops reading at the limit and the connection is closed with the rest of the
//! body unread: the peer's TCP stack then resets the connection, and an HTTP client that is still
//! sending (hyper, reqwest — our own outbox among them) reports a broken connection instead of the
//! 413 answer, so the push is retried as if the peer were unreachable. Here the rest of an
//! over-limit body is read and dropped (up to [`drain_bound`]), and the answer is a 413 the client
//! receives. A body larger than that bound, or one whose `Content-Length` announces more, is not
//! read at all: reading it would cost more than the reset does.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// The body limit of a face, as a request extension (set by the face's router).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the limit (its rest was drained when it was not too large for that).
    TooLarge,
    /// The connection failed while reading.
    Read(String),
}

/// How much of an over-limit body is read and dropped: the limit again, at least 16 MiB.
pub fn drain_bound(limit: usize) -> usize {
    limit.saturating_add(limit.max(16 * 1024 * 1024))
}

/// Reads `body` when it is at most `limit` bytes.
pub async fn read_limited(headers: &http::HeaderMap, body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let announced = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let bound = drain_bound(limit);
    if announced.is_some_and(|n| n > u64::try_from(bound).unwrap_or(u64::MAX)) {
        return Err(BodyError::TooLarge);
    }
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    let mut read: usize = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        read = read.saturating_add(chunk.len());
        if read <= limit {
            buf.extend_from_slice(&chunk);
        } else if read > bound {
            break;
        } else {
            buf.clear();
        }
    }
    if read > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let b = read_limited(&http::HeaderMap::new(), Body::from(vec![b'x'; 10]), 10)
            .await
            .unwrap();
        assert_eq!(b.len(), 10);
    }

    #[tokio::test]
    async fn an_over_limit_body_is_drained_and_refused() {
        let r = read_limited(&http::HeaderMap::new(), Body::from(vec![b'x'; 11]), 10).await;
        assert!(matches!(r, Err(BodyError::TooLarge)));
    }

    #[tokio::test]
    async fn an_announced_length_beyond_the_drain_bound_is_refused_unread() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from(drain_bound(10) as u64 + 1),
        );
        let r = read_limited(&h, Body::from(vec![b'x'; 5]), 10).await;
        assert!(matches!(r, Err(BodyError::TooLarge)));
    }
}
