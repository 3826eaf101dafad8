//! `roaming-demo`: the main job in one command. It starts a CSO endpoint and a CSP endpoint on
//! loopback (fresh temporary data directories, HTTPS with a test CA generated at start), walks them
//! through the use cases with the real flows, and prints a readable transcript of who called whom.
//! Exits 0 when every step worked, 1 otherwise.

mod transcript;

use std::process::ExitCode;
use std::sync::Arc;

use roaming_peer::testing::{TestEndpoint, TestTls};
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

async fn run(demo: &mut Demo) -> StepResult {
    uc1_1(demo).await?;
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
