//! Collections of OCPI objects stored as the JSON that is served, with an index on `last_updated`
//! per partition, for paginated Sender GETs (T-60…T-62) and `date_from` pulls.
//!
//! - Objects: `<name>/<key>` → a small header (last_updated, partitions) followed by the JSON bytes, so a
//!   page is mostly bytes copied (architecture.md: 12× faster than re-serialising).
//! - Index: `<name>_idx/<partition>\0<ts_key(last_updated)><key>` → empty. A partition is a view: `pub`
//!   for what every peer may pull (published locations, tariffs), a party key (`de/csp`) for objects
//!   only their owner may pull (sessions, CDRs), `all` for the operator's own view.
//! - Pages are ordered by (`last_updated`, key): stable across pages (T-62). The next-page cursor is the
//!   last index key, so following `Link` costs the same whatever the offset; a bare `offset` without a
//!   cursor skips keys only.
//!
//! ## Typed
//! A [`Collection<T>`] holds `T`s (`Collection<Location>`, `Collection<Session>`…):
//! - [`get`](Collection::get) / [`scan`](Collection::scan) / [`all`](Collection::all) decode the
//!   stored JSON into `T` (a failure is [`StoreError::Corrupt`] naming the collection) and take any
//!   [`Read`]: the store handle or a transaction (read-your-writes for `get`);
//! - [`put`](Collection::put) serialises the object once and takes `last_updated` from it
//!   ([`Stamped`]); [`delete`](Collection::delete) removes the object and its index entries;
//! - the byte level stays for what serves bytes: [`page`](Collection::page) copies stored JSON into a
//!   page, [`get_doc`](Collection::get_doc) returns the [`StoredDoc`] (its header's `last_updated` and
//!   partitions with the JSON), [`put_doc`](Collection::put_doc) stores one.

use std::fmt;
use std::marker::PhantomData;

use roaming_types::{DateTime, Stamped};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keyspace::{decode, encode};
use super::read::{Read, scan_all};
use super::{Space, StoreError, StoreHandle, Tx, prefix_end, ts_from_key, ts_key};

/// A stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    /// Its `last_updated`.
    pub last_updated: DateTime,
    /// The partitions it is indexed in.
    pub partitions: Vec<String>,
    /// The JSON.
    pub json: Vec<u8>,
}

/// The stored form: the header (`last_updated`, partitions) followed by the JSON.
fn encode_doc<P: AsRef<str>>(last_updated: DateTime, partitions: &[P], json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + json.len());
    out.extend_from_slice(&ts_key(last_updated.timestamp_millis()));
    out.push(u8::try_from(partitions.len()).unwrap_or(u8::MAX));
    for p in partitions.iter().take(usize::from(u8::MAX)) {
        let p = p.as_ref();
        out.push(u8::try_from(p.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&p.as_bytes()[..p.len().min(usize::from(u8::MAX))]);
    }
    out.extend_from_slice(json);
    out
}

impl StoredDoc {
    #[cfg(test)]
    fn encode(&self) -> Vec<u8> {
        encode_doc(self.last_updated, &self.partitions, &self.json)
    }

    fn decode(space: Space, bytes: &[u8]) -> Result<Self, StoreError> {
        let ts =
            ts_from_key(bytes.get(..8).ok_or_else(|| bad_header(space))?).ok_or_else(|| bad_header(space))?;
        let mut partitions = Vec::new();
        let pos = walk_header(space, bytes, |p| {
            partitions.push(String::from_utf8(p.to_vec()).map_err(|_| bad_header(space))?);
            Ok(())
        })?;
        Ok(Self {
            last_updated: DateTime::from_timestamp_millis(ts).ok_or_else(|| bad_header(space))?,
            partitions,
            json: bytes[pos..].to_vec(),
        })
    }
}

fn bad_header(space: Space) -> StoreError {
    StoreError::Corrupt {
        space,
        message: "bad document header".to_owned(),
    }
}

/// Walks the partitions of a stored document's header; returns where its JSON starts.
fn walk_header(
    space: Space,
    bytes: &[u8],
    mut partition: impl FnMut(&[u8]) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    let n = *bytes.get(8).ok_or_else(|| bad_header(space))?;
    let mut pos = 9;
    for _ in 0..n {
        let len = usize::from(*bytes.get(pos).ok_or_else(|| bad_header(space))?);
        partition(
            bytes
                .get(pos + 1..pos + 1 + len)
                .ok_or_else(|| bad_header(space))?,
        )?;
        pos += 1 + len;
    }
    Ok(pos)
}

