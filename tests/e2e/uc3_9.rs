//! UC3-9 SDR information exchange: the CSP's CDRs Receiver (§8.1): POST → 201 with `Location`, GET at
//! that URL, duplicates harmless and never overwritten (CDR-09), only the caller's own CDRs (T-90).

use http::Method;
use roaming_e2e::fixtures::cdr;
use roaming_e2e::{RawOcpi, token_header};
use serde_json::{Value, json};

use crate::charging::pair;

#[tokio::test]
async fn uc3_9_cdr_receiver_rules() {
    let (cso, csp) = pair(1).await;
    let raw = RawOcpi::new(None);
    let token = cso.token_for(&csp);
    let url = format!("{}/ocpi/2.2.1/cdrs", csp.ocpi_url);
    // Created: 201 and where to read it back.
    let w = raw.json(Method::POST, &url, &token, &cdr("CDR-1")).await;
    assert_eq!((w.status, w.code()), (201, 1000), "{:?}", w.body);
    let location = w.header("location").expect("a Location header (§8.1)");
    assert!(location.ends_with("/ocpi/2.2.1/cdrs/NL/CSO/CDR-1"), "{location}");
    let back = raw.get(&location, &token).await;
    assert_eq!(back.envelope().data.unwrap()["id"], "CDR-1");
    // The same CDR again: harmless, same Location (CDR-09).
    let w = raw.json(Method::POST, &url, &token, &cdr("CDR-1")).await;
    assert_eq!((w.status, w.code()), (200, 1000));
    assert_eq!(w.header("location").as_deref(), Some(location.as_str()));
    // The same id with other content: refused, never overwritten.
    let mut changed = cdr("CDR-1");
    changed["total_cost"] = json!({ "excl_vat": 1.0 });
    let w = raw.json(Method::POST, &url, &token, &changed).await;
    assert_eq!(w.code(), 2001, "{:?}", w.body);
    let back = raw.get(&location, &token).await;
    assert_eq!(back.envelope().data.unwrap()["total_cost"]["excl_vat"], 3.5);
    // Another CSO's CDR, or a CDR for a token that is not ours.
    let mut foreign = cdr("CDR-2");
    foreign["party_id"] = json!("XYZ");
    let w = raw.json(Method::POST, &url, &token, &foreign).await;
    assert_eq!(w.code(), 2001);
    let mut not_ours = cdr("CDR-3");
    not_ours["cdr_token"]["party_id"] = json!("OTH");
    let w = raw.json(Method::POST, &url, &token, &not_ours).await;
    assert_eq!(w.code(), 2001);
    // No PUT, PATCH or DELETE of CDRs.
    let w = raw
        .send(Method::DELETE, &location, Some(&token_header(&token)), &[], None)
        .await;
    assert_eq!(w.status, 405, "{:?}", w.body);
    // The operator API lists the CDR for the driver's contract.
    let list: Vec<Value> = csp.op_get("/api/cdrs?contract_id=DE-CSP-C00000001-5").await;
    assert_eq!(list.len(), 1);
}
