//! Monthly statements: one provider's closed month, per product and currency, computed from the
//! daily report rows stored in the `Reports` table ([`super::storage`]).
//!
//! ## Reconciliation and rounding
//! Every stored daily row is already rounded once, half-to-even, to its currency's minor units
//! ([`super::aggregate`]), and its marketplace fee is `billable_revenue − remuneration_value`.
//! A statement line is the plain **sum of that month's rounded daily rows** — no further rounding
//! happens, so a statement reconciles with the dailies to the cent by construction, and its fee
//! is again revenue − remuneration. (It can differ by a few minor units from the last day's
//! *month-to-date* CSV row, which rounds the exact month sum once; the statement follows the
//! daily rows a provider was shown, day by day.) [`monthly_statement`] refuses input that would
//! break this: rows of another provider or month, duplicates, amounts not in the currency's
//! minor units, a fee that is not revenue − remuneration.
//!
//! A month with no rows gives a zero statement: no lines, no totals, `days_with_rows = 0`.
//!
//! [`statement_csv`] is the statement's file (stored in S3 and attached to the statement email),
//! byte for byte the same for the same statement.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::aggregate::{Counts, RowMoney};
use super::attribute::{AttributeValue, Item};
use super::files::neutralise;
use marketplace_core::money::{format_money, Currency};

/// How a statement reconciles with the daily rows, in one sentence (stored with every statement,
/// answered by the reports API, said in the statement email).
pub const RECONCILIATION: &str = "Each line is the exact sum of the month's daily rows, which are already rounded \
half-to-even to the currency's minor units; no further rounding, so lines reconcile with the daily reports to the cent.";

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first_day: NaiveDate,
}

/// Not a `YYYY-MM` month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a month: expected YYYY-MM, e.g. 2026-02")]
pub struct InvalidMonth(pub String);

impl Month {
    /// The month `date` falls in.
    pub fn of(date: NaiveDate) -> Month {
        Month { first_day: date.with_day(1).unwrap_or(date) }
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    /// Its last day.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day.pred_opt().unwrap_or(self.first_day)
    }

    /// The following month.
    pub fn next(self) -> Month {
        let (y, m) = (self.first_day.year(), self.first_day.month());
        let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        Month { first_day: NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(self.first_day) }
    }

    /// Whether `date` lies in this month.
    pub fn contains(self, date: NaiveDate) -> bool {
        Month::of(date) == self
    }

    /// A month is closed once `today` (UTC) is in a later month.
    pub fn is_closed(self, today: NaiveDate) -> bool {
        Month::of(today) > self
    }
}

impl FromStr for Month {
    type Err = InvalidMonth;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidMonth(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return Err(invalid());
        }
        let year: i32 = s[..4].parse().map_err(|_| invalid())?;
        let month: u32 = s[5..].parse().map_err(|_| invalid())?;
        NaiveDate::from_ymd_opt(year, month, 1).map(|first_day| Month { first_day }).ok_or_else(invalid)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first_day.year(), self.first_day.month())
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A report row or summary row read back from the `Reports` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRow {
    /// Report date.
    pub report_date: NaiveDate,
    pub provider_id: String,
    /// Product (report rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Product name (report rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    pub currency: Currency,
    /// Counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Money, in the currency's minor units.
    #[serde(flatten)]
    pub money: RowMoney,
}

/// A stored item that is not a well-formed report or summary row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored report item {pk}/{sk}: {reason}")]
pub struct StoredRowError {
    /// Its partition key.
    pub pk: String,
    /// Its sort key.
    pub sk: String,
    /// What is wrong with it.
    pub reason: String,
}

