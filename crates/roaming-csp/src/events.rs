//! Live events of the CSP for the provider's app backend: every change the CSP stores is announced
//! after it is durable, and streamed by the operator API as server-sent events (`GET /api/events`).

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Something the CSP stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CspEvent {
    /// A location was created or replaced.
    Location {
        /// Owner `CC-PID`.
        owner: String,
        /// Location id.
        location: String,
        /// Its `last_updated`.
        last_updated: String,
    },
    /// An EVSE changed (UC1-3); carries its status.
    Evse {
        /// Owner `CC-PID`.
        owner: String,
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
        /// Its status.
        status: String,
        /// Its `last_updated`.
        last_updated: String,
    },
    /// A tariff was stored or deleted.
    Tariff {
        /// Owner `CC-PID`.
        owner: String,
        /// Tariff id.
        tariff: String,
        /// Whether it was deleted.
        deleted: bool,
    },
    /// A session of one of our drivers changed (UC3-6).
    Session {
        /// The CSO `CC-PID`.
        owner: String,
        /// Session id.
        session: String,
        /// The driver's contract id.
        contract_id: String,
        /// Its status.
        status: String,
        /// Energy so far, kWh.
        kwh: String,
        /// Charging periods held.
        periods: usize,
        /// Its `last_updated`.
        last_updated: String,
    },
    /// A command got its response or result (UC3-2, UC3-4, UC3-8).
    Command {
        /// Command id (the last segment of its `response_url`).
        id: String,
        /// START_SESSION, STOP_SESSION, …
        command: String,
        /// The driver's contract id, when the command is for a token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contract_id: Option<String>,
        /// Where it is: SENT, ACCEPTED, REJECTED, … or the CommandResult.
        state: String,
    },
    /// A CDR of one of our drivers arrived (UC3-9).
    Cdr {
        /// The CSO `CC-PID`.
        owner: String,
        /// CDR id.
        cdr: String,
        /// The driver's contract id.
        contract_id: String,
        /// Total cost excl. VAT.
        total_cost: String,
    },
    /// A CDR was checked (UC3-5): ACCEPTED or DISPUTED with reasons.
    CdrChecked {
        /// The CSO `CC-PID`.
        owner: String,
        /// CDR id.
        cdr: String,
        /// The driver's contract id.
        contract_id: String,
        /// ACCEPTED or DISPUTED.
        verdict: String,
        /// Why disputed.
        reasons: Vec<String>,
    },
    /// A charge plan changed (UC3-7, UC3-10): a request's response or result, or the CSO's new plan.
    Profile {
        /// The CSO `CC-PID`.
        owner: String,
        /// Session id.
        session: String,
        /// The request, if this is about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<String>,
        /// SET, GET, CLEAR, or ACTIVE (the CSO's PUT).
        kind: String,
        /// Where it is (ACCEPTED, REJECTED, TIMEOUT, UPDATED…).
        state: String,
        /// The limit of a pushed plan (`7000 W`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<String>,
    },
    /// A pull from a CSO finished.
    Synced {
        /// The peer.
        peer: String,
        /// Objects stored.
        stored: usize,
        /// Objects removed (full pulls).
        removed: usize,
    },
}

/// The event bus.
#[derive(Debug, Clone)]
pub struct Events(broadcast::Sender<CspEvent>);

impl Default for Events {
    fn default() -> Self {
        Self(broadcast::channel(4096).0)
    }
}

impl CspEvent {
    /// The `type` of the event, as in its JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Location { .. } => "location",
            Self::Evse { .. } => "evse",
            Self::Tariff { .. } => "tariff",
            Self::Session { .. } => "session",
            Self::Command { .. } => "command",
            Self::Cdr { .. } => "cdr",
            Self::CdrChecked { .. } => "cdr_checked",
            Self::Profile { .. } => "profile",
            Self::Synced { .. } => "synced",
        }
    }

    /// The contract id the event concerns, if any.
    pub fn contract_id(&self) -> Option<&str> {
        match self {
            Self::Session { contract_id, .. } => Some(contract_id),
            Self::Command { contract_id, .. } => contract_id.as_deref(),
            Self::Cdr { contract_id, .. } | Self::CdrChecked { contract_id, .. } => Some(contract_id),
            _ => None,
        }
    }
}

impl Events {
    /// Announces an event (nobody listening is fine).
    pub fn send(&self, e: CspEvent) {
        let _ = self.0.send(e);
    }

    /// Announces a stored session.
    pub fn session(&self, s: &roaming_types::modules::sessions::Session) {
        self.send(CspEvent::Session {
            owner: s.party().to_string(),
            session: s.id.as_str().to_owned(),
            contract_id: s.cdr_token.contract_id.as_str().to_owned(),
            status: s.status.as_str().to_owned(),
            kwh: s.kwh.to_string(),
            periods: s.charging_periods.len(),
            last_updated: s.last_updated.to_string(),
        });
    }

    /// Subscribes.
    pub fn subscribe(&self) -> broadcast::Receiver<CspEvent> {
        self.0.subscribe()
    }
}
