//! Logs that arrived after their day was reported, as the `late-logs` function recorded them
//! from the DeploymentLogs stream, counted per date for the run's summary.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use marketplace_aws::reports_table::ReportsTable;
use marketplace_reports::storage::late_counts;
use marketplace_reports::ReportPlan;

use super::error::AppError;

/// In a month's first days the late logs of the month before are named too.
pub const LATE_LOGS_PREVIOUS_MONTH_DAYS: u32 = 7;

/// The late-log items of the first report date's month (and of the month before in a month's
/// first [`LATE_LOGS_PREVIOUS_MONTH_DAYS`] days, so a late log of the 31st is still named on
/// the 1st), one paged `Query` each, plus the month's marks. A date counts the late logs
/// changed after its latest run started reading; the dates this run reports count from this
/// run's own read start (`read_started_at`), so a re-run makes its dates' earlier late logs
/// moot. Each date is logged with the re-run that includes it, and reported (`late_logs` in the
/// summary, the `LateLogs` metric and its alarm). No day is read again.
pub async fn late_log_counts(
    reports: &ReportsTable,
    plan: ReportPlan,
    read_started_at: DateTime<Utc>,
) -> Result<Vec<(NaiveDate, u64)>, AppError> {
    let first = plan.first();
    let mut months = vec![first];
    if first.day() <= LATE_LOGS_PREVIOUS_MONTH_DAYS {
        months.extend(first.with_day(1).and_then(|d| d.pred_opt()));
    }
    let mut counts = BTreeMap::new();
    for month in months {
        let mut marks = reports.month_sums_marks(month).await?;
        for date in plan.report_dates() {
            if let Some(mark) = marks.get_mut(&date) {
                mark.read_started_at = Some(read_started_at);
            }
        }
        counts.extend(late_counts(&reports.late_logs(month).await?, &marks));
    }
    for (date, count) in &counts {
        tracing::warn!(
            %date, late_logs = count,
            "deployment logs of an already reported day changed after its report; re-run it and the later dates (--dates {date}..<latest reported date>)"
        );
    }
    Ok(counts.into_iter().collect())
}
