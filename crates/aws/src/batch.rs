//! The SQS → EventBridge → domain plumbing every portal function shares.
//!
//! Each SQS record carries one EventBridge event (the rule's target is the queue). Records are
//! handled one by one, each guarded by the idempotency store, whose claim lasts until the
//! invocation's deadline:
//!
//! - **Processed / duplicate**: done; the queue deletes the message.
//! - **Rejected** (permanent: invalid payload, conflicting state, forbidden actor, a request a
//!   service refuses for good): recorded once with its reason (a `REJECTED` idempotency record with
//!   a TTL), logged at `error`, counted (`EventsRejected`, alarmed), and *not* reported as failed:
//!   retrying cannot help, so it does not wait three receives for the dead-letter queue.
//! - **Retry** (transient: throttling, 5xx, timeouts, a provider whose sign-up is still in flight,
//!   the same event in progress elsewhere): reported in `batchItemFailures`; the queue redelivers
//!   it after its visibility timeout, and only after `maxReceiveCount` receives it goes to the
//!   dead-letter queue.
//! - **Not started / cut**: the deadline guard. A record gets a time budget (`RECORD_TIME_BUDGET_MS`,
//!   [`crate::DEFAULT_RECORD_BUDGET`]) and is started only while the invocation has at least that
//!   budget plus [`RESPONSE_MARGIN`] left; the rest are reported as failures untouched. A started
//!   record that has not ended when its budget is spent is cut there (its work is dropped at the
//!   call it was waiting on) and reported for retry: for the outbox and the idempotency claim that
//!   is the same as a crash at that call, which redelivery finishes (`marketplace_portal::outbox`).
//!   So the response always goes out before the deadline, whatever the services' speed: the
//!   invocation never times out and takes the batch's finished records down with it.
//!
//! The budget and the SDK's timeouts agree ([`crate::sdk::PORTAL_FUNCTION`]): one SDK call ends
//! (answered, or failed by its operation timeout) within a third of the budget, so a record whose
//! service hangs fails cleanly through its own error path within its budget, and is cut only when
//! several of its calls are each slow but not failing.
//!
//! At the end the batch's counts are published as CloudWatch embedded metrics.

use std::future::Future;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Duration, Utc};
use marketplace_core::validate::redact_addresses;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::idempotency::{key, run_once, ClaimTicket, IdempotencyStore, Processed};
use marketplace_portal::metrics::Counters;
use marketplace_portal::ports::Services;
use sha2::{Digest, Sha256};

/// What a portal function does with one event: the function crate's whole logic, implemented on a
/// unit struct. The batch loop, [`crate::PortalApp`] and [`crate::run_portal_function`] are
/// generic over it.
pub trait PortalOperation: Sync {
    /// The function's name: the prefix of its idempotency keys (`<function>#<event id>`) and the
    /// `Function` dimension of its metrics.
    const FUNCTION: &'static str;

    /// Handles one event; returns a short description of the outcome for the logs.
    fn run<'a>(
        &'a self,
        event: &'a PortalEvent,
        services: Services<'a>,
    ) -> impl Future<Output = Result<String, DomainError>> + Send + 'a;
}

/// The time an invocation has: its deadline and the most time one record may take.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: DateTime<Utc>,
    pub record_budget: Duration,
}

/// Time kept after the last record for posting the batch response to the runtime.
pub const RESPONSE_MARGIN: Duration = Duration::seconds(1);

impl Deadline {
    /// Whether a record may start at `now`: its whole budget and the response fit before the deadline.
    pub fn allows_record_at(&self, now: DateTime<Utc>) -> bool {
        self.at - now >= self.record_budget + RESPONSE_MARGIN
    }
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Processed(String),
    Duplicate,
    /// Refused for good; recorded with this reason and not retried.
    Rejected(String),
    /// Failed for a reason that may pass; the queue redelivers it.
    Retry(String),
    /// Not started: the invocation had too little time left.
    NotStarted,
}

impl RecordOutcome {
    /// Whether the queue must deliver the record again.
    pub fn is_failure(&self) -> bool {
        matches!(self, RecordOutcome::Retry(_) | RecordOutcome::NotStarted)
    }
}

#[derive(Debug, Clone)]
pub struct RecordReport {
    pub message_id: String,
    pub event_id: Option<String>,
    pub outcome: RecordOutcome,
}

/// Every record's outcome, in batch order.
#[derive(Debug, Clone, Default)]
pub struct BatchReport {
    pub records: Vec<RecordReport>,
}

impl BatchReport {
    /// The partial batch response: the records to deliver again.
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in self.records.iter().filter(|r| r.outcome.is_failure()) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone();
            response.batch_item_failures.push(failure);
        }
        response
    }

    fn count(&self, pick: impl Fn(&RecordOutcome) -> bool) -> u64 {
        self.records.iter().filter(|r| pick(&r.outcome)).count() as u64
    }

    /// The batch's metrics: event outcomes and the email counters.
    pub fn metrics(&self, counters: &Counters) -> Vec<(&'static str, u64)> {
        vec![
            ("EventsProcessed", self.count(|o| matches!(o, RecordOutcome::Processed(_)))),
            ("EventsDuplicate", self.count(|o| matches!(o, RecordOutcome::Duplicate))),
            ("EventsRejected", self.count(|o| matches!(o, RecordOutcome::Rejected(_)))),
            ("EventsRetried", self.count(RecordOutcome::is_failure)),
            ("EmailsSent", Counters::get(&counters.emails_sent)),
            ("EmailsResent", Counters::get(&counters.emails_resent)),
            ("EmailsUnsettled", Counters::get(&counters.emails_unsettled)),
            ("EmailsSuppressed", Counters::get(&counters.emails_suppressed)),
        ]
    }
}

