//! Repeat-suppressed logging (#12 item 15): an error that repeats in a loop (a full disk makes every
//! write fail, hundreds of times a second) is logged once, then at most once per [`INTERVAL`] per key,
//! each such line carrying `suppressed`, the number of repeats left out since the previous line.
//!
//! ```ignore
//! roaming_peer::throttled!(error, "outbox: store read failed", peer.id = %id, error = %e, "outbox: store read failed");
//! ```
//!
//! The key names the call site (and whatever else should be counted apart, e.g. a peer); the rest is
//! what `tracing::error!` (or `warn!`, `info!`) takes. A key that stops repeating logs its next
//! occurrence at once, with the count of the repeats before it. No crate among our dependencies does
//! this (rate limiters such as `governor` count but do not report what they dropped), and it is small.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

#[doc(hidden)]
pub use tracing as __tracing;

/// At most one line per key in this time.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Keys kept at most; beyond it, keys quiet for an interval are forgotten.
const MAX_KEYS: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Slot {
    logged_at: Instant,
    suppressed: u64,
}

/// Per-key repeat suppression.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    slots: Mutex<BTreeMap<String, Slot>>,
}

impl Throttle {
    /// A throttle allowing one line per key per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            slots: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether an occurrence of `key` is logged now: `Some(n)` with the repeats suppressed since the
    /// last line of that key, `None` to leave it out (it is counted).
    pub fn check(&self, key: &str) -> Option<u64> {
        self.check_at(key, Instant::now())
    }

    /// [`check`](Self::check) at a given time.
    pub fn check_at(&self, key: &str, now: Instant) -> Option<u64> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = slots.get_mut(key) {
            if now.saturating_duration_since(slot.logged_at) < self.interval {
                slot.suppressed += 1;
                return None;
            }
            let suppressed = slot.suppressed;
            *slot = Slot {
                logged_at: now,
                suppressed: 0,
            };
            return Some(suppressed);
        }
        if slots.len() >= MAX_KEYS {
            let interval = self.interval;
            slots.retain(|_, s| now.saturating_duration_since(s.logged_at) < interval);
            if slots.len() >= MAX_KEYS {
                slots.clear();
            }
        }
        slots.insert(
            key.to_owned(),
            Slot {
                logged_at: now,
                suppressed: 0,
            },
        );
        Some(0)
    }
}

/// The throttle of the whole process, which [`throttled!`](crate::throttled) uses.
pub fn global() -> &'static Throttle {
    static GLOBAL: OnceLock<Throttle> = OnceLock::new();
    GLOBAL.get_or_init(|| Throttle::new(INTERVAL))
}

