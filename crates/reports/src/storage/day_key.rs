//! The `DAY#` keys, the one place they are spelled and read:
//!
//! * DeploymentLogs partitions `DAY#<date>#<shard>` ([`log_partition`], [`date_of_log_partition`],
//!   and for a log that breaks the contract [`leading_date`]): the logs a report date's
//!   [`SHARDS`] queries read;
//! * the `Reports` table's date keys: `DAY#<date>` on the `ByDate` index ([`day`]), the sort keys
//!   under one date of report rows and month sums (`DAY#<date>#…`, [`day_prefix`]), and the
//!   portal's date ranges (`DAY#<from>` .. `DAY#<to>~`, [`days`]).

use chrono::NaiveDate;

/// Day-shards per day of the DeploymentLogs table (`DAY#<date>#00` .. `#15`).
pub const SHARDS: u32 = 16;

/// `DAY#<date>#<shard>` (the shard in two digits): one DeploymentLogs partition.
pub fn log_partition(date: NaiveDate, shard: u32) -> String {
    format!("DAY#{date}#{shard:02}")
}

/// The report date of a DeploymentLogs partition key `DAY#<date>#<shard>`: the date whose shard
/// queries read it (the UTC date of its `finished_at`), present in every stream record whatever
/// the stream's view type. `None` for any other key.
pub fn date_of_log_partition(pk: &str) -> Option<NaiveDate> {
    let rest = pk.strip_prefix("DAY#")?;
    let (date, shard) = rest.split_once('#')?;
    if shard.is_empty() {
        return None;
    }
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// The date a `DAY#<date>…` key begins with, whatever follows it: the best guess of the report
/// date of a log that breaks the contract (its reject is listed under that date).
pub fn leading_date(pk: &str) -> Option<NaiveDate> {
    let rest = pk.strip_prefix("DAY#")?;
    NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d").ok()
}

/// `DAY#<date>`: a date's report rows on the `ByDate` index (`gsi1pk`).
pub fn day(date: NaiveDate) -> String {
    format!("DAY#{date}")
}

/// `DAY#<date>#`: what every sort key under `date` begins with (report rows, month sums).
pub fn day_prefix(date: NaiveDate) -> String {
    format!("DAY#{date}#")
}

/// The sort keys of the dates `first` ..= `last`: `(DAY#<first>, DAY#<last>~)` for a `BETWEEN`
/// (`~` sorts after `#`, so every key under `last` is inside).
pub fn days(first: NaiveDate, last: NaiveDate) -> (String, String) {
    (day(first), format!("DAY#{last}~"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn a_log_key_names_its_report_date_and_a_bad_one_none() {
        assert_eq!(date_of_log_partition("DAY#2026-02-14#07"), Some(date("2026-02-14")));
        for bad in ["DAY#2026-02-14", "DAY#2026-02-14#", "DAY#2026-02-30#01", "SUMS#2026-02", "", "DAY#14-02-2026#01"] {
            assert_eq!(date_of_log_partition(bad), None, "{bad}");
        }
        // A malformed key still names the date it begins with.
        assert_eq!(leading_date("DAY#2026-02-14"), Some(date("2026-02-14")));
        assert_eq!(leading_date("DAY#2026-02-14#"), Some(date("2026-02-14")));
        for bad in ["DAY#2026-02-30#01", "SUMS#2026-02", "", "DAY#2026-02", "DAY#14-02-2026#01"] {
            assert_eq!(leading_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_read_back_and_ranges_hold_every_key_of_their_dates() {
        let d = date("2026-02-14");
        assert_eq!(log_partition(d, 3), "DAY#2026-02-14#03");
        assert!((0..SHARDS).all(|shard| date_of_log_partition(&log_partition(d, shard)) == Some(d)));
        assert_eq!(day(d), "DAY#2026-02-14");
        assert_eq!(day_prefix(d), "DAY#2026-02-14#");
        let (lo, hi) = days(date("2026-02-01"), d);
        assert_eq!((lo.as_str(), hi.as_str()), ("DAY#2026-02-01", "DAY#2026-02-14~"));
        let row = format!("{}PRODUCT#vault#USD", day_prefix(d));
        assert!(lo.as_str() <= row.as_str() && row.as_str() <= hi.as_str());
        assert!(format!("{}PRODUCT#x#USD", day_prefix(date("2026-02-15"))) > hi);
    }
}
