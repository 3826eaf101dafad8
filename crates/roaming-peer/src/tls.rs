//! TLS with rustls (ring provider only; `deny.toml` bans the other): server configuration from PEM
//! files, client trust (system roots plus an optional extra CA file), and a throw-away test CA for
//! the demo and the tests (T-01).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS set-up problem; always fatal at start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The lowest TLS version to accept (T-01: IEC 63119-1:2025 asks for 1.3; 1.2 is the interop default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum MinTlsVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

static TLS12_AND_13: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

impl MinTlsVersion {
    fn versions(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        match self {
            Self::Tls12 => &TLS12_AND_13,
            Self::Tls13 => &TLS13_ONLY,
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process-wide rustls provider (for any client built without an explicit
/// configuration). Idempotent.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::File {
            path: path.to_path_buf(),
            message: "no certificate found".to_owned(),
        });
    }
    Ok(certs)
}

/// The server configuration for a certificate chain and key in PEM files.
pub fn server_config(
    cert: &Path,
    key: &Path,
    min: MinTlsVersion,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::File {
        path: key.to_path_buf(),
        message: e.to_string(),
    })?;
    server_config_from(certs, key, min)
}

/// The server configuration for an in-memory chain and key.
pub fn server_config_from(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    min: MinTlsVersion,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(min.versions())
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The client configuration: the system's trusted roots plus the certificates of `extra_ca`.
pub fn client_config(extra_ca: Option<&Path>, min: MinTlsVersion) -> Result<rustls::ClientConfig, TlsError> {
    install_default_provider();
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A broken system certificate must not prevent start; the others still count.
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        for cert in read_certs(path)? {
            roots.add(cert).map_err(|e| TlsError::File {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(min.versions())
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A private certificate authority generated at start, for the demo and the tests.
#[derive(Debug)]
pub struct TestCa {
    ca_cert: rcgen::Certificate,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// A server certificate issued by a [`TestCa`], as PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The certificate chain (leaf then CA).
    pub cert_pem: String,
    /// The private key.
    pub key_pem: String,
}

impl TestCa {
    /// A fresh CA.
    pub fn generate() -> Result<Self, TlsError> {
        let key = rcgen::KeyPair::generate().map_err(|e| TlsError::Config(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "roaming test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = params
            .self_signed(&key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let issuer = rcgen::Issuer::new(params, key);
        Ok(Self { ca_cert, issuer })
    }

    /// The CA certificate in PEM, to be trusted by clients.
    pub fn ca_pem(&self) -> String {
        self.ca_cert.pem()
    }

    /// Issues a server certificate for the given DNS names / IP addresses.
    pub fn issue(&self, names: &[&str]) -> Result<IssuedCert, TlsError> {
        let key = rcgen::KeyPair::generate().map_err(|e| TlsError::Config(e.to_string()))?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).map_err(|e| TlsError::Config(e.to_string()))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "roaming endpoint");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(IssuedCert {
            cert_pem: format!("{}{}", cert.pem(), self.ca_cert.pem()),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes the CA certificate and a server certificate for loopback into `dir`; returns
    /// `(ca.pem, cert.pem, key.pem)` paths.
    pub fn write_loopback_files(&self, dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf), TlsError> {
        let issued = self.issue(&["localhost", "127.0.0.1"])?;
        let write = |name: &str, content: &str| -> Result<PathBuf, TlsError> {
            let path = dir.join(name);
            std::fs::write(&path, content).map_err(|e| TlsError::File {
                path: path.clone(),
                message: e.to_string(),
            })?;
            Ok(path)
        };
        Ok((
            write("ca.pem", &self.ca_pem())?,
            write("cert.pem", &issued.cert_pem)?,
            write("key.pem", &issued.key_pem)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ca_issues_usable_configs() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::generate().unwrap();
        let (ca_pem, cert, key) = ca.write_loopback_files(dir.path()).unwrap();
        server_config(&cert, &key, MinTlsVersion::Tls13).unwrap();
        client_config(Some(&ca_pem), MinTlsVersion::Tls12).unwrap();
    }

    #[test]
    fn missing_or_empty_files_are_reported_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = client_config(Some(&empty), MinTlsVersion::Tls12).unwrap_err();
        assert!(err.to_string().contains("empty.pem"), "{err}");
        assert!(server_config(&dir.path().join("nope.pem"), &empty, MinTlsVersion::Tls12).is_err());
    }
}
