//! Pulling the CSOs' sites and tariffs (UC1-2, UC2-2; checklist T-60…T-65).
//!
//! Right after a CSO registers, the CSP pulls everything (following `Link`, or by offset when the
//! Link points elsewhere: `roaming_peer::client::pull`), and removes what the full pull no longer
//! contains (T-64). Then it pulls periodically with `date_from` = the start of its
//! last successful pull minus `csp.sync.overlap_secs` (clock skew, objects stamped a little in the
//! past), so that a CSP that was down catches up. Invalid objects in a page are logged
//! and skipped (T-65), among them objects with a `last_updated` more than the clock skew ahead of our
//! clock (`roaming_peer::stamps`); objects of parties the peer does not host are ignored (T-95). Tariffs are pulled
//! before locations, since connectors refer to them.

use std::time::Duration;

use roaming_peer::client::ClientError;
use roaming_peer::client::pull::Pull;
use roaming_peer::core::PeerEvent;
use roaming_peer::headers::new_id;
use roaming_peer::registration::peers::PeerRecord;
use roaming_peer::store::{Keyspace, StoreError, key};
use roaming_types::DateTime;
use roaming_types::decode::{DecodeOptions, decode_value};
use roaming_types::modules::cdrs::Cdr;
use roaming_types::modules::locations::Location;
use roaming_types::modules::sessions::Session;
use roaming_types::modules::tariffs::Tariff;
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use serde::{Deserialize, Serialize};

use crate::events::CspEvent;
use crate::keyspaces;
use crate::sites::{Write, object_key};
use crate::state::CspState;

/// The sync state per peer and module: `<peer>\0<module>` → [`SyncState`].
pub const SYNC: Keyspace<SyncState> = Keyspace::of(keyspaces::SYNC);

/// The state of pulls from one peer's module.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    /// The peer.
    pub peer: String,
    /// The module.
    pub module: String,
    /// When the last successful pull started (the next `date_from`).
    pub last_success: Option<DateTime>,
    /// When the last pull started.
    pub last_attempt: Option<DateTime>,
    /// Why the last pull failed, if it did.
    pub last_error: Option<String>,
    /// Objects stored by the last pull.
    pub stored: u64,
    /// Invalid objects skipped by the last pull (T-65).
    pub skipped: u64,
}

/// The result of one sync of a peer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// The peer.
    pub peer: String,
    /// Whether it was a full pull.
    pub full: bool,
    /// Objects stored (created or updated).
    pub stored: u64,
    /// Objects already up to date or older than ours.
    pub unchanged: u64,
    /// Invalid or foreign objects skipped.
    pub skipped: u64,
    /// Objects removed because a full pull no longer had them (T-64).
    pub removed: u64,
    /// Errors per module.
    pub errors: Vec<String>,
}

fn state_key(peer: &str, module: &ModuleId) -> Vec<u8> {
    key([peer.to_ascii_lowercase(), module.as_str().to_owned()])
}

