//! Price quotes (UC2-2, extension module `x-roaming-quotes`; `docs/extensions.md`): the CSP asks the
//! CSO what charging at an EVSE would cost for a given consumption, before the driver starts. The CSO
//! answers with the tariff that would apply and the price from the same engine that prices its CDRs.
//! A CSO that does not offer the extension gets no call: the operator is told so (`409`) and can
//! still read the connector's tariffs (`GET /api/locations/{cc}/{pid}/{id}/{evse}/{connector}/tariffs`).

use http::Method;
use roaming_peer::client::ClientError;
use roaming_types::ids::PartyRef;
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::CspState;
use crate::error::CspError;

/// The module id.
pub const MODULE: &str = "x-roaming-quotes";

/// What the operator (or app backend) asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuoteAsk {
    /// The CSO (`CC-PID`); the only connected one when absent.
    #[serde(default, with = "crate::party_text::option")]
    pub cpo: Option<PartyRef>,
    /// The rest of the request, as the extension defines it (`location_id`, `evse_uid`,
    /// `connector_id?`, `start_date_time?`, `energy_kwh`, `charging_minutes`, `parking_minutes?`).
    #[serde(flatten)]
    pub request: serde_json::Map<String, Value>,
}

/// Asks the CSO for a quote; returns its answer (the `data` of the envelope).
pub async fn ask(st: &CspState, q: QuoteAsk) -> Result<Value, CspError> {
    let module = ModuleId::Custom(MODULE.to_owned());
    let peer = match &q.cpo {
        Some(p) => st
            .core
            .peers
            .hosting(p, &Role::Cpo)?
            .ok_or_else(|| CspError::NotFound(format!("no connected CSO hosts {p}")))?,
        None => {
            let all = st.core.peers.all()?;
            let mut cpos: Vec<_> = all
                .iter()
                .filter(|p| !p.parties(&Role::Cpo).is_empty())
                .cloned()
                .collect();
            if cpos.len() != 1 {
                return Err(CspError::Invalid(format!(
                    "{} CSOs are connected: name one with `cpo`",
                    cpos.len()
                )));
            }
            cpos.remove(0)
        }
    };
    let Some(url) = peer.endpoint(&module, &InterfaceRole::Sender).map(str::to_owned) else {
        return Err(CspError::Conflict(format!(
            "CSO {} does not offer price quotes ({MODULE}); read the connector's tariffs instead",
            peer.id
        )));
    };
    let answer = st
        .core
        .call_peer(
            &peer,
            Method::POST,
            &url,
            q.cpo.clone(),
            Some(&q.request),
            None,
            None,
        )
        .await;
    match answer {
        Ok(a) => Ok(a.envelope.data.unwrap_or(Value::Null)),
        Err(ClientError::Status { status, message, .. }) => Err(CspError::Invalid(format!(
            "the CSO refused the quote (OCPI {}): {message}",
            status.code()
        ))),
        Err(e) => Err(CspError::Peer(e.to_string())),
    }
}
