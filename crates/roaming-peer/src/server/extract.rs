//! Extractors of the OCPI face (style §6, §8): their rejections are [`OcpiError`]s, so every bad
//! input gets an enveloped answer with the right HTTP status and OCPI code.
//!
//! The checks every module repeats are made here, once: who calls ([`PeerCaller`], T-13), the
//! owner of a Client Owned Object URL (T-90, T-95) and whether the body names the object the URL
//! names (T-93) ([`Owned`], [`OwnedBody`], [`OwnedPut`], for the types that implement [`Addressed`]),
//! the owner of a posted object ([`Posted`]). A handler takes what they give and calls its role's
//! domain module.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http::request::Parts;
use roaming_types::decode::{DecodeOptions, decode_slice, with_options};
use roaming_types::ids::{CountryCode, PartyId, PartyRef};
use roaming_types::modules::tokens::TokenType;
use roaming_types::modules::types::Role;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::OcpiError;
use crate::registration::peers::{Authenticated, PeerRecord};
use crate::stamps::StampPolicy;

/// The ids of the request in progress (T-40, T-41), inserted by the context middleware.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// `X-Request-ID` as received or generated.
    pub request_id: String,
    /// `X-Correlation-ID` as received or generated; reuse it for calls this request triggers (T-42).
    pub correlation_id: String,
}

/// Who authenticated the request, inserted by the auth middleware.
#[derive(Debug, Clone)]
pub struct CallerAuth(pub Authenticated);

/// The token that authenticated the request (kept in memory for the request only: the credentials
/// GET echoes it, CR-40). Its `Debug` is redacted.
#[derive(Debug, Clone)]
pub struct PresentedToken(pub roaming_types::auth::CredentialsToken);

/// The routing headers' sender party, when the peer sent them (T-50…T-53).
#[derive(Debug, Clone)]
pub struct RoutedFrom(pub Option<PartyRef>);

/// A registered peer calling a functional module or the credentials module (T-13: token A is
/// refused here with 401).
#[derive(Debug, Clone)]
pub struct PeerCaller {
    /// The peer.
    pub peer: Arc<PeerRecord>,
    /// The party it called as (from `OCPI-from-*`; `None` when it sent no routing headers).
    pub party: Option<PartyRef>,
    /// The request's ids.
    pub context: RequestContext,
}

impl PeerCaller {
    /// The parties the caller may act for in `role`: the routed party when it sent one, else every
    /// party of that role it registered (T-53, style §10).
    pub fn parties(&self, role: &Role) -> Vec<PartyRef> {
        match &self.party {
            Some(p) if self.peer.hosts(p, role) => vec![p.clone()],
            Some(_) => Vec::new(),
            None => self.peer.parties(role),
        }
    }

    /// Whether the caller owns objects of `(country_code, party_id)` in `role` (T-90, T-95).
    pub fn owns(&self, country_code: &CountryCode, party_id: &PartyId, role: &Role) -> bool {
        let party = PartyRef::new(country_code.clone(), party_id.clone());
        self.parties(role).contains(&party)
    }

    /// Refuses a write to objects the caller does not own: HTTP 404 as the checklist allows for
    /// Client Owned Object URLs outside the caller's roles (§3.4), with 2001.
    pub fn require_owner(
        &self,
        country_code: &CountryCode,
        party_id: &PartyId,
        role: &Role,
    ) -> Result<(), OcpiError> {
        if self.owns(country_code, party_id, role) {
            Ok(())
        } else {
            Err(OcpiError::unknown_object(format!(
                "{}-{} is not one of your parties (T-90): you may only address objects you own",
                country_code.to_upper(),
                party_id.to_upper()
            )))
        }
    }

