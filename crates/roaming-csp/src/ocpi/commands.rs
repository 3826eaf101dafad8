//! Commands module, **Sender** interface (eMSP), checklist §11.1: the CSO POSTs the CommandResult of
//! an ACCEPTED command to the `response_url` we gave, `{commands}/{command}/{id}` (CMD-01).
//!
//! Only the CSO the command was sent to may post its result; for anyone else, an unknown id or a
//! command type that does not match, the answer is 404 + 2001. The result is durable before the
//! answer.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use http::StatusCode;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, PeerCaller};
use roaming_peer::server::reply::ok;
use roaming_types::modules::commands::CommandResult;

use crate::state::CspState;

/// Path of the module.
pub use crate::commands::PATH;

/// The routes.
pub fn router(state: CspState) -> Router {
    Router::new()
        .route(&format!("{PATH}/{{command}}/{{id}}"), post(post_result))
        .with_state(state)
}

async fn post_result(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((command, id)): OcpiPath<(String, String)>,
    OcpiJson(result): OcpiJson<CommandResult>,
) -> Result<Response, OcpiError> {
    st.commands.result(&caller.peer.id, &command, &id, result).await?;
    Ok(ok(StatusCode::OK, None))
}
