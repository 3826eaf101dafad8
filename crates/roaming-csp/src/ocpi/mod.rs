//! The CSP's OCPI modules (eMSP role), one file per module, each with its `router()`.

pub mod cdrs;
pub mod charging_profiles;
pub mod commands;
pub mod locations;
pub mod sessions;
pub mod tariffs;
pub mod tokens;

use roaming_peer::server::ModuleEndpoint;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};

/// The endpoints the CSP lists in its version details.
pub fn endpoints() -> Vec<ModuleEndpoint> {
    vec![
        ModuleEndpoint {
            module: ModuleId::Locations,
            role: InterfaceRole::Receiver,
            path: locations::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Tariffs,
            role: InterfaceRole::Receiver,
            path: tariffs::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Sessions,
            role: InterfaceRole::Receiver,
            path: sessions::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Cdrs,
            role: InterfaceRole::Receiver,
            path: cdrs::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::ChargingProfiles,
            role: InterfaceRole::Sender,
            path: charging_profiles::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Tokens,
            role: InterfaceRole::Sender,
            path: tokens::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Commands,
            role: InterfaceRole::Sender,
            path: commands::PATH.to_owned(),
        },
    ]
}
