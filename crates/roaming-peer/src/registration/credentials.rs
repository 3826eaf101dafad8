//! Credentials module, both roles (checklist §5, CR-10…CR-40): `GET/POST/PUT/DELETE {credentials}`.
//!
//! | caller holds      | GET  | POST                 | PUT                 | DELETE |
//! |-------------------|------|----------------------|---------------------|--------|
//! | token A (invite)  | 405  | register (CR-10…14)  | 405 (CR-22)         | 405 (CR-31) |
//! | registered token  | ours | 405 (CR-12)          | update (CR-20, 21)  | unregister (CR-30) |
//! | our token B       | 401  | 401                  | 401                 | 401 |

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use roaming_types::Envelope;
use roaming_types::decode::{DecodeOptions, decode_slice};
use roaming_types::modules::credentials::Credentials;
use roaming_types::modules::versions::VersionNumber;

use crate::core::Core;
use crate::error::OcpiError;
use crate::registration::peers::Authenticated;
use crate::server::extract::{CallerAuth, OcpiBody, PresentedToken, RequestContext};

/// Path of the 2.2.1 credentials module.
pub const CREDENTIALS_PATH: &str = "/ocpi/2.2.1/credentials";

/// The credentials routes.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route(
            CREDENTIALS_PATH,
            get(get_credentials)
                .post(post_credentials)
                .put(put_credentials)
                .delete(delete_credentials),
        )
        .with_state(core)
}

type Answer = Result<axum::Json<Envelope<serde_json::Value>>, OcpiError>;

fn data(credentials: &Credentials) -> Answer {
    let value = serde_json::to_value(credentials).map_err(|e| OcpiError::Internal(e.to_string()))?;
    Ok(axum::Json(Envelope::success(value)))
}

fn decode_credentials(body: &Bytes) -> Result<Credentials, OcpiError> {
    let credentials = decode_slice::<Credentials>(body, DecodeOptions::LENIENT)?.value;
    credentials.validate()?;
    Ok(credentials)
}

fn not_registered() -> OcpiError {
    OcpiError::RegistrationState(
        "not registered: register with a credentials POST first (CR-22, CR-31)".to_owned(),
    )
}

fn token_b_refused() -> OcpiError {
    OcpiError::Unauthorized("a registration in progress cannot use the credentials module".to_owned())
}

/// CR-40: our credentials for this client, with the token it uses to call us.
async fn get_credentials(
    State(core): State<Arc<Core>>,
    CallerAuth(auth): CallerAuth,
    token: Option<axum::Extension<PresentedToken>>,
) -> Answer {
    match (auth, token) {
        (Authenticated::Peer(_), Some(axum::Extension(PresentedToken(token)))) => {
            data(&core.our_credentials(token))
        }
        (Authenticated::Peer(_), None) => Err(OcpiError::Unauthorized("no token".to_owned())),
        (Authenticated::Invitation(_), _) => Err(not_registered()),
        (Authenticated::Pending(_), _) => Err(token_b_refused()),
    }
}

/// §5.2: registration with token A.
async fn post_credentials(
    State(core): State<Arc<Core>>,
    CallerAuth(auth): CallerAuth,
    ctx: RequestContext,
    OcpiBody(body): OcpiBody,
) -> Answer {
    match auth {
        Authenticated::Invitation(invitation) => {
            let body = decode_credentials(&body)?;
            let ours = crate::registration::respond_post(
                &core,
                &invitation,
                &VersionNumber::V2_2_1,
                body,
                &ctx.correlation_id,
            )
            .await?;
            data(&ours)
        }
        Authenticated::Peer(p) => Err(OcpiError::RegistrationState(format!(
            "{} is already registered (CR-12); use PUT to update or DELETE to unregister",
            p.id
        ))),
        Authenticated::Pending(_) => Err(token_b_refused()),
    }
}

/// CR-20, CR-21: token rotation, version switch, endpoint change.
async fn put_credentials(
    State(core): State<Arc<Core>>,
    CallerAuth(auth): CallerAuth,
    ctx: RequestContext,
    OcpiBody(body): OcpiBody,
) -> Answer {
    match auth {
        Authenticated::Peer(peer) => {
            let body = decode_credentials(&body)?;
            let ours = crate::registration::respond_put(
                &core,
                &peer,
                &VersionNumber::V2_2_1,
                body,
                &ctx.correlation_id,
            )
            .await?;
            data(&ours)
        }
        Authenticated::Invitation(_) => Err(not_registered()),
        Authenticated::Pending(_) => Err(token_b_refused()),
    }
}

/// CR-30, CR-31: unregister.
async fn delete_credentials(State(core): State<Arc<Core>>, CallerAuth(auth): CallerAuth) -> Answer {
    match auth {
        Authenticated::Peer(peer) => {
            crate::registration::respond_delete(&core, &peer).await?;
            Ok(axum::Json(Envelope::ok()))
        }
        Authenticated::Invitation(_) => Err(not_registered()),
        Authenticated::Pending(_) => Err(token_b_refused()),
    }
}
