//! `roaming-demo`: the main job in one command. It starts a CSO endpoint and a CSP endpoint on
//! loopback (fresh temporary data directories, HTTPS with a test CA generated at start), walks them
//! through the use cases with the real flows, and prints a readable transcript of who called whom.
//! Exits 0 when every step worked, 1 otherwise.

mod support;
mod transcript;

use std::process::ExitCode;
use std::sync::Arc;

use roaming_peer::testing::{TestEndpoint, TestTls};
use serde_json::{Value, json};
use support::{first, site, until, wait_for};
use transcript::Transcript;

/// One node of the demo.
struct Node {
    name: &'static str,
    ep: TestEndpoint,
}

type StepResult = Result<(), String>;

struct Demo {
    cso: Node,
    csp: Node,
    transcript: Arc<Transcript>,
    step: usize,
}

impl Demo {
    fn header(&mut self, title: &str) {
        self.step += 1;
        println!();
        println!("{}. {title}", self.step);
    }

    /// Prints the OCPI calls made since the last step.
    fn calls(&self) {
        let names = [
            (self.cso.ep.ocpi_url.as_str(), self.cso.name),
            (self.csp.ep.ocpi_url.as_str(), self.csp.name),
        ];
        for line in self.transcript.drain(&names) {
            println!("   {line}");
        }
    }
}

async fn start(tls: &TestTls) -> Result<(Node, Node), String> {
    let cso_dir = tempfile::tempdir().map_err(|e| e.to_string())?.keep();
    let csp_dir = tempfile::tempdir().map_err(|e| e.to_string())?.keep();
    let cso_settings = [
        ("party.country_code", "NL".to_owned()),
        ("party.party_id", "CSO".to_owned()),
        ("party.name", "Demo Charging Operator".to_owned()),
        // Quick simulated chargers, so that a session takes seconds.
        ("cso.simulator.plug_in_delay_ms", "300".to_owned()),
        ("cso.simulator.meter_interval_ms", "400".to_owned()),
        ("cso.sessions.period_secs", "1".to_owned()),
    ];
    let csp_settings = [
        ("party.country_code", "DE".to_owned()),
        ("party.party_id", "CSP".to_owned()),
        ("party.name", "Demo Mobility Provider".to_owned()),
    ];
    let cso = TestEndpoint::start(
        &roaming_cso::defaults(),
        cso_dir,
        &cso_settings,
        Some(tls),
        roaming_cso::build,
    )
    .await
    .map_err(|e| format!("starting the CSO: {e}"))?;
    let csp = TestEndpoint::start(
        &roaming_csp::defaults(),
        csp_dir,
        &csp_settings,
        Some(tls),
        roaming_csp::build,
    )
    .await
    .map_err(|e| format!("starting the CSP: {e}"))?;
    Ok((
        Node {
            name: "CSO NL-CSO",
            ep: cso,
        },
        Node {
            name: "CSP DE-CSP",
            ep: csp,
        },
    ))
}

async fn uc1_1(demo: &mut Demo) -> StepResult {
    demo.header("UC1-1 Platform authentication: the CSO invites, the CSP connects (token A → B → C)");
    let inv = demo.cso.ep.operator.invite().await.map_err(|e| e.to_string())?;
    println!(
        "   CSO operator: peers invite → versions URL {} and a one-time token A",
        inv.versions_url
    );
    let view = demo
        .csp
        .ep
        .operator
        .connect(&inv.versions_url, &inv.token)
        .await
        .map_err(|e| e.to_string())?;
    println!("   CSP operator: peers connect <versions URL> <token A>");
    demo.calls();
    println!(
        "   → registered with {} ({}), OCPI {}",
        view.id, view.name, view.version
    );
    let cso_side = demo.cso.ep.operator.peers().await.map_err(|e| e.to_string())?;
    let peer = cso_side.first().ok_or("the CSO does not list the CSP")?;
    println!(
        "   → the CSO lists {} ({}), OCPI {}",
        peer.id,
        peer.parties.join(", "),
        peer.version
    );
    println!("   modules the CSO offers: {}", view.modules.join(", "));
    println!("   modules the CSP offers: {}", peer.modules.join(", "));

    demo.header("UC1-1 Token A is dead after registration (CR-13); tokens rotate (CR-20…CR-24)");
    let again = demo.csp.ep.operator.connect(&inv.versions_url, &inv.token).await;
    match again {
        Err(e) if e.to_string().contains("401") => println!("   reusing token A → refused with 401"),
        Err(e) => return Err(format!("token A reuse failed for the wrong reason: {e}")),
        Ok(_) => return Err("token A was accepted twice".to_owned()),
    }
    demo.calls();
    demo.cso
        .ep
        .operator
        .rotate(&peer.id)
        .await
        .map_err(|e| e.to_string())?;
    println!("   CSO operator: peers rotate {}", peer.id);
    demo.calls();
    Ok(())
}

