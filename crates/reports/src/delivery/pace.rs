//! How fast a run's deliveries go out: [`SendLimits`] from the settings, and [`SendPace`], whose
//! turns keep SES messages within the account's send rate (a delivery takes its turn before each
//! message, and before its hand-over to SES: `super::send_claimed`).

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use marketplace_core::DomainError;

/// How fast deliveries go out: at most `concurrency` deliveries in flight, and SES messages
/// no faster than `per_second` (the account's maximum send rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    /// Deliveries in flight at once (`REPORT_SEND_CONCURRENCY`, default 8).
    pub concurrency: NonZeroUsize,
    /// SES messages per second at most (`SES_MAX_SEND_RATE`, default 14: SES's default
    /// production rate; raise it with the account's quota).
    pub per_second: NonZeroU32,
}

impl Default for SendLimits {
    fn default() -> Self {
        SendLimits { concurrency: NonZeroUsize::MIN.saturating_add(7), per_second: NonZeroU32::MIN.saturating_add(13) }
    }
}

impl SendLimits {
    /// The most deliveries in flight that the settings accept.
    pub const MAX_CONCURRENCY: usize = 256;

    /// From `REPORT_SEND_CONCURRENCY` and `SES_MAX_SEND_RATE` (unset or blank: the defaults).
    pub fn from_env() -> Result<Self, DomainError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From settings looked up by name (see [`SendLimits::from_env`]).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, DomainError> {
        let mut limits = SendLimits::default();
        let mut problems = Vec::new();
        let setting = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if let Some(v) = setting("REPORT_SEND_CONCURRENCY") {
            match v.parse::<NonZeroUsize>() {
                Ok(n) if n.get() <= Self::MAX_CONCURRENCY => limits.concurrency = n,
                _ => problems.push(format!(
                    "REPORT_SEND_CONCURRENCY must be a whole number from 1 to {}: {v:?}",
                    Self::MAX_CONCURRENCY
                )),
            }
        }
        if let Some(v) = setting("SES_MAX_SEND_RATE") {
            match v.parse::<NonZeroU32>() {
                Ok(n) => limits.per_second = n,
                Err(_) => problems.push(format!(
                    "SES_MAX_SEND_RATE must be a whole number of messages per second, at least 1: {v:?}"
                )),
            }
        }
        if problems.is_empty() {
            Ok(limits)
        } else {
            Err(DomainError::Invalid(problems))
        }
    }
}

/// Spaces SES sends evenly, one every `1 s / per_second`, however many deliveries are in
/// flight: a token bucket that holds one token, so there is never a burst above the rate.
#[derive(Debug)]
pub struct SendPace {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl SendPace {
    /// A pace of `per_second` messages per second.
    pub fn new(per_second: NonZeroU32) -> Self {
        SendPace { interval: Duration::from_secs(1) / per_second.get(), next: Mutex::new(None) }
    }

    /// Waits for the next free slot and takes it. Slots are handed out in call order; a caller
    /// that gives up waiting leaves its slot unused (a little slower, never faster).
    pub async fn turn(&self) {
        let at = self.take_slot(Instant::now());
        tokio::time::sleep_until(at).await;
    }

    /// Takes the next free slot for a caller asking at `now`: `now` itself when the pace is idle,
    /// otherwise one interval after the last slot handed out (a quiet spell saves up no burst).
    pub fn take_slot(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = next.map_or(now, |n| n.max(now));
        *next = Some(at + self.interval);
        at
    }
}
