//! The CSO's OCPI modules (CPO role), one file per module, each with its `router()`.

pub mod locations;
pub mod tariffs;

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
    ]
}
