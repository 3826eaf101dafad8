#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failure here is a test failure"
)]

//! Test support (feature `test-support`): endpoints on `127.0.0.1:0` with a temporary data directory,
//! optionally over HTTPS with a test CA (style §13).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, Layer, RoleDefaults};
use crate::endpoint::{self, Core, RoleParts, StartError};
use crate::operator::client::OperatorClient;
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
        let core = Core::open(config, addr)?;
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
