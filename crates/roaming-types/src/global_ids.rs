//! IEC / ISO 15118 / eMI3 global identifiers of e-mobility: the EVSE operator id, the e-mobility
//! service provider id, the EVSE ID and the contract id (eMA ID, EMAID) with its check character.
//!
//! Reading is lenient — any case, surrounding whitespace ignored, separators optional — and every type
//! prints one canonical form, on which equality, hashing and ordering are defined:
//!
//! | type | canonical | also accepted |
//! |---|---|---|
//! | [`OperatorId`] | `DE*ABC` | `de*abc`, `DEABC`, `DE-ABC` |
//! | [`ProviderId`] | `DE-ABC` | `de-abc`, `DEABC`, `DE*ABC` |
//! | [`EvseId`] | `DE*ABC*E123*1` | `DEABCE123*1`, `de-abc-e123-1` |
//! | [`Emaid`] | `DE-8AA-CA2B3C4D5-L` | `DE8AACA2B3C4D5L`, `de8aaca2b3c4d5`, `DE*8AA*CA2B3C4D5*L` |
//!
//! A separator is `*` or `-`, and may stand only where the format puts one (between country code and
//! party code, between party code and the rest, and before the check character of a contract id).
//! The country code is checked for shape (two letters, as ISO 3166-1 alpha-2 codes are), not against
//! the list of assigned codes: the published check-character examples use the unassigned `NN`.
//!
//! # Formats
//!
//! - **EVSE operator id / provider id**: `<country code: 2 letters> <S> <party code: 3 alphanumerics>`.
//!   The operator id prints with `*` (the EVSE ID separator), the provider id with `-` (the contract id
//!   separator).
//! - **EVSE ID** (ISO 15118-2 Annex H, eMI3 v1.0 part 2): `<country code> <S> <operator code> <S> E
//!   <power outlet id>`; see [`EvseId`] for the length rule.
//! - **Contract id** (ISO 15118 eMA ID): `<country code> <S> <provider code> <S> <eMA instance: 9
//!   alphanumerics> <S> <check character>`, 14 characters without separators plus the check
//!   character, which is optional on input, validated when present and always printed. eMI3 and OICP
//!   further require the instance to start with the id type `C` ([`Emaid::parse_emi3`]); ISO 15118 does
//!   not, and neither do the published check-character examples. The older DIN SPEC 91286 "EVCO-ID"
//!   (`NL-TNM-012204-5`: a 6-character instance and a different check digit) is not this format and is
//!   refused.
//!
//! # The check character of a contract id
//!
//! This is the scheme of the document "Check Digit Calculation for Contract-IDs" (published with the
//! eMI3 / OCHP material on E-Mobility IDs and used by ISO 15118 contract ids). Each alphanumeric
//! character `x` has a value `v(x)` (`0`–`9` → 0–9, `A`–`Z` → 10–35), written uniquely as
//! `v = 18·q₁ + 9·q₂ + 3·r₁ + r₂` with `q = (q₁, q₂)` over GF(2) and `r = (r₁, r₂)` over GF(3). For the
//! 15 characters `x₁ … x₁₅` of a contract id (the 15th is the check character) the check equations are
//!
//! `Σᵢ q(xᵢ)·P₁ⁱ = 0 (mod 2)` and `Σᵢ r(xᵢ)·P₂ⁱ = 0 (mod 3)`, `i = 1 … 15`,
//!
//! with `P₁ = [[0,1],[1,1]]` over GF(2) and `P₂ = [[0,1],[1,2]]` over GF(3). Both matrices are
//! symmetric, so row-vector-times-matrix and matrix-times-column-vector give the same sums. The check
//! character is therefore the one whose `q` and `r` solve the equations for `i = 15`:
//! `q₁₅ = −S₂·P₁⁻¹⁵` and `r₁₅ = −S₃·P₂⁻¹⁵`, where `S₂` and `S₃` are the sums over the first 14
//! characters (`P₁` has order 3 and `P₂` order 8, so the inverse powers are `P₁⁰` and `P₂¹`). Since
//! `I ± P` and `I ± P²` are invertible for both matrices, the scheme detects every single error,
//! adjacent transposition, twin error, jump transposition and jump twin error; the tests check this.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

// ================================================================================================
// Errors
// ================================================================================================

/// Which global identifier a [`GlobalIdError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdKind {
    /// An EVSE operator id ([`OperatorId`]).
    OperatorId,
    /// An e-mobility service provider id ([`ProviderId`]).
    ProviderId,
    /// An EVSE ID ([`EvseId`]).
    EvseId,
    /// A contract id, eMA ID ([`Emaid`]).
    Emaid,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OperatorId => "EVSE operator id",
            Self::ProviderId => "provider id",
            Self::EvseId => "EVSE ID",
            Self::Emaid => "contract id (eMA ID)",
        })
    }
}

/// The part of a global identifier a [`GlobalIdError`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdPart {
    /// The identifier as a whole.
    Whole,
    /// The two-letter country code.
    CountryCode,
    /// The three-character EVSE operator code.
    OperatorCode,
    /// The three-character provider code.
    ProviderCode,
    /// The power outlet id of an EVSE ID (after the `E`).
    PowerOutletId,
    /// The nine-character eMA instance of a contract id.
    Instance,
    /// The check character of a contract id.
    CheckChar,
}

impl fmt::Display for IdPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Whole => "identifier",
            Self::CountryCode => "country code",
            Self::OperatorCode => "operator code",
            Self::ProviderCode => "provider code",
            Self::PowerOutletId => "power outlet id",
            Self::Instance => "eMA instance",
            Self::CheckChar => "check character",
        })
    }
}

fn length_rule(min: &usize, max: &usize) -> String {
    if min == max {
        min.to_string()
    } else {
        format!("{min} to {max}")
    }
}

fn found_text(found: &Option<char>) -> String {
    found.map_or_else(|| "the end".to_owned(), |c| format!("{c:?}"))
}

