//! Locations module, **Receiver** interface (eMSP), checklist §6.1, §3.11: `GET/PUT/PATCH
//! {locations}/{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]`.
//!
//! The caller may only address objects of its own parties (404 + 2001 otherwise, T-90) and ids in
//! the URL must equal those in the body (2001, T-93): both checked by the extractors
//! ([`Owned`], [`OwnedBody`]). A `last_updated` more than the clock skew ahead of our clock is
//! refused by the body extractor (2001, `roaming_peer::stamps`, #12 item 12). The receiver rules
//! (T-80…T-82, T-94: unknown objects, stale updates, parent bumps) are in [`crate::sites`]; the answer
//! comes after the write is durable, then the change is announced on `/api/events`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{Owned, OwnedBody, OwnedPut};
use roaming_peer::server::reply::{data, written};
use roaming_types::modules::locations::{
    Connector, ConnectorPatch, Evse, EvsePatch, Location, LocationPatch,
};

use crate::state::CspState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/locations";

/// The routes.
pub fn router(state: CspState) -> Router {
    Router::new()
        .route(
            &format!("{PATH}/{{cc}}/{{pid}}/{{location_id}}"),
            get(get_location).put(put_location).patch(patch_location),
        )
        .route(
            &format!("{PATH}/{{cc}}/{{pid}}/{{location_id}}/{{evse_uid}}"),
            get(get_evse).put(put_evse).patch(patch_evse),
        )
        .route(
            &format!("{PATH}/{{cc}}/{{pid}}/{{location_id}}/{{evse_uid}}/{{connector_id}}"),
            get(get_connector).put(put_connector).patch(patch_connector),
        )
        .with_state(state)
}

async fn get_location(State(st): State<CspState>, o: Owned<Location>) -> Result<Response, OcpiError> {
    data(&st.sites.received_location(&o.owner, &o.key)?)
}

async fn get_evse(State(st): State<CspState>, o: Owned<Evse>) -> Result<Response, OcpiError> {
    data(&st.sites.received_evse(&o.owner, &o.key)?)
}

async fn get_connector(State(st): State<CspState>, o: Owned<Connector>) -> Result<Response, OcpiError> {
    data(&st.sites.received_connector(&o.owner, &o.key)?)
}

async fn put_location(State(st): State<CspState>, put: OwnedPut<Location>) -> Result<Response, OcpiError> {
    let r = st.sites.receive_location(put.body).await?;
    st.announce_received(&r);
    Ok(written(r.write))
}

async fn patch_location(
    State(st): State<CspState>,
    p: OwnedBody<Location, LocationPatch>,
) -> Result<Response, OcpiError> {
    let r = st.sites.patch_location(&p.owner, &p.key, p.body).await?;
    st.announce_received(&r);
    Ok(written(r.write))
}

async fn put_evse(State(st): State<CspState>, put: OwnedPut<Evse>) -> Result<Response, OcpiError> {
    let r = st.sites.put_evse(&put.owner, &put.key, put.body).await?;
    st.announce_received(&r);
    Ok(written(r.write))
}

async fn patch_evse(
    State(st): State<CspState>,
    p: OwnedBody<Evse, EvsePatch>,
) -> Result<Response, OcpiError> {
    let r = st.sites.patch_evse(&p.owner, &p.key, p.body).await?;
    st.announce_received(&r);
    Ok(written(r.write))
}

async fn put_connector(State(st): State<CspState>, put: OwnedPut<Connector>) -> Result<Response, OcpiError> {
    let r = st.sites.put_connector(&put.owner, &put.key, put.body).await?;
    st.announce_received(&r);
    Ok(written(r.write))
}

async fn patch_connector(
    State(st): State<CspState>,
    p: OwnedBody<Connector, ConnectorPatch>,
) -> Result<Response, OcpiError> {
    let r = st.sites.patch_connector(&p.owner, &p.key, p.body).await?;
    st.announce_received(&r);
    Ok(written(r.write))
}
