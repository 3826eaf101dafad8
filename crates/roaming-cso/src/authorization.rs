//! The CSO's authorization decision for a token presented at a charger (UC3-1; checklist §10.2).
//!
//! The decision follows the token's `whitelist` exactly (TOK-10, E-15):
//!
//! | whitelist | CSP reachable | CSP unreachable |
//! |---|---|---|
//! | ALWAYS | never asked: allowed when `valid` | same |
//! | ALLOWED | asked only when `cso.authorization.allowed_whitelist = realtime` or the token is not `valid`; else allowed locally | allowed when `valid` |
//! | ALLOWED_OFFLINE | asked | allowed when `valid` (the offline fallback) |
//! | NEVER | asked | refused |
//!
//! A token the CSO has never received is asked of every CSP that offers real-time authorization
//! (`POST {tokens}/{uid}/authorize`); the first that knows it answers, and 404/2004 from all of them
//! means unknown. The real-time call carries LocationReferences for the EVSE (TOK-04) and has a short
//! timeout (TOK-07); the answer's `authorization_reference` is kept for the session (TOK-09). An answer
//! that is not ALLOWED, or that leaves our EVSE out of `location.evse_uids`, refuses.
//!
//! Every decision taken for a charger is remembered for 15 minutes (CMD-03), so that the session the
//! charger then starts gets the right `auth_method` and `authorization_reference` (SES-04, SES-05).

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use roaming_peer::client::{ClientError, join_url};
use roaming_peer::endpoint::Core;
use roaming_peer::registration::peers::PeerRecord;
use roaming_peer::store::{Space, StoreError, key};
use roaming_types::DateTime;
use roaming_types::StatusCode;
use roaming_types::ids::{AuthorizationReference, EvseUid, LocationId};
use roaming_types::modules::cdrs::AuthMethod;
use roaming_types::modules::tokens::{
    AllowedType, AuthorizationInfo, LocationReferences, Token, TokenType, WhitelistType,
};
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};
use serde::{Deserialize, Serialize};

use crate::error::CsoError;
use crate::tokens::Tokens;

/// Decisions taken for chargers, by `<location>\0<evse>\0<type>\0<uid>`.
pub const DECISIONS: Space = Space("cso_auth_decisions");

/// How long a decision is used for the session that follows (CMD-03: 15 minutes).
pub const DECISION_TTL_MINUTES: i64 = 15;

/// How ALLOWED tokens are decided (`cso.authorization.allowed_whitelist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowedPolicy {
    /// Allow valid tokens from the local copy (fast; the default).
    Local,
    /// Ask the CSP in real time, fall back to the local copy when it is unreachable.
    Realtime,
}

impl std::str::FromStr for AllowedPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(Self::Local),
            "realtime" => Ok(Self::Realtime),
            other => Err(format!("{other:?} is not local or realtime")),
        }
    }
}

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DecisionSource {
    /// The CSO's copy of the token (whitelist).
    Local,
    /// The CSP answered in real time.
    RealTime,
    /// The CSP was unreachable; the whitelist rule decided.
    OfflineFallback,
}

/// The outcome of an authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the charger may start.
    pub allowed: bool,
    /// The OCPI verdict (ALLOWED, BLOCKED, EXPIRED, NO_CREDIT, NOT_ALLOWED), when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<AllowedType>,
    /// Where it came from.
    pub source: DecisionSource,
    /// WHITELIST (local) or AUTH_REQUEST (real time) (SES-05).
    pub auth_method: AuthMethod,
    /// The CSP's reference (TOK-09).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<AuthorizationReference>,
    /// The token as the CSO knows it (from its copy or the CSP's answer); `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Token>,
    /// Why, for the operator and the driver's display.
    pub reason: String,
    /// When it was taken.
    pub at: DateTime,
}

/// What a remembered decision is keyed by.
fn decision_key(location: &LocationId, evse: &EvseUid, token_type: &TokenType, uid: &str) -> Vec<u8> {
    key([
        location.to_key(),
        evse.to_key(),
        token_type.as_str().to_ascii_lowercase(),
        uid.to_ascii_lowercase(),
    ])
}

/// The real-time outcome of asking a CSP.
enum Asked {
    Answer(Box<AuthorizationInfo>),
    Unknown,
    Unreachable(String),
}

/// Takes authorization decisions.
#[derive(Debug, Clone)]
pub struct Authorizer {
    core: Arc<Core>,
    tokens: Tokens,
    timeout: Duration,
    policy: AllowedPolicy,
}

