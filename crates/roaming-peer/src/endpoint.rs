//! The running endpoint: [`run`] serves both faces over a [`Core`] until shutdown (style §1), with
//! the role crate's [`RoleParts`]. This is the top of the crate: it uses the faces, the outbox and
//! the core; nothing below imports it ([`crate::core`] holds what they share).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures::future::BoxFuture;
use roaming_types::modules::types::Role;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::core::Core;
pub use crate::core::StartError;
use crate::operator::{self, InstanceFile};
use crate::server::{self, OcpiModules};
use crate::tls;

/// What a role crate adds to the shared machinery.
#[derive(Default)]
pub struct RoleParts {
    /// Its OCPI modules.
    pub ocpi: OcpiModules,
    /// Its operator API routes (with state applied); they are served behind the operator key.
    pub operator: Router,
    /// Background tasks; each should return when [`Core::shutdown_signal`] resolves.
    pub tasks: Vec<BoxFuture<'static, ()>>,
}

impl std::fmt::Debug for RoleParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleParts")
            .field("ocpi", &self.ocpi)
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

/// Where a started endpoint can be reached.
#[derive(Debug, Clone)]
pub struct Addresses {
    /// The OCPI face's public base URL.
    pub ocpi_url: String,
    /// The versions URL.
    pub versions_url: String,
    /// The operator API base URL.
    pub operator_url: String,
}

/// Serves both faces until `shutdown` resolves; then stops background tasks and drains.
pub async fn run(
    core: Arc<Core>,
    ocpi_listener: TcpListener,
    operator_listener: TcpListener,
    parts: RoleParts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let config = &core.config;
    let server_tls = match &config.tls {
        Some(files) => Some(tls::server_config(
            &files.cert,
            &files.key,
            config.tls_min_version,
        )?),
        None => {
            tracing::warn!(listen = %config.listen, "serving OCPI over plain HTTP on loopback: configure tls.cert and tls.key for real peers");
            None
        }
    };
    let key = operator::ensure_key(&config.data_dir, config.operator_key.as_deref())?;
    let operator_addr = operator_listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    if !operator_addr.ip().is_loopback() && server_tls.is_none() {
        return Err(StartError::Other(format!(
            "the operator API at {operator_addr} is not on loopback: configure TLS or bind it to 127.0.0.1"
        )));
    }
    let operator_scheme = if operator_addr.ip().is_loopback() {
        "http"
    } else {
        "https"
    };
    let addresses = Addresses {
        ocpi_url: core.base_url().to_owned(),
        versions_url: core.versions_url(),
        operator_url: format!("{operator_scheme}://{operator_addr}"),
    };
    // Before anything is acknowledged: can the store write and make it durable? (A full disk that
    // was not freed fails here, clearly, and the supervisor tries again later.)
    probe_store(&core).await?;
    let instance = InstanceFile::new(
        &config.data_dir,
        addresses.operator_url.clone(),
        addresses.ocpi_url.clone(),
        addresses.versions_url.clone(),
    )
    .write()?;

    let ocpi_app = server::ocpi_app(Arc::clone(&core), parts.ocpi);
    let operator_app = operator::app(
        Arc::clone(&core),
        key,
        parts.operator,
        tokio::runtime::Handle::current(),
    );
    let drain = config.request_timeout.min(Duration::from_secs(30));
    let limits = server::serve::Limits::from_config(config);

    let mut tasks: Vec<_> = parts.tasks.into_iter().map(tokio::spawn).collect();
    tasks.push(tokio::spawn(crate::outbox::run(
        Arc::clone(&core),
        core.config.push_backoff,
    )));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let ocpi = tokio::spawn(server::serve::serve(
        ocpi_listener,
        ocpi_app,
        server_tls.clone(),
        stop(stop_rx.clone()),
        drain,
        limits,
    ));
    let operator_tls = if operator_scheme == "https" {
        server_tls
    } else {
        None
    };
    let face_done = serve_operator_face(
        operator_listener,
        operator_app,
        operator_tls,
        stop(stop_rx),
        drain,
        limits,
    )?;
    core.set_listening();
    tracing::info!(
        role = %config.role,
        party = %config.party,
        ocpi.url = %addresses.ocpi_url,
        versions_url = %addresses.versions_url,
        operator.url = %addresses.operator_url,
        "endpoint started"
    );
    let store_failed = core.store.failed();
    let failed = tokio::select! {
        () = shutdown => None,
        reason = store_failed => Some(reason),
    };
    match &failed {
        // One line that says what happened and what to do (#12 item 14): sled keeps an I/O error
        // until it is reopened, so running on could only fail every write.
        Some(reason) => tracing::error!(
            data_dir = %config.data_dir.display(),
            reason = %reason,
            "the store failed and cannot write any more: stopping (exit code 1) so that a restart reopens it. Writes acknowledged before are on disk. Free space or fix the disk of the data directory; a supervisor with Restart=on-failure restarts the endpoint, which refuses to start until the store can write"
        ),
        None => tracing::info!("shutting down: draining requests"),
    }
    core.begin_shutdown();
    let _ = stop_tx.send(true);
    let _ = ocpi.await;
    let _ = face_done.await;
    for t in tasks {
        let _ = tokio::time::timeout(drain, t).await;
    }
    if let Some(reason) = failed {
        instance.remove();
        return Err(StartError::StoreFailed(reason));
    }
    core.store.durable().await?;
    instance.remove();
    tracing::info!("endpoint stopped");
    Ok(())
}

