//! IEC / ISO 15118 / eMI3 global identifiers: EVSE ID, operator id, provider id and the contract id
//! (eMA ID, EMAID) with its check character.
//!
//! Parsing is lenient — any case, separators optional — and every type prints one canonical form:
//!
//! | type | canonical | accepted |
//! |---|---|---|
//! | [`OperatorId`] | `NL*ABC` | `nl*abc`, `NLABC`, `NL-ABC` |
//! | [`ProviderId`] | `NL-ABC` | `nl-abc`, `NLABC`, `NL*ABC` |
//! | [`EvseId`] | `NL*ABC*E12345*1` | `NLABCE12345*1`, `nl-abc-e12345*1` |
//! | [`Emaid`] | `NL-ABC-C12345678-X` | without separators, any case, without the check character |
//!
//! ## The check character of a contract id
//! A contract id is 14 alphanumerics (country, provider, instance) plus a check character. Each
//! alphanumeric `k` (0–9, then A–Z as 10–35) stands for a pair of vectors: `q = (⌊k/18⌋ mod 2,
//! ⌊k/9⌋ mod 2)` over GF(2) and `r = (⌊k/3⌋ mod 3, k mod 3)` over GF(3). The check character `c` is
//! the one character for which, with the 14 characters `x₀…x₁₃` and `x₁₄ = c`,
//!
//! `Σᵢ q(xᵢ)·P₁ⁱ = 0 (mod 2)` and `Σᵢ r(xᵢ)·P₂ⁱ = 0 (mod 3)`, for `i = 0…14`,
//!
//! with `P₁ = [[0,1],[1,1]]` over GF(2) and `P₂ = [[0,1],[1,2]]` over GF(3) (row vector times
//! matrix). This is the scheme of the eMI³ / DIN SPEC 91286 "check digit calculation for contract
//! ids"; it detects single errors, adjacent and jump transpositions and twin errors. Our tests check it
//! against the vectors published with that scheme.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a global id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobalIdError {
    /// Wrong length.
    #[error("{what} {value:?}: {reason}")]
    Length {
        /// Which id.
        what: &'static str,
        /// The input.
        value: String,
        /// What is expected.
        reason: &'static str,
    },
    /// A character that is not allowed.
    #[error("{what} {value:?}: character {found:?} is not allowed")]
    Charset {
        /// Which id.
        what: &'static str,
        /// The input.
        value: String,
        /// The character.
        found: char,
    },
    /// The country code is not two letters.
    #[error("{what} {value:?}: the country code must be two letters")]
    Country {
        /// Which id.
        what: &'static str,
        /// The input.
        value: String,
    },
    /// The EVSE marker `E` is missing.
    #[error("EVSE ID {0:?}: the power outlet part must start with E")]
    MissingEvseMarker(String),
    /// The check character is wrong.
    #[error("contract id {value:?}: check character {found:?} is wrong, expected {expected:?}")]
    CheckCharacter {
        /// The input.
        value: String,
        /// The character given.
        found: char,
        /// The right one.
        expected: char,
    },
}

fn alnum_value(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        'A'..='Z' => Some(c as u8 - b'A' + 10),
        _ => None,
    }
}

fn alnum_char(v: u8) -> char {
    if v < 10 {
        char::from(b'0' + v)
    } else {
        char::from(b'A' + v - 10)
    }
}

type V2 = [u8; 2];
type M2 = [[u8; 2]; 2];

fn vec_mat(v: V2, m: &M2, modulus: u8) -> V2 {
    [
        (v[0] * m[0][0] + v[1] * m[1][0]) % modulus,
        (v[0] * m[0][1] + v[1] * m[1][1]) % modulus,
    ]
}

fn mat_mul(a: &M2, b: &M2, modulus: u8) -> M2 {
    let mut out = [[0; 2]; 2];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (a[i][0] * b[0][j] + a[i][1] * b[1][j]) % modulus;
        }
    }
    out
}

const P1: M2 = [[0, 1], [1, 1]];
const P2: M2 = [[0, 1], [1, 2]];
const IDENTITY: M2 = [[1, 0], [0, 1]];

