//! Commands module objects (checklist §11, `mod_commands.asciidoc`, CMD-01…CMD-09).

use serde::{Deserialize, Serialize};

use crate::ci_string::ResponseUrl;
use crate::datetime::DateTime;
use crate::error::TypeError;
use crate::ids::{AuthorizationReference, ConnectorId, EvseUid, LocationId, ReservationId, SessionId};
use crate::modules::tokens::Token;
use crate::modules::types::DisplayText;

crate::open_enum! {
    /// `CommandType` (§11.2): the URL segment of `POST {commands}/{command}`.
    pub enum CommandType("CommandType") {
        /// Cancel a reservation.
        CancelReservation => "CANCEL_RESERVATION",
        /// Reserve an EVSE now.
        ReserveNow => "RESERVE_NOW",
        /// Start a session.
        StartSession => "START_SESSION",
        /// Stop a session.
        StopSession => "STOP_SESSION",
        /// Unlock a connector (helpdesk only, CMD-08).
        UnlockConnector => "UNLOCK_CONNECTOR",
    }
}

crate::open_enum! {
    /// `CommandResponseType` (§11.2): whether the CPO accepted the command.
    pub enum CommandResponseType("CommandResponseType") {
        /// Not supported.
        NotSupported => "NOT_SUPPORTED",
        /// Rejected.
        Rejected => "REJECTED",
        /// Accepted; a CommandResult will follow (CMD-01).
        Accepted => "ACCEPTED",
        /// The session is not known.
        UnknownSession => "UNKNOWN_SESSION",
    }
}

crate::open_enum! {
    /// `CommandResultType` (§11.2): what the charger did.
    pub enum CommandResultType("CommandResultType") {
        /// Done.
        Accepted => "ACCEPTED",
        /// The CPO cancelled the reservation (CMD-06).
        CanceledReservation => "CANCELED_RESERVATION",
        /// The EVSE is in use.
        EvseOccupied => "EVSE_OCCUPIED",
        /// The EVSE is out of order or offline.
        EvseInoperative => "EVSE_INOPERATIVE",
        /// Failed.
        Failed => "FAILED",
        /// Not supported by the charger.
        NotSupported => "NOT_SUPPORTED",
        /// Rejected.
        Rejected => "REJECTED",
        /// The charger did not answer.
        Timeout => "TIMEOUT",
        /// No such reservation.
        UnknownReservation => "UNKNOWN_RESERVATION",
    }
}

/// `StartSession` (§11.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartSession {
    /// Where to POST the CommandResult.
    pub response_url: ResponseUrl,
    /// The token, pre-authorized by the eMSP (CMD-03).
    pub token: Token,
    /// Location.
    pub location_id: LocationId,
    /// EVSE (required with `connector_id`, CMD-09).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_uid: Option<EvseUid>,
    /// Connector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<ConnectorId>,
    /// The eMSP's reference for the session (SES-04).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<AuthorizationReference>,
}

impl StartSession {
    /// CMD-09: `connector_id` needs `evse_uid`.
    pub fn validate(&self) -> Result<(), TypeError> {
        if self.connector_id.is_some() && self.evse_uid.is_none() {
            return Err(TypeError::format(
                "StartSession",
                "connector_id",
                "evse_uid is required when connector_id is set (CMD-09)",
            ));
        }
        Ok(())
    }
}

/// `StopSession` (§11.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopSession {
    /// Where to POST the CommandResult.
    pub response_url: ResponseUrl,
    /// The session to stop.
    pub session_id: SessionId,
}

/// `ReserveNow` (§11.2, CMD-05).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveNow {
    /// Where to POST the CommandResult.
    pub response_url: ResponseUrl,
    /// The token, pre-authorized by the eMSP.
    pub token: Token,
    /// Until when (UTC).
    pub expiry_date: DateTime,
    /// The eMSP's reservation id; a new RESERVE_NOW with the same one replaces it.
    pub reservation_id: ReservationId,
    /// Location.
    pub location_id: LocationId,
    /// EVSE (any at the location when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_uid: Option<EvseUid>,
    /// The eMSP's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<AuthorizationReference>,
}

