//! Late deployment logs: consumes the `DeploymentLogs` table's DynamoDB stream and records every
//! change (insert, update, delete) to a log that a stored report of its date may not have read
//! as a late-log item in the `Reports` table (`marketplace_reports::storage`, "late log"): a
//! change at or after the read start of the date's marked report (*late*), and any change after
//! the log's date to a date without a mark yet (*pending*: its run may be between reading and
//! marking; the night decides). The windows are in [`lateness`]. The next night names the late
//! ones per date (`late_logs` in its summary, the `LateLogs` alarm); this function's `LateLogs`
//! metric shows those of marked dates as they arrive (`LateLogsPending` the others).
//!
//! A record's report date is the date of its log's key ([`change`]); what the change is to its
//! date's report is [`lateness`]; the table is `marketplace_aws::reports_table`. Changes made on
//! the log's own date need no lookup (no run read the date yet); invalid records are logged and
//! skipped, never retried. A failed DynamoDB call reports its record as the batch item failure: Lambda resumes
//! the shard from it.

pub mod change;
pub mod lateness;

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::NaiveDate;
use marketplace_aws::reports_table::ReportsTable;
use marketplace_reports::storage::MonthSumsMark;

pub use change::{log_change, InvalidRecord, LogChange};
pub use lateness::{lateness, may_be_late, Lateness};

pub const FUNCTION: &str = "late-logs";

/// Counts of one batch (the function's metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    /// Late logs of marked dates recorded by this batch.
    pub late: u64,
    /// Changes of dates without a mark yet recorded by this batch (the night decides).
    pub pending: u64,
    /// Items already recorded (redelivered records).
    pub repeated: u64,
    /// Changes made on their log's date, or read by their date's report.
    pub not_late: u64,
    /// Records skipped as invalid.
    pub invalid: u64,
}

/// Handles one batch of stream records: see the crate docs.
pub async fn handle(reports: &ReportsTable, event: Event) -> (DynamoDbEventResponse, BatchCounts) {
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
                    let mark = reports.month_sums_mark(change.date).await?;
                    marks.insert(change.date, mark.clone());
                    mark
                }
            };
            match lateness(&change, mark.as_ref()) {
                Lateness::Late(item) => reports.record_late_log(&item).await.map(|new| Some((true, new))),
                Lateness::Pending(item) => reports.record_late_log(&item).await.map(|new| Some((false, new))),
                Lateness::Read => Ok(None),
            }
        }
        .await;
        match outcome {
            Ok(Some((true, true))) => {
                tracing::warn!(date = %change.date, change = %change.change, pk = %change.log_key.0, sk = %change.log_key.1,
                    "late deployment log: its date was already reported");
                counts.late += 1;
            }
            Ok(Some((false, true))) => counts.pending += 1,
            Ok(Some((_, false))) => counts.repeated += 1,
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
pub async fn process(reports: &ReportsTable, event: Event) -> DynamoDbEventResponse {
    let (response, counts) = handle(reports, event).await;
    marketplace_aws::telemetry::emit_metrics(
        FUNCTION,
        &[
            ("LateLogs", counts.late),
            ("LateLogsPending", counts.pending),
            ("LateLogsRepeated", counts.repeated),
            ("RecordsNotLate", counts.not_late),
            ("RecordsInvalid", counts.invalid),
        ],
    );
    response
}

/// The whole `main`: logging, the `Reports` table (`REPORTS_TABLE` and the SDK's own settings),
/// then the Lambda runtime loop.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    marketplace_aws::telemetry::init();
    let sdk = marketplace_aws::sdk_config().await;
    let reports =
        ReportsTable::new(aws_sdk_dynamodb::Client::new(&sdk), marketplace_aws::required_env("REPORTS_TABLE")?);
    let reports = &reports;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(process(reports, event.payload).await)
    }))
    .await
}
