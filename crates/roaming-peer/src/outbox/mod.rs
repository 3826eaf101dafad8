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
//! ## One push API
//! A role describes what it pushes with a small address type implementing [`Address`] (a CSO
//! location/EVSE/connector, a session, a CDR, a token…): the object key (one pending entry per peer and
//! object), the peer module and interface, the URL path and query, the **group** (pushes of one group
//! are never in flight together: a location with its EVSEs and connectors, a session with its CDR) and
//! the **merge rule** ([`Address::APPENDED`]: fields whose arrays a later PATCH appends to instead of
//! replacing, such as a session's `charging_periods`, SES-02). Then, inside the transaction that makes
//! the change:
//! - [`Outbox::push_to_receivers`] queues the push to every peer that offers the address's module and
//!   interface (locations, tariffs, tokens), and
//! - [`Outbox::push_to_owner`] queues it to the peer that hosts the object's owner party in the
//!   counterpart role, addressed to that party (sessions, CDRs, CDR checks, active profiles);
//!   [`Outbox::owner_peer`] says beforehand whether there is one.
//!
//! Both return the peer ids to pass to `Core::commit` (which wakes their delivery tasks). The group and
//! the merge rule travel in the [`Push`] record itself, so the outbox knows nothing of modules: entries
//! queued before the record carried them are read with [`legacy_rules`].
//!
//! Keyspaces (declared in [`crate::store::spaces`]): `outbox/<peer>\0<seq>` → entry,
//! `outbox_obj/<peer>\0<object>` → seq, `outbox_dead/<peer>\0<seq>` → entries that failed permanently
//! (shown in the operator API).

mod delivery;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use roaming_types::DateTime;
use roaming_types::ids::PartyRef;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

pub use delivery::run;

use crate::core::Core;
use crate::registration::peers::PeerRecord;
use crate::store::{Keyspace, Read, StoreError, Tx, key, prefix, spaces};

/// Pending entries: `<peer>\0<seq>` → [`Entry`].
const ENTRIES: Keyspace<Entry> = Keyspace::of(spaces::OUTBOX);
/// `<peer>\0<object>` → the seq of the object's pending entry.
const PENDING: Keyspace<u64> = Keyspace::of(spaces::OUTBOX_OBJ);
/// Entries that failed permanently, by their seq.
const DEAD: Keyspace<Entry> = Keyspace::of(spaces::OUTBOX_DEAD);
/// The last seq given out, under [`SEQ_KEY`] in `meta`.
const SEQ: Keyspace<u64> = Keyspace::of(spaces::META);
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

impl PushOp {
    /// A PUT of `object`.
    pub fn put<T: Serialize + ?Sized>(object: &T) -> Result<Self, serde_json::Error> {
        Ok(Self::Put {
            body: serde_json::to_value(object)?,
        })
    }

    /// A POST of `object`.
    pub fn post<T: Serialize + ?Sized>(object: &T) -> Result<Self, serde_json::Error> {
        Ok(Self::Post {
            body: serde_json::to_value(object)?,
        })
    }
}

/// What a push addresses: one object at the peer. Implemented by a small address type per pushed
/// object in the role that owns it (e.g. a CSO `LocationAddress { party, id, evse, connector }`).
pub trait Address {
    /// Fields whose arrays a PATCH of this object **appends** to instead of replacing (a session's
    /// `charging_periods`, SES-02 §7.1): when a PATCH is merged into a pending PUT or PATCH, these
    /// arrays are concatenated; every other field takes the newer value.
    const APPENDED: &'static [&'static str] = &[];

    /// The object key: one pending entry per (peer, object), so a later push of the same key replaces
    /// or merges into the pending one. Lower-case, `/`-separated (`locations/<id>/<evse>`).
    fn object(&self) -> String;

    /// The outbox group: pushes of one group are never in flight together, so they reach the peer in
    /// the order they were queued (a location and its EVSEs and connectors: `locations/<id>`; a session
    /// and its CDR: `sessions/<id>`). Default: the object alone.
    ///
    /// For objects pushed before #13, return what [`legacy_rules`] gives for their object keys (the
    /// first two `/`-separated parts), so that entries queued before an upgrade and after it order
    /// together.
    fn group(&self) -> String {
        self.object()
    }

    /// The peer module to call.
    fn module(&self) -> ModuleId;

    /// The peer interface to call (default: its Receiver).
    fn role(&self) -> InterfaceRole {
        InterfaceRole::Receiver
    }

    /// The URL path segments after the module URL (`["NL", "CSO", "LOC1", "EVSE1"]`).
    fn path(&self) -> Vec<String>;

    /// Query parameters (e.g. the Tokens module's `type`, TOK-11).
    fn query(&self) -> Vec<(String, String)> {
        Vec::new()
    }
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
    /// The outbox group ([`Address::group`]). `None` in entries queued before pushes carried it:
    /// then the group and the merge rule are those of [`legacy_rules`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The fields a merged PATCH appends to ([`Address::APPENDED`]); only read when `group` is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appended: Vec<String>,
}