fn q_of(k: u8) -> V2 {
    [(k / 18) % 2, (k / 9) % 2]
}

fn r_of(k: u8) -> V2 {
    [(k / 3) % 3, k % 3]
}

/// The weighted sums of 15 values `Σ q·P₁ⁱ (mod 2)` and `Σ r·P₂ⁱ (mod 3)`.
fn weighted_sums(values: &[u8]) -> (V2, V2) {
    let (mut s2, mut s3) = ([0u8; 2], [0u8; 2]);
    let (mut p1, mut p2) = (IDENTITY, IDENTITY);
    for &k in values {
        let a = vec_mat(q_of(k), &p1, 2);
        let b = vec_mat(r_of(k), &p2, 3);
        s2 = [(s2[0] + a[0]) % 2, (s2[1] + a[1]) % 2];
        s3 = [(s3[0] + b[0]) % 3, (s3[1] + b[1]) % 3];
        p1 = mat_mul(&p1, &P1, 2);
        p2 = mat_mul(&p2, &P2, 3);
    }
    (s2, s3)
}

/// The check character of the 14 alphanumerics of a contract id (upper case, no separators).
fn check_character(body: &str) -> Option<char> {
    let mut values: Vec<u8> = body.chars().map(alnum_value).collect::<Option<_>>()?;
    if values.len() != 14 {
        return None;
    }
    values.push(0);
    (0..36u8).find_map(|c| {
        values[14] = c;
        (weighted_sums(&values) == ([0, 0], [0, 0])).then_some(alnum_char(c))
    })
}

/// Upper-cases and removes the given separators.
fn compact(s: &str, separators: &[char]) -> String {
    s.trim()
        .chars()
        .filter(|c| !separators.contains(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn check_alnum(what: &'static str, original: &str, s: &str) -> Result<(), GlobalIdError> {
    match s.chars().find(|c| alnum_value(*c).is_none()) {
        Some(found) => Err(GlobalIdError::Charset {
            what,
            value: original.to_owned(),
            found,
        }),
        None => Ok(()),
    }
}

fn check_country(what: &'static str, original: &str, cc: &str) -> Result<(), GlobalIdError> {
    if cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(GlobalIdError::Country {
            what,
            value: original.to_owned(),
        })
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl TryFrom<&str> for $t {
            type Error = GlobalIdError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl TryFrom<String> for $t {
            type Error = GlobalIdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

// === OperatorId, ProviderId ===

fn party_parts(what: &'static str, s: &str) -> Result<(String, String), GlobalIdError> {
    let c = compact(s, &['*', '-']);
    if c.len() != 5 {
        return Err(GlobalIdError::Length {
            what,
            value: s.to_owned(),
            reason: "expected 2 letters and 3 letters or digits",
        });
    }
    check_alnum(what, s, &c)?;
    let (cc, id) = c.split_at(2);
    check_country(what, s, cc)?;
    Ok((cc.to_owned(), id.to_owned()))
}

/// An EVSE operator id (eMI3 / ISO 15118): country code and 3 alphanumerics; prints `NL*ABC`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperatorId {
    country_code: String,
    operator: String,
}

impl OperatorId {
    /// The ISO 3166-1 alpha-2 country code.
    pub fn country_code(&self) -> &str {
        &self.country_code
    }

    /// The three-character operator code.
    pub fn operator_code(&self) -> &str {
        &self.operator
    }
}

impl FromStr for OperatorId {
    type Err = GlobalIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (country_code, operator) = party_parts("operator id", s)?;
        Ok(Self {
            country_code,
            operator,
        })
    }
}

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}*{}", self.country_code, self.operator)
    }
}

string_serde!(OperatorId);

/// An e-mobility service provider id: country code and 3 alphanumerics; prints `NL-ABC`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId {
    country_code: String,
    provider: String,
}

impl ProviderId {
    /// The ISO 3166-1 alpha-2 country code.
    pub fn country_code(&self) -> &str {
        &self.country_code
    }

    /// The three-character provider code.
    pub fn provider_code(&self) -> &str {
        &self.provider
    }
}

impl FromStr for ProviderId {
    type Err = GlobalIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (country_code, provider) = party_parts("provider id", s)?;
        Ok(Self {
            country_code,
            provider,
        })
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.country_code, self.provider)
    }
}

