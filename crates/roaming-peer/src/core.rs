//! What everything shares: [`Core`] (configuration, store, peers, client, outbox, public URL) and
//! its readiness and peer events. The role crates, both faces and the background tasks hold an
//! `Arc<Core>`; [`crate::endpoint::run`] serves the faces over it. Nothing here depends on the faces
//! or on `run` (the dependency goes one way: `endpoint` → faces → `core`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use roaming_types::auth::CredentialsToken;
use roaming_types::modules::credentials::{Credentials, CredentialsRole};
use roaming_types::modules::locations::BusinessDetails;
use roaming_types::modules::types::Role;
use roaming_types::{Text, Url};
use tokio::sync::{broadcast, watch};

use crate::client::{Call, ClientSettings, OcpiClient};
use crate::config::Config;
use crate::deviations::{DeviationKind, DeviationSink, PeerDeviations};
use crate::registration::peers::{PeerRecord, PeerStore};
use crate::store::{StoreError, StoreHandle};
use crate::tls;

/// Path of the versions endpoint.
pub const VERSIONS_PATH: &str = "/ocpi/versions";
/// Path of the 2.2.1 version details.
pub const V221_PATH: &str = "/ocpi/2.2.1";

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
    listening: AtomicBool,
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
            listening: AtomicBool::new(false),
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
        if !self.listening.load(Ordering::SeqCst) {
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
            roles: vec![self.our_role()],
        }
    }

    /// Our role in credentials: role, party and business details.
    pub fn our_role(&self) -> CredentialsRole {
        CredentialsRole {
            role: self.config.role.clone(),
            business_details: self.business_details(),
            party_id: self.config.party.party_id.clone(),
            country_code: self.config.party.country_code.clone(),
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

    /// Marks both faces as accepting connections ([`endpoint::run`](crate::endpoint::run), once they
    /// listen): from then on the endpoint may be ready.
    pub(crate) fn set_listening(&self) {
        self.listening.store(true, Ordering::SeqCst);
    }

    /// Begins the shutdown: [`shutdown_signal`](Self::shutdown_signal) resolves for every task.
    pub(crate) fn begin_shutdown(&self) {
        let _ = self.shutdown_tx.send(true);
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
            .call_peer(
                peer,
                Call::new(http::Method::GET, url),
                None,
                Some(correlation_id),
            )
            .await?;
        crate::client::Page::from_answer(&answer, url)
    }

    /// Sends `request` to `peer` with the peer's token and the routing headers from our party to `to`
    /// (the peer's first counterpart party when `None`, T-50), under `correlation_id` (a new one
    /// when `None`, T-42). Non-success answers are errors. The answer is bound to the peer, so
    /// [`Answer::data`](crate::client::Answer::data) records the deviations it tolerates on it, and
    /// the outcome goes through [`observe_call`](Self::observe_call).
    pub async fn call_peer<B: serde::Serialize + ?Sized>(
        &self,
        peer: &PeerRecord,
        request: Call<'_, B>,
        to: Option<roaming_types::ids::PartyRef>,
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
                request,
                crate::client::Auth {
                    token: &peer.token_out,
                    raw: peer.compat.raw_token_out,
                },
                routing.as_ref(),
                &correlation,
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