impl Push {
    /// The push of `op` on `address`, to the peer's first counterpart party (`to: None`).
    pub fn new<A: Address>(address: &A, op: PushOp) -> Self {
        Self {
            object: address.object(),
            module: address.module(),
            role: address.role(),
            path: address.path(),
            op,
            to: None,
            query: address.query(),
            group: Some(address.group()),
            appended: A::APPENDED.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    /// The outbox group: pushes of one group are never in flight together.
    pub fn group(&self) -> &str {
        match &self.group {
            Some(g) => g,
            None => legacy_rules(&self.object).0,
        }
    }

    /// Whether a PATCH merged into this object's pending push appends to `field` instead of replacing it.
    pub fn appends(&self, field: &str) -> bool {
        match &self.group {
            Some(_) => self.appended.iter().any(|f| f == field),
            None => legacy_rules(&self.object).1.contains(&field),
        }
    }
}

/// The group and the merge rule of a push queued before the [`Push`] record carried them (no `group`
/// field), as the outbox derived them then: the group is the object key up to its second `/`
/// (`locations/<id>/…` → `locations/<id>`, `sessions/<id>/cdrs/<cdr>` → `sessions/<id>`,
/// `tokens/<type>/<uid>` → `tokens/<type>`), and a PATCH appends to `charging_periods`, whatever the
/// object. Kept for the entries on disk from before, and for pushes still built field by field.
pub fn legacy_rules(object: &str) -> (&str, &'static [&'static str]) {
    let group = match object.match_indices('/').nth(1) {
        Some((i, _)) => &object[..i],
        None => object,
    };
    (group, &["charging_periods"])
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
    /// parent is unknown, `parent_unknown`), or `None`. Keep `push`'s group (a parent's push is in its
    /// children's group) and its `to`.
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

/// Merges a later PATCH into a pending PUT or PATCH body: newer field values win, except the fields
/// the push appends to ([`Push::appends`]), whose arrays are concatenated so that the merged body
/// carries the elements of both.
fn merge_patch(
    into: &mut serde_json::Map<String, serde_json::Value>,
    patch: serde_json::Map<String, serde_json::Value>,
    appends: impl Fn(&str) -> bool,
) {
    for (k, v) in patch {
        match (into.get_mut(&k), v) {
            (Some(serde_json::Value::Array(have)), serde_json::Value::Array(more)) if appends(&k) => {
                have.extend(more);
            }
            (_, v) => {
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

    /// Queues `op` on `address` to every peer that offers the address's module and interface, each to
    /// its first counterpart party. Returns the peers to wake once the transaction is applied.
    pub fn push_to_receivers<A: Address>(
        core: &Core,
        tx: &mut Tx<'_>,
        address: &A,
        op: PushOp,
    ) -> Result<Vec<String>, StoreError> {
        let push = Push::new(address, op);
        let peers: Vec<String> = core
            .peers
            .all()?
            .iter()
            .filter(|p| p.endpoint(&push.module, &push.role).is_some())
            .map(|p| p.id.clone())
            .collect();
        for p in &peers {
            Self::enqueue(tx, p, push.clone())?;
        }
        Ok(peers)
    }

    /// Queues `op` on `address` to the peer that hosts `owner` in the counterpart role (the CSP of a
    /// session, the CSO of a CDR), addressed to `owner`, when that peer offers the address's module and
    /// interface ([`owner_peer`](Self::owner_peer)). Returns that peer to wake once the transaction is
    /// applied, or nothing.
    pub fn push_to_owner<A: Address>(
        core: &Core,
        tx: &mut Tx<'_>,
        owner: &PartyRef,
        address: &A,
        op: PushOp,
    ) -> Result<Vec<String>, StoreError> {
        let Some(peer) = Self::owner_peer(core, owner, address)? else {
            return Ok(Vec::new());
        };
        let mut push = Push::new(address, op);
        push.to = Some(owner.clone());
        Self::enqueue(tx, &peer.id, push)?;
        Ok(vec![peer.id.clone()])
    }

    /// The peer that [`push_to_owner`](Self::push_to_owner) would queue to: the one hosting `owner` in
    /// the counterpart role, if it offers the address's module and interface.
    pub fn owner_peer<A: Address>(
        core: &Core,
        owner: &PartyRef,
        address: &A,
    ) -> Result<Option<Arc<PeerRecord>>, StoreError> {
        let (module, role) = (address.module(), address.role());
        Ok(core
            .peers
            .hosting(owner, &core.counterpart_role())?
            .filter(|p| p.endpoint(&module, &role).is_some()))
    }

    /// Adds a push to the batch of `tx`, merging it with a pending push for the same object (by the
    /// merge rule of the new push).
    pub fn enqueue(tx: &mut Tx<'_>, peer: &str, push: Push) -> Result<(), StoreError> {
        let ok = obj_key(peer, &push.object);
        if let Some(seq) = PENDING.get(tx, &ok)? {
            if let Some(mut entry) = ENTRIES.get(tx, &seq_key(peer, seq))? {
                let appends = |f: &str| push.appends(f);
                let merged = match (entry.push.op.clone(), push.op.clone()) {
                    (PushOp::Put { mut body }, PushOp::Patch { body: patch }) => {
                        if let Some(obj) = body.as_object_mut() {
                            merge_patch(obj, patch, appends);
                        }
                        PushOp::Put { body }
                    }
                    (PushOp::Patch { mut body }, PushOp::Patch { body: patch }) => {
                        merge_patch(&mut body, patch, appends);
                        PushOp::Patch { body }
                    }
                    (_, new) => new,
                };
                entry.push = Push { op: merged, ..push };
                entry.rev += 1;
                ENTRIES.put(tx, seq_key(peer, seq), &entry)?;
                return Ok(());
            }
        }
        // Sequence numbers come from one counter in the same batch (the store's write lock orders them).
        let seq: u64 = SEQ.get(tx, SEQ_KEY)?.unwrap_or(0) + 1;
        SEQ.put(tx, SEQ_KEY.to_vec(), &seq)?;
        let entry = Entry {
            push,
            rev: 0,
            queued_at: DateTime::now(),
            attempts: 0,
            last_error: None,
        };
        ENTRIES.put(tx, seq_key(peer, seq), &entry)?;
        PENDING.put(tx, ok, &seq)?;
        Ok(())
    }

    /// Drops everything queued for a peer (it unregistered).
    pub fn clear(tx: &mut Tx<'_>, peer: &str) -> Result<(), StoreError> {
        let p = prefix([peer.to_ascii_lowercase()]);
        for space in [ENTRIES.space(), PENDING.space()] {
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
            let pending = core.store.count_range(ENTRIES.space(), &p, end.as_deref())?;
            let oldest = core
                .store
                .scan(ENTRIES.space(), &p, None, 1)?
                .into_iter()
                .next()
                .and_then(|(_, v)| serde_json::from_slice(&v).ok());
            let dead = DEAD.all(&core.store, &p)?.into_iter().map(|(_, e)| e).collect();
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

#[cfg(test)]
mod tests;
