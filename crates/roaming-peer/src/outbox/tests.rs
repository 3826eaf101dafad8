use serde_json::json;

use super::*;
use crate::store::StoreHandle;

/// The group of an entry queued before the push record carried one.
fn group(object: &str) -> &str {
    legacy_rules(object).0
}

#[test]
fn children_share_their_parents_group() {
    assert_eq!(group("locations/l1/e1/c1"), "locations/l1");
    assert_eq!(group("locations/l1"), "locations/l1");
    // A session's CDR waits for the session's pending updates (the CSP checks one against the other).
    assert_eq!(group("sessions/s1/cdrs/s1"), group("sessions/s1"));
    assert_ne!(group("sessions/s1"), group("sessions/s2"));
}

fn push(object: &str, op: PushOp) -> Push {
    Push {
        object: object.to_owned(),
        module: ModuleId::Locations,
        role: InterfaceRole::Receiver,
        path: vec!["x".to_owned()],
        op,
        to: None,
        query: Vec::new(),
        // Built field by field, as before #13: the legacy rules apply.
        group: None,
        appended: Vec::new(),
    }
}

#[test]
fn merged_session_patches_keep_every_charging_period() {
    // SES-02: a Sessions PATCH appends periods, so two pending PATCHes merge into one that carries
    // the periods of both, in order; a PATCH merged into a pending PUT extends the PUT's periods.
    let store = StoreHandle::memory();
    let q = |p: Push| store.transact(|tx| Outbox::enqueue(tx, "de-csp", p)).unwrap();
    q(push(
        "s",
        patch(json!({"kwh": 1, "charging_periods": [{"n": 1}]})),
    ));
    q(push(
        "s",
        patch(json!({"kwh": 2, "charging_periods": [{"n": 2}, {"n": 3}]})),
    ));
    q(push("s", patch(json!({"kwh": 3}))));
    assert_eq!(
        entries(&store, "de-csp")[0].push.op,
        patch(json!({"kwh": 3, "charging_periods": [{"n": 1}, {"n": 2}, {"n": 3}]}))
    );
    q(push(
        "t",
        PushOp::Put {
            body: json!({"kwh": 0, "charging_periods": [{"n": 1}]}),
        },
    ));
    q(push(
        "t",
        patch(json!({"kwh": 1, "charging_periods": [{"n": 2}]})),
    ));
    assert_eq!(
        entries(&store, "de-csp")[1].push.op,
        PushOp::Put {
            body: json!({"kwh": 1, "charging_periods": [{"n": 1}, {"n": 2}]})
        }
    );
}

fn patch(v: serde_json::Value) -> PushOp {
    PushOp::Patch {
        body: v.as_object().unwrap().clone(),
    }
}

