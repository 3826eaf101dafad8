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
    /// Plays a driver or changes a charger of the built-in simulator (UC3-1, UC3-6).
    Simulate {
        #[command(flatten)]
        operator: OperatorArgs,
        #[command(subcommand)]
        action: Simulate,
    },
    /// Lists sessions (all, or of one CSP party / status), or shows one.
    Sessions {
        #[command(flatten)]
        operator: OperatorArgs,
        /// One session (with its charger transaction and readings).
        id: Option<String>,
        /// Only this CSP party (`CC-PID`).
        #[arg(long)]
        party: Option<String>,
        /// Only this status (PENDING, ACTIVE, COMPLETED, RESERVATION, INVALID).
        #[arg(long)]
        status: Option<String>,
    },
    /// Lists the tokens the CSPs pushed (all, or of one CSP party), or the uids several CSPs hold.
    Tokens {
        #[command(flatten)]
        operator: OperatorArgs,
        /// Only this CSP party (`CC-PID`).
        #[arg(long, conflicts_with = "collisions")]
        party: Option<String>,
        /// The token uids that several CSPs hold (authorized only in real time by all of them).
        #[arg(long)]
        collisions: bool,
    },
    /// Lists the commands received, or shows one.
    Commands {
        #[command(flatten)]
        operator: OperatorArgs,
        /// One command.
        id: Option<String>,
    },
    /// Lists the CDRs (all, or of one CSP party), or shows one with the CSP's verdict.
    Cdrs {
        #[command(flatten)]
        operator: OperatorArgs,
        /// One CDR.
        id: Option<String>,
        /// Only this CSP party (`CC-PID`).
        #[arg(long)]
        party: Option<String>,
    },
    /// Issues the credit CDR of a CDR (CDR-02), delivered to the CSP.
    CreditCdr {
        #[command(flatten)]
        operator: OperatorArgs,
        /// CDR id.
        id: String,
    },
    /// Sets or lifts a local power limit on a location or one EVSE (site load management, UC3-10).
    Limit {
        #[command(flatten)]
        operator: OperatorArgs,
        /// Location id.
        location: String,
        /// EVSE uid (the whole location when left out).
        evse: Option<String>,
        /// The cap in kW.
        #[arg(long, conflicts_with = "clear", required_unless_present = "clear")]
        kw: Option<String>,
        /// Lift the limit.
        #[arg(long)]
        clear: bool,
    },
    /// Lists reservations.
    Reservations {
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// Cancels a CSP's reservation (the CSP is told CANCELED_RESERVATION, CMD-06).
    CancelReservation {
        #[command(flatten)]
        operator: OperatorArgs,
        /// The CSP party (`CC-PID`).
        party: String,
        /// The CSP's reservation id.
        reservation_id: String,
    },
}

#[derive(Debug, clap::Subcommand)]
enum Simulate {
    /// Shows every simulated EVSE, or one.
    Show {
        /// Location id.
        location: Option<String>,
        /// EVSE uid.
        evse: Option<String>,
    },
    /// A driver holds a token to the reader (a second time stops the session).
    PresentToken {
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
        /// Token uid.
        uid: String,
        /// Token type.
        #[arg(long = "type", default_value = "RFID")]
        token_type: String,
    },
    /// The driver plugs the cable in.
    PlugIn {
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
    },
    /// The driver unplugs (a running session ends).
    Unplug {
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
    },
    /// The EV stops drawing power (SUSPENDED_EV).
    Suspend {
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
    },
    /// The EV draws power again.
    Resume {
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
    },
    /// Changes an EVSE's plug-in delay, power, meter interval or fault.
    Configure {
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
        /// Delay between an authorized start and the plug-in, ms.
        #[arg(long)]
        plug_in_delay_ms: Option<u64>,
        /// Power the EV draws, kW.
        #[arg(long)]
        power_kw: Option<String>,
        /// Meter-value interval, ms.
        #[arg(long)]
        meter_interval_ms: Option<u64>,
        /// Fault: none, offline (EVSE_INOPERATIVE), busy (EVSE_OCCUPIED), silent (TIMEOUT).
        #[arg(long)]
        fault: Option<String>,
    },
}

