//! Tariffs module objects (checklist §9.2, `mod_tariffs.asciidoc`): Tariff, TariffElement,
//! PriceComponent, TariffRestrictions and their enums. Tariffs have no PATCH shape (removed in 2.2).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ci_string::{Text, Url};
use crate::datetime::DateTime;
use crate::error::TypeError;
use crate::ids::{CountryCode, PartyId, PartyRef, TariffId};
use crate::modules::locations::{EnergyMix, HourMinute};
use crate::modules::types::DisplayText;
use crate::money::{Number, Price};

crate::open_enum! {
    /// `TariffDimensionType` (§9.2). Step units: ENERGY 1 Wh, TIME and PARKING_TIME 1 s, FLAT none.
    pub enum TariffDimensionType("TariffDimensionType") {
        /// Price per kWh.
        Energy => "ENERGY",
        /// A fixed price per session.
        Flat => "FLAT",
        /// Price per hour with the EV requesting no power (E-07).
        ParkingTime => "PARKING_TIME",
        /// Price per hour of charging (or of reservation in a reservation element).
        Time => "TIME",
    }
}

crate::open_enum! {
    /// `TariffType` (§9.2).
    pub enum TariffType("TariffType") {
        /// Ad-hoc payment at the charger.
        AdHocPayment => "AD_HOC_PAYMENT",
        /// Charging preference CHEAP.
        ProfileCheap => "PROFILE_CHEAP",
        /// Charging preference FAST.
        ProfileFast => "PROFILE_FAST",
        /// Charging preference GREEN.
        ProfileGreen => "PROFILE_GREEN",
        /// RFID or no preference (or REGULAR).
        Regular => "REGULAR",
    }
}

crate::open_enum! {
    /// `ReservationRestrictionType` (§9.2).
    pub enum ReservationRestrictionType("ReservationRestrictionType") {
        /// Prices the reservation.
        Reservation => "RESERVATION",
        /// Prices a reservation that expires unused.
        ReservationExpires => "RESERVATION_EXPIRES",
    }
}

crate::open_enum! {
    /// `DayOfWeek` (§9.2).
    pub enum DayOfWeek("DayOfWeek") {
        /// Monday.
        Monday => "MONDAY",
        /// Tuesday.
        Tuesday => "TUESDAY",
        /// Wednesday.
        Wednesday => "WEDNESDAY",
        /// Thursday.
        Thursday => "THURSDAY",
        /// Friday.
        Friday => "FRIDAY",
        /// Saturday.
        Saturday => "SATURDAY",
        /// Sunday.
        Sunday => "SUNDAY",
    }
}

impl DayOfWeek {
    /// The day of a chrono weekday.
    pub fn from_chrono(d: chrono::Weekday) -> Self {
        match d {
            chrono::Weekday::Mon => Self::Monday,
            chrono::Weekday::Tue => Self::Tuesday,
            chrono::Weekday::Wed => Self::Wednesday,
            chrono::Weekday::Thu => Self::Thursday,
            chrono::Weekday::Fri => Self::Friday,
            chrono::Weekday::Sat => Self::Saturday,
            chrono::Weekday::Sun => Self::Sunday,
        }
    }
}

/// A local date `YYYY-MM-DD` (TariffRestrictions `start_date`/`end_date`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDate(pub NaiveDate);

impl FromStr for LocalDate {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape {
            return Err(TypeError::format("date", s, "expected YYYY-MM-DD"));
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Self)
            .map_err(|_| TypeError::format("date", s, "no such date"))
    }
}

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl Serialize for LocalDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `PriceComponent` (§9.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceComponent {
    /// The dimension priced.
    #[serde(rename = "type")]
    pub dimension: TariffDimensionType,
    /// Price per unit, excluding VAT (not negative).
    #[serde(deserialize_with = "crate::limits::non_negative")]
    pub price: Number,
    /// VAT percentage; absent = no VAT applies, which is not 0 % (§9.3 item 7). Not negative.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::limits::non_negative_opt"
    )]
    pub vat: Option<Number>,
    /// Billing step in Wh (ENERGY) or s (TIME, PARKING_TIME); ignored for FLAT (§9.3 item 5).
    pub step_size: u32,
}

/// `TariffRestrictions` (§9.2): all set restrictions must hold (logical AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffRestrictions {
    /// Local start time of day (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<HourMinute>,
    /// Local end time of day (exclusive); before `start_time` wraps past midnight; `00:00` = end of day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<HourMinute>,
    /// Local start date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<LocalDate>,
    /// Local end date (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<LocalDate>,
    /// Energy consumed so far, kWh (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kwh: Option<Number>,
    /// Energy consumed so far, kWh (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_kwh: Option<Number>,
    /// Current summed over phases, A: active at or above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_current: Option<Number>,
    /// Current summed over phases, A: active below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_current: Option<Number>,
    /// Power, kW: active at or above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_power: Option<Number>,
    /// Power, kW: active below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_power: Option<Number>,
    /// Session duration, s (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_duration: Option<u64>,
    /// Session duration, s (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u64>,
    /// Days of the week.
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub day_of_week: Vec<DayOfWeek>,
    /// Marks an element that prices a reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<ReservationRestrictionType>,
}

