//! # roaming-peer
//!
//! What both roaming endpoints share: the OCPI server plumbing (authentication, envelope, request and
//! correlation ids, routing headers, pagination, limits, one error → OCPI status mapping), the OCPI
//! client, registration and credentials (token A/B/C, rotation, unregister), the sled store, config,
//! TLS, and the operator API, CLI and telemetry that both binaries expose.
//!
//! Entry points: [`core::Core`] (what everything shares) and [`endpoint::run`] (serves both faces;
//! library first, thin binaries: style §1).

pub mod cli;
pub mod client;
pub mod config;
pub mod core;
pub mod datadir;
pub mod deadlines;
pub mod deviations;
pub mod endpoint;
pub mod error;
pub mod headers;
pub mod operator;
pub mod outbox;
pub mod registration;
pub mod secret;
pub mod server;
pub mod stamps;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod tls;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
