//! The one error type every domain operation returns.
//!
//! Each error knows whether retrying can help: [`DomainError::is_permanent`] drives the SQS batch
//! response (permanent failures are logged with their reason and left for the dead-letter queue).

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
    /// A record the request depends on does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The same event is being processed by another invocation right now.
    #[error("event {0} is already being processed")]
    InProgress(String),
    /// A store or mailer failed; the request may succeed if retried.
    #[error("{operation} failed: {message}")]
    Infrastructure { operation: &'static str, message: String },
}

impl DomainError {
    pub fn infra(operation: &'static str, err: impl std::fmt::Display) -> Self {
        DomainError::Infrastructure { operation, message: err.to_string() }
    }

    pub fn invalid(reason: impl Into<String>) -> Self {
        DomainError::Invalid(vec![reason.into()])
    }

    /// True when retrying the same event can never succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            DomainError::Invalid(_) | DomainError::Conflict(_) | DomainError::Forbidden(_) | DomainError::NotFound(_)
        )
    }
}
