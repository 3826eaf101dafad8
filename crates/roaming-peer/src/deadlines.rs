//! One deadline index for everything that must end by a time: a command waiting for its result
//! (CMD-01), a charging profile request waiting for its answer, an open CSO command that the charger
//! must answer, a reservation that expires.
//!
//! A [`Deadlines`] is a keyspace of entries `ts_key(due) ++ id` → `id` (the CSP's
//! `csp_commands_waiting` and `csp_profile_waiting` already have this format), so the entries that
//! are due at `now` are one range read from the start of the keyspace, oldest first, however many are
//! not yet due: no scan of a whole keyspace and no decoding of records that are not due.
//!
//! **Cancelling needs the due time** ([`cancel`](Deadlines::cancel)`(tx, due, id)`): every user keeps
//! the deadline in its own record anyway (it is shown and it survives a restart), so the index does
//! not keep a second id → due map; a record whose deadline changes cancels the old entry and
//! schedules the new one in the same transaction. Times are kept to the millisecond (the
//! [`DateTime`] precision).
//!
//! Use: declare one index per use in the crate's keyspace table
//! (`pub const COMMANDS_DUE: Deadlines = Deadlines::new("csp_commands_waiting");`), schedule in the
//! transaction that stores the record, cancel in the one that completes it, and let the periodic
//! sweep end what is due with [`sweep`](Deadlines::sweep) (one transaction per entry, which removes
//! it and updates the record) or, when ending needs more than a store transaction (a charger to tell,
//! a peer to call), read [`due`](Deadlines::due) and cancel while ending each.

use roaming_types::DateTime;

use crate::store::{Read, Space, StoreError, StoreHandle, Tx, ts_from_key, ts_key};

/// An index of deadlines: which ids are due when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    space: Space,
}

impl Deadlines {
    /// The index in the keyspace named `name` (part of the on-disk format: never rename one).
    pub const fn new(name: &'static str) -> Self {
        Self { space: Space(name) }
    }

    /// The index in `space` (declared elsewhere in a keyspace table).
    pub const fn of(space: Space) -> Self {
        Self { space }
    }

    /// Its keyspace (for a crate's keyspace table).
    pub const fn space(&self) -> Space {
        self.space
    }

    fn key(due: DateTime, id: &str) -> Vec<u8> {
        let mut k = ts_key(due.timestamp_millis()).to_vec();
        k.extend_from_slice(id.as_bytes());
        k
    }

    /// Schedules `id` at `due` (in the transaction that stores the record). Scheduling one id at two
    /// times keeps both entries: cancel the old one first when a deadline moves.
    pub fn schedule(&self, tx: &mut Tx<'_>, due: DateTime, id: &str) {
        tx.put(self.space, Self::key(due, id), id.as_bytes().to_vec());
    }

    /// Removes the entry of `id` at `due` (a no-op when there is none).
    pub fn cancel(&self, tx: &mut Tx<'_>, due: DateTime, id: &str) {
        tx.delete(self.space, Self::key(due, id));
    }

    /// The entries due at `now` (due time ≤ `now`), oldest first, at most `limit` (committed data).
    pub fn due<R: Read + ?Sized>(
        &self,
        r: &R,
        now: DateTime,
        limit: usize,
    ) -> Result<Vec<(DateTime, String)>, StoreError> {
        let end = now.timestamp_millis().checked_add(1).map(ts_key);
        r.range(
            self.space,
            &[],
            end.as_ref().map(<[u8; 8]>::as_slice),
            false,
            limit,
        )?
        .into_iter()
        .map(|(k, _)| {
            let at = k
                .get(..8)
                .and_then(ts_from_key)
                .and_then(DateTime::from_timestamp_millis)
                .ok_or_else(|| StoreError::Corrupt {
                    space: self.space,
                    message: "bad deadline key".to_owned(),
                })?;
            Ok((at, String::from_utf8_lossy(&k[8..]).into_owned()))
        })
        .collect()
    }