/// A small write made durable at start: the store works before we acknowledge anything.
async fn probe_store(core: &Core) -> Result<(), StartError> {
    let mut b = crate::store::Batch::new();
    b.put(
        crate::store::Space::META,
        b"start_probe".to_vec(),
        roaming_types::DateTime::now().to_string().into_bytes(),
    );
    let written = match core.store.apply(b) {
        Ok(()) => core.store.durable().await,
        Err(e) => Err(e),
    };
    written.map_err(|e| {
        StartError::Other(format!(
            "the store in {} cannot write ({e}): free space or fix the disk, then start again",
            core.config.data_dir.display()
        ))
    })
}

/// Serves the operator face from a thread with a runtime of its own (#12 item 17): liveness and
/// readiness answer there even when every worker of the endpoint's runtime is blocked (a frozen disk
/// blocks the synchronous store calls of handlers); the other routes are sent to the endpoint's
/// runtime ([`operator::app`]). The receiver resolves when the face has stopped.
fn serve_operator_face(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
    limits: server::serve::Limits,
) -> Result<tokio::sync::oneshot::Receiver<()>, StartError> {
    let listener = listener
        .into_std()
        .map_err(|e| StartError::Other(format!("operator face: {e}")))?;
    let (done_tx, done) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("operator-face".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "operator face: cannot start its runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(l) => server::serve::serve(l, app, tls, stop, drain, limits).await,
                    Err(e) => tracing::error!(error = %e, "operator face: cannot listen"),
                }
            });
            let _ = done_tx.send(());
        })
        .map_err(|e| StartError::Other(format!("operator face: {e}")))?;
    Ok(done)
}

/// Resolves on SIGINT (ctrl-c) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The default data directory path for a role (what both `serve` and the CLI use).
pub fn default_data_dir(role: &Role) -> PathBuf {
    match role {
        Role::Cpo => PathBuf::from("cso-data"),
        _ => PathBuf::from("csp-data"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use roaming_types::modules::types::Role;

    use super::{Core, RoleParts, StartError};
    use crate::store::{MemoryStore, StoreHandle};
    use crate::testing::{FaultyStore, LogCapture, TestEndpoint, defaults};

    async fn no_modules(_core: Arc<Core>) -> Result<RoleParts, StartError> {
        Ok(RoleParts::default())
    }

    /// #12 item 14: when the store breaks (as sled does on a full disk: every later operation fails
    /// until it is reopened), the endpoint does not run on unable to write: it is not ready, logs one
    /// error that says why and what to do, drains and ends with an error (exit code 1 in `serve`).
    #[tokio::test(flavor = "current_thread")]
    async fn a_broken_store_stops_the_endpoint_with_one_clear_error() {
        let (logs, _guard) = LogCapture::start();
        let dir = tempfile::tempdir().unwrap();
        let (store, faults) = FaultyStore::new(Arc::new(MemoryStore::new()));
        let ep = TestEndpoint::start_with_store(
            &defaults(Role::Cpo),
            dir.path().to_path_buf(),
            &[],
            None,
            Some(StoreHandle::new(store)),
            no_modules,
        )
        .await
        .unwrap();
        assert!(ep.operator.ready().await.unwrap().ready);
        ep.operator.invite().await.expect("a write works");
        faults.break_store();
        assert!(ep.operator.invite().await.is_err(), "a write fails");
        let core = Arc::clone(&ep.core);
        let ended = tokio::time::timeout(std::time::Duration::from_secs(30), ep.ended())
            .await
            .expect("the endpoint kept running on a broken store");
        let reason = core.readiness().reason.unwrap_or_default();
        assert!(reason.starts_with("store failed: injected failure"), "{reason}");
        match ended {
            Err(StartError::StoreFailed(r)) => assert!(r.contains("injected failure"), "{r}"),
            other => panic!("the endpoint did not stop on the broken store: {other:?}"),
        }
        let lines = logs.lines_with("the store failed and cannot write any more");
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].contains(" ERROR "), "{}", lines[0]);
    }
}