/// Why a global identifier was refused. Positions count characters of the input after trimming
/// surrounding whitespace, from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobalIdError {
    /// The input is empty or only whitespace.
    #[error("{kind}: empty")]
    Empty {
        /// Which identifier.
        kind: IdKind,
    },
    /// The identifier, or one of its parts, has the wrong number of characters.
    #[error("{kind}: the {part} must have {} characters, found {found}", length_rule(.min, .max))]
    Length {
        /// Which identifier.
        kind: IdKind,
        /// Which part.
        part: IdPart,
        /// The fewest characters allowed.
        min: usize,
        /// The most characters allowed.
        max: usize,
        /// How many there are.
        found: usize,
    },
    /// A character that is not allowed where it stands.
    #[error("{kind}: character {found:?} at position {position} is not allowed in the {part}")]
    Charset {
        /// Which identifier.
        kind: IdKind,
        /// Which part.
        part: IdPart,
        /// The character.
        found: char,
        /// Its position.
        position: usize,
    },
    /// The country code is not two letters.
    #[error("{kind}: the country code must be two letters (ISO 3166-1 alpha-2), found {found:?}")]
    CountryCode {
        /// Which identifier.
        kind: IdKind,
        /// What stands in its place.
        found: String,
    },
    /// The id type marker is missing: `E` before the power outlet id of an EVSE ID, or `C` at the
    /// start of the eMA instance of an eMI3 contract id.
    #[error("{kind}: the id type {expected:?} is missing (found {})", found_text(.found))]
    MissingMarker {
        /// Which identifier.
        kind: IdKind,
        /// The marker expected.
        expected: char,
        /// What stands in its place (`None`: the input ended).
        found: Option<char>,
    },
    /// Characters follow a complete identifier.
    #[error("{kind}: unexpected {rest:?} after the end of the identifier")]
    Trailing {
        /// Which identifier.
        kind: IdKind,
        /// The characters left over.
        rest: String,
    },
    /// The check character of a contract id does not match the other 14 characters.
    #[error("contract id (eMA ID): the check character is {found:?}, expected {expected:?}")]
    CheckChar {
        /// The check character computed from the first 14 characters.
        expected: char,
        /// The check character given.
        found: char,
    },
}

// ================================================================================================
// Reading
// ================================================================================================

/// The separators accepted between the parts of every identifier.
const SEPARATORS: [char; 2] = ['*', '-'];

/// Power outlet id length of an EVSE ID (ISO 15118-2 Annex H, eMI3 v1.0 part 2).
const POWER_OUTLET_MAX: usize = 31;

/// A cursor over the upper-cased characters of a trimmed input.
struct Reader {
    kind: IdKind,
    chars: Vec<char>,
    pos: usize,
}

impl Reader {
    /// Trims, checks the overall length (`min..=max` characters) and upper-cases.
    fn new(kind: IdKind, input: &str, min: usize, max: usize) -> Result<Self, GlobalIdError> {
        let trimmed = input.trim();
        let found = trimmed.chars().count();
        if found == 0 {
            return Err(GlobalIdError::Empty { kind });
        }
        if found < min || found > max {
            return Err(GlobalIdError::Length {
                kind,
                part: IdPart::Whole,
                min,
                max,
                found,
            });
        }
        Ok(Self {
            kind,
            chars: trimmed.chars().map(|c| c.to_ascii_uppercase()).collect(),
            pos: 0,
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Skips one separator if there is one; tells whether it did.
    fn separator(&mut self) -> bool {
        let found = self.peek().is_some_and(|c| SEPARATORS.contains(&c));
        if found {
            self.pos += 1;
        }
        found
    }

    fn country_code(&mut self) -> Result<String, GlobalIdError> {
        let cc: String = self.chars.iter().skip(self.pos).take(2).collect();
        let cc = country_code(self.kind, &cc)?;
        self.pos += 2;
        Ok(cc)
    }

    /// Exactly `n` ASCII alphanumerics; a separator or the end before that is a length error.
    fn alphanumerics(&mut self, n: usize, part: IdPart) -> Result<String, GlobalIdError> {
        let mut out = String::with_capacity(n);
        while out.len() < n {
            match self.peek() {
                Some(c) if c.is_ascii_alphanumeric() => {
                    out.push(c);
                    self.pos += 1;
                }
                Some(c) if !SEPARATORS.contains(&c) => {
                    return Err(GlobalIdError::Charset {
                        kind: self.kind,
                        part,
                        found: c,
                        position: self.pos,
                    });
                }
                _ => {
                    return Err(GlobalIdError::Length {
                        kind: self.kind,
                        part,
                        min: n,
                        max: n,
                        found: out.len(),
                    });
                }
            }
        }
        Ok(out)
    }

    fn rest(&self) -> String {
        self.chars.iter().skip(self.pos).collect()
    }

    fn finish(&self) -> Result<(), GlobalIdError> {
        if self.pos < self.chars.len() {
            return Err(GlobalIdError::Trailing {
                kind: self.kind,
                rest: self.rest(),
            });
        }
        Ok(())
    }
}

/// Two ASCII letters, upper-cased.
fn country_code(kind: IdKind, s: &str) -> Result<String, GlobalIdError> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(GlobalIdError::CountryCode {
            kind,
            found: s.to_owned(),
        })
    }
}

/// Exactly `n` ASCII alphanumerics, upper-cased (for the `new` constructors).
fn fixed_alphanumerics(kind: IdKind, part: IdPart, s: &str, n: usize) -> Result<String, GlobalIdError> {
    if let Some((position, found)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_alphanumeric()) {
        return Err(GlobalIdError::Charset {
            kind,
            part,
            found,
            position,
        });
    }
    if s.len() != n {
        return Err(GlobalIdError::Length {
            kind,
            part,
            min: n,
            max: n,
            found: s.len(),
        });
    }
    Ok(s.to_ascii_uppercase())
}

/// A power outlet id: 1 to 31 characters, an alphanumeric then alphanumerics or `*` (`-` is read as
/// `*`). `offset` is the position of its first character in the input, for errors.
fn power_outlet_id(s: &str, offset: usize) -> Result<String, GlobalIdError> {
    let kind = IdKind::EvseId;
    let part = IdPart::PowerOutletId;
    let found = s.chars().count();
    if found == 0 || found > POWER_OUTLET_MAX {
        return Err(GlobalIdError::Length {
            kind,
            part,
            min: 1,
            max: POWER_OUTLET_MAX,
            found,
        });
    }
    let mut out = String::with_capacity(found);
    for (i, c) in s.chars().enumerate() {
        let c_up = c.to_ascii_uppercase();
        if c_up.is_ascii_alphanumeric() {
            out.push(c_up);
        } else if i > 0 && SEPARATORS.contains(&c) {
            out.push('*');
        } else {
            return Err(GlobalIdError::Charset {
                kind,
                part,
                found: c,
                position: offset + i,
            });
        }
    }
    Ok(out)
}

// ================================================================================================
// The contract id check character
// ================================================================================================

type Vec2 = [u8; 2];
type Mat2 = [[u8; 2]; 2];

/// `P₁` over GF(2), of order 3.
const P1: Mat2 = [[0, 1], [1, 1]];
const P1_ORDER: u32 = 3;
/// `P₂` over GF(3), of order 8.
const P2: Mat2 = [[0, 1], [1, 2]];
const P2_ORDER: u32 = 8;
/// The position of the check character.
const CHECK_POSITION: u32 = 15;

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `0`–`9` → 0–9, `A`–`Z` → 10–35.
fn char_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn value_char(v: u8) -> char {
    char::from(ALPHABET[usize::from(v % 36)])
}

/// `v = 18·q₁ + 9·q₂ + 3·r₁ + r₂` → (`q` over GF(2), `r` over GF(3)).
fn split_value(v: u8) -> (Vec2, Vec2) {
    ([v / 18, (v / 9) % 2], [(v / 3) % 3, v % 3])
}

fn join_value(q: Vec2, r: Vec2) -> u8 {
    18 * q[0] + 9 * q[1] + 3 * r[0] + r[1]
}

fn vec_mat(v: Vec2, m: &Mat2, p: u8) -> Vec2 {
    [
        (v[0] * m[0][0] + v[1] * m[1][0]) % p,
        (v[0] * m[0][1] + v[1] * m[1][1]) % p,
    ]
}

fn mat_mul(a: &Mat2, b: &Mat2, p: u8) -> Mat2 {
    [vec_mat(a[0], b, p), vec_mat(a[1], b, p)]
}

fn mat_pow(m: &Mat2, e: u32, p: u8) -> Mat2 {
    (0..e).fold([[1, 0], [0, 1]], |acc, _| mat_mul(&acc, m, p))
}

fn vec_add(a: Vec2, b: Vec2, p: u8) -> Vec2 {
    [(a[0] + b[0]) % p, (a[1] + b[1]) % p]
}

fn vec_neg(a: Vec2, p: u8) -> Vec2 {
    [(p - a[0]) % p, (p - a[1]) % p]
}

/// `Σ q(xᵢ)·P₁ⁱ (mod 2)` and `Σ r(xᵢ)·P₂ⁱ (mod 3)` over the values, at positions `i = 1, 2, …`.
fn weighted_sums(values: &[u8]) -> (Vec2, Vec2) {
    let mut sums = ([0, 0], [0, 0]);
    let (mut p1, mut p2) = (P1, P2);
    for &v in values {
        let (q, r) = split_value(v);
        sums.0 = vec_add(sums.0, vec_mat(q, &p1, 2), 2);
        sums.1 = vec_add(sums.1, vec_mat(r, &p2, 3), 3);
        p1 = mat_mul(&p1, &P1, 2);
        p2 = mat_mul(&p2, &P2, 3);
    }
    sums
}

/// The check character of the 14 upper-case alphanumerics of a contract id.
fn compute_check_char(body: &str) -> char {
    let values: Vec<u8> = body.bytes().filter_map(char_value).collect();
    let (s2, s3) = weighted_sums(&values);
    // x₁₅ solves q·P₁¹⁵ = −S₂ and r·P₂¹⁵ = −S₃; P⁻¹⁵ = P^(order − 15 mod order).
    let inverse1 = mat_pow(&P1, (P1_ORDER - CHECK_POSITION % P1_ORDER) % P1_ORDER, 2);
    let inverse2 = mat_pow(&P2, (P2_ORDER - CHECK_POSITION % P2_ORDER) % P2_ORDER, 3);
    let q = vec_mat(vec_neg(s2, 2), &inverse1, 2);
    let r = vec_mat(vec_neg(s3, 3), &inverse2, 3);
    value_char(join_value(q, r))
}

// ================================================================================================
// Party ids
// ================================================================================================

/// Country code and party code, shared by [`OperatorId`] and [`ProviderId`]. Fixed lengths make the
/// derived order that of the canonical strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Party {
    country_code: String,
    code: String,
}

