//! What the CSO pushes of a session to its CSP (SES-01, SES-03): a PUT of the whole session when it is
//! created and when it completes (so the CSP's copy is whole whatever it missed), and a PATCH of the
//! changed fields (with `last_updated`) in between, to `{sessions}/{country_code}/{party_id}/{id}` of
//! the CSP's Sessions Receiver, through the durable outbox.
//!
//! The outbox keeps one pending push per session and peer (object `sessions/<id>`, also the group its
//! CDR joins, see [`CdrAddress`](crate::cdrs::CdrAddress)); a PATCH merged into a pending PUT or
//! PATCH *appends* its `charging_periods` (each PATCH carries only the periods closed since the last
//! one, SES-02) and replaces every other field.

use roaming_peer::outbox::{Address, PushOp};
use roaming_types::ids::{PartyRef, SessionId};
use roaming_types::modules::sessions::Session;
use roaming_types::modules::versions::ModuleId;
use serde_json::{Map, Value, json};

use crate::error::CsoError;

/// What a session push addresses: the session at the CSP's Sessions Receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAddress {
    /// The CSO party that owns the session.
    pub party: PartyRef,
    /// The session.
    pub id: SessionId,
}

impl SessionAddress {
    /// The address of `s`.
    pub fn of(s: &Session) -> Self {
        Self {
            party: s.party(),
            id: s.id.clone(),
        }
    }
}

impl Address for SessionAddress {
    const APPENDED: &'static [&'static str] = &["charging_periods"];

    fn object(&self) -> String {
        format!("sessions/{}", self.id.to_key())
    }

    fn module(&self) -> ModuleId {
        ModuleId::Sessions
    }

    fn path(&self) -> Vec<String> {
        vec![
            self.party.country_code.to_upper(),
            self.party.party_id.to_upper(),
            self.id.as_str().to_owned(),
        ]
    }
}

/// What changed in a session, for its push.
pub(super) enum Change {
    /// Send the full object.
    Full,
    /// Send these fields (+ `last_updated`).
    Fields(Map<String, Value>),
}

impl Change {
    /// The fields `names` of `s` as they are now (the session serialised once).
    pub(super) fn fields(s: &Session, names: &[&str]) -> Result<Self, CsoError> {
        let Value::Object(mut all) = serde_json::to_value(s).map_err(CsoError::internal)? else {
            return Err(CsoError::internal("a session is not a JSON object"));
        };
        Ok(Self::Fields(
            names
                .iter()
                .filter_map(|k| all.remove(*k).map(|v| ((*k).to_owned(), v)))
                .collect(),
        ))
    }

    /// The push of this change of `s`: a PUT of the session, or a PATCH of the fields with
    /// `last_updated`.
    pub(super) fn op(self, s: &Session) -> Result<PushOp, CsoError> {
        match self {
            Self::Full => PushOp::put(s).map_err(CsoError::internal),
            Self::Fields(mut body) => {
                body.insert("last_updated".to_owned(), json!(s.last_updated));
                Ok(PushOp::Patch { body })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use roaming_peer::outbox::{Push, legacy_rules};
    use roaming_types::ids::{CountryCode, PartyId};

    use super::*;

    #[test]
    fn the_address_keeps_the_object_key_group_and_merge_rule_of_before() {
        let a = SessionAddress {
            party: PartyRef::new(CountryCode::new("nl").unwrap(), PartyId::new("cso").unwrap()),
            id: SessionId::new("S-Abc").unwrap(),
        };
        let p = Push::new(&a, PushOp::Delete);
        assert_eq!(p.object, "sessions/s-abc");
        assert_eq!(p.group(), legacy_rules(&p.object).0);
        assert!(p.appends("charging_periods"));
        assert!(!p.appends("kwh"));
        assert_eq!(p.path, ["NL", "CSO", "S-Abc"]);
    }
}
