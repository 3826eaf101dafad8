//! The embedded store behind a narrow interface (style §11).
//!
//! The [`Store`] trait is deliberately byte-oriented and small: get, ordered prefix scans, counts, an
//! atomic batch and a durability barrier. Everything typed (peers, locations, sessions, indexes by
//! `last_updated`, the outbox) is built on it by [`StoreHandle`] and the role crates, so a server
//! database can replace sled later by implementing five methods and passing the one conformance suite
//! (`conformance`, feature `test-support`) that the sled and in-memory implementations both pass.
//!
//! ## Typed layer
//! Domain code reads and writes typed values, never bytes:
//! - [`Read`] is the one read interface of the [`StoreHandle`] (committed data) and of a [`Tx`] (its own
//!   writes first): every typed read is one method taking `&impl Read`.
//! - [`Keyspace<T>`] is a keyspace of JSON values (`get` / `put` / `delete` / `scan` / `all`).
//! - [`collection::Collection<T>`] is an indexed collection of OCPI objects for paginated GETs, typed
//!   by the object it holds (`last_updated` comes from [`roaming_types::Stamped`]).
//! - A value that does not decode is [`StoreError::Corrupt`] naming its keyspace, reported once, in
//!   the layer.
//! - Keyspace names are declared in one table per crate: [`spaces`] for `roaming-peer`, `keyspaces.rs`
//!   in each role crate, each checked by a unit test ([`spaces::check_table`]).
//!
//! The untyped JSON helpers (`get_json`, `put_json`, `list_json`) predate the typed layer and are kept
//! only until the role crates have moved to it (marked *transitional* below).
//!
//! ## Keys
//! Every record lives in a named keyspace ([`Space`]); keys are byte strings, usually built with
//! [`key`] from lower-case id parts separated by `0x00` (ids are printable ASCII, so the separator
//! never occurs inside a part) and big-endian timestamps ([`ts_key`]) so that byte order is time order.
//!
//! ## Atomicity and durability
//! A [`Batch`] is applied atomically (all or nothing, also across keyspaces). Read-modify-write
//! sequences go through [`StoreHandle::transact`], which serialises writers with one lock, so a write
//! never works from a stale read. [`Store::durable`] resolves once everything applied before the call
//! is on disk (sled: flush + `fdatasync` in one group-commit thread shared by all waiters); handlers
//! await it before acknowledging to a peer.

pub mod collection;
mod keyspace;
pub mod memory;
mod read;
pub mod sled_store;
pub mod spaces;

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;
#[cfg(any(test, feature = "test-support"))]
use serde::de::DeserializeOwned;

pub use keyspace::Keyspace;
pub use memory::MemoryStore;
pub use read::Read;
pub use sled_store::SledStore;

/// A keyspace. The names are part of the on-disk format: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Space(pub &'static str);

impl Space {
    /// Registered peers, by peer id (declared in [`spaces::PEERS`]).
    pub const PEERS: Space = spaces::PEERS;
    /// Token hash → who holds it (declared in [`spaces::TOKENS`]).
    pub const TOKENS: Space = spaces::TOKENS;
    /// Endpoint metadata (declared in [`spaces::META`]).
    pub const META: Space = spaces::META;
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A store failure. Always an infrastructure problem (I/O, corruption); mapped to OCPI 3000 once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed.
    #[error("storage engine: {0}")]
    Engine(String),
    /// A stored value could not be decoded.
    #[error("corrupt record in {space}: {message}")]
    Corrupt {
        /// The keyspace.
        space: Space,
        /// What failed.
        message: String,
    },
}

/// One write of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace a value.
    Put(Space, Vec<u8>, Arc<[u8]>),
    /// Remove a value (no-op when absent).
    Delete(Space, Vec<u8>),
}

/// Writes applied atomically by [`Store::apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put.
    pub fn put(&mut self, space: Space, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(Op::Put(space, key.into(), Arc::from(value.into())));
        self
    }

    /// Adds a put of a JSON-encoded value.
    pub fn put_json<T: Serialize>(
        &mut self,
        space: Space,
        key: impl Into<Vec<u8>>,
        value: &T,
    ) -> Result<&mut Self, StoreError> {
        let bytes = keyspace::encode(space, value)?;
        Ok(self.put(space, key, bytes))
    }

    /// Adds a delete.
    pub fn delete(&mut self, space: Space, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(Op::Delete(space, key.into()));
        self
    }

    /// Appends another batch.
    pub fn extend(&mut self, other: Batch) -> &mut Self {
        self.ops.extend(other.ops);
        self
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The writes, in order (a later write to the same key wins).
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Consumes the batch.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }
}

