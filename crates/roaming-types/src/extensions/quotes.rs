//! Extension module `x-roaming-quotes` (UC2-2 price quote, `docs/extensions.md`): hosted by the CSO
//! (role SENDER in its version details), called by the CSP before a driver starts. The request names a
//! connector and a consumption; the answer is the tariff that would apply (§9.3 item 1, the tariff in
//! force at the start) and the price the pricing engine gives for that consumption, with the periods
//! the CDR would have.

use serde::{Deserialize, Serialize};

use crate::ci_string::Text;
use crate::datetime::DateTime;
use crate::ids::{ConnectorId, EvseUid, LocationId};
use crate::modules::common::ChargingPeriod;
use crate::modules::tariffs::{Tariff, TariffType};
use crate::modules::versions::ModuleId;
use crate::money::{Number, Price};

/// The module id, as announced in version details (prefixed: not an OCPI module).
pub const MODULE: &str = "x-roaming-quotes";

/// [`MODULE`] as a version-details module id.
pub fn module_id() -> ModuleId {
    ModuleId::Custom(MODULE.to_owned())
}

/// The body of `POST {x-roaming-quotes}`: what charging the caller wants priced.
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
    /// Energy, kWh (a JSON number; a numeric string is read too).
    pub energy_kwh: Number,
    /// Minutes of charging.
    pub charging_minutes: u32,
    /// Minutes parked after charging (0 when absent).
    #[serde(default)]
    pub parking_minutes: u32,
    /// The tariff type wanted (REGULAR or untyped when absent, §9.3 item 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_type: Option<TariffType>,
}

/// The answer (`data`) to a [`QuoteRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// What was asked.
    pub request: QuoteRequest,
    /// When charging would start.
    pub start_date_time: DateTime,
    /// The tariff that would apply (the free-of-charge tariff when the connector has none).
    pub tariff: Tariff,
    /// Its currency, ISO 4217.
    pub currency: Text<3>,
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
