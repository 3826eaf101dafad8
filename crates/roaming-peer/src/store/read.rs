//! [`Read`]: the one read interface of the committed store ([`StoreHandle`]) and of a transaction
//! ([`Tx`]), so that every typed read ([`Keyspace::get`](super::Keyspace::get),
//! [`Collection::get`](super::collection::Collection::get), …) is one method taking `&impl Read`
//! instead of a `get` / `get_tx` pair.
//!
//! What a transaction reads: `get` sees its own writes first (read-your-writes); `scan`, `range` and
//! `count_range` see committed data only, like [`Tx::scan`] always did.
//!
//! A `&mut Tx` coerces to `&Tx` at the call, so inside [`StoreHandle::transact`] pass `tx` as it is:
//! `SPACE.get(tx, key)?` and, outside, `SPACE.get(&core.store, key)?`.

use super::{Entry, Space, StoreError, StoreHandle, Tx};

/// Reads from the store or from inside a transaction.
pub trait Read {
    /// Reads one value (in a transaction: its own writes first).
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Committed entries whose key starts with `prefix`, in key order, strictly after `after` when
    /// given, at most `limit` (see [`Store::scan`](super::Store::scan)).
    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// Committed entries with `start <= key < end`, in key order or reversed, at most `limit` (see
    /// [`Store::range`](super::Store::range)).
    fn range(
        &self,
        space: Space,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// The number of committed keys with `start <= key < end` (see
    /// [`Store::count_range`](super::Store::count_range)).
    fn count_range(&self, space: Space, start: &[u8], end: Option<&[u8]>) -> Result<u64, StoreError>;
}

impl Read for StoreHandle {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(space, key)
    }

    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan(space, prefix, after, limit)
    }

    fn range(
        &self,
        space: Space,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner.range(space, start, end, reverse, limit)
    }

    fn count_range(&self, space: Space, start: &[u8], end: Option<&[u8]>) -> Result<u64, StoreError> {
        self.inner.count_range(space, start, end)
    }
}

impl Read for Tx<'_> {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Tx::get(self, space, key)
    }

    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.store.scan(space, prefix, after, limit)
    }

    fn range(
        &self,
        space: Space,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.store.range(space, start, end, reverse, limit)
    }

    fn count_range(&self, space: Space, start: &[u8], end: Option<&[u8]>) -> Result<u64, StoreError> {
        self.store.count_range(space, start, end)
    }
}

/// Every entry under `prefix`, read in pages of 1000 (the loop that `all` of every typed layer shares).
pub(crate) fn scan_all<R: Read + ?Sized>(
    r: &R,
    space: Space,
    prefix: &[u8],
) -> Result<Vec<Entry>, StoreError> {
    const PAGE: usize = 1000;
    let mut out = Vec::new();
    loop {
        let page = r.scan(space, prefix, out.last().map(|(k, _): &Entry| k.as_slice()), PAGE)?;
        let done = page.len() < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}