impl StoredRow {
    /// Reads an item written by [`super::storage::report_items`] (kind `report` or `summary`).
    pub fn from_item(item: &Item) -> Result<StoredRow, StoredRowError> {
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => Some(s.as_str()),
            _ => None,
        };
        let error = |reason: String| StoredRowError {
            pk: text("pk").unwrap_or_default().to_owned(),
            sk: text("sk").unwrap_or_default().to_owned(),
            reason,
        };
        let required = |name: &str| text(name).ok_or_else(|| error(format!("no string attribute `{name}`")));
        let count = |name: &str| match item.get(name) {
            Some(AttributeValue::N(n)) => n.parse::<u64>().map_err(|_| error(format!("`{name}` = {n} is not a count"))),
            _ => Err(error(format!("no number attribute `{name}`"))),
        };
        let kind = required("kind")?;
        if kind != "report" && kind != "summary" {
            return Err(error(format!("kind `{kind}` is neither `report` nor `summary`")));
        }
        let currency: Currency = required("currency")?.parse().map_err(|e| error(format!("{e}")))?;
        let money = |name: &str| -> Result<Decimal, StoredRowError> {
            let text = required(name)?;
            let amount = Decimal::from_str(text).map_err(|_| error(format!("`{name}` = {text} is not an amount")))?;
            if amount.scale() != currency.minor_units() {
                return Err(error(format!("`{name}` = {text} is not in {currency}'s minor units")));
            }
            Ok(amount)
        };
        let date = required("report_date")?;
        Ok(StoredRow {
            report_date: NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| error(format!("report_date `{date}` is not a date")))?,
            provider_id: required("provider_id")?.to_owned(),
            product_id: text("product_id").map(str::to_owned),
            product_name: text("product_name").map(str::to_owned),
            currency,
            counts: Counts {
                deployments: count("deployments")?,
                succeeded: count("succeeded")?,
                failed: count("failed")?,
                errors_in_succeeded: count("errors_in_succeeded")?,
                errors_in_failed: count("errors_in_failed")?,
            },
            money: RowMoney {
                billable_revenue: money("billable_revenue")?,
                remuneration_value: money("remuneration_value")?,
                marketplace_fee: money("marketplace_fee")?,
            },
        })
    }
}

/// One statement line: a product in one currency over the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub product_id: String,
    /// The product's name on its latest day in the month.
    pub product_name: String,
    pub currency: Currency,
    /// Days of the month with a row for this product and currency.
    pub days_with_rows: u32,
    #[serde(flatten)]
    pub counts: Counts,
    /// Error entries in total (on succeeded and failed deployments).
    pub errors: u64,
    #[serde(flatten)]
    pub money: RowMoney,
}

/// The month's totals in one currency (all products).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyTotal {
    pub currency: Currency,
    #[serde(flatten)]
    pub counts: Counts,
    /// Error entries in total.
    pub errors: u64,
    #[serde(flatten)]
    pub money: RowMoney,
}

/// One provider's statement of one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub provider_id: String,
    pub month: Month,
    /// Days of the month with at least one row.
    pub days_with_rows: u32,
    /// Per product and currency, ordered by product then currency.
    pub lines: Vec<StatementLine>,
    /// Per currency, ordered by currency.
    pub totals: Vec<CurrencyTotal>,
}

/// Rows a statement cannot be computed from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// A row of another provider.
    #[error("row of provider {found} in the statement of {expected}")]
    OtherProvider {
        /// The statement's provider.
        expected: String,
        /// The row's provider.
        found: String,
    },
    /// A row dated outside the month.
    #[error("row dated {date} in the statement of {month}")]
    OutsideMonth {
        /// The statement's month.
        month: Month,
        /// The row's date.
        date: NaiveDate,
    },
    /// A summary row, or a report row without its product.
    #[error("row of {date} in {currency} has no product")]
    NoProduct {
        /// The row's date.
        date: NaiveDate,
        /// Its currency.
        currency: Currency,
    },
    /// Two rows for one day, product and currency.
    #[error("two rows for {product_id} in {currency} on {date}")]
    Duplicate {
        /// Date.
        date: NaiveDate,
        product_id: String,
        currency: Currency,
    },
    /// Amounts not rounded to the currency's minor units, or a fee ≠ revenue − remuneration.
    #[error("row for {product_id} in {currency} on {date} is not reconcilable: {reason}")]
    Unreconcilable {
        /// Date.
        date: NaiveDate,
        product_id: String,
        currency: Currency,
        /// Why.
        reason: &'static str,
    },
    /// A sum does not fit `Decimal` or `u64`.
    #[error("overflow while summing {product_id} in {currency}")]
    Overflow { product_id: String, currency: Currency },
}

#[derive(Default)]
struct Sums {
    days: u32,
    latest: Option<(NaiveDate, String)>,
    counts: Counts,
    revenue: Decimal,
    remuneration: Decimal,
    fee: Decimal,
}

