//! The command-line contract shared by `cso-endpoint` and `csp-endpoint` (issue #3): `serve`,
//! `peers invite|connect|list|rotate|disconnect` and `healthcheck`, with the same flags on both.
//! The binaries add their role's commands and call into here; every command except `serve` is a
//! thin client of the operator API.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::config::{Config, Layer, RoleDefaults};
use crate::core::{Core, StartError};
use crate::endpoint::{self, RoleParts};
use crate::operator::client::{OperatorClient, OperatorClientError};

/// `serve` flags. Each one overrides the same key of the config file and the environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (optional: defaults let `serve` start with none).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory (store, operator key, instance file).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address of the OCPI face.
    #[arg(long)]
    pub listen: Option<String>,
    /// Public base URL of the OCPI face as peers see it.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Address of the operator API.
    #[arg(long)]
    pub operator_listen: Option<String>,
    /// Our ISO 3166-1 alpha-2 country code.
    #[arg(long)]
    pub country_code: Option<String>,
    /// Our party id.
    #[arg(long)]
    pub party_id: Option<String>,
    /// PEM certificate chain (HTTPS).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (HTTPS).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM file of extra CAs to trust when calling peers.
    #[arg(long)]
    pub extra_ca: Option<PathBuf>,
}

/// How the CLI commands find the running endpoint.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OperatorArgs {
    /// The configuration file `serve` uses (to find its data directory).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The data directory `serve` uses (default as `serve`).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Operator API URL (default: read from the data directory).
    #[arg(long, global = true)]
    pub operator_url: Option<String>,
    /// Operator API key (default: read from the data directory).
    #[arg(long, global = true, allow_hyphen_values = true)]
    pub operator_key: Option<String>,
    /// Extra CA file for an operator API served over HTTPS.
    #[arg(long, global = true)]
    pub extra_ca: Option<PathBuf>,
}

/// `peers …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PeersCommand {
    /// Creates a one-time invitation: prints {"versions_url", "token"} to hand to the other operator.
    Invite,
    /// Registers with a peer from its invitation (we are the initiator) and prints the new peer.
    Connect {
        /// The peer's versions URL.
        versions_url: String,
        /// Token A from the peer's invitation (may start with `-`: other implementations' tokens can).
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
    /// Lists the registered peers.
    List,
    /// Rotates the tokens with a peer (credentials PUT).
    Rotate {
        /// The peer id (`CC-PID`).
        peer: String,
    },
    /// Unregisters a peer (credentials DELETE).
    Disconnect {
        /// The peer id (`CC-PID`).
        peer: String,
        /// Remove the peer locally even when it cannot be told.
        #[arg(long)]
        force: bool,
    },
}