impl Authorizer {
    /// An authorizer with its settings read from the configuration.
    pub fn new(core: Arc<Core>, tokens: Tokens) -> Result<Self, roaming_peer::config::ConfigError> {
        let timeout_ms: u64 = core.config.role_parsed("cso.authorization.timeout_ms", 3000)?;
        let policy = core
            .config
            .role_parsed("cso.authorization.allowed_whitelist", AllowedPolicy::Local)?;
        Ok(Self {
            core,
            tokens,
            timeout: Duration::from_millis(timeout_ms.max(1)),
            policy,
        })
    }

    /// Decides whether `uid` of `token_type` may charge at `evse` of `location`, and remembers the
    /// decision for the session that follows.
    pub async fn authorize(
        &self,
        uid: &str,
        token_type: &TokenType,
        location: &LocationId,
        evse: &EvseUid,
    ) -> Result<Decision, CsoError> {
        let known = self.tokens.find(uid, token_type)?;
        let decision = match known.into_iter().next() {
            None => self.ask_everyone(uid, token_type, location, evse).await?,
            Some(t) => self.decide(t, location, evse).await?,
        };
        tracing::info!(
            token.type = %token_type,
            location = %location,
            evse = %evse,
            allowed = decision.allowed,
            source = ?decision.source,
            reason = %decision.reason,
            "authorization"
        );
        self.core.store.transact(|tx| {
            tx.put_json(
                DECISIONS,
                decision_key(location, evse, token_type, uid),
                &decision,
            )
            .map(|_| ())
        })?;
        Ok(decision)
    }

    /// The decision taken for this token at this EVSE in the last 15 minutes, if any.
    pub fn recent(
        &self,
        uid: &str,
        token_type: &TokenType,
        location: &LocationId,
        evse: &EvseUid,
    ) -> Result<Option<Decision>, StoreError> {
        let d: Option<Decision> = self
            .core
            .store
            .get_json(DECISIONS, &decision_key(location, evse, token_type, uid))?;
        let horizon = DateTime::now().plus(chrono::Duration::minutes(-DECISION_TTL_MINUTES));
        Ok(d.filter(|d| d.at >= horizon))
    }

    async fn decide(&self, t: Token, location: &LocationId, evse: &EvseUid) -> Result<Decision, CsoError> {
        let local = |allowed: bool, source: DecisionSource, reason: &str, token: Token| Decision {
            allowed,
            verdict: None,
            source,
            auth_method: AuthMethod::Whitelist,
            authorization_reference: None,
            token: Some(token),
            reason: reason.to_owned(),
            at: DateTime::now(),
        };
        let ask = match t.whitelist {
            WhitelistType::Always => {
                // TOK-10: no real-time call for ALWAYS.
                return Ok(if t.valid {
                    local(true, DecisionSource::Local, "whitelist ALWAYS", t)
                } else {
                    local(
                        false,
                        DecisionSource::Local,
                        "whitelist ALWAYS, token not valid",
                        t,
                    )
                });
            }
            WhitelistType::Allowed if t.valid && self.policy == AllowedPolicy::Local => {
                return Ok(local(
                    true,
                    DecisionSource::Local,
                    "whitelist ALLOWED, token valid",
                    t,
                ));
            }
            _ => self.ask_owner(&t, location, evse).await?,
        };
        Ok(match ask {
            Asked::Answer(info) => self.decision_of(*info, evse),
            Asked::Unknown => Decision {
                allowed: false,
                verdict: None,
                source: DecisionSource::RealTime,
                auth_method: AuthMethod::AuthRequest,
                authorization_reference: None,
                token: Some(t),
                reason: "the CSP does not know this token".to_owned(),
                at: DateTime::now(),
            },
            Asked::Unreachable(why) => {
                let offline_ok = matches!(
                    t.whitelist,
                    WhitelistType::Allowed | WhitelistType::AllowedOffline
                ) && t.valid;
                let reason = format!(
                    "CSP unreachable ({why}); whitelist {} and token {}",
                    t.whitelist,
                    if t.valid { "valid" } else { "not valid" }
                );
                local(offline_ok, DecisionSource::OfflineFallback, &reason, t)
            }
        })
    }

