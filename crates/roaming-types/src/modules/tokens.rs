//! Tokens module objects (checklist §10, `mod_tokens.asciidoc`).
//!
//! `TokenType` is shared with Locations and CDRs: it lives in [`super::common`] and is re-exported here.

pub use crate::modules::common::TokenType;

use serde::{Deserialize, Serialize};

use crate::ci_string::Text;
use crate::datetime::DateTime;
use crate::error::TypeError;
use crate::ids::{
    AuthorizationReference, ContractId, CountryCode, EvseUid, GroupId, LocationId, PartyId, PartyRef,
    TokenUid,
};
use crate::modules::common::ProfileType;
use crate::modules::types::DisplayText;
use crate::patch::Patch;

crate::open_enum! {
    /// `WhitelistType` (§10.3, TOK-10): when the CPO may authorize locally.
    pub enum WhitelistType("WhitelistType") {
        /// Always allow locally; no real-time call allowed.
        Always => "ALWAYS",
        /// The CPO may choose.
        Allowed => "ALLOWED",
        /// Real-time normally; allow locally when the eMSP is unreachable.
        AllowedOffline => "ALLOWED_OFFLINE",
        /// Always real-time.
        Never => "NEVER",
    }
}

crate::open_enum! {
    /// `AllowedType` (§10.3): the answer of a real-time authorization.
    pub enum AllowedType("AllowedType") {
        /// May charge.
        Allowed => "ALLOWED",
        /// Blocked.
        Blocked => "BLOCKED",
        /// Expired.
        Expired => "EXPIRED",
        /// No credit.
        NoCredit => "NO_CREDIT",
        /// Not allowed here (e.g. at these EVSEs).
        NotAllowed => "NOT_ALLOWED",
    }
}

/// `EnergyContract` (§10.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyContract {
    /// Supplier, string(64).
    pub supplier_name: Text<64>,
    /// Contract id at the supplier, string(64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<Text<64>>,
}

/// `Token` (§10.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Owner (eMSP) country code.
    pub country_code: CountryCode,
    /// Owner (eMSP) party id.
    pub party_id: PartyId,
    /// Uid: the RFID UID as read, or eMSP-generated for app tokens.
    pub uid: TokenUid,
    /// Type; unique with `uid` (TOK-11).
    #[serde(rename = "type")]
    pub token_type: TokenType,
    /// Contract id (eMAID recommended).
    pub contract_id: ContractId,
    /// Printed number, string(64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual_number: Option<Text<64>>,
    /// Issuing company, string(64).
    pub issuer: Text<64>,
    /// Group id (≤ 20 for OCPP 1.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<GroupId>,
    /// Whether the token is valid.
    pub valid: bool,
    /// Local authorization rule (TOK-10).
    pub whitelist: WhitelistType,
    /// ISO 639-1 language, string(2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Text<2>>,
    /// Default charging preference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_profile_type: Option<ProfileType>,
    /// Energy contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_contract: Option<EnergyContract>,
    /// Last change.
    pub last_updated: DateTime,
}

impl Token {
    /// The owner (eMSP).
    pub fn party(&self) -> PartyRef {
        PartyRef::new(self.country_code.clone(), self.party_id.clone())
    }

    /// The CdrToken snapshot of this token (§8.3).
    pub fn cdr_token(&self) -> crate::modules::common::CdrToken {
        crate::modules::common::CdrToken {
            country_code: self.country_code.clone(),
            party_id: self.party_id.clone(),
            uid: self.uid.clone(),
            token_type: self.token_type.clone(),
            contract_id: self.contract_id.clone(),
        }
    }

    /// Context rules (§10.3): known whitelist and type values for tokens we issue.
    pub fn validate(&self) -> Result<(), TypeError> {
        let path = format!("token {}", self.uid);
        if !self.whitelist.is_known() {
            return Err(TypeError::format(
                "Token",
                &path,
                format!("unknown whitelist {}", self.whitelist),
            ));
        }
        if !self.token_type.is_known() {
            return Err(TypeError::format(
                "Token",
                &path,
                format!("unknown type {}", self.token_type),
            ));
        }
        Ok(())
    }

    /// Applies a PATCH (T-92); ids must match (T-93).
    pub fn apply_patch(&mut self, patch: TokenPatch) -> Result<(), TypeError> {
        let mismatch =
            |field: &'static str| TypeError::format("PATCH", field, "differs from the object's (T-93)");
        if patch.uid.value().is_some_and(|v| v != &self.uid) {
            return Err(mismatch("uid"));
        }
        if patch.token_type.value().is_some_and(|v| v != &self.token_type) {
            return Err(mismatch("type"));
        }
        if patch
            .country_code
            .value()
            .is_some_and(|v| v != &self.country_code)
        {
            return Err(mismatch("country_code"));
        }
        if patch.party_id.value().is_some_and(|v| v != &self.party_id) {
            return Err(mismatch("party_id"));
        }
        patch
            .contract_id
            .apply_required(&mut self.contract_id, "contract_id")?;
        patch.visual_number.apply_optional(&mut self.visual_number);
        patch.issuer.apply_required(&mut self.issuer, "issuer")?;
        patch.group_id.apply_optional(&mut self.group_id);
        patch.valid.apply_required(&mut self.valid, "valid")?;
        patch.whitelist.apply_required(&mut self.whitelist, "whitelist")?;
        patch.language.apply_optional(&mut self.language);
        patch
            .default_profile_type
            .apply_optional(&mut self.default_profile_type);
        patch.energy_contract.apply_optional(&mut self.energy_contract);
        self.last_updated = patch.last_updated;
        Ok(())
    }
}

