//! A failing store on both faces of the CSP (#13 item 6): a 5xx, never a refusal of the request.
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

/// A CSP over a store that fails on demand, and a bare CPO registered with it.
struct Pair {
    csp: TestEndpoint,
    cpo: TestEndpoint,
    faults: Arc<Faults>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn pair() -> Pair {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (store, faults) = FaultyStore::new(Arc::new(MemoryStore::new()));
    let csp = TestEndpoint::start_with_store(
        &crate::defaults(),
        a.path().to_path_buf(),
        &[],
        None,
        Some(StoreHandle::new(store)),
        crate::build,
    )
    .await
    .unwrap();
    let cpo = TestEndpoint::start(
        &defaults(Role::Cpo),
        b.path().to_path_buf(),
        &[],
        None,
        no_modules,
    )
    .await
    .unwrap();
    let inv = cpo.operator.invite().await.unwrap();
    csp.operator.connect(&inv.versions_url, &inv.token).await.unwrap();
    Pair {
        csp,
        cpo,
        faults,
        _dirs: (a, b),
    }
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
        let peer = self.cpo.core.peers.get("ZZ-CSP").unwrap().unwrap();
        let url = format!("{}/ocpi/2.2.1/locations/NL/CSO/{id}", self.csp.ocpi_url);
        let body = location(id);
        self.cpo
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
    p.faults.fail_writes(true);
    let e = p.put_location("LOC-2").await.expect_err("the write fails");
    assert_eq!(e.http_status(), Some(500), "{e}");
    assert_eq!(e.ocpi_status(), Some(StatusCode::ServerError), "{e}");
    p.faults.fail_writes(false);
    p.put_location("LOC-2").await.expect("works again");
}

#[tokio::test]
async fn a_store_failure_on_the_operator_api_is_500_not_400() {
    let p = pair().await;
    p.put_location("LOC-1").await.unwrap();
    let found: Value = p.csp.operator.get("/api/locations").await.unwrap();
    assert_eq!(found["total"], 1, "{found}");
    // The search finds the location in memory and reads it from the store, which fails.
    p.faults.fail_reads(true);
    match p.csp.operator.get::<Value>("/api/locations").await {
        Err(OperatorClientError::Problem { status, error, .. }) => {
            assert_eq!((status, error.as_str()), (500, "internal"));
        }
        other => panic!("a store failure must be a 500 problem: {other:?}"),
    }
    // A search that cannot be understood is still the caller's problem.
    p.faults.fail_reads(false);
    match p.csp.operator.get::<Value>("/api/locations?bbox=1,2").await {
        Err(OperatorClientError::Problem { status, .. }) => assert_eq!(status, 400),
        other => panic!("a bad bbox is a 400: {other:?}"),
    }
}
