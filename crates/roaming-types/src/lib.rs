//! # roaming-types
//!
//! The OCPI 2.2.1 vocabulary of the IEC 63119-2 roaming endpoints: every object, PATCH shape, enum and
//! id of the checklist (`ocpi-2.2.1-checklist.md` §3–§12), the response envelope and status codes, the
//! IEC / ISO 15118 global identifiers, the tariff pricing engine, and the wire types of our extension
//! modules ([`extensions`], `docs/extensions.md`). Pure: no I/O, no async.
//!
//! Rules this crate enforces, with their checklist ids:
//! - ids are validated newtypes; `CiString` values compare and hash case-insensitively (T-50, §3.9);
//! - DateTime is always emitted as `YYYY-MM-DDThh:mm:ss.sssZ` (one fixed format), a missing `Z` is
//!   accepted, other offsets only in lenient mode (E-19);
//! - coordinates are strings (E-20);
//! - decoding is tolerant (unknown fields ignored T-71, unknown enum values kept T-72, over-length
//!   values accepted with a warning T-70) and building is strict; [`decode`] has both modes;
//! - money and energy are exact decimals ([`money::Number`]), never `f64`.
//!
//! See `docs/types.md` for the OCPI type → Rust type table.

#![warn(clippy::float_arithmetic)]

pub mod auth;
pub mod ci_string;
pub mod datetime;
pub mod decode;
pub mod envelope;
pub mod error;
pub mod extensions;
pub mod global_ids;
pub mod ids;
pub mod limits;
pub mod modules;
pub mod money;
pub mod open_enum;
pub mod patch;
pub mod pricing;
pub mod stamped;

pub use ci_string::{CiString, ResponseUrl, Text, Url};
pub use datetime::DateTime;
pub use envelope::{Envelope, StatusCode};
pub use error::TypeError;
pub use money::{Number, Price};
pub use patch::Patch;
pub use stamped::Stamped;