/// The sync states of every peer.
pub fn states(st: &CspState) -> Result<Vec<SyncState>, StoreError> {
    Ok(SYNC
        .all(&st.core.store, &[])?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}

/// Why a pulled object was not stored.
enum Skip {
    /// Invalid or not the peer's (T-65, T-95): logged each.
    Invalid(String),
    /// Valid, but storing it failed.
    Failed(String),
}

impl Skip {
    fn of(e: crate::error::CspError) -> Self {
        match e {
            crate::error::CspError::Store(s) => Self::Failed(s.to_string()),
            other => Self::Invalid(other.to_string()),
        }
    }
}

/// Pulls `module` from `peer`; returns the keys seen (for a full pull).
async fn pull_module(
    st: &CspState,
    peer: &PeerRecord,
    module: &ModuleId,
    full: bool,
    report: &mut SyncReport,
) -> Result<Vec<Vec<u8>>, ClientError> {
    let Some(base) = peer.endpoint(module, &InterfaceRole::Sender) else {
        return Ok(Vec::new());
    };
    let state: SyncState = SYNC
        .get(&st.core.store, &state_key(&peer.id, module))
        .ok()
        .flatten()
        .unwrap_or_default();
    let started = DateTime::now();
    let mut filters = Vec::new();
    if let (false, Some(since)) = (full, state.last_success) {
        // The CSO stamps with its own clock, which may be behind ours, and may keep an operator's
        // stamp from a little before our last pull: start that much earlier. What comes twice is
        // recognised as unchanged and not rewritten.
        let overlap = chrono::Duration::from_std(st.sync_overlap).unwrap_or(chrono::Duration::MAX);
        filters.push(("date_from".to_owned(), since.plus(-overlap).to_string()));
    }
    // From the announced URL exactly (T-04), following usable Links, by offset otherwise; an
    // unusable Link is recorded as the peer's deviation (#12 item 11).
    let mut pull = Pull::new(base, filters)?.bind(st.core.deviation_sink(&peer.id));
    let parties = peer.parties(&Role::Cpo);
    let correlation = new_id();
    let options = DecodeOptions {
        lenient_datetime: peer.compat.lenient_datetime,
        ..DecodeOptions::LENIENT
    };
    let stamps = st.core.stamps();
    let mut seen = Vec::new();
    let (mut stored, mut skipped) = (0u64, 0u64);
    let result = async {
        while let Some(u) = pull.next_url().map(str::to_owned) {
            // Through Core: routed to the peer's first CPO party, and a refusal of our token marks
            // the peer unauthorized (#12 item 10).
            let page = st.core.get_page(peer, &u, &correlation).await?;
            // The next page, decided before the items are consumed; a loop guard ends the pull
            // after this page, as incomplete (so a full pull removes nothing, T-64).
            let step = pull.advance(&page);
            for item in page.items {
                // A stamp in the future would hide every later change of the object (T-80): such an
                // object is skipped like any invalid one (T-65, #12 item 12).
                if let Err(e) = stamps.check(&item, options.lenient_datetime) {
                    skipped += 1;
                    tracing::warn!(peer.id = %peer.id, module = %module, message = %e, "pulled object not stored");
                    continue;
                }
                let outcome = match module {
                    ModuleId::Locations => match decode_value::<Location>(item, options) {
                        Ok(d) if parties.contains(&d.value.party()) => {
                            seen.push(object_key(&d.value.party(), d.value.id.as_str()));
                            st.sites.upsert_location(&d.value).map(|w| (w, Some(d.value))).map_err(|e| Skip::Failed(e.to_string()))
                        }
                        Ok(d) => Err(Skip::Invalid(format!("location {} of {} is not the peer's (T-95)", d.value.id, d.value.party()))),
                        Err(e) => Err(Skip::Invalid(format!("invalid location skipped (T-65): {e}"))),
                    },
                    ModuleId::Sessions => match decode_value::<Session>(item, options) {
                        Ok(d) if parties.contains(&d.value.party()) => {
                            st.sessions.put(&d.value).map(|w| {
                                if w.changed() {
                                    st.events.session(&d.value);
                                }
                                (w, None)
                            }).map_err(Skip::of)
                        }
                        Ok(d) => Err(Skip::Invalid(format!("session {} of {} is not the peer's (T-95)", d.value.id, d.value.party()))),
                        Err(e) => Err(Skip::Invalid(format!("invalid session skipped (T-65): {e}"))),
                    },
                    ModuleId::Cdrs => match decode_value::<Cdr>(item, options) {
                        Ok(d) if parties.contains(&d.value.party()) => st
                            .cdrs
                            .receive(&d.value)
                            .map(|r| {
                                if r == crate::cdrs::Received::Created {
                                    st.cdr_received(&d.value);
                                    (Write::Created, None)
                                } else {
                                    (Write::Unchanged, None)
                                }
                            })
                            .map_err(Skip::of),
                        Ok(d) => Err(Skip::Invalid(format!("CDR {} of {} is not the peer's (T-95)", d.value.id, d.value.party()))),
                        Err(e) => Err(Skip::Invalid(format!("invalid CDR skipped (T-65): {e}"))),
                    },
                    _ => match decode_value::<Tariff>(item, options) {
                        Ok(d) if parties.contains(&d.value.party()) => {
                            seen.push(object_key(&d.value.party(), d.value.id.as_str()));
                            st.sites.upsert_tariff(&d.value).map(|w| (w, None)).map_err(|e| Skip::Failed(e.to_string()))
                        }
                        Ok(d) => Err(Skip::Invalid(format!("tariff {} of {} is not the peer's (T-95)", d.value.id, d.value.party()))),
                        Err(e) => Err(Skip::Invalid(format!("invalid tariff skipped (T-65): {e}"))),
                    },
                };
                match outcome {
                    Ok((Write::Stale | Write::Unchanged, _)) => report.unchanged += 1,
                    Ok((_, loc)) => {
                        stored += 1;
                        if let Some(l) = loc {
                            st.announce_location(&l);
                        }
                    }
                    Err(Skip::Invalid(message)) => {
                        skipped += 1;
                        tracing::warn!(peer.id = %peer.id, module = %module, %message, "pulled object not stored");
                    }
                    Err(Skip::Failed(message)) => {
                        // A failing store fails every object alike: one line per interval (#12 item 15).
                        skipped += 1;
                        roaming_peer::throttled!(warn, &format!("sync: not stored {} {module}", peer.id), peer.id = %peer.id, module = %module, %message, "pulled object not stored");
                    }
                }
            }
            step?;
        }
        Ok::<_, ClientError>(())
    }
    .await;
    st.core.store.durable().await.map_err(|e| ClientError::Data {
        url: base.to_owned(),
        message: e.to_string(),
    })?;
    report.stored += stored;
    report.skipped += skipped;
    let new_state = SyncState {
        peer: peer.id.clone(),
        module: module.as_str().to_owned(),
        last_success: if result.is_ok() {
            Some(started)
        } else {
            state.last_success
        },
        last_attempt: Some(started),
        last_error: result.as_ref().err().map(ToString::to_string),
        stored,
        skipped,
    };
    // Kept for the operator; a failure to keep it changes nothing of the pull.
    let _ = st
        .core
        .store
        .transact(|tx| SYNC.put(tx, state_key(&peer.id, module), &new_state));
    result.map(|()| seen)
}

/// Pulls locations and tariffs from one CSO; `full` pulls everything and removes what is gone.
pub async fn sync_peer(st: &CspState, peer_id: &str, full: bool) -> Result<SyncReport, StoreError> {
    let mut report = SyncReport {
        peer: peer_id.to_owned(),
        full,
        ..SyncReport::default()
    };
    let mark = st.sites.write_mark();
    let Some(peer) = st.core.peers.get(peer_id)? else {
        report.errors.push(format!("no peer {peer_id}"));
        return Ok(report);
    };
    let tariffs = pull_module(st, &peer, &ModuleId::Tariffs, full, &mut report).await;
    let locations = pull_module(st, &peer, &ModuleId::Locations, full, &mut report).await;
    // Sessions are never removed: a pull only catches up on what a push may have missed (UC3-6).
    if let Err(e) = pull_module(st, &peer, &ModuleId::Sessions, false, &mut report).await {
        report.errors.push(e.to_string());
    }
    // CDRs a push missed (UC3-9); duplicates are harmless (CDR-09).
    if let Err(e) = pull_module(st, &peer, &ModuleId::Cdrs, false, &mut report).await {
        report.errors.push(e.to_string());
    }
    match (tariffs, locations) {
        (Ok(t), Ok(l)) if full => {
            for party in peer.parties(&Role::Cpo) {
                report.removed += st.sites.remove_missing(&party, &l, &t, mark)? as u64;
            }
        }
        (t, l) => {
            for e in [t.err(), l.err()].into_iter().flatten() {
                report.errors.push(e.to_string());
            }
        }
    }
    tracing::info!(peer.id = %peer.id, full, stored = report.stored, unchanged = report.unchanged, skipped = report.skipped, removed = report.removed, errors = report.errors.len(), "pull finished");
    st.events.send(CspEvent::Synced {
        peer: peer.id.clone(),
        stored: report.stored as usize,
        removed: report.removed as usize,
    });
    Ok(report)
}

/// Background pulls: a full pull after every registration, incremental pulls every `interval`
/// (± 10 % jitter, T-64).
pub async fn run(st: CspState, interval: Duration) {
    let mut events = st.core.subscribe();
    let shutdown = st.core.shutdown_signal();
    tokio::pin!(shutdown);
    let jittered = || interval.mul_f64(0.9 + 0.2 * roaming_peer::client::backoff::random_unit());
    let timer = tokio::time::sleep(jittered());
    tokio::pin!(timer);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            ev = events.recv() => {
                if let Ok(PeerEvent::Registered(id)) = ev {
                    let st = st.clone();
                    tokio::spawn(async move {
                        // A new CSO starts with a full copy of our tokens (UC3-1).
                        let takes_tokens = st.core.peers.get(&id).ok().flatten().is_some_and(|p| {
                            p.endpoint(&ModuleId::Tokens, &InterfaceRole::Receiver).is_some()
                        });
                        if takes_tokens {
                            match st.tokens.push_all_to(&id).await {
                                Ok(n) => tracing::info!(peer.id = %id, tokens = n, "tokens queued for a new CSO"),
                                Err(e) => roaming_peer::throttled!(error, "sync: tokens not queued", peer.id = %id, error = %e, "tokens not queued for a new CSO"),
                            }
                        }
                        if let Err(e) = sync_peer(&st, &id, true).await {
                            roaming_peer::throttled!(error, "sync: first pull failed", peer.id = %id, error = %e, "first pull failed");
                        }
                    });
                }
            }
            () = &mut timer => {
                timer.as_mut().reset(tokio::time::Instant::now() + jittered());
                let peers = match st.core.peers.list() {
                    Ok(p) => p,
                    Err(e) => {
                        roaming_peer::throttled!(error, "sync: cannot list peers", error = %e, "cannot list peers for the periodic pull");
                        continue;
                    }
                };
                for p in peers {
                    if p.endpoint(&ModuleId::Locations, &InterfaceRole::Sender).is_some()
                        || p.endpoint(&ModuleId::Tariffs, &InterfaceRole::Sender).is_some()
                    {
                        if let Err(e) = sync_peer(&st, &p.id, false).await {
                            roaming_peer::throttled!(error, "sync: periodic pull failed", peer.id = %p.id, error = %e, "periodic pull failed");
                        }
                    }
                }
            }
        }
    }
}
