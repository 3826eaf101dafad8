//! The keyspaces of `roaming-peer` itself, declared in one place (each role crate has its own table in
//! its `keyspaces.rs`), and [`check_table`], the test that keeps every table honest.
//!
//! The names are part of the on-disk format: never rename one. Each table lists every keyspace of its
//! crate in `ALL`; a crate's unit test calls [`check_table`] with its own source, which fails when a
//! name is used twice (in the crate, or also by `roaming-peer`) or when a declaration is missing from
//! `ALL`.
//!
//! The table holds names, not value types, so that it depends on nothing but [`Space`]: the module that
//! owns a record type binds it with [`Keyspace::of`](super::Keyspace::of), e.g. the outbox's
//! `Keyspace::<Entry>::of(spaces::OUTBOX)`. (Collections and deadline indexes whose values are the
//! vocabulary's own types may be declared typed in a table directly.)

use super::Space;

/// Registered peers, by peer id (`registration::peers::PeerRecord`).
pub const PEERS: Space = Space("peers");
/// Token hash → who holds it (peer, invitation, pending registration).
pub const TOKENS: Space = Space("tokens");
/// Endpoint metadata (schema version, operator key hash, counters…).
pub const META: Space = Space("meta");
/// Invitations (token A).
pub const INVITATIONS: Space = Space("invitations");
/// Registrations we initiated that are in progress (token B).
pub const PENDING: Space = Space("pending");
/// Pending outbox entries: `<peer>\0<seq>` → entry.
pub const OUTBOX: Space = Space("outbox");
/// Outbox object → pending seq: `<peer>\0<object>` → seq.
pub const OUTBOX_OBJ: Space = Space("outbox_obj");
/// Outbox entries that failed permanently: `<peer>\0<seq>` → entry.
pub const OUTBOX_DEAD: Space = Space("outbox_dead");

/// Every keyspace of `roaming-peer`.
pub const ALL: &[Space] = &[
    PEERS,
    TOKENS,
    META,
    INVITATIONS,
    PENDING,
    OUTBOX,
    OUTBOX_OBJ,
    OUTBOX_DEAD,
];

/// Checks a crate's keyspace table: `source` is the table's source file (`include_str!`), `table` its
/// `ALL`. Fails when a name occurs twice in `table`, when a name of another crate's table is also one of
/// `roaming-peer`'s ([`ALL`]), or when a string literal in a `const` item of the source (outside
/// comments, before its tests) is not in `table` — in a table, those literals are the keyspace names.
#[cfg(any(test, feature = "test-support"))]
pub fn check_table(source: &str, table: &[Space]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for s in table {
        if !seen.insert(s.0) {
            return Err(format!("keyspace {s} is declared twice"));
        }
    }
    if table != ALL {
        if let Some(s) = table.iter().find(|s| ALL.contains(s)) {
            return Err(format!("keyspace {s} is also one of roaming-peer's"));
        }
    }
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut in_const = false;
    for line in code.lines().map(str::trim_start) {
        if line.starts_with("//") {
            continue;
        }
        let starts = ["const ", "pub const ", "pub(crate) const "]
            .iter()
            .any(|p| line.starts_with(p) && !line[p.len()..].starts_with("fn "));
        in_const |= starts;
        if !in_const {
            continue;
        }
        for name in line.split('"').skip(1).step_by(2) {
            if !seen.contains(name) {
                return Err(format!("keyspace {name} is declared but missing from ALL"));
            }
        }
        in_const = !line.contains(';');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyspace_names_are_unique() {
        check_table(include_str!("spaces.rs"), ALL).unwrap();
    }

    #[test]
    fn the_check_finds_duplicates_clashes_and_omissions() {
        const A: Space = Space("a");
        assert!(check_table("", &[A, A]).unwrap_err().contains("twice"));
        assert!(check_table("", &[A, META]).unwrap_err().contains("roaming-peer"));
        let src = "pub const A: Space = Space(\"a\");\npub const B: Space = Space(\"b\");\n";
        assert!(check_table(src, &[A]).unwrap_err().contains("keyspace b"));
        assert!(check_table(src, &[A, Space("b")]).is_ok());
    }
}
