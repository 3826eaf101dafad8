//! [`Keyspace<T>`]: a typed keyspace of JSON values, the typed form of a [`Space`] that was read with
//! `get_json` / `list_json` and written with `put_json`. The on-disk format is the same (the value is
//! `serde_json::to_vec` of a `T`), so turning a `const X: Space = Space("x")` into a
//! `const X: Keyspace<Record> = Keyspace::new("x")` needs no migration.
//!
//! - Reads take any [`Read`]: the store handle or a transaction (read-your-writes for `get`).
//! - A value that does not decode is [`StoreError::Corrupt`] naming the keyspace, reported here once.
//! - Keyspaces whose values are not JSON (index entries whose value is a key of another keyspace, or
//!   empty) stay a plain [`Space`], read with [`Read::get`] and written with [`Tx::put`].

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::read::{Read, scan_all};
use super::{Space, StoreError, Tx};

/// A keyspace whose values are JSON-encoded `T`s.
pub struct Keyspace<T> {
    space: Space,
    _values: PhantomData<fn() -> T>,
}

impl<T> Keyspace<T> {
    /// The keyspace named `name` (part of the on-disk format: never rename one).
    pub const fn new(name: &'static str) -> Self {
        Self {
            space: Space(name),
            _values: PhantomData,
        }
    }

    /// The keyspace `space` of a crate's keyspace table ([`spaces`](super::spaces), a role's
    /// `keyspaces.rs`), typed where its value type is defined:
    /// `const ENTRIES: Keyspace<Entry> = Keyspace::of(spaces::OUTBOX);`.
    pub const fn of(space: Space) -> Self {
        Self {
            space,
            _values: PhantomData,
        }
    }

    /// The untyped keyspace (for raw reads and writes, and for listing every keyspace of a crate).
    pub const fn space(&self) -> Space {
        self.space
    }

    /// Deletes a value (a no-op when absent).
    pub fn delete(&self, tx: &mut Tx<'_>, key: impl Into<Vec<u8>>) {
        tx.delete(self.space, key);
    }
}

impl<T: DeserializeOwned> Keyspace<T> {
    /// Decodes a stored value.
    fn decode(&self, bytes: &[u8]) -> Result<T, StoreError> {
        decode(self.space, bytes)
    }

    /// Reads one value.
    pub fn get<R: Read + ?Sized>(&self, r: &R, key: &[u8]) -> Result<Option<T>, StoreError> {
        r.get(self.space, key)?.map(|b| self.decode(&b)).transpose()
    }

    /// Values whose key starts with `prefix`, in key order, strictly after `after`, at most `limit`
    /// (committed data only, see [`Read::scan`]).
    pub fn scan<R: Read + ?Sized>(
        &self,
        r: &R,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        r.scan(self.space, prefix, after, limit)?
            .into_iter()
            .map(|(k, v)| Ok((k, self.decode(&v)?)))
            .collect()
    }

    /// Every value whose key starts with `prefix`, in key order.
    pub fn all<R: Read + ?Sized>(&self, r: &R, prefix: &[u8]) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        scan_all(r, self.space, prefix)?
            .into_iter()
            .map(|(k, v)| Ok((k, self.decode(&v)?)))
            .collect()
    }
}

impl<T: Serialize> Keyspace<T> {
    /// Writes a value (replacing any previous one).
    pub fn put(&self, tx: &mut Tx<'_>, key: impl Into<Vec<u8>>, value: &T) -> Result<(), StoreError> {
        tx.put(self.space, key, encode(self.space, value)?);
        Ok(())
    }
}

/// Decodes a JSON value of `space`; a failure is [`StoreError::Corrupt`] naming it.
pub(crate) fn decode<T: DeserializeOwned>(space: Space, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        space,
        message: e.to_string(),
    })
}

