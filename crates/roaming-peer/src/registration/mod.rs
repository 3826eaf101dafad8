//! Registration and credentials (checklist §5, CR-01…CR-40): the token A → B → C handshake as
//! initiator ([`connect`]) and as responder ([`respond_post`]), rotation and endpoint change from
//! either side ([`rotate`], [`respond_put`]) and unregistration ([`disconnect`], [`respond_delete`]).
//!
//! Every state change is one atomic store batch, made durable before it is acknowledged; a handshake
//! that fails at any step leaves the state it started from (CR-14).

pub mod credentials;
mod initiated;
pub mod peers;

pub use initiated::{disconnect, rotate};

use std::sync::Arc;

use http::Method;
use roaming_types::DateTime;
use roaming_types::auth::CredentialsToken;
use roaming_types::modules::credentials::Credentials;
use roaming_types::modules::versions::{ModuleId, Version, VersionDetails, VersionNumber, highest_mutual};
use serde::Serialize;

use crate::client::{Auth, Call, ClientError};
use crate::core::Core;
use crate::deviations::{Collector, DeviationSink};
use crate::error::OcpiError;
use crate::headers::new_id;
use crate::registration::peers::{INVITATION_RECORDS, PEER_RECORDS, PENDING_RECORDS, TOKEN_OWNERS};
use crate::secret::{TokenHash, generate_token};
use crate::store::{Space, StoreError, key};
use peers::{
    Authenticated, GraceToken, INVITATIONS, Invitation, PENDING, PeerCompat, PeerRecord, PeerView,
    PendingRegistration, TokenOwner, delete_peer, peer_key, put_peer, token_key,
};

/// The versions we speak. 2.2.1 only; the DTOs of other versions would be separate codecs.
pub const SUPPORTED_VERSIONS: &[VersionNumber] = &[VersionNumber::V2_2_1];

/// How long an invitation (token A) stays usable.
pub const INVITATION_TTL: chrono::Duration = chrono::Duration::days(7);

/// What `peers invite` prints: the out-of-band message for the other operator (step 0 of §5.2).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct InvitationMessage {
    /// Our versions URL.
    pub versions_url: String,
    /// Token A, to be handed over securely.
    pub token: String,
    /// When token A stops working.
    pub expires_at: DateTime,
}

