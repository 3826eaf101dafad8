//! Price quotes (UC2-2, extension module `x-roaming-quotes`; `docs/extensions.md`): what charging at a
//! connector would cost for a given consumption. The tariff is picked as for a session starting then
//! (§9.3 item 1, the free-of-charge tariff when none is in force) and the consumption is priced by the
//! same engine, rules and seal that price the CDR, so the quote equals the CDR for the same
//! consumption. Served on the OCPI face (`ocpi/quotes.rs`) and the operator API (`POST /api/quotes`).
//!
//! Refusals: an unknown or unpublished location ([`CsoError::UnknownLocation`]), an unknown EVSE or
//! connector ([`CsoError::NotFound`]), negative or impossible quantities ([`CsoError::Invalid`]).

use roaming_types::DateTime;
use roaming_types::extensions::quotes::{Quote, QuoteRequest};
use roaming_types::ids::{ContractId, PartyRef, SessionId, TokenUid};
use roaming_types::modules::cdrs::{AuthMethod, CdrLocation, CdrToken};
use roaming_types::modules::sessions::{Session, SessionStatus};
use roaming_types::modules::tokens::TokenType;
use roaming_types::money::Number;
use roaming_types::pricing::{PeriodRules, SessionUsage, quote_current_a, select_tariff};

use crate::error::CsoError;
use crate::pricing::Seal;
use crate::sessions::Sessions;
use crate::sites::{Sites, is_public};

/// The longest consumption a quote covers, minutes (7 days).
const MAX_MINUTES: u32 = 7 * 24 * 60;

/// Computes a quote for `req` at a location of ours (`party` is the CSO, the owner of the priced
/// session).
pub fn compute(
    sites: &Sites,
    sessions: &Sessions,
    party: &PartyRef,
    req: &QuoteRequest,
) -> Result<Quote, CsoError> {
    let loc = Sites::location(sites.store(), req.location_id.as_str())?
        .filter(is_public)
        .ok_or_else(|| CsoError::UnknownLocation(format!("unknown location {}", req.location_id)))?;
    let evse = loc
        .evse(&req.evse_uid)
        .ok_or_else(|| CsoError::NotFound(format!("unknown EVSE {}", req.evse_uid)))?;
    let connector = match &req.connector_id {
        Some(c) => evse.connector(c),
        None => evse.connectors.first(),
    }
    .ok_or_else(|| CsoError::NotFound("unknown connector".to_owned()))?;
    let energy_kwh = req.energy_kwh.value();
    if energy_kwh.is_sign_negative() || (req.charging_minutes == 0 && !energy_kwh.is_zero()) {
        return Err(CsoError::Invalid(
            "energy_kwh must be ≥ 0, and energy needs charging_minutes > 0".to_owned(),
        ));
    }
    if req.charging_minutes.saturating_add(req.parking_minutes) > MAX_MINUTES {
        return Err(CsoError::Invalid("a quote covers at most 7 days".to_owned()));
    }
    let start = req.start_date_time.unwrap_or_else(DateTime::now);
    let mut tariffs = Vec::new();
    for t in &connector.tariff_ids {
        if let Some(t) = Sites::tariff(sites.store(), t.as_str())? {
            tariffs.push(t);
        }
    }
    // As for a session: no tariff in force is the published free-of-charge tariff.
    let tariff = match select_tariff(&tariffs, req.tariff_type.as_ref(), start) {
        Some(t) => Some(t.clone()),
        None => Some(sites.free_tariff()?),
    };
    let seal = Seal {
        location: CdrLocation::of(&loc, evse, connector),
        tariff,
        time_zone: loc.time_zone.as_str().to_owned(),
        reserved_at: None,
    };
    // The current the EV would draw (sum over phases), for current restrictions.
    let current_a = quote_current_a(energy_kwh, req.charging_minutes, connector.max_voltage);
    let usage = SessionUsage::constant(
        start,
        energy_kwh,
        req.charging_minutes,
        req.parking_minutes,
        current_a,
    );
    let session_like = Session {
        country_code: party.country_code.clone(),
        party_id: party.party_id.clone(),
        id: SessionId::new("QUOTE").map_err(CsoError::internal)?,
        start_date_time: start,
        end_date_time: None,
        kwh: Number::ZERO,
        cdr_token: CdrToken {
            country_code: party.country_code.clone(),
            party_id: party.party_id.clone(),
            uid: TokenUid::new("QUOTE").map_err(CsoError::internal)?,
            token_type: TokenType::AdHocUser,
            contract_id: ContractId::new("QUOTE").map_err(CsoError::internal)?,
        },
        auth_method: AuthMethod::Command,
        authorization_reference: None,
        location_id: loc.id.clone(),
        evse_uid: evse.uid.clone(),
        connector_id: connector.id.clone(),
        meter_id: None,
        currency: seal
            .tariff
            .as_ref()
            .map_or_else(|| sessions.default_currency(), |t| Ok(t.currency.clone()))?,
        charging_periods: Vec::new(),
        total_cost: None,
        status: SessionStatus::Completed,
        last_updated: start,
    };
    let (tariff, priced) =
        sessions
            .pricing()
            .price(&session_like, Some(&seal), &usage, PeriodRules::default())?;
    Ok(Quote {
        request: req.clone(),
        start_date_time: start,
        currency: tariff.currency.clone(),
        tariff,
        total_cost: priced.total_cost,
        total_fixed_cost: priced.total_fixed_cost,
        total_energy_cost: priced.total_energy_cost,
        total_time_cost: priced.total_time_cost,
        total_parking_cost: priced.total_parking_cost,
        charging_periods: priced.charging_periods,
    })
}
