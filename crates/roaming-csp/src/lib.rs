//! # roaming-csp
//!
//! The CSP (OCPI eMSP) role of the bilateral roaming endpoints: what a Charge Service Provider runs
//! so that its drivers can find, start, follow, stop and pay for charging at the stations of
//! connected CSOs. It plugs its OCPI modules, operator API routes and background tasks into the shared
//! machinery of `roaming-peer`.

pub mod cdrs;
pub mod checks;
pub mod commands;
pub mod error;
pub mod events;
pub mod keyspaces;
pub mod ocpi;
pub mod operator;
pub mod party_text;
pub mod profiles;
pub mod quotes;
pub mod sessions;
pub mod sites;
pub mod state;
pub mod sync;
#[cfg(test)]
mod tests;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;

use roaming_peer::config::{KeySpec, RoleDefaults};
use roaming_peer::core::{Core, StartError};
use roaming_peer::endpoint::RoleParts;
use roaming_peer::server::OcpiModules;
use roaming_types::modules::types::Role;

use crate::state::CspState;

/// The CSP's own settings (`csp.*`).
pub const SETTINGS: &[KeySpec] = &[
    KeySpec {
        key: "csp.sync.interval_secs",
        help: "how often the CSP pulls changes from each CSO (default 3600; date_from = last pull; T-64 says hours)",
    },
    KeySpec {
        key: "csp.sync.overlap_secs",
        help: "how far before the last pull's start the next pull's date_from lies (default 300: clock \
               skew between the two sides, objects stamped by the CSO a little in the past)",
    },
];

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

/// Builds the CSP role on a core: its OCPI modules, operator routes and the pull task.
pub async fn build(core: Arc<Core>) -> Result<RoleParts, StartError> {
    let interval = core
        .config
        .role_secs("csp.sync.interval_secs", std::time::Duration::from_secs(3600))?;
    let sync_overlap = core
        .config
        .role_secs("csp.sync.overlap_secs", std::time::Duration::from_secs(300))?;
    let events = events::Events::default();
    let tokens = tokens::Tokens::new(Arc::clone(&core));
    let sessions = sessions::Sessions::new(Arc::clone(&core));
    let commands = commands::Commands::new(
        Arc::clone(&core),
        tokens.clone(),
        sessions.clone(),
        events.clone(),
    );
    let plans = profiles::Plans::new(Arc::clone(&core), events.clone());
    let state = CspState {
        sites: sites::Sites::open(core.store.clone(), core.stamps())?,
        tokens,
        sessions,
        commands: commands.clone(),
        cdrs: cdrs::Cdrs::new(Arc::clone(&core)),
        checks: checks::Checks::new(Arc::clone(&core)),
        plans: plans.clone(),
        events,
        sync_overlap,
        core,
    };
    let router = axum::Router::new()
        .merge(ocpi::locations::router(state.clone()))
        .merge(ocpi::tariffs::router(state.clone()))
        .merge(ocpi::tokens::router(state.clone()))
        .merge(ocpi::commands::router(state.clone()))
        .merge(ocpi::sessions::router(state.clone()))
        .merge(ocpi::cdrs::router(state.clone()))
        .merge(ocpi::charging_profiles::router(state.clone()));
    let tasks: Vec<futures::future::BoxFuture<'static, ()>> = vec![
        Box::pin(sync::run(state.clone(), interval)),
        Box::pin(commands::run(commands, std::time::Duration::from_millis(250))),
        Box::pin(profiles::run(plans, std::time::Duration::from_millis(250))),
    ];
    Ok(RoleParts {
        ocpi: OcpiModules {
            endpoints: ocpi::endpoints(),
            router,
        },
        operator: operator::router(state),
        tasks,
    })
}
