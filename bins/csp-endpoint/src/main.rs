//! `csp-endpoint`: the Charge Service Provider's roaming endpoint (OCPI 2.2.1 eMSP).
//!
//! Thin: parses the command line and hands over to `roaming-peer` (common commands) and `roaming-csp`.

use clap::Parser;
use roaming_peer::cli::{
    CliError, CommonCommand, OperatorArgs, exit_code, print_json, process_env, run_common,
};
use serde_json::Value;

/// The CSP roaming endpoint: IEC 63119-2 use cases over OCPI 2.2.1, peer to peer with CSOs.
#[derive(Debug, Parser)]
#[command(name = "csp-endpoint", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    #[command(flatten)]
    Common(CommonCommand),
    /// Searches the sites received from CSOs.
    Locations {
        #[command(flatten)]
        operator: OperatorArgs,
        /// `lat,lon` centre of a radius search.
        #[arg(long)]
        near: Option<String>,
        /// Radius in km (default 10).
        #[arg(long)]
        radius_km: Option<f64>,
        /// `min_lat,min_lon,max_lat,max_lon`.
        #[arg(long)]
        bbox: Option<String>,
        /// EVSE status, e.g. AVAILABLE.
        #[arg(long)]
        status: Option<String>,
        /// Connector standard, e.g. IEC_62196_T2.
        #[arg(long)]
        standard: Option<String>,
        /// Minimum connector power in kW.
        #[arg(long)]
        min_power_kw: Option<f64>,
        /// Page size.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Pulls sites and tariffs from a CSO now.
    Sync {
        #[command(flatten)]
        operator: OperatorArgs,
        /// The peer id (`CC-PID`).
        peer: String,
        /// Pull everything and drop what the CSO no longer has (T-64).
        #[arg(long)]
        full: bool,
    },
}

async fn run(command: Command) -> Result<(), CliError> {
    let defaults = roaming_csp::defaults();
    match command {
        Command::Common(c) => run_common(c, &defaults, roaming_csp::build).await,
        Command::Locations {
            operator,
            near,
            radius_km,
            bbox,
            status,
            standard,
            min_power_kw,
            limit,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            let pairs = [
                ("near", near),
                ("radius_km", radius_km.map(|v| v.to_string())),
                ("bbox", bbox),
                ("status", status),
                ("standard", standard),
                ("min_power_kw", min_power_kw.map(|v| v.to_string())),
                ("limit", limit.map(|v| v.to_string())),
            ];
            for (k, v) in pairs {
                if let Some(v) = v {
                    q.append_pair(k, &v);
                }
            }
            let answer: Value = client.get(&format!("/api/locations?{}", q.finish())).await?;
            print_json(&answer)
        }
        Command::Sync { operator, peer, full } => {
            let client = operator.client(&defaults, process_env())?;
            let path = format!("/api/peers/{peer}/sync{}", if full { "?full=true" } else { "" });
            let answer: Value = client.send::<(), _>(http::Method::POST, &path, None).await?;
            print_json(&answer)
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    exit_code(run(Cli::parse().command).await)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
