//! Currencies and money: ISO 4217 codes with their minor units, and decimal amounts.
//!
//! Money is always `rust_decimal::Decimal` — never floating point.

use rust_decimal::{Decimal, RoundingStrategy};

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
    CURRENCIES.binary_search_by(|(c, _)| c.cmp(&code)).ok().map(|i| CURRENCIES[i].1)
}

pub fn is_currency(code: &str) -> bool {
    minor_units(code).is_some()
}

/// Rounds to the currency's minor units, half to even (banker's rounding).
pub fn round_to_minor_units(amount: Decimal, minor_units: u32) -> Decimal {
    amount.round_dp_with_strategy(minor_units, RoundingStrategy::MidpointNearestEven)
}

/// Formats an amount with exactly `minor_units` decimal places, `.` separator, no grouping.
pub fn format_amount(amount: Decimal, minor_units: u32) -> String {
    let mut rounded = round_to_minor_units(amount, minor_units);
    rounded.rescale(minor_units);
    rounded.to_string()
}

/// Parses a decimal from its text form, refusing exponents, signs other than `-`, and garbage.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t.is_empty() || t.contains(['e', 'E', '_', ' ', '+']) {
        return None;
    }
    t.parse::<Decimal>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn currency_table_is_sorted_for_binary_search() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
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
    fn rounds_half_to_even_and_formats_exact_places() {
        let d = |s| Decimal::from_str(s).unwrap();
        assert_eq!(format_amount(d("0.125"), 2), "0.12");
        assert_eq!(format_amount(d("0.135"), 2), "0.14");
        assert_eq!(format_amount(d("2.5"), 0), "2");
        assert_eq!(format_amount(d("3.5"), 0), "4");
        assert_eq!(format_amount(d("10"), 2), "10.00");
        assert_eq!(format_amount(d("1.0005"), 3), "1.000");
    }

    #[test]
    fn parses_only_plain_decimals() {
        assert_eq!(parse_decimal("0.000125"), Some(Decimal::from_str("0.000125").unwrap()));
        assert_eq!(parse_decimal("-1"), Some(Decimal::from(-1)));
        for bad in ["", "1e3", "abc", "1,5", "+1", "1 000"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
    }
}
