//! Locations module, **Receiver** interface (eMSP), checklist §6.1, §3.11: `GET/PUT/PATCH
//! {locations}/{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]`.
//!
//! Rules (T-90…T-95, T-81, T-82): the caller may only address objects of its own parties (404 + 2001
//! otherwise); ids in the URL must equal those in the body (2001); a PATCH needs `last_updated` (2001);
//! a PATCH or child PUT for an unknown object is 404 + 2001, or 2003 when the location is unknown; an
//! update older than the stored object is acknowledged and ignored; a child change bumps its parents'
//! `last_updated`; the answer comes after the write is durable. A `last_updated` more than the clock
//! skew ahead of our clock is refused by the extractor (2001), and one we hold is not trusted
//! ([`crate::sites::Sites::thaw`]; `roaming_peer::stamps`, #12 item 12).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use roaming_peer::error::OcpiError;
use roaming_peer::server::extract::{OcpiJson, OcpiPath, PeerCaller};
use roaming_peer::server::reply::{data, written};
use roaming_types::ids::{ConnectorId, EvseUid, LocationId, PartyRef};
use roaming_types::modules::locations::{
    Connector, ConnectorPatch, Evse, EvsePatch, Location, LocationPatch,
};
use roaming_types::modules::types::Role;

use crate::events::CspEvent;
use crate::sites::Write;
use crate::state::CspState;

/// Path of the module.
pub const PATH: &str = "/ocpi/2.2.1/locations";

/// The routes.
pub fn router(state: CspState) -> Router {
    Router::new()
        .route(
            &format!("{PATH}/{{cc}}/{{pid}}/{{location_id}}"),
            get(get_location).put(put_location).patch(patch_location),
        )
        .route(
            &format!("{PATH}/{{cc}}/{{pid}}/{{location_id}}/{{evse_uid}}"),
            get(get_evse).put(put_evse).patch(patch_evse),
        )
        .route(
            &format!("{PATH}/{{cc}}/{{pid}}/{{location_id}}/{{evse_uid}}/{{connector_id}}"),
            get(get_connector).put(put_connector).patch(patch_connector),
        )
        .with_state(state)
}

fn invalid(e: impl std::fmt::Display) -> OcpiError {
    OcpiError::InvalidParameters(e.to_string())
}

/// The owner named in the URL, after the ownership check (T-90).
fn owner(caller: &PeerCaller, cc: &str, pid: &str) -> Result<PartyRef, OcpiError> {
    caller.owner_in_url(cc, pid, &Role::Cpo)
}

fn unknown_location(owner: &PartyRef, id: &str) -> OcpiError {
    OcpiError::unknown_location(format!(
        "unknown location {owner}/{id}; PUT the location first (T-94)"
    ))
}

async fn get_location(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id)): OcpiPath<(String, String, String)>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    data(
        &st.sites
            .location(&owner, &id)?
            .ok_or_else(|| unknown_location(&owner, &id))?,
    )
}

async fn get_evse(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id, uid)): OcpiPath<(String, String, String, String)>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let loc = st
        .sites
        .location(&owner, &id)?
        .ok_or_else(|| unknown_location(&owner, &id))?;
    let uid = EvseUid::new(uid).map_err(invalid)?;
    data(
        loc.evse(&uid)
            .ok_or_else(|| OcpiError::unknown_object(format!("unknown EVSE {uid}")))?,
    )
}

async fn get_connector(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id, uid, cid)): OcpiPath<(String, String, String, String, String)>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let loc = st
        .sites
        .location(&owner, &id)?
        .ok_or_else(|| unknown_location(&owner, &id))?;
    let uid = EvseUid::new(uid).map_err(invalid)?;
    let cid = ConnectorId::new(cid).map_err(invalid)?;
    let evse = loc
        .evse(&uid)
        .ok_or_else(|| OcpiError::unknown_object(format!("unknown EVSE {uid}")))?;
    data(
        evse.connector(&cid)
            .ok_or_else(|| OcpiError::unknown_object(format!("unknown connector {cid}")))?,
    )
}

async fn put_location(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id)): OcpiPath<(String, String, String)>,
    OcpiJson(loc): OcpiJson<Location>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    if loc.party() != owner || !loc.id.as_str().eq_ignore_ascii_case(&id) {
        return Err(invalid(format!(
            "the URL names {owner}/{id} but the body is {}/{} (T-93)",
            loc.party(),
            loc.id
        )));
    }
    let w = st.sites.upsert_location(&loc)?;
    st.core.store.durable().await?;
    if w.changed() {
        st.announce_location(&loc);
    }
    Ok(written(w))
}

