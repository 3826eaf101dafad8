//! Extension module `x-roaming-quotes` (UC2-2 price quote; `docs/extensions.md`), hosted by the CSO:
//! `POST {x-roaming-quotes}` with `{location_id, evse_uid, connector_id?, start_date_time?,
//! energy_kwh, charging_minutes, parking_minutes?}` → the tariff that would apply (§9.3 item 1, the
//! tariff in force at the start) and the price the pricing engine computes for that consumption —
//! the same engine and data that price the CDR, so the quote equals the CDR for the same consumption.
//!
//! Errors: an unknown or unpublished location → 404 + 2003; an unknown EVSE or connector → 404 +
//! 2001; negative or impossible quantities → 2001.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, PeerCaller};
use roaming_peer::server::reply::data;
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid, LocationId};
use roaming_types::modules::cdrs::{CdrLocation, ChargingPeriod};
use roaming_types::modules::tariffs::{Tariff, TariffType};
use roaming_types::money::Price;
use roaming_types::pricing::SessionUsage;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::cdrs::Seal;
use crate::sites::is_public;
use crate::state::CsoState;

/// The module id (prefixed: not an OCPI module).
pub const MODULE: &str = "x-roaming-quotes";
/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/x-roaming-quotes";

/// What the CSP asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRequest {
    /// Location.
    pub location_id: LocationId,
    /// EVSE.
    pub evse_uid: EvseUid,
    /// Connector (the EVSE's first when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<ConnectorId>,
    /// When charging would start (now when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime>,
    /// Energy, kWh.
    pub energy_kwh: Decimal,
    /// Minutes of charging.
    pub charging_minutes: u32,
    /// Minutes parked after charging.
    #[serde(default)]
    pub parking_minutes: u32,
    /// The tariff type wanted (REGULAR when absent, §9.3 item 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_type: Option<TariffType>,
}

/// The CSO's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// What was asked.
    pub request: QuoteRequest,
    /// When charging would start.
    pub start_date_time: DateTime,
    /// The tariff that would apply (a free tariff when the connector has none).
    pub tariff: Tariff,
    /// Its currency.
    pub currency: String,
    /// The price.
    pub total_cost: Price,
    /// Fixed part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_fixed_cost: Option<Price>,
    /// Energy part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_energy_cost: Option<Price>,
    /// Charging time part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_time_cost: Option<Price>,
    /// Parking part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_parking_cost: Option<Price>,
    /// The periods the CDR would have.
    pub charging_periods: Vec<ChargingPeriod>,
}

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new().route(PATH, post(quote)).with_state(state)
}

/// Computes a quote (also used by the operator API).
pub fn compute(st: &CsoState, req: &QuoteRequest) -> Result<Quote, OcpiError> {
    let loc = st
        .sites
        .location(req.location_id.as_str())?
        .filter(is_public)
        .ok_or_else(|| OcpiError::unknown_location(format!("unknown location {}", req.location_id)))?;
    let evse = loc
        .evse(&req.evse_uid)
        .ok_or_else(|| OcpiError::unknown_object(format!("unknown EVSE {}", req.evse_uid)))?;
    let connector = match &req.connector_id {
        Some(c) => evse.connector(c),
        None => evse.connectors.first(),
    }
    .ok_or_else(|| OcpiError::unknown_object("unknown connector".to_owned()))?;
    if req.energy_kwh.is_sign_negative() || (req.charging_minutes == 0 && !req.energy_kwh.is_zero()) {
        return Err(OcpiError::InvalidParameters(
            "energy_kwh must be ≥ 0, and energy needs charging_minutes > 0".to_owned(),
        ));
    }
    if req.charging_minutes.saturating_add(req.parking_minutes) > 7 * 24 * 60 {
        return Err(OcpiError::InvalidParameters(
            "a quote covers at most 7 days".to_owned(),
        ));
    }
    let start = req.start_date_time.unwrap_or_else(DateTime::now);
    let mut tariffs = Vec::new();
    for t in &connector.tariff_ids {
        if let Some(t) = st.sites.tariff(t.as_str())? {
            tariffs.push(t);
        }
    }
    // As for a session: no tariff in force is the published free-of-charge tariff.
    let tariff = match roaming_types::pricing::select_tariff(&tariffs, req.tariff_type.as_ref(), start) {
        Some(t) => Some(t.clone()),
        None => Some(st.sites.free_tariff()?),
    };
    let seal = Seal {
        location: CdrLocation::of(&loc, evse, connector),
        tariff,
        time_zone: loc.time_zone.as_str().to_owned(),
        reserved_at: None,
    };
    // The current the EV would draw (sum over phases), for current restrictions.
    let current_a =
        roaming_types::pricing::quote_current_a(req.energy_kwh, req.charging_minutes, connector.max_voltage);
    let usage = SessionUsage::constant(
        start,
        req.energy_kwh,
        req.charging_minutes,
        req.parking_minutes,
        current_a,
    );
    let session_like = roaming_types::modules::sessions::Session {
        country_code: st.core.config.party.country_code.clone(),
        party_id: st.core.config.party.party_id.clone(),
        id: roaming_types::ids::SessionId::new("QUOTE").map_err(|e| OcpiError::Internal(e.to_string()))?,
        start_date_time: start,
        end_date_time: None,
        kwh: roaming_types::money::Number::ZERO,
        cdr_token: roaming_types::modules::cdrs::CdrToken {
            country_code: st.core.config.party.country_code.clone(),
            party_id: st.core.config.party.party_id.clone(),
            uid: roaming_types::ids::TokenUid::new("QUOTE")
                .map_err(|e| OcpiError::Internal(e.to_string()))?,
            token_type: roaming_types::modules::tokens::TokenType::AdHocUser,
            contract_id: roaming_types::ids::ContractId::new("QUOTE")
                .map_err(|e| OcpiError::Internal(e.to_string()))?,
        },
        auth_method: roaming_types::modules::cdrs::AuthMethod::Command,
        authorization_reference: None,
        location_id: loc.id.clone(),
        evse_uid: evse.uid.clone(),
        connector_id: connector.id.clone(),
        meter_id: None,
        currency: seal
            .tariff
            .as_ref()
            .map_or_else(|| st.sessions.default_currency(), |t| Ok(t.currency.clone()))
            .map_err(OcpiError::from)?,
        charging_periods: Vec::new(),
        total_cost: None,
        status: roaming_types::modules::sessions::SessionStatus::Completed,
        last_updated: start,
    };
    let (tariff, priced) = st
        .sessions
        .pricing()
        .price(
            &session_like,
            Some(&seal),
            &usage,
            roaming_types::pricing::PeriodRules::default(),
        )
        .map_err(OcpiError::from)?;
    Ok(Quote {
        request: req.clone(),
        start_date_time: start,
        currency: tariff.currency.as_str().to_owned(),
        tariff,
        total_cost: priced.total_cost,
        total_fixed_cost: priced.total_fixed_cost,
        total_energy_cost: priced.total_energy_cost,
        total_time_cost: priced.total_time_cost,
        total_parking_cost: priced.total_parking_cost,
        charging_periods: priced.charging_periods,
    })
}

async fn quote(
    State(st): State<CsoState>,
    _caller: PeerCaller,
    OcpiJson(req): OcpiJson<QuoteRequest>,
) -> Result<Response, OcpiError> {
    data(&compute(&st, &req)?)
}
