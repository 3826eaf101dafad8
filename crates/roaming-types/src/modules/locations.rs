//! Locations module objects (checklist §6, `mod_locations.asciidoc`): Location, EVSE, Connector, their
//! PATCH shapes and helper classes.
//!
//! This part holds the helper classes that other modules reuse (GeoLocation, BusinessDetails, Image,
//! EnergyMix).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ci_string::{CiString, Text, Url};
use crate::decode::{self, DecodeWarning, Strictness};
use crate::error::TypeError;
use crate::money::Number;

// === GeoLocation ===

/// Which coordinate a [`Coordinate`] is: they differ in range and in the digits before the point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// `-?[0-9]{1,2}\.[0-9]{5,7}`, −90…90.
    Latitude,
    /// `-?[0-9]{1,3}\.[0-9]{5,7}`, −180…180.
    Longitude,
}

impl Axis {
    fn int_digits(self) -> usize {
        match self {
            Self::Latitude => 2,
            Self::Longitude => 3,
        }
    }
    fn limit(self) -> Decimal {
        match self {
            Self::Latitude => Decimal::from(90),
            Self::Longitude => Decimal::from(180),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Latitude => "latitude",
            Self::Longitude => "longitude",
        }
    }
}

/// Whether `s` matches the OCPI pattern for the axis (E-20).
fn matches_pattern(s: &str, axis: Axis) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let Some((int, frac)) = body.split_once('.') else {
        return false;
    };
    (1..=axis.int_digits()).contains(&int.len())
        && int.bytes().all(|b| b.is_ascii_digit())
        && (5..=7).contains(&frac.len())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// One WGS84 coordinate, kept as the **string** OCPI sends (E-20), with its exact decimal value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Coordinate<const LAT: bool> {
    text: String,
    value: Decimal,
}

/// A latitude (`GeoLocation.latitude`, string(10)).
pub type Latitude = Coordinate<true>;
/// A longitude (`GeoLocation.longitude`, string(11)).
pub type Longitude = Coordinate<false>;

impl<const LAT: bool> Coordinate<LAT> {
    const AXIS: Axis = if LAT { Axis::Latitude } else { Axis::Longitude };

    /// Parses strictly: the OCPI pattern and range.
    pub fn new(text: &str) -> Result<Self, TypeError> {
        if !matches_pattern(text, Self::AXIS) {
            return Err(TypeError::format(
                Self::AXIS.name(),
                text,
                "expected a decimal string with 5 to 7 decimals (E-20)",
            ));
        }
        Self::lenient(text)
    }

    /// From an exact decimal, formatted with 6 decimals.
    pub fn from_decimal(value: Decimal) -> Result<Self, TypeError> {
        let rounded = value.round_dp(7);
        let text = format!("{:.6}", rounded.round_dp(6));
        if rounded.abs() > Self::AXIS.limit() {
            return Err(TypeError::format(Self::AXIS.name(), &text, "out of range"));
        }
        Self::new(&text)
    }

    fn lenient(text: &str) -> Result<Self, TypeError> {
        let value = Decimal::from_str_exact(text.trim())
            .map_err(|_| TypeError::format(Self::AXIS.name(), text, "not a decimal number"))?;
        if value.abs() > Self::AXIS.limit() {
            return Err(TypeError::format(Self::AXIS.name(), text, "out of range"));
        }
        Ok(Self {
            text: text.trim().to_owned(),
            value,
        })
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The exact value in degrees.
    pub fn value(&self) -> Decimal {
        self.value
    }

    fn decode_text(text: String) -> Result<Self, TypeError> {
        if matches_pattern(&text, Self::AXIS) {
            return Self::lenient(&text);
        }
        match decode::options().strictness {
            Strictness::Strict => Self::new(&text),
            Strictness::Lenient => {
                let c = Self::lenient(&text)?;
                decode::warn(DecodeWarning::Format {
                    what: Self::AXIS.name(),
                    value: text,
                });
                Ok(c)
            }
        }
    }
}

impl<const LAT: bool> fmt::Debug for Coordinate<LAT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl<const LAT: bool> fmt::Display for Coordinate<LAT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<const LAT: bool> FromStr for Coordinate<LAT> {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<const LAT: bool> Serialize for Coordinate<LAT> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de, const LAT: bool> Deserialize<'de> for Coordinate<LAT> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // E-20: a string; numbers are accepted leniently (read as their exact decimal text).
        let n = serde_json::Value::deserialize(deserializer)?;
        let text = match n {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => {
                let num: Number =
                    serde_json::from_value(serde_json::Value::Number(n)).map_err(serde::de::Error::custom)?;
                if decode::options().strictness == Strictness::Strict {
                    return Err(serde::de::Error::custom("coordinates must be strings (E-20)"));
                }
                decode::warn(DecodeWarning::Format {
                    what: Self::AXIS.name(),
                    value: num.to_string(),
                });
                return Self::lenient(&num.value().to_string()).map_err(serde::de::Error::custom);
            }
            _ => return Err(serde::de::Error::custom("expected a coordinate string")),
        };
        Self::decode_text(text).map_err(serde::de::Error::custom)
    }
}

/// `GeoLocation` (§6.3): WGS84 coordinates as strings (E-20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoLocation {
    /// Latitude, string(10), `-?[0-9]{1,2}\.[0-9]{5,7}`.
    pub latitude: Latitude,
    /// Longitude, string(11), `-?[0-9]{1,3}\.[0-9]{5,7}`.
    pub longitude: Longitude,
}