fn add_counts(a: Counts, b: Counts) -> Option<Counts> {
    Some(Counts {
        deployments: a.deployments.checked_add(b.deployments)?,
        succeeded: a.succeeded.checked_add(b.succeeded)?,
        failed: a.failed.checked_add(b.failed)?,
        errors_in_succeeded: a.errors_in_succeeded.checked_add(b.errors_in_succeeded)?,
        errors_in_failed: a.errors_in_failed.checked_add(b.errors_in_failed)?,
    })
}

impl Sums {
    fn add(&mut self, counts: Counts, money: &RowMoney) -> Option<()> {
        self.counts = add_counts(self.counts, counts)?;
        self.revenue = self.revenue.checked_add(money.billable_revenue)?;
        self.remuneration = self.remuneration.checked_add(money.remuneration_value)?;
        self.fee = self.fee.checked_add(money.marketplace_fee)?;
        Some(())
    }

    fn money(&self, currency: Currency) -> RowMoney {
        let scaled = |mut d: Decimal| {
            d.rescale(currency.minor_units());
            d
        };
        RowMoney {
            billable_revenue: scaled(self.revenue),
            remuneration_value: scaled(self.remuneration),
            marketplace_fee: scaled(self.fee),
        }
    }

    fn errors(&self) -> u64 {
        self.counts.errors_in_succeeded.saturating_add(self.counts.errors_in_failed)
    }
}

/// The statement of `provider_id` for `month` from that month's stored daily report rows (in any
/// order). Sums only: see the module docs for why this reconciles to the cent.
pub fn monthly_statement(provider_id: &str, month: Month, rows: &[StoredRow]) -> Result<Statement, StatementError> {
    let mut lines: BTreeMap<(String, Currency), Sums> = BTreeMap::new();
    let mut totals: BTreeMap<Currency, Sums> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut days = BTreeSet::new();
    for row in rows {
        if row.provider_id != provider_id {
            return Err(StatementError::OtherProvider {
                expected: provider_id.to_owned(),
                found: row.provider_id.clone(),
            });
        }
        if !month.contains(row.report_date) {
            return Err(StatementError::OutsideMonth { month, date: row.report_date });
        }
        let product_id = row
            .product_id
            .clone()
            .ok_or(StatementError::NoProduct { date: row.report_date, currency: row.currency })?;
        let unreconcilable = |reason| StatementError::Unreconcilable {
            date: row.report_date,
            product_id: product_id.clone(),
            currency: row.currency,
            reason,
        };
        let m = &row.money;
        if [m.billable_revenue, m.remuneration_value, m.marketplace_fee]
            .iter()
            .any(|d| d.scale() != row.currency.minor_units())
        {
            return Err(unreconcilable("an amount is not in the currency's minor units"));
        }
        if m.billable_revenue.checked_sub(m.remuneration_value) != Some(m.marketplace_fee) {
            return Err(unreconcilable("marketplace fee is not billable revenue minus remuneration"));
        }
        if !seen.insert((row.report_date, product_id.clone(), row.currency)) {
            return Err(StatementError::Duplicate { date: row.report_date, product_id, currency: row.currency });
        }
        days.insert(row.report_date);
        let overflow = || StatementError::Overflow { product_id: product_id.clone(), currency: row.currency };
        let line = lines.entry((product_id.clone(), row.currency)).or_default();
        line.add(row.counts, m).ok_or_else(overflow)?;
        line.days += 1;
        let name = row.product_name.clone().unwrap_or_else(|| product_id.clone());
        if line.latest.as_ref().is_none_or(|(d, _)| *d < row.report_date) {
            line.latest = Some((row.report_date, name));
        }
        totals.entry(row.currency).or_default().add(row.counts, m).ok_or_else(overflow)?;
    }
    Ok(Statement {
        provider_id: provider_id.to_owned(),
        month,
        days_with_rows: u32::try_from(days.len()).unwrap_or(u32::MAX),
        lines: lines
            .into_iter()
            .map(|((product_id, currency), s)| StatementLine {
                product_name: s.latest.clone().map(|(_, n)| n).unwrap_or_else(|| product_id.clone()),
                product_id,
                currency,
                days_with_rows: s.days,
                counts: s.counts,
                errors: s.errors(),
                money: s.money(currency),
            })
            .collect(),
        totals: totals
            .into_iter()
            .map(|(currency, s)| CurrencyTotal {
                currency,
                counts: s.counts,
                errors: s.errors(),
                money: s.money(currency),
            })
            .collect(),
    })
}

