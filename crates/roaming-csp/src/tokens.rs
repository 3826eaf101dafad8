//! The CSP's tokens (UC3-1): issued, updated and blocked by the operator, pushed to every connected
//! CSO through the durable outbox (PUT on issue, PATCH on change, TOK-11 `?type=`), served by the
//! Tokens Sender, and judged by the real-time authorization (`POST {tokens}/{uid}/authorize`).
//!
//! A token is unique by (type, uid) (TOK-11). Next to the OCPI token the CSP keeps the driver's
//! account: its state (ACTIVE, BLOCKED, EXPIRED, NO_CREDIT) and optional limits on the CSOs and
//! locations where it may charge. Only an ACTIVE account has `valid = true` in what CSOs hold, so a
//! CSO that decides from its copy refuses a blocked token too.

use std::sync::Arc;

use roaming_peer::core::Core;
use roaming_peer::outbox::{Address, Outbox, Push, PushOp};
use roaming_peer::store::{Keyspace, Read, StoreError, Tx, key};
use roaming_types::DateTime;
use roaming_types::global_ids::{Emaid, ProviderId};
use roaming_types::ids::{ContractId, CountryCode, PartyId, PartyRef, TokenUid};
use roaming_types::modules::sessions::ProfileType;
use roaming_types::modules::tokens::{
    AllowedType, AuthorizationInfo, LocationReferences, Token, TokenType, WhitelistType,
};
use roaming_types::modules::versions::ModuleId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::CspError;
use crate::keyspaces;

pub use crate::keyspaces::TOKENS;
/// The one partition of [`TOKENS`].
pub const ALL: &str = "all";
/// The account behind each token, under the token's key.
pub const ACCOUNTS: Keyspace<Account> = Keyspace::of(keyspaces::ACCOUNTS);
/// Real-time authorizations given, by reference.
pub const AUTHORIZATIONS: Keyspace<AuthorizationRecord> = Keyspace::of(keyspaces::AUTHORIZATIONS);

/// The state of a driver's account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountState {
    /// May charge.
    #[default]
    Active,
    /// Blocked by the CSP.
    Blocked,
    /// The contract ended.
    Expired,
    /// Out of credit.
    NoCredit,
}

impl AccountState {
    fn allowed(self) -> AllowedType {
        match self {
            Self::Active => AllowedType::Allowed,
            Self::Blocked => AllowedType::Blocked,
            Self::Expired => AllowedType::Expired,
            Self::NoCredit => AllowedType::NoCredit,
        }
    }
}

/// The account behind a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its state.
    #[serde(default)]
    pub state: AccountState,
    /// The CSOs where it may charge (`CC-PID`; anywhere when empty).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "crate::party_text::list"
    )]
    pub allowed_cpos: Vec<PartyRef>,
    /// The locations where it may charge (anywhere when empty). A CSO must then say where the
    /// driver is (TOK-03).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_locations: Vec<String>,
}

/// A token with its account, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// The OCPI token.
    pub token: Token,
    /// The account.
    pub account: Account,
}

/// What the operator gives to issue a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIssue {
    /// The uid: the RFID UID as read; generated (CSPRNG) for app tokens when absent.
    #[serde(default)]
    pub uid: Option<String>,
    /// The type (RFID by default).
    #[serde(default, rename = "type")]
    pub token_type: Option<TokenType>,
    /// The contract id; a new eMAID of our party when absent.
    #[serde(default)]
    pub contract_id: Option<String>,
    /// The printed number.
    #[serde(default)]
    pub visual_number: Option<String>,
    /// The issuer (our name by default).
    #[serde(default)]
    pub issuer: Option<String>,
    /// A group id.
    #[serde(default)]
    pub group_id: Option<String>,
    /// The whitelist rule (ALLOWED by default).
    #[serde(default)]
    pub whitelist: Option<WhitelistType>,
    /// ISO 639-1 language.
    #[serde(default)]
    pub language: Option<String>,
    /// Default charging profile.
    #[serde(default)]
    pub default_profile_type: Option<ProfileType>,
    /// The account.
    #[serde(default, flatten)]
    pub account: Account,
}

