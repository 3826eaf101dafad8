//! Deviations from OCPI 2.2.1 that we tolerate in what peers send ("strict in what we send, tolerant
//! in what we receive where the meaning is clear"), recorded **once per peer and kind**: the first
//! sighting is stored on the peer's record ([`PeerRecord::deviations`], shown by `GET /api/peers` and
//! `peers list`) and logged once at WARN; later sightings cost one cached read and log nothing.
//!
//! Where they are detected:
//! - [`DeviationKind::ObjectAsArray`]: [`Answer::data`](crate::client::Answer::data) accepts a
//!   one-element array where one object is expected (a widely used OCPI library does this), for
//!   every answer bound to its peer: [`Core::call_peer`](crate::core::Core::call_peer) binds it;
//!   registration binds its own calls, and collects what it sees before the peer has a record.
//! - [`DeviationKind::UnusableLink`]: a pull whose `Link` does not point at the announced endpoint
//!   goes on with offset/limit ([`crate::client::pull`]); the role's pull loop records it.
//!
//! Anything else that wants to record a deviation calls [`Core::record_deviation`](
//! crate::core::Core::record_deviation) (or [`PeerStore::record_deviation`](
//! crate::registration::peers::PeerStore::record_deviation)) with a new [`DeviationKind`].
//!
//! [`PeerRecord::deviations`]: crate::registration::peers::PeerRecord::deviations

use std::sync::{Arc, Mutex};

use roaming_types::DateTime;
use serde::{Deserialize, Serialize};

use crate::registration::peers::PeerStore;

/// The longest example kept (characters): a URL and a short phrase.
pub const EXAMPLE_MAX: usize = 300;

/// A way a peer departs from OCPI 2.2.1 that we tolerate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviationKind {
    /// A single object (CommandResponse, AuthorizationInfo, Credentials, …) sent as a one-element
    /// array; the element is used.
    ObjectAsArray,
    /// A `Link` next URL that does not parse or is not on the announced endpoint (other scheme,
    /// host, port or path); the pull went on with `offset`/`limit` on the announced endpoint.
    UnusableLink,
}

impl DeviationKind {
    /// The name used in the peer view and the logs (`object_as_array`, `unusable_link`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ObjectAsArray => "object_as_array",
            Self::UnusableLink => "unusable_link",
        }
    }
}

impl std::fmt::Display for DeviationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A deviation of one peer, as recorded the first time it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deviation {
    /// What the peer does.
    pub kind: DeviationKind,
    /// When we first saw it.
    pub first_seen: DateTime,
    /// The first occurrence: the call and what was wrong (no tokens, no bodies).
    pub example: String,
}

impl Deviation {
    /// A deviation seen now; `example` is cut to [`EXAMPLE_MAX`] characters.
    pub fn now(kind: DeviationKind, example: &str) -> Self {
        Self {
            kind,
            first_seen: DateTime::now(),
            example: example.chars().take(EXAMPLE_MAX).collect(),
        }
    }
}

/// Where a decoded answer reports the deviations it tolerated.
pub trait DeviationSink: Send + Sync + std::fmt::Debug {
    /// The answer deviated in `kind` way; `example` says how (see [`Deviation::example`]).
    fn record(&self, kind: DeviationKind, example: &str);
}

/// The sink of a registered peer: records on its [`PeerRecord`](crate::registration::peers::PeerRecord).
#[derive(Debug, Clone)]
pub struct PeerDeviations {
    peers: PeerStore,
    id: String,
}

impl PeerDeviations {
    /// The sink of peer `id`.
    pub fn new(peers: &PeerStore, id: &str) -> Self {
        Self {
            peers: peers.clone(),
            id: id.to_owned(),
        }
    }
}

impl DeviationSink for PeerDeviations {
    fn record(&self, kind: DeviationKind, example: &str) {
        self.peers.record_deviation(&self.id, kind, example);
    }
}

/// A sink that keeps what it is told, one entry per kind (the handshake, before the peer has a
/// record; the deviations become part of the new record).
#[derive(Debug, Default)]
pub struct Collector(Mutex<Vec<Deviation>>);

