//! The CSO's OCPI modules (CPO role), one file per module, each with its `router()`.

pub mod cdr_checks;
pub mod cdrs;
pub mod charging_profiles;
pub mod commands;
pub mod locations;
pub mod quotes;
pub mod sessions;
pub mod tariffs;
pub mod tokens;

use roaming_peer::server::ModuleEndpoint;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};

/// The endpoints the CSO lists in its version details.
pub fn endpoints() -> Vec<ModuleEndpoint> {
    vec![
        ModuleEndpoint {
            module: ModuleId::Locations,
            role: InterfaceRole::Sender,
            path: locations::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Tariffs,
            role: InterfaceRole::Sender,
            path: tariffs::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Sessions,
            role: InterfaceRole::Sender,
            path: sessions::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Cdrs,
            role: InterfaceRole::Sender,
            path: cdrs::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Custom(cdr_checks::MODULE.to_owned()),
            role: InterfaceRole::Receiver,
            path: cdr_checks::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Custom(quotes::MODULE.to_owned()),
            role: InterfaceRole::Sender,
            path: quotes::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::ChargingProfiles,
            role: InterfaceRole::Receiver,
            path: charging_profiles::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Tokens,
            role: InterfaceRole::Receiver,
            path: tokens::PATH.to_owned(),
        },
        ModuleEndpoint {
            module: ModuleId::Commands,
            role: InterfaceRole::Receiver,
            path: commands::PATH.to_owned(),
        },
    ]
}
