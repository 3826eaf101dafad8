//! Commands module, **Receiver** interface (CPO), checklist §11.1: `POST {commands}/{command}` with
//! the command object → CommandResponse; the CommandResult follows on the `response_url`
//! ([`crate::commands`]).
//!
//! An unknown location is answered with status 2003 ("unknown location") and
//! `CommandResponse{REJECTED}` (CMD-02, the spec's `command_unlock_unknow_location` diagram;
//! [`data_with_status`]); a command type this CSO does not know is NOT_SUPPORTED; a body that breaks
//! a rule is 2001.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiBody, OcpiPath, PeerCaller};
use roaming_peer::server::reply::data_with_status;
use roaming_types::decode::decode_slice;
use roaming_types::modules::commands::{
    CancelReservation, CommandResponse, CommandResponseType, CommandType, ReserveNow, StartSession,
    StopSession, UnlockConnector,
};
use roaming_types::modules::types::Role;
use serde::de::DeserializeOwned;

use crate::commands::{Answer, Caller};
use crate::state::CsoState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/commands";

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new()
        .route(&format!("{PATH}/{{command}}"), post(post_command))
        .with_state(state)
}

fn decode<T: DeserializeOwned>(caller: &PeerCaller, body: &[u8]) -> Result<T, OcpiError> {
    if body.is_empty() {
        return Err(OcpiError::InvalidParameters(
            "a command needs a JSON body".to_owned(),
        ));
    }
    Ok(decode_slice::<T>(body, caller.decode_options())?.value)
}

async fn post_command(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath(command): OcpiPath<String>,
    OcpiBody(body): OcpiBody,
) -> Result<Response, OcpiError> {
    let who = Caller {
        peer: caller.peer.id.clone(),
        parties: caller.parties(&Role::Emsp),
    };
    let c = &st.commands;
    let answer: Answer = match command.parse::<CommandType>() {
        Ok(CommandType::StartSession) => {
            c.start_session(&who, decode::<StartSession>(&caller, &body)?)
                .await?
        }
        Ok(CommandType::StopSession) => {
            c.stop_session(&who, decode::<StopSession>(&caller, &body)?)
                .await?
        }
        Ok(CommandType::ReserveNow) => c.reserve_now(&who, decode::<ReserveNow>(&caller, &body)?).await?,
        Ok(CommandType::CancelReservation) => {
            c.cancel_reservation(&who, decode::<CancelReservation>(&caller, &body)?)
                .await?
        }
        Ok(CommandType::UnlockConnector) => {
            c.unlock_connector(&who, decode::<UnlockConnector>(&caller, &body)?)
                .await?
        }
        _ => Answer {
            status: roaming_types::StatusCode::Success,
            response: CommandResponse::new(CommandResponseType::NotSupported, 0),
        },
    };
    data_with_status(answer.status, &answer.response)
}