/// `CancelReservation` (§11.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelReservation {
    /// Where to POST the CommandResult.
    pub response_url: ResponseUrl,
    /// The reservation.
    pub reservation_id: ReservationId,
}

/// `UnlockConnector` (§11.2, CMD-08).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockConnector {
    /// Where to POST the CommandResult.
    pub response_url: ResponseUrl,
    /// Location.
    pub location_id: LocationId,
    /// EVSE.
    pub evse_uid: EvseUid,
    /// Connector.
    pub connector_id: ConnectorId,
}

/// `CommandResponse` (§11.2): the immediate answer, with how long the result may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResponse {
    /// Accepted or why not.
    pub result: CommandResponseType,
    /// Seconds to wait for the CommandResult.
    pub timeout: u32,
    /// Messages for the driver.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub message: Vec<DisplayText>,
}

impl CommandResponse {
    /// A response without message.
    pub fn new(result: CommandResponseType, timeout: u32) -> Self {
        Self {
            result,
            timeout,
            message: Vec::new(),
        }
    }
}

/// `CommandResult` (§11.2): the charger's outcome, POSTed to the `response_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The outcome.
    pub result: CommandResultType,
    /// Messages for the driver.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub message: Vec<DisplayText>,
}

impl CommandResult {
    /// A result without message.
    pub fn new(result: CommandResultType) -> Self {
        Self {
            result,
            message: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token() -> serde_json::Value {
        json!({ "country_code": "DE", "party_id": "MOV", "uid": "APP-91", "type": "APP_USER", "contract_id": "DE-MOV-C00000091-2",
                "issuer": "Movement Mobility GmbH", "valid": true, "whitelist": "NEVER", "last_updated": "2026-03-01T12:00:00Z" })
    }

    #[test]
    fn commands_round_trip() {
        let cases = [
            json!({ "response_url": "https://csp.example/ocpi/cmd/1", "token": token(), "location_id": "L1", "evse_uid": "E1", "connector_id": "1", "authorization_reference": "R-1" }),
            json!({ "response_url": "https://csp.example/ocpi/cmd/2", "session_id": "S-1" }),
            json!({ "response_url": "https://csp.example/ocpi/cmd/3", "token": token(), "expiry_date": "2026-03-01T13:00:00Z", "reservation_id": "RES-1", "location_id": "L1", "evse_uid": "E1", "authorization_reference": "R-2" }),
            json!({ "response_url": "https://csp.example/ocpi/cmd/4", "reservation_id": "RES-1" }),
            json!({ "response_url": "https://csp.example/ocpi/cmd/5", "location_id": "L1", "evse_uid": "E1", "connector_id": "1" }),
        ];
        let s: StartSession = serde_json::from_value(cases[0].clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&s).unwrap(), &cases[0]);
        let s: StopSession = serde_json::from_value(cases[1].clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&s).unwrap(), &cases[1]);
        let s: ReserveNow = serde_json::from_value(cases[2].clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&s).unwrap(), &cases[2]);
        let s: CancelReservation = serde_json::from_value(cases[3].clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&s).unwrap(), &cases[3]);
        let s: UnlockConnector = serde_json::from_value(cases[4].clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&s).unwrap(), &cases[4]);
        let r = json!({ "result": "ACCEPTED", "timeout": 30, "message": [{ "language": "en", "text": "Plug in your car" }] });
        let c: CommandResponse = serde_json::from_value(r.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&c).unwrap(), &r);
        let r = json!({ "result": "EVSE_OCCUPIED" });
        let c: CommandResult = serde_json::from_value(r.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&c).unwrap(), &r);
    }

    #[test]
    fn cmd09_connector_needs_evse() {
        let mut s: StartSession = serde_json::from_value(json!({ "response_url": "https://csp.example/r", "token": token(), "location_id": "L1", "connector_id": "1" })).unwrap();
        assert!(s.validate().is_err());
        s.evse_uid = Some(EvseUid::new("E1").unwrap());
        s.validate().unwrap();
    }

    #[test]
    fn enums_are_consistent() {
        crate::open_enum::assert_consistent(CommandType::KNOWN);
        crate::open_enum::assert_consistent(CommandResponseType::KNOWN);
        crate::open_enum::assert_consistent(CommandResultType::KNOWN);
    }
}
