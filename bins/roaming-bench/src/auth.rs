//! Scenario 4 (issue #5): real-time authorizations (UC3-1, `POST {tokens}/{uid}/authorize`) on
//! loopback, at full speed and at a fixed rate, next to the bare plumbing:
//!
//! - baseline: the same POST against a bare handler returning a canned AuthorizationInfo (no
//!   authentication, no lookup, no storage);
//! - the real CSP's authorize endpoint, called by an in-process stand-in CSO registered with the real
//!   flow (credentials check, routing, token lookup, verdict, authorization record);
//! - end to end: a charger's question to the real CSO (`POST /api/stations/authorize`), which asks the
//!   real CSP in real time (NEVER tokens) or decides from its copy (ALWAYS tokens, for contrast).

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use roaming_peer::testing::TestEndpoint;
use roaming_types::modules::types::Role;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::procs::{Proc, connect};
use crate::{histogram, percentiles};

const TOKENS: usize = 200;
const CONCURRENCY: usize = 32;

/// One request of a load: URL, body, optional Authorization header.
type Request = (String, Value, Option<String>);

/// Sends `n` POSTs made by `make` at full speed (`rate = None`, `CONCURRENCY` in flight) or at
/// `rate` per second; returns requests per second and the latency histogram (µs). Any non-2xx
/// answer or an answer whose `allowed` is missing fails the run.
async fn fire(
    make: impl Fn(usize) -> Request,
    n: usize,
    rate: Option<u64>,
    check: fn(&Value) -> bool,
) -> Result<(f64, hdrhistogram::Histogram<u64>), String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .map_err(|e| e.to_string())?;
    let sem = Arc::new(Semaphore::new(if rate.is_some() { 1024 } else { CONCURRENCY }));
    let mut tick = rate.map(|r| {
        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / r as f64));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        if let Some(t) = tick.as_mut() {
            t.tick().await;
        }
        let permit = Arc::clone(&sem)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (url, body, auth) = make(i);
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let mut req = client.post(&url).json(&body);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let resp = req.send().await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let v: Value = resp.json().await.map_err(|e| e.to_string())?;
            let took = t0.elapsed();
            drop(permit);
            if !status.is_success() || !check(&v) {
                return Err(format!("{url} answered {status}: {v}"));
            }
            Ok::<_, String>(took)
        }));
    }
    let mut h = histogram();
    for t in tasks {
        let took = t.await.map_err(|e| e.to_string())??;
        let _ = h.record(took.as_micros().max(1) as u64);
    }
    Ok((n as f64 / start.elapsed().as_secs_f64(), h))
}

fn ocpi_allowed(v: &Value) -> bool {
    v["data"]["allowed"].is_string()
}

fn decision_made(v: &Value) -> bool {
    v["allowed"].is_boolean()
}

