//! The search of the locations received (UC1-2): an in-memory [`Summary`] of every location
//! (coordinates, EVSE statuses, connector standards and power), kept by [`Sites`] as it writes,
//! answers a [`Search`] without reading the store; only the page of matches is read.

use roaming_types::ids::PartyRef;
use roaming_types::modules::locations::{ConnectorType, Location, Status};
use serde::{Deserialize, Serialize};

use super::{LOCATIONS, Sites};
use crate::error::CspError;

/// What a search needs to know of one location.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Owner.
    pub owner: PartyRef,
    /// Location id.
    pub id: String,
    /// Whether it may be shown (LOC-03) and has a valid EVSE (LOC-02).
    pub visible: bool,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Per EVSE: status, and per connector: standard and maximum power in W.
    pub evses: Vec<(Status, Vec<(ConnectorType, u64)>)>,
}

impl Summary {
    pub(super) fn of(loc: &Location) -> Self {
        // Coordinates are for distance filters only: f64 is precise enough (money never is f64).
        let deg = |d: rust_decimal::Decimal| -> f64 { d.to_string().parse().unwrap_or(0.0) };
        Self {
            owner: loc.party(),
            id: loc.id.as_str().to_owned(),
            visible: loc.publish && loc.has_valid_evse(),
            lat: deg(loc.coordinates.latitude.value()),
            lon: deg(loc.coordinates.longitude.value()),
            evses: loc
                .evses
                .iter()
                .map(|e| {
                    (
                        e.status.clone(),
                        e.connectors
                            .iter()
                            .map(|c| (c.standard.clone(), c.max_power_w()))
                            .collect(),
                    )
                })
                .collect(),
        }
    }
}

/// A search (every field optional; all given ones must hold).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Search {
    /// `min_lat,min_lon,max_lat,max_lon`.
    pub bbox: Option<String>,
    /// `lat,lon` of the centre of a radius search.
    pub near: Option<String>,
    /// Radius in km around `near` (default 10).
    pub radius_km: Option<f64>,
    /// At least one EVSE with this status.
    pub status: Option<String>,
    /// At least one connector of this standard.
    pub standard: Option<String>,
    /// At least one connector with this power or more, in kW.
    pub min_power_kw: Option<f64>,
    /// Only this owner (`CC-PID`).
    pub party: Option<String>,
    /// Include locations that may not be shown (unpublished, no valid EVSE).
    #[serde(default)]
    pub include_hidden: bool,
    /// Page offset.
    pub offset: Option<usize>,
    /// Page size (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// A search's matches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResult {
    /// All matches.
    pub total: usize,
    /// This page, ordered by distance when `near` is given, else by owner and id.
    pub locations: Vec<Location>,
}

fn pair(s: &str, what: &str) -> Result<Vec<f64>, String> {
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .map_err(|_| format!("{what}: {s:?} is not a list of numbers"))
        })
        .collect()
}

/// Great-circle distance in km.
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1, lat2, lon2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h =
        ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

impl Sites {
    /// Searches the locations received (UC1-2): a search that cannot be understood is
    /// [`CspError::Invalid`], a store that cannot be read [`CspError::Store`].
    pub fn search(&self, s: &Search) -> Result<SearchResult, CspError> {
        let bbox = s
            .bbox
            .as_deref()
            .map(|b| pair(b, "bbox"))
            .transpose()
            .map_err(CspError::Invalid)?;
        if bbox.as_ref().is_some_and(|b| b.len() != 4) {
            return Err(CspError::Invalid(
                "bbox is min_lat,min_lon,max_lat,max_lon".to_owned(),
            ));
        }
        let near = s
            .near
            .as_deref()
            .map(|n| pair(n, "near"))
            .transpose()
            .map_err(CspError::Invalid)?;
        if near.as_ref().is_some_and(|n| n.len() != 2) {
            return Err(CspError::Invalid("near is lat,lon".to_owned()));
        }
        let radius = s.radius_km.unwrap_or(10.0);
        let party: Option<PartyRef> = s
            .party
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| CspError::Invalid(format!("party: {e}")))?;
        let status: Option<Status> = s
            .status
            .as_deref()
            .map(|v| v.parse().unwrap_or_else(|e: std::convert::Infallible| match e {}));
        let standard: Option<ConnectorType> = s
            .standard
            .as_deref()
            .map(|v| v.parse().unwrap_or_else(|e: std::convert::Infallible| match e {}));
        let min_w = s.min_power_kw.map(|kw| (kw * 1000.0).max(0.0) as u64);
        let mut hits: Vec<(f64, Vec<u8>)> = Vec::new();
        {
            let index = self
                .index
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (k, e) in index.iter() {
                if !(e.visible || s.include_hidden) {
                    continue;
                }
                if party.as_ref().is_some_and(|p| p != &e.owner) {
                    continue;
                }
                if let Some(b) = &bbox {
                    if e.lat < b[0] || e.lat > b[2] || e.lon < b[1] || e.lon > b[3] {
                        continue;
                    }
                }
                let distance = near.as_ref().map(|n| haversine_km((n[0], n[1]), (e.lat, e.lon)));
                if distance.is_some_and(|d| d > radius) {
                    continue;
                }
                if status
                    .as_ref()
                    .is_some_and(|st| !e.evses.iter().any(|(x, _)| x == st))
                {
                    continue;
                }
                let conn_ok = |(ct, w): &(ConnectorType, u64)| {
                    standard.as_ref().is_none_or(|s| s == ct) && min_w.is_none_or(|m| *w >= m)
                };
                if (standard.is_some() || min_w.is_some())
                    && !e.evses.iter().any(|(_, cs)| cs.iter().any(conn_ok))
                {
                    continue;
                }
                hits.push((distance.unwrap_or(0.0), k.clone()));
            }
        }
        if near.is_some() {
            hits.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        }
        let total = hits.len();
        let offset = s.offset.unwrap_or(0);
        let limit = s.limit.unwrap_or(50).clamp(1, 1000);
        let mut locations = Vec::new();
        for (_, k) in hits.into_iter().skip(offset).take(limit) {
            if let Some(l) = LOCATIONS.get(&self.store, &k)? {
                locations.push(l);
            }
        }
        Ok(SearchResult { total, locations })
    }

    /// The number of locations held.
    pub fn count(&self) -> usize {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_oslo_bergen() {
        let d = haversine_km((59.9139, 10.7522), (60.3913, 5.3221));
        assert!((d - 305.0).abs() < 5.0, "{d}");
    }
}
