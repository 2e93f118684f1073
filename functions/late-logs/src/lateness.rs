//! Whether a log change must be recorded as a late-log item: whenever a stored report of its date
//! may not have read it (`marketplace_reports::storage`, "late log").
//!
//! The windows. A run reporting date D starts reading D's logs at S (its read start), reads each
//! day-shard some time after S, and writes D's month-sums mark (carrying S) last, after all sums.
//! A change at instant c (stream time, whole seconds) is read by that run only if c < S; any
//! change at or after S may be missing from the report, also one made after its shard was read
//! but before the mark lands. So the record is kept when
//!
//! * D has **no mark yet** (never reported, or a run is between its read and its mark): kept
//!   as *pending*; the night decides with the read start it then knows, or
//! * D's mark has **no read start** (an export run): kept (every later change may be unread), or
//! * **c ≥ the mark's read start** (same second counts: streams round down): kept as *late*.
//!
//! Nothing unread is dropped whenever the record is processed: before the mark it is kept as
//! pending; after it, the mark's read start is not later than the change. Only a change made
//! on the log's own date (or before it) is dropped without a lookup ([`may_be_late`]): no run
//! reads a date before it ended. The night counts, per date, only the items at or after the read
//! start of the date's latest run (`nightly_reports::app::late_logs`); a pending item older than
//! that is one the run read.

use marketplace_reports::storage::{changed_after_read, LateLogItem, MonthSumsMark};

use crate::change::LogChange;

/// Whether `change` can be late at all: a date is reported only after it ended (the job refuses
/// a date of today or later), so a change made on the log's own date (or before it) came before
/// any report's read. Nearly every record is such a change: it costs no lookup.
pub fn may_be_late(change: &LogChange) -> bool {
    change.changed_at.date_naive() > change.date
}

/// What a change is to the reports of its date (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lateness {
    /// Read by the date's stored report (before its read start): nothing to record.
    Read,
    /// The date has no mark yet: recorded; the night that reports the date (or the next one)
    /// counts it only if it is not older than that run's read start.
    Pending(LateLogItem),
    /// Changed at or after the read start of the date's stored report: recorded and counted.
    Late(LateLogItem),
}

/// What `change` is, given the mark of its date (`None`: not reported, or not yet marked).
pub fn lateness(change: &LogChange, mark: Option<&MonthSumsMark>) -> Lateness {
    let item = || {
        LateLogItem::new(
            change.date,
            &change.event_id,
            change.changed_at,
            &change.change,
            (&change.log_key.0, &change.log_key.1),
        )
    };
    match mark {
        None => Lateness::Pending(item()),
        Some(mark) if changed_after_read(change.changed_at, mark) => Lateness::Late(item()),
        Some(_) => Lateness::Read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::log_change;
    use crate::change::tests::{at, sample};

    #[test]
    fn a_change_on_the_logs_own_day_needs_no_lookup() {
        let mut change = log_change(&sample().records[0]).expect("valid");
        assert!(may_be_late(&change), "changed two days after its date");
        change.changed_at = at("2026-02-14T23:59:59Z");
        assert!(!may_be_late(&change), "changed on its date: no report can have read that day yet");
    }

    #[test]
    fn only_a_change_after_the_report_started_reading_is_a_late_log() {
        let change = log_change(&sample().records[0]).expect("valid");
        let read_at = |t: &str| MonthSumsMark::new(change.date, 3, Some(10), Some(at(t)));
        assert_eq!(lateness(&change, Some(&read_at("2026-02-16T07:00:01Z"))), Lateness::Read, "read by a later re-run");
        let Lateness::Late(item) = lateness(&change, Some(&read_at("2026-02-15T02:00:00Z"))) else {
            panic!("late");
        };
        assert_eq!(
            (item.pk.as_str(), item.sk.as_str()),
            ("LATE#2026-02", "2026-02-14#c4ca4238a0b923820dcc509a6f75849b")
        );
        assert_eq!(item.log_pk, "DAY#2026-02-14#03");
        let same_second = read_at("2026-02-16T07:00:00.900Z");
        assert!(matches!(lateness(&change, Some(&same_second)), Lateness::Late(_)), "same second: late");
        let export_run = MonthSumsMark::new(change.date, 3, None, None);
        assert!(matches!(lateness(&change, Some(&export_run)), Lateness::Late(_)), "no read start: late");
    }

    #[test]
    fn a_change_to_a_date_without_a_mark_is_kept_pending_for_the_night_to_decide() {
        // The run reporting the 14th may be between its shard reads and its mark (written
        // last): the change may be unread, so it is kept, whatever its time.
        let change = log_change(&sample().records[0]).expect("valid");
        let Lateness::Pending(item) = lateness(&change, None) else { panic!("pending") };
        assert_eq!((item.report_date, item.changed_at), (change.date, change.changed_at));
        assert_eq!(item.pk, "LATE#2026-02");
    }
}
