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
//! Three rules keep money and trust where they belong (issue #12):
//!
//! - **A refusal never turns into a local allow.** When the CSP refuses a token in real time (BLOCKED,
//!   EXPIRED, NO_CREDIT, NOT_ALLOWED, or "unknown" for a token it once pushed), the refusal is kept
//!   until the CSP pushes a newer version of that token or allows it in real time. Meanwhile the
//!   token is never allowed from the CSO's copy: an ALLOWED token is asked in real time instead, and
//!   neither the offline fallback nor ALWAYS lets it charge. An answer only refreshes a copy the CSP
//!   pushed; it never creates one (a CSP that does not push its tokens would never update it).
//! - **A peer that answered is not unreachable.** The offline fallback is for transport failures,
//!   timeouts and HTTP 502/503/504 (the CSP says it cannot serve now). An answer that does not decode,
//!   that is about another token, or an OCPI error is a refusal with the reason in the decision.
//! - **A uid that several CSPs hold is ambiguous.** It is never decided from one copy: every owner is
//!   asked in real time (whatever the whitelist says), and the token may charge only when exactly one
//!   of them answers ALLOWED — billed to that one; otherwise it is refused with the owners in the
//!   reason. The collision is logged and listed for the operator (`GET /api/tokens/collisions`).
//!
//! A token the CSO has never received is asked of every CSP that offers real-time authorization
//! (`POST {tokens}/{uid}/authorize`); 404/2004 from all of them means unknown, and the same "exactly
//! one ALLOWED" rule applies to their answers. The real-time call carries LocationReferences for the
//! EVSE (TOK-04) and has a short timeout (TOK-07); the answer's `authorization_reference` is kept for
//! the session (TOK-09). An answer that is not ALLOWED, or that leaves our EVSE out of
//! `location.evse_uids`, refuses.
//!
//! Every decision taken for a charger is remembered for 15 minutes (CMD-03), so that the session the
//! charger then starts gets the right `auth_method` and `authorization_reference` (SES-04, SES-05).

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use roaming_peer::client::{Call, ClientError, join_url, with_query};
use roaming_peer::core::Core;
use roaming_peer::registration::peers::PeerRecord;
use roaming_peer::store::{StoreError, key};
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

pub use crate::keyspaces::DECISIONS;

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

pub use crate::keyspaces::REFUSALS;

/// A real-time refusal of a token by its CSP, kept until the CSP changes the token or allows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// The CSP's verdict; `None` when it said it does not know the token (404/2004).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<AllowedType>,
    /// When.
    pub at: DateTime,
    /// `last_updated` of the newest version of the token the CSO knew then; a version the CSP sends
    /// later (newer) lifts the refusal.
    pub token_last_updated: DateTime,
}

impl Refusal {
    fn what(&self) -> String {
        match &self.verdict {
            Some(v) => v.to_string(),
            None => "unknown token".to_owned(),
        }
    }
}

/// The real-time outcome of asking a CSP.
enum Asked {
    /// An AuthorizationInfo about the token asked for.
    Answer(Box<AuthorizationInfo>),
    /// 404 and/or 2004: the CSP does not know the token.
    Unknown,
    /// The CSP answered, but not with anything usable (does not decode, another token, an OCPI or
    /// HTTP error): a refusal.
    Unusable(String),
    /// No answer: transport failure, timeout, or HTTP 502/503/504.
    Unreachable(String),
}

/// What a CSP is asked about: a token, presented at an EVSE.
#[derive(Clone, Copy)]
struct Question<'a> {
    uid: &'a str,
    token_type: &'a TokenType,
    location: &'a LocationId,
    evse: &'a EvseUid,
}

/// What asking one owner of a token gave.
struct OwnerAnswer {
    party: roaming_types::ids::PartyRef,
    asked: Asked,
}

/// Takes authorization decisions.
#[derive(Debug, Clone)]
pub struct Authorizer {
    core: Arc<Core>,
    tokens: Tokens,
    timeout: Duration,
    policy: AllowedPolicy,
}

