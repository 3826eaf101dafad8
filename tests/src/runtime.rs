//! Each node runs on a runtime of its own, on threads of its own, so that the end-of-test check
//! ([`crate::drain`]) can wait for a node's outbox from `Drop` — the test's own runtime is blocked
//! there (a `#[tokio::test]` runtime has one thread) while the node keeps delivering.
//!
//! The node's runtime has the shape of the test's (one thread, or as many workers as the test's), and
//! its threads log to the test's `tracing` dispatcher (`LogCapture` sees the node's lines).

use std::cell::RefCell;
use std::time::Duration;

use tokio::runtime::{Builder, Handle, RuntimeFlavor};
use tokio::sync::oneshot;

thread_local! {
    /// The test's dispatcher on a runtime thread, for as long as the thread lives.
    static DISPATCH: RefCell<Option<tracing::dispatcher::DefaultGuard>> = const { RefCell::new(None) };
}

/// A node's runtime; dropping it stops the runtime (cancelling whatever still runs on it).
#[derive(Debug)]
pub(crate) struct NodeRuntime {
    /// Where the node's tasks are spawned.
    pub(crate) handle: Handle,
    stop: Option<oneshot::Sender<()>>,
}

impl NodeRuntime {
    /// Starts a runtime shaped like the current one, driven by a thread named after `name`.
    pub(crate) fn start(name: &str) -> Self {
        let workers = Handle::try_current()
            .ok()
            .filter(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
            .map(|h| h.metrics().num_workers());
        let mut builder = match workers {
            Some(n) => {
                let mut b = Builder::new_multi_thread();
                b.worker_threads(n.max(1));
                b
            }
            None => Builder::new_current_thread(),
        };
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let on_start = dispatch.clone();
        let rt = builder
            .enable_all()
            .on_thread_start(move || {
                let guard = tracing::dispatcher::set_default(&on_start);
                DISPATCH.with(|d| *d.borrow_mut() = Some(guard));
            })
            .on_thread_stop(|| DISPATCH.with(|d| drop(d.borrow_mut().take())))
            .build()
            .expect("a node runtime");
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("node {name}"))
            .spawn(move || {
                let _guard = tracing::dispatcher::set_default(&dispatch);
                rt.block_on(async {
                    let _ = stopped.await;
                });
                // As a test's runtime ends: the node's tasks are cancelled; blocking work gets a moment.
                rt.shutdown_timeout(Duration::from_secs(5));
            })
            .expect("a node thread");
        Self {
            handle,
            stop: Some(stop),
        }
    }
}

impl Drop for NodeRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
