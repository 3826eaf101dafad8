//! What we start once a peer is registered: token rotation (credentials PUT, CR-20…CR-24) and
//! unregistration (credentials DELETE, CR-30, CR-31). The peer's answers go through the same checks
//! as a handshake's ([`super::read_peer_api`]).

use http::Method;
use roaming_types::DateTime;
use roaming_types::modules::credentials::Credentials;
use roaming_types::modules::versions::ModuleId;

use super::peers::{GraceToken, PeerView, delete_peer, peer_key, put_peer, token_key};
use super::{ApiRead, HandshakeError, read_peer_api};
use crate::client::{Auth, Call};
use crate::core::Core;
use crate::headers::new_id;
use crate::registration::peers::PEER_RECORDS;
use crate::secret::{TokenHash, generate_token};
use crate::store::{Space, StoreError};

/// Rotates tokens with a peer from our side (credentials PUT, CR-20/CR-23).
pub async fn rotate(core: &Core, peer_id: &str) -> Result<PeerView, HandshakeError> {
    let peer = core
        .peers
        .get(peer_id)?
        .ok_or_else(|| HandshakeError::UnknownPeer(peer_id.to_owned()))?;
    let correlation_id = new_id();
    let new_in = generate_token();
    let new_hash = TokenHash::of(&new_in);
    // The new token must work before the PUT: the peer re-reads our versions with it (CR-21).
    let id = peer.id.clone();
    core.peers.write(|tx| {
        let Some(mut p) = PEER_RECORDS.get(tx, &peer_key(&id))? else {
            return Err(HandshakeError::UnknownPeer(id.clone()));
        };
        if let Some(old) = p.pending_token_in.take() {
            tx.delete(Space::TOKENS, token_key(old));
        }
        p.pending_token_in = Some(new_hash);
        put_peer(tx, &p)?;
        Ok(())
    })?;
    core.store.durable().await?;
    let url = peer
        .endpoint(
            &ModuleId::Credentials,
            &roaming_types::modules::versions::InterfaceRole::Sender,
        )
        .map(str::to_owned);
    let result = match url {
        None => Err(HandshakeError::MissingModule("credentials".to_owned())),
        Some(url) => {
            let ours = core.our_credentials(new_in.clone());
            let answer = core
                .client
                .call(
                    Call::new(Method::PUT, &url).body(&ours),
                    Auth {
                        token: &peer.token_out,
                        raw: peer.compat.raw_token_out,
                    },
                    None,
                    &correlation_id,
                )
                .await;
            // A peer refusing our current token is marked unauthorized like on any other call.
            core.observe_call(&peer.id, &answer);
            answer
                .and_then(|a| a.bind(core.deviation_sink(&peer.id)).data::<Credentials>(&url))
                .map_err(|source| HandshakeError::Peer {
                    step: "PUT credentials",
                    source,
                })
        }
    };
    // Re-read the peer's endpoints with the token it returned (they may have changed too).
    let result = match result {
        Ok(theirs) => {
            let api = read_peer_api(
                core,
                ApiRead {
                    versions_url: theirs.url.as_str(),
                    token: &theirs.token,
                    raw: peer.compat.raw_token_out,
                    detect_raw: false,
                    wanted: Some(&peer.version),
                    correlation_id: &correlation_id,
                    timeout: core.config.client_timeout,
                    sink: &core.deviation_sink(&peer.id),
                },
            )
            .await;
            api.map(|api| (theirs, api))
        }
        Err(e) => Err(e),
    };
    let now = DateTime::now();
    let grace = core.rotation_grace_until(now);
    let outcome = core.peers.write(|tx| {
        let Some(mut p) = PEER_RECORDS.get(tx, &peer_key(&id))? else {
            return Err(HandshakeError::UnknownPeer(id.clone()));
        };
        match &result {
            Ok((theirs, api)) => {
                delete_peer(tx, &p);
                p.previous_token_in = Some(GraceToken {
                    hash: p.token_in,
                    valid_until: grace,
                });
                p.token_in = new_hash;
                p.pending_token_in = None;
                p.token_out = theirs.token.clone();
                p.roles = theirs.roles.clone();
                p.versions_url = theirs.url.as_str().to_owned();
                p.endpoints = api.details.endpoints.clone();
                p.updated_at = now;
                put_peer(tx, &p)?;
                Ok(p.view())
            }
            Err(_) => {
                // Roll back the offered token; the old ones stay valid.
                if p.pending_token_in == Some(new_hash) {
                    tx.delete(Space::TOKENS, token_key(new_hash));
                    p.pending_token_in = None;
                    PEER_RECORDS.put(tx, peer_key(&id), &p)?;
                }
                Ok(p.view())
            }
        }
    });
    core.store.durable().await?;
    let view = outcome?;
    match result {
        Ok(_) => {
            tracing::info!(peer.id = %id, correlation_id = %correlation_id, "tokens rotated (we initiated)");
            Ok(view)
        }
        Err(e) => Err(e),
    }
}

/// Unregisters a peer from our side (credentials DELETE, CR-30). With `force`, the local record is
/// removed even if the peer cannot be told.
pub async fn disconnect(core: &Core, peer_id: &str, force: bool) -> Result<(), HandshakeError> {
    let peer = core
        .peers
        .get(peer_id)?
        .ok_or_else(|| HandshakeError::UnknownPeer(peer_id.to_owned()))?;
    let correlation_id = new_id();
    let url = peer
        .endpoint(
            &ModuleId::Credentials,
            &roaming_types::modules::versions::InterfaceRole::Sender,
        )
        .map(str::to_owned);
    let remote = match url {
        None => Err(HandshakeError::MissingModule("credentials".to_owned())),
        Some(url) => core
            .client
            .call(
                Call::new(Method::DELETE, &url),
                Auth {
                    token: &peer.token_out,
                    raw: peer.compat.raw_token_out,
                },
                None,
                &correlation_id,
            )
            .await
            .map(|_| ())
            .or_else(|e| {
                // It no longer accepts our token (401, or 403 as some send) or has forgotten us
                // (405, CR-31): either way there is nothing left to tell it.
                if e.is_auth_refused() || e.http_status() == Some(405) {
                    tracing::info!(peer.id = %peer.id, error = %e, "the peer no longer knows us; unregistering locally");
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|source| HandshakeError::Peer {
                step: "DELETE credentials",
                source,
            }),
    };
    if let Err(e) = remote {
        if !force {
            return Err(e);
        }
        tracing::warn!(peer.id = %peer.id, error = %e, "peer not told about the disconnection; removed locally (--force)");
    }
    let id = peer.id.clone();
    core.peers.write(|tx| {
        if let Some(p) = PEER_RECORDS.get(tx, &peer_key(&id))? {
            delete_peer(tx, &p);
        }
        Ok::<_, StoreError>(())
    })?;
    core.store.durable().await?;
    tracing::info!(peer.id = %id, "peer unregistered (we initiated)");
    core.notify_unregistered(&id);
    Ok(())
}
