//! What the CSO's handlers and tasks share: [`CsoState`], the axum state of its OCPI modules and
//! operator API (built by [`crate::build`]).

use std::sync::Arc;

use roaming_peer::core::Core;

use crate::{authorization, cdrs, commands, gateway, profiles, sessions, sites, stations, tokens};

/// What the CSO's handlers and tasks share.
#[derive(Debug, Clone)]
pub struct CsoState {
    /// The shared machinery.
    pub core: Arc<Core>,
    /// Sites and tariffs.
    pub sites: sites::Sites,
    /// The CSPs' tokens.
    pub tokens: tokens::Tokens,
    /// Authorization decisions.
    pub authorizer: authorization::Authorizer,
    /// Sessions.
    pub sessions: sessions::Sessions,
    /// CDRs.
    pub cdrs: cdrs::Cdrs,
    /// Commands.
    pub commands: commands::Commands,
    /// Charger events.
    pub stations: stations::Stations,
    /// Charge plans.
    pub profiles: profiles::Profiles,
    /// The simulator, when it is the gateway.
    pub simulator: Option<gateway::simulator::Simulator>,
}
