#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failure here is a test failure"
)]

//! The one conformance suite every [`Store`] implementation must pass (style §11).
//!
//! Run it from the implementation's tests with a factory that returns a fresh, empty store.

use std::sync::Arc;

use super::{Batch, Space, Store, StoreHandle, key, prefix, prefix_end, ts_key};

const A: Space = Space("conf_a");
const B: Space = Space("conf_b");
const AB: Space = Space("conf_ab");

/// Runs every check against stores made by `make`.
pub async fn run_all(make: impl Fn() -> Arc<dyn Store>) {
    get_put_delete(make().as_ref());
    spaces_are_isolated(make().as_ref());
    batch_is_ordered_and_last_write_wins(make().as_ref());
    scan_prefix_after_limit(make().as_ref());
    range_and_count(make().as_ref());
    durable_resolves_for_many_waiters(make()).await;
    transact_serialises_read_modify_write(make()).await;
}

fn put(s: &dyn Store, space: Space, k: &[u8], v: &[u8]) {
    let mut b = Batch::new();
    b.put(space, k.to_vec(), v.to_vec());
    s.apply(b).expect("apply");
}

fn get_put_delete(s: &dyn Store) {
    assert_eq!(s.get(A, b"k").unwrap(), None);
    put(s, A, b"k", b"1");
    assert_eq!(s.get(A, b"k").unwrap(), Some(b"1".to_vec()));
    put(s, A, b"k", b"2");
    assert_eq!(s.get(A, b"k").unwrap(), Some(b"2".to_vec()));
    let mut b = Batch::new();
    b.delete(A, b"k".to_vec()).delete(A, b"absent".to_vec());
    s.apply(b).unwrap();
    assert_eq!(s.get(A, b"k").unwrap(), None);
}

fn spaces_are_isolated(s: &dyn Store) {
    put(s, A, b"x", b"a");
    put(s, B, b"x", b"b");
    put(s, AB, b"x", b"ab");
    assert_eq!(s.get(A, b"x").unwrap(), Some(b"a".to_vec()));
    assert_eq!(s.get(B, b"x").unwrap(), Some(b"b".to_vec()));
    assert_eq!(
        s.scan(A, b"", None, 10).unwrap().len(),
        1,
        "space A must not see AB"
    );
    assert_eq!(s.count_range(A, b"", None).unwrap(), 1);
    assert_eq!(s.range(A, b"", None, true, 10).unwrap().len(), 1);
}

fn batch_is_ordered_and_last_write_wins(s: &dyn Store) {
    let mut b = Batch::new();
    b.put(A, b"k".to_vec(), b"1".to_vec())
        .put(B, b"k".to_vec(), b"2".to_vec())
        .delete(A, b"k".to_vec())
        .put(A, b"k".to_vec(), b"3".to_vec());
    s.apply(b).unwrap();
    assert_eq!(s.get(A, b"k").unwrap(), Some(b"3".to_vec()));
    assert_eq!(s.get(B, b"k").unwrap(), Some(b"2".to_vec()));
}

fn scan_prefix_after_limit(s: &dyn Store) {
    for id in ["a", "b", "c", "d"] {
        put(s, A, &key(["p1", id]), id.as_bytes());
    }
    put(s, A, &key(["p10", "z"]), b"other party");
    put(s, A, &key(["p0", "z"]), b"before");
    let p = prefix(["p1"]);
    let all = s.scan(A, &p, None, 100).unwrap();
    assert_eq!(
        all.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
    );
    let page = s.scan(A, &p, None, 2).unwrap();
    assert_eq!(page.len(), 2);
    let next = s.scan(A, &p, Some(&page[1].0), 2).unwrap();
    assert_eq!(
        next.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        vec![b"c".to_vec(), b"d".to_vec()]
    );
    let rest = s.scan(A, &p, Some(&next[1].0), 2).unwrap();
    assert!(rest.is_empty());
    assert_eq!(all[0].0, key(["p1", "a"]), "scan returns keys without the space");
}

fn range_and_count(s: &dyn Store) {
    for (t, id) in [(-5i64, "neg"), (10, "a"), (20, "b"), (20, "c"), (30, "d")] {
        let mut k = b"idx\0".to_vec();
        k.extend_from_slice(&ts_key(t));
        k.extend_from_slice(id.as_bytes());
        put(s, B, &k, id.as_bytes());
    }
    let p = b"idx\0".to_vec();
    let end = prefix_end(&p).unwrap();
    let mut from = p.clone();
    from.extend_from_slice(&ts_key(10));
    let mut to = p.clone();
    to.extend_from_slice(&ts_key(30));
    let vals = |v: Vec<(Vec<u8>, Vec<u8>)>| {
        v.into_iter()
            .map(|(_, v)| String::from_utf8(v).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        vals(s.range(B, &from, Some(&to), false, 100).unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(vals(s.range(B, &from, Some(&to), true, 2).unwrap()), ["c", "b"]);
    assert_eq!(
        vals(s.range(B, &p, Some(&end), false, 100).unwrap()),
        ["neg", "a", "b", "c", "d"]
    );
    assert_eq!(s.count_range(B, &from, Some(&to)).unwrap(), 3);
    assert_eq!(s.count_range(B, &from, None).unwrap(), 4);
    assert_eq!(
        s.count_range(B, &to, Some(&from)).unwrap(),
        0,
        "an empty range counts 0"
    );
    assert!(s.range(B, &from, Some(&to), false, 0).unwrap().is_empty());
}

async fn durable_resolves_for_many_waiters(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let mut b = Batch::new();
            b.put(A, i.to_be_bytes().to_vec(), b"v".to_vec());
            s.apply(b).unwrap();
            s.durable().await.unwrap();
        }));
    }
    for t in tasks {
        tokio::time::timeout(std::time::Duration::from_secs(30), t)
            .await
            .expect("durable must not hang")
            .unwrap();
    }
    assert_eq!(s.count_range(A, &[], None).unwrap(), 64);
}

async fn transact_serialises_read_modify_write(s: Arc<dyn Store>) {
    let h = StoreHandle::from_arc(s);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let h = h.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            for _ in 0..50 {
                h.transact(|tx| {
                    let n: u64 = tx.get_json(A, b"counter")?.unwrap_or(0);
                    tx.put_json(A, b"counter".to_vec(), &(n + 1))?;
                    Ok::<_, super::StoreError>(())
                })
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(h.get_json::<u64>(A, b"counter").unwrap(), Some(400));
    // Reads inside a transaction see its own writes.
    h.transact(|tx| {
        tx.put(A, b"ryw".to_vec(), b"1".to_vec());
        assert_eq!(tx.get(A, b"ryw")?, Some(b"1".to_vec()));
        tx.delete(A, b"ryw".to_vec());
        assert_eq!(tx.get(A, b"ryw")?, None);
        tx.put_json(A, b"ryw".to_vec(), &7u32)?;
        assert_eq!(tx.get_json::<u32>(A, b"ryw")?, Some(7));
        Ok::<_, super::StoreError>(())
    })
    .unwrap();
    assert_eq!(h.get_json::<u32>(A, b"ryw").unwrap(), Some(7));
    // A failed transaction writes nothing.
    let r: Result<(), super::StoreError> = h.transact(|tx| {
        tx.put(A, b"half".to_vec(), b"x".to_vec());
        Err(super::StoreError::Engine("refused".to_owned()))
    });
    assert!(r.is_err());
    assert_eq!(h.get(A, b"half").unwrap(), None);
}