/// A change of a token (fields left out stay).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenChange {
    /// The account state (BLOCKED blocks the token).
    #[serde(default)]
    pub state: Option<AccountState>,
    /// The whitelist rule.
    #[serde(default)]
    pub whitelist: Option<WhitelistType>,
    /// The printed number.
    #[serde(default)]
    pub visual_number: Option<String>,
    /// The group id.
    #[serde(default)]
    pub group_id: Option<String>,
    /// The language.
    #[serde(default)]
    pub language: Option<String>,
    /// The default profile.
    #[serde(default)]
    pub default_profile_type: Option<ProfileType>,
    /// The CSOs where it may charge.
    #[serde(default)]
    pub allowed_cpos: Option<Vec<String>>,
    /// The locations where it may charge.
    #[serde(default)]
    pub allowed_locations: Option<Vec<String>>,
}

/// A real-time authorization the CSP gave (its reference goes into the Session and CDR, TOK-09).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRecord {
    /// The reference.
    pub authorization_reference: String,
    /// The token type.
    pub token_type: TokenType,
    /// The token uid.
    pub uid: String,
    /// The CSO party that asked.
    #[serde(default, with = "crate::party_text::option")]
    pub cpo: Option<PartyRef>,
    /// Where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationReferences>,
    /// The verdict.
    pub allowed: AllowedType,
    /// When.
    pub at: DateTime,
}

fn token_key(token_type: &TokenType, uid: &str) -> Vec<u8> {
    key([token_type.as_str().to_ascii_lowercase(), uid.to_ascii_lowercase()])
}

/// A token with its account, from the store or inside a transaction.
pub fn view<R: Read + ?Sized>(
    r: &R,
    token_type: &TokenType,
    uid: &str,
) -> Result<Option<TokenView>, StoreError> {
    let k = token_key(token_type, uid);
    let Some(token) = TOKENS.get(r, &k)? else {
        return Ok(None);
    };
    let account = ACCOUNTS.get(r, &k)?.unwrap_or_default();
    Ok(Some(TokenView { token, account }))
}

/// Where a token is pushed: `PUT/PATCH {tokens}/{country_code}/{party_id}/{uid}?type={type}` at every
/// CSO with a Tokens Receiver (TOK-11). Object `tokens/<type>/<uid>`; group `tokens/<type>`, so that
/// all pushes of one token type to a peer go in order, as they did before pushes carried a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAddress {
    /// The issuing party's country.
    pub country_code: CountryCode,
    /// The issuing party.
    pub party_id: PartyId,
    /// The token type.
    pub token_type: TokenType,
    /// The uid.
    pub uid: TokenUid,
}

impl TokenAddress {
    /// The address of `token`.
    pub fn of(token: &Token) -> Self {
        Self {
            country_code: token.country_code.clone(),
            party_id: token.party_id.clone(),
            token_type: token.token_type.clone(),
            uid: token.uid.clone(),
        }
    }

    fn type_key(&self) -> String {
        self.token_type.as_str().to_ascii_lowercase()
    }
}

impl Address for TokenAddress {
    fn object(&self) -> String {
        format!(
            "tokens/{}/{}",
            self.type_key(),
            self.uid.as_str().to_ascii_lowercase()
        )
    }

    fn group(&self) -> String {
        format!("tokens/{}", self.type_key())
    }

    fn module(&self) -> ModuleId {
        ModuleId::Tokens
    }

    fn path(&self) -> Vec<String> {
        vec![
            self.country_code.as_str().to_owned(),
            self.party_id.as_str().to_owned(),
            self.uid.as_str().to_owned(),
        ]
    }

    fn query(&self) -> Vec<(String, String)> {
        vec![("type".to_owned(), self.token_type.as_str().to_owned())]
    }
}

fn text<T: std::str::FromStr>(field: &str, v: &str) -> Result<T, CspError>
where
    T::Err: std::fmt::Display,
{
    v.parse::<T>()
        .map_err(|e| CspError::Invalid(format!("{field} {v:?}: {e}")))
}

/// An operator's value for an OCPI field, checked strictly (our own data: OCPI lengths and rules).
fn from_json<T: serde::de::DeserializeOwned>(field: &str, v: &str) -> Result<T, CspError> {
    roaming_types::decode::decode_value(
        Value::String(v.to_owned()),
        roaming_types::decode::DecodeOptions::STRICT,
    )
    .map(|d| d.value)
    .map_err(|e| CspError::Invalid(format!("{field}: {}", e.message)))
}

