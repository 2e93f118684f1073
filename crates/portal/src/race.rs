//! Read → decide → conditional write, repeated when another writer got there first.

use std::future::Future;

use crate::ports::WriteError;
use marketplace_core::DomainError;

/// How often a handler re-reads after losing a race before it gives up (and the queue retries).
pub const ATTEMPTS: u32 = 3;

/// The result of one read-decide-write attempt.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// The conditional write lost to another writer: read again and decide again.
    Lost,
}

impl<T> Attempt<T> {
    /// `value` once `write` succeeded, `Lost` when its precondition failed.
    pub fn after(write: Result<(), WriteError>, value: T) -> Result<Attempt<T>, DomainError> {
        match write {
            Ok(()) => Ok(Attempt::Done(value)),
            Err(WriteError::PreconditionFailed) => Ok(Attempt::Lost),
            Err(WriteError::Other(e)) => Err(e),
        }
    }
}

/// Runs `attempt` until it is done, at most [`ATTEMPTS`] times; a record that keeps changing is
/// a transient failure.
pub async fn retry_lost_races<T, F, Fut>(what: &'static str, mut attempt: F) -> Result<T, DomainError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, DomainError>>,
{
    for _ in 0..ATTEMPTS {
        if let Attempt::Done(value) = attempt().await? {
            return Ok(value);
        }
    }
    Err(DomainError::infra(what, "the record kept changing; retry"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gives_up_after_three_lost_races_with_a_transient_error() {
        let mut calls = 0;
        let result: Result<(), _> = retry_lost_races("test", || {
            calls += 1;
            async { Ok(Attempt::Lost) }
        })
        .await;
        assert_eq!(calls, ATTEMPTS);
        assert!(!result.unwrap_err().is_permanent());
    }
}
