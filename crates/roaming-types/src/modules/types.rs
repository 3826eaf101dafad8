//! Types shared by several modules (checklist §3.9 `types.asciidoc`): DisplayText, Role.
//! `Price` lives in [`crate::money`].

use serde::{Deserialize, Serialize};

use crate::ci_string::Text;

/// `DisplayText` (§3.9): a text in one language, without markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayText {
    /// ISO 639-1 language code, string(2).
    pub language: Text<2>,
    /// The text, string(512).
    pub text: Text<512>,
}

impl DisplayText {
    /// Builds a display text, checking both parts strictly.
    pub fn new(language: &str, text: &str) -> Result<Self, crate::TypeError> {
        Ok(Self {
            language: Text::new(language)?,
            text: Text::new(text)?,
        })
    }
}

crate::open_enum! {
    /// `Role` (§3.9, CR-01): the role a party plays.
    pub enum Role("Role") {
        /// Charge Point Operator: our CSO.
        Cpo => "CPO",
        /// e-Mobility Service Provider: our CSP.
        Emsp => "EMSP",
        /// Hub.
        Hub => "HUB",
        /// National Access Point.
        Nap => "NAP",
        /// Navigation Service Provider.
        Nsp => "NSP",
        /// Other role.
        OtherRole => "OTHER",
        /// Smart Charging Service Provider.
        Scsp => "SCSP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_enum_is_consistent() {
        crate::open_enum::assert_consistent(Role::KNOWN);
    }
}