async fn uc1_2_to_2_2(demo: &mut Demo) -> StepResult {
    let op = |e: roaming_peer::operator::client::OperatorClientError| e.to_string();
    demo.header("UC2-1 + UC1-2 The CSO loads tariffs and sites; both are pushed to the CSP");
    let tariffs = json!([
        { "id": "AC-STD", "currency": "EUR", "type": "REGULAR",
          "elements": [{ "price_components": [{ "type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1 }] }] },
        { "id": "DC-FAST", "currency": "EUR",
          "elements": [{ "price_components": [{ "type": "FLAT", "price": 1.00, "vat": 21, "step_size": 1 },
                                              { "type": "ENERGY", "price": 0.59, "vat": 21, "step_size": 1 }] }] }
    ]);
    let _: Value = demo
        .cso
        .ep
        .operator
        .post("/api/tariffs/import", &tariffs)
        .await
        .map_err(op)?;
    let sites = json!([
        site("UTR-CS", "Utrecht Centraal P+R", 52.0894, 5.1103, true),
        site("AMS-ZUID", "Amsterdam Zuid", 52.3389, 4.8722, false),
        site("RTM-CS", "Rotterdam Centraal", 51.9244, 4.4690, false)
    ]);
    let _: Value = demo
        .cso
        .ep
        .operator
        .post("/api/locations/import", &sites)
        .await
        .map_err(op)?;
    println!("   CSO operator: import tariffs (2) and import locations (3 sites, 6 EVSEs)");
    let csp = demo.csp.ep.operator.clone();
    until("the CSP holds 3 sites", || {
        let csp = csp.clone();
        async move {
            csp.get::<Value>("/api/locations")
                .await
                .is_ok_and(|r| r["total"] == 3)
        }
    })
    .await?;
    demo.calls();
    let near: Value = csp
        .get("/api/locations?near=52.09,5.12&radius_km=50")
        .await
        .map_err(op)?;
    let names: Vec<&str> = near["locations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["name"].as_str())
        .collect();
    println!("   CSP app: sites within 50 km of Utrecht → {}", names.join(", "));
    let fast: Value = csp.get("/api/locations?min_power_kw=50").await.map_err(op)?;
    println!("   CSP app: sites with ≥ 50 kW → {} site(s)", fast["total"]);

    demo.header("UC1-3 An EVSE status change at the CSO reaches the CSP (PATCH of status + last_updated)");
    let _: Value = demo
        .cso
        .ep
        .operator
        .send(
            http::Method::PUT,
            "/api/locations/UTR-CS/UTR-CS-1/status",
            Some(&json!({ "status": "CHARGING" })),
        )
        .await
        .map_err(op)?;
    println!("   CSO operator: evse-status UTR-CS UTR-CS-1 CHARGING");
    until("the CSP sees CHARGING", || {
        let csp = csp.clone();
        async move {
            csp.get::<Value>("/api/locations?status=CHARGING")
                .await
                .is_ok_and(|r| r["total"] == 1)
        }
    })
    .await?;
    demo.calls();
    println!("   → the CSP's copy shows UTR-CS-1 CHARGING");

    demo.header("UC2-2 The CSP pulls the CSO's tariffs and shows what applies at a connector");
    let report: Value = csp
        .send::<(), _>(http::Method::POST, "/api/peers/NL-CSO/sync?full=true", None)
        .await
        .map_err(op)?;
    demo.calls();
    println!(
        "   full pull: {} stored, {} unchanged, {} removed",
        report["stored"], report["unchanged"], report["removed"]
    );
    let tariffs: Value = csp
        .get("/api/locations/NL/CSO/UTR-CS/UTR-CS-1/1/tariffs")
        .await
        .map_err(op)?;
    for t in tariffs.as_array().into_iter().flatten() {
        let parts: Vec<String> = t["tariff"]["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|e| e["price_components"].as_array().cloned().unwrap_or_default())
            .map(|c| format!("{} {} EUR", c["type"].as_str().unwrap_or(""), c["price"]))
            .collect();
        println!(
            "   connector UTR-CS-1/1: tariff {} ({}) active now: {}",
            t["tariff_id"],
            parts.join(" + "),
            t["active_now"]
        );
    }
    Ok(())
}

async fn group3(demo: &mut Demo) -> StepResult {
    let op = |e: roaming_peer::operator::client::OperatorClientError| e.to_string();
    let csp = demo.csp.ep.operator.clone();
    let cso = demo.cso.ep.operator.clone();

    demo.header("UC3-1 The CSP issues a driver's RFID card and an app token; both are pushed to the CSO");
    let card: Value = csp
        .post(
            "/api/tokens",
            &json!({ "uid": "04A1B2C3D4E5F6", "whitelist": "ALLOWED", "visual_number": "DE-CSP-0042" }),
        )
        .await
        .map_err(op)?;
    let app: Value = csp
        .post(
            "/api/tokens",
            &json!({ "type": "APP_USER", "whitelist": "NEVER" }),
        )
        .await
        .map_err(op)?;
    let app_uid = app["token"]["uid"].as_str().unwrap_or_default().to_owned();
    let contract = app["token"]["contract_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!(
        "   CSP operator: tokens issue → RFID {} ({}), APP_USER {} ({})",
        card["token"]["uid"], card["token"]["contract_id"], app_uid, contract
    );
    wait_for(&cso, "the CSO holds both tokens", "/api/tokens", |v| {
        (v.as_array().map(Vec::len) == Some(2)).then(|| v.clone())
    })
    .await?;
    demo.calls();

    demo.header(
        "UC2-2 Before starting, the app asks the CSO what 20 kWh over 2 hours would cost (x-roaming-quotes)",
    );
    let q: Value = csp
        .post(
            "/api/quotes",
            &json!({ "location_id": "AMS-ZUID", "evse_uid": "AMS-ZUID-1", "energy_kwh": 20, "charging_minutes": 120 }),
        )
        .await
        .map_err(op)?;
    println!(
        "   CSP app: quote → tariff {}: {} EUR excl. VAT, {} EUR incl. VAT",
        q["tariff"]["id"], q["total_cost"]["excl_vat"], q["total_cost"]["incl_vat"]
    );
    demo.calls();

    demo.header("UC3-2 The driver starts charging from the CSP's app (START_SESSION → result → session)");
    let c: Value = csp
        .post(
            "/api/commands/start",
            &json!({ "token": { "uid": app_uid, "type": "APP_USER" }, "location_id": "AMS-ZUID", "evse_uid": "AMS-ZUID-1" }),
        )
        .await
        .map_err(op)?;
    println!(
        "   CSP app: start at AMS-ZUID-1 → CommandResponse {} (timeout {} s)",
        c["response"]["result"], c["response"]["timeout"]
    );
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    let done = wait_for(
        &csp,
        "the START_SESSION result",
        &format!("/api/commands/{id}"),
        |v| v.get("result").map(|_| v.clone()),
    )
    .await?;
    println!("   → CommandResult {}", done["result"]["result"]);
    let session = wait_for(
        &csp,
        "an ACTIVE session",
        &format!("/api/sessions?contract_id={contract}"),
        |v| first(v, |s| s["status"] == "ACTIVE"),
    )
    .await?;
    demo.calls();
    let sid = session["id"].as_str().unwrap_or_default().to_owned();
    println!(
        "   → session {sid} ACTIVE, auth_method {}",
        session["auth_method"]
    );

    demo.header("UC3-6 The CSP follows the live session (PATCHes with kwh and charging periods)");
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        let all: Value = csp
            .get(&format!("/api/sessions?contract_id={contract}"))
            .await
            .map_err(op)?;
        if let Some(s) = first(&all, |s| s["id"] == sid.as_str()) {
            println!(
                "   CSP app: {} kWh, {} charging period(s), status {}",
                s["kwh"],
                s["charging_periods"].as_array().map_or(0, Vec::len),
                s["status"]
            );
        }
    }
    demo.calls();

    demo.header("UC3-7 The CSP caps the session at 7 kW; the charger's power follows");
    let r: Value = csp
        .send(
            http::Method::PUT,
            &format!("/api/sessions/NL/CSO/{sid}/profile"),
            Some(&json!({ "limit_kw": 7 })),
        )
        .await
        .map_err(op)?;
    println!(
        "   CSP app: cap at 7 kW → ChargingProfileResponse {}",
        r["response"]["result"]
    );
    let rid = r["id"].as_str().unwrap_or_default().to_owned();
    let done = wait_for(
        &csp,
        "the profile result",
        &format!("/api/profile-requests/{rid}"),
        |v| v.get("result").map(|_| v.clone()),
    )
    .await?;
    println!("   → ChargingProfileResult {}", done["result"]["result"]);
    let view = wait_for(
        &cso,
        "the charger's cap",
        "/api/simulator/evses/AMS-ZUID/AMS-ZUID-1",
        |v| v.get("limit_w").map(|_| v.clone()),
    )
    .await?;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let all: Value = csp
        .get(&format!("/api/sessions?contract_id={contract}"))
        .await
        .map_err(op)?;
    let last_power = first(&all, |s| s["id"] == sid.as_str())
        .and_then(|s| s["charging_periods"].as_array().and_then(|p| p.last().cloned()))
        .and_then(|p| {
            p["dimensions"]
                .as_array()
                .and_then(|d| d.iter().find(|x| x["type"] == "MAX_POWER").cloned())
        })
        .map_or(Value::Null, |d| d["volume"].clone());
    println!(
        "   charger AMS-ZUID-1 now delivers at most {} W; the last period's MAX_POWER at the CSP: {} kW",
        view["limit_w"], last_power
    );
    demo.calls();

    demo.header("UC3-10 The CSO's site load management limits AMS-ZUID to 4 kW; the CSP is told (CP-04)");
    let _: Value = cso
        .send(
            http::Method::PUT,
            "/api/limits/AMS-ZUID",
            Some(&json!({ "limit_kw": 4 })),
        )
        .await
        .map_err(op)?;
    println!("   CSO operator: limit AMS-ZUID --kw 4");
    let active = wait_for(
        &csp,
        "the new plan at the CSP",
        &format!("/api/sessions/NL/CSO/{sid}/active-profile"),
        |v| (v["source"] == "CSO").then(|| v.clone()),
    )
    .await?;
    demo.calls();
    println!(
        "   → the CSP's view of the plan: {} {} for {} s",
        active["profile"]["charging_profile"]["charging_profile_period"][0]["limit"],
        active["profile"]["charging_profile"]["charging_rate_unit"],
        active["profile"]["charging_profile"]["duration"]
    );
    let _: Value = cso
        .send(
            http::Method::PUT,
            "/api/limits/AMS-ZUID",
            Some(&json!({ "limit_kw": null })),
        )
        .await
        .map_err(op)?;

    demo.header("UC3-4 The driver stops from the app (STOP_SESSION → session COMPLETED)");
    let c: Value = csp
        .post("/api/commands/stop", &json!({ "session_id": sid }))
        .await
        .map_err(op)?;
    println!(
        "   CSP app: stop {sid} → CommandResponse {}",
        c["response"]["result"]
    );
    let end = wait_for(
        &csp,
        "the COMPLETED session",
        &format!("/api/sessions?contract_id={contract}"),
        |v| first(v, |s| s["id"] == sid.as_str() && s["status"] == "COMPLETED"),
    )
    .await?;
    demo.calls();
    println!(
        "   → COMPLETED: {} kWh in {} charging period(s), ended {}",
        end["kwh"],
        end["charging_periods"].as_array().map_or(0, Vec::len),
        end["end_date_time"]
    );

    demo.header("UC3-5 / UC3-9 The CSO prices the session into one CDR, POSTs it; the CSP checks it");
    let cdr = wait_for(
        &csp,
        "the CDR at the CSP",
        &format!("/api/cdrs?contract_id={contract}"),
        |v| first(v, |c| c["session_id"] == sid.as_str()),
    )
    .await?;
    let cid = cdr["id"].as_str().unwrap_or_default().to_owned();
    let check = wait_for(
        &csp,
        "the CSP's verdict",
        &format!("/api/cdrs/NL/CSO/{cid}/check"),
        |v| Some(v.clone()),
    )
    .await?;
    wait_for(
        &cso,
        "the verdict at the CSO",
        &format!("/api/cdrs/{cid}/check"),
        |v| Some(v.clone()),
    )
    .await?;
    demo.calls();
    println!(
        "   → CDR {cid}: {} kWh, {} EUR excl. / {} EUR incl. VAT (tariff {}); CSP verdict {} (re-priced {} EUR)",
        cdr["total_energy"],
        cdr["total_cost"]["excl_vat"],
        cdr["total_cost"]["incl_vat"],
        cdr["tariffs"][0]["id"],
        check["verdict"],
        check["repriced_total"]["excl_vat"]
    );

    demo.header("UC3-1 A driver holds the RFID card to the charger (the CSO decides from its copy)");
    let out: Value = cso
        .post(
            "/api/simulator/evses/AMS-ZUID/AMS-ZUID-2/present-token",
            &json!({ "uid": "04A1B2C3D4E5F6" }),
        )
        .await
        .map_err(op)?;
    println!(
        "   charger AMS-ZUID-2: {} ({}, {})",
        out["outcome"], out["decision"]["source"], out["decision"]["auth_method"]
    );
    let local = wait_for(&csp, "the RFID session", "/api/sessions?status=ACTIVE", |v| {
        first(v, |s| s["cdr_token"]["uid"] == "04A1B2C3D4E5F6")
    })
    .await?;
    let _: Value = cso
        .post("/api/simulator/evses/AMS-ZUID/AMS-ZUID-2/unplug", &json!({}))
        .await
        .map_err(op)?;
    println!("   driver unplugs");
    let lid = local["id"].as_str().unwrap_or_default().to_owned();
    wait_for(
        &csp,
        "the RFID session COMPLETED",
        "/api/sessions?status=COMPLETED",
        |v| first(v, |s| s["id"] == lid.as_str()),
    )
    .await?;
    demo.calls();
    println!("   → session {lid} COMPLETED at the CSP");

    demo.header("UC3-8 The CSP reserves RTM-CS-1 for the card holder, who then starts on it");
    let expiry = roaming_types::DateTime::now().plus(chrono::Duration::minutes(15));
    let c: Value = csp
        .post(
            "/api/commands/reserve",
            &json!({ "token": { "uid": "04A1B2C3D4E5F6" }, "location_id": "RTM-CS", "evse_uid": "RTM-CS-1",
                     "expiry_date": expiry, "reservation_id": "R-2026-001" }),
        )
        .await
        .map_err(op)?;
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    let done = wait_for(
        &csp,
        "the RESERVE_NOW result",
        &format!("/api/commands/{id}"),
        |v| v.get("result").map(|_| v.clone()),
    )
    .await?;
    println!(
        "   CSP app: reserve RTM-CS-1 until {expiry} → {}",
        done["result"]["result"]
    );
    wait_for(
        &csp,
        "RTM-CS-1 RESERVED at the CSP",
        "/api/locations/NL/CSO/RTM-CS",
        |v| (v["evses"][0]["status"] == "RESERVED").then(|| v.clone()),
    )
    .await?;
    println!("   → RTM-CS-1 shows RESERVED to everyone; the CSP holds a RESERVATION session");
    let out: Value = cso
        .post(
            "/api/simulator/evses/RTM-CS/RTM-CS-1/present-token",
            &json!({ "uid": "04A1B2C3D4E5F6" }),
        )
        .await
        .map_err(op)?;
    println!("   the card holder arrives: {}", out["outcome"]);
    wait_for(
        &csp,
        "the reserved session ACTIVE",
        "/api/sessions?status=ACTIVE",
        |v| first(v, |s| s["location_id"] == "RTM-CS"),
    )
    .await?;
    let _: Value = cso
        .post("/api/simulator/evses/RTM-CS/RTM-CS-1/unplug", &json!({}))
        .await
        .map_err(op)?;
    demo.calls();
    println!("   → the reservation became the charging session; the driver unplugs");
    Ok(())
}

async fn run(demo: &mut Demo) -> StepResult {
    uc1_1(demo).await?;
    uc1_2_to_2_2(demo).await?;
    group3(demo).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let transcript = Transcript::install();
    println!(
        "roaming-demo: a CSO and a CSP endpoint on loopback, connected over HTTPS with a private test CA"
    );
    let ca_dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tls = TestTls::generate(ca_dir.path());
    let (cso, csp) = match start(&tls).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "   CSO OCPI face {}  (data in {})",
        cso.ep.ocpi_url,
        cso.ep.data_dir.display()
    );
    println!(
        "   CSP OCPI face {}  (data in {})",
        csp.ep.ocpi_url,
        csp.ep.data_dir.display()
    );
    let mut demo = Demo {
        cso,
        csp,
        transcript,
        step: 0,
    };
    let result = run(&mut demo).await;
    let Demo { cso, csp, .. } = demo;
    let dirs = [cso.ep.data_dir.clone(), csp.ep.data_dir.clone()];
    cso.ep.stop().await;
    csp.ep.stop().await;
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    println!();
    match result {
        Ok(()) => {
            println!("All steps succeeded.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
