//! [`Stamped`]: the objects that carry their own `last_updated` (checklist §3.9, T-60).
//!
//! The store's indexed collections (`roaming_peer::store::collection::Collection<T>`) order and filter
//! pages by `last_updated` and take it from the object through this trait, so a caller stores a typed
//! object without restating its stamp.

use crate::DateTime;
use crate::modules::cdrs::Cdr;
use crate::modules::locations::Location;
use crate::modules::sessions::Session;
use crate::modules::tariffs::Tariff;
use crate::modules::tokens::Token;

/// An object with a `last_updated` stamp.
pub trait Stamped {
    /// When the object last changed (its OCPI `last_updated`).
    fn last_updated(&self) -> DateTime;
}

macro_rules! stamped {
    ($($t:ty),* $(,)?) => {
        $(impl Stamped for $t {
            fn last_updated(&self) -> DateTime {
                self.last_updated
            }
        })*
    };
}

stamped!(Location, Tariff, Session, Cdr, Token);
