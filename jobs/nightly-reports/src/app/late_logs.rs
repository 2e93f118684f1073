//! Logs that changed after their day was read, as the `late-logs` function recorded them from
//! the DeploymentLogs stream, counted per date for the run's summary.
//!
//! The windows (the function's side: `late_logs::lateness`). A date D's report read every change
//! made before its run's read start S (kept in D's month-sums mark, written last); a change at
//! or after S may be unread. The function keeps every change after D to a date without a mark
//! (its run may be between reading and marking) and every change at or after a mark's S. A run
//! counts, per date, the items at or after the read start of the date's latest run: its own S
//! for the dates it reports (it reads them now), the mark's for the others (no read start: an
//! export run, every item), and nothing for a date without a mark outside its plan (no report
//! yet: the run that reports it reads them). So a change made after a date's shard was read and
//! before the mark landed is named the next night (or this one, when recorded before this count)
//! and every night after until the date is re-run. The items are counted while paging (one
//! `Query` page in memory), so memory is O(dates), not O(late logs).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use marketplace_aws::reports_table::ReportsTable;
use marketplace_reports::storage::{changed_after_read, LateLogItem, MonthSumsMark};
use marketplace_reports::ReportPlan;

use super::error::AppError;

/// In a month's first days the late logs of the month before are named too.
pub const LATE_LOGS_PREVIOUS_MONTH_DAYS: u32 = 7;

/// The late-log items of the first report date's month (and of the month before in a month's
/// first [`LATE_LOGS_PREVIOUS_MONTH_DAYS`] days, so a late log of the 31st is still named on
/// the 1st), one paged `Query` each, counted page by page, plus the months' marks. A date counts
/// the items changed at or after its latest run's read start ([`LateLogTally`]; this run's own
/// `read_started_at` for the dates it reports, so a re-run makes its dates' earlier late logs
/// moot). Each date is logged with the re-run that includes it, and reported (`late_logs` in the
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
        let mut tally = LateLogTally::new(reports.month_sums_marks(month).await?, plan, read_started_at);
        let read = reports.each_late_log(month, |item| tally.add(&item)).await?;
        tracing::info!(month = %month.format("%Y-%m"), items = read, "late-log items counted");
        counts.extend(tally.counts);
    }
    for (date, count) in &counts {
        tracing::warn!(
            %date, late_logs = count,
            "deployment logs of an already reported day changed after its report; re-run it and the later dates (--dates {date}..<latest reported date>)"
        );
    }
    Ok(counts.into_iter().collect())
}

/// Late logs per date, counted one item at a time: memory holds one read start per reported
/// date and one count per late date, whatever the number of items.
#[derive(Debug, Clone)]
pub struct LateLogTally {
    /// The latest read of each reported date: the stored marks, with this run's read start for
    /// the dates it reports.
    reads: BTreeMap<NaiveDate, MonthSumsMark>,
    /// Items counted per date.
    pub counts: BTreeMap<NaiveDate, u64>,
}

impl LateLogTally {
    /// A tally over `marks` for a run reporting `plan` that started reading at `read_started_at`.
    pub fn new(
        mut marks: BTreeMap<NaiveDate, MonthSumsMark>,
        plan: ReportPlan,
        read_started_at: DateTime<Utc>,
    ) -> Self {
        for date in plan.report_dates() {
            let mark = marks.entry(date).or_insert_with(|| MonthSumsMark::new(date, 0, None, None));
            mark.read_started_at = Some(read_started_at);
        }
        LateLogTally { reads: marks, counts: BTreeMap::new() }
    }

    /// Counts `item` if its date was reported and the change may be missing from that report.
    pub fn add(&mut self, item: &LateLogItem) {
        let unread = self.reads.get(&item.report_date).is_some_and(|read| changed_after_read(item.changed_at, read));
        if unread {
            *self.counts.entry(item.report_date).or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 2, day).expect("date")
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("instant")
    }

    fn item(date: NaiveDate, id: &str, changed_at: &str) -> LateLogItem {
        LateLogItem::new(date, id, at(changed_at), "INSERT", ("DAY#x#00", "sk"))
    }

    fn tally(items: &[LateLogItem]) -> Vec<(NaiveDate, u64)> {
        let mut marks = BTreeMap::new();
        marks.insert(d(12), MonthSumsMark::new(d(12), 1, Some(3), Some(at("2026-02-13T02:00:00Z"))));
        marks.insert(d(13), MonthSumsMark::new(d(13), 1, None, None));
        // This run reports the 14th (no mark yet) and started reading at 02:00:00 on the 15th.
        let mut tally = LateLogTally::new(marks, ReportPlan::single(d(14)), at("2026-02-15T02:00:00Z"));
        for item in items {
            tally.add(item);
        }
        tally.counts.into_iter().collect()
    }

    #[test]
    fn a_pending_change_counts_only_from_the_read_start_of_the_run_that_reports_its_date() {
        let items = [
            item(d(14), "before-read", "2026-02-15T01:59:59Z"),
            item(d(14), "same-second", "2026-02-15T02:00:00Z"),
            item(d(14), "after-read", "2026-02-15T02:03:00Z"),
        ];
        assert_eq!(tally(&items), vec![(d(14), 2)], "read before the start; at or after it: may be unread");
    }

    #[test]
    fn a_date_without_a_report_counts_nothing_and_an_export_report_counts_everything() {
        let items = [
            item(d(20), "not-reported-yet", "2026-02-21T05:00:00Z"),
            item(d(13), "export-run", "2026-02-14T00:30:00Z"),
            item(d(12), "read-by-its-run", "2026-02-13T01:00:00Z"),
            item(d(12), "after-its-run", "2026-02-13T02:00:01Z"),
        ];
        assert_eq!(tally(&items), vec![(d(12), 1), (d(13), 1)]);
    }
}
