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

/// A CDR of NL-CSO for a token of DE-CSP: 10 kWh at 0.35 EUR/kWh + 21 % VAT, on EVSE `U-1-E0` of
/// location `U-1` (one hour, one charging period).
pub fn cdr(id: &str) -> Value {
    json!({
        "country_code": "NL", "party_id": "CSO", "id": id,
        "start_date_time": "2026-03-02T09:00:00Z", "end_date_time": "2026-03-02T10:00:00Z",
        "session_id": format!("S-{id}"),
        "cdr_token": { "country_code": "DE", "party_id": "CSP", "uid": "04A1B2C3", "type": "RFID",
                       "contract_id": "DE-CSP-C00000001-5" },
        "auth_method": "WHITELIST",
        "cdr_location": { "id": "U-1", "name": "Test site U-1", "address": "Prinsengracht 1", "city": "Amsterdam",
                          "postal_code": "1015 DK", "country": "NLD",
                          "coordinates": { "latitude": "52.370000", "longitude": "4.890000" },
                          "evse_uid": "U-1-E0", "evse_id": "NL*CSO*EU10", "connector_id": "1",
                          "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET",
                          "connector_power_type": "AC_3_PHASE" },
        "currency": "EUR",
        "tariffs": [{ "country_code": "NL", "party_id": "CSO", "id": "AC-STD", "currency": "EUR",
                      "elements": [{ "price_components": [{ "type": "ENERGY", "price": 0.35, "vat": 21.0, "step_size": 1 }] }],
                      "last_updated": "2026-01-01T00:00:00Z" }],
        "charging_periods": [{ "start_date_time": "2026-03-02T09:00:00Z",
                               "dimensions": [{ "type": "ENERGY", "volume": 10 }, { "type": "TIME", "volume": 1 }],
                               "tariff_id": "AC-STD" }],
        "total_cost": { "excl_vat": 3.5, "incl_vat": 4.235 },
        "total_energy": 10, "total_energy_cost": { "excl_vat": 3.5, "incl_vat": 4.235 },
        "total_time": 1, "last_updated": "2026-03-02T10:00:05Z"
    })
}

/// Objects of the foreign CSO NL-FOR (`ForeignPeer::cpo("NL-FOR")`), every time stamp at `t`.
pub mod foreign {
    use serde_json::{Value, json};

    /// A location of NL-FOR with every stamp at `t`.
    pub fn location(id: &str, t: &str) -> Value {
        let mut l = super::location(id, 52.0, 5.0, 2);
        l["country_code"] = json!("NL");
        l["party_id"] = json!("FOR");
        l["last_updated"] = json!(t);
        for e in l["evses"].as_array_mut().into_iter().flatten() {
            e["last_updated"] = json!(t);
            for c in e["connectors"].as_array_mut().into_iter().flatten() {
                c["last_updated"] = json!(t);
            }
        }
        l
    }

    /// A tariff of NL-FOR stamped `t`.
    pub fn tariff(t: &str) -> Value {
        let mut x = super::tariffs()[0].clone();
        x["country_code"] = json!("NL");
        x["party_id"] = json!("FOR");
        x["last_updated"] = json!(t);
        x
    }

    /// A session of NL-FOR for a token of DE-CSP stamped `t`.
    pub fn session(t: &str) -> Value {
        json!({
            "country_code": "NL", "party_id": "FOR", "id": "S-1",
            "start_date_time": "2026-01-01T10:00:00Z", "kwh": 0,
            "cdr_token": { "country_code": "DE", "party_id": "CSP", "uid": "X1", "type": "RFID", "contract_id": "DE-CSP-C00000001-5" },
            "auth_method": "WHITELIST", "location_id": "U-1", "evse_uid": "U-1-E0", "connector_id": "1",
            "currency": "EUR", "status": "ACTIVE", "last_updated": t
        })
    }

    /// The fixture CDR as NL-FOR's.
    pub fn cdr(id: &str) -> Value {
        let mut c = super::cdr(id);
        c["party_id"] = json!("FOR");
        c["tariffs"][0]["party_id"] = json!("FOR");
        c
    }
}
