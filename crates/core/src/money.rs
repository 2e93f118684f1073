//! Money, one module: ISO 4217 currencies with their minor units ([`Currency`]), half-even
//! rounding to minor units ([`round_to_minor_units`]), formatting ([`format_money`]) and the two
//! text forms amounts arrive in — a listing's plain decimal ([`parse_decimal`], no exponents)
//! and a DynamoDB number ([`parse_dynamodb_number`], exponents allowed).
//!
//! Money is always `rust_decimal::Decimal` — never floating point. Reports round once per row
//! (see `report::aggregate`) and print exactly the currency's minor-unit places, `.` as the
//! separator and no grouping.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Active ISO 4217 currency codes with their number of minor-unit digits.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// The number of minor-unit digits of an ISO 4217 currency, or `None` for an unknown code.
pub fn minor_units(code: &str) -> Option<u32> {
    let code: [u8; 3] = code.as_bytes().try_into().ok()?;
    code.iter().all(u8::is_ascii_uppercase).then(|| minor_units_by_code(code)).flatten().map(u32::from)
}

/// Every supported ISO 4217 code, in order (the published contract lists them).
pub fn currency_codes() -> impl Iterator<Item = &'static str> {
    CURRENCIES.iter().map(|(code, _)| *code)
}

/// Whether `code` is a supported ISO 4217 code.
pub fn is_currency(code: &str) -> bool {
    minor_units(code).is_some()
}

/// A supported ISO 4217 currency (the table above). Ordered by its code.
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

/// Minor units of three uppercase ASCII letters, from a table indexed by the code (built once):
/// one lookup per code (the report job parses one per deployment log).
fn minor_units_by_code(code: [u8; 3]) -> Option<u8> {
    const CODES: usize = 26 * 26 * 26;
    const NONE: u8 = u8::MAX;
    let index = |c: [u8; 3]| c.iter().fold(0usize, |acc, &b| acc * 26 + usize::from(b - b'A'));
    static TABLE: std::sync::OnceLock<Box<[u8; CODES]>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = Box::new([NONE; CODES]);
        for (c, units) in CURRENCIES {
            if let (Ok(c), Ok(units)) = (<[u8; 3]>::try_from(c.as_bytes()), u8::try_from(*units)) {
                table[index(c)] = units;
            }
        }
        table
    });
    Some(table[index(code)]).filter(|&units| units != NONE)
}

impl FromStr for Currency {
    type Err = UnknownCurrency;
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownCurrency(code.to_owned());
        let minor_units = minor_units(code).and_then(|m| u8::try_from(m).ok()).ok_or_else(unknown)?;
        let bytes: [u8; 3] = code.as_bytes().try_into().map_err(|_| unknown())?;
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

/// Parses a decimal from its text form, refusing exponents, signs other than `-`, and garbage
/// (listing prices, typed by providers).
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t.is_empty() || t.contains(['e', 'E', '_', ' ', '+']) {
        return None;
    }
    t.parse::<Decimal>().ok()
}

/// Exact decimal from a DynamoDB number's text (`N`): plain or scientific notation, as DynamoDB
/// accepts both. `None` when it does not fit `Decimal` exactly.
pub fn parse_dynamodb_number(text: &str) -> Option<Decimal> {
    let t = text.trim();
    Decimal::from_str_exact(t).ok().or_else(|| {
        if t.contains(['e', 'E']) {
            Decimal::from_scientific(t).ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_table_is_sorted_without_duplicates() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn every_table_code_parses_with_its_minor_units_and_nothing_else_does() {
        for (code, units) in CURRENCIES {
            let parsed: Currency = code.parse().expect(code);
            assert_eq!(parsed.minor_units(), *units, "{code}");
            assert_eq!(parsed.code(), *code);
        }
        for code in ["AAA", "ZZZ", "USX", "usd", "US", "USDD", "U$D", ""] {
            assert!(code.parse::<Currency>().is_err(), "{code}");
        }
    }

    #[test]
    fn knows_minor_units() {
        assert_eq!(minor_units("USD"), Some(2));
        assert_eq!(minor_units("JPY"), Some(0));
        assert_eq!(minor_units("BHD"), Some(3));
        assert_eq!(minor_units("XXX"), None);
        assert_eq!(minor_units("usd"), None);
    }

    #[test]
    fn parses_only_plain_decimals() {
        assert_eq!(parse_decimal("0.000125"), Some(dec("0.000125")));
        assert_eq!(parse_decimal("-1"), Some(Decimal::from(-1)));
        for bad in ["", "1e3", "abc", "1,5", "+1", "1 000"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn dynamodb_numbers_may_use_exponents() {
        assert_eq!(parse_dynamodb_number("1.5E2"), Some(dec("150")));
        assert_eq!(parse_dynamodb_number("0.000125"), Some(dec("0.000125")));
        assert_eq!(parse_dynamodb_number("abc"), None);
        assert_eq!(parse_dynamodb_number("1e400"), None);
    }

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
