//! Configuration: defaults → TOML file → environment → flags (style §12).
//!
//! Loading is a pure function over key/value layers ([`Config::resolve`]), so tests never touch the
//! process environment. Every setting has a dotted key (`party.country_code`), an environment variable
//! (`ROAMING_PARTY_COUNTRY_CODE`) and usually a flag. Keys of the role crates (`cso.*`, `csp.*`) pass
//! through [`Config::role`] for the role crate to read. Unknown keys and unknown `ROAMING_*` variables
//! produce warnings, so a typo does not go unnoticed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use roaming_types::ids::{CountryCode, PartyId, PartyRef};
use roaming_types::modules::types::Role;

use crate::tls::MinTlsVersion;

/// The prefix of every environment variable we read.
pub const ENV_PREFIX: &str = "ROAMING_";

/// One known setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Dotted key, as in the TOML file.
    pub key: &'static str,
    /// One line of help, shown in `docs/operations.md`.
    pub help: &'static str,
}

/// The settings every endpoint has.
pub const CORE_KEYS: &[KeySpec] = &[
    KeySpec {
        key: "party.country_code",
        help: "our ISO 3166-1 alpha-2 country code (CR-02)",
    },
    KeySpec {
        key: "party.party_id",
        help: "our three-character party id (CR-02)",
    },
    KeySpec {
        key: "party.name",
        help: "our business name, sent in the credentials roles",
    },
    KeySpec {
        key: "party.website",
        help: "our website URL (optional)",
    },
    KeySpec {
        key: "data_dir",
        help: "directory of the sled store, the operator key and the instance file",
    },
    KeySpec {
        key: "store.cache_mb",
        help: "memory for sled's page cache in MiB (default 64)",
    },
    KeySpec {
        key: "store.commit_linger_ms",
        help: "under load, the least time between two flushes to disk (default 2; more saves CPU, adds latency)",
    },
    KeySpec {
        key: "store.min_free_mb",
        help: "the endpoint refuses to start with less free space than this on the data directory's filesystem (default 16)",
    },
    KeySpec {
        key: "store.stall_secs",
        help: "store operations in progress with none finishing for this long make /api/ready answer 503 \"store not responding\" (default 10)",
    },
    KeySpec {
        key: "listen",
        help: "address of the OCPI face (public)",
    },
    KeySpec {
        key: "public_url",
        help: "base URL peers use to reach the OCPI face (default: derived from listen)",
    },
    KeySpec {
        key: "operator.listen",
        help: "address of the operator API (keep it on loopback)",
    },
    KeySpec {
        key: "operator.key",
        help: "operator API key (default: generated into the data directory)",
    },
    KeySpec {
        key: "tls.cert",
        help: "PEM certificate chain of the OCPI face",
    },
    KeySpec {
        key: "tls.key",
        help: "PEM private key of the OCPI face",
    },
    KeySpec {
        key: "tls.extra_ca",
        help: "PEM file of extra CAs to trust when calling peers",
    },
    KeySpec {
        key: "tls.min_version",
        help: "lowest TLS version, \"1.2\" or \"1.3\" (T-01)",
    },
    KeySpec {
        key: "http.request_timeout_secs",
        help: "longest time a request to us may take",
    },
    KeySpec {
        key: "http.header_read_timeout_secs",
        help: "longest time a client may take to send a request's headers, from connecting on; also closes HTTP/1 connections idle that long (default 10)",
    },
    KeySpec {
        key: "http.tls_handshake_timeout_secs",
        help: "longest time a TLS handshake may take (default 10)",
    },
    KeySpec {
        key: "http.max_connections",
        help: "connections each face serves at once; more wait in the listen backlog until one closes (default 512)",
    },
    KeySpec {
        key: "http.max_header_bytes",
        help: "largest request head (request line and headers), answered 431 above it (default 32768, at least 8192)",
    },
    KeySpec {
        key: "http.body_limit_bytes",
        help: "largest OCPI request body we accept",
    },
    KeySpec {
        key: "http.max_clock_skew_secs",
        help: "how far ahead of our clock a peer's last_updated may be; later stamps are refused with 2001 (default 300, T-80)",
    },
    KeySpec {
        key: "operator.body_limit_bytes",
        help: "largest operator API request body (imports)",
    },
    KeySpec {
        key: "client.timeout_secs",
        help: "timeout of our calls to peers",
    },
    KeySpec {
        key: "client.connect_timeout_secs",
        help: "connect timeout of our calls to peers",
    },
    KeySpec {
        key: "client.handshake_timeout_secs",
        help: "timeout of our calls during a peer's registration (CR-14)",
    },
    KeySpec {
        key: "credentials.rotation_grace_secs",
        help: "how long an old token stays valid after rotation (CR-24)",
    },
    KeySpec {
        key: "push.retry_base_ms",
        help: "first retry delay of a push to a peer that is down",
    },
    KeySpec {
        key: "push.retry_max_secs",
        help: "longest retry delay of a push (exponential backoff with jitter)",
    },
    KeySpec {
        key: "push.window",
        help: "pushes in flight at once per peer (never two for one location)",
    },
    KeySpec {
        key: "log.format",
        help: "\"text\" or \"json\"",
    },
    KeySpec {
        key: "log.level",
        help: "tracing filter, e.g. \"info\" or \"roaming_peer=debug\"",
    },
];

