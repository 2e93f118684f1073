//! Late logs on the `Reports` table (`LATE#<yyyy-mm>` / `<date>#<stream event id>`): a change to
//! a DeploymentLogs item of a date whose report was already stored, and how the next night counts
//! them per date (the table's docs: [`super`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::MonthSumsMark;

/// How long a late-log item is kept (its `expires_at`): long enough for the night after, the
/// first days of the next month, and an operator's look back.
pub const LATE_LOG_RETENTION_DAYS: i64 = 62;

/// Partition key of the late logs of `date`'s month: `LATE#<yyyy-mm>`.
pub fn late_logs_pk(date: NaiveDate) -> String {
    format!("LATE#{}", date.format("%Y-%m"))
}

/// Sort key of one late log: `<date>#<stream event id>`.
pub fn late_log_sk(date: NaiveDate, event_id: &str) -> String {
    format!("{date}#{event_id}")
}

/// Whether a change made at `changed_at` to a log of `mark`'s date may be missing from the
/// report the mark belongs to. DynamoDB Streams round a record's creation time down to the
/// second, so the read start is too: a change in the same second as the read start counts as
/// late (a re-run is harmless, a missed log is not). Without a read start (an export run or an
/// older mark) every change after the report counts.
pub fn changed_after_read(changed_at: DateTime<Utc>, mark: &MonthSumsMark) -> bool {
    match mark.read_started_at {
        None => true,
        Some(started) => changed_at.timestamp() >= started.timestamp(),
    }
}

/// A change to a log of an already reported date, made after that report's run started reading
/// (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateLogItem {
    /// `LATE#<yyyy-mm>`.
    pub pk: String,
    /// `<date>#<stream event id>`.
    pub sk: String,
    /// Always `late_log`.
    pub kind: String,
    /// The log's report date.
    pub report_date: NaiveDate,
    /// When the change was made (the stream record's approximate creation time).
    pub changed_at: DateTime<Utc>,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub change: String,
    /// The changed log's `pk` and `sk` in DeploymentLogs.
    pub log_pk: String,
    /// See `log_pk`.
    pub log_sk: String,
    /// TTL (epoch seconds): `changed_at` + [`LATE_LOG_RETENTION_DAYS`].
    pub expires_at: i64,
}

impl LateLogItem {
    /// The item of the stream record `event_id`.
    pub fn new(
        date: NaiveDate,
        event_id: &str,
        changed_at: DateTime<Utc>,
        change: &str,
        log_key: (&str, &str),
    ) -> Self {
        LateLogItem {
            pk: late_logs_pk(date),
            sk: late_log_sk(date, event_id),
            kind: "late_log".to_owned(),
            report_date: date,
            changed_at,
            change: change.to_owned(),
            log_pk: log_key.0.to_owned(),
            log_sk: log_key.1.to_owned(),
            expires_at: (changed_at + chrono::Duration::days(LATE_LOG_RETENTION_DAYS)).timestamp(),
        }
    }
}

/// Per date, the late logs still unaccounted for: those changed after the read start of the
/// date's latest run (`marks`, one per reported date). A date re-run after its late logs
/// arrived has read them: they no longer count.
pub fn late_counts<'a>(
    late: impl IntoIterator<Item = &'a LateLogItem>,
    marks: &std::collections::BTreeMap<NaiveDate, MonthSumsMark>,
) -> std::collections::BTreeMap<NaiveDate, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for item in late {
        let counts_now = marks.get(&item.report_date).is_none_or(|mark| changed_after_read(item.changed_at, mark));
        if counts_now {
            *counts.entry(item.report_date).or_insert(0) += 1;
        }
    }
    counts
}
