//! The sled [`Store`] (sled 0.34), with one group-commit thread for durability.
//!
//! Measured facts this follows (`architecture.md`): `flush_async` per request hangs under concurrency,
//! and `flush` alone does not `fdatasync` the database file. So one dedicated thread does
//! `flush()` + `sync_data()` of the `db` file for every waiter that arrived before the flush started
//! (group commit); [`Store::durable`] waits for that thread's generation counter.
//!
//! All keyspaces live in sled's default tree with the space name as a key prefix, so that one
//! `apply_batch` is atomic across keyspaces.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::memory::{bounds, full_key};
use super::{Batch, Entry, Op, Space, Store, StoreError};

fn engine(e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine(e.to_string())
}

/// The first failure that makes the store unusable (#12 item 14), shared with the group-commit thread.
type Failure = Arc<Mutex<Option<String>>>;

fn record(failure: &Failure, reason: String) {
    let mut f = failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if f.is_none() {
        *f = Some(reason);
    }
}

/// Whether sled keeps failing after this error until it is reopened: after an I/O error sled sets a
/// global error that every later operation returns (a full disk stays "full" after space returns).
fn sticky(e: &sled::Error) -> bool {
    matches!(
        e,
        sled::Error::Io(_) | sled::Error::Corruption { .. } | sled::Error::ReportableBug(_)
    )
}

#[derive(Debug, Default)]
struct CommitState {
    /// Highest ticket requested.
    requested: u64,
    /// Set when the store is dropped.
    stop: bool,
}

#[derive(Debug)]
struct Committer {
    state: Mutex<CommitState>,
    wake: Condvar,
    /// Highest ticket made durable, with the error of that attempt if it failed.
    done: watch::Sender<(u64, Option<String>)>,
    /// A failed flush or `fsync` is a failure of the store.
    failure: Failure,
}

/// sled's page cache by default (sled's own default is 1 GiB, far more than an endpoint needs).
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// sled on disk.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    dir: PathBuf,
    committer: Arc<Committer>,
    thread: Option<std::thread::JoinHandle<()>>,
    failure: Failure,
}