fn entries(store: &StoreHandle, peer: &str) -> Vec<Entry> {
    ENTRIES
        .all(store, &prefix([peer]))
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

#[test]
fn one_pending_entry_per_object_with_the_newest_state() {
    let store = StoreHandle::memory();
    let q = |p: Push| store.transact(|tx| Outbox::enqueue(tx, "de-csp", p)).unwrap();
    q(push(
        "a",
        PushOp::Put {
            body: json!({"id": "a", "status": "AVAILABLE", "x": 1}),
        },
    ));
    q(push("b", patch(json!({"status": "CHARGING"}))));
    q(push(
        "a",
        patch(json!({"status": "CHARGING", "last_updated": "t2"})),
    ));
    q(push(
        "b",
        patch(json!({"status": "AVAILABLE", "last_updated": "t3"})),
    ));
    let e = entries(&store, "de-csp");
    assert_eq!(e.len(), 2, "merged per object");
    // The PATCH folded into the pending PUT: still a full object, newest values.
    assert_eq!(
        e[0].push.op,
        PushOp::Put {
            body: json!({"id": "a", "status": "CHARGING", "x": 1, "last_updated": "t2"})
        }
    );
    assert_eq!(e[0].rev, 1);
    // PATCH + PATCH: union, newest wins; first-queued order kept (a before b).
    assert_eq!(
        e[1].push.op,
        patch(json!({"status": "AVAILABLE", "last_updated": "t3"}))
    );
    // A DELETE replaces anything pending; other peers are separate queues.
    q(push("a", PushOp::Delete));
    store
        .transact(|tx| Outbox::enqueue(tx, "fr-oth", push("a", PushOp::Delete)))
        .unwrap();
    assert_eq!(entries(&store, "de-csp")[0].push.op, PushOp::Delete);
    assert_eq!(entries(&store, "fr-oth").len(), 1);
    // Clearing a peer removes only its entries.
    store.transact(|tx| Outbox::clear(tx, "de-csp")).unwrap();
    assert!(entries(&store, "de-csp").is_empty());
    assert_eq!(entries(&store, "fr-oth").len(), 1);
    // Several objects queued in one transaction get one entry each, in order.
    store
        .transact(|tx| {
            for o in ["x", "y", "z"] {
                Outbox::enqueue(tx, "nl-three", push(o, PushOp::Delete))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let objects: Vec<String> = entries(&store, "nl-three")
        .into_iter()
        .map(|e| e.push.object)
        .collect();
    assert_eq!(objects, ["x", "y", "z"]);
    // A later push for a cleared object starts a new entry.
    q(push("a", patch(json!({"status": "BLOCKED"}))));
    assert_eq!(entries(&store, "de-csp").len(), 1);
}

/// A test address: `things/<id>` in the group of its parent (`things/<parent>`), appending `items`.
struct Thing {
    id: &'static str,
    parent: Option<&'static str>,
}

impl Address for Thing {
    const APPENDED: &'static [&'static str] = &["items"];

    fn object(&self) -> String {
        format!("things/{}", self.id)
    }

    fn group(&self) -> String {
        format!("things/{}", self.parent.unwrap_or(self.id))
    }

    fn module(&self) -> ModuleId {
        ModuleId::Custom("things".to_owned())
    }

    fn path(&self) -> Vec<String> {
        vec![self.id.to_uppercase()]
    }

    fn query(&self) -> Vec<(String, String)> {
        vec![("kind".to_owned(), "thing".to_owned())]
    }
}

/// An address with the defaults: its own group, no appended field, the Receiver.
struct Plain(&'static str);

impl Address for Plain {
    fn object(&self) -> String {
        format!("plain/{}", self.0)
    }

    fn module(&self) -> ModuleId {
        ModuleId::Tariffs
    }

    fn path(&self) -> Vec<String> {
        vec![self.0.to_owned()]
    }
}

#[test]
fn a_push_is_built_from_its_address() {
    let p = Push::new(
        &Thing {
            id: "a1",
            parent: None,
        },
        PushOp::Delete,
    );
    assert_eq!(p.object, "things/a1");
    assert_eq!(p.module, ModuleId::Custom("things".to_owned()));
    assert_eq!(p.role, InterfaceRole::Receiver);
    assert_eq!(p.path, ["A1"]);
    assert_eq!(p.query, [("kind".to_owned(), "thing".to_owned())]);
    assert_eq!(p.to, None);
    let p = Push::new(&Plain("t1"), PushOp::Delete);
    assert_eq!((p.group(), p.query.is_empty()), ("plain/t1", true));
    assert!(!p.appends("charging_periods"));
}

#[test]
fn the_group_comes_from_the_push_record() {
    // Three parts deep, yet in the group its address gives (the legacy rule would say `things/c`).
    let child = Push::new(
        &Thing {
            id: "c/x/y",
            parent: Some("p"),
        },
        PushOp::Delete,
    );
    assert_eq!(child.group(), "things/p");
    assert_eq!(
        Push::new(
            &Thing {
                id: "p",
                parent: None
            },
            PushOp::Delete
        )
        .group(),
        "things/p"
    );
    // Stored with the entry and read back from it.
    let store = StoreHandle::memory();
    store
        .transact(|tx| Outbox::enqueue(tx, "de-csp", child.clone()))
        .unwrap();
    let stored = &entries(&store, "de-csp")[0].push;
    assert_eq!(stored, &child);
    assert_eq!(stored.group(), "things/p");
}

#[test]
fn the_append_rule_comes_from_the_push_record() {
    let store = StoreHandle::memory();
    let q = |p: Push| store.transact(|tx| Outbox::enqueue(tx, "de-csp", p)).unwrap();
    let thing = Thing {
        id: "a",
        parent: None,
    };
    q(Push::new(
        &thing,
        patch(json!({"items": [1], "charging_periods": [1]})),
    ));
    q(Push::new(
        &thing,
        patch(json!({"items": [2, 3], "charging_periods": [2]})),
    ));
    // `items` is appended (the address says so); `charging_periods` is not, for this object.
    assert_eq!(
        entries(&store, "de-csp")[0].push.op,
        patch(json!({"items": [1, 2, 3], "charging_periods": [2]}))
    );
    // Into a pending PUT too.
    q(Push::new(
        &Thing {
            id: "b",
            parent: None,
        },
        PushOp::Put {
            body: json!({"items": [1], "n": 0}),
        },
    ));
    q(Push::new(
        &Thing {
            id: "b",
            parent: None,
        },
        patch(json!({"items": [2], "n": 1})),
    ));
    assert_eq!(
        entries(&store, "de-csp")[1].push.op,
        PushOp::Put {
            body: json!({"items": [1, 2], "n": 1})
        }
    );
    // An address without appended fields replaces every field.
    q(Push::new(&Plain("t"), patch(json!({"items": [1]}))));
    q(Push::new(&Plain("t"), patch(json!({"items": [2]}))));
    assert_eq!(entries(&store, "de-csp")[2].push.op, patch(json!({"items": [2]})));
}

/// An entry as the outbox stored it before the push record carried its group and merge rule.
fn legacy_entry(object: &str, op: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "push": {
            "object": object,
            "module": "locations",
            "role": "RECEIVER",
            "path": ["NL", "CSO", "L1"],
            "op": op,
            "to": null
        },
        "rev": 0,
        "queued_at": "2024-01-01T00:00:00.000Z",
        "attempts": 0
    }))
    .unwrap()
}

#[test]
fn entries_from_before_decode_with_the_legacy_rule() {
    let e: Entry = serde_json::from_slice(&legacy_entry(
        "sessions/s1/cdrs/c1",
        json!({"method": "POST", "body": {}}),
    ))
    .unwrap();
    assert_eq!((e.push.group.as_deref(), e.push.appended.len()), (None, 0));
    assert_eq!(
        e.push.group(),
        "sessions/s1",
        "a session's CDR waits for the session"
    );
    assert!(e.push.appends("charging_periods"));
    assert!(!e.push.appends("items"));
    // Written back (merged, retried) without fields it did not have: still a legacy record.
    let again = serde_json::to_value(&e).unwrap();
    assert!(again["push"].get("group").is_none() && again["push"].get("appended").is_none());
}

/// A location and its EVSE, one queued before the upgrade (legacy record) and one after (address
/// with the group the legacy rule gives): the same group, so the EVSE never overtakes the location.
#[test]
fn legacy_entries_and_new_pushes_of_one_location_share_a_group() {
    struct Evse;
    impl Address for Evse {
        fn object(&self) -> String {
            "locations/l1/e1".to_owned()
        }
        fn group(&self) -> String {
            "locations/l1".to_owned()
        }
        fn module(&self) -> ModuleId {
            ModuleId::Locations
        }
        fn path(&self) -> Vec<String> {
            vec![
                "NL".to_owned(),
                "CSO".to_owned(),
                "L1".to_owned(),
                "E1".to_owned(),
            ]
        }
    }
    let store = StoreHandle::memory();
    let mut b = crate::store::Batch::new();
    b.put(
        ENTRIES.space(),
        seq_key("de-csp", 1),
        legacy_entry("locations/l1", json!({"method": "PUT", "body": {"id": "L1"}})),
    );
    b.put(PENDING.space(), obj_key("de-csp", "locations/l1"), b"1".to_vec());
    b.put(SEQ.space(), SEQ_KEY.to_vec(), b"1".to_vec());
    store.apply(b).unwrap();
    store
        .transact(|tx| {
            Outbox::enqueue(
                tx,
                "de-csp",
                Push::new(&Evse, patch(json!({"status": "CHARGING"}))),
            )
        })
        .unwrap();
    let e = entries(&store, "de-csp");
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].push.object, "locations/l1", "queued first, delivered first");
    assert_eq!(e[0].push.group(), e[1].push.group());
    // A later change of the legacy object merges into its entry and takes the new record's rules.
    struct Loc;
    impl Address for Loc {
        fn object(&self) -> String {
            "locations/l1".to_owned()
        }
        fn group(&self) -> String {
            "locations/l1".to_owned()
        }
        fn module(&self) -> ModuleId {
            ModuleId::Locations
        }
        fn path(&self) -> Vec<String> {
            vec!["NL".to_owned(), "CSO".to_owned(), "L1".to_owned()]
        }
    }
    store
        .transact(|tx| Outbox::enqueue(tx, "de-csp", Push::new(&Loc, patch(json!({"name": "x"})))))
        .unwrap();
    let e = entries(&store, "de-csp");
    assert_eq!(e.len(), 2, "merged into the legacy entry");
    assert_eq!(
        e[0].push.op,
        PushOp::Put {
            body: json!({"id": "L1", "name": "x"})
        }
    );
    assert_eq!((e[0].push.group.as_deref(), e[0].rev), (Some("locations/l1"), 1));
}