/// A CLI failure: printed on stderr, exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Start-up.
    #[error(transparent)]
    Start(#[from] StartError),
    /// An operator API call.
    #[error(transparent)]
    Operator(#[from] OperatorClientError),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// The layers from a config file, the environment and explicit flags.
pub fn layers(
    config_file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    defaults: &RoleDefaults,
    flags: Layer,
) -> Result<(Vec<Layer>, Vec<String>), CliError> {
    let mut out = Vec::new();
    if let Some(path) = config_file {
        let text =
            std::fs::read_to_string(path).map_err(|e| CliError::Other(format!("{}: {e}", path.display())))?;
        out.push(Layer::from_toml(&format!("file {}", path.display()), &text)?);
    }
    let (env_layer, warnings) = Layer::from_env(env, &Config::known_keys(defaults));
    out.push(env_layer);
    out.push(flags);
    Ok((out, warnings))
}

fn path_str(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

impl ServeArgs {
    /// The flags as a configuration layer.
    pub fn layer(&self) -> Layer {
        Layer::from_pairs(
            "flags",
            [
                ("data_dir", path_str(&self.data_dir)),
                ("listen", self.listen.clone()),
                ("public_url", self.public_url.clone()),
                ("operator.listen", self.operator_listen.clone()),
                ("party.country_code", self.country_code.clone()),
                ("party.party_id", self.party_id.clone()),
                ("tls.cert", path_str(&self.tls_cert)),
                ("tls.key", path_str(&self.tls_key)),
                ("tls.extra_ca", path_str(&self.extra_ca)),
            ],
        )
    }

    /// Resolves the configuration of `serve` from file, environment and these flags.
    pub fn resolve(
        &self,
        defaults: &RoleDefaults,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<String>), CliError> {
        let (layers, mut warnings) = layers(self.config.as_deref(), env, defaults, self.layer())?;
        let (config, more) = Config::resolve(defaults, &layers)?;
        warnings.extend(more);
        Ok((config, warnings))
    }
}

impl OperatorArgs {
    /// The data directory of the endpoint to talk to: flag, then environment, then config file,
    /// then the role's default (the same resolution as `serve`).
    pub fn data_dir(
        &self,
        defaults: &RoleDefaults,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<PathBuf, CliError> {
        let flags = Layer::from_pairs("flags", [("data_dir", path_str(&self.data_dir))]);
        let (layers, _) = layers(self.config.as_deref(), env, defaults, flags)?;
        let dir = layers
            .iter()
            .rev()
            .find_map(|l| l.values.get("data_dir").cloned());
        Ok(dir.map_or_else(|| defaults.data_dir.clone(), PathBuf::from))
    }

    /// The operator API client for the running endpoint.
    pub fn client(
        &self,
        defaults: &RoleDefaults,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<OperatorClient, CliError> {
        let dir = self.data_dir(defaults, env)?;
        Ok(OperatorClient::discover(
            &dir,
            self.operator_url.as_deref(),
            self.operator_key.as_deref(),
            self.extra_ca.as_deref(),
        )?)
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Other(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Runs a `peers` command and prints its result.
pub async fn run_peers(client: &OperatorClient, cmd: &PeersCommand) -> Result<(), CliError> {
    match cmd {
        PeersCommand::Invite => print_json(&client.invite().await?),
        PeersCommand::Connect { versions_url, token } => {
            print_json(&client.connect(versions_url, token).await?)
        }
        PeersCommand::List => print_json(&client.peers().await?),
        PeersCommand::Rotate { peer } => print_json(&client.rotate(peer).await?),
        PeersCommand::Disconnect { peer, force } => {
            client.disconnect(peer, *force).await?;
            print_json(&serde_json::json!({ "disconnected": peer }))
        }
    }
}

/// `healthcheck`: Ok when the running endpoint answers (liveness); with `ready`, only when it is also
/// ready (`GET /api/ready`).
pub async fn healthcheck(client: &OperatorClient, ready: bool) -> Result<(), CliError> {
    if !ready {
        return print_json(&client.health().await?);
    }
    let r = client.ready().await?;
    print_json(&r)?;
    if r.ready {
        Ok(())
    } else {
        Err(CliError::Other(format!(
            "not ready: {}",
            r.reason.as_deref().unwrap_or("no reason given")
        )))
    }
}

/// `healthcheck` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HealthcheckArgs {
    /// How to find the running endpoint.
    #[command(flatten)]
    pub operator: OperatorArgs,
    /// Exit 0 only when the endpoint is also ready (`GET /api/ready`: store answering and writable,
    /// both faces listening, not shutting down).
    #[arg(long)]
    pub ready: bool,
}

/// `serve`: binds both faces, opens the store, builds the role and runs until SIGINT/SIGTERM.
pub async fn serve<F, Fut>(config: Config, warnings: Vec<String>, build: F) -> Result<(), CliError>
where
    F: FnOnce(Arc<Core>) -> Fut,
    Fut: Future<Output = Result<RoleParts, StartError>>,
{
    crate::telemetry::init(config.log_format, &config.log_level);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    if config.party.country_code.as_str().eq_ignore_ascii_case("ZZ") {
        tracing::warn!(party = %config.party, "using the placeholder party; set party.country_code and party.party_id before connecting real peers");
    }
    let ocpi = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| CliError::Other(format!("cannot listen on {}: {e}", config.listen)))?;
    let operator = tokio::net::TcpListener::bind(config.operator_listen)
        .await
        .map_err(|e| CliError::Other(format!("cannot listen on {}: {e}", config.operator_listen)))?;
    let addr = ocpi.local_addr().map_err(|e| CliError::Other(e.to_string()))?;
    let core = Core::open(config, addr)?;
    let parts = build(Arc::clone(&core)).await?;
    endpoint::run(core, ocpi, operator, parts, endpoint::shutdown_signal()).await?;
    Ok(())
}

/// The process environment as pairs (the only place the CLI reads it).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// The commands both binaries have, flattened into each binary's command enum.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CommonCommand {
    /// Runs the endpoint (OCPI face and operator API) until SIGINT/SIGTERM.
    Serve(ServeArgs),
    /// Connects and manages peers (other operators' endpoints).
    Peers {
        /// How to find the running endpoint.
        #[command(flatten)]
        operator: OperatorArgs,
        /// What to do.
        #[command(subcommand)]
        command: PeersCommand,
    },
    /// Exits 0 when the running endpoint answers (with --ready: and is ready), 1 otherwise.
    Healthcheck(HealthcheckArgs),
}

/// Runs one of the common commands.
pub async fn run_common<F, Fut>(
    command: CommonCommand,
    defaults: &RoleDefaults,
    build: F,
) -> Result<(), CliError>
where
    F: FnOnce(Arc<Core>) -> Fut,
    Fut: Future<Output = Result<RoleParts, StartError>>,
{
    match command {
        CommonCommand::Serve(args) => {
            let (config, warnings) = args.resolve(defaults, process_env())?;
            serve(config, warnings, build).await
        }
        CommonCommand::Peers { operator, command } => {
            let client = operator.client(defaults, process_env())?;
            run_peers(&client, &command).await
        }
        CommonCommand::Healthcheck(args) => {
            let client = args.operator.client(defaults, process_env())?;
            healthcheck(&client, args.ready).await
        }
    }
}

/// Prints a CLI error and turns it into the process exit code.
pub fn exit_code(result: Result<(), CliError>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