/// One page request (already validated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    /// `date_from`, inclusive (T-60).
    pub date_from: Option<DateTime>,
    /// `date_to`, exclusive (T-60).
    pub date_to: Option<DateTime>,
    /// `offset`.
    pub offset: u64,
    /// Page size (already capped).
    pub limit: usize,
    /// The opaque cursor from our own `Link`, if the client followed one.
    pub cursor: Option<Vec<u8>>,
}

/// One page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageResult {
    /// The objects' JSON, in order.
    pub items: Vec<Vec<u8>>,
    /// Matches with the filters, ignoring offset and limit (`X-Total-Count`).
    pub total: u64,
    /// The cursor of the next page, when there is one.
    pub next_cursor: Option<Vec<u8>>,
}

/// A collection of `T`s: an object keyspace and its index.
pub struct Collection<T> {
    objects: Space,
    index: Space,
    _objects: PhantomData<fn() -> T>,
}

impl<T> Collection<T> {
    /// A collection with two keyspaces named `objects` and `index` (names are part of the disk format).
    pub const fn new(objects: &'static str, index: &'static str) -> Self {
        Self {
            objects: Space(objects),
            index: Space(index),
            _objects: PhantomData,
        }
    }

    /// The object keyspace (for a crate's keyspace table).
    pub const fn objects(&self) -> Space {
        self.objects
    }

    /// The index keyspace (for a crate's keyspace table).
    pub const fn index(&self) -> Space {
        self.index
    }

    fn index_key(partition: &str, last_updated: DateTime, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(partition.len() + 9 + key.len());
        k.extend_from_slice(partition.as_bytes());
        k.push(0);
        k.extend_from_slice(&ts_key(last_updated.timestamp_millis()));
        k.extend_from_slice(key);
        k
    }

    /// Reads an object as stored: its header (`last_updated`, partitions) and JSON.
    pub fn get_doc<R: Read + ?Sized>(&self, r: &R, key: &[u8]) -> Result<Option<StoredDoc>, StoreError> {
        r.get(self.objects, key)?
            .map(|b| StoredDoc::decode(self.objects, &b))
            .transpose()
    }

    /// Stores an object as bytes (replacing any previous version and its index entries).
    pub fn put_doc(&self, tx: &mut Tx<'_>, key: &[u8], doc: &StoredDoc) -> Result<(), StoreError> {
        self.put_encoded(tx, key, doc.last_updated, &doc.partitions, &doc.json)
    }

    fn put_encoded<P: AsRef<str>>(
        &self,
        tx: &mut Tx<'_>,
        key: &[u8],
        last_updated: DateTime,
        partitions: &[P],
        json: &[u8],
    ) -> Result<(), StoreError> {
        if let Some(old) = self.get_doc(tx, key)? {
            for p in &old.partitions {
                tx.delete(self.index, Self::index_key(p, old.last_updated, key));
            }
        }
        for p in partitions {
            tx.put(
                self.index,
                Self::index_key(p.as_ref(), last_updated, key),
                Vec::new(),
            );
        }
        tx.put(
            self.objects,
            key.to_vec(),
            encode_doc(last_updated, partitions, json),
        );
        Ok(())
    }

    /// Removes an object and its index entries; `false` when there was none.
    pub fn delete(&self, tx: &mut Tx<'_>, key: &[u8]) -> Result<bool, StoreError> {
        let Some(old) = self.get_doc(tx, key)? else {
            return Ok(false);
        };
        for p in &old.partitions {
            tx.delete(self.index, Self::index_key(p, old.last_updated, key));
        }
        tx.delete(self.objects, key.to_vec());
        Ok(true)
    }

    /// Objects as stored whose key starts with `prefix`, in key order, after `after`, at most `limit`
    /// (committed data).
    pub fn scan_docs<R: Read + ?Sized>(
        &self,
        r: &R,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredDoc)>, StoreError> {
        r.scan(self.objects, prefix, after, limit)?
            .into_iter()
            .map(|(k, v)| StoredDoc::decode(self.objects, &v).map(|d| (k, d)))
            .collect()
    }

    /// Every object as stored whose key starts with `prefix`, in key order (committed data).
    pub fn all_docs<R: Read + ?Sized>(
        &self,
        r: &R,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, StoredDoc)>, StoreError> {
        scan_all(r, self.objects, prefix)?
            .into_iter()
            .map(|(k, v)| StoredDoc::decode(self.objects, &v).map(|d| (k, d)))
            .collect()
    }

