//! ChargingProfiles module, **Sender** interface (eMSP), checklist §12.1: the CSO POSTs the result of
//! a SET/GET/CLEAR to the request's `response_url` (`{chargingprofiles}/results/{id}`), and PUTs a new
//! ActiveChargingProfile to `{chargingprofiles}/{session_id}` when its effective plan changes (UC3-10,
//! CP-04). Both are answered without data after the write is durable. A result for a request sent to
//! another CSO, or an unknown one, is 404 + 2001.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{post, put};
use http::StatusCode;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, PeerCaller};
use roaming_peer::server::reply::ok;
use roaming_types::modules::charging_profiles::{ActiveChargingProfile, ActiveChargingProfileResult};
use roaming_types::modules::types::Role;

use crate::state::CspState;

/// Path of the module.
pub use crate::profiles::PATH;

/// The routes.
pub fn router(state: CspState) -> Router {
    Router::new()
        .route(&format!("{PATH}/results/{{id}}"), post(post_result))
        .route(&format!("{PATH}/{{session_id}}"), put(put_active))
        .with_state(state)
}

async fn post_result(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath(id): OcpiPath<String>,
    // The three results share this shape (`result`, and `profile` after a GET), so each is decoded
    // and bounded like any OCPI object (#12 item 13).
    OcpiJson(result): OcpiJson<ActiveChargingProfileResult>,
) -> Result<Response, OcpiError> {
    st.plans.result(&caller.peer.id, &id, result).await?;
    Ok(ok(StatusCode::OK, None))
}

async fn put_active(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath(session): OcpiPath<String>,
    OcpiJson(profile): OcpiJson<ActiveChargingProfile>,
) -> Result<Response, OcpiError> {
    let Some(cpo) = caller.parties(&Role::Cpo).into_iter().next() else {
        return Err(OcpiError::InvalidParameters(
            "you call for no CSO party of yours".to_owned(),
        ));
    };
    st.plans.pushed(&cpo, &session, profile).await?;
    Ok(ok(StatusCode::OK, None))
}
