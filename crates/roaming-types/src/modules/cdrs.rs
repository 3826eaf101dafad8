//! CDRs module objects (checklist §8, `mod_cdrs.asciidoc`).
//!
//! This part holds the objects Sessions reuse: AuthMethod, CdrToken, CdrDimension, ChargingPeriod.

use serde::{Deserialize, Serialize};

use crate::datetime::DateTime;
use crate::ids::{ContractId, CountryCode, PartyId, TariffId, TokenUid};
use crate::modules::tokens::TokenType;
use crate::money::Number;

crate::open_enum! {
    /// `AuthMethod` (§8.3): how the session was authorized (SES-05).
    pub enum AuthMethod("AuthMethod") {
        /// Real-time authorization by the eMSP.
        AuthRequest => "AUTH_REQUEST",
        /// Started by a command (START_SESSION, RESERVE_NOW).
        Command => "COMMAND",
        /// Authorized by the CPO's local whitelist.
        Whitelist => "WHITELIST",
    }
}

crate::open_enum! {
    /// `CdrDimensionType` (§8.3). Units: ENERGY* kWh, TIME/PARKING_TIME/RESERVATION_TIME h, CURRENT A,
    /// POWER kW, STATE_OF_CHARGE %. CURRENT, ENERGY_EXPORT, ENERGY_IMPORT, POWER and STATE_OF_CHARGE
    /// are for Sessions only.
    pub enum CdrDimensionType("CdrDimensionType") {
        /// Average current in the period (A). Sessions only.
        Current => "CURRENT",
        /// Energy charged (kWh).
        Energy => "ENERGY",
        /// Energy exported to the grid (kWh). Sessions only.
        EnergyExport => "ENERGY_EXPORT",
        /// Energy imported from the grid (kWh). Sessions only.
        EnergyImport => "ENERGY_IMPORT",
        /// Maximum current (A).
        MaxCurrent => "MAX_CURRENT",
        /// Minimum current (A).
        MinCurrent => "MIN_CURRENT",
        /// Maximum power (kW).
        MaxPower => "MAX_POWER",
        /// Minimum power (kW).
        MinPower => "MIN_POWER",
        /// Time not charging with the EV requesting no power (h) (E-07).
        ParkingTime => "PARKING_TIME",
        /// Average power (kW). Sessions only.
        Power => "POWER",
        /// Reservation time (h).
        ReservationTime => "RESERVATION_TIME",
        /// State of charge (%). Sessions only.
        StateOfCharge => "STATE_OF_CHARGE",
        /// Charging time (h).
        Time => "TIME",
    }
}

/// `CdrDimension` (§8.3): one measured quantity of a charging period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrDimension {
    /// What is measured.
    #[serde(rename = "type")]
    pub dimension_type: CdrDimensionType,
    /// The amount, in the dimension's unit.
    pub volume: Number,
}

/// `ChargingPeriod` (§8.3, CDR-04): a period that ends where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingPeriod {
    /// Start of the period.
    pub start_date_time: DateTime,
    /// The quantities measured in the period (at least one).
    pub dimensions: Vec<CdrDimension>,
    /// The tariff that applies in the period; absent when none does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_id: Option<TariffId>,
}

/// `CdrToken` (§8.3): the snapshot of the Token used, carried in Sessions and CDRs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrToken {
    /// Country code of the eMSP that owns the token.
    pub country_code: CountryCode,
    /// Party id of the eMSP that owns the token.
    pub party_id: PartyId,
    /// Token uid.
    pub uid: TokenUid,
    /// Token type.
    #[serde(rename = "type")]
    pub token_type: TokenType,
    /// Contract id (eMAID).
    pub contract_id: ContractId,
}

#[cfg(test)]
mod shared_tests {
    use super::*;

    #[test]
    fn enums_are_consistent() {
        crate::open_enum::assert_consistent(AuthMethod::KNOWN);
        crate::open_enum::assert_consistent(CdrDimensionType::KNOWN);
    }
}