    /// The number of objects in a partition (committed data).
    pub fn count<R: Read + ?Sized>(&self, r: &R, partition: &str) -> Result<u64, StoreError> {
        let mut p = partition.as_bytes().to_vec();
        p.push(0);
        r.count_range(self.index, &p, prefix_end(&p).as_deref())
    }

    /// One page of a partition, ordered by `last_updated` then key (T-60…T-62): the stored JSON bytes,
    /// copied (no decoding).
    pub fn page(
        &self,
        store: &StoreHandle,
        partition: &str,
        q: &PageQuery,
    ) -> Result<PageResult, StoreError> {
        let mut base = partition.as_bytes().to_vec();
        base.push(0);
        let start = match q.date_from {
            Some(t) => {
                let mut k = base.clone();
                k.extend_from_slice(&ts_key(t.timestamp_millis()));
                k
            }
            None => base.clone(),
        };
        let end = match q.date_to {
            Some(t) => {
                let mut k = base.clone();
                k.extend_from_slice(&ts_key(t.timestamp_millis()));
                Some(k)
            }
            None => prefix_end(&base),
        };
        let engine = store.engine();
        let total = engine.count_range(self.index, &start, end.as_deref())?;
        // Where the page starts: just after the cursor when it lies inside the range, else skip offset.
        let keys = match q
            .cursor
            .as_deref()
            .filter(|c| *c >= start.as_slice() && end.as_deref().is_none_or(|e| *c < e))
        {
            Some(cursor) => {
                let mut after = cursor.to_vec();
                after.push(0);
                engine.range(self.index, &after, end.as_deref(), false, q.limit + 1)?
            }
            None => {
                let skip = usize::try_from(q.offset).unwrap_or(usize::MAX);
                let mut v = engine.range(
                    self.index,
                    &start,
                    end.as_deref(),
                    false,
                    skip.saturating_add(q.limit + 1),
                )?;
                if skip >= v.len() {
                    Vec::new()
                } else {
                    v.split_off(skip)
                }
            }
        };
        let has_more = keys.len() > q.limit;
        let keys: Vec<Vec<u8>> = keys.into_iter().take(q.limit).map(|(k, _)| k).collect();
        let mut items = Vec::with_capacity(keys.len());
        for k in &keys {
            let obj_key = &k[base.len() + 8..];
            if let Some(bytes) = engine.get(self.objects, obj_key)? {
                items.push(StoredDoc::decode(self.objects, &bytes)?.json);
            }
        }
        let next_cursor = if has_more { keys.last().cloned() } else { None };
        Ok(PageResult {
            items,
            total,
            next_cursor,
        })
    }
}

impl<T: DeserializeOwned> Collection<T> {
    fn decode_doc(&self, doc: &StoredDoc) -> Result<T, StoreError> {
        decode(self.objects, &doc.json)
    }

    /// Reads and decodes an object.
    pub fn get<R: Read + ?Sized>(&self, r: &R, key: &[u8]) -> Result<Option<T>, StoreError> {
        let Some(bytes) = r.get(self.objects, key)? else {
            return Ok(None);
        };
        let json = walk_header(self.objects, &bytes, |_| Ok(()))?;
        decode(self.objects, &bytes[json..]).map(Some)
    }

    /// Objects whose key starts with `prefix`, in key order, after `after`, at most `limit` (committed
    /// data).
    pub fn scan<R: Read + ?Sized>(
        &self,
        r: &R,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        self.scan_docs(r, prefix, after, limit)?
            .into_iter()
            .map(|(k, d)| Ok((k, self.decode_doc(&d)?)))
            .collect()
    }

    /// Every object whose key starts with `prefix`, in key order (committed data).
    pub fn all<R: Read + ?Sized>(&self, r: &R, prefix: &[u8]) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        self.all_docs(r, prefix)?
            .into_iter()
            .map(|(k, d)| Ok((k, self.decode_doc(&d)?)))
            .collect()
    }
}

impl<T: Serialize + Stamped> Collection<T> {
    /// Stores an object under `key`, indexed in `partitions` at its `last_updated` (replacing any
    /// previous version and its index entries). Serialises the object once.
    pub fn put(
        &self,
        tx: &mut Tx<'_>,
        key: &[u8],
        object: &T,
        partitions: &[&str],
    ) -> Result<(), StoreError> {
        let json = encode(self.objects, object)?;
        self.put_encoded(tx, key, object.last_updated(), partitions, &json)
    }
}

// By hand: derives would require `T: Clone` etc. although a collection holds no `T`.
impl<T> Clone for Collection<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Collection<T> {}