/// Logs like `tracing::<level>!` unless the same key was logged less than [`INTERVAL`] ago; the
/// lines that are logged carry `suppressed` (see the [module documentation](crate::throttle)).
#[macro_export]
macro_rules! throttled {
    ($level:ident, $key:expr, $($rest:tt)+) => {
        if let Some(suppressed) = $crate::throttle::global().check($key) {
            $crate::throttle::__tracing::$level!(suppressed, $($rest)+);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_then_one_line_per_interval_with_the_count() {
        let t = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.check_at("disk", t0), Some(0));
        for i in 1..=900 {
            assert_eq!(t.check_at("disk", t0 + Duration::from_millis(i)), None);
        }
        // Another key is counted apart.
        assert_eq!(t.check_at("other", t0 + Duration::from_secs(1)), Some(0));
        assert_eq!(t.check_at("disk", t0 + Duration::from_secs(10)), Some(900));
        assert_eq!(t.check_at("disk", t0 + Duration::from_secs(11)), None);
        // Quiet for a while: the next one is logged at once, with what came before it.
        assert_eq!(t.check_at("disk", t0 + Duration::from_secs(60)), Some(1));
    }

    #[test]
    fn the_number_of_keys_is_bounded() {
        let t = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..(MAX_KEYS * 2) {
            assert_eq!(t.check_at(&format!("k{i}"), t0), Some(0));
        }
        assert!(t.slots.lock().unwrap().len() <= MAX_KEYS);
    }
}

/// The error paths that repeat in loops, driven against a failing store: a bounded number of lines.
#[cfg(test)]
mod storm_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use roaming_types::modules::types::Role;
    use roaming_types::modules::versions::{InterfaceRole, ModuleId};

    use crate::core::{Core, StartError};
    use crate::endpoint::RoleParts;
    use crate::outbox::{Outbox, Push, PushOp};
    use crate::store::{MemoryStore, Space, StoreHandle};
    use crate::testing::{Faults, FaultyStore, LogCapture, TestEndpoint, defaults};

    async fn ticking(core: Arc<Core>) -> Result<RoleParts, StartError> {
        let sweeper = Arc::clone(&core);
        let tick = async move {
            let store = sweeper.store.clone();
            sweeper
                .every(Duration::from_millis(1), "test sweep", move || {
                    let store = store.clone();
                    async move { store.get(Space::META, b"x").map(|_| ()) }
                })
                .await;
        };
        Ok(RoleParts {
            tasks: vec![Box::pin(tick)],
            ..RoleParts::default()
        })
    }

    async fn no_modules(_core: Arc<Core>) -> Result<RoleParts, StartError> {
        Ok(RoleParts::default())
    }

    async fn until(what: &str, f: impl Fn() -> bool) {
        for _ in 0..3000 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never: {what}");
    }

    fn faulty() -> (StoreHandle, Arc<Faults>) {
        let (store, faults) = FaultyStore::new(Arc::new(MemoryStore::new()));
        (StoreHandle::new(store), faults)
    }

    /// #12 item 15: a sweeper (`Core::every`) and OCPI requests failing on the store hundreds of times
    /// log two lines each at most, instead of one per failure.
    #[tokio::test(flavor = "current_thread")]
    async fn a_failing_store_logs_a_bounded_number_of_lines() {
        let (logs, _guard) = LogCapture::start();
        let dir = tempfile::tempdir().unwrap();
        let (store, faults) = faulty();
        let ep = TestEndpoint::start_with_store(
            &defaults(Role::Cpo),
            dir.path().to_path_buf(),
            &[],
            None,
            Some(store),
            ticking,
        )
        .await
        .unwrap();
        faults.fail_reads(true);
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let status = client
                .get(&ep.versions_url)
                .header("authorization", "Token dW5rbm93bg==")
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 500);
        }
        until("hundreds of sweeps failed", || faults.injected() >= 500).await;
        let sweeps = logs.lines_with("test sweep failed");
        assert!(sweeps.len() <= 2, "{} lines: {sweeps:#?}", sweeps.len());
        let requests = logs.lines_with("request failed");
        assert!(requests.len() <= 2, "{} lines", requests.len());
        assert!(sweeps[0].contains("suppressed=0"), "{}", sweeps[0]);
        faults.fail_reads(false);
        ep.stop().await;
    }

    /// #12 item 15: the outbox's delivery loop does not spin on a failing store, however often it is
    /// woken, logs its failure a bounded number of times, and delivers again once the store works.
    #[tokio::test(flavor = "current_thread")]
    async fn the_outbox_waits_out_a_failing_store_and_resumes() {
        let (logs, _guard) = LogCapture::start();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (store, faults) = faulty();
        let cso = TestEndpoint::start_with_store(
            &defaults(Role::Cpo),
            a.path().to_path_buf(),
            &[],
            None,
            Some(store),
            no_modules,
        )
        .await
        .unwrap();
        let csp = TestEndpoint::start(
            &defaults(Role::Emsp),
            b.path().to_path_buf(),
            &[],
            None,
            no_modules,
        )
        .await
        .unwrap();
        let inv = cso.operator.invite().await.unwrap();
        csp.operator.connect(&inv.versions_url, &inv.token).await.unwrap();
        // Give the delivery task time to start and go idle.
        tokio::time::sleep(Duration::from_millis(100)).await;

        faults.fail_reads(true);
        let before = faults.injected();
        for _ in 0..500 {
            cso.core.outbox.wake("DE-CSP");
            tokio::task::yield_now().await;
        }
        let reads = faults.injected() - before;
        assert!(reads <= 20, "{reads} failed reads for 500 wakes: the loop spins");
        assert!(logs.lines_with("outbox: store read failed").len() <= 2);
        faults.fail_reads(false);

        // Alive: a push the CSP cannot take (it has no such module) becomes a dead letter.
        let push = Push {
            object: "locations/x".to_owned(),
            module: ModuleId::Locations,
            role: InterfaceRole::Receiver,
            path: vec!["x".to_owned()],
            op: PushOp::Delete,
            to: None,
            query: Vec::new(),
            group: None,
            appended: Vec::new(),
        };
        cso.core
            .store
            .transact(|tx| Outbox::enqueue(tx, "DE-CSP", push))
            .unwrap();
        cso.core.commit(["DE-CSP".to_owned()]).await.unwrap();
        for _ in 0..3000 {
            let status = Outbox::status(&cso.core).unwrap();
            if status.iter().any(|s| !s.dead.is_empty()) {
                csp.stop().await;
                cso.stop().await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the outbox did not deliver after the store recovered");
    }
}
