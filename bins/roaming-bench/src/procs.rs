//! Real endpoint processes for the benchmarks: `serve` children on loopback with temporary data
//! directories, their operator clients, peak memory and disk use.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use roaming_peer::operator::InstanceFile;
use roaming_peer::operator::client::OperatorClient;

/// A running endpoint process.
pub(crate) struct Proc {
    pub(crate) name: String,
    child: Child,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) op: OperatorClient,
    pub(crate) instance: InstanceFile,
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proc").field("name", &self.name).finish()
    }
}

/// The directory of the workspace binaries (next to this benchmark).
pub(crate) fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

impl Proc {
    /// Starts `binary serve` as `party` and waits until its operator API answers.
    pub(crate) async fn start(binary: &str, party: &str, extra: &[(&str, &str)]) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (cc, pid) = party.split_once('-').ok_or("party is CC-PID")?;
        let exe = bin_dir().join(binary);
        if !exe.exists() {
            return Err(format!(
                "{} not found: build with `cargo build --release --bins` first",
                exe.display()
            ));
        }
        let mut cmd = Command::new(&exe);
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--operator-listen",
            "127.0.0.1:0",
            "--country-code",
            cc,
            "--party-id",
            pid,
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        for (k, v) in extra {
            cmd.env(roaming_peer::config::env_name(k), v);
        }
        let child = cmd.spawn().map_err(|e| format!("{}: {e}", exe.display()))?;
        for _ in 0..400 {
            if let Ok(instance) = InstanceFile::read(dir.path()) {
                if let Ok(op) = OperatorClient::discover(dir.path(), None, None, None) {
                    if op.health().await.is_ok() {
                        return Ok(Self {
                            name: party.to_owned(),
                            child,
                            dir,
                            op,
                            instance,
                        });
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("{party} did not start"))
    }

    /// Peak resident memory (VmHWM) in MiB.
    pub(crate) fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// CPU time used so far (user + system), in seconds.
    pub(crate) fn cpu_secs(&self) -> f64 {
        cpu_secs_of(&format!("/proc/{}/stat", self.child.id()))
    }

    /// Disk use of the data directory in MiB.
    pub(crate) fn disk_mib(&self) -> f64 {
        fn walk(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => walk(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(self.dir.path()) as f64 / (1024.0 * 1024.0)
    }

    /// The operator key (for raw SSE requests).
    pub(crate) fn key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(roaming_peer::operator::KEY_FILE))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects `csp` to `cso` with the real invitation flow.
pub(crate) async fn connect(cso: &Proc, csp: &Proc) -> Result<(), String> {
    let inv = cso.op.invite().await.map_err(|e| e.to_string())?;
    csp.op
        .connect(&inv.versions_url, &inv.token)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// User + system CPU seconds of a process from its `/proc/<pid>/stat` (clock ticks of 1/100 s).
pub(crate) fn cpu_secs_of(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
