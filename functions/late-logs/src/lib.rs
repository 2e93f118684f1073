//! Late deployment logs: consumes the `DeploymentLogs` table's DynamoDB stream and records every
//! change (insert, update, delete) to a log of a date whose report was already stored, made
//! after that report's run started reading, as a late-log item in the `Reports` table
//! (`marketplace_reports::storage`, "late log"). The next night names them per date
//! (`late_logs` in its summary, the `LateLogs` alarm); this function's `LateLogs` metric shows
//! them as they arrive.
//!
//! A record's report date is the date of its key `DAY#<date>#<shard>`: the date whose shard
//! queries read the log (the UTC date of its `finished_at`), in every record whatever the view
//! type, so the stream carries keys only. Records of dates not reported yet are ignored (that
//! night will read them); invalid records are logged and skipped, never retried. A failed
//! DynamoDB call reports its record as the batch item failure: Lambda resumes the shard from it.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, NaiveDate, Utc};
use marketplace_aws::attributes::{from_item, to_item};
use marketplace_aws::sdk_error::sdk_error;
use marketplace_core::DomainError;
use marketplace_reports::storage::{
    changed_after_read, month_sums_mark_sk, month_sums_pk, report_date_of_log_pk, LateLogItem, MonthSumsMark,
};

pub const FUNCTION: &str = "late-logs";

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
    let date = report_date_of_log_pk(&pk).ok_or_else(|| invalid(format!("key pk={pk:?} is not DAY#<date>#<shard>")))?;
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

/// The `Reports` table as this function uses it: month-sums marks read, late logs written.
#[derive(Clone, Debug)]
pub struct LateLogStore {
    client: Client,
    table: String,
}

impl LateLogStore {
    /// Store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        LateLogStore { client, table: table.into() }
    }

    /// Clients from the environment (`REPORTS_TABLE` and the SDK's own settings).
    pub async fn from_env() -> anyhow::Result<Self> {
        let sdk = marketplace_aws::sdk_config().await;
        Ok(LateLogStore::new(Client::new(&sdk), marketplace_aws::required_env("REPORTS_TABLE")?))
    }

    /// The month-sums mark of `date`, if the date was reported.
    pub async fn mark(&self, date: NaiveDate) -> Result<Option<MonthSumsMark>, DomainError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Av::S(month_sums_pk(date)))
            .key("sk", Av::S(month_sums_mark_sk(date)))
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.as_ref().map(from_item).transpose()
    }

    /// Writes `item` unless it is there already (the same stream record delivered again):
    /// whether it was new.
    pub async fn record(&self, item: &LateLogItem) -> Result<bool, DomainError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }
}

/// Counts of one batch (the function's metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    /// Late logs recorded by this batch.
    pub late: u64,
    /// Late logs already recorded (redelivered records).
    pub repeated: u64,
    /// Changes of dates not reported yet, or read by their report.
    pub not_late: u64,
    /// Records skipped as invalid.
    pub invalid: u64,
}

/// Handles one batch of stream records: see the crate docs.
pub async fn handle(store: &LateLogStore, event: Event) -> (DynamoDbEventResponse, BatchCounts) {
    let mut counts = BatchCounts::default();
    let mut marks: HashMap<NaiveDate, Option<MonthSumsMark>> = HashMap::new();
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        let change = match log_change(record) {
            Ok(change) => change,
            Err(invalid) => {
                tracing::warn!(%invalid, "skipped");
                counts.invalid += 1;
                continue;
            }
        };
        if !may_be_late(&change) {
            counts.not_late += 1;
            continue;
        }
        let outcome = async {
            let mark = match marks.get(&change.date) {
                Some(mark) => mark.clone(),
                None => {
                    let mark = store.mark(change.date).await?;
                    marks.insert(change.date, mark.clone());
                    mark
                }
            };
            match late_log(&change, mark.as_ref()) {
                Some(item) => store.record(&item).await.map(Some),
                None => Ok(None),
            }
        }
        .await;
        match outcome {
            Ok(Some(true)) => {
                tracing::warn!(date = %change.date, change = %change.change, pk = %change.log_key.0, sk = %change.log_key.1,
                    "late deployment log: its date was already reported");
                counts.late += 1;
            }
            Ok(Some(false)) => counts.repeated += 1,
            Ok(None) => counts.not_late += 1,
            Err(error) => {
                // Lambda resumes the shard from this record; the later ones come again with it.
                tracing::error!(%error, event_id = %change.event_id, "late-log check failed; the shard resumes here");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier =
                    Some(record.change.sequence_number.clone().unwrap_or_else(|| record.event_id.clone()));
                response.batch_item_failures.push(failure);
                break;
            }
        }
    }
    (response, counts)
}

/// [`handle`], then its metrics (EMF, namespace `Marketplace/Portal`, `Function=late-logs`).
pub async fn process(store: &LateLogStore, event: Event) -> DynamoDbEventResponse {
    let (response, counts) = handle(store, event).await;
    marketplace_aws::telemetry::emit_metrics(
        FUNCTION,
        &[
            ("LateLogs", counts.late),
            ("LateLogsRepeated", counts.repeated),
            ("RecordsNotLate", counts.not_late),
            ("RecordsInvalid", counts.invalid),
        ],
    );
    response
}

/// The whole `main`: logging, the client, then the Lambda runtime loop.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    marketplace_aws::telemetry::init();
    let store = LateLogStore::from_env().await?;
    let store = &store;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(process(store, event.payload).await)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        serde_json::from_str(include_str!("../../../events/deployment-log-stream.json")).expect("sample stream event")
    }

    fn at(text: &str) -> DateTime<Utc> {
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