string_serde!(ProviderId);

// === EvseId ===

/// An EVSE ID (ISO 15118-2 Annex H, eMI3): `<CC>*<operator>*E<power outlet id>`, at most 37
/// characters with separators. The power outlet id is 1–30 alphanumerics and `*`. Prints upper case
/// with `*` separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EvseId {
    operator: OperatorId,
    outlet: String,
}

impl EvseId {
    /// The operator.
    pub fn operator(&self) -> &OperatorId {
        &self.operator
    }

    /// The country code.
    pub fn country_code(&self) -> &str {
        self.operator.country_code()
    }

    /// The power outlet part after `E` (may contain `*`).
    pub fn evse_part(&self) -> &str {
        &self.outlet
    }
}

impl FromStr for EvseId {
    type Err = GlobalIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "EVSE ID";
        let upper = s.trim().to_ascii_uppercase();
        // With separators the first two parts are delimited; without, they are 2 + 3 characters.
        let sep = |c: char| c == '*' || c == '-';
        let (cc, op, rest) = if upper.chars().take(3).any(sep) {
            let mut parts = upper.splitn(3, sep);
            let cc = parts.next().unwrap_or_default().to_owned();
            let op = parts.next().unwrap_or_default().to_owned();
            let rest = parts.next().unwrap_or_default().to_owned();
            (cc, op, rest)
        } else {
            if upper.len() < 6 || !upper.is_ascii() {
                return Err(GlobalIdError::Length {
                    what: WHAT,
                    value: s.to_owned(),
                    reason: "too short",
                });
            }
            (
                upper[..2].to_owned(),
                upper[2..5].to_owned(),
                upper[5..].to_owned(),
            )
        };
        let operator: OperatorId = format!("{cc}{op}").parse().map_err(|e| match e {
            GlobalIdError::Length { value, .. } => GlobalIdError::Length {
                what: WHAT,
                value,
                reason: "the operator id is 3 letters or digits",
            },
            other => other,
        })?;
        let outlet = rest
            .strip_prefix('E')
            .ok_or_else(|| GlobalIdError::MissingEvseMarker(s.to_owned()))?;
        if outlet.is_empty() || outlet.len() > 30 {
            return Err(GlobalIdError::Length {
                what: WHAT,
                value: s.to_owned(),
                reason: "the power outlet id is 1 to 30 characters",
            });
        }
        if let Some(found) = outlet.chars().find(|c| *c != '*' && alnum_value(*c).is_none()) {
            return Err(GlobalIdError::Charset {
                what: WHAT,
                value: s.to_owned(),
                found,
            });
        }
        let id = Self {
            operator,
            outlet: outlet.to_owned(),
        };
        if id.to_string().len() > 37 {
            return Err(GlobalIdError::Length {
                what: WHAT,
                value: s.to_owned(),
                reason: "at most 37 characters",
            });
        }
        Ok(id)
    }
}

impl fmt::Display for EvseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}*E{}", self.operator, self.outlet)
    }
}

string_serde!(EvseId);

// === Emaid ===

/// A contract id (eMA ID / EMAID, ISO 15118, DIN SPEC 91286): country code, provider id and a
/// 9-character instance, plus a check character that is validated when given and computed when not.
/// Prints `NL-ABC-C12345678-X`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Emaid {
    body: String,
}

impl Emaid {
    /// The country code.
    pub fn country_code(&self) -> &str {
        &self.body[..2]
    }

    /// The provider code.
    pub fn provider_code(&self) -> &str {
        &self.body[2..5]
    }

    /// The provider.
    pub fn provider(&self) -> ProviderId {
        ProviderId {
            country_code: self.country_code().to_owned(),
            provider: self.provider_code().to_owned(),
        }
    }

    /// The 9-character instance (usually `C` and 8 characters).
    pub fn instance(&self) -> &str {
        &self.body[5..]
    }

    /// The check character.
    pub fn check_char(&self) -> char {
        check_character(&self.body).unwrap_or('0')
    }

