//! Time stamps (checklist §3.9, §3.10): one fixed format on the way out (#12 item 19), and stamps a
//! peer gives its data that lie in the future refused (#12 item 12, T-80).

use http::Method;
use roaming_e2e::fixtures::cdr;
use roaming_e2e::foreign::ForeignPeer;
use roaming_e2e::{Node, RawOcpi};
use roaming_peer::store::collection::StoredDoc;
use serde_json::json;

/// A CDR stored by an earlier version (time stamps as `…:00Z`, before #12 item 19) and delivered again
/// by its CSO is the harmless duplicate it is (CDR-09), not "the same id with other content".
#[tokio::test]
async fn uc3_9_a_cdr_stored_by_an_earlier_version_is_a_duplicate_when_delivered_again() {
    let csp = Node::csp().start().await;
    let cso = ForeignPeer::cpo("NL-FOR").register(&csp).await;
    let url = format!("{}/ocpi/2.2.1/cdrs", csp.ocpi_url);
    let mut c = cdr("CDR-OLD");
    c["party_id"] = json!("FOR");
    c["tariffs"][0]["party_id"] = json!("FOR");
    let raw = RawOcpi::new(None);
    let w = raw.json(Method::POST, &url, &cso.token_c, &c).await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
    // What the earlier version wrote: the same CDR with its stamps as `…:00Z`.
    let store = &csp.core.store;
    let (key, doc) = roaming_csp::cdrs::CDRS
        .all(store, &[])
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    let old_text = String::from_utf8(doc.json.clone()).unwrap().replace(".000Z", "Z");
    assert!(
        !old_text.contains(".000Z") && old_text.contains("09:00:00Z"),
        "{old_text}"
    );
    store
        .transact(|tx| {
            roaming_csp::cdrs::CDRS.put(
                tx,
                &key,
                &StoredDoc {
                    json: old_text.into_bytes(),
                    ..doc
                },
            )
        })
        .unwrap();
    let w = raw.json(Method::POST, &url, &cso.token_c, &c).await;
    assert_eq!((w.status, w.code()), (200, 1000), "a duplicate: {:?}", w.body);
}
