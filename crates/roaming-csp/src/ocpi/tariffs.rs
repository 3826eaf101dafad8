//! Tariffs module, **Receiver** interface (eMSP), checklist §9.1: `GET/PUT/DELETE
//! {tariffs}/{country_code}/{party_id}/{tariff_id}` (UC2-1). Ownership and id checks as for locations
//! (T-90…T-93, in the extractors); DELETE of an unknown tariff is 404 + 2001.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{Owned, OwnedPut};
use roaming_peer::server::reply::{data, ok, written_as};
use roaming_types::modules::tariffs::Tariff;

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

async fn get_tariff(State(st): State<CspState>, o: Owned<Tariff>) -> Result<Response, OcpiError> {
    data(&st.sites.received_tariff(&o.owner, &o.key)?)
}

async fn put_tariff(State(st): State<CspState>, put: OwnedPut<Tariff>) -> Result<Response, OcpiError> {
    let w = st.sites.receive_tariff(&put.body).await?;
    if w.changed() {
        st.announce_tariff(&put.owner, put.body.id.as_str(), false);
    }
    Ok(written_as(w, "tariff"))
}

async fn delete_tariff(State(st): State<CspState>, o: Owned<Tariff>) -> Result<Response, OcpiError> {
    st.sites.remove_tariff(&o.owner, &o.key).await?;
    st.announce_tariff(&o.owner, &o.key, true);
    Ok(ok(StatusCode::OK, None))
}
