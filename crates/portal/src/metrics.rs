//! Counters an invocation keeps while it handles a batch; the Lambda plumbing publishes them as
//! CloudWatch metrics when the batch is done. Plain atomics: no AWS types here.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    /// Emails SES accepted.
    pub emails_sent: AtomicU64,
    /// Emails sent again because an earlier invocation recorded the intent and died before settling
    /// it: each one may be a duplicate (the window is the SES call itself; alarmed).
    pub emails_resent: AtomicU64,
    /// Emails SES accepted whose intent could not be settled (DynamoDB failed right after): not
    /// sent again, but their ledger entry and audit entry are missing.
    pub emails_unsettled: AtomicU64,
    /// Emails not sent because every recipient is undeliverable for the provider (SES reported a
    /// permanent bounce or a complaint); settled as suppressed.
    pub emails_suppressed: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