/// Encodes a value of `space` as JSON (a failure, e.g. a map with non-string keys, names the space).
pub(crate) fn encode<T: Serialize + ?Sized>(space: Space, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        space,
        message: e.to_string(),
    })
}

// By hand: derives would require `T: Clone` etc. although a keyspace holds no `T`.
impl<T> Clone for Keyspace<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Keyspace<T> {}

impl<T> PartialEq for Keyspace<T> {
    fn eq(&self, other: &Self) -> bool {
        self.space == other.space
    }
}

impl<T> Eq for Keyspace<T> {}

impl<T> fmt::Debug for Keyspace<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keyspace({})", self.space)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::store::StoreHandle;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Rec {
        n: u32,
    }

    const RECS: Keyspace<Rec> = Keyspace::new("test_recs");

    #[test]
    fn reads_see_the_transactions_own_writes_through_the_same_method() {
        let store = StoreHandle::memory();
        store
            .transact(|tx| {
                assert_eq!(RECS.get(tx, b"a")?, None);
                RECS.put(tx, b"a".to_vec(), &Rec { n: 1 })?;
                assert_eq!(RECS.get(tx, b"a")?, Some(Rec { n: 1 }), "read-your-writes");
                RECS.delete(tx, b"a".to_vec());
                assert_eq!(RECS.get(tx, b"a")?, None);
                RECS.put(tx, b"a".to_vec(), &Rec { n: 2 })?;
                // Not committed yet.
                assert_eq!(RECS.get(&store, b"a")?, None);
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(RECS.get(&store, b"a").unwrap(), Some(Rec { n: 2 }));
        // Same bytes as the untyped JSON helpers wrote and read.
        assert_eq!(
            store.get(RECS.space(), b"a").unwrap(),
            Some(b"{\"n\":2}".to_vec())
        );
        assert_eq!(
            store.get_json::<Rec>(RECS.space(), b"a").unwrap(),
            Some(Rec { n: 2 })
        );
    }

    #[test]
    fn a_value_that_does_not_decode_is_corrupt_naming_the_keyspace() {
        let store = StoreHandle::memory();
        let mut b = crate::store::Batch::new();
        b.put(RECS.space(), b"bad".to_vec(), b"{\"n\":\"x\"}".to_vec());
        store.apply(b).unwrap();
        let e = RECS.get(&store, b"bad").unwrap_err();
        assert!(
            matches!(&e, StoreError::Corrupt { space, .. } if *space == RECS.space()),
            "{e:?}"
        );
        assert!(e.to_string().contains("test_recs"), "{e}");
        assert!(matches!(RECS.all(&store, b""), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn scan_and_all_are_in_key_order() {
        let store = StoreHandle::memory();
        store
            .transact(|tx| {
                for (k, n) in [("b", 2), ("a", 1), ("c", 3), ("x", 9)] {
                    RECS.put(tx, k.as_bytes().to_vec(), &Rec { n })?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let ns = |v: Vec<(Vec<u8>, Rec)>| v.into_iter().map(|(_, r)| r.n).collect::<Vec<_>>();
        assert_eq!(ns(RECS.all(&store, b"").unwrap()), [1, 2, 3, 9]);
        assert_eq!(ns(RECS.scan(&store, b"", Some(b"a"), 2).unwrap()), [2, 3]);
        assert_eq!(ns(RECS.all(&store, b"x").unwrap()), [9]);
        let keys: Vec<Vec<u8>> = RECS
            .all(&store, b"")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"x".to_vec()]);
    }

    #[test]
    fn all_reads_past_one_page() {
        let store = StoreHandle::memory();
        store
            .transact(|tx| {
                for n in 0..2500u32 {
                    RECS.put(tx, n.to_be_bytes().to_vec(), &Rec { n })?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let all = RECS.all(&store, b"").unwrap();
        assert_eq!(all.len(), 2500);
        assert!(all.iter().enumerate().all(|(i, (_, r))| r.n as usize == i));
    }
}
