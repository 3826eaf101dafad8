//! `csp-endpoint`: the Charge Service Provider's roaming endpoint (OCPI 2.2.1 eMSP).
//!
//! Thin: parses the command line and hands over to `roaming-peer` (common commands) and `roaming-csp`.

use clap::Parser;
use roaming_peer::cli::{
    CliError, CommonCommand, OperatorArgs, exit_code, print_json, process_env, run_common,
};
use serde_json::{Value, json};

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
    /// Issues, lists, changes, blocks and unblocks the drivers' tokens (UC3-1).
    Tokens {
        #[command(flatten)]
        operator: OperatorArgs,
        #[command(subcommand)]
        action: Tokens,
    },
    /// Starts a charge for a driver at a CSO's EVSE (UC3-2).
    Start {
        #[command(flatten)]
        operator: OperatorArgs,
        #[command(flatten)]
        token: TokenArgs,
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: Option<String>,
        /// Connector id.
        #[arg(long)]
        connector: Option<String>,
        /// The CSO (`CC-PID`); the only connected one when left out.
        #[arg(long)]
        cpo: Option<String>,
    },
    /// Stops a session (UC3-4).
    Stop {
        #[command(flatten)]
        operator: OperatorArgs,
        /// Session id.
        session: String,
        /// The CSO (`CC-PID`); found from the session when left out.
        #[arg(long)]
        cpo: Option<String>,
    },
    /// Reserves an EVSE for a driver (UC3-8).
    Reserve {
        #[command(flatten)]
        operator: OperatorArgs,
        #[command(flatten)]
        token: TokenArgs,
        /// Location id.
        location: String,
        /// EVSE uid (any at the location when left out).
        evse: Option<String>,
        /// How long, in minutes.
        #[arg(long, default_value_t = 15)]
        minutes: i64,
        /// Our reservation id (generated when left out; the same id replaces a reservation).
        #[arg(long)]
        reservation_id: Option<String>,
        /// The CSO (`CC-PID`).
        #[arg(long)]
        cpo: Option<String>,
    },
    /// Cancels a reservation.
    CancelReservation {
        #[command(flatten)]
        operator: OperatorArgs,
        /// Reservation id.
        reservation_id: String,
        /// The CSO (`CC-PID`).
        #[arg(long)]
        cpo: Option<String>,
    },
    /// Unlocks a connector (helpdesk only, CMD-08).
    Unlock {
        #[command(flatten)]
        operator: OperatorArgs,
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
        /// Connector id.
        connector: String,
        /// The CSO (`CC-PID`).
        #[arg(long)]
        cpo: Option<String>,
    },
    /// Lists the commands sent, or shows one with its response and result.
    Commands {
        #[command(flatten)]
        operator: OperatorArgs,
        /// One command.
        id: Option<String>,
    },
    /// Lists, shows and reconciles the CDRs received (UC3-5, UC3-9).
    Cdrs {
        #[command(flatten)]
        operator: OperatorArgs,
        #[command(subcommand)]
        action: Cdrs,
    },
    /// Asks a CSO what a charge would cost (UC2-2, `x-roaming-quotes`).
    Quote {
        #[command(flatten)]
        operator: OperatorArgs,
        /// Location id.
        location: String,
        /// EVSE uid.
        evse: String,
        /// Energy, kWh.
        #[arg(long)]
        energy_kwh: String,
        /// Minutes of charging.
        #[arg(long)]
        charging_minutes: u32,
        /// Minutes parked afterwards.
        #[arg(long, default_value_t = 0)]
        parking_minutes: u32,
        /// Connector id.
        #[arg(long)]
        connector: Option<String>,
        /// Start (OCPI DateTime; now when left out).
        #[arg(long)]
        start: Option<String>,
        /// The CSO (`CC-PID`).
        #[arg(long)]
        cpo: Option<String>,
    },
    /// Sets, reads or clears the charge plan of a running session (UC3-7), or shows the latest plan
    /// the CSO reported (UC3-10).
    Plan {
        #[command(flatten)]
        operator: OperatorArgs,
        #[command(subcommand)]
        action: Plan,
    },
    /// Lists the drivers' sessions (live: `GET /api/events?type=session`).
    Sessions {
        #[command(flatten)]
        operator: OperatorArgs,
        /// Only this contract id.
        #[arg(long)]
        contract_id: Option<String>,
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
    },
}

