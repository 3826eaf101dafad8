//! Locations module objects (checklist §6, `mod_locations.asciidoc`): Location, EVSE, Connector, their
//! PATCH shapes and helper classes.
//!
//! GeoLocation, BusinessDetails, Image and EnergyMix are reused by other modules.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ci_string::{CiString, Text, Url};
use crate::datetime::DateTime;
use crate::decode::{self, DecodeWarning, Strictness};
use crate::error::TypeError;
use crate::ids::{
    ConnectorId, CountryCode, EvseIdText, EvseUid, GroupId, LocationId, PartyId, PartyRef, TariffId, TokenUid,
};
use crate::modules::common::TokenType;
use crate::modules::types::DisplayText;
use crate::money::Number;
use crate::patch::Patch;

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
            Strictness::Trusted => Self::lenient(&text),
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

// === Enums ===

crate::open_enum! {
    /// `Status` (§6.4): the status of an EVSE (LOC-02: `REMOVED` instead of deletion).
    pub enum Status("Status") {
        /// Able to start a new session.
        Available => "AVAILABLE",
        /// Not accessible because of a physical barrier.
        Blocked => "BLOCKED",
        /// In use.
        Charging => "CHARGING",
        /// Not yet active or temporarily unavailable, not broken.
        Inoperative => "INOPERATIVE",
        /// Out of order.
        OutOfOrder => "OUTOFORDER",
        /// Planned.
        Planned => "PLANNED",
        /// Discontinued.
        Removed => "REMOVED",
        /// Reserved for a particular driver.
        Reserved => "RESERVED",
        /// No status information (also offline).
        Unknown => "UNKNOWN",
    }
}

crate::open_enum! {
    /// `Capability` (§6.4).
    pub enum Capability("Capability") {
        /// Supports charging profiles (UC3-7).
        ChargingProfileCapable => "CHARGING_PROFILE_CAPABLE",
        /// Supports charging preferences (SES-07).
        ChargingPreferencesCapable => "CHARGING_PREFERENCES_CAPABLE",
        /// Payment terminal with chip cards.
        ChipCardSupport => "CHIP_CARD_SUPPORT",
        /// Payment terminal with contactless cards.
        ContactlessCardSupport => "CONTACTLESS_CARD_SUPPORT",
        /// Credit card payable.
        CreditCardPayable => "CREDIT_CARD_PAYABLE",
        /// Debit card payable.
        DebitCardPayable => "DEBIT_CARD_PAYABLE",
        /// PIN entry device.
        PedTerminal => "PED_TERMINAL",
        /// Remote start/stop (UC3-2, UC3-4).
        RemoteStartStopCapable => "REMOTE_START_STOP_CAPABLE",
        /// Reservable (UC3-8).
        Reservable => "RESERVABLE",
        /// RFID reader (UC3-1).
        RfidReader => "RFID_READER",
        /// StartSession needs a connector id (CMD-09).
        StartSessionConnectorRequired => "START_SESSION_CONNECTOR_REQUIRED",
        /// Token groups.
        TokenGroupCapable => "TOKEN_GROUP_CAPABLE",
        /// Connectors can be unlocked remotely.
        UnlockCapable => "UNLOCK_CAPABLE",
    }
}

