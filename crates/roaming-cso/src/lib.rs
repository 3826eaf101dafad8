//! # roaming-cso
//!
//! The CSO (OCPI CPO) role of the bilateral roaming endpoints: what a Charging Station Operator runs
//! so that drivers of connected CSPs can find, start, follow, stop and pay for charging at its
//! stations. It plugs its OCPI modules, operator API routes and background tasks into the shared
//! machinery of `roaming-peer`.

pub mod authorization;
pub mod cdr_checks;
pub mod cdrs;
pub mod commands;
pub mod error;
pub mod gateway;
pub mod keyspaces;
pub mod ocpi;
pub mod operator;
pub mod preferences;
pub mod pricing;
pub mod profiles;
pub mod quotes;
pub mod reservations;
pub mod sessions;
pub mod sites;
pub mod state;
pub mod stations;
#[cfg(test)]
mod tests;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;

use roaming_peer::config::{KeySpec, RoleDefaults};
use roaming_peer::core::{Core, StartError};
use roaming_peer::endpoint::RoleParts;
use roaming_peer::outbox::{Fallback, Push};
use roaming_peer::server::OcpiModules;
use roaming_peer::store::{StoreError, StoreHandle};
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::ModuleId;

use crate::state::CsoState;

/// The CSO's own settings (`cso.*`).
pub const SETTINGS: &[KeySpec] = &[
    KeySpec {
        key: "cso.currency",
        help: "currency of sessions whose connector has no tariff, and of the free-of-charge tariff (ISO 4217; default EUR)",
    },
    KeySpec {
        key: "cso.free_tariff_id",
        help: "id of the free-of-charge tariff the CSO publishes and refers to in the CDRs of sessions on connectors without a tariff (default FREE)",
    },
    KeySpec {
        key: "cso.authorization.timeout_ms",
        help: "how long a real-time authorization may take before the whitelist fallback applies (default 3000, TOK-07)",
    },
    KeySpec {
        key: "cso.authorization.allowed_whitelist",
        help: "ALLOWED tokens: `local` (allow valid tokens from the copy; default) or `realtime` (ask the CSP first)",
    },
    KeySpec {
        key: "cso.commands.timeout_secs",
        help: "the `timeout` of CommandResponses: after it a command without a charger answer gets TIMEOUT (default 30)",
    },
    KeySpec {
        key: "cso.profiles.min_interval_ms",
        help: "least time between a CSP's charging-profile requests for one session; sooner is TOO_OFTEN (default 2000, CP-03)",
    },
    KeySpec {
        key: "cso.sessions.period_secs",
        help: "longest charging period before a new one is started (default 900, SES-02)",
    },
    KeySpec {
        key: "cso.gateway",
        help: "how chargers are reached: `simulator` (default) or `webhook`",
    },
    KeySpec {
        key: "cso.gateway.webhook_url",
        help: "where the webhook gateway POSTs commands (https, or http on loopback)",
    },
    KeySpec {
        key: "cso.gateway.webhook_token",
        help: "bearer token the webhook gateway sends to the station-management system",
    },
    KeySpec {
        key: "cso.simulator.plug_in_delay_ms",
        help: "simulator: delay between an authorized start and the plug-in (default 2000)",
    },
    KeySpec {
        key: "cso.simulator.power_kw",
        help: "simulator: power an EV draws, capped by the connector (default 11)",
    },
    KeySpec {
        key: "cso.simulator.meter_interval_ms",
        help: "simulator: meter-value interval (default 5000)",
    },
];

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

/// T-94: the full object to PUT when a CSP does not know a location or session we PATCHed.
#[derive(Debug)]
struct CsoFallback {
    sites: sites::SitesFallback,
    store: StoreHandle,
}

impl Fallback for CsoFallback {
    fn full_put(&self, push: &Push, parent_unknown: bool) -> Result<Option<Push>, StoreError> {
        match push.module {
            ModuleId::Sessions => sessions::fallback_put(&self.store, push),
            _ => self.sites.full_put(push, parent_unknown),
        }
    }
}

