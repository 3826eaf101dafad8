//! The documentation keeps up with the code.

use roaming_peer::config::{CORE_KEYS, env_name};

/// `docs/operations.md` lists every setting with its environment variable and its help line.
#[test]
fn operations_md_lists_every_setting() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md");
    let doc = std::fs::read_to_string(path).expect("docs/operations.md");
    let all = CORE_KEYS
        .iter()
        .chain(roaming_cso::SETTINGS)
        .chain(roaming_csp::SETTINGS);
    let missing: Vec<&str> = all
        .filter(|s| {
            let help = s.help.replace('|', "\\|");
            let row = format!("| `{}` | `{}` | {help} |", s.key, env_name(s.key));
            !doc.contains(&row)
        })
        .map(|s| s.key)
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md lacks (or has an outdated row for) {missing:?}"
    );
}
