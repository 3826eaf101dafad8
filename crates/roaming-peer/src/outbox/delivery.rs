//! Delivery: one task per peer sends its outbox entries, oldest first, up to `push.window` at a time and
//! never two of one group ([`Push::group`]); the outcomes are recorded in the store (see the module
//! docs of [`crate::outbox`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;

use super::{DEAD, ENTRIES, Entry, Outbox, PENDING, Push, PushOp, obj_key, seq_key};
use crate::client::backoff::{Backoff, random_unit};
use crate::client::{Call, ClientError, join_url, with_query};
use crate::core::{Core, PeerEvent};
use crate::headers::new_id;
use crate::store::{StoreError, prefix};

/// Runs delivery for every registered peer until shutdown: one task per peer, started for peers
/// registered at start and whenever one registers.
pub async fn run(core: Arc<Core>, backoff: Backoff) {
    let mut events = core.subscribe();
    let mut tasks: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
    let start = |id: &str, tasks: &mut BTreeMap<String, tokio::task::JoinHandle<()>>| {
        let key = id.to_ascii_lowercase();
        if tasks.get(&key).is_none_or(tokio::task::JoinHandle::is_finished) {
            tasks.insert(
                key,
                tokio::spawn(deliver_loop(Arc::clone(&core), id.to_owned(), backoff)),
            );
        }
    };
    match core.peers.list() {
        Ok(peers) => {
            for p in peers {
                start(&p.id, &mut tasks);
            }
        }
        Err(e) => {
            crate::throttled!(error, "outbox: cannot list peers", error = %e, "outbox: cannot list peers")
        }
    }
    let shutdown = core.shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            ev = events.recv() => match ev {
                Ok(PeerEvent::Registered(id)) => start(&id, &mut tasks),
                Ok(PeerEvent::Unregistered(id)) => {
                    if let Some(t) = tasks.remove(&id.to_ascii_lowercase()) {
                        t.abort();
                    }
                    let r = core.store.transact(|tx| Outbox::clear(tx, &id));
                    if let Err(e) = r {
                        crate::throttled!(error, "outbox: cannot clear", peer.id = %id, error = %e, "outbox: cannot clear an unregistered peer's entries");
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if let Ok(peers) = core.peers.list() {
                        for p in peers {
                            start(&p.id, &mut tasks);
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    for (_, t) in tasks {
        let _ = t.await;
    }
}

enum Outcome {
    Delivered,
    /// Replace the entry by this push and deliver at once.
    Replace(Box<Push>),
    Retry(String),
    Dead(String),
}

/// How long the delivery loop waits after the store failed it: 100 ms, doubling up to 5 s. Wakes do
/// not cut the wait short, so a failing store is not asked again at every commit (#12 item 15).
fn store_retry() -> Backoff {
    Backoff::new(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(5),
        0.2,
    )
    .unwrap_or_else(|_| unreachable!("a constant, valid policy"))
}

/// Sleeps until `t`, or forever when there is none.
async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Delivers one peer's entries: up to `window` at a time, never two of the same group, oldest first.
/// A transient failure pauses the peer for the backoff delay (in-flight deliveries finish); a store
/// failure pauses the scans of the queue ([`store_retry`]).
async fn deliver_loop(core: Arc<Core>, peer_id: String, backoff: Backoff) {
    let waker = core.outbox.waker(&peer_id);
    let p = prefix([peer_id.to_ascii_lowercase()]);
    let window = core.config.push_window.max(1);
    let mut in_flight: BTreeMap<u64, String> = BTreeMap::new();
    // The group of each pending seq seen so far: an entry's object never leaves its group (merges
    // keep the object, a T-94 fallback PUTs its parent location), so entries whose group is in flight
    // are skipped without decoding them again on every pass.
    let mut groups: BTreeMap<u64, String> = BTreeMap::new();
    let mut running: tokio::task::JoinSet<(u64, Vec<u8>, Entry, Outcome)> = tokio::task::JoinSet::new();
    let mut paused_until: Option<tokio::time::Instant> = None;
    let mut failures: u32 = 0;
    let (store_policy, mut store_failures) = (store_retry(), 0u32);
    let mut store_paused_until: Option<tokio::time::Instant> = None;
    let read_failed = format!("outbox read {peer_id}");
    loop {
        if core.is_shutting_down() {
            running.abort_all();
            return;
        }
        let now = tokio::time::Instant::now();
        let paused = paused_until.is_some_and(|t| now < t);
        let store_paused = store_paused_until.is_some_and(|t| now < t);
        let mut page = Vec::new();
        let mut peer = None;
        if !paused && !store_paused && in_flight.len() < window {
            let read = core.peers.get(&peer_id).and_then(|rec| {
                let entries = match &rec {
                    Some(_) => core.store.engine().scan(ENTRIES.space(), &p, None, window * 4)?,
                    None => Vec::new(),
                };
                Ok((rec, entries))
            });
            match read {
                Ok((None, _)) => {
                    // Unregistered meanwhile.
                    running.abort_all();
                    return;
                }
                Ok((Some(rec), entries)) => {
                    store_failures = 0;
                    store_paused_until = None;
                    peer = Some(rec);
                    page = entries;
                }
                Err(e) => {
                    let wait = store_policy.delay(store_failures, random_unit());
                    store_failures = store_failures.saturating_add(1);
                    store_paused_until = Some(now + wait);
                    crate::throttled!(error, &read_failed, peer.id = %peer_id, error = %e, retry_in_ms = wait.as_millis() as u64, "outbox: store read failed");
                }
            }
        }
        if let Some(peer) = peer {
            for (k, v) in page {
                if in_flight.len() >= window {
                    break;
                }
                let seq = u64::from_be_bytes(k[k.len() - 8..].try_into().unwrap_or([0; 8]));
                if in_flight.contains_key(&seq) {
                    continue;
                }
                if groups
                    .get(&seq)
                    .is_some_and(|g| in_flight.values().any(|x| x == g))
                {
                    continue;
                }
                let entry: Entry = match serde_json::from_slice(&v) {
                    Ok(e) => e,
                    Err(e) => {
                        crate::throttled!(error, "outbox: unreadable entry", peer.id = %peer_id, error = %e, "outbox: dropping an unreadable entry");
                        let mut b = crate::store::Batch::new();
                        b.delete(ENTRIES.space(), k.clone());
                        let _ = core.store.apply(b);
                        continue;
                    }
                };
                let g = entry.push.group().to_owned();
                groups.insert(seq, g.clone());
                if in_flight.values().any(|x| *x == g) {
                    continue;
                }
                in_flight.insert(seq, g);
                let (core, peer) = (Arc::clone(&core), Arc::clone(&peer));
                running.spawn(async move {
                    let outcome = deliver(&core, &peer, &entry).await;
                    (seq, k, entry, outcome)
                });
            }
        }
        tokio::select! {
            done = running.join_next(), if !running.is_empty() => {
                // Take every delivery that has finished, and record them in one transaction.
                let mut ready = Vec::new();
                let mut next = done;
                while let Some(Ok(item)) = next {
                    ready.push(item);
                    next = running.try_join_next();
                }
                let mut finished = Vec::new();
                for (seq, k, entry, outcome) in ready {
                    in_flight.remove(&seq);
                    match outcome {
                        Outcome::Delivered => {
                            failures = 0;
                            paused_until = None;
                            groups.remove(&seq);
                            finished.push((seq, entry, None));
                        }
                        Outcome::Dead(reason) => {
                            groups.remove(&seq);
                            tracing::warn!(peer.id = %peer_id, object = %entry.push.object, reason = %reason, "push refused permanently; kept as a dead letter");
                            finished.push((seq, entry, Some(reason)));
                        }
                        Outcome::Replace(push) => replace(&core, &k, &entry, *push),
                        Outcome::Retry(reason) => {
                            failures += 1;
                            record_failure(&core, &k, &reason);
                            let wait = backoff.delay(failures - 1, random_unit());
                            tracing::info!(peer.id = %peer_id, object = %entry.push.object, failures, retry_in_ms = wait.as_millis() as u64, reason = %reason, "push not delivered; will retry");
                            paused_until = Some(tokio::time::Instant::now() + wait);
                        }
                    }
                }
                finish(&core, &peer_id, finished);
            }
            () = waker.notified() => {}
            () = sleep_until(paused_until) => {}
            () = sleep_until(store_paused_until) => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(5)), if running.is_empty() => {}
            () = core.shutdown_signal() => {
                running.abort_all();
                return;
            }
        }
    }
}

/// Replaces an entry's push (the T-94 fallback) unless a newer change replaced it meanwhile.
fn replace(core: &Core, k: &[u8], delivered: &Entry, push: Push) {
    let r = core.store.transact(|tx| {
        if let Some(mut current) = ENTRIES.get(tx, k)? {
            if current.rev == delivered.rev {
                current.push = push;
                current.rev += 1;
                ENTRIES.put(tx, k.to_vec(), &current)?;
            }
        }
        Ok::<_, StoreError>(())
    });
    if let Err(e) = r {
        crate::throttled!(error, "outbox: store write failed", error = %e, "outbox: store write failed");
    }
}

/// Counts a failed attempt on an entry.
fn record_failure(core: &Core, k: &[u8], reason: &str) {
    let r = core.store.transact(|tx| {
        if let Some(mut current) = ENTRIES.get(tx, k)? {
            current.attempts += 1;
            current.last_error = Some(reason.to_owned());
            ENTRIES.put(tx, k.to_vec(), &current)?;
        }
        Ok::<_, StoreError>(())
    });
    if let Err(e) = r {
        crate::throttled!(error, "outbox: store write failed", error = %e, "outbox: store write failed");
    }
}

/// Removes delivered (or dead) entries, each unless it was replaced while in flight, in one transaction.
fn finish(core: &Core, peer: &str, done: Vec<(u64, Entry, Option<String>)>) {
    if done.is_empty() {
        return;
    }
    let r = core.store.transact(|tx| {
        for (seq, delivered, dead) in &done {
            let k = seq_key(peer, *seq);
            let Some(current) = ENTRIES.get(tx, &k)? else {
                continue;
            };
            if current.rev != delivered.rev {
                // A newer state arrived while this one was in flight: deliver that too.
                continue;
            }
            ENTRIES.delete(tx, k.clone());
            PENDING.delete(tx, obj_key(peer, &current.push.object));
            if let Some(reason) = dead {
                let mut d = current.clone();
                // The refused attempt counts too: the dead letter says how many were made.
                d.attempts += 1;
                d.last_error = Some(reason.clone());
                DEAD.put(tx, k.clone(), &d)?;
            }
        }
        Ok::<_, StoreError>(())
    });
    if let Err(e) = r {
        crate::throttled!(error, "outbox: store write failed", error = %e, "outbox: store write failed");
    }
}

async fn deliver(core: &Core, peer: &crate::registration::peers::PeerRecord, entry: &Entry) -> Outcome {
    let push = &entry.push;
    let Some(base) = peer.endpoint(&push.module, &push.role) else {
        return Outcome::Dead(format!("the peer has no {} {} endpoint", push.module, push.role));
    };
    let segments: Vec<&str> = push.path.iter().map(String::as_str).collect();
    let query: Vec<(&str, &str)> = push.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let url = with_query(&join_url(base, &segments), &query);
    let (method, body): (Method, Option<serde_json::Value>) = match &push.op {
        PushOp::Put { body } => (Method::PUT, Some(body.clone())),
        PushOp::Patch { body } => (Method::PATCH, Some(serde_json::Value::Object(body.clone()))),
        PushOp::Delete => (Method::DELETE, None),
        PushOp::Post { body } => (Method::POST, Some(body.clone())),
    };
    // Through call_peer: routing to `push.to` (or the peer's first counterpart party), and the
    // peer's "accepts our token" state follows the outcome.
    let result = core
        .call_peer(
            peer,
            Call {
                method,
                url: &url,
                body: body.as_ref(),
                timeout: None,
            },
            push.to.clone(),
            Some(&new_id()),
        )
        .await;
    match result {
        Ok(_) => Outcome::Delivered,
        Err(e) => classify(core, push, &e),
    }
}

fn classify(core: &Core, push: &Push, e: &ClientError) -> Outcome {
    let unknown = e.http_status() == Some(404);
    if unknown && matches!(push.op, PushOp::Delete) {
        // Already gone at the peer.
        return Outcome::Delivered;
    }
    if unknown && matches!(push.op, PushOp::Patch { .. } | PushOp::Put { .. }) {
        let parent_unknown = matches!(push.op, PushOp::Put { .. })
            || e.ocpi_status() == Some(roaming_types::StatusCode::UnknownLocation);
        if let Some(f) = core.outbox.fallback.get() {
            match f.full_put(push, parent_unknown) {
                Ok(Some(full)) if full != *push => return Outcome::Replace(Box::new(full)),
                Ok(_) => {}
                Err(err) => return Outcome::Retry(err.to_string()),
            }
        }
        return Outcome::Dead(e.to_string());
    }
    // The peer does not accept our token (401, or 403 as some send): keep the entry and back off
    // like for an outage; Core::call_peer has marked the peer unauthorized (#12 item 10).
    if e.is_transient() || e.is_auth_refused() {
        Outcome::Retry(e.to_string())
    } else {
        Outcome::Dead(e.to_string())
    }
}