impl<T> PartialEq for Collection<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.objects, self.index) == (other.objects, other.index)
    }
}

impl<T> Eq for Collection<T> {}

impl<T> fmt::Debug for Collection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Collection({}, {})", self.objects, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Collection<serde_json::Value> = Collection::new("test_objs", "test_objs_idx");

    fn doc(ts: i64, parts: &[&str], json: &str) -> StoredDoc {
        StoredDoc {
            last_updated: DateTime::from_timestamp_millis(ts).unwrap(),
            partitions: parts.iter().map(|p| (*p).to_owned()).collect(),
            json: json.as_bytes().to_vec(),
        }
    }

    fn put(store: &StoreHandle, key: &str, d: &StoredDoc) {
        store.transact(|tx| C.put_doc(tx, key.as_bytes(), d)).unwrap();
    }

    fn texts(p: &PageResult) -> Vec<String> {
        p.items
            .iter()
            .map(|i| String::from_utf8(i.clone()).unwrap())
            .collect()
    }

    #[test]
    fn header_round_trips() {
        let d = doc(-5, &["pub", "de/csp"], "{\"a\":1}");
        assert_eq!(StoredDoc::decode(C.objects, &d.encode()).unwrap(), d);
    }

    #[test]
    fn t60_t62_pages_filter_order_and_count() {
        let store = StoreHandle::memory();
        for (i, ts) in [30, 10, 20, 20, 40].iter().enumerate() {
            put(&store, &format!("k{i}"), &doc(*ts, &["pub"], &format!("{i}")));
        }
        put(&store, "private", &doc(15, &["all"], "p"));
        let q = |from: Option<i64>, to: Option<i64>, offset: u64, limit: usize| PageQuery {
            date_from: from.map(|t| DateTime::from_timestamp_millis(t).unwrap()),
            date_to: to.map(|t| DateTime::from_timestamp_millis(t).unwrap()),
            offset,
            limit,
            cursor: None,
        };
        let all = C.page(&store, "pub", &q(None, None, 0, 10)).unwrap();
        assert_eq!(
            texts(&all),
            ["1", "2", "3", "0", "4"],
            "ordered by last_updated, then key"
        );
        assert_eq!(all.total, 5);
        assert!(all.next_cursor.is_none());
        // date_from inclusive, date_to exclusive.
        let r = C.page(&store, "pub", &q(Some(20), Some(40), 0, 10)).unwrap();
        assert_eq!(texts(&r), ["2", "3", "0"]);
        assert_eq!(r.total, 3);
        // Offset and cursor walk the same pages.
        let p1 = C.page(&store, "pub", &q(None, None, 0, 2)).unwrap();
        assert_eq!(texts(&p1), ["1", "2"]);
        let by_offset = C.page(&store, "pub", &q(None, None, 2, 2)).unwrap();
        let mut with_cursor = q(None, None, 2, 2);
        with_cursor.cursor = p1.next_cursor.clone();
        let by_cursor = C.page(&store, "pub", &with_cursor).unwrap();
        assert_eq!(texts(&by_offset), ["3", "0"]);
        assert_eq!(by_offset, by_cursor);
        assert_eq!(C.count(&store, "pub").unwrap(), 5);
        assert_eq!(C.count(&store, "all").unwrap(), 1);
        let beyond = C.page(&store, "pub", &q(None, None, 99, 2)).unwrap();
        assert!(beyond.items.is_empty());
        assert_eq!(beyond.total, 5);
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Obj {
        id: String,
        last_updated: DateTime,
    }

    impl Stamped for Obj {
        fn last_updated(&self) -> DateTime {
            self.last_updated
        }
    }

    const OBJS: Collection<Obj> = Collection::new("test_typed", "test_typed_idx");

    fn obj(id: &str, ts: i64) -> Obj {
        Obj {
            id: id.to_owned(),
            last_updated: DateTime::from_timestamp_millis(ts).unwrap(),
        }
    }

    #[test]
    fn typed_reads_see_the_transactions_own_writes_through_the_same_method() {
        let store = StoreHandle::memory();
        store
            .transact(|tx| {
                assert_eq!(OBJS.get(tx, b"a")?, None);
                OBJS.put(tx, b"a", &obj("a", 10), &["all", "pub"])?;
                assert_eq!(OBJS.get(tx, b"a")?, Some(obj("a", 10)), "read-your-writes");
                assert_eq!(OBJS.get(&store, b"a")?, None, "not committed yet");
                OBJS.put(tx, b"a", &obj("a", 20), &["all"])?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(OBJS.get(&store, b"a").unwrap(), Some(obj("a", 20)));
        // The header carries the object's own stamp and the partitions; the index moved with them.
        let doc = OBJS.get_doc(&store, b"a").unwrap().unwrap();
        assert_eq!(doc.last_updated, obj("a", 20).last_updated);
        assert_eq!(doc.partitions, ["all"]);
        assert_eq!(
            (
                OBJS.count(&store, "all").unwrap(),
                OBJS.count(&store, "pub").unwrap()
            ),
            (1, 0)
        );
        // Same bytes as a StoredDoc built by hand (no migration).
        let by_hand = StoredDoc {
            last_updated: doc.last_updated,
            partitions: vec!["all".to_owned()],
            json: serde_json::to_vec(&obj("a", 20)).unwrap(),
        };
        assert_eq!(store.get(OBJS.objects(), b"a").unwrap(), Some(by_hand.encode()));
        assert!(store.transact(|tx| OBJS.delete(tx, b"a")).unwrap());
        assert_eq!(OBJS.get(&store, b"a").unwrap(), None);
        assert_eq!(OBJS.count(&store, "all").unwrap(), 0);
    }

    #[test]
    fn an_object_that_does_not_decode_is_corrupt_naming_the_collection() {
        let store = StoreHandle::memory();
        let bad = doc(5, &["all"], "{\"id\": 7}");
        store.transact(|tx| OBJS.put_doc(tx, b"bad", &bad)).unwrap();
        for e in [
            OBJS.get(&store, b"bad").unwrap_err(),
            OBJS.all(&store, b"").unwrap_err(),
            OBJS.scan(&store, b"", None, 10).unwrap_err(),
        ] {
            assert!(
                matches!(&e, StoreError::Corrupt { space, .. } if *space == OBJS.objects()),
                "{e:?}"
            );
            assert!(e.to_string().contains("test_typed"), "{e}");
        }
        // A truncated header too.
        let mut b = crate::store::Batch::new();
        b.put(OBJS.objects(), b"short".to_vec(), vec![1, 2, 3]);
        store.apply(b).unwrap();
        assert!(matches!(
            OBJS.get(&store, b"short"),
            Err(StoreError::Corrupt { .. })
        ));
        // Pages copy bytes and do not decode: the bad object is still served as stored.
        let p = OBJS
            .page(
                &store,
                "all",
                &PageQuery {
                    limit: 10,
                    ..PageQuery::default()
                },
            )
            .unwrap();
        assert_eq!(texts(&p), ["{\"id\": 7}"]);
    }

    #[test]
    fn typed_scan_and_all_are_in_key_order() {
        let store = StoreHandle::memory();
        store
            .transact(|tx| {
                for (k, ts) in [("b", 1), ("a", 3), ("c", 2), ("x/1", 0)] {
                    OBJS.put(tx, k.as_bytes(), &obj(k, ts), &["all"])?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let ids = |v: Vec<(Vec<u8>, Obj)>| v.into_iter().map(|(_, o)| o.id).collect::<Vec<_>>();
        assert_eq!(ids(OBJS.all(&store, b"").unwrap()), ["a", "b", "c", "x/1"]);
        assert_eq!(ids(OBJS.scan(&store, b"", Some(b"a"), 2).unwrap()), ["b", "c"]);
        assert_eq!(ids(OBJS.all(&store, b"x/").unwrap()), ["x/1"]);
        // A page is in last_updated order instead.
        let p = OBJS
            .page(
                &store,
                "all",
                &PageQuery {
                    limit: 10,
                    ..PageQuery::default()
                },
            )
            .unwrap();
        let paged: Vec<String> = p
            .items
            .iter()
            .map(|j| serde_json::from_slice::<Obj>(j).unwrap().id)
            .collect();
        assert_eq!(paged, ["x/1", "b", "c", "a"]);
    }

    #[test]
    fn updates_move_index_entries() {
        let store = StoreHandle::memory();
        put(&store, "a", &doc(10, &["pub"], "old"));
        put(&store, "a", &doc(50, &["all"], "new"));
        assert_eq!(C.count(&store, "pub").unwrap(), 0);
        assert_eq!(C.count(&store, "all").unwrap(), 1);
        assert_eq!(C.get_doc(&store, b"a").unwrap().unwrap().json, b"new");
        assert!(store.transact(|tx| C.delete(tx, b"a")).unwrap());
        assert_eq!(C.count(&store, "all").unwrap(), 0);
        assert!(C.get_doc(&store, b"a").unwrap().is_none());
    }
}
