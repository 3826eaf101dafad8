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
