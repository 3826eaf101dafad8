//! Tokens module, **Receiver** interface (CPO), checklist §10.1, §3.11: `GET/PUT/PATCH
//! {tokens}/{country_code}/{party_id}/{token_uid}[?type=]`.
//!
//! Rules: `type` defaults to RFID (§10.1, TOK-11); the caller may only address its own tokens (T-90,
//! 404 + 2001 otherwise) and URL and body must name the same token (T-93, 2001): both checked by the
//! extractors. A PATCH needs `last_updated` (T-81) and is 404 + 2001 for an unknown token (T-94); an
//! update older than the stored token is acknowledged and ignored (T-80) ([`crate::tokens`]); the
//! answer comes after the write is durable. POST and DELETE do not exist: tokens are invalidated,
//! never deleted.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{Owned, OwnedBody, OwnedPut};
use roaming_peer::server::reply::{data, written};
use roaming_types::modules::tokens::{Token, TokenPatch};

use crate::state::CsoState;
use crate::tokens::Tokens;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/tokens";

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new()
        .route(
            &format!("{PATH}/{{cc}}/{{pid}}/{{uid}}"),
            get(get_token).put(put_token).patch(patch_token),
        )
        .with_state(state)
}

async fn get_token(State(st): State<CsoState>, o: Owned<Token>) -> Result<Response, OcpiError> {
    let (owner, (uid, t)) = (&o.owner, &o.key);
    data(
        &Tokens::get(&st.core.store, owner, uid, t)?
            .ok_or_else(|| OcpiError::unknown_object(format!("unknown token {owner}/{uid} of type {t}")))?,
    )
}

async fn put_token(State(st): State<CsoState>, put: OwnedPut<Token>) -> Result<Response, OcpiError> {
    let w = st.tokens.put(&put.body)?;
    st.core.store.durable().await?;
    Ok(written(w))
}

async fn patch_token(
    State(st): State<CsoState>,
    p: OwnedBody<Token, TokenPatch>,
) -> Result<Response, OcpiError> {
    let (uid, t) = &p.key;
    let w = st.tokens.patch(&p.owner, uid, t, p.body)?;
    st.core.store.durable().await?;
    Ok(written(w))
}
