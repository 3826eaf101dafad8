//! `cso-endpoint`: the Charging Station Operator's roaming endpoint (OCPI 2.2.1 CPO).
//!
//! Thin: parses the command line and hands over to `roaming-peer` (common commands) and `roaming-cso`.

use std::path::PathBuf;

use clap::Parser;
use roaming_peer::cli::{
    CliError, CommonCommand, OperatorArgs, exit_code, print_json, process_env, run_common,
};
use serde_json::Value;

/// The CSO roaming endpoint: IEC 63119-2 use cases over OCPI 2.2.1, peer to peer with CSPs.
#[derive(Debug, Parser)]
#[command(name = "cso-endpoint", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    #[command(flatten)]
    Common(CommonCommand),
    /// Imports sites or tariffs from a JSON array of OCPI objects: all or nothing.
    Import {
        #[command(flatten)]
        operator: OperatorArgs,
        #[command(subcommand)]
        what: Import,
    },
    /// Sets the status of an EVSE (pushed to every connected CSP).
    EvseStatus {
        #[command(flatten)]
        operator: OperatorArgs,
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
        /// New status (AVAILABLE, CHARGING, OUTOFORDER, …).
        status: String,
    },
    /// Deletes a tariff (pushed as DELETE to every connected CSP).
    DeleteTariff {
        #[command(flatten)]
        operator: OperatorArgs,
        /// Tariff id.
        tariff: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum Import {
    /// Locations (with their EVSEs and connectors). country_code, party_id and last_updated may be
    /// left out: they are filled in.
    Locations {
        /// The JSON file.
        file: PathBuf,
    },
    /// Tariffs.
    Tariffs {
        /// The JSON file.
        file: PathBuf,
    },
}

fn read_json(path: &PathBuf) -> Result<Value, CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::Other(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| CliError::Other(format!("{}: not JSON: {e}", path.display())))
}

async fn run(command: Command) -> Result<(), CliError> {
    let defaults = roaming_cso::defaults();
    match command {
        Command::Common(c) => run_common(c, &defaults, roaming_cso::build).await,
        Command::Import { operator, what } => {
            let client = operator.client(&defaults, process_env())?;
            let (path, file) = match &what {
                Import::Locations { file } => ("/api/locations/import", file),
                Import::Tariffs { file } => ("/api/tariffs/import", file),
            };
            let answer: Value = client.post(path, &read_json(file)?).await?;
            print_json(&answer)
        }
        Command::EvseStatus {
            operator,
            location,
            evse,
            status,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let path = format!("/api/locations/{location}/{evse}/status");
            let answer: Value = client
                .send(
                    http::Method::PUT,
                    &path,
                    Some(&serde_json::json!({ "status": status })),
                )
                .await?;
            print_json(&answer)
        }
        Command::DeleteTariff { operator, tariff } => {
            let client = operator.client(&defaults, process_env())?;
            let _: Value = client
                .send::<(), _>(http::Method::DELETE, &format!("/api/tariffs/{tariff}"), None)
                .await?;
            print_json(&serde_json::json!({ "deleted": tariff }))
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