/// A key/value pair from a scan.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The storage engine interface.
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Reads one value.
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Entries whose key starts with `prefix`, in key order, strictly after `after` when given, at most
    /// `limit` of them.
    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// Entries with `start <= key < end` (no upper bound when `end` is `None`), in key order or
    /// reversed, at most `limit`.
    fn range(
        &self,
        space: Space,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// The number of keys with `start <= key < end` (keys only; values are not read).
    fn count_range(&self, space: Space, start: &[u8], end: Option<&[u8]>) -> Result<u64, StoreError>;

    /// Applies a batch atomically.
    fn apply(&self, batch: Batch) -> Result<(), StoreError>;

    /// Resolves when everything applied before this call is durable on disk.
    fn durable(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Approximate bytes used on disk (0 for memory).
    fn size_on_disk(&self) -> u64;

    /// Why the store can no longer be used, once it cannot (#12 item 14): an I/O error that the
    /// engine keeps until it is reopened (sled: any I/O error, e.g. a full disk), a failed `fsync`.
    /// `None` while it works; an operation that merely failed does not count.
    fn failure(&self) -> Option<String> {
        None
    }
}

/// Builds a key from parts separated by `0x00`.
pub fn key<I, P>(parts: I) -> Vec<u8>
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(p.as_ref());
    }
    out
}

/// What happened to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// New object.
    Created,
    /// Replaced or changed.
    Updated,
    /// Older than what is stored (by `last_updated`): ignored.
    Stale,
    /// The same as what is stored: nothing to do.
    Unchanged,
}

impl Write {
    /// Whether the store changed.
    pub fn changed(self) -> bool {
        matches!(self, Self::Created | Self::Updated)
    }
}

/// A key prefix: the parts followed by the separator, so that `a` does not match `ab`.
pub fn prefix<I, P>(parts: I) -> Vec<u8>
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut out = key(parts);
    out.push(0);
    out
}

/// The exclusive upper bound of all keys starting with `prefix`; `None` when there is none (a prefix
/// of only `0xff` bytes).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Milliseconds as 8 big-endian bytes, shifted so that byte order is numeric order for negatives too.
pub fn ts_key(millis: i64) -> [u8; 8] {
    ((millis as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`ts_key`].
pub fn ts_from_key(bytes: &[u8]) -> Option<i64> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some((u64::from_be_bytes(arr) ^ (1 << 63)) as i64)
}

/// Store operations in progress and when one last made progress, so that readiness can tell a store
/// that stopped answering (a frozen disk) from a busy one: operations are in progress and none has
/// started from idle or finished for a while ([`StoreHandle::stalled_for`]). Two atomic updates and a
/// clock read per operation.
#[derive(Debug)]
struct OpGauge {
    /// The store's failure once an operation ran into it ([`Store::failure`]).
    failed: tokio::sync::watch::Sender<Option<String>>,
    in_flight: std::sync::atomic::AtomicU64,
    /// Milliseconds since `base` of the last start from idle or finish.
    progress_ms: std::sync::atomic::AtomicU64,
    base: tokio::time::Instant,
}

impl OpGauge {
    fn new() -> Self {
        Self {
            failed: tokio::sync::watch::Sender::new(None),
            in_flight: std::sync::atomic::AtomicU64::new(0),
            progress_ms: std::sync::atomic::AtomicU64::new(0),
            base: tokio::time::Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(
            tokio::time::Instant::now()
                .saturating_duration_since(self.base)
                .as_millis(),
        )
        .unwrap_or(u64::MAX)
    }

    fn enter(&self) -> OpGuard<'_> {
        use std::sync::atomic::Ordering;
        if self.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.progress_ms.store(self.now_ms(), Ordering::SeqCst);
        }
        OpGuard(self)
    }

    fn stalled_for(&self) -> Option<(u64, std::time::Duration)> {
        use std::sync::atomic::Ordering;
        let n = self.in_flight.load(Ordering::SeqCst);
        if n == 0 {
            return None;
        }
        let since = self
            .now_ms()
            .saturating_sub(self.progress_ms.load(Ordering::SeqCst));
        Some((n, std::time::Duration::from_millis(since)))
    }
}

struct OpGuard<'a>(&'a OpGauge);

