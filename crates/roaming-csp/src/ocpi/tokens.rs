//! Tokens module, **Sender** interface (eMSP), checklist §10.1, §10.2: `GET {tokens}` (paginated,
//! T-60…T-62) and the real-time authorization `POST {tokens}/{uid}/authorize[?type=]` (UC3-1).
//!
//! Authorization: `type` defaults to RFID (TOK-11); the body is an optional LocationReferences. An
//! unknown token is HTTP 404 + 2004 without data (TOK-02); a known token that may not charge is 200 +
//! 1000 with `allowed` BLOCKED / EXPIRED / NO_CREDIT / NOT_ALLOWED (TOK-08); a token limited to some
//! locations asked about without LocationReferences is 2002 (TOK-03).

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::{get, post};
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiBody, OcpiPath, OcpiQuery, PeerCaller, TokenTypeQuery};
use roaming_peer::server::paginate::{PageParams, page_response};
use roaming_peer::server::reply::data;
use roaming_types::decode::decode_slice;
use roaming_types::modules::tokens::LocationReferences;
use roaming_types::modules::types::Role;

use crate::state::CspState;
use crate::tokens::{ALL, TOKENS};

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/tokens";
/// Largest page.
pub const MAX_LIMIT: usize = 1000;

/// The routes.
pub fn router(state: CspState) -> Router {
    Router::new()
        .route(PATH, get(list_tokens))
        .route(&format!("{PATH}/{{uid}}/authorize"), post(authorize))
        .with_state(state)
}

async fn list_tokens(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiQuery(params): OcpiQuery<PageParams>,
    uri: OriginalUri,
) -> Result<Response, OcpiError> {
    let q = params.query(MAX_LIMIT, caller.peer.compat.lenient_datetime)?;
    let page = TOKENS.page(&st.core.store, ALL, &q)?;
    Ok(page_response(
        &st.core.url_of(uri.path()),
        &params,
        &q,
        page,
        MAX_LIMIT,
    ))
}

async fn authorize(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath(uid): OcpiPath<String>,
    OcpiQuery(q): OcpiQuery<TokenTypeQuery>,
    OcpiBody(body): OcpiBody,
) -> Result<Response, OcpiError> {
    let token_type = q.get();
    let location = if body.iter().all(u8::is_ascii_whitespace) || body.as_ref() == b"null" {
        None
    } else {
        Some(decode_slice::<LocationReferences>(&body, caller.decode_options())?.value)
    };
    let cpo = caller.parties(&Role::Cpo).into_iter().next();
    match st.tokens.authorize(cpo.as_ref(), &token_type, &uid, location)? {
        Some(info) => data(&info),
        None => Err(OcpiError::unknown_token(format!(
            "unknown {token_type} token {uid}"
        ))),
    }
}
