//! The running endpoint: [`Core`] (configuration, store, peers, client, public URL) shared by both
//! faces and the role crate, and [`run`], which serves both faces until shutdown (style §1).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures::future::BoxFuture;
use roaming_types::auth::CredentialsToken;
use roaming_types::modules::credentials::Credentials;
use roaming_types::modules::locations::BusinessDetails;
use roaming_types::modules::types::Role;
use roaming_types::{Text, Url};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::client::{ClientSettings, OcpiClient};
use crate::config::Config;
use crate::deviations::{DeviationKind, DeviationSink, PeerDeviations};
use crate::operator::{self, InstanceFile};
use crate::registration::peers::{PeerRecord, PeerStore};
use crate::server::{self, OcpiModules, V221_PATH, VERSIONS_PATH};
use crate::store::{StoreError, StoreHandle};
use crate::tls;

/// A reason the endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// TLS files or settings.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The store cannot be opened.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Anything else at start (files, the HTTP client).
    #[error("{0}")]
    Other(String),
    /// The store failed while the endpoint ran (#12 item 14): it stopped.
    #[error(
        "stopped because the store failed: {0}. Writes acknowledged before are on disk. Free space or fix the disk of the data directory and start again (a supervisor with Restart=on-failure does)"
    )]
    StoreFailed(String),
}

/// A change in the set of registered peers, for the role crate (e.g. the first sync after a
/// registration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// A peer registered (either side initiated).
    Registered(String),
    /// A peer unregistered.
    Unregistered(String),
}

/// Everything both faces and the role crate share.
#[derive(Debug)]
pub struct Core {
    /// The configuration.
    pub config: Config,
    /// The store.
    pub store: StoreHandle,
    /// Registered peers.
    pub peers: PeerStore,
    /// The OCPI client.
    pub client: OcpiClient,
    /// The durable push queue.
    pub outbox: crate::outbox::Outbox,
    base_url: String,
    events: broadcast::Sender<PeerEvent>,
    shutdown: watch::Receiver<bool>,
    shutdown_tx: watch::Sender<bool>,
    /// Both faces accept connections.
    listening: std::sync::atomic::AtomicBool,
}