/// `TariffElement` (§9.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffElement {
    /// The components (at least one).
    pub price_components: Vec<PriceComponent>,
    /// When they apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<TariffRestrictions>,
}

/// `Tariff` (§9.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tariff {
    /// Owner's country code.
    pub country_code: CountryCode,
    /// Owner's party id.
    pub party_id: PartyId,
    /// Id, unique per CPO.
    pub id: TariffId,
    /// ISO 4217 currency, string(3).
    pub currency: Text<3>,
    /// Which sessions it is for; absent = all.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub tariff_type: Option<TariffType>,
    /// Alternative texts (must not repeat the prices when elements are given).
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tariff_alt_text: Vec<DisplayText>,
    /// Human-readable explanation page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_alt_url: Option<Url>,
    /// Minimum session price (§9.3 item 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<Price>,
    /// Maximum session price (§9.3 item 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<Price>,
    /// The elements (at least one), in priority order (§9.3 item 3).
    pub elements: Vec<TariffElement>,
    /// Valid from (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime>,
    /// Valid until (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<DateTime>,
    /// Energy mix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_mix: Option<EnergyMix>,
    /// Last change.
    pub last_updated: DateTime,
}

impl Tariff {
    /// The owner.
    pub fn party(&self) -> PartyRef {
        PartyRef::new(self.country_code.clone(), self.party_id.clone())
    }

    /// §9.3 item 11: one element, no restrictions, one FLAT component priced 0.
    pub fn is_free(&self) -> bool {
        matches!(self.elements.as_slice(), [e] if e.restrictions.as_ref().is_none_or(|r| *r == TariffRestrictions::default())
            && matches!(e.price_components.as_slice(), [c] if c.dimension == TariffDimensionType::Flat && c.price == Number::ZERO))
    }

    /// Whether the validity window contains `t` (`start_date_time` inclusive, `end_date_time` exclusive).
    pub fn is_valid_at(&self, t: DateTime) -> bool {
        self.start_date_time.is_none_or(|s| s <= t) && self.end_date_time.is_none_or(|e| t < e)
    }

