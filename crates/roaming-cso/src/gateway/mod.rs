//! The station gateway: how the CSO endpoint reaches its chargers (issue #5, `docs/api.md`
//! "Station gateway").
//!
//! Commands go **out** through a [`StationGateway`]; what happens at the chargers comes **back** as
//! [`StationEvent`]s, which the CSO turns into sessions, EVSE statuses and command results
//! ([`crate::stations`]). Two implementations:
//! - [`simulator::Simulator`] (the default): EVSEs in this process, with configurable plug-in delay,
//!   power, meter-value interval and faults; it also plays the driver (RFID, plug in, unplug);
//! - [`webhook::Webhook`]: commands are POSTed as JSON to a station-management system, which reports
//!   events back through the operator API (`POST /api/stations/events`, `POST /api/stations/authorize`).

pub mod simulator;
pub mod webhook;

use futures::future::BoxFuture;
use roaming_types::ids::{ConnectorId, EvseUid, LocationId, SessionId, TokenUid};
use roaming_types::modules::commands::CommandResultType;
use roaming_types::modules::locations::Status;
use roaming_types::modules::tokens::TokenType;
use roaming_types::{DateTime, Text};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A command for a charger. `command_id` ties the outcome ([`StationEvent::CommandResult`]) to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StationCommand {
    /// Start charging for a driver (UC3-2). The token is pre-authorized by the CSP (CMD-03).
    StartSession {
        /// Command id.
        command_id: String,
        /// Location.
        location_id: LocationId,
        /// EVSE.
        evse_uid: EvseUid,
        /// Connector, when the CSP chose one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connector_id: Option<ConnectorId>,
        /// The token's uid.
        token_uid: String,
        /// The token's type.
        token_type: TokenType,
        /// The charger's id of a reservation this start uses.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        station_reservation_id: Option<u64>,
    },
    /// Stop a session (UC3-4).
    StopSession {
        /// Command id.
        command_id: String,
        /// Location.
        location_id: LocationId,
        /// EVSE.
        evse_uid: EvseUid,
        /// The charger's transaction.
        transaction_id: String,
    },
    /// Reserve an EVSE (UC3-8). `station_reservation_id` is unique per charger (CMD-05).
    ReserveNow {
        /// Command id.
        command_id: String,
        /// Location.
        location_id: LocationId,
        /// The EVSE; any EVSE of the location when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evse_uid: Option<EvseUid>,
        /// The charger-unique reservation id.
        station_reservation_id: u64,
        /// The token it is for.
        token_uid: String,
        /// Its type.
        token_type: TokenType,
        /// Until when.
        expiry_date: DateTime,
    },
    /// Cancel a reservation.
    CancelReservation {
        /// Command id.
        command_id: String,
        /// Location.
        location_id: LocationId,
        /// EVSE, when the reservation had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evse_uid: Option<EvseUid>,
        /// The charger-unique reservation id.
        station_reservation_id: u64,
    },
    /// Unlock a connector (helpdesk, CMD-08).
    UnlockConnector {
        /// Command id.
        command_id: String,
        /// Location.
        location_id: LocationId,
        /// EVSE.
        evse_uid: EvseUid,
        /// Connector.
        connector_id: ConnectorId,
    },
    /// Cap the power an EVSE delivers (the effective charging profile or local limit, UC3-7,
    /// UC3-10); `limit_w = None` lifts the cap. No result event: a gateway that takes it has applied
    /// it.
    SetPowerLimit {
        /// Our id.
        command_id: String,
        /// Location.
        location_id: LocationId,
        /// EVSE.
        evse_uid: EvseUid,
        /// The cap in W, or none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit_w: Option<Decimal>,
        /// The CSP's charging profile in force, as sent (for a station-management system that passes
        /// profiles on to OCPP chargers); `limit_w` already accounts for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        charging_profile: Option<roaming_types::modules::charging_profiles::ChargingProfile>,
    },
}

impl StationCommand {
    /// The command id.
    pub fn command_id(&self) -> &str {
        match self {
            Self::StartSession { command_id, .. }
            | Self::StopSession { command_id, .. }
            | Self::ReserveNow { command_id, .. }
            | Self::CancelReservation { command_id, .. }
            | Self::UnlockConnector { command_id, .. }
            | Self::SetPowerLimit { command_id, .. } => command_id,
        }
    }
}

