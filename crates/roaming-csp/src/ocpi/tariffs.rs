//! Tariffs module, **Receiver** interface (eMSP), checklist §9.1: `GET/PUT/DELETE
//! {tariffs}/{country_code}/{party_id}/{tariff_id}` (UC2-1). Ownership and id checks as for locations
//! (T-90…T-93); DELETE of an unknown tariff is 404 + 2001.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, PeerCaller};
use roaming_types::Envelope;
use roaming_types::ids::PartyRef;
use roaming_types::modules::tariffs::Tariff;
use roaming_types::modules::types::Role;

use crate::events::CspEvent;
use crate::sites::Write;
use crate::state::CspState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/tariffs";

/// The routes.
pub fn router(state: CspState) -> Router {
    Router::new()
        .route(
            &format!("{PATH}/{{cc}}/{{pid}}/{{tariff_id}}"),
            get(get_tariff).put(put_tariff).delete(delete_tariff),
        )
        .with_state(state)
}

fn owner(caller: &PeerCaller, cc: &str, pid: &str) -> Result<PartyRef, OcpiError> {
    caller.owner_in_url(cc, pid, &Role::Cpo)
}

async fn get_tariff(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id)): OcpiPath<(String, String, String)>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let t = st
        .sites
        .tariff(&owner, &id)?
        .ok_or_else(|| OcpiError::unknown_object(format!("unknown tariff {id}")))?;
    let v = serde_json::to_value(&t).map_err(|e| OcpiError::Internal(e.to_string()))?;
    Ok(axum::Json(Envelope::success(v)).into_response())
}

async fn put_tariff(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id)): OcpiPath<(String, String, String)>,
    OcpiJson(t): OcpiJson<Tariff>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    if t.party() != owner || !t.id.as_str().eq_ignore_ascii_case(&id) {
        return Err(OcpiError::InvalidParameters(format!(
            "the URL names {owner}/{id} but the body is {}/{} (T-93)",
            t.party(),
            t.id
        )));
    }
    let w = st.sites.upsert_tariff(&t)?;
    st.core.store.durable().await?;
    let mut e = Envelope::<serde_json::Value>::ok();
    let status = match w {
        Write::Created => http::StatusCode::CREATED,
        Write::Updated | Write::Unchanged => http::StatusCode::OK,
        Write::Stale => {
            e.status_message = Some("older than the stored tariff; ignored".to_owned());
            http::StatusCode::OK
        }
    };
    if w.changed() {
        st.events.send(CspEvent::Tariff {
            owner: owner.to_string(),
            tariff: t.id.as_str().to_owned(),
            deleted: false,
        });
    }
    Ok((status, axum::Json(e)).into_response())
}

async fn delete_tariff(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id)): OcpiPath<(String, String, String)>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    if !st.sites.delete_tariff(&owner, &id)? {
        return Err(OcpiError::unknown_object(format!("unknown tariff {id}")));
    }
    st.core.store.durable().await?;
    st.events.send(CspEvent::Tariff {
        owner: owner.to_string(),
        tariff: id,
        deleted: true,
    });
    Ok(axum::Json(Envelope::<serde_json::Value>::ok()).into_response())
}