    /// The owner named by the `{country_code}/{party_id}` segments of a Client Owned Object URL, if
    /// the caller owns it in `role`: 2001 for malformed ids, 404 + 2001 for another party (T-90).
    pub fn owner_in_url(
        &self,
        country_code: &str,
        party_id: &str,
        role: &Role,
    ) -> Result<PartyRef, OcpiError> {
        let invalid = |e: roaming_types::TypeError| OcpiError::InvalidParameters(e.to_string());
        let cc = CountryCode::new(country_code).map_err(invalid)?;
        let pid = PartyId::new(party_id).map_err(invalid)?;
        self.require_owner(&cc, &pid, role)?;
        Ok(PartyRef::new(cc, pid))
    }

    /// The decode options for this peer's input (E-19 per-peer leniency).
    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            lenient_datetime: self.peer.compat.lenient_datetime,
            ..DecodeOptions::LENIENT
        }
    }
}

fn context(parts: &Parts) -> RequestContext {
    parts
        .extensions
        .get::<RequestContext>()
        .cloned()
        .unwrap_or_else(|| RequestContext {
            request_id: crate::headers::new_id(),
            correlation_id: crate::headers::new_id(),
        })
}

impl<S: Send + Sync> FromRequestParts<S> for PeerCaller {
    type Rejection = OcpiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<CallerAuth>() {
            Some(CallerAuth(Authenticated::Peer(peer))) => Ok(Self {
                peer: Arc::clone(peer),
                party: parts.extensions.get::<RoutedFrom>().and_then(|r| r.0.clone()),
                context: context(parts),
            }),
            Some(_) => Err(OcpiError::Unauthorized(
                "this token only gives access to versions and credentials (T-13)".to_owned(),
            )),
            None => Err(OcpiError::Unauthorized("missing Authorization header".to_owned())),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = OcpiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(context(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CallerAuth {
    type Rejection = OcpiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CallerAuth>()
            .cloned()
            .ok_or_else(|| OcpiError::Unauthorized("missing Authorization header".to_owned()))
    }
}

/// A JSON body decoded with the checklist's leniency rules (T-70…T-72) and the caller's options;
/// not JSON → 400, JSON that breaks a rule → 2001 with the JSON path. A time stamp of the data
/// (`last_updated`, …) more than `http.max_clock_skew_secs` ahead of our clock is a 2001 too
/// ([`StampPolicy`], T-80, #12 item 12), checked before the body is decoded.
#[derive(Debug, Clone)]
pub struct OcpiJson<T>(pub T);

fn is_json_content_type(parts: &Parts) -> bool {
    match parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        // T-02 requires the header; a missing one is tolerated, a different type is not.
        None => true,
        Some(ct) => {
            let essence = ct.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        }
    }
}

/// Reads the body within the configured limit.
pub(crate) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<(Parts, Bytes), OcpiError> {
    let (parts, body) = req.into_parts();
    if let Some(super::body::BodyLimit(limit)) = parts.extensions.get::<super::body::BodyLimit>().copied() {
        // The rest of an over-limit body is drained, so the client gets the 413 (server/body.rs).
        let bytes = super::body::read_limited(&parts.headers, body, limit)
            .await
            .map_err(|e| match e {
                super::body::BodyError::TooLarge => OcpiError::PayloadTooLarge,
                super::body::BodyError::Read(e) => OcpiError::BadJson(e),
            })?;
        return Ok((parts, bytes));
    }
    let req = Request::from_parts(parts.clone(), body);
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
            OcpiError::PayloadTooLarge
        } else {
            OcpiError::BadJson(e.body_text())
        }
    })?;
    Ok((parts, bytes))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OcpiJson<T> {
    type Rejection = OcpiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, bytes) = read_body(req, state).await?;
        if !is_json_content_type(&parts) {
            return Err(OcpiError::UnsupportedMediaType);
        }
        let options = match parts.extensions.get::<CallerAuth>() {
            Some(CallerAuth(Authenticated::Peer(p))) => DecodeOptions {
                lenient_datetime: p.compat.lenient_datetime,
                ..DecodeOptions::LENIENT
            },
            _ => DecodeOptions::LENIENT,
        };
        // T-80 / #12 item 12: a stamp too far ahead refuses the body before anything is decoded; the
        // scan reads tokens only (no JSON tree), and bytes that are not JSON are left to the decoder.
        let stamps = parts.extensions.get::<StampPolicy>().copied().unwrap_or_default();
        if let Err(Some(e)) = stamps.check_slice(&bytes, options.lenient_datetime) {
            return Err(e.into());
        }
        let decoded = decode_slice::<T>(&bytes, options)?;
        for w in &decoded.warnings {
            tracing::debug!(warning = %w, "accepted leniently");
        }
        Ok(Self(decoded.value))
    }
}