fn parse_party(kind: IdKind, part: IdPart, input: &str) -> Result<Party, GlobalIdError> {
    let mut r = Reader::new(kind, input, 5, 6)?;
    let country_code = r.country_code()?;
    r.separator();
    let code = r.alphanumerics(3, part)?;
    r.finish()?;
    Ok(Party { country_code, code })
}

fn new_party(kind: IdKind, part: IdPart, country: &str, code: &str) -> Result<Party, GlobalIdError> {
    Ok(Party {
        country_code: country_code(kind, country)?,
        code: fixed_alphanumerics(kind, part, code, 3)?,
    })
}

/// Implements `FromStr`, `TryFrom<&str>`, `TryFrom<String>` (serde's `try_from`) and
/// `From<T> for String` (serde's `into`) through the type's one `parse` function.
macro_rules! string_forms {
    ($ty:ident) => {
        impl FromStr for $ty {
            type Err = GlobalIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = GlobalIdError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = GlobalIdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(id: $ty) -> Self {
                id.to_string()
            }
        }
    };
}

/// An EVSE operator id (ISO 15118 / eMI3 "EVSE Operator ID" with its country): two letters and three
/// alphanumerics, printed `DE*ABC`. Accepts any case and `*`, `-` or no separator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OperatorId(Party);

impl OperatorId {
    /// Reads an operator id leniently; the one validation behind `FromStr`, `TryFrom` and serde.
    pub fn parse(input: &str) -> Result<Self, GlobalIdError> {
        parse_party(IdKind::OperatorId, IdPart::OperatorCode, input).map(Self)
    }

    /// Builds an operator id from its parts (any case).
    pub fn new(country_code: &str, operator_code: &str) -> Result<Self, GlobalIdError> {
        new_party(
            IdKind::OperatorId,
            IdPart::OperatorCode,
            country_code,
            operator_code,
        )
        .map(Self)
    }

    /// The country code, upper case.
    pub fn country_code(&self) -> &str {
        &self.0.country_code
    }

    /// The three-character operator code, upper case (the OCPI `party_id` of the operator).
    pub fn operator_code(&self) -> &str {
        &self.0.code
    }

    /// The five characters without separator (`DEABC`).
    pub fn compact(&self) -> String {
        format!("{}{}", self.0.country_code, self.0.code)
    }
}

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}*{}", self.0.country_code, self.0.code)
    }
}

string_forms!(OperatorId);

/// An e-mobility service provider id (ISO 15118 / eMI3 "Provider ID" with its country): two letters
/// and three alphanumerics, printed `DE-ABC`. Accepts any case and `-`, `*` or no separator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderId(Party);

impl ProviderId {
    /// Reads a provider id leniently; the one validation behind `FromStr`, `TryFrom` and serde.
    pub fn parse(input: &str) -> Result<Self, GlobalIdError> {
        parse_party(IdKind::ProviderId, IdPart::ProviderCode, input).map(Self)
    }

    /// Builds a provider id from its parts (any case).
    pub fn new(country_code: &str, provider_code: &str) -> Result<Self, GlobalIdError> {
        new_party(
            IdKind::ProviderId,
            IdPart::ProviderCode,
            country_code,
            provider_code,
        )
        .map(Self)
    }

    /// The country code, upper case.
    pub fn country_code(&self) -> &str {
        &self.0.country_code
    }

    /// The three-character provider code, upper case (the OCPI `party_id` of the provider).
    pub fn provider_code(&self) -> &str {
        &self.0.code
    }