crate::open_enum! {
    /// `ConnectorType` (§6.4). Values are case-sensitive (E-21).
    pub enum ConnectorType("ConnectorType") {
        /// CHAdeMO, DC.
        Chademo => "CHADEMO",
        /// ChaoJi, DC.
        Chaoji => "CHAOJI",
        /// Domestic type A.
        DomesticA => "DOMESTIC_A",
        /// Domestic type B.
        DomesticB => "DOMESTIC_B",
        /// Domestic type C.
        DomesticC => "DOMESTIC_C",
        /// Domestic type D.
        DomesticD => "DOMESTIC_D",
        /// Domestic type E.
        DomesticE => "DOMESTIC_E",
        /// Domestic type F (Schuko).
        DomesticF => "DOMESTIC_F",
        /// Domestic type G.
        DomesticG => "DOMESTIC_G",
        /// Domestic type H.
        DomesticH => "DOMESTIC_H",
        /// Domestic type I.
        DomesticI => "DOMESTIC_I",
        /// Domestic type J.
        DomesticJ => "DOMESTIC_J",
        /// Domestic type K.
        DomesticK => "DOMESTIC_K",
        /// Domestic type L.
        DomesticL => "DOMESTIC_L",
        /// Domestic type M.
        DomesticM => "DOMESTIC_M",
        /// Domestic type N.
        DomesticN => "DOMESTIC_N",
        /// Domestic type O.
        DomesticO => "DOMESTIC_O",
        /// GB/T AC.
        GbtAc => "GBT_AC",
        /// GB/T DC.
        GbtDc => "GBT_DC",
        /// IEC 60309-2 single phase 16 A.
        Iec60309_2Single16 => "IEC_60309_2_single_16",
        /// IEC 60309-2 three phases 16 A.
        Iec60309_2Three16 => "IEC_60309_2_three_16",
        /// IEC 60309-2 three phases 32 A.
        Iec60309_2Three32 => "IEC_60309_2_three_32",
        /// IEC 60309-2 three phases 64 A.
        Iec60309_2Three64 => "IEC_60309_2_three_64",
        /// Type 1.
        Iec62196T1 => "IEC_62196_T1",
        /// Combo Type 1 (CCS1).
        Iec62196T1Combo => "IEC_62196_T1_COMBO",
        /// Type 2.
        Iec62196T2 => "IEC_62196_T2",
        /// Combo Type 2 (CCS2).
        Iec62196T2Combo => "IEC_62196_T2_COMBO",
        /// Type 3A.
        Iec62196T3A => "IEC_62196_T3A",
        /// Type 3C.
        Iec62196T3C => "IEC_62196_T3C",
        /// NEMA 5-20.
        Nema5_20 => "NEMA_5_20",
        /// NEMA 6-30.
        Nema6_30 => "NEMA_6_30",
        /// NEMA 6-50.
        Nema6_50 => "NEMA_6_50",
        /// NEMA 10-30.
        Nema10_30 => "NEMA_10_30",
        /// NEMA 10-50.
        Nema10_50 => "NEMA_10_50",
        /// NEMA 14-30.
        Nema14_30 => "NEMA_14_30",
        /// NEMA 14-50.
        Nema14_50 => "NEMA_14_50",
        /// Pantograph, bottom-up.
        PantographBottomUp => "PANTOGRAPH_BOTTOM_UP",
        /// Pantograph, top-down.
        PantographTopDown => "PANTOGRAPH_TOP_DOWN",
        /// Tesla Roadster.
        TeslaR => "TESLA_R",
        /// Tesla Model S.
        TeslaS => "TESLA_S",
    }
}

crate::open_enum! {
    /// `ConnectorFormat` (§6.4).
    pub enum ConnectorFormat("ConnectorFormat") {
        /// A socket: the driver brings the cable.
        Socket => "SOCKET",
        /// An attached cable.
        Cable => "CABLE",
    }
}

crate::open_enum! {
    /// `PowerType` (§6.4).
    pub enum PowerType("PowerType") {
        /// AC, one phase.
        Ac1Phase => "AC_1_PHASE",
        /// AC, two phases.
        Ac2Phase => "AC_2_PHASE",
        /// AC, two phases, split phase.
        Ac2PhaseSplit => "AC_2_PHASE_SPLIT",
        /// AC, three phases.
        Ac3Phase => "AC_3_PHASE",
        /// DC.
        Dc => "DC",
    }
}

impl PowerType {
    /// The number of phases (1 for DC), for power ↔ current conversions.
    pub fn phases(&self) -> u32 {
        match self {
            Self::Ac3Phase => 3,
            Self::Ac2Phase | Self::Ac2PhaseSplit => 2,
            _ => 1,
        }
    }
}

crate::open_enum! {
    /// `ParkingType` (§6.4).
    pub enum ParkingType("ParkingType") {
        /// Along a motorway.
        AlongMotorway => "ALONG_MOTORWAY",
        /// Multistorey car park.
        ParkingGarage => "PARKING_GARAGE",
        /// Parking lot.
        ParkingLot => "PARKING_LOT",
        /// On a driveway.
        OnDriveway => "ON_DRIVEWAY",
        /// On the street.
        OnStreet => "ON_STREET",
        /// Underground garage.
        UndergroundGarage => "UNDERGROUND_GARAGE",
    }
}

crate::open_enum! {
    /// `ParkingRestriction` (§6.4).
    pub enum ParkingRestriction("ParkingRestriction") {
        /// Electric vehicles only.
        EvOnly => "EV_ONLY",
        /// Only while plugged in.
        Plugged => "PLUGGED",
        /// Disabled people.
        Disabled => "DISABLED",
        /// Customers only.
        Customers => "CUSTOMERS",
        /// Motorcycles.
        Motorcycles => "MOTORCYCLES",
    }
}

crate::open_enum! {
    /// `Facility` (§6.4).
    pub enum Facility("Facility") {
        /// Hotel.
        Hotel => "HOTEL",
        /// Restaurant.
        Restaurant => "RESTAURANT",
        /// Cafe.
        Cafe => "CAFE",
        /// Mall.
        Mall => "MALL",
        /// Supermarket.
        Supermarket => "SUPERMARKET",
        /// Sport.
        Sport => "SPORT",
        /// Recreation area.
        RecreationArea => "RECREATION_AREA",
        /// Nature.
        Nature => "NATURE",
        /// Museum.
        Museum => "MUSEUM",
        /// Bike sharing.
        BikeSharing => "BIKE_SHARING",
        /// Bus stop.
        BusStop => "BUS_STOP",
        /// Taxi stand.
        TaxiStand => "TAXI_STAND",
        /// Tram stop.
        TramStop => "TRAM_STOP",
        /// Metro station.
        MetroStation => "METRO_STATION",
        /// Train station.
        TrainStation => "TRAIN_STATION",
        /// Airport.
        Airport => "AIRPORT",
        /// Parking lot.
        ParkingLot => "PARKING_LOT",
        /// Carpool parking.
        CarpoolParking => "CARPOOL_PARKING",
        /// Fuel station.
        FuelStation => "FUEL_STATION",
        /// Wifi.
        Wifi => "WIFI",
    }
}