/// A driver's token.
#[derive(Debug, clap::Args)]
struct TokenArgs {
    /// Token uid.
    #[arg(long = "token")]
    uid: String,
    /// Token type.
    #[arg(long = "token-type", default_value = "RFID")]
    token_type: String,
}

impl TokenArgs {
    fn json(&self) -> Value {
        json!({ "uid": self.uid, "type": self.token_type.to_ascii_uppercase() })
    }
}

#[derive(Debug, clap::Subcommand)]
enum Plan {
    /// Caps the power of a session.
    Set {
        /// The CSO (`CC-PID`).
        cpo: String,
        /// Session id.
        session: String,
        /// The cap in kW.
        #[arg(long)]
        limit_kw: String,
        /// For how long, seconds.
        #[arg(long)]
        duration: Option<u32>,
    },
    /// Asks the CSO for the active plan (the result arrives on its own: see `requests`).
    Get {
        /// The CSO (`CC-PID`).
        cpo: String,
        /// Session id.
        session: String,
    },
    /// Clears the plan.
    Clear {
        /// The CSO (`CC-PID`).
        cpo: String,
        /// Session id.
        session: String,
    },
    /// The latest plan the CSO reported.
    Active {
        /// The CSO (`CC-PID`).
        cpo: String,
        /// Session id.
        session: String,
    },
    /// Every request with its response and result, or one.
    Requests {
        /// One request.
        id: Option<String>,
    },
}

async fn plan(
    client: &roaming_peer::operator::client::OperatorClient,
    action: Plan,
) -> Result<Value, CliError> {
    let path = |cpo: &str, session: &str, tail: &str| -> Result<String, CliError> {
        let (cc, pid) = cpo
            .split_once(['-', '*'])
            .ok_or_else(|| CliError::Other(format!("party {cpo:?} is not CC-PID")))?;
        Ok(format!("/api/sessions/{cc}/{pid}/{session}/{tail}"))
    };
    Ok(match action {
        Plan::Set {
            cpo,
            session,
            limit_kw,
            duration,
        } => {
            let kw: serde_json::Number = limit_kw
                .parse()
                .map_err(|_| CliError::Other(format!("--limit-kw {limit_kw:?} is not a number")))?;
            client
                .send(
                    http::Method::PUT,
                    &path(&cpo, &session, "profile")?,
                    Some(&json!({ "limit_kw": kw, "duration": duration })),
                )
                .await?
        }
        Plan::Get { cpo, session } => client.get(&path(&cpo, &session, "profile")?).await?,
        Plan::Clear { cpo, session } => {
            client
                .send::<(), _>(http::Method::DELETE, &path(&cpo, &session, "profile")?, None)
                .await?
        }
        Plan::Active { cpo, session } => client.get(&path(&cpo, &session, "active-profile")?).await?,
        Plan::Requests { id: Some(id) } => client.get(&format!("/api/profile-requests/{id}")).await?,
        Plan::Requests { id: None } => client.get("/api/profile-requests").await?,
    })
}

#[derive(Debug, clap::Subcommand)]
enum Cdrs {
    /// Every CDR (or one contract's).
    List {
        /// Only this contract id.
        #[arg(long)]
        contract_id: Option<String>,
    },
    /// One CDR and our verdict on it.
    Show {
        /// The CSO (`CC-PID`).
        cpo: String,
        /// CDR id.
        id: String,
    },
    /// The reconciliation of a period: totals and disputed CDRs with reasons.
    Report {
        /// CDRs that ended at or after (OCPI DateTime).
        #[arg(long)]
        from: Option<String>,
        /// CDRs that ended before.
        #[arg(long)]
        to: Option<String>,
        /// CSV instead of JSON.
        #[arg(long)]
        csv: bool,
    },
}

