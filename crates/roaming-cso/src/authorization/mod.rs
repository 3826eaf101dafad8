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

mod realtime;

use std::sync::Arc;
use std::time::Duration;

use roaming_peer::core::Core;
use roaming_peer::store::{Keyspace, StoreError, key};
use roaming_types::DateTime;
use roaming_types::ids::{AuthorizationReference, EvseUid, LocationId, PartyRef};
use roaming_types::modules::cdrs::AuthMethod;
use roaming_types::modules::tokens::{AllowedType, Token, TokenType, WhitelistType};
use serde::{Deserialize, Serialize};

use self::realtime::{Asked, OwnerAnswer, Question};
use crate::error::CsoError;
use crate::keyspaces;
use crate::tokens::{Tokens, token_key};

/// The decisions taken for chargers, by [`decision_key`].
const DECISIONS: Keyspace<Decision> = Keyspace::of(keyspaces::DECISIONS);
/// The refusals that stand, by the token's key ([`token_key`]).
const REFUSALS: Keyspace<Refusal> = Keyspace::of(keyspaces::REFUSALS);

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
        let mut copies = Tokens::find(&self.core.store, uid, token_type)?;
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
        self.core
            .store
            .transact(|tx| DECISIONS.put(tx, decision_key(location, evse, token_type, uid), &decision))?;
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
        let d = DECISIONS.get(&self.core.store, &decision_key(location, evse, token_type, uid))?;
        let horizon = DateTime::now().plus(chrono::Duration::minutes(-DECISION_TTL_MINUTES));
        Ok(d.filter(|d| d.at >= horizon))
    }

    /// The refusal of `t` that still stands: recorded, and the CSP sent no newer version since.
    pub fn standing_refusal(&self, t: &Token) -> Result<Option<Refusal>, StoreError> {
        let k = token_key(&t.token_type, t.uid.as_str(), &t.party());
        let r = REFUSALS.get(&self.core.store, &k)?;
        Ok(r.filter(|r| t.last_updated <= r.token_last_updated))
    }

    /// Keeps (or lifts, on ALLOWED) the real-time verdict of `owner` on a token, and refreshes the
    /// CSO's copy from the token the answer carried — never creating one.
    fn remember(
        &self,
        owner: &PartyRef,
        uid: &str,
        token_type: &TokenType,
        verdict: Option<&AllowedType>,
        answered: Option<&Token>,
    ) -> Result<(), StoreError> {
        let k = token_key(token_type, uid, owner);
        self.core.store.transact(|tx| {
            let mut copy = Tokens::get(tx, owner, uid, token_type)?;
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
                    REFUSALS.delete(tx, k.clone());
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
                    REFUSALS.put(tx, k.clone(), &r)?;
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
}
