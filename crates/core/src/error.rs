//! The one error type every domain operation returns.
//!
//! Each error knows whether retrying can help: [`DomainError::is_permanent`] drives the SQS batch
//! response. A permanent failure is recorded once with its reason (a rejected-event record) and is
//! not retried; a transient one is reported so that the queue redelivers it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DomainError {
    /// The event or command is malformed; every problem found is listed.
    #[error("invalid input: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The request contradicts the current state (e.g. a second, different sign-up).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The actor may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A record the request depends on does not exist (yet: the sign-up that creates it may still
    /// be on its way through another queue, so this is retried).
    #[error("not found: {0}")]
    NotFound(String),
    /// The same event is being processed by another invocation right now.
    #[error("event {0} is already being processed")]
    InProgress(String),
    /// A store or mailer failed; the request may succeed if retried (throttling, 5xx, timeouts).
    #[error("{operation} failed: {message}")]
    Infrastructure { operation: &'static str, message: String },
    /// The service answered this very request with an error, so it was certainly not carried out
    /// (throttled, a 5xx answer, an identity not verified yet); retrying may succeed. Unlike
    /// [`DomainError::Infrastructure`], where the request may have been carried out before its
    /// answer was lost (a timeout, a connection cut after sending). The SES mailer uses it so
    /// that the outbox can tell "not sent" from "perhaps sent" (`marketplace_portal::outbox`).
    #[error("{operation} failed: {message}")]
    Declined { operation: &'static str, message: String },
    /// A store or mailer refused this very request for a reason that retrying does not change
    /// (e.g. an item over DynamoDB's limits, an address SES will never accept).
    #[error("{operation} refused the request: {message}")]
    Refused { operation: &'static str, message: String },
}

impl DomainError {
    pub fn infra(operation: &'static str, err: impl std::fmt::Display) -> Self {
        DomainError::Infrastructure { operation, message: err.to_string() }
    }

    pub fn refused(operation: &'static str, err: impl std::fmt::Display) -> Self {
        DomainError::Refused { operation, message: err.to_string() }
    }

    pub fn declined(operation: &'static str, err: impl std::fmt::Display) -> Self {
        DomainError::Declined { operation, message: err.to_string() }
    }

    /// True when the request that failed was certainly not carried out: the service answered it
    /// with an error ([`DomainError::Declined`], [`DomainError::Refused`]) or it was never made
    /// ([`DomainError::Invalid`]).
    pub fn certainly_not_done(&self) -> bool {
        matches!(self, DomainError::Declined { .. } | DomainError::Refused { .. } | DomainError::Invalid(_))
    }

    pub fn invalid(reason: impl Into<String>) -> Self {
        DomainError::Invalid(vec![reason.into()])
    }

    /// True when retrying the same event can never succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            DomainError::Invalid(_)
                | DomainError::Conflict(_)
                | DomainError::Forbidden(_)
                | DomainError::Refused { .. }
        )
    }
}
