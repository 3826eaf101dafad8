//! `csp-endpoint`: the Charge Service Provider's roaming endpoint (OCPI 2.2.1 eMSP).
//!
//! Thin: parses the command line and hands over to `roaming-peer` (common commands) and `roaming-csp`.

use clap::Parser;
use roaming_peer::cli::{CommonCommand, exit_code, run_common};

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
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let defaults = roaming_csp::defaults();
    let result = match cli.command {
        Command::Common(c) => run_common(c, &defaults, roaming_csp::build).await,
    };
    exit_code(result)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
