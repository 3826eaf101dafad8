//! Scenario 2 and 3: EVSE status changes to 1 and 10 CSPs, end to end, and the same PATCH against a
//! bare handler without storage and against the CSP receiver directly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::patch;
use futures::StreamExt as _;
use roaming_peer::testing::TestEndpoint;
use roaming_types::modules::types::Role;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::procs::{Proc, connect};
use crate::{histogram, percentiles};

const SITES: usize = 100;
const CONCURRENCY: usize = 32;

/// When each change was sent, by `evse|last_updated`.
type Sent = Arc<Mutex<BTreeMap<String, Instant>>>;
/// What the CSPs received: every event (key and time) and how many CSPs have each key so far.
#[derive(Debug, Default)]
struct Log {
    events: Vec<(String, Instant)>,
    counts: BTreeMap<String, usize>,
}

/// Shared by the listeners (which append) and the wait for delivery (which looks up one count per
/// expected key), so neither holds the lock for long and the listeners keep reading their streams.
type Received = Arc<Mutex<Log>>;

fn evse_of(i: usize) -> (String, String) {
    let site = i % SITES;
    (format!("L{site}"), format!("L{site}-E{}", (i / SITES) % 2))
}

const STATUSES: [&str; 3] = ["CHARGING", "AVAILABLE", "BLOCKED"];

/// Reads a CSP's server-sent events and records every EVSE event.
async fn listen(csp: &Proc, received: Received) -> Result<tokio::task::JoinHandle<()>, String> {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/events", csp.op.base()))
        .bearer_auth(csp.key())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(tokio::spawn(async move {
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
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&data) else {
                    continue;
                };
                if v["type"] == "evse" {
                    let key = format!(
                        "{}|{}",
                        v["evse"].as_str().unwrap_or(""),
                        v["last_updated"].as_str().unwrap_or("")
                    );
                    let mut log = received.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    *log.counts.entry(key.clone()).or_default() += 1;
                    log.events.push((key, now));
                }
            }
        }
    }))
}

async fn send_change(
    cso: Arc<roaming_peer::operator::client::OperatorClient>,
    i: usize,
    sent: Sent,
) -> Result<(), String> {
    let (loc, evse) = evse_of(i);
    let started = Instant::now();
    let body = serde_json::json!({ "status": STATUSES[i % STATUSES.len()] });
    let answer: serde_json::Value = cso
        .send(
            http::Method::PUT,
            &format!("/api/locations/{loc}/{evse}/status"),
            Some(&body),
        )
        .await
        .map_err(|e| e.to_string())?;
    let key = format!("{evse}|{}", answer["last_updated"].as_str().unwrap_or(""));
    sent.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key, started);
    Ok(())
}

struct RunFigures {
    sent: usize,
    send_rate: f64,
    delivered: usize,
    delivered_rate: f64,
    lag: hdrhistogram::Histogram<u64>,
}

