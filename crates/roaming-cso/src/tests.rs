//! A failing store on both faces of the CSO (#13 item 6): a 5xx, never a refusal of the request.
//! On the OCPI face 500 + 3000; on the operator API 500 with a problem JSON.

use http::Method;
use roaming_peer::client::{Call, ClientError};
use roaming_peer::operator::client::OperatorClientError;
use roaming_peer::testing::FaultyPair;
use roaming_types::{DateTime, StatusCode};
use serde_json::{Value, json};

/// The CSO over a store that fails on demand, and a bare eMSP registered with it.
struct Pair(FaultyPair);

async fn pair() -> Pair {
    Pair(FaultyPair::start(&crate::defaults(), crate::build).await)
}

impl Pair {
    /// The eMSP PUTs a token to the CSO's Tokens Receiver.
    async fn put_token(&self, uid: &str) -> Result<(), ClientError> {
        let peer = self.0.peer.core.peers.get("ZZ-CSO").unwrap().unwrap();
        let url = format!("{}/ocpi/2.2.1/tokens/DE/CSP/{uid}", self.0.node.ocpi_url);
        let body = json!({
            "country_code": "DE", "party_id": "CSP", "uid": uid, "type": "RFID",
            "contract_id": "DE-CSP-C00000001-5", "issuer": "Test", "valid": true,
            "whitelist": "ALWAYS", "last_updated": DateTime::now()
        });
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
    p.put_token("F0000001").await.expect("the store works");
    p.0.faults.fail_writes(true);
    let e = p.put_token("F0000002").await.expect_err("the write fails");
    assert_eq!(e.http_status(), Some(500), "{e}");
    assert_eq!(e.ocpi_status(), Some(StatusCode::ServerError), "{e}");
    p.0.faults.fail_writes(false);
    p.put_token("F0000002").await.expect("works again");
}

#[tokio::test]
async fn a_store_failure_on_the_operator_api_is_500_not_400() {
    let p = pair().await;
    let quote =
        json!({ "location_id": "LOC-1", "evse_uid": "LOC-1-E0", "energy_kwh": 1, "charging_minutes": 5 });
    // An unknown location is the caller's problem…
    match p.0.node.operator.post::<_, Value>("/api/quotes", &quote).await {
        Err(OperatorClientError::Problem { status, .. }) => assert_eq!(status, 400),
        other => panic!("an unknown location is a 400: {other:?}"),
    }
    // …a store that cannot be read is ours.
    p.0.faults.fail_reads(true);
    match p.0.node.operator.post::<_, Value>("/api/quotes", &quote).await {
        Err(OperatorClientError::Problem { status, error, .. }) => {
            assert_eq!((status, error.as_str()), (500, "internal"));
        }
        other => panic!("a store failure must be a 500 problem: {other:?}"),
    }
}