// === Helper classes ===

/// `AdditionalGeoLocation` (§6.3): a related point, e.g. an entrance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdditionalGeoLocation {
    /// Latitude (E-20).
    pub latitude: Latitude,
    /// Longitude (E-20).
    pub longitude: Longitude,
    /// Name of the point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<DisplayText>,
}

/// A local time of day `HH:MM` (RegularHours, TariffRestrictions), validated `([0-1][0-9]|2[0-3]):[0-5][0-9]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HourMinute {
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
}

impl HourMinute {
    /// Minutes since midnight.
    pub fn minutes(self) -> u32 {
        u32::from(self.hour) * 60 + u32::from(self.minute)
    }

    /// As a chrono time.
    pub fn to_naive(self) -> chrono::NaiveTime {
        chrono::NaiveTime::from_hms_opt(u32::from(self.hour), u32::from(self.minute), 0)
            .unwrap_or(chrono::NaiveTime::MIN)
    }
}

impl FromStr for HourMinute {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let ok =
            b.len() == 5 && b[2] == b':' && b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit());
        if !ok {
            return Err(TypeError::format("time of day", s, "expected HH:MM"));
        }
        let hour = (b[0] - b'0') * 10 + (b[1] - b'0');
        let minute = (b[3] - b'0') * 10 + (b[4] - b'0');
        if hour > 23 || minute > 59 {
            return Err(TypeError::format("time of day", s, "hour 00–23 and minute 00–59"));
        }
        Ok(Self { hour, minute })
    }
}

impl fmt::Display for HourMinute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for HourMinute {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HourMinute {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `RegularHours` (§6.3): a weekly period in local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegularHours {
    /// Day of the week, 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// Begin, local `HH:MM`.
    pub period_begin: HourMinute,
    /// End, local `HH:MM`, later than the begin.
    pub period_end: HourMinute,
}

/// `ExceptionalPeriod` (§6.3), in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionalPeriod {
    /// Begin.
    pub period_begin: DateTime,
    /// End.
    pub period_end: DateTime,
}

/// `Hours` (§6.3): opening and access hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hours {
    /// Open 24/7 (except the exceptional closings).
    pub twentyfourseven: bool,
    /// Weekly hours; at least one when not 24/7.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub regular_hours: Vec<RegularHours>,
    /// Extra openings.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub exceptional_openings: Vec<ExceptionalPeriod>,
    /// Closings; they override regular hours and openings.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub exceptional_closings: Vec<ExceptionalPeriod>,
}

impl Hours {
    fn validate(&self, path: &str) -> Result<(), TypeError> {
        if !self.twentyfourseven && self.regular_hours.is_empty() {
            return Err(TypeError::format(
                "Hours",
                path,
                "regular_hours needs at least one entry when twentyfourseven is false (§6.3)",
            ));
        }
        if self.twentyfourseven && !self.regular_hours.is_empty() {
            return Err(TypeError::format(
                "Hours",
                path,
                "regular_hours may only be used when twentyfourseven is false (§6.3)",
            ));
        }
        for (i, r) in self.regular_hours.iter().enumerate() {
            if !(1..=7).contains(&r.weekday) {
                return Err(TypeError::format(
                    "Hours",
                    path,
                    format!("regular_hours[{i}].weekday must be 1 (Monday) to 7 (Sunday)"),
                ));
            }
            if r.period_end <= r.period_begin {
                return Err(TypeError::format(
                    "Hours",
                    path,
                    format!("regular_hours[{i}].period_end must be later than period_begin"),
                ));
            }
        }
        for (name, list) in [
            ("exceptional_openings", &self.exceptional_openings),
            ("exceptional_closings", &self.exceptional_closings),
        ] {
            if let Some(i) = list.iter().position(|p| p.period_end <= p.period_begin) {
                return Err(TypeError::format(
                    "Hours",
                    path,
                    format!("{name}[{i}].period_end must be after period_begin"),
                ));
            }
        }
        Ok(())
    }
}

/// `StatusSchedule` (§6.3, LOC-05): a planned status, informational only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSchedule {
    /// Begin.
    pub period_begin: DateTime,
    /// End, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_end: Option<DateTime>,
    /// The status in the period.
    pub status: Status,
}

/// `PublishTokenType` (§6.3, LOC-03): a token holder who may see an unpublished location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishTokenType {
    /// Token uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<TokenUid>,
    /// Token type (required with `uid`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub token_type: Option<TokenType>,
    /// Visual number, string(64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual_number: Option<Text<64>>,
    /// Issuer, string(64) (required with `visual_number`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Text<64>>,
    /// Group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<GroupId>,
}

