//! # roaming-csp
//!
//! The CSP (OCPI eMSP) role of the bilateral roaming endpoints: what a Charge Service Provider runs
//! so that its drivers can find, start, follow, stop and pay for charging at the stations of
//! connected CSOs. It plugs its OCPI modules, operator API routes and background tasks into the shared
//! machinery of `roaming-peer`.

use std::path::PathBuf;
use std::sync::Arc;

use roaming_peer::config::{KeySpec, RoleDefaults};
use roaming_peer::endpoint::{Core, RoleParts, StartError};
use roaming_types::modules::types::Role;

/// The CSP's own settings (`csp.*`).
pub const SETTINGS: &[KeySpec] = &[];

/// The defaults of a CSP endpoint: OCPI on 127.0.0.1:9420, operator API on 127.0.0.1:9421, data in
/// `./csp-data`.
pub fn defaults() -> RoleDefaults {
    RoleDefaults {
        role: Role::Emsp,
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9420)),
        operator_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9421)),
        data_dir: PathBuf::from("csp-data"),
        party: roaming_types::ids::PartyRef::new(
            roaming_types::ids::CountryCode::new("ZZ").unwrap_or_else(|_| unreachable!("constant")),
            roaming_types::ids::PartyId::new("CSP").unwrap_or_else(|_| unreachable!("constant")),
        ),
        name: "Unnamed CSP",
        role_keys: SETTINGS,
    }
}

/// Builds the CSP role on a core.
pub async fn build(core: Arc<Core>) -> Result<RoleParts, StartError> {
    let _ = core;
    Ok(RoleParts::default())
}