fn real_time(allowed: bool, verdict: Option<AllowedType>, token: Option<Token>, reason: String) -> Decision {
    Decision {
        allowed,
        verdict,
        source: DecisionSource::RealTime,
        auth_method: AuthMethod::AuthRequest,
        authorization_reference: None,
        token,
        reason,
        at: DateTime::now(),
    }
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
        let q = Question {
            uid,
            token_type,
            location,
            evse,
        };
        let mut copies = self.tokens.find(uid, token_type)?;
        let decision = match copies.len() {
            0 => self.ask_everyone(q).await?,
            1 => {
                let t = copies.remove(0);
                self.decide(t, location, evse).await?
            }
            _ => self.decide_ambiguous(copies, location, evse).await?,
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

    /// The refusal of `t` that still stands: recorded, and the CSP sent no newer version since.
    pub fn standing_refusal(&self, t: &Token) -> Result<Option<Refusal>, StoreError> {
        let r: Option<Refusal> = self.core.store.get_json(
            REFUSALS,
            &crate::tokens::token_key(&t.token_type, t.uid.as_str(), &t.party()),
        )?;
        Ok(r.filter(|r| t.last_updated <= r.token_last_updated))
    }

    /// Keeps (or lifts, on ALLOWED) the real-time verdict of `owner` on a token, and refreshes the
    /// CSO's copy from the token the answer carried — never creating one.
    fn remember(
        &self,
        owner: &roaming_types::ids::PartyRef,
        uid: &str,
        token_type: &TokenType,
        verdict: Option<&AllowedType>,
        answered: Option<&Token>,
    ) -> Result<(), StoreError> {
        let k = crate::tokens::token_key(token_type, uid, owner);
        self.core.store.transact(|tx| {
            let mut copy: Option<Token> = tx.get_json(crate::tokens::TOKENS, &k)?;
            // Only a strictly newer version replaces the copy the CSP pushed, and never one stamped
            // beyond the allowed clock skew (it would freeze the copy and the refusal, #12 item 12).
            let answered = answered.filter(|a| a.last_updated <= self.core.stamps().limit());
            if let (Some(c), Some(a)) = (copy.as_ref(), answered) {
                if a.last_updated > c.last_updated && self.tokens.put_tx(tx, a)?.changed() {
                    tracing::debug!(token.type = %token_type, "token copy refreshed from an authorization answer");
                    copy = Some(a.clone());
                }
            }
            match verdict {
                Some(AllowedType::Allowed) => {
                    tx.delete(REFUSALS, k.clone());
                }
                _ => {
                    let token_last_updated = copy
                        .as_ref()
                        .map(|c| c.last_updated)
                        .into_iter()
                        .chain(answered.map(|a| a.last_updated))
                        .max()
                        .unwrap_or_else(DateTime::now);
                    let r = Refusal {
                        verdict: verdict.cloned(),
                        at: DateTime::now(),
                        token_last_updated,
                    };
                    tx.put_json(REFUSALS, k.clone(), &r)?;
                }
            }
            Ok::<_, StoreError>(())
        })
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
        let refusal = self.standing_refusal(&t)?;
        let refused_since = |r: &Refusal| {
            format!(
                "the CSP refused this token in real time ({}) at {} and has not changed it since",
                r.what(),
                r.at
            )
        };
        let ask = match (&t.whitelist, &refusal) {
            (WhitelistType::Always, Some(r)) => {
                return Ok(local(false, DecisionSource::Local, &refused_since(r), t));
            }
            (WhitelistType::Always, None) => {
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
            (WhitelistType::Allowed, None) if t.valid && self.policy == AllowedPolicy::Local => {
                return Ok(local(
                    true,
                    DecisionSource::Local,
                    "whitelist ALLOWED, token valid",
                    t,
                ));
            }
            _ => self.ask_owner(&t, location, evse).await?,
        };
        let party = t.party();
        Ok(match ask {
            Asked::Answer(info) => {
                self.remember(
                    &party,
                    t.uid.as_str(),
                    &t.token_type,
                    Some(&info.allowed),
                    Some(&info.token),
                )?;
                self.decision_of(*info, evse)
            }
            Asked::Unknown => {
                self.remember(&party, t.uid.as_str(), &t.token_type, None, None)?;
                real_time(
                    false,
                    None,
                    Some(t),
                    "the CSP does not know this token".to_owned(),
                )
            }
            Asked::Unusable(why) => real_time(
                false,
                None,
                Some(t),
                format!("the CSP's answer could not be used: {why}"),
            ),
            Asked::Unreachable(why) => {
                let reason = match &refusal {
                    Some(r) => format!("CSP unreachable ({why}); {}", refused_since(r)),
                    None => format!(
                        "CSP unreachable ({why}); whitelist {} and token {}",
                        t.whitelist,
                        if t.valid { "valid" } else { "not valid" }
                    ),
                };
                let offline_ok = refusal.is_none()
                    && matches!(
                        t.whitelist,
                        WhitelistType::Allowed | WhitelistType::AllowedOffline
                    )
                    && t.valid;
                local(offline_ok, DecisionSource::OfflineFallback, &reason, t)
            }
        })
    }

    /// A uid several CSPs hold: every owner is asked; exactly one ALLOWED answer decides.
    async fn decide_ambiguous(
        &self,
        copies: Vec<Token>,
        location: &LocationId,
        evse: &EvseUid,
    ) -> Result<Decision, CsoError> {
        let owners: Vec<String> = copies.iter().map(|t| t.party().to_string()).collect();
        tracing::warn!(
            owners = %owners.join(", "),
            "a token uid held by several CSPs was presented: every owner is asked"
        );
        let asks = copies.iter().map(|t| async {
            Ok::<_, CsoError>(OwnerAnswer {
                party: t.party(),
                asked: self.ask_owner(t, location, evse).await?,
            })
        });
        let answers = futures::future::try_join_all(asks).await?;
        for (t, a) in copies.iter().zip(&answers) {
            match &a.asked {
                Asked::Answer(info) => self.remember(
                    &a.party,
                    t.uid.as_str(),
                    &t.token_type,
                    Some(&info.allowed),
                    Some(&info.token),
                )?,
                Asked::Unknown => self.remember(&a.party, t.uid.as_str(), &t.token_type, None, None)?,
                Asked::Unusable(_) | Asked::Unreachable(_) => {}
            }
        }
        Ok(self.one_allowed(answers, evse, &format!("held by {}", owners.join(" and "))))
    }

    /// The rule for several answers about one uid: allowed only when exactly one CSP answered
    /// ALLOWED (for our EVSE); refused otherwise, with every answer in the reason.
    fn one_allowed(&self, answers: Vec<OwnerAnswer>, evse: &EvseUid, what: &str) -> Decision {
        let mut summary = Vec::new();
        let mut allowed = Vec::new();
        let mut last_verdict = None;
        let mut last_token = None;
        for a in answers {
            match a.asked {
                Asked::Answer(info) => {
                    let d = self.decision_of(*info, evse);
                    summary.push(format!("{}: {}", a.party, d.reason));
                    if d.allowed {
                        allowed.push(d);
                    } else {
                        last_verdict = d.verdict;
                        last_token = d.token;
                    }
                }
                Asked::Unknown => summary.push(format!("{}: does not know it", a.party)),
                Asked::Unusable(why) => summary.push(format!("{}: unusable answer ({why})", a.party)),
                Asked::Unreachable(why) => summary.push(format!("{}: unreachable ({why})", a.party)),
            }
        }
        let summary = summary.join("; ");
        if allowed.len() == 1 {
            let mut d = allowed.remove(0);
            d.reason = format!("token uid {what}; only one CSP allowed it ({summary})");
            return d;
        }
        let reason = if allowed.is_empty() {
            if summary.is_empty() {
                "unknown token".to_owned()
            } else {
                format!("token uid {what}; no CSP allowed it ({summary})")
            }
        } else {
            tracing::warn!(
                what,
                "a token uid allowed by several CSPs was refused: nobody can tell whose driver it is"
            );
            format!(
                "token uid {what}; {} CSPs allowed it, so it cannot be told whose driver this is ({summary})",
                allowed.len()
            )
        };
        real_time(false, last_verdict, last_token, reason)
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
    async fn ask_everyone(&self, q: Question<'_>) -> Result<Decision, CsoError> {
        let peers: Vec<Arc<PeerRecord>> = self
            .core
            .peers
            .all()?
            .iter()
            .filter(|p| p.endpoint(&ModuleId::Tokens, &InterfaceRole::Sender).is_some())
            .cloned()
            .collect();
        let asks = peers.iter().map(|p| async {
            let parties = p.parties(&Role::Emsp);
            let asked = self.ask(p, q, None, &parties).await;
            let party = match &asked {
                Asked::Answer(info) => info.token.party(),
                _ => parties
                    .first()
                    .cloned()
                    .unwrap_or_else(|| self.core.config.party.clone()),
            };
            OwnerAnswer { party, asked }
        });
        let answers = futures::future::join_all(asks).await;
        let unreachable: Vec<String> = answers
            .iter()
            .filter_map(|a| match &a.asked {
                Asked::Unreachable(why) => Some(why.clone()),
                _ => None,
            })
            .collect();
        let knows = answers
            .iter()
            .filter(|a| matches!(a.asked, Asked::Answer(_) | Asked::Unusable(_)))
            .count();
        if knows == 0 {
            let reason = if unreachable.is_empty() {
                "unknown token".to_owned()
            } else {
                format!(
                    "unknown token; {} CSP(s) unreachable: {}",
                    unreachable.len(),
                    unreachable.join("; ")
                )
            };
            let mut d = real_time(false, None, None, reason);
            if !unreachable.is_empty() {
                d.source = DecisionSource::OfflineFallback;
            }
            return Ok(d);
        }
        let mut answered: Vec<OwnerAnswer> = answers
            .into_iter()
            .filter(|a| matches!(a.asked, Asked::Answer(_) | Asked::Unusable(_)))
            .collect();
        if answered.len() == 1 {
            // One CSP knows the token: its answer decides.
            return Ok(match answered.remove(0).asked {
                Asked::Answer(info) => self.decision_of(*info, q.evse),
                Asked::Unusable(why) => real_time(
                    false,
                    None,
                    None,
                    format!("the CSP's answer could not be used: {why}"),
                ),
                Asked::Unknown | Asked::Unreachable(_) => {
                    real_time(false, None, None, "unknown token".to_owned())
                }
            });
        }
        Ok(self.one_allowed(answered, q.evse, "known to several CSPs"))
    }

    async fn ask_owner(&self, t: &Token, location: &LocationId, evse: &EvseUid) -> Result<Asked, CsoError> {
        let Some(peer) = self.core.peers.hosting(&t.party(), &Role::Emsp)? else {
            return Ok(Asked::Unreachable(format!(
                "{} is not a connected CSP",
                t.party()
            )));
        };
        let q = Question {
            uid: t.uid.as_str(),
            token_type: &t.token_type,
            location,
            evse,
        };
        Ok(self.ask(&peer, q, Some(t.party()), &[t.party()]).await)
    }

    /// Asks `peer` the question (routed `to` a party, when known); `owners` are the parties whose
    /// answer about the token counts.
    async fn ask(
        &self,
        peer: &PeerRecord,
        q: Question<'_>,
        to: Option<roaming_types::ids::PartyRef>,
        owners: &[roaming_types::ids::PartyRef],
    ) -> Asked {
        let Some(base) = peer.endpoint(&ModuleId::Tokens, &InterfaceRole::Sender) else {
            return Asked::Unreachable(format!("{} offers no real-time authorization", peer.id));
        };
        // E-09: join the path safely, whatever the base's trailing slash (or query).
        let url = with_query(
            &join_url(base, &[q.uid, "authorize"]),
            &[("type", q.token_type.as_str())],
        );
        let body = LocationReferences {
            location_id: q.location.clone(),
            evse_uids: vec![q.evse.clone()],
        };
        let answer = self
            .core
            .call_peer(
                peer,
                Call::new(Method::POST, &url).body(&body).timeout(self.timeout),
                to,
                None,
            )
            .await;
        match answer {
            // A single AuthorizationInfo in a one-element array is accepted (and the peer's
            // deviation recorded once): `call_peer` ties the answer to its peer.
            Ok(a) => match a.data::<AuthorizationInfo>(&url) {
                Ok(info) => {
                    let same_token = info.token.uid.as_str().eq_ignore_ascii_case(q.uid)
                        && &info.token.token_type == q.token_type;
                    if !same_token {
                        Asked::Unusable(format!(
                            "the answer is about token {} of type {}",
                            info.token.uid, info.token.token_type
                        ))
                    } else if !owners.contains(&info.token.party()) {
                        Asked::Unusable(format!(
                            "the answer is about a token of {}, not of {}",
                            info.token.party(),
                            peer.id
                        ))
                    } else {
                        Asked::Answer(Box::new(info))
                    }
                }
                Err(e) => Asked::Unusable(e.to_string()),
            },
            // TOK-02 / E-03: 404 and/or 2004 = the CSP does not know the token.
            Err(ClientError::Status { status, http, .. })
                if status == StatusCode::UnknownToken || (http == 404 && status.code() < 3000) =>
            {
                Asked::Unknown
            }
            Err(ClientError::NotOcpi { http: 404, .. }) => Asked::Unknown,
            Err(e @ ClientError::Transport { .. }) => Asked::Unreachable(e.to_string()),
            Err(e) if matches!(e.http_status(), Some(502..=504)) => Asked::Unreachable(e.to_string()),
            Err(e) => Asked::Unusable(e.to_string()),
        }
    }
}
