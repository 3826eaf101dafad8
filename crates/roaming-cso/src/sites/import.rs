//! The operator's input: filling what the operator may leave out (`prefill`), the strict decoding of
//! our own objects with the JSON path of every problem (`strict`), and the all-or-nothing bulk imports
//! of locations and tariffs (UC1-2, UC2-1).

use roaming_types::DateTime;
use roaming_types::decode::{DecodeOptions, decode_value};
use roaming_types::ids::PartyRef;
use roaming_types::modules::locations::Location;
use roaming_types::modules::tariffs::Tariff;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::Sites;
use crate::error::{CsoError, ImportProblem};

/// Objects per write batch of an import.
const IMPORT_BATCH: usize = 500;

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportCount {
    /// Objects in the file, all accepted.
    pub imported: usize,
    /// Of those, how many differed from the stored version only in time stamps, or not at all: not
    /// stored again and not pushed.
    pub unchanged: usize,
}

/// Now, as the operator would write it.
pub(super) fn now_text() -> String {
    DateTime::now().to_string()
}

/// Fills what the operator may leave out: our `country_code`/`party_id` and `last_updated` (now), on
/// the object and, for locations, on every EVSE and connector.
pub(super) fn prefill(v: &mut Value, party: Option<&PartyRef>, now: &str, nested: &[&str]) {
    let Some(obj) = v.as_object_mut() else { return };
    if let Some(p) = party {
        obj.entry("country_code")
            .or_insert_with(|| json!(p.country_code.as_str()));
        obj.entry("party_id")
            .or_insert_with(|| json!(p.party_id.as_str()));
    }
    obj.entry("last_updated").or_insert_with(|| json!(now));
    if let Some((first, rest)) = nested.split_first() {
        if let Some(Value::Array(children)) = obj.get_mut(*first) {
            for c in children {
                prefill(c, None, now, rest);
            }
        }
    }
}

pub(super) fn strict<T: serde::de::DeserializeOwned>(
    v: Value,
    path_prefix: &str,
) -> Result<T, Vec<ImportProblem>> {
    decode_value::<T>(v, DecodeOptions::STRICT)
        .map(|d| d.value)
        .map_err(|e| {
            let sep = if e.path.is_empty() || path_prefix.is_empty() || e.path.starts_with('[') {
                ""
            } else {
                "."
            };
            vec![ImportProblem {
                path: format!("{path_prefix}{sep}{}", e.path),
                message: e.message,
            }]
        })
}

pub(super) fn problem(path: &str, e: impl std::fmt::Display) -> Vec<ImportProblem> {
    vec![ImportProblem {
        path: path.to_owned(),
        message: e.to_string(),
    }]
}

impl Sites {
    /// Imports a JSON array of locations: every object is checked strictly first and either all are
    /// stored (created or replaced, each pushed) or none (`Err` lists every problem with its path).
    pub async fn import_locations(&self, docs: &[&RawValue]) -> Result<ImportCount, CsoError> {
        let now = now_text();
        let mut problems = Vec::new();
        // Checked objects are kept as JSON, not as structs: a large import stays small in memory.
        let mut checked: Vec<Vec<u8>> = Vec::with_capacity(docs.len());
        let mut ids = std::collections::BTreeSet::new();
        for (i, raw) in docs.iter().enumerate() {
            let path = format!("[{i}]");
            // One element at a time: a whole file as serde_json::Value would take many times its size.
            let mut v: Value = serde_json::from_str(raw.get()).map_err(CsoError::internal)?;
            prefill(&mut v, Some(self.party()), &now, &["evses", "connectors"]);
            match strict::<Location>(v, &path).and_then(|l| self.check_location(&l, &path).map(|()| l)) {
                Ok(l) if !ids.insert(l.id.to_key()) => problems.push(ImportProblem {
                    path: format!("{path}.id"),
                    message: format!("location {} appears twice", l.id),
                }),
                Ok(l) => checked.push(serde_json::to_vec(&l).map_err(CsoError::internal)?),
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(CsoError::Import(problems));
        }
        let n = checked.len();
        // Every object passed the checks, so nothing of the file can be refused any more. The writes go
        // in batches of IMPORT_BATCH objects: one batch of a whole large file makes sled hold several
        // times its size in memory. Only a storage failure could stop the import midway, and importing
        // the same file again then completes it (every write is a full replace).
        let mut woken = std::collections::BTreeSet::new();
        let mut unchanged = 0;
        for part in checked.chunks(IMPORT_BATCH) {
            let w = self.core.store.transact(|tx| {
                let mut woken = Vec::new();
                let mut same = 0;
                for checked in part {
                    // Bytes this import serialised above, not a stored record.
                    let mut loc: Location = serde_json::from_slice(checked).map_err(CsoError::internal)?;
                    match self.store_location(tx, &mut loc, None)? {
                        Some(w) => woken.extend(w),
                        None => same += 1,
                    }
                }
                Ok::<_, CsoError>((woken, same))
            })?;
            woken.extend(w.0);
            unchanged += w.1;
        }
        self.commit(woken.into_iter().collect()).await?;
        tracing::info!(count = n, unchanged, "locations imported");
        Ok(ImportCount {
            imported: n,
            unchanged,
        })
    }

    /// Imports a JSON array of tariffs, all or nothing.
    pub async fn import_tariffs(&self, docs: &[&RawValue]) -> Result<ImportCount, CsoError> {
        let now = now_text();
        let mut problems = Vec::new();
        let mut parsed = Vec::with_capacity(docs.len());
        for (i, raw) in docs.iter().enumerate() {
            let path = format!("[{i}]");
            let mut v: Value = serde_json::from_str(raw.get()).map_err(CsoError::internal)?;
            prefill(&mut v, Some(self.party()), &now, &[]);
            match strict::<Tariff>(v, &path).and_then(|t| self.check_tariff(&t, &path).map(|()| t)) {
                Ok(t) => parsed.push(t),
                Err(p) => problems.extend(p),
            }
        }
        for (i, t) in parsed.iter().enumerate() {
            if parsed[..i].iter().any(|u| u.id == t.id) {
                problems.push(ImportProblem {
                    path: format!("[{i}].id"),
                    message: format!("tariff {} appears twice", t.id),
                });
            }
        }
        if !problems.is_empty() {
            return Err(CsoError::Import(problems));
        }
        let n = parsed.len();
        let (woken, unchanged) = self.core.store.transact(|tx| {
            let mut woken = Vec::new();
            let mut unchanged = 0;
            for t in &mut parsed {
                match self.store_tariff(tx, t)? {
                    Some(w) => woken.extend(w),
                    None => unchanged += 1,
                }
            }
            Ok::<_, CsoError>((woken, unchanged))
        })?;
        self.commit(woken).await?;
        tracing::info!(count = n, unchanged, "tariffs imported");
        Ok(ImportCount {
            imported: n,
            unchanged,
        })
    }
}
