//! The session state machine over a store that counts what it is asked: what a start reads and
//! writes (#13: one read of the location, one of the free tariff, one write of the session).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use roaming_peer::store::{Batch, Entry, MemoryStore, Op, Space, Store, StoreError, StoreHandle};
use roaming_peer::testing::TestEndpoint;
use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, ContractId, EvseUid, LocationId, TokenUid};
use roaming_types::modules::cdrs::{AuthMethod, CdrToken};
use roaming_types::modules::tokens::TokenType;
use rust_decimal::Decimal;
use serde_json::json;

use super::*;

/// Reads (`get`) and writes (puts in applied batches) per keyspace.
#[derive(Debug, Default)]
struct Counts {
    reads: BTreeMap<&'static str, u64>,
    writes: BTreeMap<&'static str, u64>,
}

#[derive(Debug)]
struct Counting {
    inner: MemoryStore,
    counts: Arc<Mutex<Counts>>,
}

impl Store for Counting {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        *self.counts.lock().unwrap().reads.entry(space.0).or_default() += 1;
        self.inner.get(space, key)
    }

    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan(space, prefix, after, limit)
    }

    fn range(
        &self,
        space: Space,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner.range(space, start, end, reverse, limit)
    }

    fn count_range(&self, space: Space, start: &[u8], end: Option<&[u8]>) -> Result<u64, StoreError> {
        self.inner.count_range(space, start, end)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut counts = self.counts.lock().unwrap();
        for op in batch.ops() {
            if let Op::Put(space, _, _) = op {
                *counts.writes.entry(space.0).or_default() += 1;
            }
        }
        drop(counts);
        self.inner.apply(batch)
    }

    fn durable(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.durable()
    }

    fn size_on_disk(&self) -> u64 {
        0
    }
}

/// A CSO over a counting store with one location `L-1` whose EVSEs `L-1-E0` and `L-1-E1` have a
/// connector without a tariff (so the session is priced by the free-of-charge tariff), and its sessions.
async fn cso() -> (TestEndpoint, Sessions, Arc<Mutex<Counts>>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let counts = Arc::new(Mutex::new(Counts::default()));
    let store = Counting {
        inner: MemoryStore::new(),
        counts: Arc::clone(&counts),
    };
    let cso = TestEndpoint::start_with_store(
        &crate::defaults(),
        dir.path().to_path_buf(),
        &[],
        None,
        Some(StoreHandle::new(store)),
        crate::build,
    )
    .await
    .unwrap();
    let sites = Sites::new(Arc::clone(&cso.core)).unwrap();
    let evses: Vec<_> = ["L-1-E0", "L-1-E1"]
        .map(|uid| {
            json!({
                "uid": uid, "status": "AVAILABLE", "capabilities": ["RFID_READER"],
                "connectors": [{ "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                    "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32 }]
            })
        })
        .into();
    let location = json!({
        "id": "L-1", "publish": true, "address": "Prinsengracht 1", "city": "Amsterdam",
        "country": "NLD", "coordinates": { "latitude": "52.370000", "longitude": "4.890000" },
        "time_zone": "Europe/Amsterdam",
        "evses": evses
    });
    sites.put_location("L-1", location).await.unwrap();
    let sessions = Sessions::new(Arc::clone(&cso.core), sites).unwrap();
    (cso, sessions, counts, dir)
}

fn start(transaction_id: &str) -> SessionStart {
    SessionStart {
        transaction_id: transaction_id.to_owned(),
        // Not as the site spells them: the session takes the site's spelling.
        location_id: LocationId::new("l-1").unwrap(),
        evse_uid: EvseUid::new("l-1-e0").unwrap(),
        connector_id: ConnectorId::new("1").unwrap(),
        token_uid: TokenUid::new("04A1B2C3").unwrap(),
        token_type: TokenType::Rfid,
        command_id: None,
        station_reservation_id: None,
        meter_start_wh: Decimal::from(1000),
        at: DateTime::now(),
    }
}

fn auth() -> StartAuth {
    let party = roaming_types::ids::PartyRef::new(
        roaming_types::ids::CountryCode::new("DE").unwrap(),
        roaming_types::ids::PartyId::new("CSP").unwrap(),
    );
    StartAuth {
        token: CdrToken {
            country_code: party.country_code.clone(),
            party_id: party.party_id.clone(),
            uid: TokenUid::new("04A1B2C3").unwrap(),
            token_type: TokenType::Rfid,
            contract_id: ContractId::new("DE-CSP-C00000001-5").unwrap(),
        },
        emsp: Some(party),
        auth_method: AuthMethod::Whitelist,
        authorization_reference: None,
    }
}

#[tokio::test]
async fn a_start_reads_its_location_and_the_free_tariff_once_and_writes_the_session_once() {
    let (cso, sessions, counts, _dir) = cso().await;
    let reads = |space: &str| counts.lock().unwrap().reads.get(space).copied().unwrap_or(0);
    let writes = |space: &str| counts.lock().unwrap().writes.get(space).copied().unwrap_or(0);
    // What the EVSE status change (in `Sites`) reads by itself.
    *counts.lock().unwrap() = Counts::default();
    let (location, other) = (LocationId::new("L-1").unwrap(), EvseUid::new("L-1-E1").unwrap());
    cso.core
        .store
        .transact(|tx| sessions.evse_status(tx, &location, &other, Status::Charging))
        .unwrap();
    let (status_reads, status_tariff_reads) = (reads("cso_locations"), reads("cso_tariffs"));
    *counts.lock().unwrap() = Counts::default();
    let (s, _) = cso
        .core
        .store
        .transact(|tx| sessions.start(tx, &start("T-1"), auth(), None))
        .unwrap();
    let c = format!("{:?}", counts.lock().unwrap());
    // A status change alone reads the location, and its write reads the stored header once more to
    // move the index entries. The start reads it once (ids as the site spells them, the seal, the
    // currency) and hands that read to the status change (CHARGING): the same two reads, not three.
    assert_eq!(status_reads, 2, "{c}");
    assert_eq!(reads("cso_locations"), status_reads, "{c}");
    // The connector has no tariff: the free-of-charge tariff, read once for the seal and currency.
    assert_eq!(reads("cso_tariffs"), 1 + status_tariff_reads, "{c}");
    assert_eq!(writes(SESSIONS.objects().0), 1, "{c}");
    assert_eq!(writes("cso_session_runtime"), 1, "{c}");
    assert_eq!((s.location_id.as_str(), s.evse_uid.as_str()), ("L-1", "L-1-E0"));
    assert_eq!(s.currency.as_str(), "EUR");
    let rt = sessions.runtime(&cso.core.store, s.id.as_str()).unwrap().unwrap();
    let seal = rt.seal.unwrap();
    assert_eq!(
        seal.tariff.map(|t| t.id),
        Some(sessions.sites().free_tariff_id().clone())
    );
    assert_eq!(
        sessions.get(&cso.core.store, s.id.as_str()).unwrap(),
        Some(s.clone())
    );
    // A repeated report changes nothing.
    let (again, woken) = cso
        .core
        .store
        .transact(|tx| sessions.start(tx, &start("T-1"), auth(), None))
        .unwrap();
    assert_eq!((again, woken), (s, Vec::new()));
}

#[test]
fn kwh_is_an_exact_decimal_with_the_periods_four_decimals() {
    assert_eq!(kwh(Decimal::from(12_345)).value(), Decimal::new(12_345, 3));
    // 0.1 Wh is the resolution of every reported energy (periods, CDR totals, kwh).
    assert_eq!(kwh(Decimal::new(86_666_667, 4)).value(), Decimal::new(86_667, 4));
}