/// A failure of a registration step we run as a client.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The peer could not be called or answered badly.
    #[error("{step}: {source}")]
    Peer {
        /// Which step.
        step: &'static str,
        /// What happened.
        source: ClientError,
    },
    /// No version in common (→ 3002).
    #[error("no common OCPI version: the peer offers {offered}, we speak {ours}")]
    NoCommonVersion {
        /// The peer's versions.
        offered: String,
        /// Ours.
        ours: String,
    },
    /// A required module is missing (→ 3003).
    #[error("the peer's version details lack a {0} endpoint")]
    MissingModule(String),
    /// The peer's credentials do not fit (no counterpart role, duplicate roles…).
    #[error("the peer's credentials are not acceptable: {0}")]
    BadCredentials(String),
    /// The peer is already registered.
    #[error("peer {0} is already registered; disconnect it first")]
    AlreadyRegistered(String),
    /// No such peer.
    #[error("no peer {0}")]
    UnknownPeer(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HandshakeError {
    /// The OCPI error to answer with when this happens while we are the responder (CR-10, CR-11).
    fn into_responder_error(self) -> OcpiError {
        match self {
            Self::Peer { .. } => OcpiError::UnableToUseClientApi(self.to_string()),
            Self::NoCommonVersion { .. } => OcpiError::UnsupportedVersion(self.to_string()),
            Self::MissingModule(_) => OcpiError::NoMatchingEndpoints(self.to_string()),
            Self::BadCredentials(m) => OcpiError::InvalidParameters(m),
            Self::AlreadyRegistered(_) => OcpiError::RegistrationState(self.to_string()),
            Self::UnknownPeer(_) => OcpiError::RegistrationState(self.to_string()),
            Self::Store(e) => OcpiError::from(e),
        }
    }
}

/// Issues a new invitation (token A).
pub async fn invite(core: &Core) -> Result<InvitationMessage, StoreError> {
    let token = generate_token();
    let now = DateTime::now();
    let inv = Invitation {
        id: new_id(),
        token: TokenHash::of(&token),
        created_at: now,
        expires_at: now.plus(INVITATION_TTL),
    };
    core.peers.write(|tx| {
        INVITATION_RECORDS.put(tx, key([&inv.id]), &inv)?;
        TOKEN_OWNERS.put(
            tx,
            token_key(inv.token),
            &TokenOwner::Invitation { id: inv.id.clone() },
        )?;
        Ok::<_, StoreError>(())
    })?;
    core.store.durable().await?;
    tracing::info!(invitation.id = %inv.id, "invitation issued");
    Ok(InvitationMessage {
        versions_url: core.versions_url(),
        token: token.expose().to_owned(),
        expires_at: inv.expires_at,
    })
}

/// What we learned from a peer's versions and details.
#[derive(Debug, Clone)]
struct PeerApi {
    version: VersionNumber,
    details: VersionDetails,
    raw_token: bool,
}

/// What [`read_peer_api`] reads: where, with which token and how (one per handshake step).
struct ApiRead<'a> {
    /// The peer's versions URL.
    versions_url: &'a str,
    /// The token to call it with.
    token: &'a CredentialsToken,
    /// Send the token raw (T-15 compatibility).
    raw: bool,
    /// On a 401 with a base64 header, retry with the raw token and remember which one worked.
    detect_raw: bool,
    /// The version to read; the highest mutual one when `None` (V-10).
    wanted: Option<&'a VersionNumber>,
    /// The correlation id of the handshake.
    correlation_id: &'a str,
    /// How long each answer may take.
    timeout: std::time::Duration,
    /// Where the deviations the answers show go (the peer's, or the handshake's collector).
    sink: &'a Arc<dyn DeviationSink>,
}

