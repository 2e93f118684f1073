//! What a day's report is made of: its rows ([`ReportRow`], [`SummaryRow`], [`ErrorRow`],
//! [`RejectRow`]) and the [`DailyReport`] that holds them per provider. The aggregation builds
//! them ([`crate::aggregate`]), the packed form holds error rows between spills
//! ([`crate::packed`]), the files, emails and stored items write them.

use std::collections::BTreeMap;
use std::ops::AddAssign;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::record::DeploymentStatus;
use marketplace_core::money::{format_money, round_to_minor_units, Currency};

/// One error entry as an `errors.csv` row. Ordered as the file is sorted: `error_at`,
/// `deployment_id`, position in the deployment's list (then the rest, for a total order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ErrorRow {
    /// When the error happened.
    pub error_at: DateTime<Utc>,
    /// Deployment.
    pub deployment_id: String,
    /// Position in the deployment's `errors` list.
    pub position: u32,
    /// Report date (of the deployment's `finished_at`).
    pub report_date: NaiveDate,
    pub provider_id: String,
    pub product_id: String,
    /// Customer alias.
    pub customer_alias: String,
    /// Outcome of the deployment.
    pub deployment_status: DeploymentStatus,
    /// Error code.
    pub error_code: String,
    /// Error message.
    pub error_message: String,
}

/// An error row borrowing its text (from a log being aggregated, or from an [`ErrorRow`]).
#[derive(Debug, Clone, Copy)]
pub struct ErrorRowRef<'a> {
    pub error_at: DateTime<Utc>,
    pub deployment_id: &'a str,
    pub position: u32,
    pub report_date: NaiveDate,
    pub provider_id: &'a str,
    pub product_id: &'a str,
    pub customer_alias: &'a str,
    pub deployment_status: DeploymentStatus,
    pub error_code: &'a str,
    pub error_message: &'a str,
}

impl ErrorRowRef<'_> {
    /// The row with its own strings.
    pub fn to_row(&self) -> ErrorRow {
        ErrorRow {
            error_at: self.error_at,
            deployment_id: self.deployment_id.to_owned(),
            position: self.position,
            report_date: self.report_date,
            provider_id: self.provider_id.to_owned(),
            product_id: self.product_id.to_owned(),
            customer_alias: self.customer_alias.to_owned(),
            deployment_status: self.deployment_status,
            error_code: self.error_code.to_owned(),
            error_message: self.error_message.to_owned(),
        }
    }
}

impl ErrorRow {
    /// The row as borrowed fields.
    pub fn as_ref(&self) -> ErrorRowRef<'_> {
        ErrorRowRef {
            error_at: self.error_at,
            deployment_id: &self.deployment_id,
            position: self.position,
            report_date: self.report_date,
            provider_id: &self.provider_id,
            product_id: &self.product_id,
            customer_alias: &self.customer_alias,
            deployment_status: self.deployment_status,
            error_code: &self.error_code,
            error_message: &self.error_message,
        }
    }

    /// A failed deployment's error row for tests and examples: provider, instant (RFC 3339),
    /// deployment, position and message given; the rest fixed (2026-02-14, product `p`, a
    /// customer alias that needs CSV quoting, code `X`).
    pub fn example(provider: &str, at: &str, deployment: &str, position: u32, message: &str) -> ErrorRow {
        ErrorRow {
            error_at: at.parse().expect("an RFC 3339 instant"),
            deployment_id: deployment.into(),
            position,
            report_date: "2026-02-14".parse().expect("date"),
            provider_id: provider.into(),
            product_id: "p".into(),
            customer_alias: "C, \"1\"".into(),
            deployment_status: DeploymentStatus::Failed,
            error_code: "X".into(),
            error_message: message.into(),
        }
    }
}

/// One `rejected.csv` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RejectRow {
    /// Deployment id, or key, or locator.
    pub deployment_id: String,
    /// Human-readable reason.
    pub reason: String,
    /// Report date, when it could be told. Undated rejects are listed under every report date
    /// of the run rather than dropped.
    pub report_date: Option<NaiveDate>,
}

/// Counts shared by every report row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Succeeded + failed.
    pub deployments: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Error entries on succeeded deployments.
    pub errors_in_succeeded: u64,
    /// Error entries on failed deployments.
    pub errors_in_failed: u64,
}

