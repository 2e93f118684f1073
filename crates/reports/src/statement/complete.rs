//! When a month may be stated: every day of it has a finished daily run, and each statement
//! agrees with the month sums that run stored for the month's last day.
//!
//! A daily run finishes a date by writing the date's month-sums mark last, after all of the
//! date's month sums ([`crate::storage::MonthSumsMark`]); a date without a mark was never run,
//! failed, or is still running. The mark is written before the date's report rows, so a mark
//! alone does not prove the rows are stored: [`reconcile`] checks them against the last day's
//! month sums, the job's own exact month-to-date figures.
//!
//! Counts must be equal. Money cannot be compared for equality: a statement line sums daily rows
//! that were each rounded once (half to even) to the currency's minor units, while the month sums
//! are exact; each daily row is off by at most half a minor unit, so a line of `n` days may differ
//! from the exact sum by at most `n` half units, and by no more (checked in `Decimal`). Totals per
//! currency are sums of the lines, so lines that reconcile make totals that do.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{Month, Statement};
use crate::aggregate::{GroupKey, GroupTotals};
use crate::rows::Counts;
use marketplace_core::money::Currency;

/// Days of `month` without a finished daily run, ascending; `finished` are the dates whose
/// month-sums mark is stored (in any order; dates of other months are ignored).
pub fn days_without_finished_run(month: Month, finished: &[NaiveDate]) -> Vec<NaiveDate> {
    month
        .first_day()
        .iter_days()
        .take_while(|day| *day <= month.last_day())
        .filter(|day| !finished.contains(day))
        .collect()
}

/// `days` (ascending) for an operator: runs of consecutive days as `first..last`, comma separated
/// (`2026-02-03, 2026-02-10..2026-02-12`).
pub fn name_days(days: &[NaiveDate]) -> String {
    let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &day in days {
        match runs.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(day) => *last = day,
            _ => runs.push((day, day)),
        }
    }
    runs.iter()
        .map(|(first, last)| if first == last { first.to_string() } else { format!("{first}..{last}") })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A statement that does not agree with the month sums of its month's last day: some daily rows
/// are missing, extra, or from another run than the month sums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("does not reconcile with the month sums of {last_day}: {}", .differences.join("; "))]
pub struct Unreconciled {
    /// The month's last day (whose month sums were compared).
    pub last_day: NaiveDate,
    /// One sentence per product and currency that differs.
    pub differences: Vec<String>,
}

/// Checks `statement` against `month_sums`, the exact month-to-date sums stored for the month's
/// last day (groups of other providers are ignored): the same products and currencies, equal
/// counts, and money within the rounding of the daily rows (module docs).
pub fn reconcile(statement: &Statement, month_sums: &[(GroupKey, GroupTotals)]) -> Result<(), Unreconciled> {
    let mut sums: BTreeMap<(&str, Currency), &GroupTotals> = month_sums
        .iter()
        .filter(|(key, _)| key.provider_id == statement.provider_id)
        .map(|(key, totals)| ((key.product_id.as_str(), key.currency), totals))
        .collect();
    let mut differences = Vec::new();
    for line in &statement.lines {
        let what = format!("{} in {}", line.product_id, line.currency);
        let Some(exact) = sums.remove(&(line.product_id.as_str(), line.currency)) else {
            differences.push(format!(
                "{what}: {} deployments in the daily rows, none in the month sums",
                line.counts.deployments
            ));
            continue;
        };
        if line.counts != exact.counts {
            differences.push(format!(
                "{what}: deployments/succeeded/failed/errors {} in the daily rows, {} in the month sums",
                counts(&line.counts),
                counts(&exact.counts)
            ));
        }
        let allowed = half_minor_unit(line.currency) * Decimal::from(line.days_with_rows);
        for (name, rows, exact) in [
            ("billable revenue", line.money.billable_revenue, exact.revenue),
            ("remuneration", line.money.remuneration_value, exact.remuneration),
        ] {
            if (rows - exact).abs() > allowed {
                differences.push(format!(
                    "{what}: {name} {rows} in the daily rows, exactly {exact} in the month sums \
                     (the rounding of {} daily rows allows ±{allowed})",
                    line.days_with_rows
                ));
            }
        }
    }
    for ((product_id, currency), exact) in sums {
        differences.push(format!(
            "{product_id} in {currency}: no daily rows, {} deployments in the month sums",
            exact.counts.deployments
        ));
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(Unreconciled { last_day: statement.month.last_day(), differences })
}

fn counts(c: &Counts) -> String {
    format!(
        "{}/{}/{}/{}",
        c.deployments,
        c.succeeded,
        c.failed,
        c.errors_in_succeeded.saturating_add(c.errors_in_failed)
    )
}

/// Half of the currency's minor unit (0.005 for USD, 0.5 for JPY, 0.0005 for BHD).
fn half_minor_unit(currency: Currency) -> Decimal {
    Decimal::new(5, currency.minor_units() + 1)
}

#[cfg(test)]
mod tests;