    /// The five characters without separator (`DEABC`).
    pub fn compact(&self) -> String {
        format!("{}{}", self.0.country_code, self.0.code)
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0.country_code, self.0.code)
    }
}

string_forms!(ProviderId);

// ================================================================================================
// EVSE ID
// ================================================================================================

/// An EVSE ID (ISO 15118-2 Annex H, eMI3 v1.0 part 2): `<country code> <S> <operator code> <S> E
/// <power outlet id>`, printed upper case with `*` separators, e.g. `DE*ABC*E123*1`.
///
/// The rule implemented:
/// - country code: two letters; operator code: three alphanumerics; then the id type `E`;
/// - separators `*` (or, leniently, `-`) between country code, operator code and `E` are optional;
/// - power outlet id: 1 to 31 characters, an alphanumeric first, then alphanumerics or `*` (a `-` is
///   read as `*`). The `*` inside the power outlet id belong to it and are kept as given.
///
/// So the compact form ([`EvseId::compact`]) has at most 37 characters, the maximum of the ISO 15118-2
/// `evseIDType`, and the canonical form with separators at most 39. BDEW, IDACS and OICP limit the
/// power outlet id to 30 characters; those ids are accepted too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EvseId {
    operator: OperatorId,
    power_outlet_id: String,
}

impl EvseId {
    /// The most characters of the power outlet id.
    pub const MAX_POWER_OUTLET_ID_LEN: usize = POWER_OUTLET_MAX;

    /// Reads an EVSE ID leniently; the one validation behind `FromStr`, `TryFrom` and serde.
    pub fn parse(input: &str) -> Result<Self, GlobalIdError> {
        const KIND: IdKind = IdKind::EvseId;
        // Shortest: DEABCE1 (7); longest: DE*ABC*E + 31.
        let mut r = Reader::new(KIND, input, 7, 8 + POWER_OUTLET_MAX)?;
        let country_code = r.country_code()?;
        r.separator();
        let code = r.alphanumerics(3, IdPart::OperatorCode)?;
        r.separator();
        match r.next_char() {
            Some('E') => {}
            found => {
                return Err(GlobalIdError::MissingMarker {
                    kind: KIND,
                    expected: 'E',
                    found,
                });
            }
        }
        let offset = r.pos;
        let power_outlet_id = power_outlet_id(&r.rest(), offset)?;
        Ok(Self {
            operator: OperatorId(Party { country_code, code }),
            power_outlet_id,
        })
    }

    /// Builds an EVSE ID from its operator and power outlet id (the part after `E`, any case).
    pub fn new(operator: &OperatorId, power_outlet_id: &str) -> Result<Self, GlobalIdError> {
        Ok(Self {
            operator: operator.clone(),
            power_outlet_id: self::power_outlet_id(power_outlet_id, 0)?,
        })
    }

    /// The EVSE operator.
    pub fn operator(&self) -> &OperatorId {
        &self.operator
    }

    /// The country code, upper case.
    pub fn country_code(&self) -> &str {
        self.operator.country_code()
    }

    /// The three-character operator code, upper case.
    pub fn operator_code(&self) -> &str {
        self.operator.operator_code()
    }

    /// The power outlet id: the part after the `E`, upper case, with its own `*` (`123*1`).
    pub fn evse_part(&self) -> &str {
        &self.power_outlet_id
    }

    /// The form without the optional separators between the parts (`DEABCE123*1`), at most 37
    /// characters: the form that fits an ISO 15118-2 `evseIDType`.
    pub fn compact(&self) -> String {
        format!("{}E{}", self.operator.compact(), self.power_outlet_id)
    }
}

impl fmt::Display for EvseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}*E{}", self.operator, self.power_outlet_id)
    }
}

string_forms!(EvseId);

// ================================================================================================
// Contract id
// ================================================================================================

/// A contract id, eMA ID (ISO 15118 EMAID, eMI3 contract id): `<country code> <S> <provider code> <S>
/// <eMA instance> <S> <check character>`, printed `DE-8AA-CA2B3C4D5-L`.
///
/// Accepts any case, `-` or `*` or no separators, with or without the check character: 14 characters
/// without separators, 15 with the check character (the compact form ISO 15118-2 carries). A check
/// character that is given must be the one computed (see the module documentation); one that is not
/// given is computed, so the canonical form always has it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Emaid {
    provider: ProviderId,
    instance: String,
    check: char,
}

impl Emaid {
    /// The number of characters of the eMA instance.
    pub const INSTANCE_LEN: usize = 9;

    /// Reads a contract id leniently; the one validation behind `FromStr`, `TryFrom` and serde.
    pub fn parse(input: &str) -> Result<Self, GlobalIdError> {
        const KIND: IdKind = IdKind::Emaid;
        // Shortest: 14 characters; longest: DE-8AA-CA2B3C4D5-L (18).
        let mut r = Reader::new(KIND, input, 14, 18)?;
        let country_code = r.country_code()?;
        r.separator();
        let code = r.alphanumerics(3, IdPart::ProviderCode)?;
        r.separator();
        let instance = r.alphanumerics(Self::INSTANCE_LEN, IdPart::Instance)?;
        let separated = r.separator();
        let position = r.pos;
        let given = match r.next_char() {
            None if separated => {
                return Err(GlobalIdError::Length {
                    kind: KIND,
                    part: IdPart::CheckChar,
                    min: 1,
                    max: 1,
                    found: 0,
                });
            }
            None => None,
            Some(c) if c.is_ascii_alphanumeric() => Some(c),
            Some(found) => {
                return Err(GlobalIdError::Charset {
                    kind: KIND,
                    part: IdPart::CheckChar,
                    found,
                    position,
                });
            }
        };
        r.finish()?;
        let id = Self::from_parts(ProviderId(Party { country_code, code }), instance);
        match given {
            Some(found) if found != id.check => Err(GlobalIdError::CheckChar {
                expected: id.check,
                found,
            }),
            _ => Ok(id),
        }
    }

    /// Reads a contract id like [`Emaid::parse`] and also requires the eMI3 / OICP id type `C` at the
    /// start of the eMA instance (`DE-8AA-CA2B3C4D5-L`).
    pub fn parse_emi3(input: &str) -> Result<Self, GlobalIdError> {
        let id = Self::parse(input)?;
        if id.has_emi3_marker() {
            Ok(id)
        } else {
            Err(GlobalIdError::MissingMarker {
                kind: IdKind::Emaid,
                expected: 'C',
                found: id.instance.chars().next(),
            })
        }
    }

    /// Builds a contract id from its provider and 9-character eMA instance (any case); the check
    /// character is computed.
    pub fn new(provider: &ProviderId, instance: &str) -> Result<Self, GlobalIdError> {
        let instance = fixed_alphanumerics(IdKind::Emaid, IdPart::Instance, instance, Self::INSTANCE_LEN)?;
        Ok(Self::from_parts(provider.clone(), instance))
    }