impl Drop for OpGuard<'_> {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering;
        self.0.progress_ms.store(self.0.now_ms(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The engine as every caller sees it: each operation counted in the [`OpGauge`].
#[derive(Debug)]
struct Gauged {
    inner: Arc<dyn Store>,
    gauge: Arc<OpGauge>,
}

impl Store for Gauged {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let _op = self.gauge.enter();
        self.noticed(self.inner.get(space, key))
    }

    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let _op = self.gauge.enter();
        self.noticed(self.inner.scan(space, prefix, after, limit))
    }

    fn range(
        &self,
        space: Space,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let _op = self.gauge.enter();
        self.noticed(self.inner.range(space, start, end, reverse, limit))
    }

    fn count_range(&self, space: Space, start: &[u8], end: Option<&[u8]>) -> Result<u64, StoreError> {
        let _op = self.gauge.enter();
        self.noticed(self.inner.count_range(space, start, end))
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let _op = self.gauge.enter();
        self.noticed(self.inner.apply(batch))
    }

    fn durable(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let _op = self.gauge.enter();
            let result = self.inner.durable().await;
            self.noticed(result)
        })
    }

    fn size_on_disk(&self) -> u64 {
        self.inner.size_on_disk()
    }

    fn failure(&self) -> Option<String> {
        self.inner.failure()
    }
}

impl Gauged {
    /// After a failed operation: whether the store as a whole failed, announced once.
    fn noticed<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_err() {
            if let Some(reason) = self.inner.failure() {
                self.gauge.failed.send_if_modified(|f| {
                    let first = f.is_none();
                    if first {
                        *f = Some(reason);
                    }
                    first
                });
            }
        }
        result
    }
}

/// A shared store with typed helpers and serialised read-modify-write.
#[derive(Clone)]
pub struct StoreHandle {
    inner: Arc<dyn Store>,
    write_lock: Arc<std::sync::Mutex<()>>,
    gauge: Arc<OpGauge>,
}

impl fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreHandle").field("store", &self.inner).finish()
    }
}

/// A transaction's own writes by (keyspace, key); `None` is a delete.
type Overlay = std::collections::BTreeMap<(Space, Vec<u8>), Option<Arc<[u8]>>>;

/// A read-modify-write inside [`StoreHandle::transact`]: writes are collected in a batch that is
/// applied atomically when the closure returns `Ok`. `get` sees the transaction's own writes
/// (read-your-writes); `scan` sees committed data only.
#[derive(Debug)]
pub struct Tx<'a> {
    store: &'a dyn Store,
    batch: Batch,
    /// The transaction's own writes by key (`None` = deleted), for read-your-writes.
    overlay: Overlay,
}

impl Tx<'_> {
    /// Reads one value (the transaction's own writes first).
    pub fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.overlay.get(&(space, key.to_vec())) {
            Some(v) => Ok(v.as_deref().map(<[u8]>::to_vec)),
            None => self.store.get(space, key),
        }
    }

    /// Reads and decodes one JSON value.
    ///
    /// For tests and the conformance suite; the code reads and writes through [`Keyspace`].
    #[cfg(any(test, feature = "test-support"))]
    pub fn get_json<T: DeserializeOwned>(&self, space: Space, key: &[u8]) -> Result<Option<T>, StoreError> {
        decode_json(space, self.get(space, key)?)
    }

    /// Writes a value.
    pub fn put(&mut self, space: Space, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        let (key, value): (Vec<u8>, Arc<[u8]>) = (key.into(), Arc::from(value.into()));
        self.overlay
            .insert((space, key.clone()), Some(Arc::clone(&value)));
        self.batch.ops.push(Op::Put(space, key, value));
        self
    }

    /// Writes a JSON-encoded value.
    ///
    /// For tests and the conformance suite; the code reads and writes through [`Keyspace`].
    #[cfg(any(test, feature = "test-support"))]
    pub fn put_json<T: Serialize>(
        &mut self,
        space: Space,
        key: impl Into<Vec<u8>>,
        value: &T,
    ) -> Result<&mut Self, StoreError> {
        let bytes = keyspace::encode(space, value)?;
        Ok(self.put(space, key, bytes))
    }

    /// Deletes a value.
    pub fn delete(&mut self, space: Space, key: impl Into<Vec<u8>>) -> &mut Self {
        let key = key.into();
        self.overlay.insert((space, key.clone()), None);
        self.batch.delete(space, key);
        self
    }

    /// Scans a prefix of committed data (see [`Store::scan`]).
    pub fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.store.scan(space, prefix, after, limit)
    }
}

