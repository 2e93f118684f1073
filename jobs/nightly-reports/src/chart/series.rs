//! What a chart shows: a provider's figures for the 30 days ending at a report date
//! ([`DailySeries`]), the chart's size, and why a chart could not be made ([`ChartError`]).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use marketplace_reports::aggregate::ReportRow;
use marketplace_reports::Currency;
use rust_decimal::Decimal;

/// Days in the chart, ending at (and including) the report date.
pub const DAYS: usize = 30;
/// Image width in pixels (fits a 720 px email column; scales down on phones).
pub const WIDTH: u32 = 720;
/// Image height in pixels.
pub const HEIGHT: u32 = 360;

/// Why a chart could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// A figure was given for a day the chart does not show.
    #[error("{date} is outside the chart's 30 days ({first} to {last})")]
    DateOutsideWindow { date: NaiveDate, first: NaiveDate, last: NaiveDate },
    /// The report date is so early that the 30 days before it cannot be represented.
    #[error("no 30-day window ends at {0}")]
    NoWindow(NaiveDate),
    /// A sum does not fit its type.
    #[error("the {what} on {date} overflowed")]
    Overflow { what: String, date: NaiveDate },
    /// The bundled font could not be read (a broken build).
    #[error("the bundled chart font could not be loaded")]
    Font,
    /// Plotting failed.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    /// PNG encoding failed.
    #[error("encoding the chart as PNG failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// One day's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayFigures {
    /// The day (UTC).
    pub date: NaiveDate,
    /// Deployments that day (succeeded + failed).
    pub deployments: u64,
    /// Billable revenue that day per currency; a currency missing here is zero that day.
    pub revenue: BTreeMap<Currency, Decimal>,
}

/// A provider's figures for the 30 days ending at a report date. Days without figures are zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailySeries {
    report_date: NaiveDate,
    days: Vec<DayFigures>,
}

impl DailySeries {
    /// 30 days of zeros ending at `report_date`.
    pub fn new(report_date: NaiveDate) -> Result<Self, ChartError> {
        let first =
            report_date.checked_sub_days(Days::new(DAYS as u64 - 1)).ok_or(ChartError::NoWindow(report_date))?;
        let days = first
            .iter_days()
            .take(DAYS)
            .map(|date| DayFigures { date, deployments: 0, revenue: BTreeMap::new() })
            .collect();
        Ok(DailySeries { report_date, days })
    }

    /// The last day shown.
    pub fn report_date(&self) -> NaiveDate {
        self.report_date
    }

    /// The first day shown (29 days before the report date).
    pub fn first_date(&self) -> NaiveDate {
        self.days[0].date
    }

    /// The 30 days, oldest first.
    pub fn days(&self) -> &[DayFigures] {
        &self.days
    }

    fn day_mut(&mut self, date: NaiveDate) -> Result<&mut DayFigures, ChartError> {
        let first = self.first_date();
        let index = usize::try_from((date - first).num_days()).ok().filter(|i| *i < DAYS);
        match index {
            Some(i) => Ok(&mut self.days[i]),
            None => Err(ChartError::DateOutsideWindow { date, first, last: self.report_date }),
        }
    }

    /// Adds `count` deployments on `date`.
    pub fn add_deployments(&mut self, date: NaiveDate, count: u64) -> Result<(), ChartError> {
        let day = self.day_mut(date)?;
        day.deployments = day
            .deployments
            .checked_add(count)
            .ok_or_else(|| ChartError::Overflow { what: "deployments".into(), date })?;
        Ok(())
    }

    /// Adds billable revenue in `currency` on `date` (also records the currency for a zero amount,
    /// so a currency the provider sells in shows even in a month without sales).
    pub fn add_revenue(&mut self, date: NaiveDate, currency: Currency, amount: Decimal) -> Result<(), ChartError> {
        let overflow = || ChartError::Overflow { what: format!("{currency} revenue"), date };
        let day = self.day_mut(date)?;
        let before = day.revenue.get(&currency).copied();
        let after = before.unwrap_or(Decimal::ZERO).checked_add(amount).ok_or_else(overflow)?;
        day.revenue.insert(currency, after);
        // The 30-day total is printed too: refuse a figure that would make it unrepresentable.
        if (0..DAYS).try_fold(Decimal::ZERO, |sum, i| sum.checked_add(self.revenue(i, currency))).is_none() {
            let day = self.day_mut(date)?;
            match before {
                Some(amount) => day.revenue.insert(currency, amount),
                None => day.revenue.remove(&currency),
            };
            return Err(overflow());
        }
        Ok(())
    }

    /// Adds one day's `deployments.csv` rows (one per product and currency): their deployments and
    /// their (already rounded) billable revenue.
    pub fn add_report_rows(&mut self, date: NaiveDate, rows: &[ReportRow]) -> Result<(), ChartError> {
        for row in rows {
            self.add_deployments(date, row.counts.deployments)?;
            self.add_revenue(date, row.currency, row.money.billable_revenue)?;
        }
        Ok(())
    }

    /// Every currency with a figure on any day, by code.
    pub fn currencies(&self) -> Vec<Currency> {
        let mut all: Vec<Currency> = self.days.iter().flat_map(|d| d.revenue.keys().copied()).collect();
        all.sort();
        all.dedup();
        all
    }

    pub(super) fn revenue(&self, index: usize, currency: Currency) -> Decimal {
        self.days[index].revenue.get(&currency).copied().unwrap_or(Decimal::ZERO)
    }
}

pub(super) fn total_deployments(series: &DailySeries) -> u128 {
    series.days.iter().map(|d| u128::from(d.deployments)).sum()
}

pub(super) fn total_revenue(series: &DailySeries, currency: Currency) -> Decimal {
    // Never saturates: `add_revenue` refuses figures whose 30-day total would not fit.
    (0..DAYS).fold(Decimal::ZERO, |sum, i| sum.saturating_add(series.revenue(i, currency)))
}
