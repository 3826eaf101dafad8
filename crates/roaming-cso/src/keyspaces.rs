//! Every keyspace of the CSO, declared in one place (`roaming-peer`'s own are in
//! [`roaming_peer::store::spaces`]). The names are part of the on-disk format: never rename one; add
//! a new keyspace here and to [`ALL`] (the unit test below fails otherwise).
//!
//! The table holds names and collections, not the modules' record types, so that it depends on
//! nothing in this crate: a module binds its record type where it defines it, e.g.
//! `const STATES: Keyspace<State> = Keyspace::of(keyspaces::STATES);`. Collections of vocabulary
//! objects are typed here (`Collection<Location>`). A deadline index
//! is a [`roaming_peer::deadlines::Deadlines`] declared here.

use roaming_peer::deadlines::Deadlines;
use roaming_peer::store::Space;
use roaming_peer::store::collection::Collection;
use roaming_types::modules::cdrs::Cdr;
use roaming_types::modules::locations::Location;
use roaming_types::modules::sessions::Session;
use roaming_types::modules::tariffs::Tariff;

// Sites (sites/).
/// Locations: key = lower-case location id; partitions `all` and, when published with a valid EVSE,
/// `pub`.
pub const LOCATIONS: Collection<Location> = Collection::new("cso_locations", "cso_locations_idx");
/// Tariffs: key = lower-case tariff id; partitions `all` and `pub`.
pub const TARIFFS: Collection<Tariff> = Collection::new("cso_tariffs", "cso_tariffs_idx");

// Sessions (sessions/store.rs).
/// Sessions: key = lower-case session id; partitions `all` and the owning CSP's party key.
pub const SESSIONS: Collection<Session> = Collection::new("cso_sessions", "cso_sessions_idx");
/// Per-session runtime state ([`Runtime`](crate::sessions::Runtime)), key = lower-case session id.
pub const RUNTIME: Space = Space("cso_session_runtime");
/// Charger transaction id → session key.
pub const BY_TRANSACTION: Space = Space("cso_session_txn");
/// `<location>\0<evse>` → the key of the EVSE's current (not final) session.
pub const BY_EVSE: Space = Space("cso_session_evse");
/// `<location>\0<evse>` → the key of the last charging session that started on the EVSE (kept after
/// it ends: whose driver's cable may still be in the socket, for UNLOCK_CONNECTOR).
pub const LAST_ON_EVSE: Space = Space("cso_session_evse_last");

// CDRs (cdrs.rs).
/// The CDRs: partitions `all` and the owning CSP's party key.
pub const CDRS: Collection<Cdr> = Collection::new("cso_cdrs", "cso_cdrs_idx");
/// Session id → CDR id (one CDR per session).
pub const BY_SESSION: Space = Space("cso_cdr_by_session");

// CDR checks (cdr_checks.rs).
/// Verdicts by CDR id.
pub const CHECKS: Space = Space("cso_cdr_checks");

// Commands (commands.rs).
/// Commands by id.
pub const COMMANDS: Space = Space("cso_commands");
/// The deadlines of the commands waiting for their result (their record's `deadline`).
pub const COMMANDS_DUE: Deadlines = Deadlines::new("cso_commands_due");
/// Before [`COMMANDS_DUE`]: commands waiting for their result, id → deadline (ms since the epoch).
/// No longer written; what an earlier version left here is moved into [`COMMANDS_DUE`] at start.
pub const OPEN: Space = Space("cso_commands_open");

// Reservations (reservations.rs).
/// Reservations by `<cc>\0<pid>\0<reservation_id>` of the CSP (lower case).
pub const RESERVATIONS: Space = Space("cso_reservations");
/// The charger's reservation number (8 bytes, big endian) → reservation key.
pub const BY_STATION_ID: Space = Space("cso_reservation_station");
/// When the active reservations expire (their `expiry_date`), by reservation key.
pub const RESERVATIONS_DUE: Deadlines = Deadlines::new("cso_reservations_due");

// Tokens (tokens.rs).
/// Tokens by `<type>\0<uid>\0<cc>\0<pid>`.
pub const TOKENS: Space = Space("cso_tokens");
/// Uids held by several CSPs: `<type>\0<uid>` → [`Collision`](crate::tokens::Collision).
pub const COLLISIONS: Space = Space("cso_token_collisions");

// Authorization (authorization.rs).
/// Decisions taken for chargers, by `<location>\0<evse>\0<type>\0<uid>`.
pub const DECISIONS: Space = Space("cso_auth_decisions");
/// Real-time refusals that stand: `<type>\0<uid>\0<cc>\0<pid>` (the token's key) →
/// [`Refusal`](crate::authorization::Refusal).
pub const REFUSALS: Space = Space("cso_auth_refusals");

// Charging profiles (profiles.rs).
/// Per session ([`ProfileState`](crate::profiles::ProfileState)): the CSP's profile and what was
/// last applied.
pub const STATES: Space = Space("cso_profile_states");
/// Local limits ([`LocalLimit`](crate::profiles::LocalLimit)) by location (`loc`) or EVSE
/// (`loc/evse`), lower case.
pub const LIMITS: Space = Space("cso_local_limits");

/// Every keyspace of the CSO.
pub const ALL: &[Space] = &[
    LOCATIONS.objects(),
    LOCATIONS.index(),
    TARIFFS.objects(),
    TARIFFS.index(),
    SESSIONS.objects(),
    SESSIONS.index(),
    RUNTIME,
    BY_TRANSACTION,
    BY_EVSE,
    LAST_ON_EVSE,
    CDRS.objects(),
    CDRS.index(),
    BY_SESSION,
    CHECKS,
    COMMANDS,
    COMMANDS_DUE.space(),
    OPEN,
    RESERVATIONS,
    BY_STATION_ID,
    RESERVATIONS_DUE.space(),
    TOKENS,
    COLLISIONS,
    DECISIONS,
    REFUSALS,
    STATES,
    LIMITS,
];

#[cfg(test)]
mod tests {
    #[test]
    fn keyspace_names_are_unique() {
        roaming_peer::store::spaces::check_table(include_str!("keyspaces.rs"), super::ALL).unwrap();
    }
}
