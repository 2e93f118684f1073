//! At-least-once delivery made safe: a Powertools-style idempotency guard.
//!
//! Before a handler acts on an event it *claims* the key `<function>#<event id>` with a conditional
//! put (`IN_PROGRESS`). The claim expires at the invocation's deadline (`lease_until`), so a claim
//! left behind by a crashed or timed-out invocation is dead by the time the queue redelivers the
//! message (the visibility timeout is longer than the function timeout, `template.yaml`), and the
//! redelivery takes it over. When the work succeeds the record becomes `COMPLETED` and lives until
//! its TTL; a redelivery of the same event then finds it and does nothing. When the work fails for
//! a reason that retrying can change, the claim is released so the queue's retry can run it again;
//! when it can never succeed, the record becomes `REJECTED` with the reason (kept as long as a
//! completed one) and the message is not retried. The payload is hashed so that a reused event id
//! with a different payload is refused instead of being silently skipped.
//!
//! The guard is the first line of defence only: every operation is also idempotent by itself
//! (conditional writes keyed by state and version, an email outbox), because the guard cannot
//! cover a crash between an effect and the `complete` call.

use std::future::Future;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::event::PortalEvent;
use marketplace_core::DomainError;

/// How long a completed or rejected record is kept: longer than the queue's retention, so that any
/// redelivery still finds it.
pub const RECORD_RETENTION: chrono::Duration = chrono::Duration::days(15);

/// What `IdempotencyStore::begin` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No live record: this invocation now owns the key.
    Acquired,
    /// The event was processed before.
    Completed { payload_hash: String },
    /// The event was refused for good before.
    Rejected { payload_hash: String },
    /// Another invocation is processing it now.
    InProgress { payload_hash: String },
}

/// Powertools-style idempotency records.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` until `lease_until` unless a live record exists; returns what was found.
    async fn begin(
        &self,
        key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, DomainError>;

    /// Marks `key` completed; the record expires after the store's retention period.
    async fn complete(&self, key: &str, now: DateTime<Utc>) -> Result<(), DomainError>;

    /// Drops an in-progress claim after a failure so that a redelivery can try again.
    async fn release(&self, key: &str) -> Result<(), DomainError>;

    /// Records that `key` can never be processed, with the reason (kept for the retention period).
    async fn reject(&self, key: &str, payload_hash: &str, reason: &str, now: DateTime<Utc>) -> Result<(), DomainError>;
}

/// The claim an event is processed under: its key, and whether the operation already completed it
/// (the outbox does, together with settling the event's emails, to save a round trip).
#[derive(Debug)]
pub struct ClaimTicket {
    pub key: String,
    pub now: DateTime<Utc>,
    completed: std::sync::atomic::AtomicBool,
}

impl ClaimTicket {
    pub fn new(function: &str, event_id: &str, now: DateTime<Utc>) -> Self {
        ClaimTicket { key: key(function, event_id), now, completed: Default::default() }
    }

    /// Called by whoever completed the claim's record.
    pub fn mark_completed(&self) {
        self.completed.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_completed(&self) -> bool {
        self.completed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Whether the operation ran or the event was a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed<T> {
    Ran(T),
    /// Completed (or rejected for good) by an earlier delivery.
    Duplicate,
}

/// The idempotency key of an event for one function.
pub fn key(function: &str, event_id: &str) -> String {
    format!("{function}#{event_id}")
}

/// Runs `operation` at most once (to completion) per claim (`<function>#<event id>`). A permanent
/// failure is recorded as rejected before it is returned, so that no delivery runs the operation
/// again. The operation may complete the claim itself (see [`ClaimTicket`]).
pub async fn run_once<T, Fut>(
    store: &dyn IdempotencyStore,
    claim: &ClaimTicket,
    event: &PortalEvent,
    lease_until: DateTime<Utc>,
    operation: impl FnOnce() -> Fut,
) -> Result<Processed<T>, DomainError>
where
    Fut: Future<Output = Result<T, DomainError>>,
{
    let (key, now) = (claim.key.as_str(), claim.now);
    let hash = event.payload_hash();
    match store.begin(key, &hash, now, lease_until).await? {
        Claim::Acquired => {}
        Claim::Completed { payload_hash } | Claim::Rejected { payload_hash } if payload_hash == hash => {
            return Ok(Processed::Duplicate)
        }
        Claim::Completed { .. } | Claim::Rejected { .. } => {
            return Err(DomainError::Conflict(format!(
                "event id {} was already processed with a different payload",
                event.id
            )))
        }
        Claim::InProgress { .. } => return Err(DomainError::InProgress(event.id.clone())),
    }
    match operation().await {
        Ok(value) => {
            // The work is done: a failed `complete` only leaves the claim to expire at the
            // deadline, and the operation itself recognises a later duplicate delivery.
            if claim.is_completed() {
                return Ok(Processed::Ran(value));
            }
            if let Err(error) = store.complete(key, now).await {
                tracing::warn!(%key, %error, "could not mark the event completed; its claim will expire");
            }
            Ok(Processed::Ran(value))
        }
        Err(err) if err.is_permanent() => {
            store.reject(key, &hash, &err.to_string(), now).await?;
            Err(err)
        }
        Err(err) => {
            if let Err(release_err) = store.release(key).await {
                tracing::warn!(%key, error = %release_err, "could not release idempotency claim; it will expire");
            }
            Err(err)
        }
    }
}
