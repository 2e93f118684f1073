//! Whether a log change is a late log: a change to a log of a date whose report was already
//! stored, made after that report's run started reading (`marketplace_reports::storage`,
//! "late log").

use marketplace_reports::storage::{changed_after_read, LateLogItem, MonthSumsMark};

use crate::change::LogChange;

/// Whether `change` can be late at all: a date is reported only after it ended (the job refuses
/// a date of today or later), so a change made on the log's own date (or before it) came before
/// any report's read. Nearly every record is such a change: it costs no lookup.
pub fn may_be_late(change: &LogChange) -> bool {
    change.changed_at.date_naive() > change.date
}

/// The late-log item of `change`, given the mark of its date (`None`: not reported yet), or
/// `None` when the change is no late log.
pub fn late_log(change: &LogChange, mark: Option<&MonthSumsMark>) -> Option<LateLogItem> {
    let mark = mark?;
    changed_after_read(change.changed_at, mark).then(|| {
        LateLogItem::new(
            change.date,
            &change.event_id,
            change.changed_at,
            &change.change,
            (&change.log_key.0, &change.log_key.1),
        )
    })
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
        assert_eq!(late_log(&change, None), None, "not reported yet: the night will read it");
        let read_at = |t: &str| MonthSumsMark::new(change.date, 3, Some(10), Some(at(t)));
        assert_eq!(late_log(&change, Some(&read_at("2026-02-16T07:00:01Z"))), None, "read by a later re-run");
        let item = late_log(&change, Some(&read_at("2026-02-15T02:00:00Z"))).expect("late");
        assert_eq!(
            (item.pk.as_str(), item.sk.as_str()),
            ("LATE#2026-02", "2026-02-14#c4ca4238a0b923820dcc509a6f75849b")
        );
        assert_eq!(item.log_pk, "DAY#2026-02-14#03");
    }
}
