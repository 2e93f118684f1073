//! The report dates of a run and the days it must read, and what can stop an aggregation (a
//! single log never does: it is rejected instead).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use marketplace_core::money::Currency;

/// Which report dates a run produces. Reading covers the first report date's month start up to
/// the last report date, because month-to-date needs the whole month so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportPlan {
    first: NaiveDate,
    last: NaiveDate,
}

/// Errors from planning or aggregating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregateError {
    /// `first` is after `last`.
    #[error("report date range {first}..{last} is empty")]
    EmptyRange {
        /// First date asked for.
        first: NaiveDate,
        /// Last date asked for.
        last: NaiveDate,
    },
    /// A sum does not fit `Decimal` (28 significant digits).
    #[error("amount overflow while summing {provider_id}/{product_id}/{currency} on {date}")]
    Overflow {
        /// Report date.
        date: NaiveDate,
        provider_id: String,
        product_id: String,
        currency: Currency,
    },
    /// Stored month sums must be as of a day of the first report date's month before it.
    #[error("month sums as of {through} cannot seed a run whose first report date is {first}")]
    SeedOutsideMonth {
        /// Day the sums are as of.
        through: NaiveDate,
        /// First report date.
        first: NaiveDate,
    },
    /// Partials of different plans cannot be merged.
    #[error("cannot merge partial aggregates of different plans ({0:?} vs {1:?})")]
    PlanMismatch(ReportPlan, ReportPlan),
}

impl ReportPlan {
    /// Plan for report dates `first..=last`.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<Self, AggregateError> {
        if first > last {
            return Err(AggregateError::EmptyRange { first, last });
        }
        Ok(ReportPlan { first, last })
    }

    /// Plan for one report date.
    pub fn single(date: NaiveDate) -> Self {
        ReportPlan { first: date, last: date }
    }

    /// The report dates, ascending.
    pub fn report_dates(&self) -> impl Iterator<Item = NaiveDate> {
        self.first.iter_days().take_while({
            let last = self.last;
            move |d| *d <= last
        })
    }

    /// First day whose logs must be read (the 1st of the first report date's month).
    pub fn read_from(&self) -> NaiveDate {
        month_start(self.first)
    }

    /// First report date.
    pub fn first(&self) -> NaiveDate {
        self.first
    }

    /// Last report date.
    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// Last day whose logs must be read.
    pub fn read_to(&self) -> NaiveDate {
        self.last
    }

    /// Every day whose logs must be read, ascending.
    pub fn days_to_read(&self) -> impl Iterator<Item = NaiveDate> {
        let last = self.last;
        self.read_from().iter_days().take_while(move |d| *d <= last)
    }

    /// Whether logs finishing on `day` are needed.
    pub fn reads(&self, day: NaiveDate) -> bool {
        (self.read_from()..=self.last).contains(&day)
    }

    /// Whether `day` is one of the report dates.
    pub fn is_report_date(&self, day: NaiveDate) -> bool {
        (self.first..=self.last).contains(&day)
    }
}

/// The 1st of `date`'s month.
pub fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}