/// Something that happened at a charger. The station-management system posts these as JSON
/// (`type` = the variant name in snake case, beside the fields of the variant's struct).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StationEvent {
    /// The outcome of a command.
    CommandResult(CommandOutcome),
    /// A transaction began at a charger (cable connected and authorized).
    SessionStarted(SessionStart),
    /// A meter reading of a running transaction.
    MeterValues(MeterReading),
    /// The transaction ended (the cable was unplugged or charging was stopped).
    SessionStopped(SessionStop),
    /// An EVSE's status changed at the charger (fault, back online).
    EvseStatus(EvseStatusChange),
}

/// The outcome of a command ([`StationEvent::CommandResult`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandOutcome {
    /// The command.
    pub command_id: String,
    /// The outcome.
    pub result: CommandResultType,
    /// A message for the CSP (the `text` of a DisplayText: string(512)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Text<512>>,
}

/// A transaction that began at a charger ([`StationEvent::SessionStarted`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStart {
    /// The charger's transaction id (unique per CSO).
    pub transaction_id: String,
    /// Location.
    pub location_id: LocationId,
    /// EVSE.
    pub evse_uid: EvseUid,
    /// Connector.
    pub connector_id: ConnectorId,
    /// The token used (CiString(36)).
    pub token_uid: TokenUid,
    /// Its type.
    pub token_type: TokenType,
    /// The START_SESSION command that caused it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// The reservation it uses, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station_reservation_id: Option<u64>,
    /// Meter reading at start, Wh.
    pub meter_start_wh: Decimal,
    /// When.
    pub at: DateTime,
}

/// A meter reading of a running transaction ([`StationEvent::MeterValues`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterReading {
    /// The transaction.
    pub transaction_id: String,
    /// Cumulative meter reading, Wh.
    pub energy_wh: Decimal,
    /// Instantaneous power, W.
    pub power_w: Decimal,
    /// Instantaneous current, A (sum over phases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_a: Option<Decimal>,
    /// Whether the EV is drawing power (false = parking, E-07).
    pub charging: bool,
    /// When.
    pub at: DateTime,
}

/// The end of a transaction ([`StationEvent::SessionStopped`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStop {
    /// The transaction.
    pub transaction_id: String,
    /// Meter reading at the end, Wh.
    pub energy_wh: Decimal,
    /// When.
    pub at: DateTime,
}

/// An EVSE's new status at the charger ([`StationEvent::EvseStatus`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvseStatusChange {
    /// Location.
    pub location_id: LocationId,
    /// EVSE.
    pub evse_uid: EvseUid,
    /// New status.
    pub status: Status,
}

/// A charger's question: may this token charge here? (the CSO answers with a
/// [`crate::authorization::Decision`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// Location.
    pub location_id: LocationId,
    /// EVSE.
    pub evse_uid: EvseUid,
    /// The uid read (CiString(36): it goes into the real-time authorization URL and the session).
    pub token_uid: TokenUid,
    /// Its type (RFID by default).
    #[serde(default = "rfid")]
    pub token_type: TokenType,
}

fn rfid() -> TokenType {
    TokenType::Rfid
}

/// Why a command could not be handed to the chargers.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct GatewayError(pub String);

/// The way out to the chargers.
pub trait StationGateway: Send + Sync + std::fmt::Debug + 'static {
    /// Hands a command over; `Ok` means it was accepted for delivery, and its outcome will come back
    /// as a [`StationEvent::CommandResult`] (or never, which the CSO reports as TIMEOUT).
    fn send(&self, command: StationCommand) -> BoxFuture<'_, Result<(), GatewayError>>;

    /// The name shown in the operator API (`simulator`, `webhook`).
    fn name(&self) -> &'static str;
}

/// A session the CSO knows is running at a charger (what the simulator resumes after a restart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningTransaction {
    /// The transaction.
    pub transaction_id: String,
    /// The session.
    pub session_id: SessionId,
    /// Location.
    pub location_id: LocationId,
    /// EVSE.
    pub evse_uid: EvseUid,
    /// Connector.
    pub connector_id: ConnectorId,
    /// The token's uid.
    pub token_uid: String,
    /// Last meter reading, Wh.
    pub energy_wh: Decimal,
    /// Whether the EV was drawing power.
    pub charging: bool,
}

#[cfg(test)]
mod tests {
    use roaming_types::decode::{DecodeOptions, decode_slice};

    use super::*;

