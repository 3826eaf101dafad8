//! The durable per-peer outbox that delivers pushes (PUT, PATCH, DELETE, POST) to peers.
//!
//! OCPI advises against queueing failed pushes (T-96) because a stale update could overwrite newer
//! data. This outbox keeps that risk away: it holds **one pending entry per object and peer** — a later
//! change replaces the pending one (a PATCH is merged into a pending PUT or PATCH, newest field values
//! win), so only the newest state is ever delivered, and receivers ignore updates older than what they
//! hold. Entries are delivered one at a time per peer in the order they were first queued, retried with
//! exponential backoff while the peer is down or refuses our token (401/403: the peer is then marked
//! unauthorized, see `Core::observe_call`), and survive restarts (they are written in the same
//! atomic batch as the change that caused them). CDR POSTs are immutable and retried until
//! acknowledged.
//!
//! When a PATCH (or a child PUT) is answered "unknown object" (404, T-94), the entry is replaced by a
//! full PUT obtained from the role's [`Fallback`] and delivered at once.
//!
//! Keyspaces: `outbox/<peer>\0<seq>` → entry, `outbox_obj/<peer>\0<object>` → seq,
//! `outbox_dead/<peer>\0<seq>` → entries that failed permanently (shown in the operator API).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use http::Method;
use roaming_types::DateTime;
use roaming_types::ids::PartyRef;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::client::backoff::{Backoff, random_unit};
use crate::client::{Call, ClientError, join_url, with_query};
use crate::core::{Core, PeerEvent};
use crate::headers::new_id;
use crate::store::{Space, StoreError, Tx, key, prefix};

/// Pending entries.
pub const OUTBOX: Space = Space("outbox");
/// Object → pending seq.
pub const OUTBOX_OBJ: Space = Space("outbox_obj");
/// Entries that failed permanently.
pub const OUTBOX_DEAD: Space = Space("outbox_dead");
const SEQ_KEY: &[u8] = b"outbox_seq";

/// What to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "UPPERCASE")]
pub enum PushOp {
    /// PUT the full object.
    Put {
        /// The object.
        body: serde_json::Value,
    },
    /// PATCH some fields (with `last_updated`).
    Patch {
        /// The fields.
        body: serde_json::Map<String, serde_json::Value>,
    },
    /// DELETE the object.
    Delete,
    /// POST a new object (CDRs): never merged with anything.
    Post {
        /// The object.
        body: serde_json::Value,
    },
}

/// One push to one peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// What the push is about; one pending entry per (peer, object). E.g. `locations/nl/cso/loc1/evse1`.
    pub object: String,
    /// The peer module to call.
    pub module: ModuleId,
    /// The peer interface to call.
    pub role: InterfaceRole,
    /// Path segments after the module URL (`["NL", "CSO", "LOC1", "EVSE1"]`).
    pub path: Vec<String>,
    /// The call.
    pub op: PushOp,
    /// The receiving party (routing headers); the peer's first counterpart party when `None`.
    pub to: Option<PartyRef>,
    /// Query parameters (e.g. the Tokens module's `type`, TOK-11).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<(String, String)>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The push.
    pub push: Push,
    /// Bumped when a later change replaces the push.
    pub rev: u64,
    /// When first queued.
    pub queued_at: DateTime,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Gives the full object to PUT when a peer does not know the object a push addressed (T-94).
pub trait Fallback: Send + Sync + std::fmt::Debug + 'static {
    /// The PUT that recreates `push`'s object at the peer (for a child object, its parent when the
    /// parent is unknown, `parent_unknown`), or `None`.
    fn full_put(&self, push: &Push, parent_unknown: bool) -> Result<Option<Push>, StoreError>;
}

/// Outbox state shared through [`Core`].
#[derive(Debug, Default)]
pub struct Outbox {
    wakers: Mutex<BTreeMap<String, Arc<Notify>>>,
    fallback: OnceLock<Arc<dyn Fallback>>,
}

/// What the operator sees of one peer's outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxStatus {
    /// The peer.
    pub peer: String,
    /// Entries waiting.
    pub pending: u64,
    /// The oldest waiting entry.
    pub oldest: Option<Entry>,
    /// Entries that failed permanently.
    pub dead: Vec<Entry>,
}