fn with_query(path: &str, pairs: &[(&str, &Option<String>)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    format!("{path}?{}", q.finish())
}

async fn simulate(
    client: &roaming_peer::operator::client::OperatorClient,
    action: Simulate,
) -> Result<Value, CliError> {
    let evse_path = |l: &str, e: &str| format!("/api/simulator/evses/{l}/{e}");
    let empty = serde_json::json!({});
    Ok(match action {
        Simulate::Show {
            location: Some(l),
            evse: Some(e),
        } => client.get(&evse_path(&l, &e)).await?,
        Simulate::Show { .. } => client.get("/api/simulator/evses").await?,
        Simulate::PresentToken {
            location,
            evse,
            uid,
            token_type,
        } => {
            client
                .post(
                    &format!("{}/present-token", evse_path(&location, &evse)),
                    &serde_json::json!({ "uid": uid, "type": token_type.to_ascii_uppercase() }),
                )
                .await?
        }
        Simulate::PlugIn { location, evse } => {
            client
                .post(&format!("{}/plug-in", evse_path(&location, &evse)), &empty)
                .await?
        }
        Simulate::Unplug { location, evse } => {
            client
                .post(&format!("{}/unplug", evse_path(&location, &evse)), &empty)
                .await?
        }
        Simulate::Suspend { location, evse } => {
            client
                .post(&format!("{}/suspend", evse_path(&location, &evse)), &empty)
                .await?
        }
        Simulate::Resume { location, evse } => {
            client
                .post(&format!("{}/resume", evse_path(&location, &evse)), &empty)
                .await?
        }
        Simulate::Configure {
            location,
            evse,
            plug_in_delay_ms,
            power_kw,
            meter_interval_ms,
            fault,
        } => {
            let mut change = serde_json::Map::new();
            if let Some(v) = plug_in_delay_ms {
                change.insert("plug_in_delay_ms".into(), v.into());
            }
            if let Some(v) = power_kw {
                change.insert("power_kw".into(), v.into());
            }
            if let Some(v) = meter_interval_ms {
                change.insert("meter_interval_ms".into(), v.into());
            }
            if let Some(v) = fault {
                change.insert("fault".into(), v.to_ascii_lowercase().into());
            }
            client
                .send(
                    http::Method::PUT,
                    &evse_path(&location, &evse),
                    Some(&Value::Object(change)),
                )
                .await?
        }
    })
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
        Command::Simulate { operator, action } => {
            let client = operator.client(&defaults, process_env())?;
            print_json(&simulate(&client, action).await?)
        }
        Command::Sessions {
            operator,
            id,
            party,
            status,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let answer: Value = match id {
                Some(id) => client.get(&format!("/api/sessions/{id}")).await?,
                None => {
                    client
                        .get(&with_query(
                            "/api/sessions",
                            &[("party", &party), ("status", &status)],
                        ))
                        .await?
                }
            };
            print_json(&answer)
        }
        Command::Tokens {
            operator,
            party,
            collisions,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let answer: Value = if collisions {
                client.get("/api/tokens/collisions").await?
            } else {
                client
                    .get(&with_query("/api/tokens", &[("party", &party)]))
                    .await?
            };
            print_json(&answer)
        }
        Command::Commands { operator, id } => {
            let client = operator.client(&defaults, process_env())?;
            let answer: Value = match id {
                Some(id) => client.get(&format!("/api/commands/{id}")).await?,
                None => client.get("/api/commands").await?,
            };
            print_json(&answer)
        }
        Command::Cdrs { operator, id, party } => {
            let client = operator.client(&defaults, process_env())?;
            let answer: Value = match id {
                Some(id) => {
                    let cdr: Value = client.get(&format!("/api/cdrs/{id}")).await?;
                    let check: Value = client
                        .get(&format!("/api/cdrs/{id}/check"))
                        .await
                        .unwrap_or(Value::Null);
                    serde_json::json!({ "cdr": cdr, "check": check })
                }
                None => client.get(&with_query("/api/cdrs", &[("party", &party)])).await?,
            };
            print_json(&answer)
        }
        Command::CreditCdr { operator, id } => {
            let client = operator.client(&defaults, process_env())?;
            let answer: Value = client
                .post(&format!("/api/cdrs/{id}/credit"), &serde_json::json!({}))
                .await?;
            print_json(&answer)
        }
        Command::Limit {
            operator,
            location,
            evse,
            kw,
            clear,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let path = match &evse {
                Some(e) => format!("/api/limits/{location}/{e}"),
                None => format!("/api/limits/{location}"),
            };
            let limit = match (clear, kw) {
                (true, _) | (false, None) => Value::Null,
                (false, Some(k)) => Value::Number(
                    k.parse()
                        .map_err(|_| CliError::Other(format!("--kw {k:?} is not a number")))?,
                ),
            };
            let answer: Value = client
                .send(
                    http::Method::PUT,
                    &path,
                    Some(&serde_json::json!({ "limit_kw": limit })),
                )
                .await?;
            print_json(&answer)
        }
        Command::Reservations { operator } => {
            let client = operator.client(&defaults, process_env())?;
            let answer: Value = client.get("/api/reservations").await?;
            print_json(&answer)
        }
        Command::CancelReservation {
            operator,
            party,
            reservation_id,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let (cc, pid) = party
                .split_once(['-', '*'])
                .ok_or_else(|| CliError::Other(format!("party {party:?} is not CC-PID")))?;
            let answer: Value = client
                .post(
                    &format!("/api/reservations/{cc}/{pid}/{reservation_id}/cancel"),
                    &serde_json::json!({}),
                )
                .await?;
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
