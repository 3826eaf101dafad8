//! CDRs module, **Sender** interface (CPO), checklist §8.1: `GET {cdrs}` (paginated, T-60…T-62),
//! serving each CSP only its own CDRs. `date_from` is required by the spec, but a request without it
//! is served from the epoch (E-14). CDRs are delivered by POST to the CSP (`crate::cdrs::issue`); the
//! Sender lets a CSP pull what a push missed (UC3-9).

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiQuery, PeerCaller};
use roaming_peer::server::paginate::{PageParams, caller_page};
use roaming_types::modules::types::Role;

use crate::cdrs::CDRS;
use crate::state::CsoState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/cdrs";
/// Largest page.
pub const MAX_LIMIT: usize = 500;

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new().route(PATH, get(get_cdrs)).with_state(state)
}

async fn get_cdrs(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiQuery(params): OcpiQuery<PageParams>,
    uri: OriginalUri,
) -> Result<Response, OcpiError> {
    caller_page(
        &st.core,
        &CDRS,
        &caller,
        &Role::Emsp,
        &params,
        &st.core.url_of(uri.path()),
        MAX_LIMIT,
    )
}
