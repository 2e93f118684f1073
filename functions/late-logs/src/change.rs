//! A DynamoDB stream record of the `DeploymentLogs` table as the change it made to one log. Its
//! report date is the date of its key `DAY#<date>#<shard>`: the date whose shard queries read the
//! log (the UTC date of its `finished_at`), in every record whatever the view type, so the
//! stream carries keys only.

use aws_lambda_events::event::dynamodb::EventRecord;
use chrono::{DateTime, NaiveDate, Utc};
use marketplace_reports::storage::day_key::date_of_log_partition;

/// What one stream record says happened to a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChange {
    /// The log's report date.
    pub date: NaiveDate,
    /// The stream record's id (unique per record, the same when it is delivered again).
    pub event_id: String,
    /// The record's approximate creation time.
    pub changed_at: DateTime<Utc>,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub change: String,
    /// The log's `pk` and `sk`.
    pub log_key: (String, String),
}

/// A stream record this function cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream record {event_id}: {reason}")]
pub struct InvalidRecord {
    /// Its event id.
    pub event_id: String,
    /// What is wrong.
    pub reason: String,
}

/// The log change of a stream record.
pub fn log_change(record: &EventRecord) -> Result<LogChange, InvalidRecord> {
    let invalid = |reason: String| InvalidRecord { event_id: record.event_id.clone(), reason };
    if record.event_id.is_empty() {
        return Err(invalid("no eventID".into()));
    }
    let key = |name: &str| match record.change.keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(text)) => Ok(text.clone()),
        _ => Err(invalid(format!("no string key `{name}`"))),
    };
    let (pk, sk) = (key("pk")?, key("sk")?);
    let date = date_of_log_partition(&pk).ok_or_else(|| invalid(format!("key pk={pk:?} is not DAY#<date>#<shard>")))?;
    if record.change.approximate_creation_date_time.timestamp() <= 0 {
        return Err(invalid("no ApproximateCreationDateTime".into()));
    }
    Ok(LogChange {
        date,
        event_id: record.event_id.clone(),
        changed_at: record.change.approximate_creation_date_time,
        change: record.event_name.clone(),
        log_key: (pk, sk),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use aws_lambda_events::event::dynamodb::Event;

    use super::*;

    pub(crate) fn sample() -> Event {
        serde_json::from_str(include_str!("../../../events/deployment-log-stream.json")).expect("sample stream event")
    }

    pub(crate) fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("instant")
    }

    #[test]
    fn a_stream_record_names_its_log_and_report_date_from_its_keys() {
        let event = sample();
        let change = log_change(&event.records[0]).expect("valid");
        assert_eq!(change.date, "2026-02-14".parse::<NaiveDate>().expect("date"));
        assert_eq!(change.changed_at, at("2026-02-16T07:00:00Z"));
        assert_eq!(change.change, "INSERT");
        assert_eq!(change.log_key.1, "2026-02-14T23:59:59Z#dep-late-1");
        // A deletion names its date the same way (keys are in every record).
        let removed = log_change(&event.records[1]).expect("valid");
        assert_eq!((removed.date.to_string(), removed.change.as_str()), ("2026-02-13".to_owned(), "REMOVE"));
    }

    #[test]
    fn a_record_without_a_log_key_or_time_is_invalid() {
        let mut record = sample().records.remove(0);
        record.change.keys.insert("pk".into(), serde_dynamo::AttributeValue::S("DAY#2026-02-31#03".into()));
        assert!(log_change(&record).expect_err("bad date").reason.contains("DAY#2026-02-31#03"));
        record.change.keys.remove("pk");
        assert!(log_change(&record).is_err(), "no pk");
        let mut record = sample().records.remove(0);
        record.change.approximate_creation_date_time = DateTime::<Utc>::default();
        assert!(log_change(&record).is_err(), "no creation time");
    }
}