impl PublishTokenType {
    fn validate(&self, path: &str) -> Result<(), TypeError> {
        if self.uid.is_none() && self.visual_number.is_none() && self.group_id.is_none() {
            return Err(TypeError::format(
                "PublishTokenType",
                path,
                "one of uid, visual_number or group_id is required (§6.3)",
            ));
        }
        if self.uid.is_some() && self.token_type.is_none() {
            return Err(TypeError::format(
                "PublishTokenType",
                path,
                "type is required with uid (§6.3)",
            ));
        }
        if self.visual_number.is_some() && self.issuer.is_none() {
            return Err(TypeError::format(
                "PublishTokenType",
                path,
                "issuer is required with visual_number (§6.3)",
            ));
        }
        Ok(())
    }
}

// === Connector, EVSE, Location ===

/// `Connector` (§6.3). 2.2.1 has no connector status (checklist §1 item 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    /// Id, unique within the EVSE.
    pub id: ConnectorId,
    /// The plug standard.
    pub standard: ConnectorType,
    /// Socket or cable.
    pub format: ConnectorFormat,
    /// AC/DC and phases.
    pub power_type: PowerType,
    /// Maximum voltage in V (line to neutral for three-phase AC).
    pub max_voltage: u32,
    /// Maximum current in A (per phase).
    pub max_amperage: u32,
    /// Maximum power in W, when lower than voltage × current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_electric_power: Option<u32>,
    /// The tariffs that apply (LOC-08).
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tariff_ids: Vec<TariffId>,
    /// Terms and conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_and_conditions: Option<Url>,
    /// Last change (T-80).
    pub last_updated: DateTime,
}

impl Connector {
    /// The maximum power in W: `max_electric_power` when given, else voltage × current × phases.
    pub fn max_power_w(&self) -> u64 {
        let computed =
            u64::from(self.max_voltage) * u64::from(self.max_amperage) * u64::from(self.power_type.phases());
        self.max_electric_power.map_or(computed, u64::from)
    }

    /// Applies a PATCH (T-92): fields present replace, `last_updated` is set from the patch.
    pub fn apply_patch(&mut self, patch: ConnectorPatch) -> Result<(), TypeError> {
        if let Some(id) = patch.id.value() {
            if id != &self.id {
                return Err(TypeError::format(
                    "PATCH",
                    "id",
                    "the id in the body differs from the object's (T-93)",
                ));
            }
        }
        patch.standard.apply_required(&mut self.standard, "standard")?;
        patch.format.apply_required(&mut self.format, "format")?;
        patch
            .power_type
            .apply_required(&mut self.power_type, "power_type")?;
        patch
            .max_voltage
            .apply_required(&mut self.max_voltage, "max_voltage")?;
        patch
            .max_amperage
            .apply_required(&mut self.max_amperage, "max_amperage")?;
        patch
            .max_electric_power
            .apply_optional(&mut self.max_electric_power);
        patch.tariff_ids.apply_list(&mut self.tariff_ids);
        patch
            .terms_and_conditions
            .apply_optional(&mut self.terms_and_conditions);
        self.last_updated = patch.last_updated;
        Ok(())
    }
}

/// The PATCH shape of a Connector (T-92). `last_updated` is required (T-81).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorPatch {
    /// Id (must match, T-93).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub id: Patch<ConnectorId>,
    /// Standard.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub standard: Patch<ConnectorType>,
    /// Format.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub format: Patch<ConnectorFormat>,
    /// Power type.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub power_type: Patch<PowerType>,
    /// Max voltage.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub max_voltage: Patch<u32>,
    /// Max amperage.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub max_amperage: Patch<u32>,
    /// Max power.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub max_electric_power: Patch<u32>,
    /// Tariff ids.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub tariff_ids: Patch<Vec<TariffId>>,
    /// Terms and conditions.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub terms_and_conditions: Patch<Url>,
    /// Required (T-81).
    pub last_updated: DateTime,
}

/// `EVSE` (§6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evse {
    /// Technical id, unique per CPO forever (LOC-07).
    pub uid: EvseUid,
    /// The eMI3 EVSE ID; may be dropped when REMOVED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_id: Option<EvseIdText>,
    /// Current status.
    pub status: Status,
    /// Planned statuses (LOC-05).
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub status_schedule: Vec<StatusSchedule>,
    /// Capabilities.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub capabilities: Vec<Capability>,
    /// Connectors (at least one).
    pub connectors: Vec<Connector>,
    /// Floor level, string(4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_level: Option<Text<4>>,
    /// Coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<GeoLocation>,
    /// Printed reference, string(16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_reference: Option<Text<16>>,
    /// Directions.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub directions: Vec<DisplayText>,
    /// Parking restrictions.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub parking_restrictions: Vec<ParkingRestriction>,
    /// Images.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub images: Vec<Image>,
    /// Last change of the EVSE or a connector (T-82).
    pub last_updated: DateTime,
}

