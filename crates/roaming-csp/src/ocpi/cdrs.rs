//! CDRs module, **Receiver** interface (eMSP), checklist §8.1: `POST {cdrs}` with a full, final CDR →
//! 201 and a `Location` header with the URL of the stored CDR; `GET` at that URL
//! (`{cdrs}/{country_code}/{party_id}/{cdr_id}`). PUT, PATCH and DELETE do not exist (CDR-02).
//!
//! The caller may only post and read its own CDRs (T-90, T-95: 404 + 2001 otherwise; checked by the
//! extractors). A duplicate POST with the same content answers 200 with the same `Location`;
//! different content is 2001 (CDR-09, [`crate::cdrs`]).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use http::header::LOCATION;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{Owned, Posted};
use roaming_peer::server::reply::{data, ok};
use roaming_types::modules::cdrs::Cdr;

use crate::cdrs::Received;
use crate::state::CspState;

/// Path of the module.
pub use crate::cdrs::PATH;

/// The routes.
pub fn router(state: CspState) -> Router {
    Router::new()
        .route(PATH, post(post_cdr))
        .route(&format!("{PATH}/{{cc}}/{{pid}}/{{cdr_id}}"), get(get_cdr))
        .with_state(state)
}

async fn post_cdr(
    State(st): State<CspState>,
    Posted { body: cdr, .. }: Posted<Cdr>,
) -> Result<Response, OcpiError> {
    let received = st.cdrs.post(&cdr).await?;
    let location = st.cdrs.url_of(&cdr.party(), cdr.id.as_str());
    let status = match received {
        Received::Created => {
            st.cdr_received(&cdr);
            StatusCode::CREATED
        }
        Received::Duplicate => StatusCode::OK,
    };
    Ok(([(LOCATION, location)], ok(status, None)).into_response())
}

async fn get_cdr(State(st): State<CspState>, o: Owned<Cdr>) -> Result<Response, OcpiError> {
    data(&st.cdrs.received(&o.owner, &o.key)?)
}