/// The environment variable for a key: `ROAMING_` + upper case, dots and dashes as underscores.
pub fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.replace(['.', '-'], "_").to_ascii_uppercase()
    )
}

/// What differs between the two roles before any configuration is read.
#[derive(Debug, Clone)]
pub struct RoleDefaults {
    /// CPO or EMSP.
    pub role: Role,
    /// Default OCPI listen address.
    pub listen: SocketAddr,
    /// Default operator API listen address.
    pub operator_listen: SocketAddr,
    /// Default data directory (relative to the working directory).
    pub data_dir: PathBuf,
    /// Default party (the user-assigned ISO code `ZZ`, so nobody mistakes it for a real party).
    pub party: PartyRef,
    /// Default business name.
    pub name: &'static str,
    /// The role crate's own keys (`cso.*` / `csp.*`).
    pub role_keys: &'static [KeySpec],
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// TLS files of the OCPI face.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our role.
    pub role: Role,
    /// Our party.
    pub party: PartyRef,
    /// Our business name.
    pub name: String,
    /// Our website.
    pub website: Option<String>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// OCPI face address.
    pub listen: SocketAddr,
    /// Public base URL of the OCPI face, when set explicitly.
    pub public_url: Option<String>,
    /// Operator API address.
    pub operator_listen: SocketAddr,
    /// Operator API key from configuration (else generated in the data directory).
    pub operator_key: Option<String>,
    /// TLS files; `None` = plain HTTP, allowed on loopback only.
    pub tls: Option<TlsFiles>,
    /// Extra CAs to trust as a client.
    pub extra_ca: Option<PathBuf>,
    /// Lowest TLS version.
    pub tls_min_version: MinTlsVersion,
    /// Longest time a request to us may take.
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request's headers (slowloris).
    pub header_read_timeout: Duration,
    /// Longest time a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// Connections each face serves at once.
    pub max_connections: usize,
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Largest OCPI request body.
    pub body_limit: usize,
    /// How far ahead of our clock a peer's `last_updated` may be (`stamps`).
    pub max_clock_skew: Duration,
    /// Largest operator API body.
    pub operator_body_limit: usize,
    /// Timeout of our calls.
    pub client_timeout: Duration,
    /// Connect timeout of our calls.
    pub connect_timeout: Duration,
    /// Timeout of our calls while answering a registration (CR-14: below the initiator's).
    pub handshake_timeout: Duration,
    /// Grace period of an old inbound token after rotation (CR-24).
    pub rotation_grace: Duration,
    /// sled page cache in bytes.
    pub store_cache_bytes: u64,
    /// Pushes in flight per peer.
    pub push_window: usize,
    /// Least time between two group-commit flushes under load.
    pub commit_linger: Duration,
    /// How long store operations may make no progress before the endpoint is not ready.
    pub store_stall: Duration,
    /// Least free space on the data directory's filesystem to start, in bytes.
    pub store_min_free_bytes: u64,
    /// Retry policy of pushes.
    pub push_backoff: crate::client::backoff::Backoff,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// Role crate settings (`cso.*` / `csp.*`), raw.
    pub role_settings: BTreeMap<String, String>,
}