impl Evse {
    /// A connector by id.
    pub fn connector(&self, id: &ConnectorId) -> Option<&Connector> {
        self.connectors.iter().find(|c| &c.id == id)
    }

    /// A connector by id, mutably.
    pub fn connector_mut(&mut self, id: &ConnectorId) -> Option<&mut Connector> {
        self.connectors.iter_mut().find(|c| &c.id == id)
    }

    /// Whether the EVSE has a capability.
    pub fn has(&self, capability: &Capability) -> bool {
        self.capabilities.contains(capability)
    }

    /// Context rules (§6.3): at least one connector, unique connector ids.
    pub fn validate(&self) -> Result<(), TypeError> {
        let path = format!("evse {}", self.uid);
        if self.connectors.is_empty() {
            return Err(TypeError::format(
                "EVSE",
                &path,
                "connectors needs at least one entry (§6.3)",
            ));
        }
        for (i, c) in self.connectors.iter().enumerate() {
            if self.connectors[..i].iter().any(|d| d.id == c.id) {
                return Err(TypeError::format(
                    "EVSE",
                    &path,
                    format!("connector id {} is used twice", c.id),
                ));
            }
        }
        Ok(())
    }

    /// Applies a PATCH (T-92).
    pub fn apply_patch(&mut self, patch: EvsePatch) -> Result<(), TypeError> {
        if let Some(uid) = patch.uid.value() {
            if uid != &self.uid {
                return Err(TypeError::format(
                    "PATCH",
                    "uid",
                    "the uid in the body differs from the object's (T-93)",
                ));
            }
        }
        patch.evse_id.apply_optional(&mut self.evse_id);
        patch.status.apply_required(&mut self.status, "status")?;
        patch.status_schedule.apply_list(&mut self.status_schedule);
        patch.capabilities.apply_list(&mut self.capabilities);
        if let Patch::Value(c) = patch.connectors {
            self.connectors = c;
        } else if matches!(patch.connectors, Patch::Null) {
            return Err(TypeError::format(
                "PATCH",
                "connectors",
                "a required field cannot be null",
            ));
        }
        patch.floor_level.apply_optional(&mut self.floor_level);
        patch.coordinates.apply_optional(&mut self.coordinates);
        patch
            .physical_reference
            .apply_optional(&mut self.physical_reference);
        patch.directions.apply_list(&mut self.directions);
        patch
            .parking_restrictions
            .apply_list(&mut self.parking_restrictions);
        patch.images.apply_list(&mut self.images);
        self.last_updated = patch.last_updated;
        Ok(())
    }
}

/// The PATCH shape of an EVSE (T-92). `last_updated` is required (T-81).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvsePatch {
    /// Uid (must match, T-93).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub uid: Patch<EvseUid>,
    /// EVSE ID.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub evse_id: Patch<EvseIdText>,
    /// Status: the usual PATCH (UC1-3).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub status: Patch<Status>,
    /// Status schedule.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub status_schedule: Patch<Vec<StatusSchedule>>,
    /// Capabilities.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub capabilities: Patch<Vec<Capability>>,
    /// Connectors (the whole list).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub connectors: Patch<Vec<Connector>>,
    /// Floor level.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub floor_level: Patch<Text<4>>,
    /// Coordinates.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub coordinates: Patch<GeoLocation>,
    /// Physical reference.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub physical_reference: Patch<Text<16>>,
    /// Directions.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub directions: Patch<Vec<DisplayText>>,
    /// Parking restrictions.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub parking_restrictions: Patch<Vec<ParkingRestriction>>,
    /// Images.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub images: Patch<Vec<Image>>,
    /// Required (T-81).
    pub last_updated: DateTime,
}

/// `Location` (§6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Owner's country code.
    pub country_code: CountryCode,
    /// Owner's party id.
    pub party_id: PartyId,
    /// Id, immutable.
    pub id: LocationId,
    /// Whether it may be published; `false` locations are never sent (LOC-03).
    pub publish: bool,
    /// Token holders who may see an unpublished location (only with `publish = false`).
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub publish_allowed_to: Vec<PublishTokenType>,
    /// Display name, string(255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text<255>>,
    /// Street and number, string(255) (E-05).
    pub address: Text<255>,
    /// City, string(45).
    pub city: Text<45>,
    /// Postal code, string(10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Text<10>>,
    /// State, string(45) (E-05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Text<45>>,
    /// ISO 3166-1 alpha-3 country, string(3).
    pub country: Text<3>,
    /// Coordinates (E-20).
    pub coordinates: GeoLocation,
    /// Related points.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related_locations: Vec<AdditionalGeoLocation>,
    /// Type of parking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parking_type: Option<ParkingType>,
    /// The EVSEs.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub evses: Vec<Evse>,
    /// Directions.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub directions: Vec<DisplayText>,
    /// Operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<BusinessDetails>,
    /// Suboperator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suboperator: Option<BusinessDetails>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<BusinessDetails>,
    /// Facilities.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub facilities: Vec<Facility>,
    /// IANA time zone, string(255): tariffs' local times are in it (§9.2).
    pub time_zone: Text<255>,
    /// Opening hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_times: Option<Hours>,
    /// Charging continues when closed (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charging_when_closed: Option<bool>,
    /// Images.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub images: Vec<Image>,
    /// Energy mix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_mix: Option<EnergyMix>,
    /// Last change of the location or any EVSE/connector (T-82).
    pub last_updated: DateTime,
}