impl Collector {
    /// An empty collector, shareable as a sink.
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// What was collected, first sighting per kind.
    pub fn take(&self) -> Vec<Deviation> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl DeviationSink for Collector {
    fn record(&self, kind: DeviationKind, example: &str) {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !seen.iter().any(|d| d.kind == kind) {
            seen.push(Deviation::now(kind, example));
        }
    }
}

/// Logs a deviation the first time it is recorded for a peer (the one WARN per peer and kind).
pub(crate) fn log_first(peer: &str, d: &Deviation) {
    tracing::warn!(
        peer.id = %peer,
        deviation = %d.kind,
        example = %d.example,
        "peer deviates from OCPI 2.2.1; tolerated and recorded (shown in the peer view, logged once)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::peers::put_peer;
    use crate::registration::peers::tests::peer;
    use crate::store::{StoreError, StoreHandle};

    #[test]
    fn a_deviation_is_recorded_once_per_peer_and_kind() {
        let store = StoreHandle::memory();
        let peers = PeerStore::new(store.clone());
        peers
            .write(|tx| {
                put_peer(tx, &peer("NL-ONE"))?;
                put_peer(tx, &peer("NL-TWO"))?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let sink = PeerDeviations::new(&peers, "NL-ONE");
        assert!(peers.record_deviation("NL-ONE", DeviationKind::ObjectAsArray, "first"));
        sink.record(DeviationKind::ObjectAsArray, "second");
        assert!(!peers.record_deviation("nl-one", DeviationKind::ObjectAsArray, "third"));
        assert!(peers.record_deviation("NL-ONE", DeviationKind::UnusableLink, "link"));
        assert!(peers.record_deviation("NL-TWO", DeviationKind::ObjectAsArray, "other peer"));
        // Unknown peers record nothing.
        assert!(!peers.record_deviation("NL-NONE", DeviationKind::ObjectAsArray, "x"));
        // Stored: a fresh PeerStore over the same store (no cache) sees the first example only.
        let one = PeerStore::new(store).get("NL-ONE").unwrap().unwrap();
        let got: Vec<(DeviationKind, &str)> = one
            .deviations
            .iter()
            .map(|d| (d.kind, d.example.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (DeviationKind::ObjectAsArray, "first"),
                (DeviationKind::UnusableLink, "link")
            ]
        );
        assert_eq!(one.view().deviations, one.deviations);
    }

    #[test]
    fn the_warning_is_logged_once_however_often_the_peer_deviates() {
        let peers = PeerStore::new(StoreHandle::memory());
        peers.write(|tx| put_peer(tx, &peer("NL-ONE"))).unwrap();
        let text = crate::registration::peers::tests::logs_of(|| {
            let sink = PeerDeviations::new(&peers, "NL-ONE");
            for i in 0..5 {
                sink.record(DeviationKind::ObjectAsArray, &format!("call {i}"));
            }
        });
        let warnings: Vec<&str> = text.lines().filter(|l| l.contains("WARN")).collect();
        assert_eq!(warnings.len(), 1, "{text}");
        assert!(warnings[0].contains("deviation=object_as_array"), "{text}");
        assert!(warnings[0].contains("call 0"), "{text}");
    }

    #[test]
    fn examples_are_kept_short_and_a_collector_keeps_the_first_per_kind() {
        let long = "x".repeat(EXAMPLE_MAX * 2);
        assert_eq!(
            Deviation::now(DeviationKind::UnusableLink, &long).example.len(),
            EXAMPLE_MAX
        );
        let c = Collector::shared();
        c.record(DeviationKind::ObjectAsArray, "a");
        c.record(DeviationKind::ObjectAsArray, "b");
        let got = c.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].example, "a");
        assert!(c.take().is_empty());
    }

    #[test]
    fn kinds_have_stable_names() {
        for k in [DeviationKind::ObjectAsArray, DeviationKind::UnusableLink] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
