//! Smoke tests with the real binaries: `serve` in a child process, the CLI as the operator uses it,
//! readiness through `healthcheck`, shutdown through SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The directory of the workspace's binaries (`target/<profile>`), built once per test run.
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The test binary lives in target/<profile>/deps.
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let profile = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug")
            .to_owned();
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "-p", "cso-endpoint", "-p", "csp-endpoint"]);
        if profile == "release" {
            build.arg("--release");
        }
        let status = build.status().expect("cargo build runs");
        assert!(status.success(), "building the binaries failed");
        dir
    })
}

pub(crate) fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// A `serve` child process, stopped with SIGTERM on drop.
pub(crate) struct Served {
    child: Option<Child>,
    name: String,
    pub(crate) data_dir: PathBuf,
}

impl Served {
    pub(crate) fn start(name: &str, data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(name, data_dir, extra, &[])
    }

    /// Starts with extra `ROAMING_*` environment variables (settings of the role crates).
    pub(crate) fn start_with_env(name: &str, data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_logged(name, data_dir, extra, env, None)
    }

    /// The `serve` command line of [`start_with_env`](Self::start_with_env), its standard error
    /// into `log` when given.
    pub(crate) fn command(
        name: &str,
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Command {
        let mut cmd = Command::new(bin(name));
        cmd.envs(env.iter().copied());
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--operator-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(match log {
            Some(p) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .expect("log file"),
            ),
            None => Stdio::null(),
        });
        cmd
    }

    /// Like [`start_with_env`](Self::start_with_env), its standard error appended to `log`.
    pub(crate) fn start_logged(
        name: &str,
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Self {
        let child = Self::command(name, data_dir, extra, env, log)
            .spawn()
            .expect("serve starts");
        let me = Self {
            child: Some(child),
            name: name.to_owned(),
            data_dir: data_dir.to_path_buf(),
        };
        for _ in 0..300 {
            if me.cli(&["healthcheck"]).status.success() {
                return me;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{name} did not become healthy");
    }

    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        Command::new(bin(&self.name))
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .expect("cli runs")
    }

    pub(crate) fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e})"))
    }

    /// Waits up to `within` for the process to end by itself.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let step = Duration::from_millis(50);
        for _ in 0..=within.as_millis() / step.as_millis() {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(step);
        }
        None
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("{} did not stop on SIGTERM", self.name);
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