impl Location {
    /// The owner of the location.
    pub fn party(&self) -> PartyRef {
        PartyRef::new(self.country_code.clone(), self.party_id.clone())
    }

    /// An EVSE by uid.
    pub fn evse(&self, uid: &EvseUid) -> Option<&Evse> {
        self.evses.iter().find(|e| &e.uid == uid)
    }

    /// An EVSE by uid, mutably.
    pub fn evse_mut(&mut self, uid: &EvseUid) -> Option<&mut Evse> {
        self.evses.iter_mut().find(|e| &e.uid == uid)
    }

    /// LOC-02: at least one EVSE that is not REMOVED.
    pub fn has_valid_evse(&self) -> bool {
        self.evses.iter().any(|e| e.status != Status::Removed)
    }

    /// T-82: an EVSE (or one of its connectors) changed at `t`; the EVSE and the location get
    /// `last_updated = max(current, t)`.
    pub fn touch_evse(&mut self, uid: &EvseUid, t: DateTime) {
        if let Some(e) = self.evse_mut(uid) {
            e.last_updated = e.last_updated.max(t);
        }
        self.last_updated = self.last_updated.max(t);
    }

    /// The IANA time zone, if it is a known one.
    pub fn tz(&self) -> Option<chrono_tz::Tz> {
        self.time_zone.as_str().parse().ok()
    }

    /// Context rules (§6.3): `publish_allowed_to` only when not published (LOC-03), hours, EVSEs with
    /// connectors and unique uids, a known IANA time zone, an alpha-3 country.
    pub fn validate(&self) -> Result<(), TypeError> {
        let path = format!("location {}", self.id);
        if self.publish && !self.publish_allowed_to.is_empty() {
            return Err(TypeError::format(
                "Location",
                &path,
                "publish_allowed_to may only be used when publish is false (LOC-03)",
            ));
        }
        for p in &self.publish_allowed_to {
            p.validate(&path)?;
        }
        if let Some(h) = &self.opening_times {
            h.validate(&path)?;
        }
        if self.tz().is_none() {
            return Err(TypeError::format(
                "Location",
                &path,
                format!("time_zone {:?} is not an IANA time zone", self.time_zone.as_str()),
            ));
        }
        let c = self.country.as_str();
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(TypeError::format(
                "Location",
                &path,
                "country must be an ISO 3166-1 alpha-3 code such as NLD",
            ));
        }
        for (i, e) in self.evses.iter().enumerate() {
            if self.evses[..i].iter().any(|f| f.uid == e.uid) {
                return Err(TypeError::format(
                    "Location",
                    &path,
                    format!("EVSE uid {} is used twice", e.uid),
                ));
            }
            e.validate()?;
        }
        Ok(())
    }

    /// Applies a PATCH (T-92); ids must match (T-93).
    pub fn apply_patch(&mut self, patch: LocationPatch) -> Result<(), TypeError> {
        let mismatch =
            |field: &'static str| TypeError::format("PATCH", field, "differs from the object's (T-93)");
        if patch.id.value().is_some_and(|v| v != &self.id) {
            return Err(mismatch("id"));
        }
        if patch
            .country_code
            .value()
            .is_some_and(|v| v != &self.country_code)
        {
            return Err(mismatch("country_code"));
        }
        if patch.party_id.value().is_some_and(|v| v != &self.party_id) {
            return Err(mismatch("party_id"));
        }
        patch.publish.apply_required(&mut self.publish, "publish")?;
        patch.publish_allowed_to.apply_list(&mut self.publish_allowed_to);
        patch.name.apply_optional(&mut self.name);
        patch.address.apply_required(&mut self.address, "address")?;
        patch.city.apply_required(&mut self.city, "city")?;
        patch.postal_code.apply_optional(&mut self.postal_code);
        patch.state.apply_optional(&mut self.state);
        patch.country.apply_required(&mut self.country, "country")?;
        patch
            .coordinates
            .apply_required(&mut self.coordinates, "coordinates")?;
        patch.related_locations.apply_list(&mut self.related_locations);
        patch.parking_type.apply_optional(&mut self.parking_type);
        patch.evses.apply_list(&mut self.evses);
        patch.directions.apply_list(&mut self.directions);
        patch.operator.apply_optional(&mut self.operator);
        patch.suboperator.apply_optional(&mut self.suboperator);
        patch.owner.apply_optional(&mut self.owner);
        patch.facilities.apply_list(&mut self.facilities);
        patch.time_zone.apply_required(&mut self.time_zone, "time_zone")?;
        patch.opening_times.apply_optional(&mut self.opening_times);
        patch
            .charging_when_closed
            .apply_optional(&mut self.charging_when_closed);
        patch.images.apply_list(&mut self.images);
        patch.energy_mix.apply_optional(&mut self.energy_mix);
        self.last_updated = patch.last_updated;
        Ok(())
    }
}

