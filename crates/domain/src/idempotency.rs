//! At-least-once delivery made safe: a Powertools-style idempotency guard.
//!
//! Before a handler acts on an event it *claims* the key `<function>#<event id>` with a conditional
//! put (`IN_PROGRESS`, short in-progress expiry). When the work succeeds the record becomes
//! `COMPLETED` and lives until its TTL (`expires_at`); a redelivery of the same event then finds it
//! and does nothing. When the work fails the claim is released so the queue's retry can run it
//! again. A claim left behind by a crashed invocation expires after the in-progress timeout and is
//! taken over. The payload is hashed so that a reused event id with a different payload is refused
//! instead of being silently skipped.
//!
//! The guard is the first line of defence only: every operation is also idempotent by itself
//! (conditional writes keyed by state and version, an email ledger), because the guard cannot
//! cover a crash between an effect and the `complete` call.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::event::PortalEvent;
use crate::ports::IdempotencyStore;
use crate::DomainError;

/// What `IdempotencyStore::begin` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No live record: this invocation now owns the key.
    Acquired,
    /// The event was processed before.
    Completed { payload_hash: String },
    /// Another invocation is processing it now.
    InProgress { payload_hash: String },
}

/// Whether the operation ran or the event was a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed<T> {
    Ran(T),
    Duplicate,
}

/// Runs `operation` at most once (to completion) per `function` and event id.
pub async fn run_once<T, Fut>(
    store: &dyn IdempotencyStore,
    function: &str,
    event: &PortalEvent,
    now: DateTime<Utc>,
    operation: impl FnOnce() -> Fut,
) -> Result<Processed<T>, DomainError>
where
    Fut: Future<Output = Result<T, DomainError>>,
{
    let key = format!("{function}#{}", event.id);
    let hash = event.payload_hash();
    match store.begin(&key, &hash, now).await? {
        Claim::Acquired => {}
        Claim::Completed { payload_hash } if payload_hash == hash => return Ok(Processed::Duplicate),
        Claim::Completed { .. } => {
            return Err(DomainError::Conflict(format!(
                "event id {} was already processed with a different payload",
                event.id
            )))
        }
        Claim::InProgress { .. } => return Err(DomainError::InProgress(event.id.clone())),
    }
    match operation().await {
        Ok(value) => {
            store.complete(&key, now).await?;
            Ok(Processed::Ran(value))
        }
        Err(err) => {
            if let Err(release_err) = store.release(&key).await {
                tracing::warn!(%key, error = %release_err, "could not release idempotency claim; it will expire");
            }
            Err(err)
        }
    }
}
