//! One file per OCPI module: its objects, PATCH shapes and enums.

pub mod cdrs;
pub mod charging_profiles;
pub mod commands;
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