/// The PATCH shape of a Location (T-92). `last_updated` is required (T-81).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationPatch {
    /// Country code (must match).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub country_code: Patch<CountryCode>,
    /// Party id (must match).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub party_id: Patch<PartyId>,
    /// Id (must match).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub id: Patch<LocationId>,
    /// Publish.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub publish: Patch<bool>,
    /// Publish allowed to.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub publish_allowed_to: Patch<Vec<PublishTokenType>>,
    /// Name.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub name: Patch<Text<255>>,
    /// Address.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub address: Patch<Text<255>>,
    /// City.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub city: Patch<Text<45>>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub postal_code: Patch<Text<10>>,
    /// State.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub state: Patch<Text<45>>,
    /// Country.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub country: Patch<Text<3>>,
    /// Coordinates.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub coordinates: Patch<GeoLocation>,
    /// Related locations.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub related_locations: Patch<Vec<AdditionalGeoLocation>>,
    /// Parking type.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub parking_type: Patch<ParkingType>,
    /// EVSEs (the whole list).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub evses: Patch<Vec<Evse>>,
    /// Directions.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub directions: Patch<Vec<DisplayText>>,
    /// Operator.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub operator: Patch<BusinessDetails>,
    /// Suboperator.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub suboperator: Patch<BusinessDetails>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub owner: Patch<BusinessDetails>,
    /// Facilities.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub facilities: Patch<Vec<Facility>>,
    /// Time zone.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub time_zone: Patch<Text<255>>,
    /// Opening times.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub opening_times: Patch<Hours>,
    /// Charging when closed.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub charging_when_closed: Patch<bool>,
    /// Images.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub images: Patch<Vec<Image>>,
    /// Energy mix.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub energy_mix: Patch<EnergyMix>,
    /// Required (T-81).
    pub last_updated: DateTime,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::decode::{DecodeOptions, decode_value};

    pub(crate) fn location_json() -> serde_json::Value {
        json!({
            "country_code": "NO", "party_id": "FJR", "id": "OSL-SENTRUM-01", "publish": true,
            "name": "Fjordladning Sentrum", "address": "Kongens gate 12", "city": "Oslo", "postal_code": "0153",
            "country": "NOR", "coordinates": { "latitude": "59.909312", "longitude": "10.744021" },
            "time_zone": "Europe/Oslo", "parking_type": "UNDERGROUND_GARAGE", "facilities": ["CAFE", "WIFI"],
            "opening_times": { "twentyfourseven": false, "regular_hours": [ { "weekday": 1, "period_begin": "06:00", "period_end": "22:30" } ] },
            "evses": [{
                "uid": "FJR-0001-A", "evse_id": "NO*FJR*E0001A", "status": "AVAILABLE",
                "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
                "connectors": [{ "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                                 "max_voltage": 230, "max_amperage": 32, "tariff_ids": ["AC-STD"], "last_updated": "2026-03-01T10:00:00Z" }],
                "last_updated": "2026-03-01T10:00:00Z"
            }],
            "last_updated": "2026-03-01T10:00:00Z"
        })
    }

    #[test]
    fn location_round_trips_and_validates() {
        let v = location_json();
        let loc: Location = serde_json::from_value(v.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&loc).unwrap(), &v);
        loc.validate().unwrap();
        assert_eq!(loc.evses[0].connectors[0].max_power_w(), 22_080);
        assert!(loc.has_valid_evse());
    }

    #[test]
    fn loc03_publish_allowed_to_only_when_unpublished() {
        let mut loc: Location = serde_json::from_value(location_json()).unwrap();
        loc.publish_allowed_to = vec![PublishTokenType {
            uid: None,
            token_type: None,
            visual_number: None,
            issuer: None,
            group_id: Some(GroupId::new("G1").unwrap()),
        }];
        assert!(loc.validate().is_err());
        loc.publish = false;
        loc.validate().unwrap();
        loc.publish_allowed_to[0].group_id = None;
        loc.publish_allowed_to[0].uid = Some(TokenUid::new("04AB").unwrap());
        assert!(loc.validate().is_err(), "uid needs type");
    }

    #[test]
    fn hours_rules() {
        let mut loc: Location = serde_json::from_value(location_json()).unwrap();
        loc.opening_times = Some(Hours {
            twentyfourseven: false,
            regular_hours: vec![],
            exceptional_openings: vec![],
            exceptional_closings: vec![],
        });
        assert!(loc.validate().is_err());
        let h: Result<HourMinute, _> = "24:00".parse();
        assert!(h.is_err());
        assert!("7:30".parse::<HourMinute>().is_err());
        let bad = json!({ "twentyfourseven": false, "regular_hours": [ { "weekday": 8, "period_begin": "06:00", "period_end": "07:00" } ] });
        loc.opening_times = Some(serde_json::from_value(bad).unwrap());
        assert!(loc.validate().is_err());
        let inverted = json!({ "twentyfourseven": false, "regular_hours": [ { "weekday": 2, "period_begin": "08:00", "period_end": "07:00" } ] });
        loc.opening_times = Some(serde_json::from_value(inverted).unwrap());
        assert!(loc.validate().is_err());
    }

    #[test]
    fn evse_needs_connectors_and_unique_ids() {
        let mut loc: Location = serde_json::from_value(location_json()).unwrap();
        let c = loc.evses[0].connectors[0].clone();
        loc.evses[0].connectors.push(c);
        assert!(loc.validate().is_err());
        loc.evses[0].connectors.clear();
        assert!(loc.validate().is_err());
        let mut loc: Location = serde_json::from_value(location_json()).unwrap();
        let e = loc.evses[0].clone();
        loc.evses.push(e);
        assert!(loc.validate().is_err());
    }

    #[test]
    fn unknown_time_zone_and_alpha2_country_are_refused() {
        let mut loc: Location = serde_json::from_value(location_json()).unwrap();
        loc.time_zone = Text::new("Europe/Atlantis").unwrap();
        assert!(loc.validate().is_err());
        let mut loc: Location = serde_json::from_value(location_json()).unwrap();
        loc.country = Text::new("NO").unwrap();
        assert!(loc.validate().is_err());
    }

    #[test]
    fn t81_t92_t93_patches() {
        let mut loc: Location = serde_json::from_value(location_json()).unwrap();
        let p: LocationPatch = serde_json::from_value(
            json!({ "name": "Nytt navn", "postal_code": null, "last_updated": "2026-03-02T00:00:00Z" }),
        )
        .unwrap();
        loc.apply_patch(p).unwrap();
        assert_eq!(loc.name.as_ref().unwrap().as_str(), "Nytt navn");
        assert!(loc.postal_code.is_none());
        assert_eq!(loc.city.as_str(), "Oslo", "absent fields stay");
        assert_eq!(
            loc.last_updated,
            "2026-03-02T00:00:00Z".parse::<DateTime>().unwrap()
        );
        let p: LocationPatch =
            serde_json::from_value(json!({ "id": "OTHER", "last_updated": "2026-03-02T00:00:00Z" })).unwrap();
        assert!(loc.apply_patch(p).is_err());
        let p: LocationPatch =
            serde_json::from_value(json!({ "city": null, "last_updated": "2026-03-02T00:00:00Z" })).unwrap();
        assert!(loc.apply_patch(p).is_err(), "required field cannot be nulled");
        assert!(
            serde_json::from_value::<LocationPatch>(json!({ "name": "x" })).is_err(),
            "T-81"
        );

        let evse = loc.evse_mut(&EvseUid::new("fjr-0001-a").unwrap()).unwrap();
        let p: EvsePatch =
            serde_json::from_value(json!({ "status": "CHARGING", "last_updated": "2026-03-03T00:00:00Z" }))
                .unwrap();
        evse.apply_patch(p).unwrap();
        assert_eq!(evse.status, Status::Charging);
        let conn = evse.connector_mut(&ConnectorId::new("1").unwrap()).unwrap();
        let p: ConnectorPatch = serde_json::from_value(
            json!({ "tariff_ids": ["AC-NEW"], "last_updated": "2026-03-04T00:00:00Z" }),
        )
        .unwrap();
        conn.apply_patch(p).unwrap();
        assert_eq!(conn.tariff_ids[0].as_str(), "AC-NEW");
        let t = DateTime::from_ymd_hms(2026, 3, 4, 0, 0, 0).unwrap();
        loc.touch_evse(&EvseUid::new("FJR-0001-A").unwrap(), t);
        assert_eq!(loc.last_updated, t, "T-82: parent bumped");
    }

    #[test]
    fn e21_mixed_case_connector_types_and_enum_tables() {
        let c: ConnectorType = serde_json::from_str("\"IEC_60309_2_three_32\"").unwrap();
        assert_eq!(c, ConnectorType::Iec60309_2Three32);
        for_each_enum();
        let d = decode_value::<Status>(json!("BROKEN"), DecodeOptions::STRICT);
        assert!(d.is_err());
    }

    fn for_each_enum() {
        crate::open_enum::assert_consistent(Status::KNOWN);
        crate::open_enum::assert_consistent(Capability::KNOWN);
        crate::open_enum::assert_consistent(ConnectorType::KNOWN);
        crate::open_enum::assert_consistent(ConnectorFormat::KNOWN);
        crate::open_enum::assert_consistent(PowerType::KNOWN);
        crate::open_enum::assert_consistent(ParkingType::KNOWN);
        crate::open_enum::assert_consistent(ParkingRestriction::KNOWN);
        crate::open_enum::assert_consistent(Facility::KNOWN);
    }
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
