//! # roaming-cso
//!
//! The CSO (OCPI CPO) role of the bilateral roaming endpoints: what a Charging Station Operator runs
//! so that drivers of connected CSPs can find, start, follow, stop and pay for charging at its
//! stations. It plugs its OCPI modules, operator API routes and background tasks into the shared
//! machinery of `roaming-peer`.

pub mod error;
pub mod ocpi;
pub mod operator;
pub mod sites;

use std::path::PathBuf;
use std::sync::Arc;

use roaming_peer::config::{KeySpec, RoleDefaults};
use roaming_peer::endpoint::{Core, RoleParts, StartError};
use roaming_peer::server::OcpiModules;
use roaming_types::modules::types::Role;

/// The CSO's own settings (`cso.*`).
pub const SETTINGS: &[KeySpec] = &[];

/// The defaults of a CSO endpoint: OCPI on 127.0.0.1:9410, operator API on 127.0.0.1:9411, data in
/// `./cso-data`.
pub fn defaults() -> RoleDefaults {
    RoleDefaults {
        role: Role::Cpo,
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9410)),
        operator_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9411)),
        data_dir: PathBuf::from("cso-data"),
        party: roaming_types::ids::PartyRef::new(
            roaming_types::ids::CountryCode::new("ZZ").unwrap_or_else(|_| unreachable!("constant")),
            roaming_types::ids::PartyId::new("CSO").unwrap_or_else(|_| unreachable!("constant")),
        ),
        name: "Unnamed CSO",
        role_keys: SETTINGS,
    }
}

/// Builds the CSO role on a core: its OCPI modules, operator routes and the push fallback.
pub async fn build(core: Arc<Core>) -> Result<RoleParts, StartError> {
    let sites = sites::Sites::new(Arc::clone(&core));
    core.outbox
        .set_fallback(Arc::new(sites::SitesFallback::new(&core)));
    let router = axum::Router::new()
        .merge(ocpi::locations::router(Arc::clone(&core)))
        .merge(ocpi::tariffs::router(Arc::clone(&core)));
    Ok(RoleParts {
        ocpi: OcpiModules {
            endpoints: ocpi::endpoints(),
            router,
        },
        operator: operator::router(sites),
        tasks: Vec::new(),
    })
}