/// A raw JSON body, checked for content type and size but not decoded yet (for handlers that must
/// decide on the caller before looking at the body).
#[derive(Debug, Clone)]
pub struct OcpiBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for OcpiBody {
    type Rejection = OcpiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, bytes) = read_body(req, state).await?;
        if !bytes.is_empty() && !is_json_content_type(&parts) {
            return Err(OcpiError::UnsupportedMediaType);
        }
        Ok(Self(bytes))
    }
}

/// Path parameters; a value that cannot be parsed is answered with 2001.
#[derive(Debug, Clone)]
pub struct OcpiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for OcpiPath<T> {
    type Rejection = OcpiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| OcpiError::InvalidParameters(format!("invalid URL: {}", e.body_text())))
    }
}

/// Query parameters, decoded with the same rules as a peer's JSON body (a `response_url` must be one
/// we can call, #12 item 13); a value that cannot be parsed is answered with 2001.
#[derive(Debug, Clone)]
pub struct OcpiQuery<T>(pub T);

impl<T: DeserializeOwned> OcpiQuery<T> {
    /// The query of the request `parts` belong to.
    pub fn parse(parts: &Parts) -> Result<Self, OcpiError> {
        let (result, _) = with_options(DecodeOptions::LENIENT, || {
            axum::extract::Query::<T>::try_from_uri(&parts.uri)
        });
        result
            .map(|q| Self(q.0))
            .map_err(|e| OcpiError::InvalidParameters(format!("invalid query: {}", e.body_text())))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for OcpiQuery<T> {
    type Rejection = OcpiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::parse(parts)
    }
}

/// `?type=` of a token URL: RFID when absent (§10.1, TOK-11).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenTypeQuery {
    /// The token type, as given.
    #[serde(rename = "type")]
    pub token_type: Option<TokenType>,
}

impl TokenTypeQuery {
    /// The type, RFID by default.
    pub fn get(&self) -> TokenType {
        self.token_type.clone().unwrap_or(TokenType::Rfid)
    }
}

/// An object that its module addresses like a Client Owned Object (§3.11):
/// `{module}/{country_code}/{party_id}/{ids…}`, the party being the object's owner. roaming-peer
/// implements it for the vocabulary's objects ([`super::addressed`]); [`Owned`] and
/// [`OwnedBody`] read such URLs.
pub trait Addressed {
    /// What the URL names after the owner, as the handler receives it: the ids as sent (the
    /// domain module parses them, so that its refusals come in the order they always came), and
    /// for a token its type from `?type=`.
    type Key: Send + 'static;

    /// The role whose parties own such objects (T-90): CPO for locations, tariffs, sessions and
    /// CDRs, eMSP for tokens.
    fn owner_role() -> Role;

    /// The key from the path segments after `{country_code}/{party_id}` and the request (the
    /// query of a token URL).
    fn key(ids: Vec<String>, parts: &Parts) -> Result<Self::Key, OcpiError>;
}

/// A body sent to the URL of a `T`. An object must name what the URL names (T-93: 2001 otherwise,
/// with a message that says both); a PATCH agrees with any URL.
pub trait BodyOf<T: Addressed>: DeserializeOwned {
    /// `Ok` when this body may be stored under `owner` / `key`.
    fn check_address(&self, owner: &PartyRef, key: &T::Key) -> Result<(), OcpiError>;
}

/// An object that names its owner in its own fields (a CDR: posted to the module URL, T-95).
pub trait OwnedObject: Addressed {
    /// The party that owns it.
    fn owner(&self) -> PartyRef;
}

