//! `roaming-bench`: measured figures for `docs/performance.md`.
//!
//! Runs the real release binaries on loopback (build them first: `cargo build --release --bins`) and
//! prints a table:
//!
//! - `sync`: a CSP registers with a CSO holding N locations of 2 EVSEs: seconds until the CSP holds
//!   them all, peak memory of each process, sled size on disk;
//! - `status`: EVSE status changes fed to the CSO's operator API, at full speed and at a fixed rate,
//!   delivered to 1 and to 10 CSPs: delivered updates per second and the lag from the operator API call
//!   to the CSP's durable copy (p50/p99), next to a baseline of the same PATCH against a bare handler
//!   without storage and against the CSP receiver directly;
//! - `auth`: real-time authorizations (UC3-1): the CSP's authorize endpoint and a charger's question
//!   to the CSO answered in real time by the CSP, at full speed and at a fixed rate, next to a bare
//!   handler (p50/p99/max, peak memory);
//! - `cdrs`: the pricing engine alone (CDRs priced per second) and CDRs produced, delivered and
//!   acknowledged end to end, next to a bare POST handler.

mod auth;
mod cdrs;
mod procs;
mod status;
mod sync;

use clap::Parser;

/// Benchmarks of the roaming endpoints.
#[derive(Debug, Parser)]
#[command(name = "roaming-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Full synchronisation of a new CSP.
    Sync {
        /// Locations at the CSO (2 EVSEs each).
        #[arg(long, default_value_t = 20_000)]
        locations: usize,
    },
    /// EVSE status changes to 1 and 10 CSPs, with baselines.
    Status {
        /// Changes sent at full speed.
        #[arg(long, default_value_t = 5_000)]
        changes: usize,
        /// Rate of the paced run, changes per second.
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        /// Duration of the paced run in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Numbers of connected CSPs to run end to end, e.g. `1,10`.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 10])]
        csps: Vec<usize>,
    },
    /// Real-time authorizations, with a bare-handler baseline.
    Auth {
        /// Requests sent at full speed per run.
        #[arg(long, default_value_t = 5_000)]
        requests: usize,
        /// Rate of the paced runs, requests per second.
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        /// Duration of the paced runs in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// CDR pricing and delivery.
    Cdrs {
        /// Sessions priced by the engine alone.
        #[arg(long, default_value_t = 20_000)]
        priced: usize,
        /// Sessions run end to end.
        #[arg(long, default_value_t = 2_000)]
        delivered: usize,
    },
    /// Everything, with the default sizes.
    All,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    roaming_peer::tls::install_default_provider();
    let result = match cli.what {
        What::Sync { locations } => sync::run(locations).await,
        What::Status {
            changes,
            rate,
            seconds,
            csps,
        } => status::run(changes, rate, seconds, &csps).await,
        What::Auth {
            requests,
            rate,
            seconds,
        } => auth::run(requests, rate, seconds).await,
        What::Cdrs { priced, delivered } => cdrs::run(priced, delivered).await,
        What::All => {
            let all = async {
                sync::run(20_000).await?;
                status::run(5_000, 1_000, 10, &[1, 10]).await?;
                auth::run(5_000, 1_000, 10).await?;
                cdrs::run(20_000, 2_000).await
            };
            all.await
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A latency histogram in microseconds.
pub(crate) fn histogram() -> hdrhistogram::Histogram<u64> {
    #[expect(clippy::expect_used, reason = "constant, valid bounds")]
    hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// `p50 / p99 / max` in ms.
pub(crate) fn percentiles(h: &hdrhistogram::Histogram<u64>) -> String {
    if h.is_empty() {
        return "—".to_owned();
    }
    format!(
        "{:.1} / {:.1} / {:.1}",
        h.value_at_quantile(0.50) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    )
}

/// A test location with two EVSEs, as the operator imports it.
pub(crate) fn location(i: usize) -> serde_json::Value {
    let lat = 50.75 + (i % 200) as f64 * 0.01;
    let lon = 3.40 + (i / 200) as f64 * 0.03;
    let evse = |n: usize, dc: bool| {
        serde_json::json!({
            "uid": format!("L{i}-E{n}"),
            "evse_id": format!("NL*CSO*E{i}X{n}"),
            "status": "AVAILABLE",
            "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
            "connectors": [{
                "id": "1",
                "standard": if dc { "IEC_62196_T2_COMBO" } else { "IEC_62196_T2" },
                "format": if dc { "CABLE" } else { "SOCKET" },
                "power_type": if dc { "DC" } else { "AC_3_PHASE" },
                "max_voltage": if dc { 920 } else { 230 },
                "max_amperage": if dc { 200 } else { 32 },
                "tariff_ids": ["STD"]
            }]
        })
    };
    serde_json::json!({
        "id": format!("L{i}"),
        "publish": true,
        "name": format!("Benchmark site {i}"),
        "address": format!("Benchmarkstraat {}", i % 300 + 1),
        "city": "Utrecht",
        "postal_code": "3511 AA",
        "country": "NLD",
        "coordinates": { "latitude": format!("{lat:.6}"), "longitude": format!("{lon:.6}") },
        "time_zone": "Europe/Amsterdam",
        "facilities": ["CAFE"],
        "opening_times": { "twentyfourseven": true },
        "evses": [evse(0, false), evse(1, true)]
    })
}