    fn decision_of(&self, info: AuthorizationInfo, evse: &EvseUid) -> Decision {
        // TOK-04: the CSP lists the EVSEs the token may use; our EVSE must be among them.
        let evse_ok = info
            .location
            .as_ref()
            .is_none_or(|l| l.evse_uids.is_empty() || l.evse_uids.contains(evse));
        let allowed = info.allowed == AllowedType::Allowed && evse_ok;
        let reason = match (&info.allowed, evse_ok) {
            (AllowedType::Allowed, true) => "the CSP allowed it".to_owned(),
            (AllowedType::Allowed, false) => format!("the CSP allowed it, but not at EVSE {evse}"),
            (other, _) => format!("the CSP answered {other}"),
        };
        // Keep the CSP's newest version of the token.
        if let Err(e) = self.tokens.put(&info.token) {
            tracing::warn!(error = %e, "could not store the token from an authorization answer");
        }
        Decision {
            allowed,
            verdict: Some(info.allowed),
            source: DecisionSource::RealTime,
            auth_method: AuthMethod::AuthRequest,
            authorization_reference: info.authorization_reference,
            token: Some(info.token),
            reason,
            at: DateTime::now(),
        }
    }

    /// A token we never received: ask every CSP offering real-time authorization, in parallel.
    async fn ask_everyone(
        &self,
        uid: &str,
        token_type: &TokenType,
        location: &LocationId,
        evse: &EvseUid,
    ) -> Result<Decision, CsoError> {
        let peers: Vec<Arc<PeerRecord>> = self
            .core
            .peers
            .all()?
            .iter()
            .filter(|p| p.endpoint(&ModuleId::Tokens, &InterfaceRole::Sender).is_some())
            .cloned()
            .collect();
        let asks = peers
            .iter()
            .map(|p| self.ask(p, uid, token_type, location, evse, None));
        let answers = futures::future::join_all(asks).await;
        let mut unreachable = Vec::new();
        for a in answers {
            match a {
                Asked::Answer(info) => return Ok(self.decision_of(*info, evse)),
                Asked::Unknown => {}
                Asked::Unreachable(why) => unreachable.push(why),
            }
        }
        let reason = if unreachable.is_empty() {
            "unknown token".to_owned()
        } else {
            format!(
                "unknown token; {} CSP(s) unreachable: {}",
                unreachable.len(),
                unreachable.join("; ")
            )
        };
        Ok(Decision {
            allowed: false,
            verdict: None,
            source: if unreachable.is_empty() {
                DecisionSource::RealTime
            } else {
                DecisionSource::OfflineFallback
            },
            auth_method: AuthMethod::AuthRequest,
            authorization_reference: None,
            token: None,
            reason,
            at: DateTime::now(),
        })
    }

    async fn ask_owner(&self, t: &Token, location: &LocationId, evse: &EvseUid) -> Result<Asked, CsoError> {
        let Some(peer) = self.core.peers.hosting(&t.party(), &Role::Emsp)? else {
            return Ok(Asked::Unreachable(format!(
                "{} is not a connected CSP",
                t.party()
            )));
        };
        Ok(self
            .ask(
                &peer,
                t.uid.as_str(),
                &t.token_type,
                location,
                evse,
                Some(t.party()),
            )
            .await)
    }

    async fn ask(
        &self,
        peer: &PeerRecord,
        uid: &str,
        token_type: &TokenType,
        location: &LocationId,
        evse: &EvseUid,
        to: Option<roaming_types::ids::PartyRef>,
    ) -> Asked {
        let Some(base) = peer.endpoint(&ModuleId::Tokens, &InterfaceRole::Sender) else {
            return Asked::Unreachable(format!("{} offers no real-time authorization", peer.id));
        };
        // E-09: join the path safely, whatever the base's trailing slash.
        let url = format!(
            "{}?type={}",
            join_url(base, &[uid, "authorize"]),
            token_type.as_str()
        );
        let body = LocationReferences {
            location_id: location.clone(),
            evse_uids: vec![evse.clone()],
        };
        let answer = self
            .core
            .call_peer(
                peer,
                Method::POST,
                &url,
                to,
                Some(&body),
                Some(self.timeout),
                None,
            )
            .await;
        match answer {
            Ok(a) => match a.data::<AuthorizationInfo>(&url) {
                Ok(info) => Asked::Answer(Box::new(info)),
                Err(e) => Asked::Unreachable(e.to_string()),
            },
            // TOK-02 / E-03: 404 and/or 2004 = the CSP does not know the token.
            Err(ClientError::Status { status, http, .. })
                if status == StatusCode::UnknownToken || (http == 404 && status.code() < 3000) =>
            {
                Asked::Unknown
            }
            Err(ClientError::NotOcpi { http: 404, .. }) => Asked::Unknown,
            Err(e) => Asked::Unreachable(e.to_string()),
        }
    }
}