/// Rounded money of one row; `marketplace_fee = billable_revenue − remuneration_value`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowMoney {
    /// Rounded billable revenue.
    pub billable_revenue: Decimal,
    /// Rounded remuneration.
    pub remuneration_value: Decimal,
    /// Revenue minus remuneration.
    pub marketplace_fee: Decimal,
}

impl RowMoney {
    /// The three amounts as printed (files, emails): with exactly `currency`'s minor-unit places.
    pub fn formatted(&self, currency: Currency) -> [String; 3] {
        [self.billable_revenue, self.remuneration_value, self.marketplace_fee].map(|m| format_money(m, currency))
    }
}

/// `checked_add` (`None` when a column overflows) and a saturating `+=` (for totals that must
/// never fail: counts and rounded amounts cannot realistically reach `u64`'s or `Decimal`'s
/// bounds, and a report must never panic), column by column.
macro_rules! column_sums {
    ($row:ident { $($column:ident),+ }) => {
        impl $row {
            /// The column sums; `None` when one overflows.
            pub fn checked_add(self, other: $row) -> Option<$row> {
                Some($row { $($column: self.$column.checked_add(other.$column)?),+ })
            }
        }

        impl AddAssign for $row {
            /// The column sums, saturating.
            fn add_assign(&mut self, other: $row) {
                $(self.$column = self.$column.saturating_add(other.$column);)+
            }
        }
    };
}

column_sums!(Counts { deployments, succeeded, failed, errors_in_succeeded, errors_in_failed });
column_sums!(RowMoney { billable_revenue, remuneration_value, marketplace_fee });

/// One `deployments.csv` / `month-to-date.csv` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub provider_id: String,
    pub product_id: String,
    /// Product name.
    pub product_name: String,
    pub currency: Currency,
    /// Counts.
    pub counts: Counts,
    /// Money, rounded to the currency's minor units.
    pub money: RowMoney,
}

/// One `marketplace-summary.csv` row: a provider's rows in one currency, summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub provider_id: String,
    pub currency: Currency,
    /// Counts.
    pub counts: Counts,
    /// Sums of the provider rows' rounded money.
    pub money: RowMoney,
}

impl SummaryRow {
    /// A provider's summary in `currency` before its first row.
    pub(crate) fn zero(provider_id: &str, currency: Currency) -> Self {
        let zero = round_to_minor_units(Decimal::ZERO, currency);
        SummaryRow {
            provider_id: provider_id.to_owned(),
            currency,
            counts: Counts::default(),
            money: RowMoney { billable_revenue: zero, remuneration_value: zero, marketplace_fee: zero },
        }
    }

    /// Adds one of the provider's rows.
    pub(crate) fn add(&mut self, row: &ReportRow) {
        self.counts += row.counts;
        self.money += row.money;
    }
}

/// One provider's files for one date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderReport {
    /// `deployments.csv` rows, sorted by product then currency.
    pub deployments: Vec<ReportRow>,
    /// `errors.csv` rows, sorted by error_at, deployment id, position.
    pub errors: Vec<ErrorRow>,
    /// `month-to-date.csv` rows, sorted by product then currency.
    pub month_to_date: Vec<ReportRow>,
}

/// Everything written for one report date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyReport {
    /// Report date.
    pub date: NaiveDate,
    /// The 1st of its month (month-to-date period start).
    pub month_start: NaiveDate,
    /// Providers with deployments on the date.
    pub providers: BTreeMap<String, ProviderReport>,
    /// `marketplace-summary.csv` rows, sorted by provider then currency.
    pub summary: Vec<SummaryRow>,
    /// `rejected.csv` rows, sorted by deployment id then reason.
    pub rejected: Vec<RejectRow>,
}

impl DailyReport {
    /// The report reduced to one provider (its rows, its summary rows), with `errors` as its
    /// error rows: what that provider's files and email need, when the error rows were streamed
    /// out of memory (the job's spill) instead of held in the report.
    pub fn for_provider(&self, provider_id: &str, errors: Vec<ErrorRow>) -> DailyReport {
        let mut providers = BTreeMap::new();
        if let Some(p) = self.providers.get(provider_id) {
            providers.insert(
                provider_id.to_owned(),
                ProviderReport { deployments: p.deployments.clone(), errors, month_to_date: p.month_to_date.clone() },
            );
        }
        DailyReport {
            date: self.date,
            month_start: self.month_start,
            providers,
            summary: self.summary.iter().filter(|s| s.provider_id == provider_id).cloned().collect(),
            rejected: Vec::new(),
        }
    }
}
