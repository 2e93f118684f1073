//! Month-to-date from stored month sums: the aggregator a table run starts from, and the sums a
//! merge of table partitions adds once.

use marketplace_aws::reports_table::ReportsTable;
use marketplace_reports::aggregate::Aggregator;
use marketplace_reports::ReportPlan;

use super::error::AppError;
use crate::pipeline::JobError;

/// The aggregator a table run starts from. Month-to-date comes from the exact month sums an
/// earlier night stored (the latest marked date of the first report date's month before it), so
/// only the days after that date are read: on a normal night, one day. Without stored sums
/// (the first night, or after a gap) the days since the month's start are read. `with_sums`:
/// load the sums (a partition leaves them to the merge, which adds them once).
pub async fn starting_point(reports: &ReportsTable, plan: ReportPlan, with_sums: bool) -> Result<Aggregator, AppError> {
    let first = plan.first();
    let through = reports.month_sums_dates(first).await?.into_iter().filter(|d| *d < first).max();
    let Some(through) = through else {
        return Ok(Aggregator::new(plan));
    };
    let sums = if with_sums { reports.month_sums(through).await? } else { Vec::new() };
    tracing::info!(%through, groups = sums.len(), "month-to-date builds on stored month sums");
    Ok(Aggregator::seeded(plan, through, sums).map_err(JobError::from)?)
}

/// Adds the stored month sums a merged set of table partitions was built on (once).
pub async fn add_stored_sums(reports: &ReportsTable, mut merged: Aggregator) -> Result<Aggregator, AppError> {
    let plan = merged.plan();
    if let Some(through) = merged.read_from().pred_opt().filter(|d| *d >= plan.read_from()) {
        let seed = Aggregator::seeded(plan, through, reports.month_sums(through).await?).map_err(JobError::from)?;
        merged.merge(seed).map_err(JobError::from)?;
    }
    Ok(merged)
}
