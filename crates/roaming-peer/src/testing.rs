#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failure here is a test failure"
)]

//! Test support (feature `test-support`): endpoints on `127.0.0.1:0` with a temporary data directory,
//! optionally over HTTPS with a test CA (style §13).

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, Layer, RoleDefaults};
use crate::core::{Core, StartError};
use crate::endpoint::{self, RoleParts};
use crate::operator::client::OperatorClient;
use crate::store::{Batch, Entry, Space, Store, StoreError, StoreHandle};
use crate::tls::TestCa;

/// TLS material for a test endpoint.
#[derive(Debug, Clone)]
pub struct TestTls {
    /// CA certificate file to trust.
    pub ca: PathBuf,
    /// Server certificate chain.
    pub cert: PathBuf,
    /// Server key.
    pub key: PathBuf,
}

impl TestTls {
    /// A new CA and a loopback certificate in `dir`.
    pub fn generate(dir: &std::path::Path) -> Self {
        let ca = TestCa::generate().expect("test CA");
        let (ca, cert, key) = ca.write_loopback_files(dir).expect("test certificates");
        Self { ca, cert, key }
    }
}

/// A running endpoint for tests.
#[derive(Debug)]
pub struct TestEndpoint {
    /// Its core.
    pub core: Arc<Core>,
    /// OCPI base URL.
    pub ocpi_url: String,
    /// Versions URL.
    pub versions_url: String,
    /// Operator API client.
    pub operator: OperatorClient,
    /// The data directory.
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    join: Option<JoinHandle<Result<(), StartError>>>,
}

impl TestEndpoint {
    /// Starts an endpoint. `settings` are extra config keys; `tls` makes the OCPI face HTTPS and
    /// trusts the same CA as a client.
    pub async fn start<F, Fut>(
        defaults: &RoleDefaults,
        data_dir: PathBuf,
        settings: &[(&str, String)],
        tls: Option<&TestTls>,
        build: F,
    ) -> Result<Self, StartError>
    where
        F: FnOnce(Arc<Core>) -> Fut,
        Fut: std::future::Future<Output = Result<RoleParts, StartError>>,
    {
        Self::start_with_store(defaults, data_dir, settings, tls, None, build).await
    }

