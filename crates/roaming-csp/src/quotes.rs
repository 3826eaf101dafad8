//! Price quotes (UC2-2, extension module `x-roaming-quotes`; `docs/extensions.md`): the CSP asks the
//! CSO what charging at an EVSE would cost for a given consumption, before the driver starts. The CSO
//! answers with the tariff that would apply and the price from the same engine that prices its CDRs.
//! A CSO that does not offer the extension (any plain OCPI 2.2.1 CPO) gets no call: the CSP prices
//! the same consumption itself, with the same engine, from the location and tariffs it holds of that
//! CSO (`"source": "local"`; the CSO's own answers say `"source": "cso"`).

use http::Method;
use roaming_peer::client::{Call, ClientError};
use roaming_types::DateTime;
use roaming_types::extensions::quotes::{QuoteRequest, module_id};
use roaming_types::ids::PartyRef;
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::InterfaceRole;
use roaming_types::pricing::{SessionUsage, parse_time_zone, price_session, select_tariff};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::CspError;
use crate::sites;
use crate::state::CspState;

/// The module id.
pub use roaming_types::extensions::quotes::MODULE;

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
    let module = module_id();
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
    let cpo = match &q.cpo {
        Some(c) => c.clone(),
        None => peer
            .parties(&Role::Cpo)
            .into_iter()
            .next()
            .ok_or_else(|| CspError::Internal(format!("peer {} hosts no CSO", peer.id)))?,
    };
    let Some(url) = peer.endpoint(&module, &InterfaceRole::Sender).map(str::to_owned) else {
        return local(st, &cpo, &q.request);
    };
    let answer = st
        .core
        .call_peer(
            &peer,
            Call::new(Method::POST, &url).body(&q.request),
            q.cpo.clone(),
            None,
        )
        .await;
    match answer {
        Ok(a) => {
            let mut data = a.envelope.data.unwrap_or(Value::Null);
            if let Some(o) = data.as_object_mut() {
                o.insert("source".to_owned(), Value::String("cso".to_owned()));
            }
            Ok(data)
        }
        Err(ClientError::Status { status, message, .. }) => Err(CspError::Invalid(format!(
            "the CSO refused the quote (OCPI {}): {message}",
            status.code()
        ))),
        Err(e) => Err(CspError::Peer(e.to_string())),
    }
}

/// Prices a quote from the CSP's own copy of the CSO's location and tariffs.
fn local(st: &CspState, cpo: &PartyRef, request: &serde_json::Map<String, Value>) -> Result<Value, CspError> {
    let req: QuoteRequest = serde_json::from_value(Value::Object(request.clone()))
        .map_err(|e| CspError::Invalid(format!("quote request: {e}")))?;
    let energy_kwh = req.energy_kwh.value();
    if energy_kwh.is_sign_negative() || (req.charging_minutes == 0 && !energy_kwh.is_zero()) {
        return Err(CspError::Invalid(
            "energy_kwh must be ≥ 0, and energy needs charging_minutes > 0".to_owned(),
        ));
    }
    let loc = sites::location(&st.core.store, cpo, req.location_id.as_str())?
        .ok_or_else(|| CspError::NotFound(format!("no location {cpo}/{} is known", req.location_id)))?;
    let evse = loc
        .evse(&req.evse_uid)
        .ok_or_else(|| CspError::NotFound(format!("no EVSE {}", req.evse_uid)))?;
    let connector = match &req.connector_id {
        Some(c) => evse.connector(c),
        None => evse.connectors.first(),
    }
    .ok_or_else(|| CspError::NotFound("no such connector".to_owned()))?;
    let start = req.start_date_time.unwrap_or_else(DateTime::now);
    let mut tariffs = Vec::new();
    for id in &connector.tariff_ids {
        if let Some(t) = sites::tariff(&st.core.store, cpo, id.as_str())? {
            tariffs.push(t);
        }
    }
    let tariff = select_tariff(&tariffs, req.tariff_type.as_ref(), start)
        .cloned()
        .ok_or_else(|| CspError::Conflict("no tariff of this connector is known for that time".to_owned()))?;
    let tz = parse_time_zone(loc.time_zone.as_str()).map_err(|e| CspError::Invalid(e.to_string()))?;
    let current_a =
        roaming_types::pricing::quote_current_a(energy_kwh, req.charging_minutes, connector.max_voltage);
    let usage = SessionUsage::constant(
        start,
        energy_kwh,
        req.charging_minutes,
        req.parking_minutes,
        current_a,
    );
    let p = price_session(&tariff, &usage, tz).map_err(|e| CspError::Invalid(format!("pricing: {e}")))?;
    Ok(json!({
        "source": "local",
        "request": request,
        "start_date_time": start,
        "currency": tariff.currency.as_str(),
        "tariff": tariff,
        "total_cost": p.total_cost,
        "total_fixed_cost": p.total_fixed_cost,
        "total_energy_cost": p.total_energy_cost,
        "total_time_cost": p.total_time_cost,
        "total_parking_cost": p.total_parking_cost,
        "charging_periods": p.charging_periods,
    }))
}
