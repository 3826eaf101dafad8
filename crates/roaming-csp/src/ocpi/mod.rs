//! The CSP's OCPI modules (eMSP role), one file per module, each with its `router()`.

pub mod locations;
pub mod tariffs;

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
    ]
}