    /// The 15 characters without separators (`NLABCC12345678X`).
    pub fn compact(&self) -> String {
        format!("{}{}", self.body, self.check_char())
    }
}

impl FromStr for Emaid {
    type Err = GlobalIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "contract id";
        let c = compact(s, &['-', '*', ' ']);
        check_alnum(WHAT, s, &c)?;
        if c.len() != 14 && c.len() != 15 {
            return Err(GlobalIdError::Length {
                what: WHAT,
                value: s.to_owned(),
                reason: "expected 14 characters and an optional check character",
            });
        }
        check_country(WHAT, s, &c[..2])?;
        let body = c[..14].to_owned();
        let expected = check_character(&body).ok_or_else(|| GlobalIdError::Length {
            what: WHAT,
            value: s.to_owned(),
            reason: "not computable",
        })?;
        if let Some(found) = c.chars().nth(14) {
            if found != expected {
                return Err(GlobalIdError::CheckCharacter {
                    value: s.to_owned(),
                    found,
                    expected,
                });
            }
        }
        Ok(Self { body })
    }
}

impl fmt::Display for Emaid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}-{}",
            self.country_code(),
            self.provider_code(),
            self.instance(),
            self.check_char()
        )
    }
}

string_serde!(Emaid);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Vectors published with the contract-id check digit scheme (the eMI³ / OCHP "check digit
    /// calculation for contract IDs" explanation, reproduced by several independent validators), and
    /// the example of the eMI³ standard v1.0 part 2 §1.2.2.1 (`DE-8AA-CA2B3C4D5-L`).
    const VECTORS: &[(&str, char)] = &[
        ("NN123ABCDEFGHI", 'T'),
        ("FRXYZ123456789", '2'),
        ("ITA1B2C3E4F5G6", '4'),
        ("ESZU8WOX834H1D", 'R'),
        ("PT73902837ABCZ", 'Z'),
        ("DE83DUIEN83QGZ", 'D'),
        ("DE83DUIEN83ZGQ", 'M'),
        ("DE8AA001234567", '0'),
        ("DE8AACA2B3C4D5", 'L'),
    ];

    #[test]
    fn check_characters_match_the_published_vectors() {
        for (body, expected) in VECTORS {
            assert_eq!(check_character(body), Some(*expected), "{body}");
            let id: Emaid = format!("{body}{expected}").parse().unwrap();
            assert_eq!(id.check_char(), *expected);
        }
    }

    #[test]
    fn emaid_lenient_input_canonical_output() {
        for s in [
            "DE-8AA-CA2B3C4D5-L",
            "de8aaca2b3c4d5l",
            "DE8AACA2B3C4D5",
            "de-8aa-ca2b3c4d5",
        ] {
            let id: Emaid = s.parse().unwrap();
            assert_eq!(id.to_string(), "DE-8AA-CA2B3C4D5-L", "{s}");
            assert_eq!(id.compact(), "DE8AACA2B3C4D5L");
        }
        let id: Emaid = "DE-8AA-CA2B3C4D5-L".parse().unwrap();
        assert_eq!(
            (id.country_code(), id.provider_code(), id.instance()),
            ("DE", "8AA", "CA2B3C4D5")
        );
        assert_eq!(id.provider().to_string(), "DE-8AA");
        assert_eq!(
            "DE-8AA-CA2B3C4D5-M".parse::<Emaid>(),
            Err(GlobalIdError::CheckCharacter {
                value: "DE-8AA-CA2B3C4D5-M".to_owned(),
                found: 'M',
                expected: 'L'
            })
        );
        assert!(matches!(
            "DE-8AA-CA2B3".parse::<Emaid>(),
            Err(GlobalIdError::Length { .. })
        ));
        assert!(matches!(
            "DE-8AA-CA2B3C4D_".parse::<Emaid>(),
            Err(GlobalIdError::Charset { .. })
        ));
        assert!(matches!(
            "D1-8AA-CA2B3C4D5".parse::<Emaid>(),
            Err(GlobalIdError::Country { .. })
        ));
        let j: Emaid = serde_json::from_str("\"de8aaca2b3c4d5\"").unwrap();
        assert_eq!(serde_json::to_string(&j).unwrap(), "\"DE-8AA-CA2B3C4D5-L\"");
    }

    #[test]
    fn evse_id_lenient_input_canonical_output() {
        for s in [
            "NL*ABC*E12345*1",
            "nlabce12345*1",
            "NL-ABC-E12345*1",
            " nl*abc*e12345*1 ",
        ] {
            let id: EvseId = s.parse().unwrap();
            assert_eq!(id.to_string(), "NL*ABC*E12345*1", "{s}");
            assert_eq!(id.evse_part(), "12345*1");
            assert_eq!(id.operator().to_string(), "NL*ABC");
        }
        assert_eq!(
            "NL*ABC*12345".parse::<EvseId>(),
            Err(GlobalIdError::MissingEvseMarker("NL*ABC*12345".to_owned()))
        );
        assert!("NL*ABC*E".parse::<EvseId>().is_err());
        assert!("NL*ABCD*E1".parse::<EvseId>().is_err());
        assert!("N1*ABC*E1".parse::<EvseId>().is_err());
        assert!(format!("NL*ABC*E{}", "1".repeat(31)).parse::<EvseId>().is_err());
        assert!("NL*ABC*E1_2".parse::<EvseId>().is_err());
    }

    #[test]
    fn operator_and_provider_ids() {
        let o: OperatorId = "nl-abc".parse().unwrap();
        assert_eq!(o.to_string(), "NL*ABC");
        let p: ProviderId = "NL*ABC".parse().unwrap();
        assert_eq!(p.to_string(), "NL-ABC");
        assert!("NLAB".parse::<ProviderId>().is_err());
        assert!("12ABC".parse::<OperatorId>().is_err());
    }

    fn alnum() -> impl Strategy<Value = char> {
        prop::sample::select("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".chars().collect::<Vec<_>>())
    }

    proptest! {
        #[test]
        fn emaid_round_trips_in_every_form(cc in "[A-Z]{2}", rest in prop::collection::vec(alnum(), 12)) {
            let body: String = cc.chars().chain(rest).collect();
            let id: Emaid = body.parse().unwrap();
            let canonical = id.to_string();
            prop_assert_eq!(canonical.parse::<Emaid>().unwrap(), id.clone());
            prop_assert_eq!(canonical.to_ascii_lowercase().replace('-', "").parse::<Emaid>().unwrap(), id.clone());
            // Every other check character is refused.
            for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".chars().filter(|c| *c != id.check_char()) {
                let wrong = format!("{body}{c}");
                prop_assert!(wrong.parse::<Emaid>().is_err());
            }
        }

        #[test]
        fn check_detects_single_errors_and_adjacent_swaps(cc in "[A-Z]{2}", rest in prop::collection::vec(alnum(), 12), pos in 0usize..14, sub in alnum()) {
            let body: Vec<char> = cc.chars().chain(rest).collect();
            let s: String = body.iter().collect();
            let check = check_character(&s).unwrap();
            let mut changed = body.clone();
            if changed[pos] != sub {
                changed[pos] = sub;
                let t: String = changed.iter().collect();
                prop_assert_ne!(check_character(&t).unwrap(), check, "single error at {}", pos);
            }
            if pos < 13 && body[pos] != body[pos + 1] {
                let mut swapped = body.clone();
                swapped.swap(pos, pos + 1);
                let t: String = swapped.iter().collect();
                prop_assert_ne!(check_character(&t).unwrap(), check, "adjacent swap at {}", pos);
            }
        }

        #[test]
        fn evse_id_round_trips(cc in "[A-Z]{2}", op in "[A-Z0-9]{3}", outlet in "[A-Z0-9]{1,12}(\\*[A-Z0-9]{1,4})?") {
            let id: EvseId = format!("{cc}*{op}*E{outlet}").parse().unwrap();
            prop_assert_eq!(id.to_string().parse::<EvseId>().unwrap(), id.clone());
            prop_assert_eq!(format!("{cc}{op}E{outlet}").to_ascii_lowercase().parse::<EvseId>().unwrap(), id);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = s.parse::<EvseId>();
            let _ = s.parse::<Emaid>();
            let _ = s.parse::<OperatorId>();
        }
    }
}
