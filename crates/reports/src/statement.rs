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
//! The statement run states a month only when it is complete ([`days_without_finished_run`]:
//! every day has a finished daily run) and each statement agrees with the month sums of the
//! month's last day ([`reconcile`]: equal counts, money within the rounding of the daily rows).
//!
//! [`statement_csv`] is the statement's file (stored in S3 and attached to the statement email),
//! byte for byte the same for the same statement.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::files::csv_file;
use crate::rows::{Counts, RowMoney};
use marketplace_core::money::Currency;

mod complete;
mod month;
mod stored_row;

pub use complete::{days_without_finished_run, name_days, reconcile, Unreconciled};
pub use month::{InvalidMonth, Month};
pub use stored_row::{StoredRow, StoredRowError};

/// How a statement reconciles with the daily rows, in one sentence (stored with every statement,
/// answered by the reports API, said in the statement email).
pub const RECONCILIATION: &str = "Each line is the exact sum of the month's daily rows, which are already rounded \
half-to-even to the currency's minor units; no further rounding, so lines reconcile with the daily reports to the cent.";

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
    money: RowMoney,
}

impl Sums {
    fn add(&mut self, counts: Counts, money: &RowMoney) -> Option<()> {
        self.counts = self.counts.checked_add(counts)?;
        self.money = self.money.checked_add(*money)?;
        Some(())
    }

    fn money(&self, currency: Currency) -> RowMoney {
        let scaled = |mut d: Decimal| {
            d.rescale(currency.minor_units());
            d
        };
        RowMoney {
            billable_revenue: scaled(self.money.billable_revenue),
            remuneration_value: scaled(self.money.remuneration_value),
            marketplace_fee: scaled(self.money.marketplace_fee),
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
    let month = statement.month.to_string();
    let lines = statement.lines.iter().map(|l| CsvLine {
        kind: "product",
        product: (&l.product_id, &l.product_name),
        currency: l.currency,
        days: Some(l.days_with_rows),
        counts: &l.counts,
        errors: l.errors,
        money: &l.money,
    });
    let totals = statement.totals.iter().map(|t| CsvLine {
        kind: "total",
        product: ("", ""),
        currency: t.currency,
        days: None,
        counts: &t.counts,
        errors: t.errors,
        money: &t.money,
    });
    csv_file(STATEMENT_HEADER, lines.chain(totals), |row, line| {
        row.raw(&month)
            .raw(line.kind)
            .text(&statement.provider_id)
            .text(line.product.0)
            .text(line.product.1)
            .raw(line.currency.code());
        match line.days {
            Some(days) => row.num(u64::from(days)),
            None => row.raw(""),
        };
        row.counts(line.counts).num(line.errors).money(line.money, line.currency);
    })
}

/// One row of `statement.csv`: a line (`product`) or a currency's total (`total`, no product,
/// no day count).
struct CsvLine<'a> {
    kind: &'static str,
    product: (&'a str, &'a str),
    currency: Currency,
    days: Option<u32>,
    counts: &'a Counts,
    errors: u64,
    money: &'a RowMoney,
}

#[cfg(test)]
pub(crate) mod tests;