/// Whether the endpoint can do its work (`GET /api/ready`), and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Readiness {
    /// Ready to serve: the store answers and writes, both faces listen, no shutdown has begun.
    pub ready: bool,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Core {
    /// Opens the store in the data directory and prepares the client. `ocpi_addr` is the bound
    /// address of the OCPI face (it gives the public URL when none is configured).
    pub fn open(config: Config, ocpi_addr: SocketAddr) -> Result<Arc<Self>, StartError> {
        let fixed = crate::datadir::secure(&config.data_dir)
            .map_err(|e| StartError::Other(format!("data directory {}: {e}", config.data_dir.display())))?;
        if fixed > 0 {
            tracing::warn!(data_dir = %config.data_dir.display(), fixed, "made the data directory private (directories 0700, files 0600): `fixed` entries in it were open to other users (an older version, or a directory created with a wider mode)");
        }
        crate::datadir::check_free_space(&config.data_dir, config.store_min_free_bytes)
            .map_err(StartError::Other)?;
        let store = StoreHandle::new(crate::store::SledStore::open_tuned(
            &config.data_dir.join("db"),
            config.store_cache_bytes,
            config.commit_linger,
        )?);
        Self::with_store(config, ocpi_addr, store)
    }

    /// Like [`open`](Self::open) with a given store (tests, benchmarks).
    pub fn with_store(
        config: Config,
        ocpi_addr: SocketAddr,
        store: StoreHandle,
    ) -> Result<Arc<Self>, StartError> {
        let tls = tls::client_config(config.extra_ca.as_deref(), config.tls_min_version)?;
        let client = OcpiClient::new(
            tls,
            &ClientSettings {
                timeout: config.client_timeout,
                connect_timeout: config.connect_timeout,
            },
            &config.party.to_string(),
        )
        .map_err(|e| StartError::Other(e.to_string()))?;
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{ocpi_addr}"));
        let (events, _) = broadcast::channel(256);
        let (shutdown_tx, shutdown) = watch::channel(false);
        Ok(Arc::new(Self {
            peers: PeerStore::new(store.clone()),
            store,
            client,
            outbox: crate::outbox::Outbox::default(),
            base_url,
            events,
            shutdown,
            shutdown_tx,
            listening: std::sync::atomic::AtomicBool::new(false),
            config,
        }))
    }

    /// Whether the endpoint is ready (`GET /api/ready`). Never touches the store itself: it reads
    /// what the store's operations left behind, so it answers on a frozen disk too.
    pub fn readiness(&self) -> Readiness {
        let not = |reason: String| Readiness {
            ready: false,
            reason: Some(reason),
        };
        if let Some(reason) = self.store.failure() {
            return not(format!("store failed: {reason}; the endpoint is stopping"));
        }
        if self.is_shutting_down() {
            return not("shutting down".to_owned());
        }
        if !self.listening.load(std::sync::atomic::Ordering::SeqCst) {
            return not("starting: the faces are not listening yet".to_owned());
        }
        if let Some((n, idle)) = self.store.stalled_for() {
            if idle >= self.config.store_stall {
                return not(format!(
                    "store not responding: {n} operation(s) in progress, none finished for {} s (a frozen or failing disk?)",
                    idle.as_secs()
                ));
            }
        }
        Readiness {
            ready: true,
            reason: None,
        }
    }

    /// The public base URL of the OCPI face, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// How far ahead of our clock a peer's time stamps may be (`http.max_clock_skew_secs`).
    pub fn stamps(&self) -> crate::stamps::StampPolicy {
        crate::stamps::StampPolicy::new(self.config.max_clock_skew)
    }

    /// Our versions URL (what invitations carry).
    pub fn versions_url(&self) -> String {
        format!("{}{VERSIONS_PATH}", self.base_url)
    }

    /// The URL of one of our module paths (`/ocpi/2.2.1/...`).
    pub fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The base of our 2.2.1 module URLs.
    pub fn v221_url(&self) -> String {
        format!("{}{V221_PATH}", self.base_url)
    }

    /// Our business details.
    pub fn business_details(&self) -> BusinessDetails {
        BusinessDetails {
            name: Text::new(self.config.name.chars().take(100).collect::<String>())
                .unwrap_or_else(|_| Text::new("Unnamed").unwrap_or_else(|_| unreachable_text())),
            website: self.config.website.as_deref().and_then(|w| Url::new(w).ok()),
            logo: None,
        }
    }

    /// Our credentials with `token` for the peer to call us.
    pub fn our_credentials(&self, token: CredentialsToken) -> Credentials {
        Credentials {
            token,
            url: Url::new(self.versions_url()).unwrap_or_else(|_| unreachable_text()),
            roles: vec![crate::registration::our_role(self)],
        }
    }

    /// The role our peers play: EMSP for a CSO, CPO for a CSP.
    pub fn counterpart_role(&self) -> Role {
        match self.config.role {
            Role::Cpo => Role::Emsp,
            _ => Role::Cpo,
        }
    }

    /// When an old inbound token stops working after a rotation at `now` (CR-24).
    pub fn rotation_grace_until(&self, now: roaming_types::DateTime) -> roaming_types::DateTime {
        now.plus(
            chrono::Duration::from_std(self.config.rotation_grace).unwrap_or(chrono::Duration::minutes(5)),
        )
    }

    /// Peer registration events.
    pub fn subscribe(&self) -> broadcast::Receiver<PeerEvent> {
        self.events.subscribe()
    }

    pub(crate) fn notify_registered(&self, peer: &PeerRecord) {
        let _ = self.events.send(PeerEvent::Registered(peer.id.clone()));
    }

    pub(crate) fn notify_unregistered(&self, id: &str) {
        let _ = self.events.send(PeerEvent::Unregistered(id.to_owned()));
    }

    /// Runs `job` every `every` until the endpoint shuts down, logging its failures as `what`
    /// (the sweepers and tickers of the role crates), repeats suppressed ([`crate::throttle`]).
    pub async fn every<F, Fut, E>(&self, every: Duration, what: &'static str, mut job: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let shutdown = self.shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(every) => {
                    if let Err(e) = job().await {
                        crate::throttled!(error, what, error = %e, "{what} failed");
                    }
                }
            }
        }
    }

    /// Resolves when the endpoint shuts down (for background tasks).
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Makes everything written so far durable, then wakes the outbox of every peer in `woken` (the
    /// peers a transaction queued pushes for). Call before acknowledging a change.
    pub async fn commit(&self, woken: impl IntoIterator<Item = String>) -> Result<(), StoreError> {
        self.store.durable().await?;
        for p in woken {
            self.outbox.wake(&p);
        }
        Ok(())
    }

    /// Where the deviations of peer `id`'s answers are recorded ([`crate::deviations`]).
    pub fn deviation_sink(&self, id: &str) -> Arc<dyn DeviationSink> {
        Arc::new(PeerDeviations::new(&self.peers, id))
    }

    /// Records that peer `id` deviated from OCPI 2.2.1 in `kind` way (`example`: the call and what
    /// was wrong, no tokens or bodies): stored on the peer and logged at WARN the first time per
    /// peer and kind, nothing after that. Returns whether it was the first time.
    pub fn record_deviation(&self, id: &str, kind: DeviationKind, example: &str) -> bool {
        self.peers.record_deviation(id, kind, example)
    }

    /// The one policy for "the peer does not accept our token" (#12 item 10), applied to the outcome
    /// of every call made with the peer's token: a refusal
    /// ([`ClientError::is_auth_refused`](crate::client::ClientError::is_auth_refused), 401 or 403)
    /// marks the peer unauthorized (shown in the peer view), a successful call clears the mark, and
    /// other failures leave it as it is. [`call_peer`](Self::call_peer) and
    /// [`get_page`](Self::get_page) apply it; call it after any other call with the peer's token.
    pub fn observe_call<T>(&self, peer_id: &str, result: &Result<T, crate::client::ClientError>) {
        match result {
            Ok(_) => self.peers.set_unauthorized(peer_id, None),
            Err(e) if e.is_auth_refused() => self.peers.set_unauthorized(peer_id, Some(&e.to_string())),
            Err(_) => {}
        }
    }

    /// GETs one page of a paginated list at `peer` (like [`call_peer`](Self::call_peer) with the
    /// default routing, T-60…T-63).
    pub async fn get_page(
        &self,
        peer: &PeerRecord,
        url: &str,
        correlation_id: &str,
    ) -> Result<crate::client::Page, crate::client::ClientError> {
        let answer = self
            .call_peer::<()>(
                peer,
                http::Method::GET,
                url,
                None,
                None,
                None,
                Some(correlation_id),
            )
            .await?;
        crate::client::Page::from_answer(&answer, url)
    }

    /// Calls `url` at `peer` with the peer's token and the routing headers from our party to `to`
    /// (the peer's first counterpart party when `None`, T-50). Non-success answers are errors. The
    /// answer is bound to the peer, so [`Answer::data`](crate::client::Answer::data) records the
    /// deviations it tolerates on it, and the outcome goes through
    /// [`observe_call`](Self::observe_call).
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is one attribute of the call"
    )]
    pub async fn call_peer<B: serde::Serialize + ?Sized>(
        &self,
        peer: &PeerRecord,
        method: http::Method,
        url: &str,
        to: Option<roaming_types::ids::PartyRef>,
        body: Option<&B>,
        timeout: Option<Duration>,
        correlation_id: Option<&str>,
    ) -> Result<crate::client::Answer, crate::client::ClientError> {
        let to = to.or_else(|| peer.parties(&self.counterpart_role()).into_iter().next());
        let routing = to.map(|to| crate::client::Routing {
            from: self.config.party.clone(),
            to,
        });
        let correlation = correlation_id.map_or_else(crate::headers::new_id, str::to_owned);
        let result = self
            .client
            .call(
                method,
                url,
                crate::client::Auth {
                    token: &peer.token_out,
                    raw: peer.compat.raw_token_out,
                },
                routing.as_ref(),
                &correlation,
                body,
                timeout,
            )
            .await
            .map(|a| a.bind(self.deviation_sink(&peer.id)));
        self.observe_call(&peer.id, &result);
        result
    }
}

fn unreachable_text<const N: usize>() -> Text<N> {
    // Only reached if a constant string breaks its own length rule, which the tests exclude.
    #[expect(
        clippy::expect_used,
        reason = "a constant short ASCII string is always a valid Text"
    )]
    Text::new("x").expect("constant text")
}

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
    let instance = InstanceFile::write(&config.data_dir, &addresses)?;

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
    core.listening.store(true, std::sync::atomic::Ordering::SeqCst);
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
    let _ = core.shutdown_tx.send(true);
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
