//! A failing store on both faces of the CSP (#13 item 6): a 5xx, never a refusal of the request.
//! On the OCPI face 500 + 3000; on the operator API 500 with a problem JSON.

use http::Method;
use roaming_peer::client::{Call, ClientError};
use roaming_peer::operator::client::OperatorClientError;
use roaming_peer::testing::FaultyPair;
use roaming_types::{DateTime, StatusCode};
use serde_json::{Value, json};

/// The CSP over a store that fails on demand, and a bare CPO registered with it.
struct Pair(FaultyPair);

async fn pair() -> Pair {
    Pair(FaultyPair::start(&crate::defaults(), crate::build).await)
}

fn location(id: &str) -> Value {
    let now = DateTime::now().to_string();
    json!({
        "country_code": "NL", "party_id": "CSO", "id": id, "publish": true,
        "address": "Prinsengracht 1", "city": "Amsterdam", "country": "NLD",
        "coordinates": { "latitude": "52.370000", "longitude": "4.890000" },
        "time_zone": "Europe/Amsterdam", "last_updated": now,
        "evses": [{
            "uid": format!("{id}-E0"), "status": "AVAILABLE", "last_updated": now,
            "connectors": [{
                "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                "max_voltage": 230, "max_amperage": 32, "last_updated": now
            }]
        }]
    })
}

impl Pair {
    /// The CPO PUTs a location to the CSP's Locations Receiver.
    async fn put_location(&self, id: &str) -> Result<(), ClientError> {
        let peer = self.0.peer.core.peers.get("ZZ-CSP").unwrap().unwrap();
        let url = format!("{}/ocpi/2.2.1/locations/NL/CSO/{id}", self.0.node.ocpi_url);
        let body = location(id);
        self.0
            .peer
            .core
            .call_peer(&peer, Call::new(Method::PUT, &url).body(&body), None, None)
            .await
            .map(|_| ())
    }
}

#[tokio::test]
async fn a_store_failure_on_the_ocpi_face_is_500_with_3000() {
    let p = pair().await;
    p.put_location("LOC-1").await.expect("the store works");
    p.0.faults.fail_writes(true);
    let e = p.put_location("LOC-2").await.expect_err("the write fails");
    assert_eq!(e.http_status(), Some(500), "{e}");
    assert_eq!(e.ocpi_status(), Some(StatusCode::ServerError), "{e}");
    p.0.faults.fail_writes(false);
    p.put_location("LOC-2").await.expect("works again");
}

#[tokio::test]
async fn a_store_failure_on_the_operator_api_is_500_not_400() {
    let p = pair().await;
    p.put_location("LOC-1").await.unwrap();
    let found: Value = p.0.node.operator.get("/api/locations").await.unwrap();
    assert_eq!(found["total"], 1, "{found}");
    // The search finds the location in memory and reads it from the store, which fails.
    p.0.faults.fail_reads(true);
    match p.0.node.operator.get::<Value>("/api/locations").await {
        Err(OperatorClientError::Problem { status, error, .. }) => {
            assert_eq!((status, error.as_str()), (500, "internal"));
        }
        other => panic!("a store failure must be a 500 problem: {other:?}"),
    }
    // A search that cannot be understood is still the caller's problem.
    p.0.faults.fail_reads(false);
    match p.0.node.operator.get::<Value>("/api/locations?bbox=1,2").await {
        Err(OperatorClientError::Problem { status, .. }) => assert_eq!(status, 400),
        other => panic!("a bad bbox is a 400: {other:?}"),
    }
}
