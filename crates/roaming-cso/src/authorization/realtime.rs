//! Asking CSPs in real time (`POST {tokens}/{uid}/authorize`, TOK-04, TOK-07) and what their answers
//! decide: [`Asked`] is what one CSP's answer amounts to, and the rule for several answers about one
//! uid is "exactly one ALLOWED" (see the [parent module](super)).

use std::sync::Arc;

use http::Method;
use roaming_peer::client::{Call, ClientError, join_url, with_query};
use roaming_peer::registration::peers::PeerRecord;
use roaming_types::DateTime;
use roaming_types::StatusCode;
use roaming_types::ids::{EvseUid, LocationId, PartyRef};
use roaming_types::modules::cdrs::AuthMethod;
use roaming_types::modules::tokens::{AllowedType, AuthorizationInfo, LocationReferences, Token, TokenType};
use roaming_types::modules::types::Role;
use roaming_types::modules::versions::{InterfaceRole, ModuleId};

use super::{Authorizer, Decision, DecisionSource, real_time};
use crate::error::CsoError;

/// The real-time outcome of asking a CSP.
pub(super) enum Asked {
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
pub(super) struct Question<'a> {
    pub(super) uid: &'a str,
    pub(super) token_type: &'a TokenType,
    pub(super) location: &'a LocationId,
    pub(super) evse: &'a EvseUid,
}

/// What asking one owner of a token gave.
pub(super) struct OwnerAnswer {
    pub(super) party: PartyRef,
    pub(super) asked: Asked,
}

impl Authorizer {
    /// The rule for several answers about one uid: allowed only when exactly one CSP answered
    /// ALLOWED (for our EVSE); refused otherwise, with every answer in the reason.
    pub(super) fn one_allowed(&self, answers: Vec<OwnerAnswer>, evse: &EvseUid, what: &str) -> Decision {
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

    pub(super) fn decision_of(&self, info: AuthorizationInfo, evse: &EvseUid) -> Decision {
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
    pub(super) async fn ask_everyone(&self, q: Question<'_>) -> Result<Decision, CsoError> {
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

    pub(super) async fn ask_owner(
        &self,
        t: &Token,
        location: &LocationId,
        evse: &EvseUid,
    ) -> Result<Asked, CsoError> {
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
        to: Option<PartyRef>,
        owners: &[PartyRef],
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
