//! The in-memory [`Store`]: tests and the storage-free benchmark baseline. Durability is immediate.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

use futures::future::BoxFuture;

use super::{Batch, Entry, Op, Space, Store, StoreError};

/// Full key: space name, `0x00`, key. The same layout as the sled store.
pub(crate) fn full_key(space: Space, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(space.0.len() + 1 + key.len());
    k.extend_from_slice(space.0.as_bytes());
    k.push(0);
    k.extend_from_slice(key);
    k
}

/// An ordered map behind a lock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.map.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The full-key bounds of `start <= key < end`, or `None` when the range is empty.
pub(crate) fn bounds(space: Space, start: &[u8], end: Option<&[u8]>) -> Option<(Vec<u8>, Vec<u8>)> {
    let lo = full_key(space, start);
    let hi = match end {
        Some(e) => full_key(space, e),
        None => {
            // The end of the space: the name followed by 0x01.
            let mut k = space.0.as_bytes().to_vec();
            k.push(1);
            k
        }
    };
    (lo < hi).then_some((lo, hi))
}

fn strip(space: Space, k: &[u8]) -> Vec<u8> {
    k[space.0.len() + 1..].to_vec()
}

impl Store for MemoryStore {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().get(&full_key(space, key)).cloned())
    }

    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let map = self.read();
        let p = full_key(space, prefix);
        let lo = match after {
            Some(a) => Bound::Excluded(full_key(space, a)),
            None => Bound::Included(p.clone()),
        };
        Ok(map
            .range((lo, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&p))
            .take(limit)
            .map(|(k, v)| (strip(space, k), v.clone()))
            .collect())
    }

    fn range(
        &self,
        space: Space,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let map = self.read();
        let Some((lo, hi)) = bounds(space, start, end) else {
            return Ok(Vec::new());
        };
        let it = map.range(lo..hi);
        let pick = |(k, v): (&Vec<u8>, &Vec<u8>)| (strip(space, k), v.clone());
        Ok(if reverse {
            it.rev().take(limit).map(pick).collect()
        } else {
            it.take(limit).map(pick).collect()
        })
    }

    fn count_range(&self, space: Space, start: &[u8], end: Option<&[u8]>) -> Result<u64, StoreError> {
        let Some((lo, hi)) = bounds(space, start, end) else {
            return Ok(0);
        };
        Ok(self.read().range(lo..hi).count() as u64)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for op in batch.into_ops() {
            match op {
                Op::Put(space, k, v) => {
                    map.insert(full_key(space, &k), v.to_vec());
                }
                Op::Delete(space, k) => {
                    map.remove(&full_key(space, &k));
                }
            }
        }
        Ok(())
    }

    fn durable(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn size_on_disk(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conformance() {
        super::super::conformance::run_all(|| std::sync::Arc::new(super::MemoryStore::new())).await;
    }
}