/// Runs a read-modify-write on a stored location; `f` returns whether it changed anything.
async fn modify(
    st: &CspState,
    owner: &PartyRef,
    id: &str,
    changed_evse: Option<&EvseUid>,
    f: impl FnOnce(&mut Location) -> Result<Write, OcpiError>,
) -> Result<Response, OcpiError> {
    let (w, loc) = st.sites.store().transact(|tx| {
        let mut loc = st
            .sites
            .location_tx(tx, owner, id)?
            .ok_or_else(|| unknown_location(owner, id))?;
        st.sites.thaw(&mut loc);
        let w = f(&mut loc)?;
        if w.changed() {
            st.sites.put_location_tx(tx, &loc)?;
        }
        Ok::<_, OcpiError>((w, loc))
    })?;
    st.core.store.durable().await?;
    if w.changed() {
        st.sites.indexed(&loc);
        match changed_evse.and_then(|u| loc.evse(u)) {
            Some(e) => st.events.send(CspEvent::Evse {
                owner: owner.to_string(),
                location: loc.id.as_str().to_owned(),
                evse: e.uid.as_str().to_owned(),
                status: e.status.as_str().to_owned(),
                last_updated: e.last_updated.to_string(),
            }),
            None => st.announce_location(&loc),
        }
    }
    Ok(written(w))
}

async fn patch_location(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id)): OcpiPath<(String, String, String)>,
    OcpiJson(patch): OcpiJson<LocationPatch>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    modify(&st, &owner, &id, None, |loc| {
        if patch.last_updated < loc.last_updated {
            return Ok(Write::Stale);
        }
        loc.apply_patch(patch).map_err(invalid)?;
        Ok(Write::Updated)
    })
    .await
}

async fn put_evse(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id, uid)): OcpiPath<(String, String, String, String)>,
    OcpiJson(evse): OcpiJson<Evse>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let uid = EvseUid::new(uid).map_err(invalid)?;
    if evse.uid != uid {
        return Err(invalid(format!(
            "the URL names EVSE {uid} but the body {} (T-93)",
            evse.uid
        )));
    }
    modify(&st, &owner, &id, Some(&uid), |loc| {
        let t = evse.last_updated;
        let w = match loc.evse_mut(&uid) {
            Some(old) if old.last_updated > t => return Ok(Write::Stale),
            Some(old) => {
                *old = evse;
                Write::Updated
            }
            None => {
                loc.evses.push(evse);
                Write::Created
            }
        };
        loc.touch_evse(&uid, t);
        Ok(w)
    })
    .await
}

async fn patch_evse(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id, uid)): OcpiPath<(String, String, String, String)>,
    OcpiJson(patch): OcpiJson<EvsePatch>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let uid = EvseUid::new(uid).map_err(invalid)?;
    modify(&st, &owner, &id, Some(&uid), |loc| {
        let t = patch.last_updated;
        let evse = loc
            .evse_mut(&uid)
            .ok_or_else(|| OcpiError::unknown_object(format!("unknown EVSE {uid}; PUT it first (T-94)")))?;
        if t < evse.last_updated {
            return Ok(Write::Stale);
        }
        evse.apply_patch(patch).map_err(invalid)?;
        loc.touch_evse(&uid, t);
        Ok(Write::Updated)
    })
    .await
}

async fn put_connector(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id, uid, cid)): OcpiPath<(String, String, String, String, String)>,
    OcpiJson(connector): OcpiJson<Connector>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let uid = EvseUid::new(uid).map_err(invalid)?;
    let cid = ConnectorId::new(cid).map_err(invalid)?;
    if connector.id != cid {
        return Err(invalid(format!(
            "the URL names connector {cid} but the body {} (T-93)",
            connector.id
        )));
    }
    modify(&st, &owner, &id, Some(&uid), |loc| {
        let t = connector.last_updated;
        let evse = loc
            .evse_mut(&uid)
            .ok_or_else(|| OcpiError::unknown_object(format!("unknown EVSE {uid}; PUT it first (T-94)")))?;
        let w = match evse.connector_mut(&cid) {
            Some(old) if old.last_updated > t => return Ok(Write::Stale),
            Some(old) => {
                *old = connector;
                Write::Updated
            }
            None => {
                evse.connectors.push(connector);
                Write::Created
            }
        };
        loc.touch_evse(&uid, t);
        Ok(w)
    })
    .await
}

async fn patch_connector(
    State(st): State<CspState>,
    caller: PeerCaller,
    OcpiPath((cc, pid, id, uid, cid)): OcpiPath<(String, String, String, String, String)>,
    OcpiJson(patch): OcpiJson<ConnectorPatch>,
) -> Result<Response, OcpiError> {
    let owner = owner(&caller, &cc, &pid)?;
    let uid = EvseUid::new(uid).map_err(invalid)?;
    let cid = ConnectorId::new(cid).map_err(invalid)?;
    modify(&st, &owner, &id, Some(&uid), |loc| {
        let t = patch.last_updated;
        let evse = loc
            .evse_mut(&uid)
            .ok_or_else(|| OcpiError::unknown_object(format!("unknown EVSE {uid}; PUT it first (T-94)")))?;
        let c = evse.connector_mut(&cid).ok_or_else(|| {
            OcpiError::unknown_object(format!("unknown connector {cid}; PUT it first (T-94)"))
        })?;
        if t < c.last_updated {
            return Ok(Write::Stale);
        }
        c.apply_patch(patch).map_err(invalid)?;
        loc.touch_evse(&uid, t);
        Ok(Write::Updated)
    })
    .await
}

/// Checks a location id from a URL.
pub fn location_id(s: &str) -> Result<LocationId, OcpiError> {
    LocationId::new(s).map_err(invalid)
}