/// Sends changes `first..first + n` at full speed (`rate = None`) or at `rate` per second, then waits
/// for delivery. Change `i` sets EVSE `evse_of(i)` to `STATUSES[i % 3]`: an EVSE comes back every 200
/// changes with another status, so a run that continues the numbering of the previous one never sets
/// a status an EVSE already has (that would be no change, and nothing would be delivered).
async fn drive(
    cso: &Proc,
    csps: usize,
    received: &Received,
    first: usize,
    n: usize,
    rate: Option<u64>,
) -> Result<RunFigures, String> {
    *received.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Log::default();
    let sent: Sent = Arc::default();
    let op = Arc::new(cso.op.clone());
    let sem = Arc::new(Semaphore::new(if rate.is_some() { 512 } else { CONCURRENCY }));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    let mut tick = rate.map(|r| tokio::time::interval(Duration::from_secs_f64(1.0 / r as f64)));
    for i in first..first + n {
        if let Some(t) = tick.as_mut() {
            t.tick().await;
        }
        let permit = Arc::clone(&sem)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (op, sent) = (Arc::clone(&op), Arc::clone(&sent));
        tasks.push(tokio::spawn(async move {
            let r = send_change(op, i, sent).await;
            drop(permit);
            r
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let send_secs = start.elapsed().as_secs_f64();
    // Wait until every CSP has the newest state of every EVSE (or 60 s).
    let expected_last: Vec<String> = {
        let sent = sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut last = BTreeMap::new();
        for k in sent.keys() {
            if let Some((evse, lu)) = k.split_once('|') {
                let e = last.entry(evse.to_owned()).or_insert_with(String::new);
                if lu > e.as_str() {
                    *e = lu.to_owned();
                }
            }
        }
        last.into_iter()
            .map(|(evse, lu)| format!("{evse}|{lu}"))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = {
            let log = received.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            expected_last
                .iter()
                .filter(|k| log.counts.get(*k).is_some_and(|n| *n >= csps))
                .count()
        };
        if got == expected_last.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let received = received.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut lag = histogram();
    let mut delivered = 0;
    let mut last = start;
    for (k, at) in received.events.iter() {
        if let Some(t0) = sent.get(k) {
            delivered += 1;
            let _ = lag.record(at.saturating_duration_since(*t0).as_micros().max(1) as u64);
            last = last.max(*at);
        }
    }
    let total_secs = last.saturating_duration_since(start).as_secs_f64().max(send_secs);
    Ok(RunFigures {
        sent: sent.len(),
        send_rate: sent.len() as f64 / send_secs,
        delivered,
        delivered_rate: delivered as f64 / total_secs,
        lag,
    })
}

async fn end_to_end(csps: usize, changes: usize, rate: u64, seconds: u64) -> Result<Vec<String>, String> {
    let cso = Proc::start("cso-endpoint", "NL-CSO", &[]).await?;
    let body = serde_json::Value::Array((0..SITES).map(crate::location).collect());
    let _: serde_json::Value = cso
        .op
        .post("/api/locations/import", &body)
        .await
        .map_err(|e| e.to_string())?;
    let mut peers = Vec::new();
    for i in 0..csps {
        let csp = Proc::start("csp-endpoint", &format!("DE-C{i:02}"), &[]).await?;
        connect(&cso, &csp).await?;
        peers.push(csp);
    }
    for csp in &peers {
        for _ in 0..400 {
            let r: serde_json::Value = csp
                .op
                .get("/api/locations?limit=1")
                .await
                .map_err(|e| e.to_string())?;
            if r["total"].as_u64() == Some(SITES as u64) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let received: Received = Arc::default();
    let mut listeners = Vec::new();
    for csp in &peers {
        listeners.push(listen(csp, Arc::clone(&received)).await?);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut rows = Vec::new();
    let cpu = |peers: &[Proc], cso: &Proc| (cso.cpu_secs(), peers.iter().map(Proc::cpu_secs).sum::<f64>());
    let before = cpu(&peers, &cso);
    let full = drive(&cso, csps, &received, 0, changes, None).await?;
    rows.push(format!(
        "| end to end, {csps} CSP(s), full speed | {} changes at {:.0}/s | {} deliveries, {:.0}/s | {} |",
        full.sent,
        full.send_rate,
        full.delivered,
        full.delivered_rate,
        percentiles(&full.lag)
    ));
    let mid = cpu(&peers, &cso);
    let paced = drive(
        &cso,
        csps,
        &received,
        changes,
        (rate * seconds) as usize,
        Some(rate),
    )
    .await?;
    let after = cpu(&peers, &cso);
    rows.push(format!(
        "| CPU seconds ({csps} CSP(s)): full-speed run / paced run | CSO {:.1} / {:.1} | CSPs {:.1} / {:.1} | |",
        mid.0 - before.0,
        after.0 - mid.0,
        mid.1 - before.1,
        after.1 - mid.1,
    ));
    rows.push(format!(
        "| end to end, {csps} CSP(s), {rate}/s for {seconds} s | {} changes at {:.0}/s | {} deliveries, {:.0}/s | {} |",
        paced.sent,
        paced.send_rate,
        paced.delivered,
        paced.delivered_rate,
        percentiles(&paced.lag)
    ));
    rows.push(capacity_row(csps, rate, &paced, after.0 - mid.0, after.1 - mid.1));
    rows.push(format!(
        "| peak memory after the runs ({csps} CSP(s)) | CSO {:.0} MiB | CSP max {:.0} MiB | |",
        cso.peak_mib(),
        peers.iter().map(Proc::peak_mib).fold(0.0, f64::max)
    ));
    for l in listeners {
        l.abort();
    }
    Ok(rows)
}

/// The number of CSPs the UC1-3 target is stated for (issue #4: p99 lag < 100 ms at 1,000/s).
const TARGET_PEERS: f64 = 10.0;

/// What the paced run's CPU use says about the machine the target needs: the CSO's CPU per change
/// (its deliveries to this run's CSPs included) and one CSP's CPU per update it received, times the
/// rate, for [`TARGET_PEERS`] CSPs. A lower bound: it counts the CSO's deliveries only for this
/// run's CSPs, and neither the sender nor the event listeners.
fn capacity_row(csps: usize, rate: u64, paced: &RunFigures, cso_cpu: f64, csps_cpu: f64) -> String {
    let cso_per_change = cso_cpu / paced.sent.max(1) as f64;
    let csp_per_delivery = csps_cpu / paced.delivered.max(1) as f64;
    let cores_needed = rate as f64 * (cso_per_change + TARGET_PEERS * csp_per_delivery);
    let cores_here = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    format!(
        "| CPU per update, paced run ({csps} CSP(s)) | CSO {:.0} µs per change, CSP {:.0} µs per delivered update | \
         {rate}/s to {TARGET_PEERS} CSPs needs ≥ {cores_needed:.1} cores at this cost; this machine has {cores_here} | |",
        cso_per_change * 1e6,
        csp_per_delivery * 1e6,
    )
}

/// The same PATCH body sent directly to `url(i)` at full speed.
async fn direct(
    url: impl Fn(usize) -> String,
    auth: Option<String>,
    n: usize,
) -> Result<(f64, hdrhistogram::Histogram<u64>), String> {
    let client = reqwest::Client::new();
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let lat = Arc::new(Mutex::new(histogram()));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = Arc::clone(&sem)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (client, lat, auth) = (client.clone(), Arc::clone(&lat), auth.clone());
        let body = serde_json::json!({
            "status": STATUSES[i % STATUSES.len()],
            "last_updated": roaming_types::DateTime::now().plus(chrono_millis(i)).to_string(),
        });
        let u = url(i);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let mut req = client.patch(&u).json(&body);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let ok = req.send().await.map(|r| r.status().is_success()).unwrap_or(false);
            let _ = lat
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(t.elapsed().as_micros().max(1) as u64);
            drop(permit);
            ok
        }));
    }
    for t in tasks {
        if !t.await.map_err(|e| e.to_string())? {
            return Err("a PATCH failed".to_owned());
        }
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let h = lat
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok((rate, h))
}

fn chrono_millis(i: usize) -> chrono::Duration {
    chrono::Duration::milliseconds(i as i64)
}

/// A bare PATCH handler: decode the EVSE PATCH, answer the envelope. No auth, no storage.
async fn bare_server() -> Result<String, String> {
    async fn handler(body: bytes::Bytes) -> axum::Json<roaming_types::Envelope<serde_json::Value>> {
        let _ = roaming_types::decode::decode_slice::<roaming_types::modules::locations::EvsePatch>(
            &body,
            roaming_types::decode::DecodeOptions::LENIENT,
        );
        axum::Json(roaming_types::Envelope::ok())
    }
    let app = axum::Router::new().route("/ocpi/2.2.1/locations/{cc}/{pid}/{loc}/{evse}", patch(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

async fn baselines(n: usize) -> Result<Vec<String>, String> {
    let mut rows = Vec::new();
    let bare = bare_server().await?;
    let (rate, h) = direct(
        |i| {
            let (loc, evse) = evse_of(i);
            format!("{bare}/ocpi/2.2.1/locations/NL/CSO/{loc}/{evse}")
        },
        None,
        n,
    )
    .await?;
    rows.push(format!(
        "| baseline: bare PATCH handler, no auth, no storage | {n} PATCHes | {rate:.0}/s | {} |",
        percentiles(&h)
    ));

    // The real CSP receiver, called by an in-process stand-in CSO registered with the real flow.
    let csp = Proc::start("csp-endpoint", "DE-CSP", &[]).await?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut defaults = roaming_peer::testing::defaults(Role::Cpo);
    defaults.party = "NL-CSO"
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
    let base = format!("{}/ocpi/2.2.1/locations/NL/CSO", csp.instance.ocpi_url);
    let client = reqwest::Client::new();
    for s in 0..SITES {
        let mut l = crate::location(s);
        l["country_code"] = "NL".into();
        l["party_id"] = "CSO".into();
        let now = roaming_types::DateTime::now().to_string();
        l["last_updated"] = now.clone().into();
        for e in l["evses"].as_array_mut().into_iter().flatten() {
            e["last_updated"] = now.clone().into();
            for c in e["connectors"].as_array_mut().into_iter().flatten() {
                c["last_updated"] = now.clone().into();
            }
        }
        let r = client
            .put(format!("{base}/L{s}"))
            .header("authorization", &auth)
            .json(&l)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("PUT location answered {}", r.status()));
        }
    }
    let (rate, h) = direct(
        |i| {
            let (loc, evse) = evse_of(i);
            format!("{base}/{loc}/{evse}")
        },
        Some(auth),
        n,
    )
    .await?;
    rows.push(format!(
        "| CSP receiver: auth, routing, decode, sled write, group-commit fsync | {n} PATCHes | {rate:.0}/s | {} |",
        percentiles(&h)
    ));
    fake.stop().await;
    Ok(rows)
}

pub(crate) async fn run(changes: usize, rate: u64, seconds: u64, csps: &[usize]) -> Result<(), String> {
    println!(
        "== status: EVSE status changes, {SITES} sites × 2 EVSEs, {CONCURRENCY} concurrent operator calls at full speed"
    );
    let mut rows = baselines(changes).await?;
    for n in csps {
        rows.extend(end_to_end(*n, changes, rate, seconds).await?);
    }
    println!();
    println!("| run | load | throughput | latency or lag p50 / p99 / max (ms) |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    println!();
    println!(
        "Lag = from the start of the operator API call at the CSO to the CSP's event, which it emits after its write is durable."
    );
    println!(
        "Deliveries count one per CSP; when changes to one EVSE pile up, only the newest state is delivered (outbox)."
    );
    Ok(())
}
