//! Currencies the reports support, their ISO 4217 minor units, and half-even rounding.
//!
//! Money is always [`rust_decimal::Decimal`]; it is rounded once per report row (see
//! [`round_to_minor_units`]) and printed with exactly the currency's minor-unit places, `.` as the
//! separator and no grouping ([`format_money`]).

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// ISO 4217 codes the marketplace bills in, with their minor units. Sorted by code, so the
/// table index orders currencies alphabetically.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PLN", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

/// A supported ISO 4217 currency. Ordered by its code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(u8);

/// The code is not in the supported-currency table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported currency `{0}`")]
pub struct UnknownCurrency(pub String);

impl Currency {
    /// The three-letter ISO 4217 code.
    pub fn code(self) -> &'static str {
        CURRENCIES[usize::from(self.0)].0
    }

    /// Number of decimal places of the currency's minor unit (2 for USD, 0 for JPY, 3 for BHD).
    pub fn minor_units(self) -> u32 {
        CURRENCIES[usize::from(self.0)].1
    }

    /// Every supported currency, in code order.
    pub fn all() -> impl Iterator<Item = Currency> {
        (0..CURRENCIES.len()).filter_map(|i| u8::try_from(i).ok().map(Currency))
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        CURRENCIES
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .ok()
            .and_then(|i| u8::try_from(i).ok())
            .map(Currency)
            .ok_or_else(|| UnknownCurrency(code.to_owned()))
    }
}

impl TryFrom<String> for Currency {
    type Error = UnknownCurrency;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        code.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Rounds an exact amount half-to-even to the currency's minor units and fixes the scale to
/// exactly that many places (so `1200` USD becomes `1200.00`). A zero result is never negative.
pub fn round_to_minor_units(amount: Decimal, currency: Currency) -> Decimal {
    let places = currency.minor_units();
    let mut rounded = amount.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven);
    rounded.rescale(places);
    if rounded.is_zero() {
        rounded.set_sign_positive(true);
    }
    rounded
}

/// Prints a rounded amount with exactly the currency's minor-unit places.
pub fn format_money(amount: Decimal, currency: Currency) -> String {
    round_to_minor_units(amount, currency).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().expect("test decimal")
    }

    #[test]
    fn table_is_sorted_so_lookup_and_ordering_work() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
        let usd: Currency = "USD".parse().expect("usd");
        let eur: Currency = "EUR".parse().expect("eur");
        assert!(eur < usd);
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        let units = |c: &str| c.parse::<Currency>().expect("supported").minor_units();
        assert_eq!(units("USD"), 2);
        assert_eq!(units("JPY"), 0);
        assert_eq!(units("KRW"), 0);
        assert_eq!(units("BHD"), 3);
        assert_eq!(units("KWD"), 3);
    }

    #[test]
    fn unknown_and_lowercase_codes_are_rejected() {
        assert!("usd".parse::<Currency>().is_err());
        assert!("XXX".parse::<Currency>().is_err());
        assert!("".parse::<Currency>().is_err());
    }

    #[test]
    fn ties_round_to_even_minor_unit() {
        let usd: Currency = "USD".parse().expect("usd");
        assert_eq!(format_money(dec("0.125"), usd), "0.12");
        assert_eq!(format_money(dec("0.135"), usd), "0.14");
        assert_eq!(format_money(dec("0.1250001"), usd), "0.13");
        assert_eq!(format_money(dec("2.5"), "JPY".parse().expect("jpy")), "2");
        assert_eq!(format_money(dec("3.5"), "JPY".parse().expect("jpy")), "4");
        assert_eq!(format_money(dec("1.0005"), "BHD".parse().expect("bhd")), "1.000");
    }

    #[test]
    fn amounts_print_with_exactly_the_minor_unit_places() {
        let usd: Currency = "USD".parse().expect("usd");
        assert_eq!(format_money(dec("1200"), usd), "1200.00");
        assert_eq!(format_money(dec("0"), usd), "0.00");
        assert_eq!(format_money(dec("-0.001"), usd), "0.00");
        assert_eq!(format_money(dec("1234567.5"), "JPY".parse().expect("jpy")), "1234568");
    }
}
