//! Registered peers, invitations and the token index (checklist §5.6 state machine).
//!
//! Stored records:
//! - `peers/<peer id>` → [`PeerRecord`]: the peer's roles, version, endpoints, the token we call it
//!   with (`token_out`, kept as is because we must send it) and the SHA-256 of the token it calls us
//!   with (`token_in`). Tokens that peers present are never stored in clear.
//! - `invitations/<id>` → [`Invitation`]: a token A we issued (only its hash) and when it expires.
//! - `pending/<id>` → [`PendingRegistration`]: a token B we issued as the initiator, valid for the
//!   responder's versions and details calls while the handshake runs.
//! - `tokens/<sha256 hex>` → [`TokenOwner`]: who a presented token belongs to.
//!
//! Every change of these records is one atomic batch, so a failed handshake leaves nothing behind.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use roaming_types::DateTime;
use roaming_types::auth::CredentialsToken;
use roaming_types::ids::PartyRef;
use roaming_types::modules::credentials::CredentialsRole;
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::{Endpoint, InterfaceRole, ModuleId, VersionNumber};
use serde::{Deserialize, Serialize};

use crate::deviations::{Deviation, DeviationKind};
use crate::secret::TokenHash;
use crate::store::{Keyspace, Space, StoreError, StoreHandle, Tx, key};

pub use crate::store::spaces::{INVITATIONS, PENDING};

/// The peers, by peer id.
pub(crate) const PEER_RECORDS: Keyspace<PeerRecord> = Keyspace::of(Space::PEERS);
/// Token hash → who holds it.
pub(crate) const TOKEN_OWNERS: Keyspace<TokenOwner> = Keyspace::of(Space::TOKENS);
/// Invitations, by id.
pub(crate) const INVITATION_RECORDS: Keyspace<Invitation> = Keyspace::of(INVITATIONS);
/// Registrations we started, by id.
pub(crate) const PENDING_RECORDS: Keyspace<PendingRegistration> = Keyspace::of(PENDING);

/// A peer's compatibility switches (T-15, E-19).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerCompat {
    /// Send our token to this peer raw instead of base64 (T-15).
    #[serde(default)]
    pub raw_token_out: bool,
    /// Accept this peer's token raw (T-15).
    #[serde(default)]
    pub raw_token_in: bool,
    /// Accept DateTime offsets from this peer (E-19).
    #[serde(default)]
    pub lenient_datetime: bool,
}

/// An inbound token that remains valid for a while after rotation (CR-24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraceToken {
    /// Its hash.
    pub hash: TokenHash,
    /// When it stops working at the latest.
    pub valid_until: DateTime,
}

/// A registered peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// Our name for the peer: `CC-PID` of its first role that is our counterpart.
    pub id: String,
    /// Every role/party the peer hosts (from its credentials).
    pub roles: Vec<CredentialsRole>,
    /// The peer's versions URL.
    pub versions_url: String,
    /// The version we talk.
    pub version: VersionNumber,
    /// The peer's endpoints for that version.
    pub endpoints: Vec<Endpoint>,
    /// The token we call the peer with.
    pub token_out: CredentialsToken,
    /// The hash of the token the peer calls us with.
    pub token_in: TokenHash,
    /// The previous inbound token during the rotation grace (CR-24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_token_in: Option<GraceToken>,
    /// A new inbound token offered in a rotation we started and not yet confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_token_in: Option<TokenHash>,
    /// Compatibility switches.
    #[serde(default)]
    pub compat: PeerCompat,
    /// When the peer registered.
    pub registered_at: DateTime,
    /// When the registration last changed (rotation, endpoint change).
    pub updated_at: DateTime,
    /// Whether we initiated the registration.
    pub initiated_by_us: bool,
    /// The deviations from OCPI 2.2.1 we tolerated from this peer, first sighting per kind
    /// ([`crate::deviations`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deviations: Vec<Deviation>,
    /// Set while the peer refuses our token (401/403); cleared by the next successful call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unauthorized: Option<Unauthorized>,
}

