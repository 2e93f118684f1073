//! Report currencies (ISO 4217 codes of the shared table in [`crate::money`]), half-even
//! rounding to minor units and money formatting.
//!
//! Money is always [`rust_decimal::Decimal`]; it is rounded once per report row (see
//! [`round_to_minor_units`]) and printed with exactly the currency's minor-unit places, `.` as the
//! separator and no grouping ([`format_money`]).

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// A supported ISO 4217 currency (the table in [`crate::money`]). Ordered by its code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    minor_units: u8,
}

/// The code is not in the supported-currency table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported currency `{0}`")]
pub struct UnknownCurrency(pub String);

impl Currency {
    /// The three-letter ISO 4217 code.
    pub fn code(&self) -> &str {
        // Only ever built from three ASCII uppercase letters.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Number of decimal places of the currency's minor unit (2 for USD, 0 for JPY, 3 for BHD).
    pub fn minor_units(self) -> u32 {
        u32::from(self.minor_units)
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownCurrency(code.to_owned());
        let bytes: [u8; 3] = code.as_bytes().try_into().map_err(|_| unknown())?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(unknown());
        }
        let minor_units = crate::money::minor_units(code).and_then(|m| u8::try_from(m).ok()).ok_or_else(unknown)?;
        Ok(Currency { code: bytes, minor_units })
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
    fn currencies_order_by_code() {
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
        assert!("XYZ".parse::<Currency>().is_err());
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
