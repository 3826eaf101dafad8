//! Extension module `x-roaming-cdr-checks`, **Receiver** interface (CPO; `docs/extensions.md`): the
//! CSP's verdict on a CDR we sent — `PUT {x-roaming-cdr-checks}/{cdr_id}` with
//! `{cdr_id, verdict: ACCEPTED|DISPUTED, reasons: [..], repriced_total?, checked_at, …}`.
//!
//! Only the CSP the CDR belongs to may give a verdict on it (404 + 2001 otherwise, also for an unknown
//! CDR); a later verdict replaces an earlier one. Durable before the answer; shown in the operator API
//! (`GET /api/cdrs/{id}/check`).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::put;
use http::StatusCode;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, PeerCaller};
use roaming_peer::server::reply::ok;
use roaming_peer::store::Space;
use roaming_types::ids::CdrId;
use roaming_types::modules::types::Role;
use roaming_types::{DateTime, Price, Text};
use serde::{Deserialize, Serialize};

roaming_types::open_enum! {
    /// The verdict of a CDR check.
    pub enum Verdict("Verdict") {
        /// The CSP accepts the CDR.
        Accepted => "ACCEPTED",
        /// The CSP disputes it (with reasons).
        Disputed => "DISPUTED",
    }
}

use crate::state::CsoState;

/// The module id (prefixed: not an OCPI module).
pub const MODULE: &str = "x-roaming-cdr-checks";
/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/x-roaming-cdr-checks";
/// Verdicts by CDR id.
pub const CHECKS: Space = Space("cso_cdr_checks");

/// A CSP's verdict on one of our CDRs. Its fields have OCPI types, so that what a peer may put in
/// them is bounded like any OCPI input (#12 item 13): the CDR id a `CiString(39)`, the verdict an enum
/// value, each reason a `string(512)`, the price a `Price`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedCheck {
    /// The CDR.
    pub cdr_id: CdrId,
    /// `ACCEPTED` or `DISPUTED`.
    pub verdict: Verdict,
    /// Why disputed.
    #[serde(default)]
    pub reasons: Vec<Text<512>>,
    /// The CSP's own price of the CDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repriced_total: Option<Price>,
    /// When the CSP checked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime>,
    /// The peer that sent it.
    #[serde(default)]
    pub from_peer: String,
    /// When we received it.
    #[serde(default = "DateTime::now")]
    pub received_at: DateTime,
}

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
    OcpiJson(mut check): OcpiJson<ReceivedCheck>,
) -> Result<Response, OcpiError> {
    let unknown = || OcpiError::unknown_object(format!("unknown CDR {cdr_id}"));
    let cdr = st.cdrs.get(&cdr_id)?.ok_or_else(unknown)?;
    if !caller.parties(&Role::Emsp).contains(&cdr.emsp()) {
        return Err(unknown());
    }
    if !check.cdr_id.as_str().eq_ignore_ascii_case(&cdr_id) {
        return Err(OcpiError::InvalidParameters(format!(
            "the URL names CDR {cdr_id} but the body {} (T-93)",
            check.cdr_id
        )));
    }
    if !check.verdict.is_known() {
        return Err(OcpiError::InvalidParameters(format!(
            "verdict {:?} is not ACCEPTED or DISPUTED",
            check.verdict
        )));
    }
    if check.verdict == Verdict::Disputed && check.reasons.is_empty() {
        return Err(OcpiError::InvalidParameters(
            "a DISPUTED verdict needs reasons".to_owned(),
        ));
    }
    check.from_peer.clone_from(&caller.peer.id);
    check.received_at = DateTime::now();
    st.core.store.transact(|tx| {
        tx.put_json(CHECKS, cdr.id.as_str().to_ascii_lowercase().into_bytes(), &check)
            .map(|_| ())
    })?;
    st.core.store.durable().await?;
    if check.verdict == Verdict::Disputed {
        tracing::warn!(cdr = %cdr.id, peer.id = %caller.peer.id, reasons = ?check.reasons, "a CSP disputes a CDR");
    }
    Ok(ok(StatusCode::OK, None))
}
