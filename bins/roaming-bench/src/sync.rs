//! Scenario 1: a CSP registers with a CSO holding N locations of 2 EVSEs each.

use std::time::Duration;

use tokio::time::Instant;

use crate::procs::{Proc, connect};

pub(crate) async fn run(n: usize) -> Result<(), String> {
    println!(
        "== sync: a new CSP pulls {n} locations ({} EVSEs) from a CSO",
        2 * n
    );
    let cso = Proc::start("cso-endpoint", "NL-CSO", &[]).await?;
    let tariffs = serde_json::json!([{
        "id": "STD", "currency": "EUR",
        "elements": [{ "price_components": [{ "type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1 }] }]
    }]);
    let _: serde_json::Value = cso
        .op
        .post("/api/tariffs/import", &tariffs)
        .await
        .map_err(|e| e.to_string())?;
    let chunk = std::env::var("BENCH_IMPORT_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    let body = serde_json::Value::Array((0..n).map(crate::location).collect());
    let t = Instant::now();
    for part in body
        .as_array()
        .map(|a| a.chunks(chunk.max(1)))
        .into_iter()
        .flatten()
    {
        let _: serde_json::Value = cso
            .op
            .post("/api/locations/import", &part)
            .await
            .map_err(|e| e.to_string())?;
    }
    let import_s = t.elapsed().as_secs_f64();
    let cso_after_import = cso.peak_mib();
    drop(body);

    let csp = Proc::start("csp-endpoint", "DE-CSP", &[]).await?;
    let t = Instant::now();
    connect(&cso, &csp).await?;
    loop {
        let r: serde_json::Value = csp
            .op
            .get("/api/locations?include_hidden=true&limit=1")
            .await
            .map_err(|e| e.to_string())?;
        if r["total"].as_u64() == Some(n as u64) {
            break;
        }
        if t.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "the CSP holds {} of {n} locations after 10 minutes",
                r["total"]
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sync_s = t.elapsed().as_secs_f64();
    // Also: one search over the full set.
    let t = Instant::now();
    let r: serde_json::Value = csp
        .op
        .get("/api/locations?near=52.09,5.12&radius_km=25&status=AVAILABLE&min_power_kw=50")
        .await
        .map_err(|e| e.to_string())?;
    let search_ms = t.elapsed().as_secs_f64() * 1000.0;
    // The same file again, as a nightly export would bring it: no change, so nothing stored or pushed.
    let body = serde_json::Value::Array((0..n).map(crate::location).collect());
    let t = Instant::now();
    let again: serde_json::Value = cso
        .op
        .post("/api/locations/import", &body)
        .await
        .map_err(|e| e.to_string())?;
    let reimport_s = t.elapsed().as_secs_f64();
    drop(body);

    println!();
    println!("| figure | value | target |");
    println!("|---|---|---|");
    println!("| import of {n} locations at the CSO (operator API, one request) | {import_s:.2} s | — |");
    println!("| registration → CSP holds all {n} locations | {sync_s:.2} s | < 10 s |");
    println!("| peak memory, CSO process, after the import | {cso_after_import:.0} MiB | — |");
    println!(
        "| re-import of the same {n} locations, CSP connected ({} unchanged: nothing stored or pushed) | {reimport_s:.2} s | — |",
        again["unchanged"]
    );
    println!(
        "| peak memory, CSO process, end | {:.0} MiB | < 200 MiB |",
        cso.peak_mib()
    );
    println!(
        "| peak memory, CSP process | {:.0} MiB | < 200 MiB |",
        csp.peak_mib()
    );
    println!("| data directory on disk, CSO | {:.0} MiB | — |", cso.disk_mib());
    println!("| data directory on disk, CSP | {:.0} MiB | — |", csp.disk_mib());
    println!(
        "| CSP search (radius 25 km, status, ≥ 50 kW) over {n} sites, {} hits | {search_ms:.1} ms | — |",
        r["total"]
    );
    println!();
    Ok(())
}
