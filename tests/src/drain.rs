//! The end-of-test check (as crates.io's `TestApp` does on drop): when a test's nodes are dropped,
//! every outbox of every node still running must have drained, and nothing may have been
//! dead-lettered, unless the test said so ([`Node::expect_undelivered`],
//! [`Node::expect_dead_letters`]).
//!
//! The check runs once per test, when the first of its running nodes is dropped, over all of them
//! (so that a CSO's pushes to a CSP dropped just before it are not taken for undelivered ones).
//! Nodes the test stopped ([`Node::stop`], [`Node::pause`], [`Node::restart`]) are not checked;
//! nodes are grouped by the thread that started them, which is the test's. Pending entries are
//! waited for up to [`DRAIN_WAIT`]: the wait costs nothing when every outbox is already empty. A
//! test that is already failing (the thread is panicking) is not checked.
//!
//! [`Node::expect_undelivered`]: crate::Node::expect_undelivered
//! [`Node::expect_dead_letters`]: crate::Node::expect_dead_letters
//! [`Node::stop`]: crate::Node::stop
//! [`Node::pause`]: crate::Node::pause
//! [`Node::restart`]: crate::Node::restart

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

/// How long the check waits for pending entries to be delivered.
pub const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// Reads a node's outboxes, one JSON object per peer as `GET /api/outbox` shows them.
pub(crate) type StatusFn = Box<dyn Fn() -> Result<Vec<Value>, String> + Send + Sync>;

/// What the check knows of one running node.
pub(crate) struct Watch {
    name: String,
    status: StatusFn,
    /// Pending entries are expected at the end.
    pub(crate) undelivered_ok: AtomicBool,
    /// Dead letters are expected.
    pub(crate) dead_ok: AtomicBool,
    checked: AtomicBool,
    running: AtomicBool,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("name", &self.name)
            .field("undelivered_ok", &self.undelivered_ok)
            .field("dead_ok", &self.dead_ok)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The running nodes started on this thread (this test's).
    static RUNNING: RefCell<Vec<Arc<Watch>>> = const { RefCell::new(Vec::new()) };
}

impl Watch {
    /// Registers a node that has started; `status` reads its outboxes.
    pub(crate) fn register(name: String, status: StatusFn, undelivered_ok: bool, dead_ok: bool) -> Arc<Self> {
        let w = Arc::new(Self {
            name,
            status,
            undelivered_ok: AtomicBool::new(undelivered_ok),
            dead_ok: AtomicBool::new(dead_ok),
            checked: AtomicBool::new(false),
            running: AtomicBool::new(true),
        });
        RUNNING.with(|r| r.borrow_mut().push(Arc::clone(&w)));
        w
    }

    /// The node stops (deliberately or at the end of the test): it is checked no more.
    pub(crate) fn forget(self: &Arc<Self>) {
        self.running.store(false, Ordering::SeqCst);
        // A node dropped on another thread than the one that started it is only marked.
        RUNNING.with(|r| r.borrow_mut().retain(|w| !Arc::ptr_eq(w, self)));
    }