    /// Like [`start`](Self::start) over a given store (e.g. a [`FaultyStore`]) instead of the sled
    /// store the endpoint opens in its data directory.
    pub async fn start_with_store<F, Fut>(
        defaults: &RoleDefaults,
        data_dir: PathBuf,
        settings: &[(&str, String)],
        tls: Option<&TestTls>,
        store: Option<StoreHandle>,
        build: F,
    ) -> Result<Self, StartError>
    where
        F: FnOnce(Arc<Core>) -> Fut,
        Fut: std::future::Future<Output = Result<RoleParts, StartError>>,
    {
        let mut values: std::collections::BTreeMap<String, String> = [
            ("listen", "127.0.0.1:0".to_owned()),
            ("operator.listen", "127.0.0.1:0".to_owned()),
            ("data_dir", data_dir.display().to_string()),
            ("http.request_timeout_secs", "20".to_owned()),
            ("client.timeout_secs", "10".to_owned()),
            ("client.handshake_timeout_secs", "5".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(t) = tls {
            values.insert("tls.cert".to_owned(), t.cert.display().to_string());
            values.insert("tls.key".to_owned(), t.key.display().to_string());
            values.insert("tls.extra_ca".to_owned(), t.ca.display().to_string());
        }
        for (k, v) in settings {
            values.insert((*k).to_owned(), v.clone());
        }
        let (config, _) = Config::resolve(
            defaults,
            &[Layer {
                source: "test".to_owned(),
                values,
            }],
        )?;
        let ocpi = bind(config.listen).await?;
        let operator = bind(config.operator_listen).await?;
        let addr = ocpi.local_addr().map_err(|e| StartError::Other(e.to_string()))?;
        let core = match store {
            Some(store) => Core::with_store(config, addr, store)?,
            None => Core::open(config, addr)?,
        };
        let parts = build(Arc::clone(&core)).await?;
        let operator_addr = operator
            .local_addr()
            .map_err(|e| StartError::Other(e.to_string()))?;
        // The key file first, so that the endpoint and this client read the same key.
        let key = crate::operator::ensure_key(&data_dir, None)?;
        let (tx, rx) = oneshot::channel();
        let join = tokio::spawn(endpoint::run(
            Arc::clone(&core),
            ocpi,
            operator,
            parts,
            async move {
                let _ = rx.await;
            },
        ));
        let op = OperatorClient::new(&format!("http://{operator_addr}"), key, None)
            .map_err(|e| StartError::Other(e.to_string()))?;
        // Wait until the operator face answers.
        for _ in 0..200 {
            if op.health().await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(Self {
            ocpi_url: core.base_url().to_owned(),
            versions_url: core.versions_url(),
            core,
            operator: op,
            data_dir,
            shutdown: Some(tx),
            join: Some(join),
        })
    }

    /// Stops the endpoint and waits until it has drained and closed its store.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    /// Waits until the endpoint stops by itself (without asking it to), and returns how it ended.
    pub async fn ended(mut self) -> Result<(), StartError> {
        match self.join.take() {
            Some(j) => j.await.unwrap_or_else(|e| Err(StartError::Other(e.to_string()))),
            None => Ok(()),
        }
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(j) = self.join.take() {
            let _ = j.await;
        }
    }
}

impl Drop for TestEndpoint {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds a listener. A restart test binds the address its previous instance had; the kernel may
/// take a moment to release it, so "address in use" is retried for up to 5 s.
async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    let mut attempts = 0;
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(StartError::Other(format!("cannot listen on {addr}: {e}"))),
        }
    }
}

/// Role defaults for tests.
pub fn defaults(role: roaming_types::modules::types::Role) -> RoleDefaults {
    let cso = role == roaming_types::modules::types::Role::Cpo;
    RoleDefaults {
        role,
        listen: "127.0.0.1:0".parse().expect("address"),
        operator_listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: PathBuf::from(if cso { "cso-data" } else { "csp-data" }),
        party: (if cso { "NL-CSO" } else { "DE-CSP" }).parse().expect("party"),
        name: if cso { "Test CSO" } else { "Test CSP" },
        role_keys: &[],
    }
}

/// What a test logged: a `tracing` subscriber for the current thread (debug level and up) that keeps
/// every line. Use it with a current-thread runtime, so that spawned tasks log on the same thread.
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Starts capturing on this thread until the guard drops.
    pub fn start() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (capture, guard)
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The switches of a [`FaultyStore`], shared with the test that drives it.
#[derive(Debug, Default)]
pub struct Faults {
    fail_writes: std::sync::atomic::AtomicBool,
    fail_reads: std::sync::atomic::AtomicBool,
    blocked: std::sync::Mutex<bool>,
    unblocked: std::sync::Condvar,
    blocked_async: tokio::sync::Notify,
    injected: std::sync::atomic::AtomicU64,
    waiting: std::sync::atomic::AtomicUsize,
    broken: std::sync::atomic::AtomicBool,
}

impl Faults {
    /// Makes every write (`apply`, `durable`) fail, or work again.
    pub fn fail_writes(&self, on: bool) {
        self.fail_writes.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Breaks the store for good, as a full disk breaks sled: every operation fails and
    /// [`Store::failure`] says so.
    pub fn break_store(&self) {
        self.broken.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Makes every read (`get`, `scan`, `range`, `count_range`) fail, or work again.
    pub fn fail_reads(&self, on: bool) {
        self.fail_reads.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Makes every operation wait until [`release`](Self::release): a frozen disk. The synchronous
    /// ones block their thread, as a read or write of a frozen file does.
    pub fn block(&self) {
        *self.blocked.lock().unwrap() = true;
    }

    /// Lets blocked operations go on.
    pub fn release(&self) {
        *self.blocked.lock().unwrap() = false;
        self.unblocked.notify_all();
        self.blocked_async.notify_waiters();
    }

    /// How many operations failed because of an injected fault.
    pub fn injected(&self) -> u64 {
        self.injected.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many operations are blocked right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn wait_if_blocked(&self) {
        let mut blocked = self.blocked.lock().unwrap();
        if *blocked {
            self.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            while *blocked {
                blocked = self.unblocked.wait(blocked).unwrap();
            }
            self.waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn check(&self, write: bool) -> Result<(), StoreError> {
        self.wait_if_blocked();
        let flag = if write {
            &self.fail_writes
        } else {
            &self.fail_reads
        };
        if flag.load(std::sync::atomic::Ordering::SeqCst)
            || self.broken.load(std::sync::atomic::Ordering::SeqCst)
        {
            self.injected.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Err(StoreError::Engine(format!(
                "injected {} fault",
                if write { "write" } else { "read" }
            )));
        }
        Ok(())
    }
}

/// A [`Store`] around another one that fails or blocks on demand ([`Faults`]): fault drills without a
/// broken disk (#12 items 15–17).
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    /// Wraps `inner`; the switches start off.
    pub fn new(inner: Arc<dyn Store>) -> (Self, Arc<Faults>) {
        let faults = Arc::new(Faults::default());
        (
            Self {
                inner,
                faults: Arc::clone(&faults),
            },
            faults,
        )
    }

    /// A faulty sled store in `dir` (a test's data directory).
    pub fn sled(data_dir: &std::path::Path) -> (StoreHandle, Arc<Faults>) {
        let sled = crate::store::SledStore::open(&data_dir.join("db")).expect("sled opens");
        let (store, faults) = Self::new(Arc::new(sled));
        (StoreHandle::new(store), faults)
    }
}

impl Store for FaultyStore {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.faults.check(false)?;
        self.inner.get(space, key)
    }

    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.faults.check(false)?;
        self.inner.scan(space, prefix, after, limit)
    }

    fn range(
        &self,
        space: Space,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.faults.check(false)?;
        self.inner.range(space, start, end, reverse, limit)
    }

    fn count_range(&self, space: Space, start: &[u8], end: Option<&[u8]>) -> Result<u64, StoreError> {
        self.faults.check(false)?;
        self.inner.count_range(space, start, end)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        self.faults.check(true)?;
        self.inner.apply(batch)
    }

    fn durable(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            loop {
                let released = self.faults.blocked_async.notified();
                if !*self.faults.blocked.lock().unwrap() {
                    break;
                }
                released.await;
            }
            self.faults.check(true)?;
            self.inner.durable().await
        })
    }

    fn size_on_disk(&self) -> u64 {
        self.inner.size_on_disk()
    }

    fn failure(&self) -> Option<String> {
        if self.faults.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Some("injected failure: the store is broken".to_owned());
        }
        self.inner.failure()
    }
}

/// A role's endpoint over a store that fails on demand ([`FaultyStore`]), registered with a bare
/// endpoint of the counterpart role (no modules): the store-failure drills of both roles.
#[derive(Debug)]
pub struct FaultyPair {
    /// The endpoint under test (its store fails on demand).
    pub node: TestEndpoint,
    /// The bare counterpart.
    pub peer: TestEndpoint,
    /// The switches of the node's store.
    pub faults: Arc<Faults>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl FaultyPair {
    /// Starts the node with `build` over a failing memory store and the counterpart (a CPO node
    /// invites the counterpart, an eMSP node is invited by it).
    pub async fn start<F, Fut>(node: &RoleDefaults, build: F) -> Self
    where
        F: FnOnce(Arc<Core>) -> Fut,
        Fut: std::future::Future<Output = Result<RoleParts, StartError>>,
    {
        use roaming_types::modules::types::Role;
        let (a, b) = (
            tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
            tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
        );
        let (store, faults) = FaultyStore::new(Arc::new(crate::store::MemoryStore::new()));
        let started = TestEndpoint::start_with_store(
            node,
            a.path().to_path_buf(),
            &[],
            None,
            Some(StoreHandle::new(store)),
            build,
        )
        .await
        .unwrap_or_else(|e| panic!("node starts: {e}"));
        let node_is_cpo = node.role == Role::Cpo;
        let other = if node_is_cpo { Role::Emsp } else { Role::Cpo };
        let peer = TestEndpoint::start(
            &defaults(other),
            b.path().to_path_buf(),
            &[],
            None,
            |_core| async { Ok(RoleParts::default()) },
        )
        .await
        .unwrap_or_else(|e| panic!("counterpart starts: {e}"));
        let (host, guest) = if node_is_cpo {
            (&started, &peer)
        } else {
            (&peer, &started)
        };
        let inv = host
            .operator
            .invite()
            .await
            .unwrap_or_else(|e| panic!("invite: {e}"));
        guest
            .operator
            .connect(&inv.versions_url, &inv.token)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        Self {
            node: started,
            peer,
            faults,
            _dirs: (a, b),
        }
    }
}