/// What the test peer received: path, routed-to party, when the call started and ended.
type Calls = Arc<Mutex<Vec<(String, String, tokio::time::Instant, tokio::time::Instant)>>>;

/// A CSP offering a `things` Receiver whose calls take 300 ms, and a CSO registered with it.
async fn cso_and_things_peer(
    dirs: &(tempfile::TempDir, tempfile::TempDir),
) -> (crate::testing::TestEndpoint, crate::testing::TestEndpoint, Calls) {
    use axum::routing::any;
    use roaming_types::modules::types::Role;

    use crate::endpoint::RoleParts;
    use crate::server::{ModuleEndpoint, OcpiModules};
    use crate::testing::{TestEndpoint, defaults};

    let calls: Calls = Arc::default();
    let recorded = Arc::clone(&calls);
    let csp = TestEndpoint::start(
        &defaults(Role::Emsp),
        dirs.1.path().to_path_buf(),
        &[],
        None,
        |_| async move {
            let handler = move |uri: http::Uri, headers: http::HeaderMap| {
                let recorded = Arc::clone(&recorded);
                async move {
                    let start = tokio::time::Instant::now();
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    let to = headers
                        .get(crate::headers::OCPI_TO_PARTY_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    recorded.lock().unwrap().push((
                        uri.path().to_owned(),
                        to,
                        start,
                        tokio::time::Instant::now(),
                    ));
                    crate::server::reply::ok(http::StatusCode::OK, None)
                }
            };
            Ok(RoleParts {
                ocpi: OcpiModules {
                    endpoints: vec![ModuleEndpoint {
                        module: ModuleId::Custom("things".to_owned()),
                        role: InterfaceRole::Receiver,
                        path: "/ocpi/2.2.1/things".to_owned(),
                    }],
                    router: axum::Router::new().route("/ocpi/2.2.1/things/{*rest}", any(handler)),
                },
                ..RoleParts::default()
            })
        },
    )
    .await
    .unwrap();
    let cso = TestEndpoint::start(
        &defaults(Role::Cpo),
        dirs.0.path().to_path_buf(),
        &[],
        None,
        |_| async { Ok(RoleParts::default()) },
    )
    .await
    .unwrap();
    let inv = cso.operator.invite().await.unwrap();
    csp.operator.connect(&inv.versions_url, &inv.token).await.unwrap();
    (cso, csp, calls)
}

async fn drained(core: &Core) {
    for _ in 0..1000 {
        let status = Outbox::status(core).unwrap();
        if status.iter().all(|s| s.pending == 0) {
            assert!(status.iter().all(|s| s.dead.is_empty()), "{status:?}");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the outbox did not drain");
}

/// The two entry points pick the peers as the role crates did by hand, and delivery keeps a group's
/// pushes apart, in queue order, while other groups go in parallel.
#[tokio::test]
async fn pushes_reach_receivers_and_owners_one_group_at_a_time() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (cso, csp, calls) = cso_and_things_peer(&dirs).await;
    let core = &cso.core;
    let csp_party: PartyRef = "DE-CSP".parse().unwrap();
    let woken = core
        .store
        .transact(|tx| {
            let mut woken = Outbox::push_to_receivers(
                core,
                tx,
                &Thing {
                    id: "a1",
                    parent: None,
                },
                PushOp::Delete,
            )?;
            woken.extend(Outbox::push_to_receivers(
                core,
                tx,
                &Thing {
                    id: "b1",
                    parent: None,
                },
                PushOp::Delete,
            )?);
            let child = Thing {
                id: "a2",
                parent: Some("a1"),
            };
            woken.extend(Outbox::push_to_owner(
                core,
                tx,
                &csp_party,
                &child,
                PushOp::Delete,
            )?);
            // Nobody hosts this party; nobody offers a Tariffs Receiver.
            let stranger: PartyRef = "FR-OTH".parse().unwrap();
            assert!(Outbox::push_to_owner(core, tx, &stranger, &child, PushOp::Delete)?.is_empty());
            assert!(Outbox::push_to_receivers(core, tx, &Plain("t"), PushOp::Delete)?.is_empty());
            Ok::<_, StoreError>(woken)
        })
        .unwrap();
    assert_eq!(woken, ["DE-CSP", "DE-CSP", "DE-CSP"]);
    assert!(
        Outbox::owner_peer(core, &csp_party, &Plain("t"))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        Outbox::owner_peer(
            core,
            &csp_party,
            &Thing {
                id: "x",
                parent: None
            }
        )
        .unwrap()
        .map(|p| p.id.clone()),
        Some("DE-CSP".to_owned())
    );
    core.commit(woken).await.unwrap();
    drained(core).await;
    let calls = calls.lock().unwrap().clone();
    let call = |p: &str| calls.iter().find(|c| c.0.ends_with(p)).cloned().unwrap();
    let (a1, a2, b1) = (call("/A1"), call("/A2"), call("/B1"));
    assert!(a2.2 >= a1.3, "a2 waited for a1, its group's earlier push");
    assert!(b1.2 < a1.3, "b1, another group, went in parallel with a1");
    // Routing headers: to the owner for an owner push, else to the peer's first party (the same here).
    assert_eq!((a2.1.as_str(), a1.1.as_str()), ("CSP", "CSP"));
    csp.stop().await;
    cso.stop().await;
}
