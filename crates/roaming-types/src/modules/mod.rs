//! One file per OCPI module: its objects, PATCH shapes and enums.

pub mod cdrs;
pub mod charging_profiles;
pub mod commands;
pub mod common;
pub mod credentials;
pub mod locations;
pub mod sessions;
pub mod tariffs;
pub mod tokens;
pub mod types;
pub mod versions;

/// Deserializes a `*` list that may be absent, `null` or an array (checklist §3.9 cardinality `*`).
pub(crate) fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize as _;
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// Every file of this folder with its source.
    const FILES: &[(&str, &str)] = &[
        ("cdrs", include_str!("cdrs.rs")),
        ("charging_profiles", include_str!("charging_profiles.rs")),
        ("commands", include_str!("commands.rs")),
        ("common", include_str!("common.rs")),
        ("credentials", include_str!("credentials.rs")),
        ("locations", include_str!("locations.rs")),
        ("sessions", include_str!("sessions.rs")),
        ("tariffs", include_str!("tariffs.rs")),
        ("tokens", include_str!("tokens.rs")),
        ("types", include_str!("types.rs")),
        ("versions", include_str!("versions.rs")),
    ];

    /// Which module files a source names: every `crate::modules::<m>` and `super::<m>` path, in code,
    /// tests and doc links alike (the strictest reading).
    fn names(src: &str) -> BTreeSet<&'static str> {
        let mut out = BTreeSet::new();
        for prefix in ["crate::modules::", "super::"] {
            for (i, _) in src.match_indices(prefix) {
                let rest = &src[i + prefix.len()..];
                assert!(
                    !rest.starts_with('{'),
                    "write one `{prefix}<module>` path per module"
                );
                let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                let name = &rest[..end.unwrap_or(rest.len())];
                if let Some((m, _)) = FILES.iter().find(|(m, _)| *m == name) {
                    out.insert(*m);
                }
            }
        }
        out
    }

    /// #13: the module files depend on each other without a loop (shared types are in `common`).
    #[test]
    fn module_files_have_no_dependency_cycle() {
        let graph: BTreeMap<&str, BTreeSet<&str>> = FILES
            .iter()
            .map(|(m, src)| (*m, names(src).into_iter().filter(|n| n != m).collect()))
            .collect();
        assert!(
            graph["common"].is_empty(),
            "common names no other module: {graph:?}"
        );
        // Depth-first search; a name met again while still on the path is a cycle.
        fn visit<'a>(
            m: &'a str,
            graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) {
            if done.contains(m) {
                return;
            }
            if let Some(at) = path.iter().position(|p| *p == m) {
                panic!("dependency cycle: {} → {m}", path[at..].join(" → "));
            }
            path.push(m);
            for n in &graph[m] {
                visit(n, graph, path, done);
            }
            path.pop();
            done.insert(m);
        }
        let mut done = BTreeSet::new();
        for m in graph.keys() {
            visit(m, &graph, &mut Vec::new(), &mut done);
        }
    }
}
