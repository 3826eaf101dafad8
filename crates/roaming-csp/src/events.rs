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

impl Events {
    /// Announces an event (nobody listening is fine).
    pub fn send(&self, e: CspEvent) {
        let _ = self.0.send(e);
    }

    /// Subscribes.
    pub fn subscribe(&self) -> broadcast::Receiver<CspEvent> {
        self.0.subscribe()
    }
}