/// Reads the peer's versions (choosing `wanted` or the highest mutual one, V-10) and that version's
/// details, and checks the minimum modules (CR-11). With `detect_raw`, a 401 with a base64 header is
/// retried with the raw token (T-15), and the answer tells which one worked.
async fn read_peer_api(core: &Core, read: ApiRead<'_>) -> Result<PeerApi, HandshakeError> {
    let ApiRead {
        versions_url,
        token,
        raw,
        detect_raw,
        wanted,
        correlation_id,
        timeout,
        sink,
    } = read;
    let get = |url: String, raw: bool| async move {
        core.client
            .call(
                Call::new(Method::GET, &url).timeout(timeout),
                Auth { token, raw },
                None,
                correlation_id,
            )
            .await
            .map(|a| a.bind(Arc::clone(sink)))
    };
    let (answer, raw) = match get(versions_url.to_owned(), raw).await {
        Err(e) if detect_raw && !raw && e.http_status() == Some(401) => {
            let a = get(versions_url.to_owned(), true)
                .await
                .map_err(|source| HandshakeError::Peer {
                    step: "GET versions",
                    source,
                })?;
            (a, true)
        }
        other => (
            other.map_err(|source| HandshakeError::Peer {
                step: "GET versions",
                source,
            })?,
            raw,
        ),
    };
    let versions: Vec<Version> = answer.data(versions_url).map_err(|source| HandshakeError::Peer {
        step: "GET versions",
        source,
    })?;
    let offered = || {
        versions
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match wanted {
        Some(w) => versions
            .iter()
            .find(|v| &v.version == w)
            .map(|v| v.version.clone()),
        None => highest_mutual(SUPPORTED_VERSIONS, versions.iter().map(|v| &v.version)),
    };
    let Some(version) = chosen else {
        return Err(HandshakeError::NoCommonVersion {
            offered: offered(),
            ours: SUPPORTED_VERSIONS
                .iter()
                .map(VersionNumber::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let details_url = versions
        .iter()
        .find(|v| v.version == version)
        .map(|v| v.url.as_str().to_owned())
        .unwrap_or_default();
    let answer = get(details_url.clone(), raw)
        .await
        .map_err(|source| HandshakeError::Peer {
            step: "GET version details",
            source,
        })?;
    let details: VersionDetails = answer.data(&details_url).map_err(|source| HandshakeError::Peer {
        step: "GET version details",
        source,
    })?;
    if details
        .endpoint(
            &ModuleId::Credentials,
            &roaming_types::modules::versions::InterfaceRole::Sender,
        )
        .is_none()
    {
        return Err(HandshakeError::MissingModule("credentials".to_owned()));
    }
    Ok(PeerApi {
        version,
        details,
        raw_token: raw,
    })
}

/// Checks the peer's credentials and returns the id we give it: the `CC-PID` of its first role that
/// is our counterpart (CPO ↔ EMSP).
fn peer_id_for(core: &Core, credentials: &Credentials) -> Result<String, HandshakeError> {
    credentials
        .validate()
        .map_err(|e| HandshakeError::BadCredentials(e.to_string()))?;
    let counterpart = core.counterpart_role();
    credentials
        .roles
        .iter()
        .find(|r| r.role == counterpart)
        .map(|r| r.party().to_string())
        .ok_or_else(|| {
            HandshakeError::BadCredentials(format!("no {counterpart} role among the peer's roles"))
        })
}

/// Registers with a peer that gave us `versions_url` and token A (we are the initiator, §5.2).
pub async fn connect(
    core: &Core,
    versions_url: &str,
    token_a: &CredentialsToken,
) -> Result<PeerView, HandshakeError> {
    let correlation_id = new_id();
    tracing::info!(peer.versions_url = %versions_url, correlation_id = %correlation_id, "registering with a peer");
    // The peer has no record yet: what it deviates in goes into the record it gets.
    let collector = Collector::shared();
    let sink: Arc<dyn DeviationSink> = collector.clone();
    // Steps 1–2: versions and details with token A.
    let api = read_peer_api(
        core,
        ApiRead {
            versions_url,
            token: token_a,
            raw: false,
            detect_raw: true,
            wanted: None,
            correlation_id: &correlation_id,
            timeout: core.config.client_timeout,
            sink: &sink,
        },
    )
    .await?;
    let credentials_url = api
        .details
        .endpoint(
            &ModuleId::Credentials,
            &roaming_types::modules::versions::InterfaceRole::Sender,
        )
        .map(|u| u.as_str().to_owned())
        .unwrap_or_default();
    // Step 3: token B, valid for the responder's versions/details calls while we wait.
    let token_b = generate_token();
    let pending = PendingRegistration {
        id: new_id(),
        token: TokenHash::of(&token_b),
        created_at: DateTime::now(),
    };
    core.peers.write(|tx| {
        PENDING_RECORDS.put(tx, key([&pending.id]), &pending)?;
        TOKEN_OWNERS.put(
            tx,
            token_key(pending.token),
            &TokenOwner::Pending {
                id: pending.id.clone(),
            },
        )?;
        Ok::<_, StoreError>(())
    })?;
    core.store.durable().await?;
    let result = finish_connect(
        core,
        &api,
        &credentials_url,
        token_a,
        &token_b,
        &correlation_id,
        &sink,
    )
    .await;
    // Whatever happened, the pending registration ends here; on success it becomes the peer record
    // in the same batch.
    let outcome = match result {
        Ok((peer_credentials, peer_id)) => {
            let now = DateTime::now();
            let record = PeerRecord {
                id: peer_id,
                roles: peer_credentials.roles.clone(),
                versions_url: versions_url.to_owned(),
                version: api.version.clone(),
                endpoints: api.details.endpoints.clone(),
                token_out: peer_credentials.token.clone(),
                token_in: TokenHash::of(&token_b),
                previous_token_in: None,
                pending_token_in: None,
                compat: PeerCompat {
                    raw_token_out: api.raw_token,
                    raw_token_in: api.raw_token,
                    lenient_datetime: false,
                },
                registered_at: now,
                updated_at: now,
                initiated_by_us: true,
                deviations: collector.take(),
                unauthorized: None,
            };
            core.peers.write(|tx| {
                if tx.get(Space::PEERS, &peer_key(&record.id))?.is_some() {
                    return Err(HandshakeError::AlreadyRegistered(record.id.clone()));
                }
                tx.delete(PENDING, key([&pending.id]));
                tx.delete(Space::TOKENS, token_key(pending.token));
                put_peer(tx, &record)?;
                Ok(())
            })?;
            Ok(record)
        }
        Err(e) => {
            core.peers.write(|tx| {
                tx.delete(PENDING, key([&pending.id]));
                tx.delete(Space::TOKENS, token_key(pending.token));
                Ok::<_, StoreError>(())
            })?;
            Err(e)
        }
    };
    core.store.durable().await?;
    let record = outcome?;
    tracing::info!(peer.id = %record.id, version = %record.version, correlation_id = %correlation_id, "peer registered (we initiated)");
    for d in &record.deviations {
        crate::deviations::log_first(&record.id, d);
    }
    core.notify_registered(&record);
    Ok(record.view())
}

async fn finish_connect(
    core: &Core,
    api: &PeerApi,
    credentials_url: &str,
    token_a: &CredentialsToken,
    token_b: &CredentialsToken,
    correlation_id: &str,
    sink: &Arc<dyn DeviationSink>,
) -> Result<(Credentials, String), HandshakeError> {
    let ours = core.our_credentials(token_b.clone());
    // Step 4: POST our credentials with token A; the responder calls us back with token B.
    let answer = core
        .client
        .call(
            Call::new(Method::POST, credentials_url).body(&ours),
            Auth {
                token: token_a,
                raw: api.raw_token,
            },
            None,
            correlation_id,
        )
        .await
        .map(|a| a.bind(Arc::clone(sink)))
        .map_err(|source| HandshakeError::Peer {
            step: "POST credentials",
            source,
        })?;
    let theirs: Credentials = answer
        .data(credentials_url)
        .map_err(|source| HandshakeError::Peer {
            step: "POST credentials",
            source,
        })?;
    let id = peer_id_for(core, &theirs)?;
    Ok((theirs, id))
}

/// Answers a credentials POST with token A (we are the responder, §5.2 steps 5–8).
pub async fn respond_post(
    core: &Core,
    invitation_id: &str,
    version: &VersionNumber,
    body: Credentials,
    correlation_id: &str,
) -> Result<Credentials, OcpiError> {
    let peer_id = peer_id_for(core, &body).map_err(HandshakeError::into_responder_error)?;
    if core.peers.get(&peer_id)?.is_some() {
        return Err(OcpiError::RegistrationState(format!(
            "{peer_id} is already registered (CR-12)"
        )));
    }
    // Steps 5–6: their versions and details with token B, within the handshake timeout (CR-14).
    let collector = Collector::shared();
    let sink: Arc<dyn DeviationSink> = collector.clone();
    let api = read_peer_api(
        core,
        ApiRead {
            versions_url: body.url.as_str(),
            token: &body.token,
            raw: false,
            detect_raw: true,
            wanted: Some(version),
            correlation_id,
            timeout: core.config.handshake_timeout,
            sink: &sink,
        },
    )
    .await
    .map_err(HandshakeError::into_responder_error)?;
    // Steps 7–8: token C, stored with the peer in the same batch that consumes token A.
    let token_c = generate_token();
    let now = DateTime::now();
    let record = PeerRecord {
        id: peer_id.clone(),
        roles: body.roles.clone(),
        versions_url: body.url.as_str().to_owned(),
        version: api.version.clone(),
        endpoints: api.details.endpoints.clone(),
        token_out: body.token.clone(),
        token_in: TokenHash::of(&token_c),
        previous_token_in: None,
        pending_token_in: None,
        compat: PeerCompat {
            raw_token_out: api.raw_token,
            raw_token_in: api.raw_token,
            lenient_datetime: false,
        },
        registered_at: now,
        updated_at: now,
        initiated_by_us: false,
        deviations: collector.take(),
        unauthorized: None,
    };
    core.peers.write(|tx| {
        let inv: Option<Invitation> = INVITATION_RECORDS.get(tx, &key([invitation_id]))?;
        let Some(inv) = inv else {
            return Err(OcpiError::Unauthorized(
                "the invitation was used or revoked meanwhile".to_owned(),
            ));
        };
        if tx.get(Space::PEERS, &peer_key(&peer_id))?.is_some() {
            return Err(OcpiError::RegistrationState(format!(
                "{peer_id} is already registered (CR-12)"
            )));
        }
        tx.delete(INVITATIONS, key([invitation_id]));
        tx.delete(Space::TOKENS, token_key(inv.token));
        put_peer(tx, &record)?;
        Ok(())
    })?;
    core.store.durable().await?;
    tracing::info!(peer.id = %record.id, version = %record.version, correlation_id, "peer registered (peer initiated)");
    for d in &record.deviations {
        crate::deviations::log_first(&record.id, d);
    }
    core.notify_registered(&record);
    Ok(core.our_credentials(token_c))
}

/// Answers a credentials PUT: the peer rotates tokens or announces changed endpoints (CR-20, CR-21).
pub async fn respond_put(
    core: &Core,
    peer: &PeerRecord,
    version: &VersionNumber,
    body: Credentials,
    correlation_id: &str,
) -> Result<Credentials, OcpiError> {
    let new_id = peer_id_for(core, &body).map_err(HandshakeError::into_responder_error)?;
    if !new_id.eq_ignore_ascii_case(&peer.id) {
        return Err(OcpiError::InvalidParameters(format!(
            "credentials PUT from {} names {new_id}; a party cannot change its identity, unregister instead",
            peer.id
        )));
    }
    // CR-21: re-fetch versions and details with the new token, switching to the version called.
    let api = read_peer_api(
        core,
        ApiRead {
            versions_url: body.url.as_str(),
            token: &body.token,
            raw: peer.compat.raw_token_out,
            detect_raw: false,
            wanted: Some(version),
            correlation_id,
            timeout: core.config.handshake_timeout,
            sink: &core.deviation_sink(&peer.id),
        },
    )
    .await
    .map_err(HandshakeError::into_responder_error)?;
    let token_c = generate_token();
    let now = DateTime::now();
    let grace = core.rotation_grace_until(now);
    let id = peer.id.clone();
    core.peers.write(|tx| {
        let Some(mut p) = PEER_RECORDS.get(tx, &peer_key(&id))? else {
            return Err(OcpiError::RegistrationState("not registered (CR-22)".to_owned()));
        };
        delete_peer(tx, &p);
        p.previous_token_in = Some(GraceToken {
            hash: p.token_in,
            valid_until: grace,
        });
        p.token_in = TokenHash::of(&token_c);
        p.pending_token_in = None;
        p.token_out = body.token.clone();
        p.roles = body.roles.clone();
        p.versions_url = body.url.as_str().to_owned();
        p.version = api.version.clone();
        p.endpoints = api.details.endpoints.clone();
        p.updated_at = now;
        put_peer(tx, &p)?;
        Ok(())
    })?;
    core.store.durable().await?;
    tracing::info!(peer.id = %id, correlation_id, "credentials updated by the peer");
    Ok(core.our_credentials(token_c))
}

/// Answers a credentials DELETE: the peer unregisters; both tokens become invalid (CR-30).
pub async fn respond_delete(core: &Core, peer: &PeerRecord) -> Result<(), OcpiError> {
    let id = peer.id.clone();
    core.peers.write(|tx| {
        if let Some(p) = PEER_RECORDS.get(tx, &peer_key(&id))? {
            delete_peer(tx, &p);
        }
        Ok::<_, OcpiError>(())
    })?;
    core.store.durable().await?;
    tracing::info!(peer.id = %id, "peer unregistered (peer initiated)");
    core.notify_unregistered(&id);
    Ok(())
}

/// Resolves the caller of a request to what the credentials handlers need.
pub fn caller_kind(auth: &Authenticated) -> &'static str {
    match auth {
        Authenticated::Peer(_) => "peer",
        Authenticated::Invitation(_) => "invitation",
        Authenticated::Pending(_) => "pending registration",
    }
}

/// Shared for tests: a peer record by id.
pub fn peer(core: &Core, id: &str) -> Result<Option<Arc<PeerRecord>>, StoreError> {
    core.peers.get(id)
}