/// Since when and why a peer does not accept our token (#12 item 10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unauthorized {
    /// The first refusal since our last successful call.
    pub since: DateTime,
    /// The latest refusal that read differently from the one before (the call and the peer's answer).
    pub last_error: String,
}

impl PeerRecord {
    /// The URL of one of the peer's module interfaces.
    pub fn endpoint(&self, module: &ModuleId, role: &InterfaceRole) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|e| &e.identifier == module && (module == &ModuleId::Credentials || &e.role == role))
            .map(|e| e.url.as_str())
    }

    /// The parties of the peer that play `role`.
    pub fn parties(&self, role: &Role) -> Vec<PartyRef> {
        self.roles
            .iter()
            .filter(|r| &r.role == role)
            .map(CredentialsRole::party)
            .collect()
    }

    /// Whether the peer hosts `party` in `role`.
    pub fn hosts(&self, party: &PartyRef, role: &Role) -> bool {
        self.roles.iter().any(|r| &r.role == role && &r.party() == party)
    }

    /// What the operator sees: no tokens.
    pub fn view(&self) -> PeerView {
        PeerView {
            id: self.id.clone(),
            parties: self
                .roles
                .iter()
                .map(|r| format!("{} {}", r.role, r.party()))
                .collect(),
            name: self
                .roles
                .first()
                .map(|r| r.business_details.name.as_str().to_owned())
                .unwrap_or_default(),
            versions_url: self.versions_url.clone(),
            version: self.version.as_str().to_owned(),
            modules: self
                .endpoints
                .iter()
                .map(|e| format!("{} {}", e.identifier, e.role))
                .collect(),
            compat: self.compat,
            registered_at: self.registered_at,
            updated_at: self.updated_at,
            initiated_by_us: self.initiated_by_us,
            deviations: self.deviations.clone(),
            unauthorized: self.unauthorized.clone(),
        }
    }
}

/// A peer as shown by the operator API and `peers list` (tokens left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    /// Peer id (`CC-PID`).
    pub id: String,
    /// `ROLE CC-PID` for each role the peer hosts.
    pub parties: Vec<String>,
    /// Business name of its first role.
    pub name: String,
    /// Its versions URL.
    pub versions_url: String,
    /// The version in use.
    pub version: String,
    /// `module ROLE` for each endpoint it offers.
    pub modules: Vec<String>,
    /// Compatibility switches.
    pub compat: PeerCompat,
    /// Registration time.
    pub registered_at: DateTime,
    /// Last change.
    pub updated_at: DateTime,
    /// Whether we started the registration.
    pub initiated_by_us: bool,
    /// Deviations from OCPI 2.2.1 we tolerate from this peer: kind, first seen, example.
    #[serde(default)]
    pub deviations: Vec<Deviation>,
    /// Since when and why the peer refuses our token (401/403), `null` while it accepts it.
    #[serde(default)]
    pub unauthorized: Option<Unauthorized>,
}

/// A token A we issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Invitation id.
    pub id: String,
    /// Hash of token A.
    pub token: TokenHash,
    /// Issue time.
    pub created_at: DateTime,
    /// Expiry.
    pub expires_at: DateTime,
}

/// A registration we started and have not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRegistration {
    /// Its id.
    pub id: String,
    /// Hash of token B.
    pub token: TokenHash,
    /// Start time.
    pub created_at: DateTime,
}

/// Who a presented token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenOwner {
    /// A registered peer (token B or C, current, grace or pending).
    Peer {
        /// The peer id.
        id: String,
    },
    /// An invitation (token A).
    Invitation {
        /// The invitation id.
        id: String,
    },
    /// A registration we initiated (token B while the handshake runs).
    Pending {
        /// The pending registration id.
        id: String,
    },
}

/// The store key of a peer.
pub fn peer_key(id: &str) -> Vec<u8> {
    key([id.to_ascii_lowercase()])
}

/// The store key of a token hash.
pub fn token_key(hash: TokenHash) -> Vec<u8> {
    hash.to_hex().into_bytes()
}

/// Who authenticated a request.
#[derive(Debug, Clone)]
pub enum Authenticated {
    /// A registered peer.
    Peer(Arc<PeerRecord>),
    /// The holder of one of our invitations (token A).
    Invitation(String),
    /// The responder of a registration we started (token B before registration completes).
    Pending(String),
}