/// `n` characters from the CSPRNG over an alphabet of digits and upper-case letters.
fn random_code(n: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in roaming_peer::secret::random_bytes() {
            // 252 = 7 × 36: rejecting above keeps every character equally likely.
            if b < 252 && out.len() < n {
                out.push(char::from(ALPHABET[usize::from(b % 36)]));
            }
        }
    }
    out
}

/// The CSP's token book.
#[derive(Debug, Clone)]
pub struct Tokens {
    core: Arc<Core>,
}

impl Tokens {
    /// Opens the book.
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// A token.
    pub fn get(&self, token_type: &TokenType, uid: &str) -> Result<Option<TokenView>, CspError> {
        Ok(view(&self.core.store, token_type, uid)?)
    }

    /// Every token with its account.
    pub fn list(&self) -> Result<Vec<TokenView>, CspError> {
        let mut out = Vec::new();
        for (k, token) in TOKENS.all(&self.core.store, &[])? {
            let account = ACCOUNTS.get(&self.core.store, &k)?.unwrap_or_default();
            out.push(TokenView { token, account });
        }
        Ok(out)
    }

    /// Issues a token and queues its PUT to every CSO; durable on return.
    pub async fn issue(&self, req: TokenIssue) -> Result<TokenView, CspError> {
        let party = self.core.config.party.clone();
        let token_type = req.token_type.clone().unwrap_or(TokenType::Rfid);
        let uid = match req.uid.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => u.to_owned(),
            _ if matches!(
                token_type,
                TokenType::AppUser | TokenType::AdHocUser | TokenType::OtherToken
            ) =>
            {
                random_code(20)
            }
            _ => {
                return Err(CspError::Invalid(format!(
                    "a {token_type} token needs the uid its card or EV presents"
                )));
            }
        };
        let contract_id = match req.contract_id.as_deref() {
            Some(c) => c.to_owned(),
            None => {
                let provider = ProviderId::new(party.country_code.as_str(), party.party_id.as_str())
                    .map_err(|e| CspError::Invalid(format!("our party cannot issue eMAIDs: {e}")))?;
                Emaid::new(&provider, &random_code(9))
                    .map_err(CspError::internal)?
                    .to_string()
            }
        };
        let token = Token {
            country_code: party.country_code.clone(),
            party_id: party.party_id.clone(),
            uid: text::<TokenUid>("uid", &uid)?,
            token_type: token_type.clone(),
            contract_id: text::<ContractId>("contract_id", &contract_id)?,
            visual_number: req
                .visual_number
                .as_deref()
                .map(|v| from_json("visual_number", v))
                .transpose()?,
            issuer: from_json("issuer", req.issuer.as_deref().unwrap_or(&self.core.config.name))?,
            group_id: req
                .group_id
                .as_deref()
                .map(|v| from_json("group_id", v))
                .transpose()?,
            valid: req.account.state == AccountState::Active,
            whitelist: req.whitelist.clone().unwrap_or(WhitelistType::Allowed),
            language: req
                .language
                .as_deref()
                .map(|v| from_json("language", v))
                .transpose()?,
            default_profile_type: req.default_profile_type.clone(),
            energy_contract: None,
            last_updated: DateTime::now(),
        };
        token.validate().map_err(|e| CspError::Invalid(e.to_string()))?;
        let k = token_key(&token.token_type, token.uid.as_str());
        let woken = self.core.store.transact(|tx| {
            if TOKENS.get_doc(tx, &k)?.is_some() {
                return Err(CspError::Conflict(format!(
                    "a {} token {} exists already",
                    token.token_type, token.uid
                )));
            }
            self.store(tx, &token, &req.account)?;
            self.queue(tx, &token, None)
        })?;
        self.core.commit(woken).await?;
        tracing::info!(token.type = %token.token_type, contract_id = %token.contract_id, "token issued");
        Ok(TokenView {
            token,
            account: req.account,
        })
    }

    /// Changes a token and queues its PATCH to every CSO; durable on return.
    pub async fn update(
        &self,
        token_type: &TokenType,
        uid: &str,
        change: TokenChange,
    ) -> Result<TokenView, CspError> {
        let (updated, woken) = self.core.store.transact(|tx| {
            let TokenView {
                mut token,
                mut account,
            } = view(tx, token_type, uid)?
                .ok_or_else(|| CspError::NotFound(format!("no {token_type} token {uid}")))?;
            let held_since = token.last_updated;
            let mut fields = Map::new();
            if let Some(s) = change.state {
                account.state = s;
                let valid = s == AccountState::Active;
                if token.valid != valid {
                    token.valid = valid;
                    fields.insert("valid".to_owned(), json!(valid));
                }
            }
            if let Some(w) = &change.whitelist {
                token.whitelist = w.clone();
                fields.insert("whitelist".to_owned(), json!(w));
            }
            if let Some(v) = &change.visual_number {
                token.visual_number = Some(from_json("visual_number", v)?);
                fields.insert("visual_number".to_owned(), json!(v));
            }
            if let Some(v) = &change.group_id {
                token.group_id = Some(from_json("group_id", v)?);
                fields.insert("group_id".to_owned(), json!(v));
            }
            if let Some(v) = &change.language {
                token.language = Some(from_json("language", v)?);
                fields.insert("language".to_owned(), json!(v));
            }
            if let Some(p) = &change.default_profile_type {
                token.default_profile_type = Some(p.clone());
                fields.insert("default_profile_type".to_owned(), json!(p));
            }
            if let Some(c) = &change.allowed_cpos {
                account.allowed_cpos = c
                    .iter()
                    .map(|p| text::<PartyRef>("allowed_cpos", p))
                    .collect::<Result<_, _>>()?;
            }
            if let Some(l) = &change.allowed_locations {
                account.allowed_locations.clone_from(l);
            }
            token.last_updated = DateTime::now().max(held_since.plus(chrono::Duration::milliseconds(1)));
            token.validate().map_err(|e| CspError::Invalid(e.to_string()))?;
            self.store(tx, &token, &account)?;
            let woken = if fields.is_empty() {
                Vec::new()
            } else {
                fields.insert("last_updated".to_owned(), json!(token.last_updated));
                self.queue(tx, &token, Some(fields))?
            };
            Ok::<_, CspError>((TokenView { token, account }, woken))
        })?;
        self.core.commit(woken).await?;
        Ok(updated)
    }

    fn store(&self, tx: &mut Tx<'_>, token: &Token, account: &Account) -> Result<(), CspError> {
        let k = token_key(&token.token_type, token.uid.as_str());
        TOKENS.put(tx, &k, token, &[ALL])?;
        ACCOUNTS.put(tx, k, account)?;
        Ok(())
    }

    /// Queues the PUT (`fields` = `None`) or PATCH of a token to every CSO with a Tokens Receiver;
    /// returns the peers to wake.
    fn queue(
        &self,
        tx: &mut Tx<'_>,
        token: &Token,
        fields: Option<Map<String, Value>>,
    ) -> Result<Vec<String>, CspError> {
        let op = match fields {
            None => PushOp::put(token).map_err(CspError::internal)?,
            Some(body) => PushOp::Patch { body },
        };
        Ok(Outbox::push_to_receivers(
            &self.core,
            tx,
            &TokenAddress::of(token),
            op,
        )?)
    }

    /// Queues every token to a CSO that just connected (it starts with a full copy). Returns how many.
    pub async fn push_all_to(&self, peer: &str) -> Result<usize, CspError> {
        let tokens: Vec<Token> = TOKENS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        for chunk in tokens.chunks(1000) {
            self.core.store.transact(|tx| {
                for t in chunk {
                    let op = PushOp::put(t).map_err(CspError::internal)?;
                    Outbox::enqueue(tx, peer, Push::new(&TokenAddress::of(t), op))?;
                }
                Ok::<_, CspError>(())
            })?;
        }
        self.core.commit([peer.to_owned()]).await?;
        Ok(tokens.len())
    }

    /// The real-time authorization (§10.2.2): `Ok(None)` for an unknown token (404 + 2004, TOK-02);
    /// [`CspError::NotEnoughInformation`] when the account limits locations and the CSO did not say
    /// where (2002, TOK-03); otherwise the verdict (TOK-08) with a fresh `authorization_reference`
    /// (TOK-09) and, for LocationReferences, only the allowed EVSEs (TOK-04). Opening hours and EVSE
    /// status play no part (TOK-05).
    pub fn authorize(
        &self,
        caller: Option<&PartyRef>,
        token_type: &TokenType,
        uid: &str,
        location: Option<LocationReferences>,
    ) -> Result<Option<AuthorizationInfo>, CspError> {
        let Some(view) = self.get(token_type, uid)? else {
            return Ok(None);
        };
        let account = &view.account;
        let mut allowed = account.state.allowed();
        if allowed == AllowedType::Allowed
            && !account.allowed_cpos.is_empty()
            && !caller.is_some_and(|c| account.allowed_cpos.contains(c))
        {
            allowed = AllowedType::NotAllowed;
        }
        if !account.allowed_locations.is_empty() {
            match &location {
                None => {
                    return Err(CspError::NotEnoughInformation(
                        "this token may charge at some locations only: send LocationReferences (TOK-03)"
                            .to_owned(),
                    ));
                }
                Some(l)
                    if !account
                        .allowed_locations
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(l.location_id.as_str())) =>
                {
                    if allowed == AllowedType::Allowed {
                        allowed = AllowedType::NotAllowed;
                    }
                }
                Some(_) => {}
            }
        }
        let reference = random_code(24);
        let mut info = AuthorizationInfo::new(allowed.clone(), view.token);
        info.location = location.clone();
        if allowed == AllowedType::Allowed {
            info.authorization_reference = Some(from_json("authorization_reference", &reference)?);
        }
        let record = AuthorizationRecord {
            authorization_reference: reference.clone(),
            token_type: token_type.clone(),
            uid: uid.to_owned(),
            cpo: caller.cloned(),
            location,
            allowed,
            at: DateTime::now(),
        };
        // Kept for the operator and the CDR check; not awaited durable: the answer carries no state
        // the CSO could lose, and the latency is the driver's (TOK-07).
        self.core
            .store
            .transact(|tx| AUTHORIZATIONS.put(tx, reference.into_bytes(), &record))?;
        Ok(Some(info))
    }

    /// The authorizations given for a token (most recent first).
    pub fn authorizations(&self) -> Result<Vec<AuthorizationRecord>, CspError> {
        let mut all: Vec<AuthorizationRecord> = AUTHORIZATIONS
            .all(&self.core.store, &[])?
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        all.sort_by_key(|a| std::cmp::Reverse(a.at));
        Ok(all)
    }

    /// Whether `party` is one of ours (a session or token of ours).
    pub fn is_ours(&self, party: &PartyRef) -> bool {
        self.core.config.party == *party
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_codes_use_the_alphabet_and_differ() {
        let a = random_code(24);
        let b = random_code(24);
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    /// Token pushes keep the object key of before (it keys pending entries on disk) and the group
    /// the outbox derived from it, so entries queued before and after an upgrade order together.
    #[test]
    fn token_pushes_keep_their_object_key_and_group() {
        let address = TokenAddress {
            country_code: CountryCode::new("DE").unwrap(),
            party_id: PartyId::new("CSP").unwrap(),
            token_type: TokenType::AppUser,
            uid: TokenUid::new("Abc123").unwrap(),
        };
        let push = Push::new(&address, PushOp::Delete);
        assert_eq!(push.object, "tokens/app_user/abc123");
        assert_eq!(push.group(), "tokens/app_user");
        assert_eq!(push.group(), roaming_peer::outbox::legacy_rules(&push.object).0);
        assert_eq!(push.module, ModuleId::Tokens);
        assert_eq!(push.role, roaming_peer::outbox::Address::role(&address));
        assert_eq!(push.path, ["DE", "CSP", "Abc123"]);
        assert_eq!(push.query, [("type".to_owned(), "APP_USER".to_owned())]);
        assert!(push.appended.is_empty());
    }

    #[test]
    fn account_states_map_to_allowed_types() {
        assert_eq!(AccountState::Active.allowed(), AllowedType::Allowed);
        assert_eq!(AccountState::Blocked.allowed(), AllowedType::Blocked);
        assert_eq!(AccountState::Expired.allowed(), AllowedType::Expired);
        assert_eq!(AccountState::NoCredit.allowed(), AllowedType::NoCredit);
    }
}
