//! Extension module `x-roaming-quotes` (UC2-2 price quote; `docs/extensions.md`), hosted by the CSO:
//! `POST {x-roaming-quotes}` with a [`QuoteRequest`] → a [`Quote`], computed by [`crate::quotes`].
//! The wire types are the vocabulary's (`roaming_types::extensions::quotes`).
//!
//! Errors: an unknown or unpublished location → 404 + 2003; an unknown EVSE or connector → 404 +
//! 2001; negative or impossible quantities → 2001.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, PeerCaller};
use roaming_peer::server::reply::data;
pub use roaming_types::extensions::quotes::MODULE;
use roaming_types::extensions::quotes::{Quote, QuoteRequest};

use crate::state::CsoState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/x-roaming-quotes";

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new().route(PATH, post(quote)).with_state(state)
}

async fn quote(
    State(st): State<CsoState>,
    _caller: PeerCaller,
    OcpiJson(req): OcpiJson<QuoteRequest>,
) -> Result<Response, OcpiError> {
    let quote: Quote = crate::quotes::compute(&st.sites, &st.sessions, &st.core.config.party, &req)?;
    data(&quote)
}