async fn cdrs(client: &roaming_peer::operator::client::OperatorClient, action: Cdrs) -> Result<(), CliError> {
    match action {
        Cdrs::List { contract_id } => {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            if let Some(c) = contract_id {
                q.append_pair("contract_id", &c);
            }
            let answer: Value = client.get(&format!("/api/cdrs?{}", q.finish())).await?;
            print_json(&answer)
        }
        Cdrs::Show { cpo, id } => {
            let (cc, pid) = cpo
                .split_once(['-', '*'])
                .ok_or_else(|| CliError::Other(format!("party {cpo:?} is not CC-PID")))?;
            let cdr: Value = client.get(&format!("/api/cdrs/{cc}/{pid}/{id}")).await?;
            let check: Value = client
                .get(&format!("/api/cdrs/{cc}/{pid}/{id}/check"))
                .await
                .unwrap_or(Value::Null);
            print_json(&json!({ "cdr": cdr, "check": check }))
        }
        Cdrs::Report { from, to, csv } => {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in [("from", from), ("to", to)] {
                if let Some(v) = v {
                    q.append_pair(k, &v);
                }
            }
            if csv {
                q.append_pair("format", "csv");
                let text = client
                    .get_text(&format!("/api/reports/cdrs?{}", q.finish()))
                    .await?;
                print!("{text}");
                Ok(())
            } else {
                let answer: Value = client.get(&format!("/api/reports/cdrs?{}", q.finish())).await?;
                print_json(&answer)
            }
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum Tokens {
    /// Lists every token with its account.
    List,
    /// Issues a token (pushed to every connected CSO).
    Issue {
        /// The uid (required for RFID; generated for APP_USER / AD_HOC_USER when left out).
        #[arg(long)]
        uid: Option<String>,
        /// RFID, APP_USER, AD_HOC_USER or OTHER.
        #[arg(long = "type", default_value = "RFID")]
        token_type: String,
        /// ALWAYS, ALLOWED, ALLOWED_OFFLINE or NEVER.
        #[arg(long, default_value = "ALLOWED")]
        whitelist: String,
        /// Contract id (a new eMAID of ours when left out).
        #[arg(long)]
        contract_id: Option<String>,
        /// Printed number.
        #[arg(long)]
        visual_number: Option<String>,
        /// Limit to these CSOs (`CC-PID`, repeatable).
        #[arg(long = "allowed-cpo")]
        allowed_cpos: Vec<String>,
        /// Limit to these locations (repeatable).
        #[arg(long = "allowed-location")]
        allowed_locations: Vec<String>,
    },
    /// Changes a token's account state or whitelist rule (pushed as PATCH).
    Update {
        /// Token type.
        token_type: String,
        /// Token uid.
        uid: String,
        /// ACTIVE, BLOCKED, EXPIRED or NO_CREDIT.
        #[arg(long)]
        state: Option<String>,
        /// ALWAYS, ALLOWED, ALLOWED_OFFLINE or NEVER.
        #[arg(long)]
        whitelist: Option<String>,
    },
    /// Blocks a token (valid = false at every CSO).
    Block {
        /// Token type.
        token_type: String,
        /// Token uid.
        uid: String,
    },
    /// Unblocks a token.
    Unblock {
        /// Token type.
        token_type: String,
        /// Token uid.
        uid: String,
    },
}

async fn tokens(
    client: &roaming_peer::operator::client::OperatorClient,
    action: Tokens,
) -> Result<Value, CliError> {
    let update = |t: &str, uid: &str| format!("/api/tokens/{}/{uid}", t.to_ascii_uppercase());
    Ok(match action {
        Tokens::List => client.get("/api/tokens").await?,
        Tokens::Issue {
            uid,
            token_type,
            whitelist,
            contract_id,
            visual_number,
            allowed_cpos,
            allowed_locations,
        } => {
            let body = json!({
                "uid": uid, "type": token_type.to_ascii_uppercase(), "whitelist": whitelist.to_ascii_uppercase(),
                "contract_id": contract_id, "visual_number": visual_number,
                "allowed_cpos": allowed_cpos, "allowed_locations": allowed_locations
            });
            client.post("/api/tokens", &body).await?
        }
        Tokens::Update {
            token_type,
            uid,
            state,
            whitelist,
        } => {
            let body = json!({
                "state": state.map(|s| s.to_ascii_uppercase()),
                "whitelist": whitelist.map(|s| s.to_ascii_uppercase())
            });
            client
                .send(http::Method::PATCH, &update(&token_type, &uid), Some(&body))
                .await?
        }
        Tokens::Block { token_type, uid } => {
            client
                .send(
                    http::Method::PATCH,
                    &update(&token_type, &uid),
                    Some(&json!({ "state": "BLOCKED" })),
                )
                .await?
        }
        Tokens::Unblock { token_type, uid } => {
            client
                .send(
                    http::Method::PATCH,
                    &update(&token_type, &uid),
                    Some(&json!({ "state": "ACTIVE" })),
                )
                .await?
        }
    })
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
        Command::Tokens { operator, action } => {
            let client = operator.client(&defaults, process_env())?;
            print_json(&tokens(&client, action).await?)
        }
        Command::Start {
            operator,
            token,
            location,
            evse,
            connector,
            cpo,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let body = json!({ "token": token.json(), "location_id": location, "evse_uid": evse,
                               "connector_id": connector, "cpo": cpo });
            let answer: Value = client.post("/api/commands/start", &body).await?;
            print_json(&answer)
        }
        Command::Stop {
            operator,
            session,
            cpo,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let answer: Value = client
                .post(
                    "/api/commands/stop",
                    &json!({ "session_id": session, "cpo": cpo }),
                )
                .await?;
            print_json(&answer)
        }
        Command::Reserve {
            operator,
            token,
            location,
            evse,
            minutes,
            reservation_id,
            cpo,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let expiry = roaming_types::DateTime::now().plus(chrono::Duration::minutes(minutes));
            let body = json!({ "token": token.json(), "location_id": location, "evse_uid": evse,
                               "expiry_date": expiry, "reservation_id": reservation_id, "cpo": cpo });
            let answer: Value = client.post("/api/commands/reserve", &body).await?;
            print_json(&answer)
        }
        Command::CancelReservation {
            operator,
            reservation_id,
            cpo,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let body = json!({ "reservation_id": reservation_id, "cpo": cpo });
            let answer: Value = client.post("/api/commands/cancel-reservation", &body).await?;
            print_json(&answer)
        }
        Command::Unlock {
            operator,
            location,
            evse,
            connector,
            cpo,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let body =
                json!({ "location_id": location, "evse_uid": evse, "connector_id": connector, "cpo": cpo });
            let answer: Value = client.post("/api/commands/unlock", &body).await?;
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
        Command::Plan { operator, action } => {
            let client = operator.client(&defaults, process_env())?;
            print_json(&plan(&client, action).await?)
        }
        Command::Cdrs { operator, action } => {
            let client = operator.client(&defaults, process_env())?;
            cdrs(&client, action).await
        }
        Command::Quote {
            operator,
            location,
            evse,
            energy_kwh,
            charging_minutes,
            parking_minutes,
            connector,
            start,
            cpo,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let energy: serde_json::Number = energy_kwh
                .parse()
                .map_err(|_| CliError::Other(format!("--energy-kwh {energy_kwh:?} is not a number")))?;
            let body = json!({ "cpo": cpo, "location_id": location, "evse_uid": evse, "connector_id": connector,
                               "start_date_time": start, "energy_kwh": energy, "charging_minutes": charging_minutes,
                               "parking_minutes": parking_minutes });
            let answer: Value = client.post("/api/quotes", &body).await?;
            print_json(&answer)
        }
        Command::Sessions {
            operator,
            contract_id,
            status,
        } => {
            let client = operator.client(&defaults, process_env())?;
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in [("contract_id", contract_id), ("status", status)] {
                if let Some(v) = v {
                    q.append_pair(k, &v);
                }
            }
            let answer: Value = client.get(&format!("/api/sessions?{}", q.finish())).await?;
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

    /// Tokens and keys may start with `-` (ours never do, other implementations' may).
    #[test]
    fn a_token_starting_with_a_hyphen_is_a_value() {
        use clap::Parser as _;
        use roaming_peer::cli::{CommonCommand, PeersCommand};
        let cli = super::Cli::try_parse_from([
            "csp-endpoint",
            "peers",
            "connect",
            "--operator-key",
            "-key",
            "http://127.0.0.1:9410/ocpi/versions",
            "-_C9Il0o6FehMz8",
        ])
        .expect("parses");
        match cli.command {
            super::Command::Common(CommonCommand::Peers {
                operator,
                command: PeersCommand::Connect { token, .. },
            }) => {
                assert_eq!(token, "-_C9Il0o6FehMz8");
                assert_eq!(operator.operator_key.as_deref(), Some("-key"));
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
