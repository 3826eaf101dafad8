//! A failing store on both faces of the CSO (#13 item 6): a 5xx, never a refusal of the request.
//! On the OCPI face 500 + 3000; on the operator API 500 with a problem JSON.

use std::sync::Arc;

use http::Method;
use roaming_peer::client::{Call, ClientError};
use roaming_peer::core::{Core, StartError};
use roaming_peer::endpoint::RoleParts;
use roaming_peer::operator::client::OperatorClientError;
use roaming_peer::store::{MemoryStore, StoreHandle};
use roaming_peer::testing::{Faults, FaultyStore, TestEndpoint, defaults};
use roaming_types::modules::types::Role;
use roaming_types::{DateTime, StatusCode};
use serde_json::{Value, json};

async fn no_modules(_core: Arc<Core>) -> Result<RoleParts, StartError> {
    Ok(RoleParts::default())
}

/// A CSO over a store that fails on demand, and a bare eMSP registered with it.
struct Pair {
    cso: TestEndpoint,
    emsp: TestEndpoint,
    faults: Arc<Faults>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn pair() -> Pair {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (store, faults) = FaultyStore::new(Arc::new(MemoryStore::new()));
    let cso = TestEndpoint::start_with_store(
        &crate::defaults(),
        a.path().to_path_buf(),
        &[],
        None,
        Some(StoreHandle::new(store)),
        crate::build,
    )
    .await
    .unwrap();
    let emsp = TestEndpoint::start(
        &defaults(Role::Emsp),
        b.path().to_path_buf(),
        &[],
        None,
        no_modules,
    )
    .await
    .unwrap();
    let inv = cso.operator.invite().await.unwrap();
    emsp.operator
        .connect(&inv.versions_url, &inv.token)
        .await
        .unwrap();
    Pair {
        cso,
        emsp,
        faults,
        _dirs: (a, b),
    }
}

impl Pair {
    /// The eMSP PUTs a token to the CSO's Tokens Receiver.
    async fn put_token(&self, uid: &str) -> Result<(), ClientError> {
        let peer = self.emsp.core.peers.get("ZZ-CSO").unwrap().unwrap();
        let url = format!("{}/ocpi/2.2.1/tokens/DE/CSP/{uid}", self.cso.ocpi_url);
        let body = json!({
            "country_code": "DE", "party_id": "CSP", "uid": uid, "type": "RFID",
            "contract_id": "DE-CSP-C00000001-5", "issuer": "Test", "valid": true,
            "whitelist": "ALWAYS", "last_updated": DateTime::now()
        });
        self.emsp
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
    p.faults.fail_writes(true);
    let e = p.put_token("F0000002").await.expect_err("the write fails");
    assert_eq!(e.http_status(), Some(500), "{e}");
    assert_eq!(e.ocpi_status(), Some(StatusCode::ServerError), "{e}");
    p.faults.fail_writes(false);
    p.put_token("F0000002").await.expect("works again");
}

#[tokio::test]
async fn a_store_failure_on_the_operator_api_is_500_not_400() {
    let p = pair().await;
    let quote =
        json!({ "location_id": "LOC-1", "evse_uid": "LOC-1-E0", "energy_kwh": 1, "charging_minutes": 5 });
    // An unknown location is the caller's problem…
    match p.cso.operator.post::<_, Value>("/api/quotes", &quote).await {
        Err(OperatorClientError::Problem { status, .. }) => assert_eq!(status, 400),
        other => panic!("an unknown location is a 400: {other:?}"),
    }
    // …a store that cannot be read is ours.
    p.faults.fail_reads(true);
    match p.cso.operator.post::<_, Value>("/api/quotes", &quote).await {
        Err(OperatorClientError::Problem { status, error, .. }) => {
            assert_eq!((status, error.as_str()), (500, "internal"));
        }
        other => panic!("a store failure must be a 500 problem: {other:?}"),
    }
}
