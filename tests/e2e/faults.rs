//! Fault drills of issue #12 (items 14–18): private data directories, slow and silent clients,
//! frozen and full disks, repeated failures. Each test names the use case whose data it protects.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use base64::Engine as _;
use roaming_e2e::Node;

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
