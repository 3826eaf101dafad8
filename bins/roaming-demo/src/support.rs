//! What the demo's steps share: waiting for a condition, the sites it loads.

use serde_json::{Value, json};

use crate::StepResult;

/// Waits (up to 10 s) until `f` holds, polling every 50 ms.
pub(crate) async fn until<F, Fut>(what: &str, mut f: F) -> StepResult
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(format!("timed out waiting for: {what}"))
}

/// A published site with two EVSEs, AC or DC.
pub(crate) fn site(id: &str, name: &str, lat: f64, lon: f64, dc: bool) -> Value {
    let connector = if dc {
        json!({ "id": "1", "standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC",
                "max_voltage": 920, "max_amperage": 200, "max_electric_power": 150000, "tariff_ids": ["DC-FAST"] })
    } else {
        json!({ "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                "max_voltage": 230, "max_amperage": 32, "tariff_ids": ["AC-STD"] })
    };
    json!({
        "id": id, "publish": true, "name": name, "address": "Stationsplein 1", "city": "Utrecht", "country": "NLD",
        "coordinates": { "latitude": format!("{lat:.6}"), "longitude": format!("{lon:.6}") },
        "time_zone": "Europe/Amsterdam",
        "evses": [
            { "uid": format!("{id}-1"), "evse_id": format!("NL*CSO*E{id}1").replace('-', ""), "status": "AVAILABLE",
              "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE", "RESERVABLE", "CHARGING_PROFILE_CAPABLE"],
              "connectors": [connector.clone()] },
            { "uid": format!("{id}-2"), "evse_id": format!("NL*CSO*E{id}2").replace('-', ""), "status": "AVAILABLE",
              "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"], "connectors": [connector] }
        ]
    })
}

/// Waits (up to 10 s) for a value the operator API returns, polling every 50 ms.
pub(crate) async fn wait_for(
    client: &roaming_peer::operator::client::OperatorClient,
    what: &str,
    path: &str,
    f: impl Fn(&Value) -> Option<Value>,
) -> Result<Value, String> {
    for _ in 0..200 {
        if let Ok(v) = client.get::<Value>(path).await {
            if let Some(found) = f(&v) {
                return Ok(found);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(format!("timed out waiting for: {what}"))
}

/// The first element of an array answer that satisfies `f`.
pub(crate) fn first(v: &Value, f: impl Fn(&Value) -> bool) -> Option<Value> {
    v.as_array().and_then(|a| a.iter().find(|x| f(x)).cloned())
}
