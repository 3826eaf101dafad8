//! Every keyspace of the CSP, declared in one place (`roaming-peer`'s own are in
//! [`roaming_peer::store::spaces`]). The names are part of the on-disk format: never rename one; add
//! a new keyspace here and to [`ALL`] (the unit test below fails otherwise).
//!
//! The table holds names, collections and deadline indexes, not the modules' record types, so that
//! it depends on nothing in this crate: a module binds its record type where it defines it, e.g.
//! `const COMMANDS: Keyspace<CommandRecord> = Keyspace::of(keyspaces::COMMANDS);`. Collections of
//! vocabulary objects are typed here (`Collection<Session>`). A deadline index is a
//! [`Deadlines`] declared here (the two `…_WAITING` keyspaces had its format before it existed).

use roaming_peer::deadlines::Deadlines;
use roaming_peer::store::Space;
use roaming_peer::store::collection::Collection;
use roaming_types::modules::cdrs::Cdr;
use roaming_types::modules::locations::Location;
use roaming_types::modules::sessions::Session;
use roaming_types::modules::tariffs::Tariff;
use roaming_types::modules::tokens::Token;

// Sites (sites.rs).
/// Locations received: key `<cc>/<pid>/<id>`.
pub const LOCATIONS: Collection<Location> = Collection::new("csp_locations", "csp_locations_idx");
/// Tariffs received: key `<cc>/<pid>/<id>`.
pub const TARIFFS: Collection<Tariff> = Collection::new("csp_tariffs", "csp_tariffs_idx");

// Sync of pulled modules (sync.rs).
/// Sync state per peer and module.
pub const SYNC: Space = Space("csp_sync");

// Tokens (tokens.rs).
/// The tokens, as served (partition `all`).
pub const TOKENS: Collection<Token> = Collection::new("csp_tokens", "csp_tokens_idx");
/// The account behind each token.
pub const ACCOUNTS: Space = Space("csp_token_accounts");
/// Real-time authorizations given, by reference.
pub const AUTHORIZATIONS: Space = Space("csp_authorizations");

// Sessions (sessions.rs).
/// The sessions (partition `all`).
pub const SESSIONS: Collection<Session> = Collection::new("csp_sessions", "csp_sessions_idx");

// CDRs (cdrs.rs).
/// The CDRs (partition `all`).
pub const CDRS: Collection<Cdr> = Collection::new("csp_cdrs", "csp_cdrs_idx");

// CDR checks (checks.rs).
/// Verdicts by CDR.
pub const CHECKS: Space = Space("csp_cdr_checks");

// Commands (commands.rs).
/// Commands by id.
pub const COMMANDS: Space = Space("csp_commands");
/// Commands waiting for their result (`ts_key(deadline) ++ id` → id).
pub const COMMANDS_WAITING: Deadlines = Deadlines::new("csp_commands_waiting");

// Charging profiles (profiles.rs).
/// Requests by id.
pub const REQUESTS: Space = Space("csp_profile_requests");
/// Profile requests waiting for their result (`ts_key(deadline) ++ id` → id).
pub const PROFILES_WAITING: Deadlines = Deadlines::new("csp_profile_waiting");
/// The latest ActiveChargingProfile per session (`cc/pid/session`).
pub const ACTIVE: Space = Space("csp_active_profiles");

/// Every keyspace of the CSP.
pub const ALL: &[Space] = &[
    LOCATIONS.objects(),
    LOCATIONS.index(),
    TARIFFS.objects(),
    TARIFFS.index(),
    SYNC,
    TOKENS.objects(),
    TOKENS.index(),
    ACCOUNTS,
    AUTHORIZATIONS,
    SESSIONS.objects(),
    SESSIONS.index(),
    CDRS.objects(),
    CDRS.index(),
    CHECKS,
    COMMANDS,
    COMMANDS_WAITING.space(),
    REQUESTS,
    PROFILES_WAITING.space(),
    ACTIVE,
];

#[cfg(test)]
mod tests {
    #[test]
    fn keyspace_names_are_unique() {
        roaming_peer::store::spaces::check_table(include_str!("keyspaces.rs"), super::ALL).unwrap();
    }
}
