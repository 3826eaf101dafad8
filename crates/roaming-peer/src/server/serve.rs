//! Serving a router on a bound listener, over TLS (rustls) or plain HTTP, with graceful shutdown:
//! when `shutdown` resolves, the listener closes, connections finish their requests, and after
//! `drain` whatever is left is dropped.
//!
//! What a client may hold (#12 item 16, [`Limits`]):
//! - at most `max_connections` connections per face: when all are in use the face stops accepting
//!   (new connections wait in the kernel's listen backlog) until one closes, so a flood of
//!   connections can neither exhaust the process's file descriptors nor make the accept loop spin;
//! - `tls_handshake_timeout` for the TLS handshake;
//! - `header_read_timeout` from the connection's start until its first request's headers are read
//!   (whatever the protocol, also for a client that sends nothing), then, on HTTP/1, for the headers
//!   of every later request, which also closes kept-alive connections idle that long;
//! - `max_header_bytes` of request head (HTTP/1: request line and headers; HTTP/2: the header list):
//!   more is answered 431 before anything of the request is read by us.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::Config;

/// The least `max_header_bytes` (hyper's smallest read buffer).
pub const MIN_HEADER_BYTES: usize = 8192;

/// What one face allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest time a client may take to send a request's headers (and, before its first request, to
    /// start at all; on HTTP/1 also the idle time of a kept-alive connection).
    pub header_read_timeout: Duration,
    /// Longest time a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Largest request head in bytes.
    pub max_header_bytes: usize,
}

impl Limits {
    /// The limits the configuration sets (the same for both faces).
    pub fn from_config(c: &Config) -> Self {
        Self {
            header_read_timeout: c.header_read_timeout,
            tls_handshake_timeout: c.tls_handshake_timeout,
            max_connections: c.max_connections.max(1),
            max_header_bytes: c.max_header_bytes.max(MIN_HEADER_BYTES),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_header_bytes: 32 * 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
    limits: Limits,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // A peer that vanished without closing is found by pings, not kept forever.
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut accept_failures: u32 = 0;
    tokio::pin!(shutdown);
    loop {
        // A free slot first: with every slot taken, connections wait in the listen backlog.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    accept_failures = 0;
                    a
                }
                Err(e) => {
                    // Out of file descriptors and similar: back off (up to 1 s) instead of spinning.
                    accept_failures = accept_failures.saturating_add(1);
                    let wait = Duration::from_millis(10u64 << accept_failures.min(7)).min(Duration::from_secs(1));
                    crate::throttled!(warn, "accept failed", error = %e, retry_in_ms = wait.as_millis() as u64, "accept failed");
                    drop(permit);
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let _slot = permit;
            match acceptor {
                Some(acceptor) => {
                    let tls =
                        match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(remote = %remote, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(remote = %remote, "TLS handshake timed out");
                                return;
                            }
                        };
                    serve_connection(
                        TokioIo::new(tls),
                        &builder,
                        app,
                        watcher,
                        limits.header_read_timeout,
                        remote,
                    )
                    .await;
                }
                None => {
                    serve_connection(
                        TokioIo::new(stream),
                        &builder,
                        app,
                        watcher,
                        limits.header_read_timeout,
                        remote,
                    )
                    .await;
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            drain_secs = drain.as_secs(),
            "connections still open after the drain period; closing them"
        );
    }
}

/// Serves one connection; closes it when its first request has not arrived within `first_request`
/// (hyper's header read timeout covers HTTP/1 requests after that).
async fn serve_connection<I>(
    io: TokioIo<I>,
    builder: &Builder<TokioExecutor>,
    app: Router,
    watcher: hyper_util::server::graceful::Watcher,
    first_request: Duration,
    remote: std::net::SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let started = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&started);
    let service = TowerToHyperService::new(
        tower::ServiceBuilder::new()
            .map_request(move |req: Request<hyper::body::Incoming>| {
                seen.store(true, Ordering::Relaxed);
                req
            })
            .service(app),
    );
    let conn = builder.serve_connection_with_upgrades(io, service).into_owned();
    let served = async {
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!(remote = %remote, error = %e, "connection ended with an error");
        }
    };
    tokio::pin!(served);
    tokio::select! {
        () = &mut served => return,
        () = tokio::time::sleep(first_request) => {}
    }
    if started.load(Ordering::Relaxed) {
        served.await;
    } else {
        tracing::debug!(remote = %remote, "no request within the header read timeout; connection closed");
    }
}
