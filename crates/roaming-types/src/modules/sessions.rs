//! Sessions module objects (checklist §7, `mod_sessions.asciidoc`).
//!
//! This part holds the enums other modules reuse (ProfileType).

crate::open_enum! {
    /// `ProfileType` (§7.4): the driver's charging preference.
    pub enum ProfileType("ProfileType") {
        /// Cheapest charging.
        Cheap => "CHEAP",
        /// Fastest charging.
        Fast => "FAST",
        /// Greenest energy.
        Green => "GREEN",
        /// Regular charging.
        Regular => "REGULAR",
    }
}

#[cfg(test)]
mod shared_tests {
    use super::*;

    #[test]
    fn profile_type_is_consistent() {
        crate::open_enum::assert_consistent(ProfileType::KNOWN);
    }
}
