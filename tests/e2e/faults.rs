//! Fault drills of issue #12 (items 14–18): private data directories, slow and silent clients,
//! frozen and full disks, repeated failures. Each test names the use case whose data it protects.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use roaming_e2e::{Node, RawOcpi};
use roaming_peer::operator::client::OperatorClient;
use roaming_peer::testing::FaultyStore;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::charging;
use crate::smoke::Served;

/// Every file below `dir` with its content; asserts that `dir` and every directory in it is 0700 and
/// every file 0600.
fn private_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::symlink_metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", d.display());
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                let mode = meta.permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    assert!(!out.is_empty());
    out
}

/// The files among `files` that hold `token` in clear or in its base64 form (the `Authorization`
/// header's).
fn holding(files: &[(String, Vec<u8>)], token: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(token);
    files
        .iter()
        .filter(|(_, bytes)| {
            [token.as_bytes(), b64.as_bytes()]
                .iter()
                .any(|t| bytes.windows(t.len()).any(|w| w == *t))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// #12 item 18: started under the usual umask 022, over a directory an older version left
/// world-readable, both endpoints keep their data directory 0700 and every file 0600; the tokens
/// peers present to them (A, B, C, also after a rotation) are nowhere in clear, only the tokens they
/// send, which they must be able to send.
#[tokio::test]
async fn uc1_1_data_directories_are_private_and_hold_no_presented_token() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let old = tempfile::tempdir().unwrap();
    std::fs::set_permissions(old.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(old.path().join("stray.json"), "{}").unwrap();
    std::fs::set_permissions(
        old.path().join("stray.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let cso = Node::cso().data_dir(old).start().await;
    let csp = Node::csp().start().await;
    let inv = cso.operator.invite().await.unwrap();
    csp.operator.connect(&inv.versions_url, &inv.token).await.unwrap();
    let (b1, c1) = (cso.token_for(&csp), csp.token_for(&cso));
    csp.operator.rotate("NL-CSO").await.unwrap();
    let (b2, c2) = (cso.token_for(&csp), csp.token_for(&cso));
    assert!(b1 != b2 && c1 != c2, "the rotation changed both tokens");
    let (cso_dir, _) = cso.stop().await;
    let (csp_dir, _) = csp.stop().await;

    let cso_files = private_files(cso_dir.path());
    let csp_files = private_files(csp_dir.path());
    for t in [&inv.token, &c1, &c2] {
        assert_eq!(
            holding(&cso_files, t),
            Vec::<String>::new(),
            "a token presented to the CSO"
        );
    }
    for t in [&inv.token, &b1, &b2] {
        assert_eq!(
            holding(&csp_files, t),
            Vec::<String>::new(),
            "a token presented to the CSP"
        );
    }
    // What each sends is stored as is (it must send it), which also shows that the search can find
    // a token in the store's files.
    assert!(!holding(&cso_files, &b2).is_empty());
    assert!(!holding(&csp_files, &c2).is_empty());
}

/// The OCPI face's address of a node.
fn ocpi_addr(node: &Node) -> String {
    let u = url::Url::parse(&node.ocpi_url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
}

/// Whether the server closes `conn` (end of stream or reset) within `within`.
async fn closed_by_server(conn: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// A connection that has sent `start` of a request and nothing more.
async fn slow(addr: &str, start: &[u8]) -> TcpStream {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(start).await.unwrap();
    c
}

const PARTIAL_HEAD: &[u8] = b"GET /ocpi/versions HTTP/1.1\r\nHost: x\r\nX-Slow: ";

/// #12 item 16: connections that send nothing, half a request head, or half an HTTP/2 preface are
/// closed after `http.header_read_timeout_secs`, without any token, and real requests are served
/// meanwhile.
#[tokio::test]
async fn uc1_1_connections_that_never_finish_their_headers_are_closed() {
    let cso = Node::cso()
        .setting("http.header_read_timeout_secs", "1")
        .start()
        .await;
    let addr = ocpi_addr(&cso);
    let mut held = Vec::new();
    for start in [&b""[..], PARTIAL_HEAD, b"PRI * HTTP/2.0\r\n"] {
        for _ in 0..10 {
            held.push(slow(&addr, start).await);
        }
    }
    let inv = cso.operator.invite().await.unwrap();
    let w = RawOcpi::new(None).get(&cso.versions_url, &inv.token).await;
    assert_eq!(w.status, 200, "a real request is served while they wait");
    for (i, c) in held.iter_mut().enumerate() {
        assert!(
            closed_by_server(c, Duration::from_secs(30)).await,
            "slow connection {i} is still open"
        );
    }
}

/// #12 item 16: with `http.max_connections` connections held open, a further one waits (the face
/// stops accepting rather than running out of file descriptors), the operator face still answers,
/// and the waiting request is served as soon as one slot frees.
#[tokio::test]
async fn uc1_1_the_connection_cap_holds_and_service_resumes() {
    let cso = Node::cso()
        .setting("http.max_connections", "4")
        .setting("http.header_read_timeout_secs", "120")
        .start()
        .await;
    let addr = ocpi_addr(&cso);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(slow(&addr, PARTIAL_HEAD).await);
    }
    let inv = cso.operator.invite().await.unwrap();
    let request = format!(
        "GET /ocpi/versions HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        roaming_e2e::token_header(&inv.token)
    );
    let mut waiting = slow(&addr, request.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(1), waiting.read_to_end(&mut answer)).await;
    assert!(
        read.is_err(),
        "answered over the cap: {}",
        String::from_utf8_lossy(&answer)
    );
    cso.operator
        .health()
        .await
        .expect("the operator face has its own slots");
    drop(held.pop());
    tokio::time::timeout(Duration::from_secs(30), waiting.read_to_end(&mut answer))
        .await
        .expect("served once a slot is free")
        .unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

/// #12 items 13 and 16: a 60 kB X-Request-ID is refused with 431 by the server before any of our
/// code reads it: not echoed, not logged.
#[tokio::test(flavor = "current_thread")]
async fn uc1_1_an_oversized_request_head_is_refused_unread() {
    let (logs, _guard) = roaming_peer::testing::LogCapture::start();
    let cso = Node::cso().start().await;
    let inv = cso.operator.invite().await.unwrap();
    let huge = "r".repeat(60_000);
    let w = RawOcpi::new(None)
        .send(
            http::Method::GET,
            &cso.versions_url,
            Some(&roaming_e2e::token_header(&inv.token)),
            &[("x-request-id", &huge)],
            None,
        )
        .await;
    assert_eq!(w.status, 431);
    assert!(w.header("x-request-id").is_none());
    assert!(!logs.text().contains(&"r".repeat(256)), "the id was logged");
}

/// #12 item 16: a charger event whose handling fails for a transient reason (here the store refuses
/// writes for a while, as when a resource runs out) is not dropped: it is retried, in order, until it
/// is applied. The session the driver ended is completed once the fault clears, and only once.
#[tokio::test]
async fn uc3_6_a_charger_event_that_fails_transiently_is_applied_once_the_fault_clears() {
    let dir = tempfile::tempdir().unwrap();
    let (store, faults) = FaultyStore::sled(dir.path());
    let cso = Node::cso()
        .setting("cso.simulator.plug_in_delay_ms", "100")
        // No meter readings during the drill: the stop is the one event in flight.
        .setting("cso.simulator.meter_interval_ms", "600000")
        .data_dir(dir)
        .store(store)
        .start()
        .await;
    let csp = Node::csp().start().await;
    csp.connect_to(&cso).await;
    charging::load_site(&cso, &csp, 2).await;
    charging::rfid(&csp, &cso, "FAULT001", "ALWAYS").await;
    let out = charging::present(&cso, &charging::evse(0), "FAULT001").await;
    assert_eq!(out["outcome"], "starting", "{out}");
    let running = charging::cso_session(&cso, Duration::from_secs(10), |s| {
        s["cdr_token"]["uid"] == "FAULT001"
    })
    .await;

    faults.fail_writes(true);
    let before = faults.injected();
    let out = charging::present(&cso, &charging::evse(0), "FAULT001").await;
    assert_eq!(out["outcome"], "stopped", "{out}");
    roaming_e2e::eventually(Duration::from_secs(20), || async {
        (faults.injected() >= before + 5).then_some(())
    })
    .await
    .expect("the failed stop was not tried again");
    faults.fail_writes(false);

    let done = charging::cso_session(&cso, Duration::from_secs(20), |s| {
        s["id"] == running["id"] && s["status"] == "COMPLETED"
    })
    .await;
    assert_eq!(done["cdr_token"]["uid"], "FAULT001");
    let all: Vec<serde_json::Value> = cso.op_get("/api/sessions").await;
    assert_eq!(all.len(), 1, "applied once: {all:?}");
}

/// Releases a frozen store when dropped, so that a failing test does not leave threads blocked.
struct Thaw(std::sync::Arc<roaming_peer::testing::Faults>);

impl Drop for Thaw {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// #12 item 17: with the store frozen (every operation blocks, as on a frozen disk) and more requests
/// waiting on it than the endpoint has worker threads, liveness (`/api/health`, what `healthcheck`
/// asks) still answers and readiness says why the endpoint is not ready; both recover when the store
/// does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uc1_1_liveness_answers_and_readiness_says_why_while_the_store_is_frozen() {
    let dir = tempfile::tempdir().unwrap();
    let (store, faults) = FaultyStore::sled(dir.path());
    let cso = Node::cso()
        .setting("store.stall_secs", "1")
        .data_dir(dir)
        .store(store)
        .start()
        .await;
    assert!(cso.operator.ready().await.unwrap().ready);
    let thaw = Thaw(std::sync::Arc::clone(&faults));
    faults.block();
    let (op, frozen) = (cso.operator.clone(), std::sync::Arc::clone(&faults));
    // The client runs on a runtime of its own: this test's workers are about to be blocked.
    let probe = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            for i in 0..6 {
                let op = op.clone();
                tokio::spawn(async move {
                    // Unknown peers: each a store read.
                    let _ = op
                        .get::<serde_json::Value>(&format!("/api/peers/ZZ-P{i:02}"))
                        .await;
                });
            }
            let blocked = roaming_e2e::eventually(Duration::from_secs(30), || async {
                (frozen.waiting() >= 2).then_some(())
            })
            .await
            .is_some();
            let health = op.health().await.map(|h| h.status);
            let ready = roaming_e2e::eventually(Duration::from_secs(30), || async {
                op.ready().await.ok().filter(|r| !r.ready)
            })
            .await;
            (blocked, health, ready)
        })
    });
    let (blocked, health, ready) = tokio::task::block_in_place(|| probe.join().unwrap());
    drop(thaw);
    assert!(blocked, "both workers blocked in the store");
    assert_eq!(health.unwrap(), "ok", "liveness answered");
    let reason = ready.expect("readiness said not ready").reason.unwrap();
    assert!(reason.starts_with("store not responding"), "{reason}");
    roaming_e2e::eventually(Duration::from_secs(30), || async {
        cso.operator.ready().await.ok().filter(|r| r.ready)
    })
    .await
    .expect("ready again once the store answers");
}

/// A tmpfs mounted for a test (a real filesystem that fills up), unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// Mounts one of `size` (`mount -t tmpfs`, root or a user namespace); `None`, with a message,
    /// when that is not possible here, unless `ROAMING_TEST_REQUIRE_TMPFS=1` (CI), which makes it a
    /// failure.
    fn mount(size: &str, test: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .output();
        let why = match out {
            Ok(o) if o.status.success() => return Some(Self(dir)),
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => e.to_string(),
        };
        assert!(
            std::env::var("ROAMING_TEST_REQUIRE_TMPFS").as_deref() != Ok("1"),
            "{test}: cannot mount a tmpfs ({why}); ROAMING_TEST_REQUIRE_TMPFS=1 requires this drill"
        );
        eprintln!(
            "SKIPPED {test}: cannot mount a tmpfs ({why}). Run the tests as root, or under \
             `unshare --user --map-root-user --mount cargo test ...`, to drill a full disk."
        );
        None
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

/// Fills the filesystem of `dir` with a file, to the last byte.
fn fill(dir: &Path) -> std::path::PathBuf {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for size in [1 << 16, 1 << 12, 1] {
        let chunk = vec![0xA5u8; size];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    path
}

/// What the full-disk drill writes and reads back, per role.
#[derive(Debug, Clone, Copy)]
enum Drill {
    /// Locations imported at a CSO.
    Cso,
    /// Tokens issued at a CSP.
    Csp,
}

impl Drill {
    fn bin(self) -> &'static str {
        match self {
            Self::Cso => "cso-endpoint",
            Self::Csp => "csp-endpoint",
        }
    }

    fn party(self) -> [&'static str; 4] {
        match self {
            Self::Cso => ["--country-code", "NL", "--party-id", "CSO"],
            Self::Csp => ["--country-code", "DE", "--party-id", "CSP"],
        }
    }

    async fn setup(self, op: &OperatorClient) {
        if let Self::Cso = self {
            let _: serde_json::Value = op
                .post("/api/tariffs/import", &roaming_e2e::fixtures::tariffs())
                .await
                .unwrap();
        }
    }

    /// Write number `i`; `Ok` when it was acknowledged.
    async fn write(self, op: &OperatorClient, i: usize) -> Result<(), String> {
        let answer: Result<serde_json::Value, _> = match self {
            Self::Cso => {
                let loc = roaming_e2e::fixtures::location(&format!("FULL-{i}"), 52.0, 4.0, 8);
                op.post("/api/locations/import", &serde_json::json!([loc])).await
            }
            Self::Csp => {
                let body = serde_json::json!({ "uid": format!("FULL{i:04}"), "whitelist": "ALWAYS" });
                op.post("/api/tokens", &body).await
            }
        };
        answer.map(|_| ()).map_err(|e| e.to_string())
    }

    /// Whether write number `i` is there.
    async fn holds(self, op: &OperatorClient, i: usize) -> bool {
        let path = match self {
            Self::Cso => format!("/api/locations/FULL-{i}"),
            Self::Csp => format!("/api/tokens/RFID/FULL{i:04}"),
        };
        op.get::<serde_json::Value>(&path).await.is_ok()
    }
}

fn operator(dir: &Path) -> OperatorClient {
    OperatorClient::discover(dir, None, None, None).unwrap()
}

/// The full-disk drill of #12 item 14 on a real filesystem, with the real binary: writes are
/// acknowledged; the filesystem fills up; the first write that cannot be made durable stops the
/// endpoint with exit code 1 and one clear error; a start while the disk is still full fails at once,
/// clearly; once space is back the endpoint starts, holds every write it acknowledged, and writes again.
async fn full_disk_drill(drill: Drill, test: &str) {
    let Some(fs) = Tmpfs::mount("16m", test) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (data, log) = (fs.path().join("data"), work.path().join("stderr.log"));
    let env = [("ROAMING_STORE_MIN_FREE_MB", "2")];
    let party = drill.party();
    let mut served = Served::start_logged(drill.bin(), &data, &party, &env, Some(&log));
    let op = operator(&data);
    drill.setup(&op).await;
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        drill.write(&op, i).await.unwrap();
        acknowledged.push(i);
    }

    let filler = fill(fs.path());
    let mut refused = None;
    for i in 5..200 {
        match drill.write(&op, i).await {
            Ok(()) => acknowledged.push(i),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("a write on a full disk was refused");
    let status = served
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("{test}: still running after a write failed ({refused})"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("the store failed and cannot write any more"))
        .collect();
    assert_eq!(errors.len(), 1, "one clear error line: {text}");
    assert!(text.contains("error: stopped because the store failed"), "{text}");

    // Still full: the start fails at once, saying why.
    let mut child = Served::command(drill.bin(), &data, &party, &env, Some(&log))
        .spawn()
        .unwrap();
    let mut status = None;
    for _ in 0..600 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("{test}: started on a full disk");
    };
    assert_eq!(status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("MiB free on the filesystem"), "{text}");

    // Space is back: it starts, keeps every acknowledged write, and writes again.
    std::fs::remove_file(filler).unwrap();
    let served = Served::start_logged(drill.bin(), &data, &party, &env, Some(&log));
    let op = operator(&data);
    assert!(served.cli(&["healthcheck", "--ready"]).status.success());
    for &i in &acknowledged {
        assert!(drill.holds(&op, i).await, "{test}: acknowledged write {i} lost");
    }
    drill.write(&op, 1000).await.expect("writes again");
    assert!(drill.holds(&op, 1000).await);
    assert!(served.terminate().success());
}

#[tokio::test]
async fn uc1_2_a_full_disk_stops_the_cso_and_loses_no_acknowledged_write() {
    full_disk_drill(
        Drill::Cso,
        "uc1_2_a_full_disk_stops_the_cso_and_loses_no_acknowledged_write",
    )
    .await;
}

#[tokio::test]
async fn uc3_1_a_full_disk_stops_the_csp_and_loses_no_acknowledged_write() {
    full_disk_drill(
        Drill::Csp,
        "uc3_1_a_full_disk_stops_the_csp_and_loses_no_acknowledged_write",
    )
    .await;
}