#[test]
fn uc1_1_smoke_real_binaries_and_cli() {
    let dir = tempfile::tempdir().unwrap();
    let cso = Served::start(
        "cso-endpoint",
        &dir.path().join("cso"),
        &["--country-code", "NL", "--party-id", "CSO"],
    );
    let csp = Served::start(
        "csp-endpoint",
        &dir.path().join("csp"),
        &["--country-code", "DE", "--party-id", "CSP"],
    );

    let health = cso.cli_json(&["healthcheck"]);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["role"], "CPO");

    let inv = cso.cli_json(&["peers", "invite"]);
    let versions_url = inv["versions_url"].as_str().unwrap();
    let token = inv["token"].as_str().unwrap();
    let peer = csp.cli_json(&["peers", "connect", versions_url, token]);
    assert_eq!(peer["id"], "NL-CSO");
    assert_eq!(peer["version"], "2.2.1");

    let list = cso.cli_json(&["peers", "list"]);
    assert_eq!(list[0]["id"], "DE-CSP");
    let rotated = cso.cli_json(&["peers", "rotate", "DE-CSP"]);
    assert_eq!(rotated["id"], "DE-CSP");
    csp.cli_json(&["peers", "disconnect", "NL-CSO"]);
    assert_eq!(cso.cli_json(&["peers", "list"]), serde_json::json!([]));

    // A CLI error is a non-zero exit with a message.
    let out = csp.cli(&["peers", "rotate", "XX-NOP"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no peer"));

    assert!(cso.terminate().success(), "clean exit on SIGTERM");
    assert!(csp.terminate().success());
    // After shutdown the CLI says the endpoint is not running.
    let out = Command::new(bin("cso-endpoint"))
        .args(["healthcheck", "--data-dir"])
        .arg(dir.path().join("cso"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn uc1_1_smoke_refuses_plain_http_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin("cso-endpoint"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[test]
fn uc1_2_smoke_import_push_and_search_with_the_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let cso = Served::start(
        "cso-endpoint",
        &dir.path().join("cso"),
        &["--country-code", "NL", "--party-id", "CSO"],
    );
    let csp = Served::start(
        "csp-endpoint",
        &dir.path().join("csp"),
        &["--country-code", "DE", "--party-id", "CSP"],
    );
    let inv = cso.cli_json(&["peers", "invite"]);
    csp.cli_json(&[
        "peers",
        "connect",
        inv["versions_url"].as_str().unwrap(),
        inv["token"].as_str().unwrap(),
    ]);

    let tariffs = dir.path().join("tariffs.json");
    std::fs::write(&tariffs, roaming_e2e::fixtures::tariffs().to_string()).unwrap();
    let locations = dir.path().join("locations.json");
    let locs = serde_json::json!([
        roaming_e2e::fixtures::location("BIN-1", 52.37, 4.89, 2),
        roaming_e2e::fixtures::location("BIN-2", 52.09, 5.12, 1)
    ]);
    std::fs::write(&locations, locs.to_string()).unwrap();
    assert_eq!(
        cso.cli_json(&["import", "tariffs", tariffs.to_str().unwrap()])["imported"],
        2
    );
    assert_eq!(
        cso.cli_json(&["import", "locations", locations.to_str().unwrap()])["imported"],
        2
    );
    cso.cli_json(&["evse-status", "BIN-1", "BIN-1-E0", "CHARGING"]);

    let mut found = serde_json::Value::Null;
    for _ in 0..100 {
        found = csp.cli_json(&["locations", "--status", "CHARGING"]);
        if found["total"] == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(found["locations"][0]["id"], "BIN-1", "{found}");
    let near = csp.cli_json(&["locations", "--near", "52.09,5.12", "--radius-km", "5"]);
    assert_eq!(near["locations"][0]["id"], "BIN-2");

    // A bad import is refused with the JSON path, and nothing changes.
    std::fs::write(&locations, r#"[{"id": "BAD", "publish": true}]"#).unwrap();
    let out = cso.cli(&["import", "locations", locations.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("422"));
    let report = csp.cli_json(&["sync", "NL-CSO", "--full"]);
    assert_eq!(report["removed"], 0);
}

/// Polls the CLI until `f` accepts its JSON.
fn cli_until(node: &Served, args: &[&str], f: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..150 {
        last = node.cli_json(args);
        if f(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{args:?} never gave the expected answer: {last}");
}

#[test]
fn uc3_smoke_tokens_local_and_remote_start_and_stop_with_the_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let cso = Served::start_with_env(
        "cso-endpoint",
        &dir.path().join("cso"),
        &["--country-code", "NL", "--party-id", "CSO"],
        &[
            ("ROAMING_CSO_SIMULATOR_PLUG_IN_DELAY_MS", "100"),
            ("ROAMING_CSO_SIMULATOR_METER_INTERVAL_MS", "200"),
        ],
    );
    let csp = Served::start(
        "csp-endpoint",
        &dir.path().join("csp"),
        &["--country-code", "DE", "--party-id", "CSP"],
    );
    let inv = cso.cli_json(&["peers", "invite"]);
    csp.cli_json(&[
        "peers",
        "connect",
        inv["versions_url"].as_str().unwrap(),
        inv["token"].as_str().unwrap(),
    ]);
    let tariffs = dir.path().join("tariffs.json");
    std::fs::write(&tariffs, roaming_e2e::fixtures::tariffs().to_string()).unwrap();
    let locations = dir.path().join("locations.json");
    let locs = serde_json::json!([roaming_e2e::fixtures::location("BIN-1", 52.37, 4.89, 2)]);
    std::fs::write(&locations, locs.to_string()).unwrap();
    cso.cli_json(&["import", "tariffs", tariffs.to_str().unwrap()]);
    cso.cli_json(&["import", "locations", locations.to_str().unwrap()]);

    // UC3-1: an RFID card issued at the CSP, pushed to the CSO, presented at the charger.
    let card = csp.cli_json(&["tokens", "issue", "--uid", "SMOKE001", "--whitelist", "ALWAYS"]);
    assert_eq!(card["token"]["uid"], "SMOKE001");
    cli_until(&cso, &["tokens"], |t| t.as_array().is_some_and(|a| a.len() == 1));
    let out = cso.cli_json(&["simulate", "present-token", "BIN-1", "BIN-1-E0", "SMOKE001"]);
    assert_eq!(out["outcome"], "starting", "{out}");
    cli_until(&csp, &["sessions", "--status", "ACTIVE"], |s| {
        s.as_array().is_some_and(|a| a.len() == 1)
    });

    // UC3-2 / UC3-4: an app token started and stopped from the CSP.
    let app = csp.cli_json(&["tokens", "issue", "--type", "APP_USER"]);
    let uid = app["token"]["uid"].as_str().unwrap();
    let contract = app["token"]["contract_id"].as_str().unwrap();
    let c = csp.cli_json(&[
        "start",
        "--token",
        uid,
        "--token-type",
        "APP_USER",
        "BIN-1",
        "BIN-1-E1",
    ]);
    assert_eq!(c["response"]["result"], "ACCEPTED", "{c}");
    let id = c["id"].as_str().unwrap();
    let done = cli_until(&csp, &["commands", id], |c| c.get("result").is_some());
    assert_eq!(done["result"]["result"], "ACCEPTED");
    let mine = cli_until(
        &csp,
        &["sessions", "--contract-id", contract, "--status", "ACTIVE"],
        |s| s.as_array().is_some_and(|a| a.len() == 1),
    );
    let session = mine[0]["id"].as_str().unwrap();
    // UC3-7 / UC3-10 with the binaries: a cap from the CSP, a site limit at the CSO told to the CSP.
    let set = csp.cli_json(&["plan", "set", "NL-CSO", session, "--limit-kw", "7"]);
    assert_eq!(set["response"]["result"], "ACCEPTED", "{set}");
    let id = set["id"].as_str().unwrap();
    cli_until(&csp, &["plan", "requests", id], |r| {
        r["result"]["result"] == "ACCEPTED"
    });
    cso.cli_json(&["limit", "BIN-1", "--kw", "4"]);
    let active = cli_until(&csp, &["plan", "active", "NL-CSO", session], |a| {
        a["source"] == "CSO"
    });
    assert_eq!(
        active["profile"]["charging_profile"]["charging_profile_period"][0]["limit"],
        4000.0
    );
    cso.cli_json(&["limit", "BIN-1", "--clear"]);
    let stop = csp.cli_json(&["stop", session]);
    assert_eq!(stop["response"]["result"], "ACCEPTED", "{stop}");
    cli_until(
        &csp,
        &["sessions", "--contract-id", contract, "--status", "COMPLETED"],
        |s| s.as_array().is_some_and(|a| a.len() == 1),
    );
    // UC3-5 / UC3-9: the CDR of the remote session reached the CSP and was checked.
    let cdrs = cli_until(&csp, &["cdrs", "list", "--contract-id", contract], |c| {
        c.as_array().is_some_and(|a| a.len() == 1)
    });
    assert_eq!(cdrs[0]["session_id"], session);
    // (The RFID session is still running: one CDR so far.)
    let report = cli_until(&csp, &["cdrs", "report"], |r| {
        r["unchecked"] == 0 && r["count"] == 1
    });
    assert_eq!(report["accepted"], 1, "{report}");
    assert!(
        report["total_excl_vat"].as_f64().is_some_and(|t| t > 0.0),
        "{report}"
    );
    let csv = csp.cli(&["cdrs", "report", "--csv"]);
    assert_eq!(String::from_utf8_lossy(&csv.stdout).lines().count(), 3);
    // The CSO sees both sessions; blocking the card reaches it as valid = false.
    let all = cso.cli_json(&["sessions", "--party", "DE-CSP"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    csp.cli_json(&["tokens", "block", "RFID", "SMOKE001"]);
    cli_until(&cso, &["tokens"], |t| {
        t.as_array()
            .is_some_and(|a| a.iter().any(|t| t["uid"] == "SMOKE001" && t["valid"] == false))
    });
    assert!(cso.terminate().success());
    assert!(csp.terminate().success());
}

#[test]
fn uc1_1_smoke_binaries_connect_over_https_with_a_private_ca_cso_initiating() {
    let dir = tempfile::tempdir().unwrap();
    let tls = roaming_e2e::TestTls::generate(dir.path());
    let tls_args = |cc: &'static str, pid: &'static str| -> Vec<String> {
        vec![
            "--country-code".into(),
            cc.into(),
            "--party-id".into(),
            pid.into(),
            "--tls-cert".into(),
            tls.cert.display().to_string(),
            "--tls-key".into(),
            tls.key.display().to_string(),
            "--extra-ca".into(),
            tls.ca.display().to_string(),
        ]
    };
    let cso_args = tls_args("NL", "CSO");
    let csp_args = tls_args("DE", "CSP");
    let cso = Served::start(
        "cso-endpoint",
        &dir.path().join("cso"),
        &cso_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let csp = Served::start(
        "csp-endpoint",
        &dir.path().join("csp"),
        &csp_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    // This time the CSO initiates: the CSP invites.
    let inv = csp.cli_json(&["peers", "invite"]);
    let versions_url = inv["versions_url"].as_str().unwrap();
    assert!(versions_url.starts_with("https://"), "{versions_url}");
    let peer = cso.cli_json(&["peers", "connect", versions_url, inv["token"].as_str().unwrap()]);
    assert_eq!(peer["id"], "DE-CSP");
    assert_eq!(peer["version"], "2.2.1");
    let list = csp.cli_json(&["peers", "list"]);
    assert_eq!(list[0]["id"], "NL-CSO");
    assert!(cso.terminate().success());
    assert!(csp.terminate().success());
}