    /// Ends what is due at `now`: for each entry (oldest first, at most `limit`) one transaction that
    /// removes it and runs `end` with its id — which reads the record, checks that it still waits,
    /// and updates it. Returns what `end` returned `Some` for (e.g. the records it timed out, to
    /// announce once the transactions are durable).
    pub fn sweep<T, E: From<StoreError>>(
        &self,
        store: &StoreHandle,
        now: DateTime,
        limit: usize,
        mut end: impl FnMut(&mut Tx<'_>, &str) -> Result<Option<T>, E>,
    ) -> Result<Vec<T>, E> {
        let mut ended = Vec::new();
        for (at, id) in self.due(store, now, limit)? {
            let done = store.transact(|tx| {
                self.cancel(tx, at, &id);
                end(tx, &id)
            })?;
            ended.extend(done);
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Deadlines = Deadlines::new("test_deadlines");

    fn at(ms: i64) -> DateTime {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn schedule(store: &StoreHandle, items: &[(i64, &str)]) {
        store
            .transact(|tx| {
                for (ms, id) in items {
                    D.schedule(tx, at(*ms), id);
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn due_returns_what_is_due_oldest_first() {
        let store = StoreHandle::memory();
        schedule(
            &store,
            &[(300, "c"), (100, "b"), (100, "a"), (200, "d"), (-5, "old")],
        );
        let ids = |v: Vec<(DateTime, String)>| v.into_iter().map(|(_, id)| id).collect::<Vec<_>>();
        assert!(D.due(&store, at(-6), 10).unwrap().is_empty());
        assert_eq!(
            ids(D.due(&store, at(100), 10).unwrap()),
            ["old", "a", "b"],
            "due time ≤ now"
        );
        assert_eq!(D.due(&store, at(200), 10).unwrap()[3], (at(200), "d".to_owned()));
        assert_eq!(
            ids(D.due(&store, at(1_000), 2).unwrap()),
            ["old", "a"],
            "at most limit"
        );
        assert_eq!(D.due(&store, at(4_102_444_800_000), 10).unwrap().len(), 5);
    }

    #[test]
    fn cancel_needs_the_due_time_and_removes_one_entry() {
        let store = StoreHandle::memory();
        schedule(&store, &[(100, "a"), (100, "b")]);
        store
            .transact(|tx| {
                D.cancel(tx, at(999), "a"); // Not its time: nothing happens.
                D.cancel(tx, at(100), "b");
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(D.due(&store, at(1_000), 10).unwrap(), [(at(100), "a".to_owned())]);
        // The same format as the CSP's deadline keyspaces: ts_key(due) ++ id → id.
        let mut k = ts_key(100).to_vec();
        k.extend_from_slice(b"a");
        assert_eq!(store.get(D.space(), &k).unwrap(), Some(b"a".to_vec()));
    }

    #[test]
    fn sweep_removes_each_due_entry_with_its_record_update() {
        let store = StoreHandle::memory();
        schedule(&store, &[(100, "a"), (150, "gone"), (200, "b"), (900, "later")]);
        let ended = D
            .sweep(&store, at(500), 100, |_tx, id| {
                Ok::<_, StoreError>((id != "gone").then(|| id.to_uppercase()))
            })
            .unwrap();
        assert_eq!(ended, ["A", "B"], "what the closure ended, oldest first");
        assert_eq!(
            D.due(&store, at(1_000), 10).unwrap(),
            [(at(900), "later".to_owned())]
        );
        // A failed end keeps its entry (its transaction is not applied) for the next sweep.
        let failed = D.sweep(&store, at(1_000), 10, |_tx, _id| {
            Err::<Option<()>, _>(StoreError::Engine("down".to_owned()))
        });
        assert!(failed.is_err());
        assert_eq!(D.due(&store, at(1_000), 10).unwrap().len(), 1);
    }
}