/// A configuration problem: the key and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration {key}: {message}")]
pub struct ConfigError {
    /// The dotted key.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// One source of settings, with a name for messages.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    /// `file config.toml`, `environment`, `flags`.
    pub source: String,
    /// Dotted key → value.
    pub values: BTreeMap<String, String>,
}

impl Layer {
    /// Flattens a TOML document into dotted keys.
    pub fn from_toml(source: &str, text: &str) -> Result<Self, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(source, e.to_string()))?;
        let mut values = BTreeMap::new();
        flatten("", &toml::Value::Table(table), &mut values);
        Ok(Self {
            source: source.to_owned(),
            values,
        })
    }

    /// The `ROAMING_*` variables among `vars`, mapped to keys through the known key list; unknown
    /// ones are returned as warnings.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
        known: &[KeySpec],
    ) -> (Self, Vec<String>) {
        let by_env: BTreeMap<String, &str> = known.iter().map(|k| (env_name(k.key), k.key)).collect();
        let mut values = BTreeMap::new();
        let mut warnings = Vec::new();
        for (name, value) in vars {
            if !name.starts_with(ENV_PREFIX) {
                continue;
            }
            match by_env.get(&name) {
                Some(key) => {
                    values.insert((*key).to_owned(), value);
                }
                None => warnings.push(format!("unknown environment variable {name} ignored")),
            }
        }
        (
            Self {
                source: "environment".to_owned(),
                values,
            },
            warnings,
        )
    }

    /// A layer from explicit pairs (flags).
    pub fn from_pairs(source: &str, pairs: impl IntoIterator<Item = (&'static str, Option<String>)>) -> Self {
        let values = pairs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect();
        Self {
            source: source.to_owned(),
            values,
        }
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

fn parse_secs(key: &str, v: &str) -> Result<Duration, ConfigError> {
    let n: f64 = v
        .trim()
        .parse()
        .map_err(|_| err(key, format!("{v:?} is not a number of seconds")))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(err(key, "must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(n))
}

fn parse_usize(key: &str, v: &str) -> Result<usize, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| err(key, format!("{v:?} is not a whole number")))
}

fn parse_addr(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| err(key, format!("{v:?} is not an address like 127.0.0.1:9410")))
}

impl Config {
    /// Merges the layers over the role defaults (later layers win) and validates the result. Returns
    /// the configuration and warnings (unknown keys).
    pub fn resolve(defaults: &RoleDefaults, layers: &[Layer]) -> Result<(Self, Vec<String>), ConfigError> {
        let mut merged: BTreeMap<String, (String, String)> = BTreeMap::new();
        for layer in layers {
            for (k, v) in &layer.values {
                merged.insert(k.clone(), (v.clone(), layer.source.clone()));
            }
        }
        let mut warnings = Vec::new();
        let role_prefix = match defaults.role {
            Role::Cpo => "cso.",
            _ => "csp.",
        };
        let mut role_settings = BTreeMap::new();
        for (k, (v, source)) in &merged {
            let known = CORE_KEYS.iter().chain(defaults.role_keys).any(|s| s.key == k);
            if k.starts_with(role_prefix) && known {
                role_settings.insert(k.clone(), v.clone());
            } else if !known {
                warnings.push(format!("unknown setting {k} (from {source}) ignored"));
            }
        }
        let get = |k: &str| {
            merged
                .get(k)
                .map(|(v, _)| v.as_str())
                .filter(|v| !v.trim().is_empty())
        };

        let country_code = match get("party.country_code") {
            Some(v) => CountryCode::new(v.trim()).map_err(|e| err("party.country_code", e.to_string()))?,
            None => defaults.party.country_code.clone(),
        };
        let party_id = match get("party.party_id") {
            Some(v) => PartyId::new(v.trim()).map_err(|e| err("party.party_id", e.to_string()))?,
            None => defaults.party.party_id.clone(),
        };
        let tls = match (get("tls.cert"), get("tls.key")) {
            (Some(c), Some(k)) => Some(TlsFiles {
                cert: PathBuf::from(c),
                key: PathBuf::from(k),
            }),
            (None, None) => None,
            (Some(_), None) => return Err(err("tls.key", "tls.cert is set, so tls.key is needed too")),
            (None, Some(_)) => return Err(err("tls.cert", "tls.key is set, so tls.cert is needed too")),
        };
        let tls_min_version = match get("tls.min_version") {
            None | Some("1.2") => MinTlsVersion::Tls12,
            Some("1.3") => MinTlsVersion::Tls13,
            Some(v) => return Err(err("tls.min_version", format!("{v:?} is not \"1.2\" or \"1.3\""))),
        };
        let log_format = match get("log.format") {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(v) => return Err(err("log.format", format!("{v:?} is not \"text\" or \"json\""))),
        };
        let public_url = match get("public_url") {
            Some(u) => {
                let parsed = url::Url::parse(u.trim()).map_err(|e| err("public_url", e.to_string()))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(err("public_url", "must be an http or https URL"));
                }
                Some(u.trim().trim_end_matches('/').to_owned())
            }
            None => None,
        };
        let secs = |k: &str, d: u64| get(k).map_or(Ok(Duration::from_secs(d)), |v| parse_secs(k, v));
        let size = |k: &str, d: usize| get(k).map_or(Ok(d), |v| parse_usize(k, v));
        let config = Self {
            role: defaults.role.clone(),
            party: PartyRef::new(country_code, party_id),
            name: get("party.name").unwrap_or(defaults.name).to_owned(),
            website: get("party.website").map(str::to_owned),
            data_dir: get("data_dir").map_or_else(|| defaults.data_dir.clone(), PathBuf::from),
            listen: get("listen").map_or(Ok(defaults.listen), |v| parse_addr("listen", v))?,
            public_url,
            operator_listen: get("operator.listen")
                .map_or(Ok(defaults.operator_listen), |v| parse_addr("operator.listen", v))?,
            operator_key: get("operator.key").map(str::to_owned),
            tls,
            extra_ca: get("tls.extra_ca").map(PathBuf::from),
            tls_min_version,
            request_timeout: secs("http.request_timeout_secs", 30)?,
            header_read_timeout: secs("http.header_read_timeout_secs", 10)?,
            tls_handshake_timeout: secs("http.tls_handshake_timeout_secs", 10)?,
            max_connections: size("http.max_connections", 512)?,
            max_header_bytes: size("http.max_header_bytes", 32 * 1024)?,
            body_limit: size("http.body_limit_bytes", 4 * 1024 * 1024)?,
            max_clock_skew: secs(
                "http.max_clock_skew_secs",
                crate::stamps::DEFAULT_MAX_CLOCK_SKEW.as_secs(),
            )?,
            operator_body_limit: size("operator.body_limit_bytes", 512 * 1024 * 1024)?,
            client_timeout: secs("client.timeout_secs", 30)?,
            connect_timeout: secs("client.connect_timeout_secs", 10)?,
            handshake_timeout: secs("client.handshake_timeout_secs", 20)?,
            rotation_grace: secs("credentials.rotation_grace_secs", 300)?,
            store_cache_bytes: get("store.cache_mb").map_or(Ok(64), |v| parse_usize("store.cache_mb", v))?
                as u64
                * 1024
                * 1024,
            commit_linger: get("store.commit_linger_ms")
                .map_or(Ok(2), |v| parse_usize("store.commit_linger_ms", v))
                .map(|ms| Duration::from_millis(ms as u64))?,
            store_stall: secs("store.stall_secs", 10)?,
            store_min_free_bytes: size("store.min_free_mb", 16)? as u64 * 1024 * 1024,
            push_window: get("push.window").map_or(Ok(16), |v| parse_usize("push.window", v))?,
            push_backoff: {
                let base =
                    get("push.retry_base_ms").map_or(Ok(500), |v| parse_usize("push.retry_base_ms", v))?;
                let max = secs("push.retry_max_secs", 60)?;
                crate::client::backoff::Backoff::new(Duration::from_millis(base as u64), max, 0.2)
                    .map_err(|e| err("push.retry_base_ms", e.to_string()))?
            },
            log_format,
            log_level: get("log.level").unwrap_or("info").to_owned(),
            role_settings,
        };
        config.check()?;
        Ok((config, warnings))
    }

    /// Rules across settings.
    fn check(&self) -> Result<(), ConfigError> {
        if self.tls.is_none() && !self.listen.ip().is_loopback() {
            return Err(err(
                "listen",
                format!(
                    "{} is not a loopback address: serving OCPI without TLS is only allowed on loopback; set tls.cert and tls.key",
                    self.listen
                ),
            ));
        }
        if self.handshake_timeout >= self.client_timeout {
            return Err(err(
                "client.handshake_timeout_secs",
                "must be below client.timeout_secs so that a registration answers before the initiator gives up (CR-14)",
            ));
        }
        if self.max_connections == 0 {
            return Err(err("http.max_connections", "must be at least 1"));
        }
        if self.max_header_bytes < crate::server::serve::MIN_HEADER_BYTES {
            return Err(err(
                "http.max_header_bytes",
                format!("must be at least {}", crate::server::serve::MIN_HEADER_BYTES),
            ));
        }
        if self
            .operator_key
            .as_deref()
            .is_some_and(|k| crate::secret::OperatorKey::new(k).is_none())
        {
            return Err(err("operator.key", "must be printable ASCII without spaces"));
        }
        Ok(())
    }

    /// A role crate setting.
    pub fn role(&self, key: &str) -> Option<&str> {
        self.role_settings.get(key).map(String::as_str)
    }

    /// A role crate setting parsed with `FromStr`, or its default.
    pub fn role_parsed<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        match self.role(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| err(key, format!("{v:?} is not valid here"))),
        }
    }

    /// A role crate duration setting in seconds, or its default.
    pub fn role_secs(&self, key: &str, default: Duration) -> Result<Duration, ConfigError> {
        self.role(key).map_or(Ok(default), |v| parse_secs(key, v))
    }

    /// Every known key (core and role), for the environment mapping and the docs.
    pub fn known_keys(defaults: &RoleDefaults) -> Vec<KeySpec> {
        CORE_KEYS.iter().chain(defaults.role_keys).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> RoleDefaults {
        RoleDefaults {
            role: Role::Cpo,
            listen: "127.0.0.1:9410".parse().unwrap(),
            operator_listen: "127.0.0.1:9411".parse().unwrap(),
            data_dir: PathBuf::from("cso-data"),
            party: "ZZ-CSO".parse().unwrap(),
            name: "Unnamed CSO",
            role_keys: &[KeySpec {
                key: "cso.push.max_backoff_secs",
                help: "test",
            }],
        }
    }

    fn layer(source: &str, pairs: &[(&str, &str)]) -> Layer {
        Layer {
            source: source.to_owned(),
            values: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn starts_with_no_configuration_at_all() {
        let (c, w) = Config::resolve(&defaults(), &[]).unwrap();
        assert!(w.is_empty());
        assert_eq!(c.party.to_string(), "ZZ-CSO");
        assert!(c.tls.is_none());
        assert_eq!(c.listen.port(), 9410);
    }

    #[test]
    fn later_layers_win() {
        let file = Layer::from_toml(
            "file",
            "listen = \"127.0.0.1:1\"\n[party]\ncountry_code = \"NL\"\nparty_id = \"AAA\"\n",
        )
        .unwrap();
        let env = layer("environment", &[("party.party_id", "BBB")]);
        let flags = layer("flags", &[("listen", "127.0.0.1:3")]);
        let (c, _) = Config::resolve(&defaults(), &[file, env, flags]).unwrap();
        assert_eq!(c.party.to_string(), "NL-BBB");
        assert_eq!(c.listen.port(), 3);
    }

    #[test]
    fn env_names_map_to_keys_and_unknown_ones_warn() {
        let known = Config::known_keys(&defaults());
        let vars = vec![
            ("ROAMING_PARTY_COUNTRY_CODE".to_owned(), "DE".to_owned()),
            ("ROAMING_CSO_PUSH_MAX_BACKOFF_SECS".to_owned(), "60".to_owned()),
            ("ROAMING_PARTY_COUNTRYCODE".to_owned(), "XX".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let (l, warnings) = Layer::from_env(vars, &known);
        assert_eq!(l.values.get("party.country_code").map(String::as_str), Some("DE"));
        assert_eq!(warnings.len(), 1);
        let (c, _) = Config::resolve(&defaults(), &[l]).unwrap();
        assert_eq!(c.role("cso.push.max_backoff_secs"), Some("60"));
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let e = Config::resolve(&defaults(), &[layer("flags", &[("listen", "0.0.0.0:9410")])]).unwrap_err();
        assert_eq!(e.key, "listen");
        let ok = layer(
            "flags",
            &[
                ("listen", "0.0.0.0:9410"),
                ("tls.cert", "c.pem"),
                ("tls.key", "k.pem"),
            ],
        );
        assert!(Config::resolve(&defaults(), &[ok]).is_ok());
        let half = layer("flags", &[("tls.cert", "c.pem")]);
        assert_eq!(Config::resolve(&defaults(), &[half]).unwrap_err().key, "tls.key");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (k, v) in [
            ("party.country_code", "NLD"),
            ("party.party_id", "TOOLONG"),
            ("http.request_timeout_secs", "soon"),
            ("tls.min_version", "1.1"),
            ("public_url", "ftp://x"),
            ("log.format", "xml"),
        ] {
            let e = Config::resolve(&defaults(), &[layer("flags", &[(k, v)])]).unwrap_err();
            assert_eq!(e.key, k);
        }
        let (_, w) = Config::resolve(&defaults(), &[layer("file", &[("lisen", "x")])]).unwrap();
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn every_key_that_resolve_reads_is_known() {
        // Keys read by `resolve`: a value for each must not produce an "unknown setting" warning.
        let src = include_str!("config.rs");
        let mut pairs = Vec::new();
        for pattern in ["get(\"", "secs(\"", "size(\""] {
            for part in src.split(pattern).skip(1) {
                let key = part.split('"').next().unwrap();
                if !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                {
                    pairs.push((key.to_owned(), "1".to_owned()));
                }
            }
        }
        assert!(pairs.len() > 25, "found {} keys", pairs.len());
        let known = Config::known_keys(&defaults());
        for (k, _) in &pairs {
            assert!(
                known.iter().any(|s| s.key == k),
                "{k} is read but not in CORE_KEYS"
            );
        }
    }

    #[test]
    fn handshake_timeout_below_client_timeout() {
        let l = layer(
            "flags",
            &[
                ("client.timeout_secs", "5"),
                ("client.handshake_timeout_secs", "5"),
            ],
        );
        assert_eq!(
            Config::resolve(&defaults(), &[l]).unwrap_err().key,
            "client.handshake_timeout_secs"
        );
    }
}
