//! Our own test data (invented, shaped like OCPI 2.2.1 objects).

use serde_json::{Value, json};

/// A location with `evses` EVSEs of one Type 2 connector each (22 kW), plus one DC EVSE when
/// `evses > 1`; `country_code`/`party_id` are left for the CSO to fill in.
pub fn location(id: &str, lat: f64, lon: f64, evses: usize) -> Value {
    let evses: Vec<Value> = (0..evses)
        .map(|i| {
            let dc = i == 1;
            json!({
                "uid": format!("{id}-E{i}"),
                "evse_id": format!("NL*CSO*E{}{i}", id.replace('-', "")),
                "status": "AVAILABLE",
                "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE", "RESERVABLE", "CHARGING_PROFILE_CAPABLE", "UNLOCK_CAPABLE", "CHARGING_PREFERENCES_CAPABLE"],
                "connectors": [{
                    "id": "1",
                    "standard": if dc { "IEC_62196_T2_COMBO" } else { "IEC_62196_T2" },
                    "format": if dc { "CABLE" } else { "SOCKET" },
                    "power_type": if dc { "DC" } else { "AC_3_PHASE" },
                    "max_voltage": if dc { 920 } else { 230 },
                    "max_amperage": if dc { 200 } else { 32 },
                    "max_electric_power": if dc { 150000 } else { 22080 },
                    "tariff_ids": [if dc { "DC-FAST" } else { "AC-STD" }]
                }]
            })
        })
        .collect();
    json!({
        "id": id,
        "publish": true,
        "name": format!("Test site {id}"),
        "address": "Prinsengracht 1",
        "city": "Amsterdam",
        "postal_code": "1015 DK",
        "country": "NLD",
        "coordinates": { "latitude": format!("{lat:.6}"), "longitude": format!("{lon:.6}") },
        "time_zone": "Europe/Amsterdam",
        "evses": evses
    })
}

/// The two tariffs the fixture locations refer to.
pub fn tariffs() -> Value {
    json!([
        {
            "id": "AC-STD", "currency": "EUR", "type": "REGULAR",
            "elements": [{ "price_components": [{ "type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1 }] }]
        },
        {
            "id": "DC-FAST", "currency": "EUR",
            "elements": [
                { "price_components": [{ "type": "FLAT", "price": 1.0, "vat": 21, "step_size": 1 }] },
                { "price_components": [{ "type": "ENERGY", "price": 0.59, "vat": 21, "step_size": 1 }] }
            ]
        }
    ])
}
