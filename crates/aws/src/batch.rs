//! The SQS → EventBridge → domain plumbing every portal function shares.
//!
//! Each SQS record carries one EventBridge event (the rule's target is the queue). Records are
//! handled one by one; a record that fails is reported in `batchItemFailures` so that only it is
//! retried. Permanent failures (invalid payload, conflict, forbidden, unknown provider) are logged
//! at `error` with the reason and also reported: the queue's redrive policy moves them to the
//! dead-letter queue after a few receives, so nothing is dropped silently and nothing loops forever.

use std::future::Future;
use std::pin::Pin;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use marketplace_domain::event::PortalEvent;
use marketplace_domain::idempotency::{run_once, Processed};
use marketplace_domain::ports::{IdempotencyStore, Services};
use marketplace_domain::DomainError;

/// A domain operation on one event; returns a short description of the outcome for the logs.
pub type Operation =
    for<'a> fn(&'a PortalEvent, Services<'a>) -> Pin<Box<dyn Future<Output = Result<String, DomainError>> + Send + 'a>>;

/// Unwraps the EventBridge event from an SQS message body.
pub fn parse_record(message: &SqsMessage) -> Result<PortalEvent, DomainError> {
    let body = message.body.as_deref().ok_or_else(|| DomainError::invalid("SQS message has no body"))?;
    let envelope: EventBridgeEvent<serde_json::Value> = serde_json::from_str(body)
        .map_err(|e| DomainError::invalid(format!("SQS body is not an EventBridge event: {e}")))?;
    let id = envelope
        .id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| DomainError::invalid("EventBridge event has no id"))?;
    let time = envelope.time.ok_or_else(|| DomainError::invalid(format!("EventBridge event {id} has no time")))?;
    Ok(PortalEvent { id, detail_type: envelope.detail_type, source: envelope.source, time, detail: envelope.detail })
}

/// Runs `operation` once per record (guarded by the idempotency store) and reports the failures.
pub async fn process_portal_batch(
    function: &str,
    batch: SqsEvent,
    idempotency: &dyn IdempotencyStore,
    services: Services<'_>,
    operation: Operation,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &batch.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        let result = match parse_record(message) {
            Ok(event) => {
                let now = chrono::Utc::now();
                run_once(idempotency, function, &event, now, || operation(&event, services))
                    .await
                    .map(|processed| (event.id.clone(), processed))
            }
            Err(e) => Err(e),
        };
        match result {
            Ok((event_id, Processed::Ran(outcome))) => {
                tracing::info!(function, %message_id, %event_id, %outcome, "event processed");
            }
            Ok((event_id, Processed::Duplicate)) => {
                tracing::info!(function, %message_id, %event_id, "duplicate delivery ignored");
            }
            Err(error) => {
                if error.is_permanent() {
                    tracing::error!(function, %message_id, %error, permanent = true,
                        "event cannot be processed; it goes to the dead-letter queue after its last receive");
                } else {
                    tracing::warn!(function, %message_id, %error, permanent = false, "event failed; it will be retried");
                }
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