/// Header of `statement.csv`.
pub const STATEMENT_HEADER: &str = "month,row,provider_id,product_id,product_name,currency,days_with_rows,deployments,succeeded,failed,errors_in_succeeded,errors_in_failed,errors,billable_revenue,remuneration_value,marketplace_fee";

/// The statement's CSV file: the header, one `product` row per line (product then currency), then
/// one `total` row per currency (no product). Same format as the daily files (RFC 4180, `\n`
/// after every row, money with the currency's minor-unit places, text from input neutralised
/// against formula injection, see [`super::files`]). A quiet month is the header alone.
pub fn statement_csv(statement: &Statement) -> String {
    let mut out = csv::WriterBuilder::new().has_headers(false).terminator(csv::Terminator::Any(b'\n')).from_writer(
        Vec::with_capacity(STATEMENT_HEADER.len() + 160 * (statement.lines.len() + statement.totals.len() + 1)),
    );
    let month = statement.month.to_string();
    let provider = neutralise(&statement.provider_id).into_owned();
    let mut row = |kind: &str,
                   product: (&str, &str),
                   currency: Currency,
                   days: String,
                   counts: &Counts,
                   errors: u64,
                   money: &RowMoney| {
        let record = [
            month.clone(),
            kind.to_owned(),
            provider.clone(),
            neutralise(product.0).into_owned(),
            neutralise(product.1).into_owned(),
            currency.to_string(),
            days,
            counts.deployments.to_string(),
            counts.succeeded.to_string(),
            counts.failed.to_string(),
            counts.errors_in_succeeded.to_string(),
            counts.errors_in_failed.to_string(),
            errors.to_string(),
            format_money(money.billable_revenue, currency),
            format_money(money.remuneration_value, currency),
            format_money(money.marketplace_fee, currency),
        ];
        // Writing to a Vec cannot fail.
        let _ = out.write_record(&record);
    };
    for line in &statement.lines {
        let product = (line.product_id.as_str(), line.product_name.as_str());
        row("product", product, line.currency, line.days_with_rows.to_string(), &line.counts, line.errors, &line.money);
    }
    for total in &statement.totals {
        row("total", ("", ""), total.currency, String::new(), &total.counts, total.errors, &total.money);
    }
    let body = out.into_inner().map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default();
    format!("{STATEMENT_HEADER}\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn dec(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    fn row(day: &str, product: &str, currency: &str, deployments: u64, revenue: &str, remuneration: &str) -> StoredRow {
        let revenue = dec(revenue);
        let remuneration = dec(remuneration);
        StoredRow {
            report_date: date(day),
            provider_id: "acme".into(),
            product_id: Some(product.into()),
            product_name: Some(format!("{product} name")),
            currency: currency.parse().expect("currency"),
            counts: Counts {
                deployments,
                succeeded: deployments - 1,
                failed: 1,
                errors_in_succeeded: 2,
                errors_in_failed: 1,
            },
            money: RowMoney {
                billable_revenue: revenue,
                remuneration_value: remuneration,
                marketplace_fee: revenue - remuneration,
            },
        }
    }

    fn feb() -> Month {
        "2026-02".parse().expect("month")
    }

    #[test]
    fn months_parse_strictly_and_know_their_days() {
        let m = feb();
        assert_eq!(m.to_string(), "2026-02");
        assert_eq!(m.first_day(), date("2026-02-01"));
        assert_eq!(m.last_day(), date("2026-02-28"));
        assert_eq!("2024-02".parse::<Month>().expect("leap").last_day(), date("2024-02-29"));
        assert_eq!("2026-12".parse::<Month>().expect("december").last_day(), date("2026-12-31"));
        for bad in ["2026-2", "2026-13", "2026-00", "26-02", "2026-02-01", "2026/02", "+026-02", "", "abcd-ef"] {
            assert!(bad.parse::<Month>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn a_month_is_closed_only_after_it_ends() {
        assert!(!feb().is_closed(date("2026-02-28")));
        assert!(feb().is_closed(date("2026-03-01")));
        assert!(!feb().is_closed(date("2026-01-31")));
    }

    #[test]
    fn statement_lines_are_exact_sums_of_the_daily_rows() {
        let rows = vec![
            row("2026-02-14", "vault", "USD", 3, "1200.00", "840.00"),
            row("2026-02-01", "vault", "USD", 2, "0.01", "0.01"),
            row("2026-02-14", "vault", "JPY", 1, "1501", "1051"),
            row("2026-02-28", "backup", "USD", 4, "10.05", "7.03"),
            row("2026-02-28", "backup", "BHD", 1, "1.005", "0.704"),
        ];
        let s = monthly_statement("acme", feb(), &rows).expect("statement");
        assert_eq!(s.days_with_rows, 3);
        let keys: Vec<_> = s.lines.iter().map(|l| (l.product_id.as_str(), l.currency.code())).collect();
        assert_eq!(keys, [("backup", "BHD"), ("backup", "USD"), ("vault", "JPY"), ("vault", "USD")]);
        let vault_usd = &s.lines[3];
        assert_eq!(vault_usd.days_with_rows, 2);
        assert_eq!(vault_usd.counts.deployments, 5);
        assert_eq!(vault_usd.counts.failed, 2);
        assert_eq!(vault_usd.errors, 6);
        assert_eq!(vault_usd.money.billable_revenue.to_string(), "1200.01");
        assert_eq!(vault_usd.money.remuneration_value.to_string(), "840.01");
        assert_eq!(vault_usd.money.marketplace_fee.to_string(), "360.00");
        let usd = s.totals.iter().find(|t| t.currency.code() == "USD").expect("USD total");
        assert_eq!(usd.money.billable_revenue.to_string(), "1210.06");
        assert_eq!(usd.money.remuneration_value.to_string(), "847.04");
        assert_eq!(usd.money.marketplace_fee.to_string(), "363.02");
        assert_eq!(usd.counts.deployments, 9);
        // Every line and total reconciles: the sum of its rows, fee = revenue − remuneration.
        for line in &s.lines {
            let mine: Vec<_> = rows
                .iter()
                .filter(|r| r.product_id.as_deref() == Some(&line.product_id) && r.currency == line.currency)
                .collect();
            let sum: Decimal = mine.iter().map(|r| r.money.billable_revenue).sum();
            assert_eq!(line.money.billable_revenue, sum);
            assert_eq!(line.money.billable_revenue - line.money.remuneration_value, line.money.marketplace_fee);
        }
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(json["month"], "2026-02");
        assert_eq!(json["lines"][0]["billable_revenue"], "1.005");
        assert_eq!(json["lines"][2]["billable_revenue"], "1501");
        assert_eq!(json["lines"][3]["deployments"], 5);
        assert_eq!(json["lines"][3]["product_name"], "vault name");
    }

    #[test]
    fn the_csv_lists_lines_then_totals_and_reads_back_through_serde() {
        let mut named = row("2026-02-14", "vault", "USD", 3, "1200.00", "840.00");
        named.product_name = Some("=HYPERLINK(\"x\"), \"Vault\"".into());
        let rows = vec![named, row("2026-02-28", "backup", "JPY", 1, "1501", "1051")];
        let s = monthly_statement("acme", feb(), &rows).expect("statement");
        let csv = statement_csv(&s);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], STATEMENT_HEADER);
        assert_eq!(lines[1], "2026-02,product,acme,backup,backup name,JPY,1,1,0,1,2,1,3,1501,1051,450");
        assert_eq!(
            lines[2],
            "2026-02,product,acme,vault,\"'=HYPERLINK(\"\"x\"\"), \"\"Vault\"\"\",USD,1,3,2,1,2,1,3,1200.00,840.00,360.00"
        );
        assert_eq!(lines[3], "2026-02,total,acme,,,JPY,,1,0,1,2,1,3,1501,1051,450");
        assert_eq!(lines[4], "2026-02,total,acme,,,USD,,3,2,1,2,1,3,1200.00,840.00,360.00");
        assert_eq!(lines.len(), 5);
        assert!(csv.ends_with('\n'));
        assert_eq!(statement_csv(&s), csv, "same statement, same bytes");
        let quiet = monthly_statement("acme", feb(), &[]).expect("statement");
        assert_eq!(statement_csv(&quiet), format!("{STATEMENT_HEADER}\n"));
        let back: Statement = serde_json::from_value(serde_json::to_value(&s).expect("json")).expect("reads back");
        assert_eq!(back, s);
    }

    #[test]
    fn the_latest_day_names_the_product() {
        let mut early = row("2026-02-01", "vault", "USD", 2, "1.00", "0.70");
        early.product_name = Some("Old name".into());
        let late = row("2026-02-20", "vault", "USD", 2, "1.00", "0.70");
        let s = monthly_statement("acme", feb(), &[late, early]).expect("statement");
        assert_eq!(s.lines[0].product_name, "vault name");
    }

    #[test]
    fn a_quiet_month_is_a_zero_statement() {
        let s = monthly_statement("acme", feb(), &[]).expect("statement");
        assert_eq!(s.days_with_rows, 0);
        assert!(s.lines.is_empty() && s.totals.is_empty());
    }

    #[test]
    fn rows_that_cannot_reconcile_are_refused() {
        let mut other = row("2026-02-01", "vault", "USD", 2, "1.00", "0.70");
        other.provider_id = "globex".into();
        assert!(matches!(monthly_statement("acme", feb(), &[other]), Err(StatementError::OtherProvider { .. })));
        let march = row("2026-03-01", "vault", "USD", 2, "1.00", "0.70");
        assert!(matches!(monthly_statement("acme", feb(), &[march]), Err(StatementError::OutsideMonth { .. })));
        let mut summary = row("2026-02-01", "vault", "USD", 2, "1.00", "0.70");
        summary.product_id = None;
        assert!(matches!(monthly_statement("acme", feb(), &[summary]), Err(StatementError::NoProduct { .. })));
        let twice = [
            row("2026-02-01", "vault", "USD", 2, "1.00", "0.70"),
            row("2026-02-01", "vault", "USD", 2, "1.00", "0.70"),
        ];
        assert!(matches!(monthly_statement("acme", feb(), &twice), Err(StatementError::Duplicate { .. })));
        let unrounded = row("2026-02-01", "vault", "USD", 2, "1.001", "0.700");
        assert!(matches!(monthly_statement("acme", feb(), &[unrounded]), Err(StatementError::Unreconcilable { .. })));
        let mut bad_fee = row("2026-02-01", "vault", "USD", 2, "1.00", "0.70");
        bad_fee.money.marketplace_fee = dec("0.31");
        assert!(matches!(monthly_statement("acme", feb(), &[bad_fee]), Err(StatementError::Unreconcilable { .. })));
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn stored_items_read_back_as_written() {
        let s = |v: &str| AttributeValue::S(v.into());
        let n = |v: &str| AttributeValue::N(v.into());
        let good = item(&[
            ("pk", s("PROVIDER#acme")),
            ("sk", s("DAY#2026-02-14#PRODUCT#vault#USD")),
            ("kind", s("report")),
            ("report_date", s("2026-02-14")),
            ("provider_id", s("acme")),
            ("product_id", s("vault")),
            ("product_name", s("Acme Vault")),
            ("currency", s("USD")),
            ("deployments", n("3")),
            ("succeeded", n("2")),
            ("failed", n("1")),
            ("errors_in_succeeded", n("0")),
            ("errors_in_failed", n("4")),
            ("billable_revenue", s("1200.00")),
            ("remuneration_value", s("840.00")),
            ("marketplace_fee", s("360.00")),
        ]);
        let row = StoredRow::from_item(&good).expect("row");
        assert_eq!(row.report_date, date("2026-02-14"));
        assert_eq!(row.product_name.as_deref(), Some("Acme Vault"));
        assert_eq!(row.counts.errors_in_failed, 4);
        assert_eq!(row.money.marketplace_fee, dec("360.00"));

        let mut unrounded = good.clone();
        unrounded.insert("billable_revenue".into(), s("1200.0"));
        let e = StoredRow::from_item(&unrounded).expect_err("scale");
        assert!(e.to_string().contains("minor units") && e.sk.starts_with("DAY#2026-02-14"), "{e}");
        let mut no_count = good.clone();
        no_count.remove("failed");
        assert!(StoredRow::from_item(&no_count).is_err());
        let mut ledger = good;
        ledger.insert("kind".into(), s("delivery"));
        assert!(StoredRow::from_item(&ledger).is_err());
    }
}
