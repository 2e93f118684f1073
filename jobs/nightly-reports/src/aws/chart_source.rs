//! The 30-day chart of a provider's report email ([`crate::chart`]) from the `Reports` table:
//! the 29 days before the report date are the provider's stored report rows, read with one paged
//! `Query` (`pk = PROVIDER#<id> AND sk BETWEEN DAY#<first> AND DAY#<day before>~`, the portal's
//! own read, see `marketplace_reports::storage`); the report date itself comes from the
//! report in memory (its rows may not be stored: a run that only sends).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::Client;
use chrono::{Days, NaiveDate};
use marketplace_core::DomainError;
use marketplace_reports::attribute::Item;
use marketplace_reports::delivery::ReportCharts;
use marketplace_reports::email::ReportPicture;
use marketplace_reports::statement::StoredRow;
use marketplace_reports::DailyReport;

use super::{from_sdk, ReportsTable};
use crate::chart::{self, ChartError, DailySeries};

/// Draws providers' charts from the `Reports` table.
#[derive(Clone, Debug)]
pub struct StoredReportCharts {
    client: Client,
    table: String,
    /// `Limit` of every `Query` page (`None`: DynamoDB's 1 MB pages).
    page_limit: Option<i32>,
}

fn chart_failed(e: ChartError) -> DomainError {
    DomainError::infra("draw the report chart", e)
}

impl StoredReportCharts {
    /// Charts over the table of `reports`.
    pub fn new(reports: &ReportsTable) -> Self {
        StoredReportCharts { client: reports.client.clone(), table: reports.table.clone(), page_limit: None }
    }

    /// The same source reading pages of at most `limit` items (tests force page boundaries).
    pub fn with_page_limit(mut self, limit: i32) -> Self {
        self.page_limit = Some(limit);
        self
    }

    /// `provider_id`'s stored report rows from `first` through `last`, oldest first.
    pub async fn stored_rows(
        &self,
        provider_id: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<StoredRow>, DomainError> {
        let mut rows = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
                .expression_attribute_values(":pk", Av::S(format!("PROVIDER#{provider_id}")))
                .expression_attribute_values(":first", Av::S(format!("DAY#{first}")))
                .expression_attribute_values(":last", Av::S(format!("DAY#{last}~")))
                .set_limit(self.page_limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| {
                    DomainError::infra("DynamoDB Query (report chart)", aws_sdk_dynamodb::error::DisplayErrorContext(e))
                })?;
            for item in out.items() {
                let item: Item = item.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect();
                rows.push(StoredRow::from_item(&item).map_err(|e| DomainError::infra("read a stored report row", e))?);
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        Ok(rows)
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
