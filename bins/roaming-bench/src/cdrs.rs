//! Scenario 5 (issue #6): money.
//!
//! - the pricing engine alone: sessions of two hours with a reading every 5 minutes, priced with a
//!   tariff of time-of-day, energy, charging-time and parking components: CDRs priced per second and
//!   the time per CDR (p50/p99/max);
//! - a live session's periods: the readings so far re-priced at each of 1,440 readings (UC3-6);
//! - end to end with the real binaries: sessions reported to the CSO through its station API
//!   (webhook gateway), each completion producing a CDR that is POSTed to the CSP, stored durably and
//!   checked there: CDRs delivered and acknowledged per second, and the lag from the stop report to
//!   the CSP's event (p50/p99/max);
//! - the baseline: the same CDR POSTed to a bare handler (no authentication, no storage).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use futures::StreamExt as _;
use roaming_types::DateTime;
use roaming_types::modules::tariffs::Tariff;
use roaming_types::pricing::{MeterSample, SessionUsage, price_session};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::procs::{Proc, connect};
use crate::{histogram, percentiles};

const SITES: usize = 100;

fn tariff_json() -> Value {
    json!({
        "country_code": "NL", "party_id": "CSO", "id": "TOD", "currency": "EUR",
        "elements": [
            { "price_components": [{ "type": "FLAT", "price": 0.50, "vat": 21, "step_size": 1 }] },
            { "price_components": [{ "type": "ENERGY", "price": 0.45, "vat": 21, "step_size": 1 }],
              "restrictions": { "start_time": "07:00", "end_time": "23:00" } },
            { "price_components": [{ "type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1 }] },
            { "price_components": [{ "type": "TIME", "price": 1.20, "vat": 21, "step_size": 60 },
                                   { "type": "PARKING_TIME", "price": 3.00, "vat": 21, "step_size": 60 }],
              "restrictions": { "min_duration": 3600 } }
        ],
        "last_updated": "2026-01-01T00:00:00Z"
    })
}

/// A two-hour session starting at `start`: 90 minutes charging at 11 kW, 30 minutes parked.
fn usage(start: DateTime) -> SessionUsage {
    let mut samples = Vec::new();
    for i in 0..=24 {
        let minutes = i * 5;
        let charging = minutes < 90;
        let kwh = Decimal::from(11 * minutes.min(90)) / Decimal::from(60);
        samples.push(MeterSample {
            at: start.plus(chrono::Duration::minutes(minutes)),
            energy_kwh: kwh,
            power_kw: if charging {
                Decimal::from(11)
            } else {
                Decimal::ZERO
            },
            current_a: if charging {
                Decimal::from(48)
            } else {
                Decimal::ZERO
            },
            charging,
        });
    }
    SessionUsage {
        start,
        end: start.plus(chrono::Duration::minutes(120)),
        samples,
        reservation: None,
    }
}

fn engine(n: usize) -> Result<String, String> {
    let tariff: Tariff = serde_json::from_value(tariff_json()).map_err(|e| e.to_string())?;
    let tz = roaming_types::pricing::parse_time_zone("Europe/Amsterdam").map_err(|e| e.to_string())?;
    let base = DateTime::now();
    let mut h = histogram();
    let start = Instant::now();
    let mut total = Decimal::ZERO;
    for i in 0..n {
        // Start times spread over a week, so that periods cross the time-of-day boundaries.
        let u = usage(base.plus(chrono::Duration::minutes(
            i64::try_from(i % 2016).unwrap_or(0) * 5,
        )));
        let t0 = Instant::now();
        let p = price_session(&tariff, &u, tz).map_err(|e| e.to_string())?;
        let _ = h.record(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1));
        total += p.total_cost.excl_vat.value();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    Ok(format!(
        "| pricing engine: 2 h session, 25 readings, 4 elements (one core) | {n} CDRs | {rate:.0}/s | {:.3} / {:.3} / {:.3} | total {} EUR |",
        h.value_at_quantile(0.50) as f64 / 1e6,
        h.value_at_quantile(0.99) as f64 / 1e6,
        h.max() as f64 / 1e6,
        total.round_dp(2)
    ))
}

/// A live session's periods (UC3-6): the CSO prices the readings so far at every reading, so the cost
/// of a reading grows with the session. A 4 h session read every 10 s (1,440 readings), priced with
/// the CDR's rules (a period at least every 15 min) after each reading.
fn live_periods() -> Result<String, String> {
    let tariff: Tariff = serde_json::from_value(tariff_json()).map_err(|e| e.to_string())?;
    let tz = roaming_types::pricing::parse_time_zone("Europe/Amsterdam").map_err(|e| e.to_string())?;
    let start = DateTime::now().plus(chrono::Duration::hours(-4));
    let readings: Vec<MeterSample> = (0..1440i64)
        .map(|i| MeterSample {
            at: start.plus(chrono::Duration::seconds(i * 10)),
            energy_kwh: Decimal::new(i * 305, 4),
            power_kw: Decimal::from(11),
            current_a: Decimal::from(16),
            charging: true,
        })
        .collect();
    let rules = roaming_types::pricing::PeriodRules {
        max_period_ms: Some(15 * 60 * 1000),
    };
    let mut h = histogram();
    let began = Instant::now();
    let mut periods = 0;
    for n in 1..=readings.len() {
        let u = SessionUsage {
            start,
            end: readings[n - 1].at,
            samples: readings[..n].to_vec(),
            reservation: None,
        };
        let t0 = Instant::now();
        let p =
            roaming_types::pricing::price_session_with(&tariff, &u, tz, rules).map_err(|e| e.to_string())?;
        let _ = h.record(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1));
        periods = p.charging_periods.len();
    }
    Ok(format!(
        "| live periods: each of 1,440 readings of a 4 h session re-priced so far (one core) | {} readings | {:.0} ms per session | {:.3} / {:.3} / {:.3} | {periods} periods |",
        readings.len(),
        began.elapsed().as_secs_f64() * 1000.0,
        h.value_at_quantile(0.50) as f64 / 1e6,
        h.value_at_quantile(0.99) as f64 / 1e6,
        h.max() as f64 / 1e6,
    ))
}

/// Records the CSP's CDR events: CDR id → when.
async fn listen(csp: &Proc, got: Arc<Mutex<BTreeMap<String, Instant>>>) -> Result<(), String> {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/events?type=cdr", csp.op.base()))
        .bearer_auth(csp.key())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let mut stream = resp.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            let now = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(pos) = buf.find("\n\n") {
                let block: String = buf.drain(..pos + 2).collect();
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim)
                    .collect();
                if let Ok(v) = serde_json::from_str::<Value>(&data) {
                    if let Some(s) = v["cdr"].as_str() {
                        got.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(s.to_ascii_lowercase(), now);
                    }
                }
            }
        }
    });
    Ok(())
}

