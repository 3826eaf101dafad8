//! Sessions module, **Sender** interface (CPO), checklist §7.1: `GET {sessions}` (paginated,
//! T-60…T-62) and `PUT {sessions}/{session_id}/charging_preferences` (SES-07).
//!
//! Each CSP sees only its own sessions (those of its tokens). `date_from` is required by the spec, but
//! a request without it is served from the epoch (E-14). There is no GET of one session here.
//!
//! Charging preferences: the session must be the caller's (else 404 + 2001) and its EVSE must have
//! CHARGING_PREFERENCES_CAPABLE (else 404 + 2001, §3.4). The answer is NOT_POSSIBLE when the session no
//! longer runs, PROFILE_TYPE_NOT_SUPPORTED when no tariff of the connector is of the matching
//! PROFILE_* type (SES-07; REGULAR is always possible), DEPARTURE_REQUIRED / ENERGY_NEED_REQUIRED when
//! CHEAP or GREEN come without the departure time / energy need the CSO needs to plan them, and
//! ACCEPTED otherwise (the preferences are kept with the session).

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::{get, put};
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, OcpiQuery, PeerCaller};
use roaming_peer::server::paginate::{PageParams, caller_page};
use roaming_peer::server::reply::data;
use roaming_types::modules::locations::Capability;
use roaming_types::modules::sessions::{
    ChargingPreferences, ChargingPreferencesResponse, ProfileType, SessionStatus,
};
use roaming_types::modules::tariffs::TariffType;
use roaming_types::modules::types::Role;

use crate::error::CsoError;
use crate::sessions::SESSIONS;
use crate::state::CsoState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/sessions";
/// Largest page.
pub const MAX_LIMIT: usize = 500;

/// The routes.
pub fn router(state: CsoState) -> Router {
    Router::new()
        .route(PATH, get(get_sessions))
        .route(
            &format!("{PATH}/{{session_id}}/charging_preferences"),
            put(put_preferences),
        )
        .with_state(state)
}

async fn get_sessions(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiQuery(params): OcpiQuery<PageParams>,
    uri: OriginalUri,
) -> Result<Response, OcpiError> {
    caller_page(
        &st.core,
        &SESSIONS,
        &caller,
        &Role::Emsp,
        &params,
        &st.core.url_of(uri.path()),
        MAX_LIMIT,
    )
}

fn profile_tariff(p: &ProfileType) -> Option<TariffType> {
    match p {
        ProfileType::Cheap => Some(TariffType::ProfileCheap),
        ProfileType::Fast => Some(TariffType::ProfileFast),
        ProfileType::Green => Some(TariffType::ProfileGreen),
        _ => None,
    }
}

async fn put_preferences(
    State(st): State<CsoState>,
    caller: PeerCaller,
    OcpiPath(id): OcpiPath<String>,
    OcpiJson(prefs): OcpiJson<ChargingPreferences>,
) -> Result<Response, OcpiError> {
    let unknown = || OcpiError::unknown_object(format!("unknown session {id}"));
    let s = st.sessions.get(&id)?.ok_or_else(unknown)?;
    if !caller.parties(&Role::Emsp).contains(&s.emsp()) {
        return Err(unknown());
    }
    let loc = st.sites.location(s.location_id.as_str())?.ok_or_else(unknown)?;
    let evse = loc.evse(&s.evse_uid).ok_or_else(unknown)?;
    if !evse.has(&Capability::ChargingPreferencesCapable) {
        return Err(OcpiError::unknown_object(format!(
            "EVSE {} does not take charging preferences (SES-07)",
            s.evse_uid
        )));
    }
    let verdict = if !matches!(s.status, SessionStatus::Pending | SessionStatus::Active) {
        ChargingPreferencesResponse::NotPossible
    } else if let Some(wanted) = profile_tariff(&prefs.profile_type) {
        let offered = evse
            .connector(&s.connector_id)
            .map(|c| {
                c.tariff_ids.iter().any(|tid| {
                    st.sites
                        .tariff(tid.as_str())
                        .ok()
                        .flatten()
                        .is_some_and(|t| t.tariff_type.as_ref() == Some(&wanted))
                })
            })
            .unwrap_or(false);
        let planned = matches!(prefs.profile_type, ProfileType::Cheap | ProfileType::Green);
        if !offered {
            ChargingPreferencesResponse::ProfileTypeNotSupported
        } else if planned && prefs.departure_time.is_none() {
            ChargingPreferencesResponse::DepartureRequired
        } else if planned && prefs.energy_need.is_none() {
            ChargingPreferencesResponse::EnergyNeedRequired
        } else {
            ChargingPreferencesResponse::Accepted
        }
    } else if prefs.profile_type == ProfileType::Regular {
        ChargingPreferencesResponse::Accepted
    } else {
        ChargingPreferencesResponse::ProfileTypeNotSupported
    };
    if verdict == ChargingPreferencesResponse::Accepted {
        st.core
            .store
            .transact(|tx| st.sessions.set_preferences(tx, s.id.as_str(), prefs.clone()))?;
        st.core.store.durable().await.map_err(CsoError::from)?;
    }
    data(&verdict)
}
