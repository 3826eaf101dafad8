//! What the CSP's handlers and tasks share: [`CspState`], the axum state of its OCPI modules and
//! operator API (built by [`crate::build`]), and the announcements made after a change is durable.

use std::sync::Arc;

use roaming_peer::core::Core;

use crate::{cdrs, checks, commands, events, profiles, sessions, sites, tokens};

/// What the CSP's handlers and tasks share.
#[derive(Debug, Clone)]
pub struct CspState {
    /// The shared machinery.
    pub core: Arc<Core>,
    /// Sites and tariffs received.
    pub sites: sites::Sites,
    /// The driver's tokens.
    pub tokens: tokens::Tokens,
    /// Sessions at the CSOs.
    pub sessions: sessions::Sessions,
    /// Commands sent.
    pub commands: commands::Commands,
    /// CDRs received.
    pub cdrs: cdrs::Cdrs,
    /// Our verdicts on them.
    pub checks: checks::Checks,
    /// Charge plans.
    pub plans: profiles::Plans,
    /// Live events.
    pub events: events::Events,
    /// How far before the last pull's start an incremental pull starts (`csp.sync.overlap_secs`).
    pub sync_overlap: std::time::Duration,
}

impl CspState {
    /// Announces a newly stored CDR (after it is durable) and checks it in the background: re-priced
    /// and compared with the session (UC3-5), the verdict kept and sent to the CSO.
    pub fn cdr_received(&self, cdr: &roaming_types::modules::cdrs::Cdr) {
        self.events.send(events::CspEvent::Cdr {
            owner: cdr.party().to_string(),
            cdr: cdr.id.as_str().to_owned(),
            contract_id: cdr.cdr_token.contract_id.as_str().to_owned(),
            total_cost: cdr.total_cost.excl_vat.to_string(),
        });
        let st = self.clone();
        let cdr = cdr.clone();
        tokio::spawn(async move {
            let session = cdr
                .session_id
                .as_ref()
                .and_then(|id| st.sessions.get(&cdr.party(), id.as_str()).ok().flatten());
            let tz = checks::time_zone_of(&st.core.store, &cdr);
            let verdict = checks::check(&cdr, session.as_ref(), tz);
            match st.checks.record(verdict).await {
                Ok(c) => st.events.send(events::CspEvent::CdrChecked {
                    owner: c.cpo.to_string(),
                    cdr: c.cdr_id.as_str().to_owned(),
                    contract_id: c.contract_id.as_str().to_owned(),
                    verdict: c.verdict.as_str().to_owned(),
                    reasons: c.reasons.iter().map(|r| r.as_str().to_owned()).collect(),
                }),
                Err(e) => tracing::error!(cdr = %cdr.id, error = %e, "CDR check not stored"),
            }
        });
    }

    /// Announces what a Receiver change did to a location (after it is durable), when it changed
    /// anything: the EVSE's status when it was about one EVSE, else the location.
    pub fn announce_received(&self, r: &sites::Received) {
        if !r.write.changed() {
            return;
        }
        match r.evse.as_ref().and_then(|u| r.location.evse(u)) {
            Some(e) => self.events.send(events::CspEvent::Evse {
                owner: r.location.party().to_string(),
                location: r.location.id.as_str().to_owned(),
                evse: e.uid.as_str().to_owned(),
                status: e.status.as_str().to_owned(),
                last_updated: e.last_updated.to_string(),
            }),
            None => self.announce_location(&r.location),
        }
    }

    /// Announces a stored or deleted tariff on `/api/events` (after it is durable).
    pub fn announce_tariff(&self, owner: &roaming_types::ids::PartyRef, id: &str, deleted: bool) {
        self.events.send(events::CspEvent::Tariff {
            owner: owner.to_string(),
            tariff: id.to_owned(),
            deleted,
        });
    }

    /// Announces a stored location on `/api/events` (after it is durable).
    pub fn announce_location(&self, loc: &roaming_types::modules::locations::Location) {
        self.events.send(events::CspEvent::Location {
            owner: loc.party().to_string(),
            location: loc.id.as_str().to_owned(),
            last_updated: loc.last_updated.to_string(),
        });
    }
}