    /// The events of the webhook contract (`docs/api.md`, "Events in"), each as the CSO writes it: every
    /// one decodes and encodes back to the same bytes, with and without its optional fields.
    const EVENTS: &[&str] = &[
        r#"{"type":"command_result","command_id":"C1","result":"ACCEPTED"}"#,
        r#"{"type":"command_result","command_id":"C1","result":"EVSE_OCCUPIED","message":"in use"}"#,
        r#"{"type":"session_started","transaction_id":"T-77","location_id":"LOC1","evse_uid":"E1","connector_id":"1","token_uid":"TOK1","token_type":"RFID","meter_start_wh":"1000","at":"2026-01-01T10:00:00.000Z"}"#,
        r#"{"type":"session_started","transaction_id":"T-77","location_id":"LOC1","evse_uid":"E1","connector_id":"1","token_uid":"TOK1","token_type":"APP_USER","command_id":"C1","station_reservation_id":7,"meter_start_wh":"0","at":"2026-01-01T10:00:00.000Z"}"#,
        r#"{"type":"meter_values","transaction_id":"T-77","energy_wh":"3500.25","power_w":"11000","charging":true,"at":"2026-01-01T10:05:00.000Z"}"#,
        r#"{"type":"meter_values","transaction_id":"T-77","energy_wh":"3500","power_w":"0","current_a":"15.94","charging":false,"at":"2026-01-01T10:05:00.000Z"}"#,
        r#"{"type":"session_stopped","transaction_id":"T-77","energy_wh":"5000","at":"2026-01-01T11:00:00.000Z"}"#,
        r#"{"type":"evse_status","location_id":"LOC1","evse_uid":"E1","status":"OUTOFORDER"}"#,
    ];

    #[test]
    fn webhook_events_keep_their_json() {
        for text in EVENTS {
            let e: StationEvent = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(serde_json::to_string(&e).unwrap_or_default(), *text);
        }
    }

    #[test]
    fn webhook_events_take_numbers_as_numbers_or_strings() {
        let numbers = r#"{"type":"meter_values","transaction_id":"T-77","energy_wh":3500.25,"power_w":11000,"current_a":15.94,"charging":true,"at":"2026-01-01T10:05:00Z"}"#;
        let strings = r#"{"type":"meter_values","transaction_id":"T-77","energy_wh":"3500.25","power_w":"11000","current_a":"15.94","charging":true,"at":"2026-01-01T10:05:00Z"}"#;
        let a: StationEvent = serde_json::from_str(numbers).unwrap_or_else(|e| panic!("{e}"));
        let b: StationEvent = serde_json::from_str(strings).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        let started = r#"{"type":"session_started","transaction_id":"T-1","location_id":"L","evse_uid":"E","connector_id":"1","token_uid":"U","token_type":"RFID","meter_start_wh":12.5,"at":"2026-01-01T10:00:00Z"}"#;
        let e: StationEvent = serde_json::from_str(started).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            serde_json::to_string(&e)
                .unwrap_or_default()
                .contains(r#""meter_start_wh":"12.5""#)
        );
    }

    /// The operator API decodes events strictly; a malformed one is a 400 with this reason.
    #[test]
    fn malformed_webhook_events_are_refused_with_a_reason() {
        let started = r#"{"type":"session_started","transaction_id":"T-1","location_id":"L","evse_uid":"E","connector_id":"1","token_uid":"U","token_type":"RFID","meter_start_wh":"x","at":"2026-01-01T10:00:00Z"}"#;
        for (text, reason) in [
            (r#"{"type":"meter_values"}"#, ".: missing field `transaction_id`"),
            (
                r#"{"type":"session_stopped","transaction_id":"T","at":"2026-01-01T11:00:00.000Z"}"#,
                ".: missing field `energy_wh`",
            ),
            (
                r#"{"type":"no_such_event"}"#,
                "type: unknown variant `no_such_event`, expected one of `command_result`, `session_started`, \
                 `meter_values`, `session_stopped`, `evse_status`",
            ),
            (
                r#"{"type":"command_result","command_id":"C1","result":"ACCEPTED","message":5}"#,
                ".: invalid type: integer `5`, expected a string",
            ),
            (
                started,
                ".: invalid value: string \"x\", expected a Decimal type representing a fixed-point number",
            ),
            (
                r#"{"type":"evse_status","location_id":"L","evse_uid":"E","status":5}"#,
                ".: invalid type: integer `5`, expected a string",
            ),
        ] {
            let e = decode_slice::<StationEvent>(text.as_bytes(), DecodeOptions::STRICT).err();
            assert_eq!(e.map(|e| e.to_string()).as_deref(), Some(reason), "{text}");
        }
        let extra =
            r#"{"type":"evse_status","location_id":"L","evse_uid":"E","status":"AVAILABLE","extra":1}"#;
        assert!(decode_slice::<StationEvent>(extra.as_bytes(), DecodeOptions::STRICT).is_ok());
    }
}