/// A bare axum server answering every POST with a canned AuthorizationInfo envelope.
async fn bare_server() -> Result<String, String> {
    let canned = json!({
        "data": { "allowed": "ALLOWED", "token": { "country_code": "DE", "party_id": "CSP", "uid": "T0",
                  "type": "RFID", "contract_id": "DE-CSP-C00000001-5", "issuer": "Bench", "valid": true,
                  "whitelist": "NEVER", "last_updated": "2026-01-01T00:00:00Z" },
                  "authorization_reference": "0123456789ABCDEFGHIJKLMN" },
        "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"
    });
    let app = axum::Router::new().route(
        "/{*rest}",
        post(move || {
            let c = canned.clone();
            async move { axum::Json(c) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

fn here(i: usize) -> Value {
    json!({ "location_id": "L1", "evse_uids": [format!("L1-E{}", i % 2)] })
}

fn row(what: &str, load: &str, rate: f64, h: &hdrhistogram::Histogram<u64>) -> String {
    format!("| {what} | {load} | {rate:.0}/s | {} |", percentiles(h))
}

/// Runs the scenario: `n` requests at full speed, then `rate`/s for `seconds`.
pub(crate) async fn run(n: usize, rate: u64, seconds: u64) -> Result<(), String> {
    println!(
        "== auth: real-time authorizations, {TOKENS} NEVER + {TOKENS} ALWAYS tokens, {CONCURRENCY} in flight at full speed"
    );
    let paced = usize::try_from(rate.saturating_mul(seconds)).unwrap_or(usize::MAX);
    let paced_load = format!("{rate}/s for {seconds} s");
    let full_load = format!("{n} at full speed");
    let mut rows = Vec::new();

    // Baseline: the bare plumbing.
    let bare = bare_server().await?;
    let url = format!("{bare}/ocpi/2.2.1/tokens/T0/authorize");
    let make = |i: usize| (url.clone(), here(i), None);
    let (r, h) = fire(make, n, None, ocpi_allowed).await?;
    rows.push(row(
        "baseline: bare POST handler, canned answer",
        &full_load,
        r,
        &h,
    ));
    let (r, h) = fire(make, paced, Some(rate), ocpi_allowed).await?;
    rows.push(row(
        "baseline: bare POST handler, canned answer",
        &paced_load,
        r,
        &h,
    ));

    // The real endpoints.
    let cso = Proc::start("cso-endpoint", "NL-CSO", &[]).await?;
    let csp = Proc::start("csp-endpoint", "DE-CSP", &[]).await?;
    connect(&cso, &csp).await?;
    for i in 0..TOKENS {
        for (prefix, whitelist) in [("N", "NEVER"), ("A", "ALWAYS")] {
            let _: Value = csp
                .op
                .post(
                    "/api/tokens",
                    &json!({ "uid": format!("{prefix}{i:07}"), "whitelist": whitelist }),
                )
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let sites = json!([crate::location(1)]);
    let _: Value = cso
        .op
        .post(
            "/api/tariffs/import",
            &json!([{ "id": "STD", "currency": "EUR",
            "elements": [{ "price_components": [{ "type": "ENERGY", "price": 0.30, "step_size": 1 }] }] }]),
        )
        .await
        .map_err(|e| e.to_string())?;
    let _: Value = cso
        .op
        .post("/api/locations/import", &sites)
        .await
        .map_err(|e| e.to_string())?;
    for _ in 0..400 {
        let held: Value = cso.op.get("/api/tokens").await.map_err(|e| e.to_string())?;
        if held.as_array().map(Vec::len) == Some(2 * TOKENS) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // The CSP's authorize endpoint, called by a stand-in CSO.
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut defaults = roaming_peer::testing::defaults(Role::Cpo);
    defaults.party = "NL-CSX"
        .parse()
        .map_err(|e: roaming_types::TypeError| e.to_string())?;
    let fake = TestEndpoint::start(&defaults, dir.path().to_path_buf(), &[], None, |_core| async {
        Ok(roaming_peer::endpoint::RoleParts::default())
    })
    .await
    .map_err(|e| e.to_string())?;
    let inv = csp.op.invite().await.map_err(|e| e.to_string())?;
    fake.operator
        .connect(&inv.versions_url, &inv.token)
        .await
        .map_err(|e| e.to_string())?;
    let peer = fake
        .core
        .peers
        .get("DE-CSP")
        .map_err(|e| e.to_string())?
        .ok_or("not registered")?;
    let auth = peer.token_out.authorization_header(false);
    let base = format!("{}/ocpi/2.2.1/tokens", csp.instance.ocpi_url);
    let make = |i: usize| {
        (
            format!("{base}/N{:07}/authorize", i % TOKENS),
            here(i),
            Some(auth.clone()),
        )
    };
    let (r, h) = fire(make, n, None, ocpi_allowed).await?;
    rows.push(row(
        "CSP authorize endpoint (auth, lookup, verdict, record)",
        &full_load,
        r,
        &h,
    ));
    let (r, h) = fire(make, paced, Some(rate), ocpi_allowed).await?;
    rows.push(row(
        "CSP authorize endpoint (auth, lookup, verdict, record)",
        &paced_load,
        r,
        &h,
    ));
    fake.stop().await;

    // End to end: charger → CSO → CSP in real time, and the CSO's local decision for contrast.
    let op_base = cso.op.base().to_owned();
    let key = format!("Bearer {}", cso.key());
    for (prefix, what) in [
        ("N", "charger → CSO → CSP real time (NEVER)"),
        ("A", "charger → CSO local decision (ALWAYS)"),
    ] {
        let make = |i: usize| {
            (
                format!("{op_base}/api/stations/authorize"),
                json!({ "location_id": "L1", "evse_uid": format!("L1-E{}", i % 2),
                        "token_uid": format!("{prefix}{:07}", i % TOKENS) }),
                Some(key.clone()),
            )
        };
        let (r, h) = fire(make, n, None, decision_made).await?;
        rows.push(row(what, &full_load, r, &h));
        let (r, h) = fire(make, paced, Some(rate), decision_made).await?;
        rows.push(row(what, &paced_load, r, &h));
    }
    println!();
    println!("| run | load | throughput | latency p50 / p99 / max (ms) |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    println!();
    println!(
        "peak memory: CSO {:.0} MiB, CSP {:.0} MiB; CPU used: CSO {:.1} s, CSP {:.1} s",
        cso.peak_mib(),
        csp.peak_mib(),
        cso.cpu_secs(),
        csp.cpu_secs()
    );
    Ok(())
}