    /// Context rules (§9.2): non-empty elements and components, reservation elements only FLAT/TIME,
    /// consistent min/max pairs, a validity window that is not empty, an upper-case currency.
    pub fn validate(&self) -> Result<(), TypeError> {
        let path = format!("tariff {}", self.id);
        let c = self.currency.as_str();
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(TypeError::format(
                "Tariff",
                &path,
                "currency must be an ISO 4217 code such as EUR",
            ));
        }
        if self.elements.is_empty() {
            return Err(TypeError::format(
                "Tariff",
                &path,
                "elements needs at least one entry (§9.2)",
            ));
        }
        for (i, e) in self.elements.iter().enumerate() {
            if e.price_components.is_empty() {
                return Err(TypeError::format(
                    "Tariff",
                    &path,
                    format!("elements[{i}].price_components needs at least one entry (§9.2)"),
                ));
            }
            if let Some(j) = e
                .price_components
                .iter()
                .position(|p| p.price.value().is_sign_negative())
            {
                return Err(TypeError::format(
                    "Tariff",
                    &path,
                    format!("elements[{i}].price_components[{j}].price must not be negative"),
                ));
            }
            let Some(r) = &e.restrictions else { continue };
            if r.reservation.is_some()
                && e.price_components
                    .iter()
                    .any(|p| !matches!(p.dimension, TariffDimensionType::Flat | TariffDimensionType::Time))
            {
                return Err(TypeError::format(
                    "Tariff",
                    &path,
                    format!(
                        "elements[{i}]: a reservation element may only have FLAT and TIME components (§9.2)"
                    ),
                ));
            }
            let pairs = [
                ("kwh", r.min_kwh, r.max_kwh),
                ("current", r.min_current, r.max_current),
                ("power", r.min_power, r.max_power),
                (
                    "duration",
                    r.min_duration
                        .map(|v| Number::from(i64::try_from(v).unwrap_or(i64::MAX))),
                    r.max_duration
                        .map(|v| Number::from(i64::try_from(v).unwrap_or(i64::MAX))),
                ),
            ];
            for (name, min, max) in pairs {
                if let (Some(a), Some(b)) = (min, max) {
                    if a >= b {
                        return Err(TypeError::format(
                            "Tariff",
                            &path,
                            format!("elements[{i}]: min_{name} must be below max_{name}"),
                        ));
                    }
                }
            }
            if let (Some(a), Some(b)) = (r.start_date, r.end_date) {
                if a >= b {
                    return Err(TypeError::format(
                        "Tariff",
                        &path,
                        format!("elements[{i}]: start_date must be before end_date (end is exclusive)"),
                    ));
                }
            }
        }
        if let (Some(a), Some(b)) = (self.start_date_time, self.end_date_time) {
            if a >= b {
                return Err(TypeError::format(
                    "Tariff",
                    &path,
                    "start_date_time must be before end_date_time",
                ));
            }
        }
        if let (Some(min), Some(max)) = (&self.min_price, &self.max_price) {
            if min.excl_vat > max.excl_vat {
                return Err(TypeError::format("Tariff", &path, "min_price is above max_price"));
            }
        }
        Ok(())
    }

    /// A free tariff (§9.3 item 11) for a party.
    pub fn free(
        party: &PartyRef,
        id: TariffId,
        currency: &str,
        last_updated: DateTime,
    ) -> Result<Self, TypeError> {
        Ok(Self {
            country_code: party.country_code.clone(),
            party_id: party.party_id.clone(),
            id,
            currency: Text::new(currency)?,
            tariff_type: None,
            tariff_alt_text: Vec::new(),
            tariff_alt_url: None,
            min_price: None,
            max_price: None,
            elements: vec![TariffElement {
                price_components: vec![PriceComponent {
                    dimension: TariffDimensionType::Flat,
                    price: Number::ZERO,
                    vat: None,
                    step_size: 1,
                }],
                restrictions: None,
            }],
            start_date_time: None,
            end_date_time: None,
            energy_mix: None,
            last_updated,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tariff_json() -> serde_json::Value {
        json!({
            "country_code": "NO", "party_id": "FJR", "id": "AC-STD", "currency": "NOK", "type": "REGULAR",
            "tariff_alt_text": [{ "language": "no", "text": "Standard AC-pris" }],
            "min_price": { "excl_vat": 5, "incl_vat": 6.25 },
            "elements": [
                { "price_components": [{ "type": "ENERGY", "price": 3.2, "vat": 25, "step_size": 1 }],
                  "restrictions": { "start_time": "22:00", "end_time": "06:00", "day_of_week": ["SATURDAY", "SUNDAY"] } },
                { "price_components": [
                    { "type": "ENERGY", "price": 4.1, "vat": 25, "step_size": 1 },
                    { "type": "PARKING_TIME", "price": 60, "step_size": 300 } ] },
                { "price_components": [{ "type": "FLAT", "price": 20, "step_size": 1 }],
                  "restrictions": { "reservation": "RESERVATION_EXPIRES" } }
            ],
            "start_date_time": "2026-01-01T00:00:00Z",
            "last_updated": "2026-02-01T08:00:00Z"
        })
    }

    #[test]
    fn tariff_round_trips_and_validates() {
        let v = tariff_json();
        let t: Tariff = serde_json::from_value(v.clone()).unwrap();
        crate::datetime::assert_same_json(&serde_json::to_value(&t).unwrap(), &v);
        t.validate().unwrap();
        assert!(!t.is_free());
        assert!(t.is_valid_at(DateTime::from_ymd_hms(2026, 1, 1, 0, 0, 0).unwrap()));
        assert!(!t.is_valid_at(DateTime::from_ymd_hms(2025, 12, 31, 23, 59, 59).unwrap()));
    }

    #[test]
    fn context_rules() {
        let base: Tariff = serde_json::from_value(tariff_json()).unwrap();
        let mut t = base.clone();
        t.elements.clear();
        assert!(t.validate().is_err(), "elements +");
        let mut t = base.clone();
        t.elements[0].price_components.clear();
        assert!(t.validate().is_err(), "price_components +");
        let mut t = base.clone();
        t.elements[2].price_components[0].dimension = TariffDimensionType::Energy;
        assert!(t.validate().is_err(), "reservation element with ENERGY");
        let mut t = base.clone();
        t.elements[0].restrictions.as_mut().unwrap().min_kwh = Some(Number::from(50));
        t.elements[0].restrictions.as_mut().unwrap().max_kwh = Some(Number::from(20));
        assert!(t.validate().is_err(), "min above max");
        let mut t = base.clone();
        t.end_date_time = t.start_date_time;
        assert!(t.validate().is_err(), "empty validity window");
        let mut t = base;
        t.currency = Text::new("eur").unwrap();
        assert!(t.validate().is_err());
    }

    #[test]
    fn free_tariff_is_recognised() {
        let party: PartyRef = "NO-FJR".parse().unwrap();
        let t = Tariff::free(&party, TariffId::new("FREE").unwrap(), "NOK", DateTime::now()).unwrap();
        assert!(t.is_free());
        t.validate().unwrap();
    }

    #[test]
    fn dates_and_times_are_checked() {
        assert!("2026-02-30".parse::<LocalDate>().is_err());
        assert!("2026-2-3".parse::<LocalDate>().is_err());
        assert_eq!(
            "2026-02-03".parse::<LocalDate>().unwrap().to_string(),
            "2026-02-03"
        );
        let r: Result<TariffRestrictions, _> = serde_json::from_value(json!({ "start_time": "25:00" }));
        assert!(r.is_err());
    }

    #[test]
    fn enums_are_consistent() {
        crate::open_enum::assert_consistent(TariffDimensionType::KNOWN);
        crate::open_enum::assert_consistent(TariffType::KNOWN);
        crate::open_enum::assert_consistent(ReservationRestrictionType::KNOWN);
        crate::open_enum::assert_consistent(DayOfWeek::KNOWN);
    }
}