fn seq_key(peer: &str, seq: u64) -> Vec<u8> {
    let mut k = prefix([peer.to_ascii_lowercase()]);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn obj_key(peer: &str, object: &str) -> Vec<u8> {
    key([peer.to_ascii_lowercase(), object.to_owned()])
}

/// Merges a later PATCH into a pending PUT or PATCH body: newer field values win, except
/// `charging_periods`, which a Sessions PATCH **appends** (SES-02, §7.1), so the merged body carries
/// the periods of both.
fn merge_patch(
    into: &mut serde_json::Map<String, serde_json::Value>,
    patch: serde_json::Map<String, serde_json::Value>,
) {
    for (k, v) in patch {
        match (k.as_str(), into.get_mut(&k), v) {
            ("charging_periods", Some(serde_json::Value::Array(have)), serde_json::Value::Array(more)) => {
                have.extend(more);
            }
            (_, _, v) => {
                into.insert(k, v);
            }
        }
    }
}

impl Outbox {
    /// Sets the role's fallback (once).
    pub fn set_fallback(&self, f: Arc<dyn Fallback>) {
        let _ = self.fallback.set(f);
    }

    fn waker(&self, peer: &str) -> Arc<Notify> {
        let mut w = self
            .wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(w.entry(peer.to_ascii_lowercase()).or_default())
    }

    /// Wakes the peer's delivery task (call after the batch with the entries is applied).
    pub fn wake(&self, peer: &str) {
        self.waker(peer).notify_one();
    }

    /// Adds a push to the batch of `tx`, merging it with a pending push for the same object.
    pub fn enqueue(tx: &mut Tx<'_>, peer: &str, push: Push) -> Result<(), StoreError> {
        let ok = obj_key(peer, &push.object);
        let pending: Option<u64> = tx.get_json(OUTBOX_OBJ, &ok)?;
        if let Some(seq) = pending {
            if let Some(mut entry) = tx.get_json::<Entry>(OUTBOX, &seq_key(peer, seq))? {
                let merged = match (entry.push.op.clone(), push.op.clone()) {
                    (PushOp::Put { mut body }, PushOp::Patch { body: patch }) => {
                        if let Some(obj) = body.as_object_mut() {
                            merge_patch(obj, patch);
                        }
                        PushOp::Put { body }
                    }
                    (PushOp::Patch { mut body }, PushOp::Patch { body: patch }) => {
                        merge_patch(&mut body, patch);
                        PushOp::Patch { body }
                    }
                    (_, new) => new,
                };
                entry.push = Push { op: merged, ..push };
                entry.rev += 1;
                tx.put_json(OUTBOX, seq_key(peer, seq), &entry)?;
                return Ok(());
            }
        }
        // Sequence numbers come from one counter in the same batch (the store's write lock orders them).
        let seq: u64 = tx.get_json::<u64>(Space::META, SEQ_KEY)?.unwrap_or(0) + 1;
        tx.put_json(Space::META, SEQ_KEY.to_vec(), &seq)?;
        let entry = Entry {
            push,
            rev: 0,
            queued_at: DateTime::now(),
            attempts: 0,
            last_error: None,
        };
        tx.put_json(OUTBOX, seq_key(peer, seq), &entry)?;
        tx.put_json(OUTBOX_OBJ, ok, &seq)?;
        Ok(())
    }

    /// Drops everything queued for a peer (it unregistered).
    pub fn clear(tx: &mut Tx<'_>, peer: &str) -> Result<(), StoreError> {
        let p = prefix([peer.to_ascii_lowercase()]);
        for space in [OUTBOX, OUTBOX_OBJ] {
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page = tx.scan(space, &p, after.as_deref(), 1000)?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                for (k, _) in page {
                    tx.delete(space, k);
                }
            }
        }
        Ok(())
    }

    /// Pending count, oldest entry and dead letters of every peer with any.
    pub fn status(core: &Core) -> Result<Vec<OutboxStatus>, StoreError> {
        let mut out = Vec::new();
        for peer in core.peers.list()? {
            let p = prefix([peer.id.to_ascii_lowercase()]);
            let end = crate::store::prefix_end(&p);
            let pending = core.store.engine().count_range(OUTBOX, &p, end.as_deref())?;
            let oldest = core
                .store
                .engine()
                .scan(OUTBOX, &p, None, 1)?
                .into_iter()
                .next()
                .and_then(|(_, v)| serde_json::from_slice(&v).ok());
            let dead = core.store.list_json::<Entry>(OUTBOX_DEAD, &p)?;
            out.push(OutboxStatus {
                peer: peer.id.clone(),
                pending,
                oldest,
                dead,
            });
        }
        Ok(out)
    }
}

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
    Replace(Push),
    Retry(String),
    Dead(String),
}

/// The group of an object: pushes of one group are never in flight together, so that a location and
/// its EVSEs and connectors reach the peer in the order they were queued (`locations/<id>/…` →
/// `locations/<id>`), and a session's CDR (`sessions/<id>/cdrs/<cdr>`) after the session's updates.
fn group(object: &str) -> &str {
    match object.match_indices('/').nth(1) {
        Some((i, _)) => &object[..i],
        None => object,
    }
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
                    Some(_) => core.store.engine().scan(OUTBOX, &p, None, window * 4)?,
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
                        b.delete(OUTBOX, k.clone());
                        let _ = core.store.apply(b);
                        continue;
                    }
                };
                let g = group(&entry.push.object).to_owned();
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
                        Outcome::Replace(push) => replace(&core, &k, &entry, push),
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
        if let Some(mut current) = tx.get_json::<Entry>(OUTBOX, k)? {
            if current.rev == delivered.rev {
                current.push = push;
                current.rev += 1;
                tx.put_json(OUTBOX, k.to_vec(), &current)?;
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
        if let Some(mut current) = tx.get_json::<Entry>(OUTBOX, k)? {
            current.attempts += 1;
            current.last_error = Some(reason.to_owned());
            tx.put_json(OUTBOX, k.to_vec(), &current)?;
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
            let Some(current) = tx.get_json::<Entry>(OUTBOX, &k)? else {
                continue;
            };
            if current.rev != delivered.rev {
                // A newer state arrived while this one was in flight: deliver that too.
                continue;
            }
            tx.delete(OUTBOX, k.clone());
            tx.delete(OUTBOX_OBJ, obj_key(peer, &current.push.object));
            if let Some(reason) = dead {
                let mut d = current.clone();
                d.last_error = Some(reason.clone());
                tx.put_json(OUTBOX_DEAD, k.clone(), &d)?;
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
                Ok(Some(full)) if full != *push => return Outcome::Replace(full),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::StoreHandle;

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
        store.list_json(OUTBOX, &prefix([peer])).unwrap()
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
}