/// A shared snapshot of every peer.
pub type PeerList = Arc<Vec<Arc<PeerRecord>>>;

/// Reads and caches peer records; every write goes through [`PeerStore::write`], which clears the
/// cache.
#[derive(Debug, Clone)]
pub struct PeerStore {
    store: StoreHandle,
    cache: Arc<RwLock<BTreeMap<String, Arc<PeerRecord>>>>,
    all: Arc<RwLock<Option<PeerList>>>,
}

impl PeerStore {
    /// Peers in `store`.
    pub fn new(store: StoreHandle) -> Self {
        Self {
            store,
            cache: Arc::new(RwLock::new(BTreeMap::new())),
            all: Arc::new(RwLock::new(None)),
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// A peer by id (case-insensitive).
    pub fn get(&self, id: &str) -> Result<Option<Arc<PeerRecord>>, StoreError> {
        let k = id.to_ascii_lowercase();
        if let Some(p) = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&k)
        {
            return Ok(Some(Arc::clone(p)));
        }
        let Some(p) = PEER_RECORDS.get(&self.store, &peer_key(id))? else {
            return Ok(None);
        };
        let p = Arc::new(p);
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(k, Arc::clone(&p));
        Ok(Some(p))
    }

    /// The peer that hosts `party` in `role` (the owner of a token, the CSP of a session), if any.
    pub fn hosting(&self, party: &PartyRef, role: &Role) -> Result<Option<Arc<PeerRecord>>, StoreError> {
        Ok(self.all()?.iter().find(|p| p.hosts(party, role)).cloned())
    }

    /// Every peer, by id.
    pub fn list(&self) -> Result<Vec<PeerRecord>, StoreError> {
        Ok(PEER_RECORDS
            .all(&self.store, &[])?
            .into_iter()
            .map(|(_, p)| p)
            .collect())
    }

    /// Every peer, from a cache that every write clears (for the hot path of pushes).
    pub fn all(&self) -> Result<PeerList, StoreError> {
        if let Some(a) = self
            .all
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            return Ok(Arc::clone(a));
        }
        let list: Arc<Vec<Arc<PeerRecord>>> = Arc::new(self.list()?.into_iter().map(Arc::new).collect());
        *self
            .all
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&list));
        Ok(list)
    }

    /// Runs a transaction that changes peer records, then clears the cache.
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        let r = self.store.transact(f);
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        *self
            .all
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        r
    }

    /// Looks up a presented token. `now` decides grace-token and invitation expiry.
    pub fn authenticate(
        &self,
        token: &CredentialsToken,
        now: DateTime,
    ) -> Result<Option<Authenticated>, StoreError> {
        let hash = TokenHash::of(token);
        let Some(owner) = TOKEN_OWNERS.get(&self.store, &token_key(hash))? else {
            return Ok(None);
        };
        match owner {
            TokenOwner::Peer { id } => {
                let Some(peer) = self.get(&id)? else {
                    return Ok(None);
                };
                if peer.token_in == hash || peer.pending_token_in == Some(hash) {
                    return Ok(Some(Authenticated::Peer(peer)));
                }
                match peer.previous_token_in {
                    Some(g) if g.hash == hash && g.valid_until > now => Ok(Some(Authenticated::Peer(peer))),
                    _ => Ok(None),
                }
            }
            TokenOwner::Invitation { id } => {
                let inv: Option<Invitation> = INVITATION_RECORDS.get(&self.store, &key([&id]))?;
                Ok(inv
                    .filter(|i| i.token == hash && i.expires_at > now)
                    .map(|i| Authenticated::Invitation(i.id)))
            }
            TokenOwner::Pending { id } => {
                let p: Option<PendingRegistration> = PENDING_RECORDS.get(&self.store, &key([&id]))?;
                Ok(p.filter(|p| p.token == hash)
                    .map(|p| Authenticated::Pending(p.id)))
            }
        }
    }

    /// Records that peer `id` deviated from OCPI 2.2.1 in `kind` way, `example` saying how (no
    /// tokens or bodies). The first time per peer and kind, the deviation is stored on the peer's
    /// record and logged at WARN; after that this is one cached read. Returns whether this was the
    /// first time. A store failure is logged here and reported as `false`.
    pub fn record_deviation(&self, id: &str, kind: DeviationKind, example: &str) -> bool {
        match self.get(id) {
            Ok(Some(p)) if p.deviations.iter().any(|d| d.kind == kind) => return false,
            Ok(Some(_)) => {}
            Ok(None) => return false,
            Err(e) => {
                tracing::error!(peer.id = %id, error = %e, "cannot record a peer's deviation");
                return false;
            }
        }
        let recorded = self.write(|tx| {
            let Some(mut p) = PEER_RECORDS.get(tx, &peer_key(id))? else {
                return Ok::<_, StoreError>(None);
            };
            if p.deviations.iter().any(|d| d.kind == kind) {
                return Ok(None);
            }
            let d = Deviation::now(kind, example);
            p.deviations.push(d.clone());
            PEER_RECORDS.put(tx, peer_key(id), &p)?;
            Ok(Some(d))
        });
        match recorded {
            Ok(Some(d)) => {
                crate::deviations::log_first(id, &d);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::error!(peer.id = %id, error = %e, "cannot record a peer's deviation");
                false
            }
        }
    }

    /// Marks peer `id` as refusing our token (`Some(error)`) or accepting it again (`None`). Writes
    /// only when that changes (or the error reads differently), logging the change once: WARN when
    /// the peer starts refusing, INFO when it accepts again. A store failure is logged here.
    pub fn set_unauthorized(&self, id: &str, error: Option<&str>) {
        let unchanged = |p: &PeerRecord| match (&p.unauthorized, error) {
            (None, None) => true,
            (Some(u), Some(e)) => u.last_error == e,
            _ => false,
        };
        match self.get(id) {
            Ok(Some(p)) if !unchanged(&p) => {}
            Ok(_) => return,
            Err(e) => {
                tracing::error!(peer.id = %id, error = %e, "cannot record whether a peer accepts our token");
                return;
            }
        }
        let changed = self.write(|tx| {
            let Some(mut p) = PEER_RECORDS.get(tx, &peer_key(id))? else {
                return Ok::<_, StoreError>(None);
            };
            if unchanged(&p) {
                return Ok(None);
            }
            let was = p.unauthorized.take();
            p.unauthorized = error.map(|e| Unauthorized {
                since: was.as_ref().map_or_else(DateTime::now, |w| w.since),
                last_error: e.to_owned(),
            });
            PEER_RECORDS.put(tx, peer_key(id), &p)?;
            Ok(Some((was, p.unauthorized)))
        });
        match changed {
            Ok(Some((None, Some(now)))) => {
                tracing::warn!(peer.id = %id, error = %now.last_error, "peer refuses our token: its pushes are kept and retried, the peer shows as unauthorized until a call succeeds");
            }
            Ok(Some((Some(was), None))) => {
                tracing::info!(peer.id = %id, since = %was.since, "peer accepts our token again");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(peer.id = %id, error = %e, "cannot record whether a peer accepts our token");
            }
        }
    }

    /// CR-24: the first request with the current inbound token ends the grace of the previous one.
    pub fn end_grace_if_current(
        &self,
        peer: &PeerRecord,
        token: &CredentialsToken,
    ) -> Result<(), StoreError> {
        let hash = TokenHash::of(token);
        let Some(previous) = peer.previous_token_in else {
            return Ok(());
        };
        if peer.token_in != hash {
            return Ok(());
        }
        let id = peer.id.clone();
        self.write(|tx| {
            let Some(mut p) = PEER_RECORDS.get(tx, &peer_key(&id))? else {
                return Ok(());
            };
            if p.previous_token_in.map(|g| g.hash) == Some(previous.hash) {
                p.previous_token_in = None;
                tx.delete(Space::TOKENS, token_key(previous.hash));
                PEER_RECORDS.put(tx, peer_key(&id), &p)?;
            }
            Ok::<_, StoreError>(())
        })
    }
}

