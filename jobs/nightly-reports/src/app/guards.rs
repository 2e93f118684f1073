//! What a run refuses before it reads anything: a day that has not ended, and a stored run that
//! would leave later dates' month-to-date figures built on old ones.

use chrono::NaiveDate;
use marketplace_aws::reports_table::ReportsTable;
use marketplace_reports::ReportPlan;

use super::error::AppError;

/// A report of `today` (UTC) or later would report a partial day: refused.
pub fn refuse_unfinished_days(plan: ReportPlan, today: NaiveDate) -> Result<(), AppError> {
    if plan.last() >= today {
        return Err(AppError::DayNotOver { date: plan.last(), today });
    }
    Ok(())
}

/// A stored run for `plan` would leave the month-to-date figures of later dates of its last
/// month built on the old figures: refuse it, naming the dates to re-run together with it.
pub async fn refuse_if_later_dates_stored(reports: &ReportsTable, plan: ReportPlan) -> Result<(), AppError> {
    let later: Vec<NaiveDate> =
        reports.month_sums_dates(plan.last()).await?.into_iter().filter(|d| *d > plan.last()).collect();
    match later.last() {
        None => Ok(()),
        Some(&through) => Err(AppError::LaterDatesReported { first: plan.first(), last: plan.last(), later, through }),
    }
}
