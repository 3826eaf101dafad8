//! The CSO's clock over its own objects (module docs of [`crate::sites`]): before a write, every
//! changed location, EVSE, connector or tariff is stamped newer than the version it replaces (T-80),
//! nothing is stamped later than now unless it must be newer than a stored stamp, parents are made at
//! least as new as their children (T-82), and a write that changes nothing but time stamps is no
//! change (`false`: not stored, not pushed).

use roaming_types::DateTime;
use roaming_types::ids::{ConnectorId, EvseUid};
use roaming_types::modules::locations::{Evse, Location};
use roaming_types::modules::tariffs::Tariff;

/// The earliest time stamp strictly newer than `before`, and not earlier than `now`.
fn newer_than(before: DateTime, now: DateTime) -> DateTime {
    now.max(before.plus(chrono::Duration::milliseconds(1)))
}

/// A copy of `loc` with every time stamp set to one value: what is left is the content.
fn untimed_location(loc: &Location) -> Location {
    let mut l = loc.clone();
    l.last_updated = DateTime::UNIX_EPOCH;
    for e in &mut l.evses {
        untime_evse(e);
    }
    l
}

/// Sets every time stamp of `e` (its own and its connectors') to one value.
fn untime_evse(e: &mut Evse) {
    e.last_updated = DateTime::UNIX_EPOCH;
    for c in &mut e.connectors {
        c.last_updated = DateTime::UNIX_EPOCH;
    }
}

/// Whether `e` differs from `old` in anything but time stamps.
fn evse_changed(old: &Evse, e: &Evse) -> bool {
    let (mut a, mut b) = (old.clone(), e.clone());
    untime_evse(&mut a);
    untime_evse(&mut b);
    a != b
}

/// The stamp of one object (location, EVSE, connector or tariff) under the CSO's clock: a new object
/// keeps the operator's stamp unless it is later than now; an unchanged one keeps its stored stamp; a
/// changed one keeps the operator's stamp only if it lies after the stored one and not after now, and
/// is otherwise stamped newer than the stored one.
fn stamp(supplied: DateTime, stored: Option<DateTime>, changed: bool, now: DateTime) -> DateTime {
    match stored {
        None => supplied.min(now),
        Some(b) if !changed => b,
        Some(b) if supplied > b && supplied <= now => supplied,
        Some(b) => newer_than(b, now),
    }
}

/// Gives each connector of `e` its `stamp` against the same connector of `old`.
fn stamp_connectors(e: &mut Evse, old: Option<&Evse>, now: DateTime) {
    for c in &mut e.connectors {
        let old = old.and_then(|o| o.connector(&c.id));
        let changed = old.is_none_or(|o| {
            let mut same = c.clone();
            same.last_updated = o.last_updated;
            same != *o
        });
        c.last_updated = stamp(c.last_updated, old.map(|o| o.last_updated), changed, now);
    }
}

/// Applies the CSO's clock (module docs) to `loc`, about to replace `before` (or to be created): each
/// connector, EVSE and the location itself gets its `stamp`, then parents are made at least as new
/// as their children (T-82). Returns `false` when `loc` differs from `before` only in time stamps: then
/// nothing is to be stored or pushed.
pub(super) fn stamp_location(before: Option<&Location>, loc: &mut Location, now: DateTime) -> bool {
    let changed = before.is_none_or(|b| untimed_location(b) != untimed_location(loc));
    if !changed {
        return false;
    }
    for e in &mut loc.evses {
        let old_evse = before.and_then(|b| b.evse(&e.uid));
        stamp_connectors(e, old_evse, now);
        let e_changed = old_evse.is_none_or(|o| evse_changed(o, e));
        e.last_updated = stamp(e.last_updated, old_evse.map(|o| o.last_updated), e_changed, now);
        for c in &e.connectors {
            e.last_updated = e.last_updated.max(c.last_updated);
        }
    }
    loc.last_updated = stamp(loc.last_updated, before.map(|b| b.last_updated), true, now);
    for e in &loc.evses {
        loc.last_updated = loc.last_updated.max(e.last_updated);
    }
    true
}