    fn from_parts(provider: ProviderId, instance: String) -> Self {
        let check = compute_check_char(&format!("{}{instance}", provider.compact()));
        Self {
            provider,
            instance,
            check,
        }
    }

    /// The provider that issued the contract.
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// The country code, upper case.
    pub fn country_code(&self) -> &str {
        self.provider.country_code()
    }

    /// The three-character provider code, upper case.
    pub fn provider_code(&self) -> &str {
        self.provider.provider_code()
    }

    /// The 9-character eMA instance, upper case (`CA2B3C4D5`).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Whether the eMA instance starts with the eMI3 / OICP id type `C`.
    pub fn has_emi3_marker(&self) -> bool {
        self.instance.starts_with('C')
    }

    /// The check character (`L` for `DE-8AA-CA2B3C4D5`).
    pub fn check_char(&self) -> char {
        self.check
    }

    /// The canonical form with separators and check character (`DE-8AA-CA2B3C4D5-L`); the same as
    /// `Display`.
    pub fn with_check_char(&self) -> String {
        format!("{}-{}-{}", self.provider, self.instance, self.check)
    }

    /// The form with separators and without check character (`DE-8AA-CA2B3C4D5`).
    pub fn without_check_char(&self) -> String {
        format!("{}-{}", self.provider, self.instance)
    }

    /// The 15 characters without separators, check character included (`DE8AACA2B3C4D5L`).
    pub fn compact(&self) -> String {
        format!("{}{}{}", self.provider.compact(), self.instance, self.check)
    }

    /// The 14 characters without separators and check character (`DE8AACA2B3C4D5`).
    pub fn compact_without_check_char(&self) -> String {
        format!("{}{}", self.provider.compact(), self.instance)
    }
}

impl fmt::Display for Emaid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.provider, self.instance, self.check)
    }
}