async fn bare_baseline(n: usize) -> Result<String, String> {
    let app = axum::Router::new().route(
        "/cdrs",
        post(|| async { axum::Json(json!({ "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z" })) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::new();
    let body = json!({ "id": "X", "tariffs": [tariff_json()], "total_cost": { "excl_vat": 1 } });
    let mut h = histogram();
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let permit = Arc::clone(&sem)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (client, body) = (client.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let r = client
                .post(format!("http://{addr}/cdrs"))
                .json(&body)
                .send()
                .await;
            drop(permit);
            r.map(|_| t0.elapsed()).map_err(|e| e.to_string())
        }));
    }
    for t in tasks {
        let took = t.await.map_err(|e| e.to_string())??;
        let _ = h.record(took.as_micros().max(1) as u64);
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    Ok(format!(
        "| baseline: bare POST handler, 16 in flight | {n} POSTs | {rate:.0}/s | {} |",
        percentiles(&h)
    ))
}

async fn end_to_end(n: usize) -> Result<Vec<String>, String> {
    let cso = Proc::start(
        "cso-endpoint",
        "NL-CSO",
        &[
            ("cso.gateway", "webhook"),
            // Nothing is sent to chargers in this run: sessions are reported, not commanded.
            ("cso.gateway.webhook_url", "http://127.0.0.1:9/unused"),
        ],
    )
    .await?;
    let csp = Proc::start("csp-endpoint", "DE-CSP", &[]).await?;
    connect(&cso, &csp).await?;
    let mut t = tariff_json();
    if let Some(o) = t.as_object_mut() {
        o.remove("country_code");
        o.remove("party_id");
        o.remove("last_updated");
    }
    let _: Value = cso
        .op
        .post("/api/tariffs/import", &json!([t]))
        .await
        .map_err(|e| e.to_string())?;
    let sites: Vec<Value> = (0..SITES)
        .map(|i| {
            let mut l = crate::location(i);
            for e in l["evses"].as_array_mut().into_iter().flatten() {
                for c in e["connectors"].as_array_mut().into_iter().flatten() {
                    c["tariff_ids"] = json!(["TOD"]);
                }
            }
            l
        })
        .collect();
    let _: Value = cso
        .op
        .post("/api/locations/import", &json!(sites))
        .await
        .map_err(|e| e.to_string())?;
    let tokens = 2 * SITES;
    for i in 0..tokens {
        let _: Value = csp
            .op
            .post(
                "/api/tokens",
                &json!({ "uid": format!("B{i:07}"), "whitelist": "ALWAYS" }),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    for _ in 0..400 {
        let held: Value = cso.op.get("/api/tokens").await.map_err(|e| e.to_string())?;
        if held.as_array().map(Vec::len) == Some(tokens) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let got = Arc::new(Mutex::new(BTreeMap::new()));
    listen(&csp, Arc::clone(&got)).await?;
    // Start every session (one per EVSE and round), report readings, then stop them all and time the
    // stops to the CSP's CDR events.
    let op = Arc::new(cso.op.clone());
    let rounds = n.div_ceil(tokens);
    let mut stopped: BTreeMap<String, Instant> = BTreeMap::new();
    let cpu0 = (cso.cpu_secs(), csp.cpu_secs());
    let started = Instant::now();
    let mut done = 0;
    for round in 0..rounds {
        let this = tokens.min(n - done);
        let t0 = DateTime::now().plus(chrono::Duration::minutes(-120));
        let mut tasks = Vec::new();
        for i in 0..this {
            let (op, tx) = (Arc::clone(&op), format!("R{round}T{i}"));
            let (loc, evse) = (
                format!("L{}", i % SITES),
                format!("L{}-E{}", i % SITES, i / SITES),
            );
            tasks.push(tokio::spawn(async move {
                let at = |m: i64| t0.plus(chrono::Duration::minutes(m)).to_string();
                let events = [
                    json!({ "type": "session_started", "transaction_id": tx, "location_id": loc, "evse_uid": evse,
                            "connector_id": "1", "token_uid": format!("B{i:07}"), "token_type": "RFID",
                            "meter_start_wh": 0, "at": at(0) }),
                    json!({ "type": "meter_values", "transaction_id": tx, "energy_wh": 0, "power_w": 11000,
                            "current_a": 48, "charging": true, "at": at(0) }),
                    json!({ "type": "meter_values", "transaction_id": tx, "energy_wh": 16500, "power_w": 0,
                            "current_a": 0, "charging": false, "at": at(90) }),
                ];
                for e in events {
                    op.post::<_, Value>("/api/stations/events", &e).await.map_err(|e| e.to_string())?;
                }
                let t_stop = Instant::now();
                let s: Value = op
                    .post(
                        "/api/stations/events",
                        &json!({ "type": "session_stopped", "transaction_id": tx, "energy_wh": 16500, "at": at(120) }),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                let id = s["session"]["id"].as_str().unwrap_or_default().to_ascii_lowercase();
                Ok::<_, String>((id, t_stop))
            }));
        }
        for t in tasks {
            let (id, at) = t.await.map_err(|e| e.to_string())??;
            stopped.insert(id, at);
        }
        done += this;
        // Wait until this round's CDRs arrived (the EVSEs are reused by the next round).
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let have = {
                let g = got.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                stopped.keys().filter(|k| g.contains_key(*k)).count()
            };
            if have >= done || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let g = got
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut lag = histogram();
    let mut delivered = 0;
    for (id, t) in &stopped {
        if let Some(r) = g.get(id) {
            delivered += 1;
            let _ = lag.record(r.saturating_duration_since(*t).as_micros().max(1) as u64);
        }
    }
    let cdrs: Value = csp.op.get("/api/cdrs").await.map_err(|e| e.to_string())?;
    let held = cdrs.as_array().map_or(0, Vec::len);
    Ok(vec![
        format!(
            "| end to end: session reported → CDR priced, stored, POSTed, stored by the CSP | {n} sessions, {tokens} at a time | {:.0} CDRs/s | {} | {delivered} delivered, {held} held by the CSP |",
            delivered as f64 / secs,
            percentiles(&lag)
        ),
        format!(
            "| CPU seconds during the run | CSO {:.1} | CSP {:.1} | peak memory CSO {:.0} MiB, CSP {:.0} MiB |",
            cso.cpu_secs() - cpu0.0,
            csp.cpu_secs() - cpu0.1,
            cso.peak_mib(),
            csp.peak_mib()
        ),
    ])
}

/// Runs the scenario.
pub(crate) async fn run(priced: usize, delivered: usize) -> Result<(), String> {
    println!("== cdrs: pricing and delivering CDRs");
    let mut rows = vec![engine(priced)?, live_periods()?, bare_baseline(delivered).await?];
    rows.extend(end_to_end(delivered).await?);
    println!();
    println!("| run | load | throughput | latency or lag p50 / p99 / max (ms) | |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    println!();
    println!(
        "Lag = from the station-management system's stop report to the CSP's event, which follows its durable write."
    );
    Ok(())
}