/// Unwraps the EventBridge event from an SQS message body.
pub fn parse_record(message: &SqsMessage) -> Result<PortalEvent, DomainError> {
    let body = message.body.as_deref().ok_or_else(|| DomainError::invalid("SQS message has no body"))?;
    let envelope: EventBridgeEvent<serde_json::Value> = serde_json::from_str(body).map_err(|e| {
        DomainError::invalid(format!("SQS body is not an EventBridge event: {}", redact_addresses(&e.to_string())))
    })?;
    let id = envelope
        .id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| DomainError::invalid("EventBridge event has no id"))?;
    let time = envelope.time.ok_or_else(|| DomainError::invalid(format!("EventBridge event {id} has no time")))?;
    Ok(PortalEvent { id, detail_type: envelope.detail_type, source: envelope.source, time, detail: envelope.detail })
}

/// Runs `operation` once per record (guarded by the idempotency store) and reports each outcome.
pub async fn process_portal_batch<O: PortalOperation>(
    operation: &O,
    batch: SqsEvent,
    idempotency: &dyn IdempotencyStore,
    services: Services<'_>,
    deadline: Deadline,
) -> BatchReport {
    let function = O::FUNCTION;
    let mut report = BatchReport::default();
    for message in &batch.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        let started = Utc::now();
        if !deadline.allows_record_at(started) {
            tracing::warn!(function, %message_id, left_ms = (deadline.at - started).num_milliseconds(),
                needed_ms = (deadline.record_budget + RESPONSE_MARGIN).num_milliseconds(),
                "not started: too little time left; it will be redelivered");
            report.records.push(RecordReport { message_id, event_id: None, outcome: RecordOutcome::NotStarted });
            continue;
        }
        let (event_id, outcome) = match parse_record(message) {
            Ok(event) => {
                let claim = ClaimTicket::new(function, &event.id, started);
                let services = Services { claim: Some(&claim), ..services };
                let work = run_once(idempotency, &claim, &event, deadline.at, || operation.run(&event, services));
                let outcome = tokio::select! {
                    // A record that has ended wins over its budget's end at the same moment.
                    biased;
                    result = work => match result {
                        Ok(Processed::Ran(outcome)) => RecordOutcome::Processed(outcome),
                        Ok(Processed::Duplicate) => RecordOutcome::Duplicate,
                        // run_once recorded the rejection before returning it.
                        Err(error) if error.is_permanent() => RecordOutcome::Rejected(error.to_string()),
                        Err(error) => RecordOutcome::Retry(error.to_string()),
                    },
                    // Cut at its budget: like a crash at the call it was waiting on. Its claim
                    // expires at the deadline, before the queue delivers it again.
                    () = wall_clock_reaches(started + deadline.record_budget) => RecordOutcome::Retry(format!(
                        "not finished within its time budget of {} ms; cut and left to redelivery",
                        deadline.record_budget.num_milliseconds()
                    )),
                };
                (Some(event.id), outcome)
            }
            Err(error) => (None, reject_unparseable(function, message, &message_id, idempotency, &error).await),
        };
        match &outcome {
            RecordOutcome::Processed(outcome) => {
                tracing::info!(function, %message_id, ?event_id, %outcome, "event processed")
            }
            RecordOutcome::Duplicate => tracing::info!(function, %message_id, ?event_id, "duplicate delivery ignored"),
            RecordOutcome::Rejected(reason) => tracing::error!(function, %message_id, ?event_id, %reason,
                permanent = true, "event rejected for good: recorded with its reason, not retried"),
            RecordOutcome::Retry(reason) => tracing::warn!(function, %message_id, ?event_id, %reason,
                permanent = false, "event failed; it will be retried"),
            RecordOutcome::NotStarted => {}
        }
        report.records.push(RecordReport { message_id, event_id, outcome });
    }
    report
}

/// Resolves once the wall clock reaches `at`, looking at least every 100 ms. A record's budget
/// ends at a wall-clock instant, as the invocation's deadline does (Lambda states it in epoch
/// milliseconds), so the guard and the cut read one clock.
async fn wall_clock_reaches(at: DateTime<Utc>) {
    loop {
        let left = at - Utc::now();
        if left <= Duration::zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::milliseconds(100)).to_std().unwrap_or_default()).await;
    }
}

/// A message that is not a portal event at all has no event id: its rejection is recorded under
/// the SQS message id.
async fn reject_unparseable(
    function: &str,
    message: &SqsMessage,
    message_id: &str,
    idempotency: &dyn IdempotencyStore,
    error: &DomainError,
) -> RecordOutcome {
    let body = message.body.as_deref().unwrap_or_default();
    let hash: String = Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let key = key(function, &format!("sqs-message:{message_id}"));
    match idempotency.reject(&key, &hash, &error.to_string(), Utc::now()).await {
        Ok(()) => RecordOutcome::Rejected(error.to_string()),
        Err(record_error) => {
            RecordOutcome::Retry(format!("{error} (and recording the rejection failed: {record_error})"))
        }
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