string_forms!(Emaid);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Contract ids (14 characters) with their check characters.
    ///
    /// - `DE83DUIEN83QGZ` → `D`: the worked example of "Check Digit Calculation for Contract-IDs"
    ///   (the eMI3 / OCHP description of this scheme).
    /// - `DE8AACA2B3C4D5` → `L`: the contract id example `DE-8AA-CA2B3C4D5-L` of the eMI3 standard
    ///   v1.0, part 2 "Business Objects", §1.2.2.1.
    /// - `NN123ABCDEFGHI` … `DE8AA001234567` → `T24RZDM0`: the vector set of the OCHP EV-ID-Validator
    ///   and The New Motion `mobilityid` library, reproduced unchanged by independent implementations
    ///   (`FRXYZ123456789` → `2` is also given as a GIREVE example).
    /// - `NLTNM…` → `U`, `X`, `K`, `W`: the examples of the `mobilityid` library documentation
    ///   (`NL-TNM-000122045-U`, `NL-TNM-000722345-X`, eMI3 form `NL-TNM-C00122045-K`,
    ///   `NL-TNM-012345678-W`).
    ///
    /// These come from published documents as reproduced by several implementations; the scheme's own
    /// equations are checked independently below.
    const VECTORS: &[(&str, char)] = &[
        ("DE83DUIEN83QGZ", 'D'),
        ("DE8AACA2B3C4D5", 'L'),
        ("NN123ABCDEFGHI", 'T'),
        ("FRXYZ123456789", '2'),
        ("ITA1B2C3E4F5G6", '4'),
        ("ESZU8WOX834H1D", 'R'),
        ("PT73902837ABCZ", 'Z'),
        ("DE83DUIEN83ZGQ", 'M'),
        ("DE8AA001234567", '0'),
        ("NLTNM000122045", 'U'),
        ("NLTNM000722345", 'X'),
        ("NLTNMC00122045", 'K'),
        ("NLTNM012345678", 'W'),
    ];

    fn values(s: &str) -> Vec<u8> {
        s.bytes().map(|b| char_value(b).unwrap()).collect()
    }

    fn satisfies_check_equations(s: &str) -> bool {
        weighted_sums(&values(s)) == ([0, 0], [0, 0])
    }

    // ---- check character --------------------------------------------------------------------------

    #[test]
    fn the_published_vectors() {
        for &(body, expected) in VECTORS {
            assert_eq!(compute_check_char(body), expected, "{body}");
            let id = Emaid::parse(body).unwrap();
            assert_eq!(id.check_char(), expected, "{body}");
            assert_eq!(id.compact(), format!("{body}{expected}"));
            assert_eq!(Emaid::parse(&format!("{body}{expected}")).unwrap(), id);
            assert_eq!(
                Emaid::parse(&format!("{body}{expected}").to_ascii_lowercase()).unwrap(),
                id
            );
            assert!(satisfies_check_equations(&format!("{body}{expected}")), "{body}");
        }
    }

    #[test]
    fn every_other_check_character_is_refused() {
        for &(body, expected) in VECTORS {
            for &wrong in ALPHABET.iter().filter(|&&c| char::from(c) != expected) {
                let wrong = char::from(wrong);
                assert_eq!(
                    Emaid::parse(&format!("{body}{wrong}")),
                    Err(GlobalIdError::CheckChar {
                        expected,
                        found: wrong
                    }),
                    "{body}{wrong}"
                );
                assert!(!satisfies_check_equations(&format!("{body}{wrong}")));
            }
        }
    }

    #[test]
    fn matrix_orders_and_symmetry() {
        assert_eq!(mat_pow(&P1, P1_ORDER, 2), [[1, 0], [0, 1]]);
        assert_ne!(mat_pow(&P1, 1, 2), [[1, 0], [0, 1]]);
        assert_eq!(mat_pow(&P2, P2_ORDER, 3), [[1, 0], [0, 1]]);
        assert_ne!(mat_pow(&P2, P2_ORDER / 2, 3), [[1, 0], [0, 1]]);
        for e in 0..16 {
            let (a, b) = (mat_pow(&P1, e, 2), mat_pow(&P2, e, 3));
            assert_eq!(a[0][1], a[1][0]);
            assert_eq!(b[0][1], b[1][0]);
        }
    }

    #[test]
    fn the_character_values_are_a_bijection() {
        let mut seen = std::collections::BTreeSet::new();
        for v in 0..36u8 {
            let (q, r) = split_value(v);
            assert!(q.iter().all(|&x| x < 2) && r.iter().all(|&x| x < 3));
            assert_eq!(join_value(q, r), v);
            assert!(seen.insert((q, r)));
            assert_eq!(char_value(u8::try_from(value_char(v)).unwrap()), Some(v));
        }
    }

    /// Every single error, adjacent transposition (ab → ba), twin error (aa → bb), jump
    /// transposition (abc → cba) and jump twin error (aca → bcb), at every position and for every
    /// pair of characters, breaks the check equations of a valid contract id.
    #[test]
    fn the_five_error_types_are_always_detected() {
        let word = values("DE83DUIEN83QGZD");
        assert!(satisfies_check_equations("DE83DUIEN83QGZD"));
        let detected = |w: &[u8]| weighted_sums(w) != ([0, 0], [0, 0]);
        let mut checked = 0usize;
        for i in 0..15 {
            for b in 0..36u8 {
                if b != word[i] {
                    let mut w = word.clone();
                    w[i] = b;
                    assert!(detected(&w), "single error at {i}");
                    checked += 1;
                }
            }
            for gap in [1, 2] {
                let j = i + gap;
                if j >= 15 {
                    continue;
                }
                for a in 0..36u8 {
                    for b in (0..36u8).filter(|&b| b != a) {
                        // The sums are additive over positions, so an error turning the pair `from`
                        // into `to` is detected in every valid word exactly when their sums differ.
                        let with = |x: u8, y: u8| {
                            let mut w = word.clone();
                            w[i] = x;
                            w[j] = y;
                            weighted_sums(&w)
                        };
                        assert_ne!(with(a, b), with(b, a), "transposition, gap {gap}, at {i}");
                        assert_ne!(with(a, a), with(b, b), "twin error, gap {gap}, at {i}");
                        checked += 2;
                    }
                }
            }
        }
        assert!(checked > 60_000);
    }

    // ---- Emaid -----------------------------------------------------------------------------------

    #[test]
    fn emaid_forms() {
        let canonical = "DE-8AA-CA2B3C4D5-L";
        for s in [
            canonical,
            "DE8AACA2B3C4D5L",
            "DE8AACA2B3C4D5",
            "de-8aa-ca2b3c4d5",
            "de-8aa-ca2b3c4d5-l",
            "DE*8AA*CA2B3C4D5*L",
            "DE8AA-CA2B3C4D5L",
            "  DE-8AA-CA2B3C4D5-L\n",
        ] {
            let id = Emaid::parse(s).unwrap();
            assert_eq!(id.to_string(), canonical, "{s:?}");
            assert_eq!(s.parse::<Emaid>().unwrap(), id);
            assert_eq!(Emaid::try_from(s).unwrap(), id);
            assert_eq!(Emaid::try_from(s.to_owned()).unwrap(), id);
        }
        let id = Emaid::parse(canonical).unwrap();
        assert_eq!(id.country_code(), "DE");
        assert_eq!(id.provider_code(), "8AA");
        assert_eq!(id.provider().to_string(), "DE-8AA");
        assert_eq!(id.instance(), "CA2B3C4D5");
        assert_eq!(id.check_char(), 'L');
        assert_eq!(id.with_check_char(), canonical);
        assert_eq!(id.without_check_char(), "DE-8AA-CA2B3C4D5");
        assert_eq!(id.compact(), "DE8AACA2B3C4D5L");
        assert_eq!(id.compact_without_check_char(), "DE8AACA2B3C4D5");
        assert!(id.has_emi3_marker());
        let built = Emaid::new(&ProviderId::new("de", "8aa").unwrap(), "ca2b3c4d5").unwrap();
        assert_eq!(built, id);
    }

    #[test]
    fn emaid_errors() {
        use GlobalIdError as E;
        let kind = IdKind::Emaid;
        assert_eq!(Emaid::parse(" "), Err(E::Empty { kind }));
        assert_eq!(
            Emaid::parse("DE-8AA-CA2B3C4D5-M"),
            Err(E::CheckChar {
                expected: 'L',
                found: 'M'
            })
        );
        assert_eq!(
            Emaid::parse("DE-8AA-CA2B3"),
            Err(E::Length {
                kind,
                part: IdPart::Whole,
                min: 14,
                max: 18,
                found: 12
            })
        );
        assert_eq!(
            Emaid::parse("DE-8AA-CA2B3C4D5-L-1"),
            Err(E::Length {
                kind,
                part: IdPart::Whole,
                min: 14,
                max: 18,
                found: 20
            })
        );
        assert_eq!(
            Emaid::parse("DE8AACA2B3C4D5L1"),
            Err(E::Trailing {
                kind,
                rest: "1".to_owned()
            })
        );
        assert_eq!(
            Emaid::parse("DE-8AA-CA2B3C4D_5"),
            Err(E::Charset {
                kind,
                part: IdPart::Instance,
                found: '_',
                position: 15
            })
        );
        assert_eq!(
            Emaid::parse("DE-8AA-CA2B3-C4D5L"),
            Err(E::Length {
                kind,
                part: IdPart::Instance,
                min: 9,
                max: 9,
                found: 5
            })
        );
        assert_eq!(
            Emaid::parse("DE-8AA-CA2B3C4D5-"),
            Err(E::Length {
                kind,
                part: IdPart::CheckChar,
                min: 1,
                max: 1,
                found: 0
            })
        );
        assert_eq!(
            Emaid::parse("DE-8AA-CA2B3C4D5-!"),
            Err(E::Charset {
                kind,
                part: IdPart::CheckChar,
                found: '!',
                position: 17
            })
        );
        assert_eq!(
            Emaid::parse("D1-8AA-CA2B3C4D5"),
            Err(E::CountryCode {
                kind,
                found: "D1".to_owned()
            })
        );
        assert_eq!(
            Emaid::parse("DE-8A-CA2B3C4D5L"),
            Err(E::Length {
                kind,
                part: IdPart::ProviderCode,
                min: 3,
                max: 3,
                found: 2
            })
        );
        // The DIN SPEC 91286 EVCO-ID is another format.
        assert!(matches!(Emaid::parse("NL-TNM-012204-5"), Err(E::Length { .. })));
        assert_eq!(
            Emaid::new(&ProviderId::new("DE", "8AA").unwrap(), "CA2B3C4D"),
            Err(E::Length {
                kind,
                part: IdPart::Instance,
                min: 9,
                max: 9,
                found: 8
            })
        );
        let message = Emaid::parse("DE-8AA-CA2B3C4D5-M").unwrap_err().to_string();
        assert_eq!(
            message,
            "contract id (eMA ID): the check character is 'M', expected 'L'"
        );
    }

    #[test]
    fn emaid_emi3_marker() {
        assert!(Emaid::parse_emi3("NL-TNM-C00122045-K").is_ok());
        assert_eq!(
            Emaid::parse_emi3("DE83DUIEN83QGZD"),
            Err(GlobalIdError::MissingMarker {
                kind: IdKind::Emaid,
                expected: 'C',
                found: Some('U')
            })
        );
        // Plain ISO 15118 instances are accepted by the lenient reading.
        assert!(!Emaid::parse("DE83DUIEN83QGZD").unwrap().has_emi3_marker());
    }

    #[test]
    fn emaid_serde() {
        let id: Emaid = serde_json::from_str("\"de8aaca2b3c4d5\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"DE-8AA-CA2B3C4D5-L\"");
        let err = serde_json::from_str::<Emaid>("\"DE8AACA2B3C4D5M\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected 'L'"), "{err}");
        assert!(serde_json::from_str::<Emaid>("42").is_err());
    }

    // ---- EvseId ----------------------------------------------------------------------------------

    #[test]
    fn evse_id_forms() {
        let canonical = "DE*ABC*E123456789*1";
        for s in [
            canonical,
            "DEABCE123456789*1",
            "de*abc*e123456789*1",
            "DE-ABC-E123456789-1",
            "DE*ABCE123456789*1",
            " DEABC*E123456789*1 ",
        ] {
            let id = EvseId::parse(s).unwrap();
            assert_eq!(id.to_string(), canonical, "{s:?}");
            assert_eq!(s.parse::<EvseId>().unwrap(), id);
            assert_eq!(EvseId::try_from(s.to_owned()).unwrap(), id);
        }
        let id = EvseId::parse(canonical).unwrap();
        assert_eq!(id.country_code(), "DE");
        assert_eq!(id.operator_code(), "ABC");
        assert_eq!(id.operator().to_string(), "DE*ABC");
        assert_eq!(id.evse_part(), "123456789*1");
        assert_eq!(id.compact(), "DEABCE123456789*1");
        assert_eq!(
            EvseId::new(&OperatorId::new("de", "abc").unwrap(), "123456789*1").unwrap(),
            id
        );
        // The operator code may itself contain an E.
        let e = EvseId::parse("DEEEEE1").unwrap();
        assert_eq!((e.operator_code(), e.evse_part()), ("EEE", "1"));
        // Examples of the eMI3 / Hubject documentation.
        assert_eq!(EvseId::parse("FR*A23*E45B*78C").unwrap().evse_part(), "45B*78C");
        assert_eq!(
            EvseId::parse("DE*ICE*E45B*78C").unwrap().compact(),
            "DEICEE45B*78C"
        );
    }

    #[test]
    fn evse_id_lengths() {
        let longest = format!("DE*ABC*E{}", "7".repeat(31));
        let id = EvseId::parse(&longest).unwrap();
        assert_eq!(id.to_string().len(), 39);
        assert_eq!(id.compact().len(), 37);
        assert_eq!(
            EvseId::parse(&format!("DEABCE{}", "7".repeat(32))),
            Err(GlobalIdError::Length {
                kind: IdKind::EvseId,
                part: IdPart::PowerOutletId,
                min: 1,
                max: 31,
                found: 32
            })
        );
        assert!(EvseId::parse(&format!("DE*ABC*E{}", "7".repeat(32))).is_err());
        assert!(EvseId::parse("DEABCE1").is_ok());
    }

    #[test]
    fn evse_id_errors() {
        use GlobalIdError as E;
        let kind = IdKind::EvseId;
        assert_eq!(
            EvseId::parse("DE*ABC*123456"),
            Err(E::MissingMarker {
                kind,
                expected: 'E',
                found: Some('1')
            })
        );
        assert_eq!(
            EvseId::parse("DE*ABC*E"),
            Err(E::Length {
                kind,
                part: IdPart::PowerOutletId,
                min: 1,
                max: 31,
                found: 0
            })
        );
        assert_eq!(
            EvseId::parse("DE*AB*E123"),
            Err(E::Length {
                kind,
                part: IdPart::OperatorCode,
                min: 3,
                max: 3,
                found: 2
            })
        );
        assert_eq!(
            EvseId::parse("N1*ABC*E1"),
            Err(E::CountryCode {
                kind,
                found: "N1".to_owned()
            })
        );
        assert_eq!(
            EvseId::parse("DE*ABC*E12_3"),
            Err(E::Charset {
                kind,
                part: IdPart::PowerOutletId,
                found: '_',
                position: 10
            })
        );
        assert_eq!(
            EvseId::parse("DE*ABC*E*1"),
            Err(E::Charset {
                kind,
                part: IdPart::PowerOutletId,
                found: '*',
                position: 8
            })
        );
        assert_eq!(
            EvseId::parse("DE*ÄBC*E1"),
            Err(E::Charset {
                kind,
                part: IdPart::OperatorCode,
                found: 'Ä',
                position: 3
            })
        );
        // The DIN SPEC 91286 EVSE ID with a telephone country code is not read.
        assert!(matches!(
            EvseId::parse("+49*810*000*438"),
            Err(E::CountryCode { .. })
        ));
        assert_eq!(EvseId::parse(""), Err(E::Empty { kind }));
        let message = EvseId::parse("DE*ABC*123456").unwrap_err().to_string();
        assert_eq!(message, "EVSE ID: the id type 'E' is missing (found '1')");
    }

    #[test]
    fn evse_id_serde() {
        let id: EvseId = serde_json::from_str("\"deabce1*2\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"DE*ABC*E1*2\"");
        assert!(serde_json::from_str::<EvseId>("\"DE*ABC*1\"").is_err());
    }

    // ---- OperatorId, ProviderId ------------------------------------------------------------------

    #[test]
    fn operator_and_provider_ids() {
        for s in ["DE*ABC", "de*abc", "DEABC", "de-abc", " DE*ABC "] {
            let o = OperatorId::parse(s).unwrap();
            assert_eq!(o.to_string(), "DE*ABC");
            assert_eq!(
                (o.country_code(), o.operator_code(), o.compact().as_str()),
                ("DE", "ABC", "DEABC")
            );
            let p = ProviderId::parse(s).unwrap();
            assert_eq!(p.to_string(), "DE-ABC");
            assert_eq!((p.country_code(), p.provider_code()), ("DE", "ABC"));
        }
        assert_eq!(
            OperatorId::new("de", "abc").unwrap(),
            OperatorId::parse("DE*ABC").unwrap()
        );
        assert_eq!(
            ProviderId::new("de", "abc").unwrap(),
            ProviderId::parse("DE-ABC").unwrap()
        );

        use GlobalIdError as E;
        assert_eq!(
            ProviderId::parse("DEAB"),
            Err(E::Length {
                kind: IdKind::ProviderId,
                part: IdPart::Whole,
                min: 5,
                max: 6,
                found: 4
            })
        );
        assert_eq!(
            OperatorId::parse("12ABC"),
            Err(E::CountryCode {
                kind: IdKind::OperatorId,
                found: "12".to_owned()
            })
        );
        assert_eq!(
            OperatorId::parse("DEABCD"),
            Err(E::Trailing {
                kind: IdKind::OperatorId,
                rest: "D".to_owned()
            })
        );
        assert_eq!(
            OperatorId::parse("DE*A.C"),
            Err(E::Charset {
                kind: IdKind::OperatorId,
                part: IdPart::OperatorCode,
                found: '.',
                position: 4
            })
        );
        assert_eq!(
            OperatorId::new("DE", "AB"),
            Err(E::Length {
                kind: IdKind::OperatorId,
                part: IdPart::OperatorCode,
                min: 3,
                max: 3,
                found: 2
            })
        );
        assert_eq!(
            ProviderId::new("DEU", "ABC"),
            Err(E::CountryCode {
                kind: IdKind::ProviderId,
                found: "DEU".to_owned()
            })
        );

        let o: OperatorId = serde_json::from_str("\"de-abc\"").unwrap();
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"DE*ABC\"");
        let p: ProviderId = serde_json::from_str("\"de*abc\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"DE-ABC\"");
    }

    // ---- properties ------------------------------------------------------------------------------

    fn alnum() -> impl Strategy<Value = char> {
        prop::sample::select(ALPHABET.iter().map(|&b| char::from(b)).collect::<Vec<_>>())
    }

    fn emaid_parts() -> impl Strategy<Value = (String, String, String)> {
        ("[A-Z]{2}", "[A-Z0-9]{3}", "[A-Z0-9]{9}")
    }

    proptest! {
        #[test]
        fn emaid_round_trips((cc, code, instance) in emaid_parts()) {
            let id = Emaid::new(&ProviderId::new(&cc, &code).unwrap(), &instance).unwrap();
            let canonical = id.to_string();
            prop_assert_eq!(&canonical, &format!("{cc}-{code}-{instance}-{}", id.check_char()));
            prop_assert_eq!(Emaid::parse(&canonical).unwrap(), id.clone());
            prop_assert_eq!(Emaid::parse(&canonical.to_ascii_lowercase()).unwrap(), id.clone());
            prop_assert_eq!(Emaid::parse(&canonical.replace('-', "")).unwrap(), id.clone());
            prop_assert_eq!(Emaid::parse(&id.without_check_char()).unwrap(), id.clone());
            prop_assert_eq!(Emaid::parse(&id.compact_without_check_char().to_ascii_lowercase()).unwrap(), id.clone());
            prop_assert_eq!(Emaid::parse(&canonical.replace('-', "*")).unwrap(), id.clone());
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<Emaid>(&json).unwrap(), id.clone());
            prop_assert!(satisfies_check_equations(&id.compact()));
        }

        #[test]
        fn emaid_refuses_every_other_check_character((cc, code, instance) in emaid_parts(), wrong in alnum()) {
            let id = Emaid::new(&ProviderId::new(&cc, &code).unwrap(), &instance).unwrap();
            let s = format!("{}-{wrong}", id.without_check_char());
            if wrong == id.check_char() {
                prop_assert_eq!(Emaid::parse(&s).unwrap(), id);
            } else {
                prop_assert_eq!(
                    Emaid::parse(&s),
                    Err(GlobalIdError::CheckChar { expected: id.check_char(), found: wrong })
                );
            }
        }

        #[test]
        fn evse_id_round_trips(cc in "[A-Z]{2}", op in "[A-Z0-9]{3}", outlet in "[A-Z0-9][A-Z0-9*]{0,30}") {
            let id = EvseId::parse(&format!("{cc}*{op}*E{outlet}")).unwrap();
            prop_assert_eq!(id.to_string(), format!("{cc}*{op}*E{outlet}"));
            prop_assert_eq!(id.evse_part(), outlet.as_str());
            prop_assert_eq!(EvseId::parse(&id.to_string()).unwrap(), id.clone());
            prop_assert_eq!(EvseId::parse(&id.compact()).unwrap(), id.clone());
            prop_assert_eq!(EvseId::parse(&id.compact().to_ascii_lowercase()).unwrap(), id.clone());
            prop_assert_eq!(EvseId::parse(&id.to_string().to_ascii_lowercase()).unwrap(), id.clone());
            prop_assert_eq!(EvseId::parse(&format!("{cc}-{op}-E{outlet}")).unwrap(), id.clone());
            prop_assert!(id.compact().len() <= 37);
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<EvseId>(&json).unwrap(), id);
        }

        #[test]
        fn party_ids_round_trip(cc in "[A-Za-z]{2}", code in "[A-Za-z0-9]{3}", sep in prop::sample::select(vec!["", "*", "-"])) {
            let o = OperatorId::parse(&format!("{cc}{sep}{code}")).unwrap();
            let p = ProviderId::parse(&format!("{cc}{sep}{code}")).unwrap();
            prop_assert_eq!(o.to_string(), format!("{}*{}", cc.to_ascii_uppercase(), code.to_ascii_uppercase()));
            prop_assert_eq!(p.to_string(), format!("{}-{}", cc.to_ascii_uppercase(), code.to_ascii_uppercase()));
            prop_assert_eq!(OperatorId::parse(&o.to_string()).unwrap(), o.clone());
            prop_assert_eq!(ProviderId::parse(&p.to_string()).unwrap(), p.clone());
            prop_assert_eq!(OperatorId::parse(&o.compact().to_ascii_lowercase()).unwrap(), o);
            prop_assert_eq!(ProviderId::parse(&p.compact().to_ascii_lowercase()).unwrap(), p);
        }

        #[test]
        fn order_is_the_order_of_the_canonical_forms(a in emaid_parts(), b in emaid_parts(), x in "[A-C]{2}[A-C0-9]{3}E[A-C0-9*]{1,5}", y in "[A-C]{2}[A-C0-9]{3}E[A-C0-9*]{1,5}") {
            let ea = Emaid::new(&ProviderId::new(&a.0, &a.1).unwrap(), &a.2).unwrap();
            let eb = Emaid::new(&ProviderId::new(&b.0, &b.1).unwrap(), &b.2).unwrap();
            prop_assert_eq!(ea.cmp(&eb), ea.to_string().cmp(&eb.to_string()));
            if let (Ok(xa), Ok(ya)) = (EvseId::parse(&x), EvseId::parse(&y)) {
                prop_assert_eq!(xa.cmp(&ya), xa.to_string().cmp(&ya.to_string()));
                prop_assert_eq!(xa == ya, xa.to_string() == ya.to_string());
            }
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,45}") {
            let _ = EvseId::parse(&s);
            let _ = Emaid::parse(&s);
            let _ = Emaid::parse_emi3(&s);
            let _ = OperatorId::parse(&s);
            let _ = ProviderId::parse(&s);
        }

        #[test]
        fn parsed_ids_print_what_they_read(s in "[A-Za-z0-9*-]{5,20}") {
            // Whatever is accepted prints a form that reads back to the same value.
            if let Ok(id) = Emaid::parse(&s) {
                prop_assert_eq!(Emaid::parse(&id.to_string()).unwrap(), id);
            }
            if let Ok(id) = EvseId::parse(&s) {
                prop_assert_eq!(EvseId::parse(&id.to_string()).unwrap(), id);
            }
        }
    }
}