/// Adds the writes that store `peer` and index all its inbound tokens.
pub fn put_peer(tx: &mut Tx<'_>, peer: &PeerRecord) -> Result<(), StoreError> {
    let owner = TokenOwner::Peer { id: peer.id.clone() };
    TOKEN_OWNERS.put(tx, token_key(peer.token_in), &owner)?;
    if let Some(g) = peer.previous_token_in {
        TOKEN_OWNERS.put(tx, token_key(g.hash), &owner)?;
    }
    if let Some(h) = peer.pending_token_in {
        TOKEN_OWNERS.put(tx, token_key(h), &owner)?;
    }
    PEER_RECORDS.put(tx, peer_key(&peer.id), peer)?;
    Ok(())
}

/// Adds the writes that remove `peer` and every inbound token of it.
pub fn delete_peer(tx: &mut Tx<'_>, peer: &PeerRecord) {
    tx.delete(Space::TOKENS, token_key(peer.token_in));
    if let Some(g) = peer.previous_token_in {
        tx.delete(Space::TOKENS, token_key(g.hash));
    }
    if let Some(h) = peer.pending_token_in {
        tx.delete(Space::TOKENS, token_key(h));
    }
    tx.delete(Space::PEERS, peer_key(&peer.id));
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use roaming_types::modules::versions::VersionNumber;

    use super::*;

    /// A registered peer with no roles or endpoints.
    pub(crate) fn peer(id: &str) -> PeerRecord {
        let now = DateTime::now();
        PeerRecord {
            id: id.to_owned(),
            roles: Vec::new(),
            versions_url: "https://peer.example/ocpi/versions".to_owned(),
            version: VersionNumber::V2_2_1,
            endpoints: Vec::new(),
            token_out: CredentialsToken::new("out").unwrap(),
            token_in: TokenHash::of(&CredentialsToken::new("in").unwrap()),
            previous_token_in: None,
            pending_token_in: None,
            compat: PeerCompat::default(),
            registered_at: now,
            updated_at: now,
            initiated_by_us: false,
            deviations: Vec::new(),
            unauthorized: None,
        }
    }

    /// A log writer the tests read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `f` logs at INFO and above, as text lines.
    pub(crate) fn logs_of(f: impl FnOnce()) -> String {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = logs.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_peer_is_unauthorized_from_its_first_refusal_until_a_call_succeeds() {
        let store = StoreHandle::memory();
        let peers = PeerStore::new(store.clone());
        peers.write(|tx| put_peer(tx, &peer("NL-ONE"))).unwrap();
        let text = logs_of(|| {
            peers.set_unauthorized("NL-ONE", Some("HTTP 403"));
            let since = peers
                .get("NL-ONE")
                .unwrap()
                .unwrap()
                .unauthorized
                .clone()
                .unwrap()
                .since;
            peers.set_unauthorized("NL-ONE", Some("HTTP 403"));
            peers.set_unauthorized("NL-ONE", Some("HTTP 401"));
            // Durable, and `since` is the first refusal; the error is the latest.
            let u = PeerStore::new(store.clone())
                .get("NL-ONE")
                .unwrap()
                .unwrap()
                .unauthorized
                .clone();
            assert_eq!(
                u,
                Some(Unauthorized {
                    since,
                    last_error: "HTTP 401".to_owned()
                })
            );
            assert_eq!(peers.get("NL-ONE").unwrap().unwrap().view().unauthorized, u);
            peers.set_unauthorized("NL-ONE", None);
            peers.set_unauthorized("NL-ONE", None);
            peers.set_unauthorized("NL-NONE", Some("HTTP 403"));
        });
        assert_eq!(peers.get("NL-ONE").unwrap().unwrap().unauthorized, None);
        assert!(peers.get("NL-NONE").unwrap().is_none());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "one warning when it starts, one line when it ends: {text}"
        );
        assert!(
            lines[0].contains("WARN") && lines[0].contains("peer refuses our token"),
            "{text}"
        );
        assert!(
            lines[1].contains("INFO") && lines[1].contains("accepts our token again"),
            "{text}"
        );
    }
}