/// The caller, the path segments and the key of a Client Owned Object URL, before the owner check.
async fn address<T: Addressed, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<(PeerCaller, String, String, T::Key), OcpiError> {
    let caller = PeerCaller::from_request_parts(parts, state).await?;
    let OcpiPath(mut ids) = OcpiPath::<Vec<String>>::from_request_parts(parts, state).await?;
    if ids.len() < 2 {
        return Err(OcpiError::Internal(format!(
            "route {} has no {{country_code}}/{{party_id}}",
            parts.uri.path()
        )));
    }
    let rest = ids.split_off(2);
    let pid = ids.pop().unwrap_or_default();
    let cc = ids.pop().unwrap_or_default();
    let key = T::key(rest, parts)?;
    Ok((caller, cc, pid, key))
}

/// A Client Owned Object URL the caller may address (GET, DELETE): `{country_code}/{party_id}` is
/// one of the caller's parties in `T`'s owner role (2001 for malformed ids, 404 + 2001 for another
/// party, T-90), followed by `T`'s key.
#[derive(Debug, Clone)]
pub struct Owned<T: Addressed> {
    /// The caller.
    pub caller: PeerCaller,
    /// The owner the URL names, one of the caller's parties.
    pub owner: PartyRef,
    /// The rest of the URL.
    pub key: T::Key,
}

impl<S: Send + Sync, T: Addressed> FromRequestParts<S> for Owned<T> {
    type Rejection = OcpiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (caller, cc, pid, key) = address::<T, S>(parts, state).await?;
        let owner = caller.owner_in_url(&cc, &pid, &T::owner_role())?;
        Ok(Self { caller, owner, key })
    }
}

/// A write to a Client Owned Object URL (PUT, PATCH): the URL as for [`Owned`], and a body `B`
/// decoded like [`OcpiJson`] that agrees with the URL ([`BodyOf`], T-93). The refusals come in the
/// order the checks are made: URL syntax, the token type (tokens), the body, the owner (T-90), the
/// body against the URL (T-93).
#[derive(Debug, Clone)]
pub struct OwnedBody<T: Addressed, B> {
    /// The caller.
    pub caller: PeerCaller,
    /// The owner the URL names, one of the caller's parties.
    pub owner: PartyRef,
    /// The rest of the URL.
    pub key: T::Key,
    /// The body.
    pub body: B,
}

/// A Receiver PUT of a `T`: the object in the body names the object of the URL.
pub type OwnedPut<T> = OwnedBody<T, T>;

impl<S: Send + Sync, T: Addressed, B: BodyOf<T>> FromRequest<S> for OwnedBody<T, B> {
    type Rejection = OcpiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let (caller, cc, pid, key) = address::<T, S>(&mut parts, state).await?;
        let OcpiJson(body) = OcpiJson::<B>::from_request(Request::from_parts(parts, body), state).await?;
        let owner = caller.owner_in_url(&cc, &pid, &T::owner_role())?;
        body.check_address(&owner, &key)?;
        Ok(Self {
            caller,
            owner,
            key,
            body,
        })
    }
}

/// An object posted to the module URL (a CDR): decoded like [`OcpiJson`], and owned by one of the
/// caller's parties (404 + 2001 otherwise, T-95).
#[derive(Debug, Clone)]
pub struct Posted<T> {
    /// The caller.
    pub caller: PeerCaller,
    /// The object.
    pub body: T,
}

impl<S: Send + Sync, T: OwnedObject + DeserializeOwned> FromRequest<S> for Posted<T> {
    type Rejection = OcpiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let caller = PeerCaller::from_request_parts(&mut parts, state).await?;
        let OcpiJson(body) = OcpiJson::<T>::from_request(Request::from_parts(parts, body), state).await?;
        let owner = body.owner();
        caller.require_owner(&owner.country_code, &owner.party_id, &T::owner_role())?;
        Ok(Self { caller, body })
    }
}
