//! Extension module `x-roaming-cdr-checks`, **Receiver** interface (CPO; `docs/extensions.md`): the
//! CSP's verdict on a CDR we sent — `PUT {x-roaming-cdr-checks}/{cdr_id}` with a [`CdrVerdict`]
//! (`{cdr_id, verdict: ACCEPTED|DISPUTED, reasons: [..], repriced_total?, checked_at?, …}`), kept by
//! [`crate::cdr_checks`]. The wire types are the vocabulary's
//! (`roaming_types::extensions::cdr_checks`).
//!
//! Only the CSP the CDR belongs to may give a verdict on it (404 + 2001 otherwise, also for an unknown
//! CDR); a later verdict replaces an earlier one. Durable before the answer.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::put;
use http::StatusCode;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, PeerCaller};
use roaming_peer::server::reply::ok;
use roaming_types::extensions::cdr_checks::CdrVerdict;
pub use roaming_types::extensions::cdr_checks::MODULE;
use roaming_types::modules::types::Role;

use crate::cdr_checks::{CdrChecks, Giver};
use crate::state::CsoState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/x-roaming-cdr-checks";

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new()
        .route(&format!("{PATH}/{{cdr_id}}"), put(put_check))
        .with_state(state)
}

async fn put_check(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath(cdr_id): OcpiPath<String>,
    OcpiJson(verdict): OcpiJson<CdrVerdict>,
) -> Result<Response, OcpiError> {
    let giver = Giver {
        peer_id: &caller.peer.id,
        emsps: &caller.parties(&Role::Emsp),
    };
    CdrChecks::new(st.core.store.clone())
        .receive(&st.cdrs, giver, &cdr_id, verdict)
        .await?;
    Ok(ok(StatusCode::OK, None))
}