/// The PATCH shape of a Token (T-92). `last_updated` is required (T-81).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPatch {
    /// Must match.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub country_code: Patch<CountryCode>,
    /// Must match.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub party_id: Patch<PartyId>,
    /// Must match.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub uid: Patch<TokenUid>,
    /// Must match.
    #[serde(default, rename = "type", skip_serializing_if = "Patch::is_absent")]
    pub token_type: Patch<TokenType>,
    /// Contract id.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub contract_id: Patch<ContractId>,
    /// Visual number.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub visual_number: Patch<Text<64>>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub issuer: Patch<Text<64>>,
    /// Group.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub group_id: Patch<GroupId>,
    /// Valid.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub valid: Patch<bool>,
    /// Whitelist.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub whitelist: Patch<WhitelistType>,
    /// Language.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub language: Patch<Text<2>>,
    /// Default profile.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub default_profile_type: Patch<ProfileType>,
    /// Energy contract.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub energy_contract: Patch<EnergyContract>,
    /// Required (T-81).
    pub last_updated: DateTime,
}

/// `LocationReferences` (§10.3): where a token wants to charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationReferences {
    /// The location.
    pub location_id: LocationId,
    /// EVSEs at it (all when empty).
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub evse_uids: Vec<EvseUid>,
}

/// `AuthorizationInfo` (§10.3): the answer of `POST {tokens}/{uid}/authorize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationInfo {
    /// The verdict.
    pub allowed: AllowedType,
    /// The full token.
    pub token: Token,
    /// The allowed EVSEs, when LocationReferences were given (TOK-04).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationReferences>,
    /// Reference to carry into the Session and CDR (TOK-09).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<AuthorizationReference>,
    /// A message for the driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<DisplayText>,
}

impl AuthorizationInfo {
    /// An answer without location or info.
    pub fn new(allowed: AllowedType, token: Token) -> Self {
        Self {
            allowed,
            token,
            location: None,
            authorization_reference: None,
            info: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    pub(crate) fn token_json() -> serde_json::Value {
        json!({
            "country_code": "DE", "party_id": "MOV", "uid": "04A1B2C3D4", "type": "RFID",
            "contract_id": "DE-MOV-C00012345-6", "visual_number": "MOV 0001 2345", "issuer": "Movement Mobility GmbH",
            "group_id": "FLEET-7", "valid": true, "whitelist": "ALLOWED_OFFLINE", "language": "de",
            "default_profile_type": "CHEAP", "energy_contract": { "supplier_name": "Stadtwerk Nord", "contract_id": "SN-55" },
            "last_updated": "2026-03-01T12:00:00Z"
        })
    }

    #[test]
    fn token_round_trips_and_patches() {
        let v = token_json();
        let mut t: Token = serde_json::from_value(v.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&t).unwrap(), &v);
        t.validate().unwrap();
        let p: TokenPatch =
            serde_json::from_value(json!({ "valid": false, "last_updated": "2026-03-02T00:00:00Z" }))
                .unwrap();
        t.apply_patch(p).unwrap();
        assert!(!t.valid);
        assert_eq!(t.whitelist, WhitelistType::AllowedOffline, "absent fields stay");
        let p: TokenPatch =
            serde_json::from_value(json!({ "type": "APP_USER", "last_updated": "2026-03-02T00:00:00Z" }))
                .unwrap();
        assert!(
            t.apply_patch(p).is_err(),
            "T-93: the type is part of the key (TOK-11)"
        );
        assert!(
            serde_json::from_value::<TokenPatch>(json!({ "valid": true })).is_err(),
            "T-81"
        );
        assert_eq!(t.cdr_token().contract_id, t.contract_id);
    }

    #[test]
    fn authorization_info_round_trips() {
        let v = json!({
            "allowed": "ALLOWED", "token": token_json(),
            "location": { "location_id": "GENT-SINT-PIETERS", "evse_uids": ["GSP-03", "GSP-04"] },
            "authorization_reference": "AUTH-77", "info": { "language": "en", "text": "Welcome back" }
        });
        let a: AuthorizationInfo = serde_json::from_value(v.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&a).unwrap(), &v);
        let r: LocationReferences =
            serde_json::from_value(json!({ "location_id": "X", "evse_uids": null })).unwrap();
        assert!(r.evse_uids.is_empty());
    }

    #[test]
    fn enums_are_consistent() {
        crate::open_enum::assert_consistent(WhitelistType::KNOWN);
        crate::open_enum::assert_consistent(AllowedType::KNOWN);
    }
}