/// The CSO's clock for a change of one EVSE or connector of `loc` (already applied; `before` is the
/// stored location): the changed object gets its `stamp`, its parents are bumped to it and no
/// further (T-82), exactly as a receiver bumps them when the child's PUT or PATCH arrives. Returns
/// `false` when nothing but time stamps changed.
pub(super) fn stamp_child(
    before: &Location,
    loc: &mut Location,
    uid: &EvseUid,
    connector: Option<&ConnectorId>,
    now: DateTime,
) -> bool {
    // Only this EVSE (or one of its connectors) was changed by the caller.
    let old_evse = before.evse(uid);
    let Some(e) = loc.evse_mut(uid) else { return true };
    if old_evse.is_some_and(|o| !evse_changed(o, e)) {
        return false;
    }
    let t = match connector.and_then(|id| e.connectors.iter_mut().find(|c| c.id == *id)) {
        Some(c) => {
            let old = old_evse.and_then(|o| o.connector(&c.id)).map(|o| o.last_updated);
            c.last_updated = stamp(c.last_updated, old, true, now);
            c.last_updated
        }
        None => {
            // The EVSE as a whole, with its connectors (a receiver stores them as they are sent).
            stamp_connectors(e, old_evse, now);
            let newest_connector = e.connectors.iter().map(|c| c.last_updated).max();
            e.last_updated = stamp(e.last_updated, old_evse.map(|o| o.last_updated), true, now);
            e.last_updated = e.last_updated.max(newest_connector.unwrap_or(e.last_updated));
            e.last_updated
        }
    };
    loc.touch_evse(uid, t);
    true
}