#[cfg(any(test, feature = "test-support"))]
fn decode_json<T: DeserializeOwned>(space: Space, bytes: Option<Vec<u8>>) -> Result<Option<T>, StoreError> {
    bytes.map(|b| keyspace::decode(space, &b)).transpose()
}

impl StoreHandle {
    /// Wraps a store.
    pub fn new(store: impl Store) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// Wraps a shared store.
    pub fn from_arc(store: Arc<dyn Store>) -> Self {
        let gauge = Arc::new(OpGauge::new());
        Self {
            inner: Arc::new(Gauged {
                inner: store,
                gauge: Arc::clone(&gauge),
            }),
            write_lock: Arc::new(std::sync::Mutex::new(())),
            gauge,
        }
    }

    /// Why the store can no longer be used, once an operation ran into it ([`Store::failure`]).
    pub fn failure(&self) -> Option<String> {
        self.gauge.failed.borrow().clone()
    }

    /// Resolves with the store's failure as soon as an operation runs into it.
    pub fn failed(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        let mut rx = self.gauge.failed.subscribe();
        async move {
            let reason = match rx.wait_for(Option::is_some).await {
                Ok(f) => f.clone(),
                Err(_) => None,
            };
            match reason {
                Some(r) => r,
                None => std::future::pending().await,
            }
        }
    }

    /// When store operations are in progress and none has made progress (started from idle or
    /// finished) for a while: how many are in progress and for how long nothing moved. `None` when the
    /// store is idle.
    pub fn stalled_for(&self) -> Option<(u64, std::time::Duration)> {
        self.gauge.stalled_for()
    }

    /// An in-memory store (tests, the benchmark baseline).
    pub fn memory() -> Self {
        Self::new(MemoryStore::new())
    }

    /// Opens (or creates) the sled store in `dir`.
    pub fn open_sled(dir: &std::path::Path) -> Result<Self, StoreError> {
        Ok(Self::new(SledStore::open(dir)?))
    }

    /// The engine.
    pub fn engine(&self) -> &dyn Store {
        self.inner.as_ref()
    }

    /// Reads one value.
    pub fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(space, key)
    }

    /// Reads and decodes one JSON value.
    ///
    /// For tests and the conformance suite; the code reads and writes through [`Keyspace`].
    #[cfg(any(test, feature = "test-support"))]
    pub fn get_json<T: DeserializeOwned>(&self, space: Space, key: &[u8]) -> Result<Option<T>, StoreError> {
        decode_json(space, self.inner.get(space, key)?)
    }

    /// Every value under a prefix, decoded.
    ///
    /// For tests and the conformance suite; the code reads and writes through [`Keyspace`].
    #[cfg(any(test, feature = "test-support"))]
    pub fn list_json<T: DeserializeOwned>(&self, space: Space, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        read::scan_all(self, space, prefix)?
            .into_iter()
            .map(|(_, v)| keyspace::decode(space, &v))
            .collect()
    }

    /// Applies a batch atomically (callers that read first must use [`transact`](Self::transact)).
    pub fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.inner.apply(batch)
    }

    /// Runs a read-modify-write under the store's write lock and applies its batch atomically.
    /// The closure must be quick and must not block on I/O other than store reads.
    pub fn transact<T, E>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut tx = Tx {
            store: self.inner.as_ref(),
            batch: Batch::new(),
            overlay: std::collections::BTreeMap::new(),
        };
        let value = f(&mut tx)?;
        if !tx.batch.is_empty() {
            self.inner.apply(tx.batch)?;
        }
        Ok(value)
    }

    /// Waits until everything applied so far is durable (call before acknowledging to a peer).
    pub async fn durable(&self) -> Result<(), StoreError> {
        self.inner.durable().await
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn prefix_end_bounds_every_extension() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    proptest! {
        #[test]
        fn ts_key_preserves_order(a in any::<i64>(), b in any::<i64>()) {
            prop_assert_eq!(a.cmp(&b), ts_key(a).cmp(&ts_key(b)));
            prop_assert_eq!(ts_from_key(&ts_key(a)), Some(a));
        }

        #[test]
        fn keys_with_prefix_sort_inside_bounds(p in proptest::collection::vec(1u8..=255, 0..6), rest in proptest::collection::vec(any::<u8>(), 0..6)) {
            let mut k = p.clone();
            k.extend(&rest);
            prop_assert!(k.as_slice() >= p.as_slice());
            if let Some(end) = prefix_end(&p) { prop_assert!(k < end); }
        }
    }
}
