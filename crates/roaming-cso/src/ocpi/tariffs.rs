//! Tariffs module, **Sender** interface (CPO), checklist §9.1: `GET {tariffs}` (paginated,
//! T-60…T-62). There is no GET of one tariff on the Sender interface.

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiQuery, PeerCaller};
use roaming_peer::server::paginate::{PageParams, page_response};

use crate::sites::{PUBLIC, TARIFFS};
use crate::state::CsoState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/tariffs";
/// Largest page.
pub const MAX_LIMIT: usize = 500;

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new().route(PATH, get(get_tariffs)).with_state(state)
}

async fn get_tariffs(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiQuery(params): OcpiQuery<PageParams>,
    uri: OriginalUri,
) -> Result<Response, OcpiError> {
    let q = params.query(MAX_LIMIT, caller.peer.compat.lenient_datetime)?;
    let page = TARIFFS.page(&st.core.store, PUBLIC, &q)?;
    Ok(page_response(
        &st.core.url_of(uri.path()),
        &params,
        &q,
        page,
        MAX_LIMIT,
    ))
}