impl GeoLocation {
    /// Builds a location from two strictly checked strings.
    pub fn new(latitude: &str, longitude: &str) -> Result<Self, TypeError> {
        Ok(Self {
            latitude: Latitude::new(latitude)?,
            longitude: Longitude::new(longitude)?,
        })
    }
}

// === BusinessDetails, Image ===

/// `BusinessDetails` (§5.1, §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessDetails {
    /// Name of the operator, string(100).
    pub name: Text<100>,
    /// Link to the operator's website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<Url>,
    /// Logo of the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<Image>,
}

impl BusinessDetails {
    /// Business details with only a name.
    pub fn named(name: &str) -> Result<Self, TypeError> {
        Ok(Self {
            name: Text::new(name)?,
            website: None,
            logo: None,
        })
    }
}

crate::open_enum! {
    /// `ImageCategory` (§6.4).
    pub enum ImageCategory("ImageCategory") {
        /// Photo of the physical device.
        Charger => "CHARGER",
        /// Location entrance.
        Entrance => "ENTRANCE",
        /// Location overview.
        Location => "LOCATION",
        /// Network logo.
        Network => "NETWORK",
        /// Operator logo.
        Operator => "OPERATOR",
        /// Other.
        OtherCategory => "OTHER",
        /// Owner logo.
        Owner => "OWNER",
    }
}

/// `Image` (§6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// URL of the full image.
    pub url: Url,
    /// URL of a thumbnail (≤128×128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<Url>,
    /// What the image shows.
    pub category: ImageCategory,
    /// Image type, CiString(4), e.g. `png`.
    #[serde(rename = "type")]
    pub image_type: CiString<4>,
    /// Width in pixels, int(5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels, int(5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

// === EnergyMix ===

crate::open_enum! {
    /// `EnergySourceCategory` (§6.4).
    pub enum EnergySourceCategory("EnergySourceCategory") {
        /// Nuclear.
        Nuclear => "NUCLEAR",
        /// Fossil, unspecified.
        GeneralFossil => "GENERAL_FOSSIL",
        /// Coal.
        Coal => "COAL",
        /// Gas.
        Gas => "GAS",
        /// Renewable, unspecified.
        GeneralGreen => "GENERAL_GREEN",
        /// Solar.
        Solar => "SOLAR",
        /// Wind.
        Wind => "WIND",
        /// Water.
        Water => "WATER",
    }
}

crate::open_enum! {
    /// `EnvironmentalImpactCategory` (§6.4).
    pub enum EnvironmentalImpactCategory("EnvironmentalImpactCategory") {
        /// Nuclear waste.
        NuclearWaste => "NUCLEAR_WASTE",
        /// CO2.
        CarbonDioxide => "CARBON_DIOXIDE",
    }
}

/// `EnergySource` (§6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergySource {
    /// The source.
    pub source: EnergySourceCategory,
    /// Percentage of this source, 0–100.
    pub percentage: Number,
}

/// `EnvironmentalImpact` (§6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentalImpact {
    /// The category.
    pub category: EnvironmentalImpactCategory,
    /// Amount in g/kWh.
    pub amount: Number,
}

/// `EnergyMix` (§6.3), used by Locations and Tariffs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyMix {
    /// Whether the energy is 100 % from regenerative sources.
    pub is_green_energy: bool,
    /// Breakdown of the sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub energy_sources: Vec<EnergySource>,
    /// Environmental impact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environ_impact: Vec<EnvironmentalImpact>,
    /// Energy supplier, string(64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier_name: Option<Text<64>>,
    /// Product name, string(64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_product_name: Option<Text<64>>,
}

#[cfg(test)]
mod helper_tests {
    use super::*;
    use crate::decode::{DecodeOptions, decode_slice};

    #[test]
    fn e20_coordinates_are_strings() {
        let g = GeoLocation::new("59.913868", "10.752245").unwrap();
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(json, r#"{"latitude":"59.913868","longitude":"10.752245"}"#);
        assert!(Latitude::new("159.91386").is_err());
        assert!(Latitude::new("59.9").is_err());
        assert!(Longitude::new("-179.1234567").is_ok());
        assert!(Longitude::new("-179.12345678").is_err());
    }

    #[test]
    fn e20_numbers_and_short_decimals_accepted_leniently() {
        let json = br#"{"latitude": 59.91, "longitude": "10.75"}"#;
        let d = decode_slice::<GeoLocation>(json, DecodeOptions::LENIENT).unwrap();
        assert_eq!(d.value.latitude.as_str(), "59.91");
        assert_eq!(d.warnings.len(), 2);
        assert!(decode_slice::<GeoLocation>(json, DecodeOptions::STRICT).is_err());
        assert!(
            decode_slice::<GeoLocation>(
                br#"{"latitude":"95.00000","longitude":"0.00000"}"#,
                DecodeOptions::LENIENT
            )
            .is_err()
        );
    }

    #[test]
    fn enums_are_consistent() {
        crate::open_enum::assert_consistent(ImageCategory::KNOWN);
        crate::open_enum::assert_consistent(EnergySourceCategory::KNOWN);
        crate::open_enum::assert_consistent(EnvironmentalImpactCategory::KNOWN);
    }
}
