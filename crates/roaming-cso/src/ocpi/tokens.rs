//! Tokens module, **Receiver** interface (CPO), checklist §10.1, §3.11: `GET/PUT/PATCH
//! {tokens}/{country_code}/{party_id}/{token_uid}[?type=]`.
//!
//! Rules: `type` defaults to RFID (§10.1, TOK-11); the caller may only address its own tokens (T-90,
//! 404 + 2001 otherwise); URL and body must name the same token (T-93, 2001); a PATCH needs
//! `last_updated` (T-81) and is 404 + 2001 for an unknown token (T-94); an update older than the stored
//! token is acknowledged and ignored (T-80); the answer comes after the write is durable. POST and
//! DELETE do not exist: tokens are invalidated, never deleted.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, OcpiQuery, PeerCaller};
use roaming_peer::server::reply::{data, written};
use roaming_types::ids::PartyRef;
use roaming_types::modules::tokens::{Token, TokenPatch, TokenType};
use roaming_types::modules::types::Role;
use serde::Deserialize;

use crate::state::CsoState;

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

/// `?type=`: RFID when absent (§10.1).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TypeQuery {
    /// The token type.
    #[serde(rename = "type")]
    pub token_type: Option<TokenType>,
}

impl TypeQuery {
    /// The type, RFID by default.
    pub fn get(&self) -> TokenType {
        self.token_type.clone().unwrap_or(TokenType::Rfid)
    }
}

fn invalid(e: impl std::fmt::Display) -> OcpiError {
    OcpiError::InvalidParameters(e.to_string())
}

fn owner(caller: &PeerCaller, cc: &str, pid: &str) -> Result<PartyRef, OcpiError> {
    caller.owner_in_url(cc, pid, &Role::Emsp)
}

async fn get_token(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, uid)): OcpiPath<(String, String, String)>,
    OcpiQuery(q): OcpiQuery<TypeQuery>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let t = q.get();
    data(
        &st.tokens
            .get(&owner, &uid, &t)?
            .ok_or_else(|| OcpiError::unknown_object(format!("unknown token {owner}/{uid} of type {t}")))?,
    )
}

async fn put_token(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, uid)): OcpiPath<(String, String, String)>,
    OcpiQuery(q): OcpiQuery<TypeQuery>,
    OcpiJson(token): OcpiJson<Token>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let t = q.get();
    if token.party() != owner || !token.uid.as_str().eq_ignore_ascii_case(&uid) || token.token_type != t {
        return Err(invalid(format!(
            "the URL names {owner}/{uid} of type {t} but the body is {}/{} of type {} (T-93)",
            token.party(),
            token.uid,
            token.token_type
        )));
    }
    let w = st.tokens.put(&token)?;
    st.core.store.durable().await?;
    Ok(written(w))
}

async fn patch_token(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, uid)): OcpiPath<(String, String, String)>,
    OcpiQuery(q): OcpiQuery<TypeQuery>,
    OcpiJson(patch): OcpiJson<TokenPatch>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let w = st.tokens.patch(&owner, &uid, &q.get(), patch)?;
    st.core.store.durable().await?;
    Ok(written(w))
}
