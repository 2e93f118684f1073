//! The 30-day chart of a provider's report email ([`crate::chart`]) from the `Reports` table:
//! the 29 days before the report date are the provider's stored report rows
//! (`ReportsTable::provider_rows`, one paged `Query`, the portal's own read); the report date
//! itself comes from the report in memory (its rows may not be stored: a run that only sends).

use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use marketplace_aws::reports_table::ReportsTable;
use marketplace_core::DomainError;
use marketplace_reports::delivery::ReportCharts;
use marketplace_reports::email::ReportPicture;
use marketplace_reports::statement::StoredRow;
use marketplace_reports::DailyReport;

use crate::chart::{self, ChartError, DailySeries};

/// Draws providers' charts from the `Reports` table.
#[derive(Clone, Debug)]
pub struct StoredReportCharts {
    reports: ReportsTable,
}

fn chart_failed(e: ChartError) -> DomainError {
    DomainError::infra("draw the report chart", e)
}

impl StoredReportCharts {
    /// Charts over the table of `reports`.
    pub fn new(reports: &ReportsTable) -> Self {
        StoredReportCharts { reports: reports.clone() }
    }

    /// The same source reading pages of at most `limit` items (tests force page boundaries).
    pub fn with_page_limit(self, limit: i32) -> Self {
        StoredReportCharts { reports: self.reports.with_page_limit(limit) }
    }

    /// `provider_id`'s stored report rows from `first` through `last`, oldest first (as the
    /// chart port reports a failure).
    pub async fn stored_rows(
        &self,
        provider_id: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<StoredRow>, DomainError> {
        self.reports
            .provider_rows(provider_id, first, last)
            .await
            .map_err(|e| DomainError::infra("read the chart's rows", e))
    }
}

#[async_trait]
impl ReportCharts for StoredReportCharts {
    async fn chart(&self, report: &DailyReport, provider_id: &str) -> Result<ReportPicture, DomainError> {
        let mut series = DailySeries::new(report.date).map_err(chart_failed)?;
        if let Some(day_before) = report.date.checked_sub_days(Days::new(1)) {
            for row in self.stored_rows(provider_id, series.first_date(), day_before).await? {
                series.add_deployments(row.report_date, row.counts.deployments).map_err(chart_failed)?;
                series.add_revenue(row.report_date, row.currency, row.money.billable_revenue).map_err(chart_failed)?;
            }
        }
        if let Some(today) = report.providers.get(provider_id) {
            series.add_report_rows(report.date, &today.deployments).map_err(chart_failed)?;
        }
        let drawn = chart::render(&series).map_err(chart_failed)?;
        Ok(ReportPicture {
            png: drawn.image.png,
            alt_text: drawn.image.alt_text,
            width: chart::WIDTH,
            height: chart::HEIGHT,
            caption: format!(
                "Deployments and billable revenue per day, {} to {} (UTC)",
                series.first_date(),
                series.report_date()
            ),
            header: drawn.header,
            rows: drawn.rows,
        })
    }
}
