//! Credentials module objects (checklist §5.1, `credentials.asciidoc`, CR-01, CR-02).

use serde::{Deserialize, Serialize};

use crate::auth::CredentialsToken;
use crate::ci_string::Url;
use crate::error::TypeError;
use crate::ids::{CountryCode, PartyId, PartyRef};
use crate::modules::locations::BusinessDetails;
use crate::modules::types::Role;

/// `CredentialsRole` (§5.1): one role/party a platform hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsRole {
    /// The role.
    pub role: Role,
    /// Details of the party.
    pub business_details: BusinessDetails,
    /// Party id, CiString(3).
    pub party_id: PartyId,
    /// Country code, CiString(2).
    pub country_code: CountryCode,
}

impl CredentialsRole {
    /// The party of this role.
    pub fn party(&self) -> PartyRef {
        PartyRef::new(self.country_code.clone(), self.party_id.clone())
    }
}

/// `Credentials` (§5.1): what each side of a registration tells the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The token the other party must use to call us (raw, not base64, T-11).
    pub token: CredentialsToken,
    /// Our versions endpoint.
    pub url: Url,
    /// Every role we host (at least one).
    pub roles: Vec<CredentialsRole>,
}

impl Credentials {
    /// Context rules the field types cannot express: at least one role, and (role, party_id,
    /// country_code) unique (CR-01).
    pub fn validate(&self) -> Result<(), TypeError> {
        if self.roles.is_empty() {
            return Err(TypeError::format(
                "Credentials",
                "roles",
                "at least one role is required",
            ));
        }
        for (i, a) in self.roles.iter().enumerate() {
            if self.roles[..i]
                .iter()
                .any(|b| b.role == a.role && b.party() == a.party())
            {
                return Err(TypeError::format(
                    "Credentials",
                    "roles",
                    format!("role {} for {} is listed twice (CR-01)", a.role, a.party()),
                ));
            }
        }
        Ok(())
    }

    /// The parties that play `role`.
    pub fn parties_with_role(&self, role: &Role) -> Vec<PartyRef> {
        self.roles
            .iter()
            .filter(|r| &r.role == role)
            .map(CredentialsRole::party)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(role: &str, cc: &str, pid: &str) -> CredentialsRole {
        CredentialsRole {
            role: role.parse().unwrap(),
            business_details: BusinessDetails::named("Example").unwrap(),
            party_id: PartyId::new(pid).unwrap(),
            country_code: CountryCode::new(cc).unwrap(),
        }
    }

    #[test]
    fn cr01_roles_must_be_unique() {
        let mut c = Credentials {
            token: CredentialsToken::new("abc").unwrap(),
            url: Url::new("https://example.com/ocpi/versions").unwrap(),
            roles: vec![
                role("CPO", "NL", "TNM"),
                role("EMSP", "NL", "TNM"),
                role("CPO", "NL", "ABC"),
            ],
        };
        assert!(c.validate().is_ok());
        c.roles.push(role("CPO", "nl", "tnm"));
        assert!(c.validate().is_err());
        c.roles.clear();
        assert!(c.validate().is_err());
    }
}