/// Builds the CSO role on a core: its OCPI modules, operator routes, the station gateway and the
/// background tasks.
pub async fn build(core: Arc<Core>) -> Result<RoleParts, StartError> {
    let sites = sites::Sites::new(Arc::clone(&core))?;
    sites
        .ensure_free_tariff()
        .await
        .map_err(|e| StartError::Other(format!("free-of-charge tariff: {e}")))?;
    core.outbox.set_fallback(Arc::new(CsoFallback {
        sites: sites::SitesFallback::new(&core),
        store: core.store.clone(),
    }));
    let tokens = tokens::Tokens::new(core.store.clone()).with_stamps(core.stamps());
    let authorizer = authorization::Authorizer::new(Arc::clone(&core), tokens.clone())?;
    let sessions = sessions::Sessions::new(Arc::clone(&core), sites.clone())?;
    let (sink, inbound) = stations::EventSink::channel();
    let (gateway, simulator): (Arc<dyn gateway::StationGateway>, _) =
        match core.config.role("cso.gateway").unwrap_or("simulator") {
            "simulator" => {
                let sim = gateway::simulator::Simulator::new(Arc::clone(&core), sites.clone(), sink)?;
                (Arc::new(sim.clone()), Some(sim))
            }
            "webhook" => (
                Arc::new(gateway::webhook::Webhook::from_config(&core.config).map_err(StartError::Other)?),
                None,
            ),
            other => {
                return Err(StartError::Other(format!(
                    "cso.gateway {other:?} is not simulator or webhook"
                )));
            }
        };
    let profiles = profiles::Profiles::new(Arc::clone(&core), sessions.clone(), Arc::clone(&gateway))?;
    let commands = commands::Commands::new(Arc::clone(&core), sessions.clone(), gateway)?;
    let stations = stations::Stations::new(
        Arc::clone(&core),
        sessions.clone(),
        commands.clone(),
        authorizer.clone(),
    );
    if let Some(sim) = &simulator {
        let running: Vec<gateway::RunningTransaction> = sessions
            .running()
            .map_err(|e| StartError::Other(e.to_string()))?
            .into_iter()
            .filter_map(|(s, rt)| {
                Some(gateway::RunningTransaction {
                    transaction_id: rt.transaction_id?,
                    session_id: s.id.clone(),
                    location_id: s.location_id.clone(),
                    evse_uid: s.evse_uid.clone(),
                    connector_id: s.connector_id.clone(),
                    token_uid: s.cdr_token.uid.as_str().to_owned(),
                    energy_wh: rt
                        .samples
                        .last()
                        .map_or(rust_decimal::Decimal::ZERO, |x| x.energy_wh),
                    charging: rt.samples.last().is_none_or(|x| x.charging),
                })
            })
            .collect();
        sim.resume(&running);
    }
    let state = CsoState {
        core: Arc::clone(&core),
        sites,
        tokens,
        authorizer,
        sessions,
        cdrs: cdrs::Cdrs::new(Arc::clone(&core)),
        commands: commands.clone(),
        stations: stations.clone(),
        profiles: profiles.clone(),
        simulator,
    };
    let router = axum::Router::new()
        .merge(ocpi::locations::router(state.clone()))
        .merge(ocpi::tariffs::router(state.clone()))
        .merge(ocpi::tokens::router(state.clone()))
        .merge(ocpi::commands::router(state.clone()))
        .merge(ocpi::sessions::router(state.clone()))
        .merge(ocpi::cdrs::router(state.clone()))
        .merge(ocpi::cdr_checks::router(state.clone()))
        .merge(ocpi::quotes::router(state.clone()))
        .merge(ocpi::charging_profiles::router(state.clone()));
    let tasks: Vec<futures::future::BoxFuture<'static, ()>> = vec![
        Box::pin(stations::run(stations, inbound)),
        Box::pin(commands::run(commands, std::time::Duration::from_millis(250))),
        Box::pin(profiles::run(profiles, std::time::Duration::from_secs(1))),
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
