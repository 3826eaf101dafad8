//! Fault drills of issue #12 (items 14–18): private data directories, slow and silent clients,
//! frozen and full disks, repeated failures. Each test names the use case whose data it protects.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use roaming_e2e::{Node, RawOcpi};
use roaming_peer::testing::FaultyStore;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::charging;

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