/// The same clock for a tariff: returns `false` when `t` differs from `before` only in `last_updated`.
pub(super) fn stamp_tariff(before: Option<&Tariff>, t: &mut Tariff, now: DateTime) -> bool {
    let changed = before.is_none_or(|b| {
        let mut same = t.clone();
        same.last_updated = b.last_updated;
        same != *b
    });
    if changed {
        t.last_updated = stamp(t.last_updated, before.map(|b| b.last_updated), true, now);
    }
    changed
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use roaming_types::modules::locations::Status;
    use serde_json::json;

    use super::*;

    fn at(ms: i64) -> DateTime {
        DateTime::from_ymd_hms(2026, 6, 1, 12, 0, 0)
            .map(|t| t.plus(chrono::Duration::milliseconds(ms)))
            .expect("a valid date")
    }

    /// A location with two EVSEs of two connectors each, every time stamp `t`.
    fn site(t: DateTime) -> Location {
        let connector = |id: &str| {
            json!({ "id": id, "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                    "max_voltage": 230, "max_amperage": 32, "last_updated": t })
        };
        let evse = |uid: &str| {
            json!({ "uid": uid, "status": "AVAILABLE", "last_updated": t,
                    "connectors": [connector("1"), connector("2")] })
        };
        serde_json::from_value(json!({
            "country_code": "NL", "party_id": "CSO", "id": "L1", "publish": true,
            "address": "Prinsengracht 1", "city": "Amsterdam", "country": "NLD",
            "coordinates": { "latitude": "52.370000", "longitude": "4.890000" },
            "time_zone": "Europe/Amsterdam", "last_updated": t,
            "evses": [evse("E1"), evse("E2")]
        }))
        .expect("a valid location")
    }

    /// T-82 holds: the location is at least as new as its EVSEs, an EVSE as its connectors.
    fn parents_not_older(l: &Location) -> bool {
        l.evses.iter().all(|e| {
            e.last_updated <= l.last_updated && e.connectors.iter().all(|c| c.last_updated <= e.last_updated)
        })
    }

    #[test]
    fn an_older_stamp_on_a_changed_site_is_replaced_by_a_newer_one() {
        let before = site(at(0));
        let mut after = site(at(-60_000));
        after.name = Some("Renamed".parse().expect("a valid name"));
        assert!(stamp_location(Some(&before), &mut after, at(5_000)));
        assert_eq!(after.last_updated, at(5_000));
        // The EVSEs did not change: they keep their stored stamps.
        assert!(after.evses.iter().all(|e| e.last_updated == at(0)));
    }

    #[test]
    fn the_changed_evse_and_connector_are_newer_than_before_even_if_the_clock_is_behind() {
        let before = site(at(10_000));
        let mut after = before.clone();
        after.evses[1].connectors[0].max_amperage = 16;
        assert!(stamp_location(Some(&before), &mut after, at(0)));
        let newer = at(10_001);
        assert_eq!(after.evses[1].connectors[0].last_updated, newer);
        assert_eq!(after.evses[1].last_updated, newer);
        assert_eq!(after.last_updated, newer);
        assert_eq!(
            after.evses[0].last_updated,
            at(10_000),
            "the other EVSE did not change"
        );
        assert_eq!(after.evses[1].connectors[1].last_updated, at(10_000));
    }

    #[test]
    fn a_child_change_bumps_its_parents_no_further_than_a_receiver_does() {
        let mut before = site(at(0));
        before.last_updated = at(20_000);
        // A status change while the CSO's clock is behind the stored EVSE stamp.
        let mut loc = before.clone();
        let uid = EvseUid::new("E1").expect("uid");
        loc.evses[0].status = Status::Charging;
        loc.evses[0].last_updated = at(-5_000);
        assert!(stamp_child(&before, &mut loc, &uid, None, at(-1_000)));
        assert_eq!(loc.evses[0].last_updated, at(1), "newer than the stored EVSE");
        assert_eq!(loc.last_updated, at(20_000), "the location only follows (T-82)");
        // A connector change: the connector is newer, its EVSE and location follow it.
        let before = loc.clone();
        let cid = ConnectorId::new("2").expect("id");
        loc.evses[0].connectors[1].max_amperage = 16;
        assert!(stamp_child(&before, &mut loc, &uid, Some(&cid), at(30_000)));
        assert_eq!(loc.evses[0].connectors[1].last_updated, at(30_000));
        assert_eq!(loc.evses[0].last_updated, at(30_000));
        assert_eq!(loc.last_updated, at(30_000));
        assert_eq!(loc.evses[0].connectors[0].last_updated, at(0));
        // Nothing but stamps: no change.
        let before = loc.clone();
        loc.evses[0].connectors[1].last_updated = at(40_000);
        assert!(!stamp_child(&before, &mut loc, &uid, Some(&cid), at(50_000)));
    }

    #[test]
    fn a_change_of_time_stamps_only_is_no_change() {
        let before = site(at(0));
        let mut after = site(at(99_000));
        assert!(!stamp_location(Some(&before), &mut after, at(100_000)));
    }

    #[test]
    fn stamps_in_the_future_become_now_on_a_new_site() {
        let mut l = site(at(3_600_000));
        assert!(stamp_location(None, &mut l, at(0)));
        assert_eq!(l.last_updated, at(0));
        assert!(l.evses.iter().all(|e| e.last_updated == at(0)));
    }

    #[test]
    fn tariffs_follow_the_same_clock() {
        let t = |lu: DateTime, price: &str| -> Tariff {
            serde_json::from_value(json!({
                "country_code": "NL", "party_id": "CSO", "id": "T1", "currency": "EUR",
                "elements": [{ "price_components": [{ "type": "ENERGY", "price": price, "step_size": 1 }] }],
                "last_updated": lu
            }))
            .expect("a valid tariff")
        };
        let before = t(at(0), "0.30");
        let mut same = t(at(50_000), "0.30");
        assert!(!stamp_tariff(Some(&before), &mut same, at(60_000)));
        let mut older = t(at(-1_000), "0.35");
        assert!(stamp_tariff(Some(&before), &mut older, at(60_000)));
        assert_eq!(older.last_updated, at(60_000));
        let mut future = t(at(999_999), "0.40");
        assert!(stamp_tariff(Some(&before), &mut future, at(60_000)));
        assert_eq!(future.last_updated, at(60_000));
    }

    proptest! {
        /// Whatever the operator's stamps and the clock: nothing is later than now unless it must be
        /// newer than a stored stamp, every changed object is newer than its stored version, unchanged
        /// content is no change, and stamping the result again changes nothing (T-80, T-82).
        #[test]
        fn the_cso_clock(
            before_ms in -100_000i64..100_000,
            stamps in proptest::collection::vec(-200_000i64..200_000, 7),
            now_ms in -100_000i64..100_000,
            change_site in any::<bool>(),
            change_evse in proptest::option::of(0usize..2),
            change_connector in proptest::option::of((0usize..2, 0usize..2)),
        ) {
            let before = site(at(before_ms));
            let mut after = before.clone();
            after.last_updated = at(stamps[0]);
            for (i, e) in after.evses.iter_mut().enumerate() {
                e.last_updated = at(stamps[1 + i]);
                for (j, c) in e.connectors.iter_mut().enumerate() {
                    c.last_updated = at(stamps[3 + 2 * i + j]);
                }
            }
            if change_site {
                after.name = Some("Renamed".parse().expect("a valid name"));
            }
            if let Some(i) = change_evse {
                after.evses[i].status = Status::Charging;
            }
            if let Some((i, j)) = change_connector {
                after.evses[i].connectors[j].max_amperage = 16;
            }
            let changed = change_site || change_evse.is_some() || change_connector.is_some();
            let now = at(now_ms);
            prop_assert_eq!(stamp_location(Some(&before), &mut after, now), changed);
            if changed {
                let limit = now.max(at(before_ms + 1));
                prop_assert!(after.last_updated > before.last_updated);
                prop_assert!(after.last_updated <= limit);
                prop_assert!(parents_not_older(&after));
                if let Some(i) = change_evse {
                    prop_assert!(after.evses[i].last_updated > before.evses[i].last_updated);
                }
                if let Some((i, j)) = change_connector {
                    prop_assert!(after.evses[i].connectors[j].last_updated > before.evses[i].connectors[j].last_updated);
                }
                for (i, e) in after.evses.iter().enumerate() {
                    prop_assert!(e.last_updated <= limit);
                    let touched = change_evse == Some(i) || change_connector.is_some_and(|(k, _)| k == i);
                    if !touched {
                        prop_assert_eq!(e.last_updated, before.evses[i].last_updated, "unchanged EVSE");
                    }
                }
                let mut again = after.clone();
                prop_assert!(!stamp_location(Some(&after), &mut again, now));
            }
        }
    }
}
