//! What a session takes from its site when it starts, from the one read of its location: the seal
//! (the location, EVSE, connector and tariff in force, CDR-03) and the session's currency. Each tariff
//! of the connector and the free-of-charge tariff are read at most once.

use roaming_types::DateTime;
use roaming_types::ci_string::Text;
use roaming_types::ids::{ConnectorId, EvseUid};
use roaming_types::modules::cdrs::CdrLocation;
use roaming_types::modules::locations::Location;
use roaming_types::modules::tariffs::Tariff;

use super::Sessions;
use crate::error::CsoError;
use crate::pricing::Seal;
use crate::sites::Sites;

/// What a session takes from its site.
pub(super) struct Terms {
    /// What its CDR will be built from; `None` when the site does not know the connector.
    pub(super) seal: Option<Seal>,
    /// The currency of the connector's first tariff, when it has one that exists.
    tariff_currency: Option<Text<3>>,
    /// The free-of-charge tariff, when the seal needed it.
    free: Option<Tariff>,
}

impl Terms {
    /// The session's currency: its connector's first tariff's, else the free-of-charge tariff's
    /// (which prices it then).
    pub(super) fn currency(&self, sites: &Sites) -> Result<Text<3>, CsoError> {
        match (&self.tariff_currency, &self.free) {
            (Some(c), _) => Ok(c.clone()),
            (None, Some(free)) => Ok(free.currency.clone()),
            (None, None) => Ok(sites.free_tariff()?.currency),
        }
    }
}

impl Sessions {
    /// The terms of a session starting at `at` on `connector` of `evse` at `site` (its location as
    /// read in the session's transaction), reserved since `reserved_at`. The seal falls back to the
    /// EVSE's first connector; no tariff in force is the published free-of-charge tariff.
    pub(super) fn terms(
        &self,
        site: Option<&Location>,
        evse: &EvseUid,
        connector: &ConnectorId,
        at: DateTime,
        reserved_at: Option<DateTime>,
    ) -> Result<Terms, CsoError> {
        let found = site.and_then(|l| {
            let e = l.evse(evse)?;
            let exact = e.connector(connector).is_some();
            let c = e.connector(connector).or_else(|| e.connectors.first())?;
            Some((l, e, c, exact))
        });
        let Some((loc, e, c, exact)) = found else {
            return Ok(Terms {
                seal: None,
                tariff_currency: None,
                free: None,
            });
        };
        let mut tariffs = Vec::new();
        let mut tariff_currency = None;
        for (i, t) in c.tariff_ids.iter().enumerate() {
            if let Some(t) = Sites::tariff(self.sites.store(), t.as_str())? {
                if i == 0 && exact {
                    tariff_currency = Some(t.currency.clone());
                }
                tariffs.push(t);
            }
        }
        let (tariff, free) = match roaming_types::pricing::select_tariff(&tariffs, None, at) {
            Some(t) => (t.clone(), None),
            // No tariff in force: the session is free of charge, by the tariff every CSP holds.
            None => {
                let free = self.sites.free_tariff()?;
                (free.clone(), Some(free))
            }
        };
        Ok(Terms {
            seal: Some(Seal {
                location: CdrLocation::of(loc, e, c),
                tariff: Some(tariff),
                time_zone: loc.time_zone.as_str().to_owned(),
                reserved_at,
            }),
            tariff_currency,
            free,
        })
    }

    /// The currency of sessions whose connector has no tariff (`cso.currency`).
    pub fn default_currency(&self) -> Result<Text<3>, CsoError> {
        Text::new(self.currency.as_str()).map_err(|e| CsoError::Invalid(format!("cso.currency: {e}")))
    }
}