impl SledStore {
    /// Opens or creates the database in `dir` with sled's page cache limited to `cache_bytes`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Like [`open`](Self::open) with an explicit cache size.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        Self::open_tuned(dir, cache_bytes, DEFAULT_LINGER)
    }

    /// Like [`open`](Self::open) with an explicit cache size and group-commit linger.
    pub fn open_tuned(dir: &Path, cache_bytes: u64, linger: std::time::Duration) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(engine)?;
        // A previous instance in this process may still be releasing the file lock for a moment
        // (sled's background threads finish after the last handle is dropped).
        let mut attempts = 0;
        let db = loop {
            let opened = sled::Config::new()
                .path(dir)
                .mode(sled::Mode::HighThroughput)
                .cache_capacity(cache_bytes)
                // Durability comes from our group commit; sled's own periodic flusher only adds
                // background I/O. Writes never acknowledged (outbox bookkeeping) go with the next commit.
                .flush_every_ms(None)
                .open();
            match opened {
                Ok(db) => break db,
                Err(sled::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock && attempts < 100 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => return Err(engine(e)),
            }
        };
        let (done, _) = watch::channel((0, None));
        let failure: Failure = Arc::default();
        let committer = Arc::new(Committer {
            state: Mutex::new(CommitState::default()),
            wake: Condvar::new(),
            done,
            failure: Arc::clone(&failure),
        });
        let thread_db = db.clone();
        let thread_committer = Arc::clone(&committer);
        // Opened once, now: opening it at a flush could fail for want of file descriptors.
        let file = File::open(dir.join("db")).map_err(engine)?;
        let thread = std::thread::Builder::new()
            .name("sled-group-commit".to_owned())
            .spawn(move || commit_loop(&thread_db, &file, &thread_committer, linger))
            .map_err(engine)?;
        Ok(Self {
            db,
            dir: dir.to_path_buf(),
            committer,
            thread: Some(thread),
            failure,
        })
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Maps a sled error, recording it when it leaves the store unusable.
    fn check<T>(&self, r: sled::Result<T>) -> Result<T, StoreError> {
        r.map_err(|e| {
            if sticky(&e) {
                record(&self.failure, e.to_string());
            }
            engine(e)
        })
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.committer
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stop = true;
        self.committer.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(c: &Committer) -> std::sync::MutexGuard<'_, CommitState> {
    c.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// sled's `flush` writes its log; `sync_data` on the database file then makes it durable. Either
/// failing is a failure of the store: sled keeps a write error until it is reopened, and after a
/// failed `fsync` nobody knows what reached the disk.
fn flush_to_disk(db: &sled::Db, file: &File) -> Result<(), String> {
    db.flush().map_err(|e| format!("flush: {e}"))?;
    file.sync_data().map_err(|e| format!("fsync: {e}"))
}

/// Under load, flushes are at least this far apart so that each covers many writers: a sled flush is
/// expensive in CPU and I/O, and the waiting writers would otherwise each get one of their own.
/// An idle store flushes at once.
pub const DEFAULT_LINGER: std::time::Duration = std::time::Duration::from_millis(2);

#[expect(
    clippy::disallowed_types,
    reason = "a plain thread, not a tokio task: std time is right here"
)]
fn commit_loop(db: &sled::Db, file: &File, c: &Committer, linger: std::time::Duration) {
    let mut durable = 0u64;
    let mut last_flush: Option<std::time::Instant> = None;
    loop {
        {
            let mut state = lock(c);
            while state.requested == durable && !state.stop {
                state = c
                    .wake
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
        if let Some(t) = last_flush {
            let since = std::time::Instant::now().saturating_duration_since(t);
            if since < linger {
                std::thread::sleep(linger - since);
            }
        }
        // The target is read after the linger, so the writers that arrived meanwhile are included;
        // every write acknowledged with a ticket ≤ target was applied before this read.
        let (target, stop) = {
            let state = lock(c);
            (state.requested, state.stop)
        };
        if target != durable || stop {
            let result = flush_to_disk(db, file);
            if let Err(e) = &result {
                record(&c.failure, e.clone());
                crate::throttled!(error, "store: flush to disk failed", error = %e, "store: flush to disk failed");
            }
            let now = std::time::Instant::now();
            last_flush = Some(now);
            durable = target;
            c.done.send_replace((target, result.err()));
        }
        if stop {
            return;
        }
    }
}

impl Store for SledStore {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.check(self.db.get(full_key(space, key)))?.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let p = full_key(space, prefix);
        let strip = space.0.len() + 1;
        let iter = match after {
            Some(a) => {
                let mut start = full_key(space, a);
                start.push(0);
                self.db.range(start..)
            }
            None => self.db.range(p.clone()..),
        };
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = self.check(item)?;
            if !k.starts_with(&p) || out.len() >= limit {
                break;
            }
            out.push((k[strip..].to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn range(
        &self,
        space: Space,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let Some((lo, hi)) = bounds(space, start, end) else {
            return Ok(Vec::new());
        };
        let strip = space.0.len() + 1;
        let iter = self.db.range(lo..hi);
        let mut out = Vec::new();
        let mut push = |item: sled::Result<(sled::IVec, sled::IVec)>| -> Result<bool, StoreError> {
            let (k, v) = self.check(item)?;
            out.push((k[strip..].to_vec(), v.to_vec()));
            Ok(out.len() < limit)
        };
        if limit > 0 {
            if reverse {
                for item in iter.rev() {
                    if !push(item)? {
                        break;
                    }
                }
            } else {
                for item in iter {
                    if !push(item)? {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    fn count_range(&self, space: Space, start: &[u8], end: Option<&[u8]>) -> Result<u64, StoreError> {
        let Some((lo, hi)) = bounds(space, start, end) else {
            return Ok(0);
        };
        let mut n = 0u64;
        for item in self.db.range(lo..hi).keys() {
            self.check(item)?;
            n += 1;
        }
        Ok(n)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for op in batch.into_ops() {
            match op {
                Op::Put(space, k, v) => b.insert(full_key(space, &k), &*v),
                Op::Delete(space, k) => b.remove(full_key(space, &k)),
            }
        }
        self.check(self.db.apply_batch(b))
    }

    fn durable(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        let ticket = {
            let mut state = lock(&self.committer);
            state.requested += 1;
            state.requested
        };
        self.committer.wake.notify_one();
        let mut rx = self.committer.done.subscribe();
        Box::pin(async move {
            let state = rx.wait_for(|(done, _)| *done >= ticket).await.map_err(engine)?;
            match &state.1 {
                Some(e) => Err(StoreError::Engine(format!("flush to disk failed: {e}"))),
                None => Ok(()),
            }
        })
    }

    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dirs = std::sync::Mutex::new(Vec::new());
        super::super::conformance::run_all(|| {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(dir.path()).unwrap();
            dirs.lock().unwrap().push(dir);
            std::sync::Arc::new(store)
        })
        .await;
    }

    #[tokio::test]
    async fn reopen_keeps_durable_writes() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            let mut b = Batch::new();
            b.put(Space::META, b"k".to_vec(), b"v".to_vec());
            s.apply(b).unwrap();
            s.durable().await.unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.get(Space::META, b"k").unwrap(), Some(b"v".to_vec()));
    }
}