    /// The check at the drop of this node: unless an earlier drop of this test checked it, this node
    /// and every other running one of the test, once. `Err` describes what was left.
    pub(crate) fn check_at_drop(self: &Arc<Self>) -> Result<(), String> {
        if self.checked.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let mut group = vec![Arc::clone(self)];
        RUNNING.with(|r| {
            for w in r.borrow().iter() {
                if w.running.load(Ordering::SeqCst) && !w.checked.swap(true, Ordering::SeqCst) {
                    group.push(Arc::clone(w));
                }
            }
        });
        settle(&group)
    }
}

/// Waits (for at most [`DRAIN_WAIT`]) until no node of `group` has an unexpected pending entry, then
/// reports what is left and any unexpected dead letter.
fn settle(group: &[Arc<Watch>]) -> Result<(), String> {
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let (pending, dead) = look(group);
        if pending.is_empty() || Instant::now() >= deadline {
            if pending.is_empty() && dead.is_empty() {
                return Ok(());
            }
            let mut msg = String::from("the test left its outboxes unsettled:\n");
            if !pending.is_empty() {
                let _ = writeln!(
                    msg,
                    "  not delivered within {} s of the end (call `expect_undelivered()` on the node if the test means it):",
                    DRAIN_WAIT.as_secs()
                );
                for line in pending {
                    let _ = writeln!(msg, "    {line}");
                }
            }
            if !dead.is_empty() {
                msg.push_str(
                    "  dead letters (call `expect_dead_letters()` on the node if the test means them):\n",
                );
                for line in dead {
                    let _ = writeln!(msg, "    {line}");
                }
            }
            return Err(msg);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The unexpected pending outboxes and dead letters of `group`, one line each. The status is read
/// in the shape of the operator API's `GET /api/outbox`.
fn look(group: &[Arc<Watch>]) -> (Vec<String>, Vec<String>) {
    let (mut pending, mut dead) = (Vec::new(), Vec::new());
    for w in group {
        let undelivered_ok = w.undelivered_ok.load(Ordering::SeqCst);
        let dead_ok = w.dead_ok.load(Ordering::SeqCst);
        if undelivered_ok && dead_ok {
            continue;
        }
        let all = match (w.status)() {
            Ok(all) => all,
            Err(e) => {
                pending.push(format!("{}: cannot read the outbox: {e}", w.name));
                continue;
            }
        };
        for s in all {
            let n = s["pending"].as_u64().unwrap_or(0);
            let peer = s["peer"].as_str().unwrap_or("?");
            if n > 0 && !undelivered_ok {
                pending.push(format!(
                    "{} → {peer}: {n} pending, oldest {}",
                    w.name,
                    describe(&s["oldest"])
                ));
            }
            if !dead_ok {
                for e in s["dead"].as_array().into_iter().flatten() {
                    dead.push(format!("{} → {peer}: {}", w.name, describe(e)));
                }
            }
        }
    }
    (pending, dead)
}

/// An outbox entry as `PUT locations/… (3 attempts, last error: …)`.
fn describe(e: &Value) -> String {
    let error = e["last_error"]
        .as_str()
        .map(|x| format!(", last error: {x}"))
        .unwrap_or_default();
    format!(
        "{} {} ({} attempts{error})",
        e["push"]["op"]["method"].as_str().unwrap_or("?"),
        e["push"]["object"].as_str().unwrap_or("?"),
        e["attempts"]
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::foreign::ForeignPeer;
    use crate::{Node, eventually};

    /// A CSP whose token push a foreign CPO refused for good (it mounts no Tokens answer: 404). The
    /// peer comes first, so that the node is dropped before it.
    async fn csp_with_a_dead_letter() -> (ForeignPeer, Node) {
        let csp = Node::csp().start().await;
        let cpo = ForeignPeer::cpo("NL-FOR")
            .module("tokens", "RECEIVER")
            .register(&csp)
            .await;
        let _: Value = csp
            .op(http::Method::POST, "/api/tokens", &json!({ "uid": "D0000001" }))
            .await;
        eventually(Duration::from_secs(10), || async {
            let outbox: Vec<Value> = csp.op_get("/api/outbox").await;
            outbox
                .iter()
                .any(|o| o["dead"].as_array().is_some_and(|d| !d.is_empty()))
                .then_some(())
        })
        .await
        .expect("the push was refused for good");
        (cpo, csp)
    }

    #[tokio::test]
    #[should_panic(expected = "dead letters")]
    async fn a_dead_letter_fails_the_test_when_its_node_is_dropped() {
        let (_cpo, _csp) = csp_with_a_dead_letter().await;
    }

    /// The check is skipped while the test unwinds (a panic in `Drop` then would abort the run).
    #[tokio::test]
    #[should_panic(expected = "the test's own failure")]
    async fn a_failing_test_is_not_checked() {
        let (_cpo, _csp) = csp_with_a_dead_letter().await;
        panic!("the test's own failure");
    }

    #[tokio::test]
    async fn a_test_that_expects_dead_letters_passes() {
        let (_cpo, csp) = csp_with_a_dead_letter().await;
        csp.expect_dead_letters();
        // The refused attempt is counted in the dead letter.
        let outbox: Vec<Value> = csp.op_get("/api/outbox").await;
        let dead = &outbox[0]["dead"][0];
        assert_eq!(dead["attempts"], 1, "{dead}");
    }
}
