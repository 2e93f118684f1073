//! A date's report rows and summary rows (`BatchWriteItem`, 25 per call).

use marketplace_core::DomainError;
use marketplace_reports::storage::{day_key, report_items, BY_DATE_INDEX};
use marketplace_reports::DailyReport;

use super::table::{KeyQuery, ReportsTable};
use crate::attributes::to_item;
use crate::sdk_error::AwsError;

impl ReportsTable {
    /// Stores a date's report and summary rows, then deletes rows of that date a previous run
    /// stored that this run no longer has (a re-computation can only shrink after corrected
    /// logs); returns how many items were written.
    pub async fn store(&self, report: &DailyReport) -> Result<usize, AwsError> {
        let items = report_items(report).iter().map(to_item).collect::<Result<Vec<_>, DomainError>>()?;
        let date = report.date;
        let mut stored = self.keys(KeyQuery::on("pk", format!("SUMMARY#{date}"))).await?;
        stored.extend(self.keys(KeyQuery::on("gsi1pk", day_key::day(date)).index(BY_DATE_INDEX)).await?);
        self.replace(stored, items).await
    }
}
