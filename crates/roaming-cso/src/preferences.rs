//! Charging preferences of a running session (SES-07, checklist §7.1), as a CSP PUTs them to
//! `{sessions}/{session_id}/charging_preferences` (`crate::ocpi::sessions`).
//!
//! The session must be one of the caller's (else 404 + 2001) and its EVSE must have
//! CHARGING_PREFERENCES_CAPABLE (else 404 + 2001, §3.4). The answer is NOT_POSSIBLE when the session
//! no longer runs, PROFILE_TYPE_NOT_SUPPORTED when no tariff of the connector is of the matching
//! PROFILE_* type (REGULAR is always possible), DEPARTURE_REQUIRED / ENERGY_NEED_REQUIRED when CHEAP
//! or GREEN come without the departure time / energy need the CSO needs to plan them, and ACCEPTED
//! otherwise: then the preferences are kept with the session, durably before the answer.

use roaming_peer::store::StoreHandle;
use roaming_types::ids::PartyRef;
use roaming_types::modules::locations::Capability;
use roaming_types::modules::sessions::{
    ChargingPreferences, ChargingPreferencesResponse, ProfileType, SessionStatus,
};
use roaming_types::modules::tariffs::TariffType;

use crate::error::CsoError;
use crate::sessions::Sessions;
use crate::sites::Sites;

fn profile_tariff(p: &ProfileType) -> Option<TariffType> {
    match p {
        ProfileType::Cheap => Some(TariffType::ProfileCheap),
        ProfileType::Fast => Some(TariffType::ProfileFast),
        ProfileType::Green => Some(TariffType::ProfileGreen),
        _ => None,
    }
}

/// Answers the preferences `prefs` of session `id` for a caller acting for `parties`, and keeps
/// them when they are ACCEPTED.
pub async fn put(
    sessions: &Sessions,
    sites: &Sites,
    store: &StoreHandle,
    parties: &[PartyRef],
    id: &str,
    prefs: ChargingPreferences,
) -> Result<ChargingPreferencesResponse, CsoError> {
    let unknown = || CsoError::NotFound(format!("unknown session {id}"));
    let s = sessions.get(store, id)?.ok_or_else(unknown)?;
    if !parties.contains(&s.emsp()) {
        return Err(unknown());
    }
    let loc = Sites::location(sites.store(), s.location_id.as_str())?.ok_or_else(unknown)?;
    let evse = loc.evse(&s.evse_uid).ok_or_else(unknown)?;
    if !evse.has(&Capability::ChargingPreferencesCapable) {
        return Err(CsoError::NotFound(format!(
            "EVSE {} does not take charging preferences (SES-07)",
            s.evse_uid
        )));
    }
    let verdict = if !matches!(s.status, SessionStatus::Pending | SessionStatus::Active) {
        ChargingPreferencesResponse::NotPossible
    } else if let Some(wanted) = profile_tariff(&prefs.profile_type) {
        let mut offered = false;
        if let Some(c) = evse.connector(&s.connector_id) {
            for tid in &c.tariff_ids {
                if Sites::tariff(sites.store(), tid.as_str())?
                    .is_some_and(|t| t.tariff_type.as_ref() == Some(&wanted))
                {
                    offered = true;
                    break;
                }
            }
        }
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
        store.transact(|tx| sessions.set_preferences(tx, s.id.as_str(), prefs))?;
        store.durable().await?;
    }
    Ok(verdict)
}
