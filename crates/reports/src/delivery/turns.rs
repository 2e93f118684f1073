//! What a run's deliveries wait for, or stop at, beyond the run's own pace ([`super::SendPace`]):
//!
//! * **One send rate for the account** ([`SendRate`]). SES's maximum send rate is the account's,
//!   but a statement run and a daily retry (or two retries) may send at the same time, each
//!   pacing itself. So before each message a run also takes one of the account's slots of the
//!   current UTC second from a store every run shares (the `Reports` table's `SES#RATE` items:
//!   `marketplace_aws::reports_table`); when that second's slots are taken, it waits for the next
//!   second. However many runs send, the account's messages in any one second stay within
//!   [`super::SendLimits::per_second`]. A slot taken and then not used (an SDK retry of the
//!   taking write, a crash) makes the runs a little slower, never faster.
//! * **The run's deadline** ([`TimeLeft`], [`DeadlineReserve`]). A Lambda invocation that times
//!   out mid-send leaves the deliveries whose SES calls were in flight in doubt. So a run stops
//!   *claiming* deliveries when less than [`DeadlineReserve::claim`] is left, and a claimed
//!   delivery is not *handed to SES* (its claim is released) when less than
//!   [`DeadlineReserve::hand_over`] is left: both end as [`super::Delivered::Postponed`], and the
//!   run fails so that Lambda's retry delivers them (the ledger skips what went out).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use marketplace_core::DomainError;

/// The account's SES send rate, shared by every run.
#[async_trait]
pub trait SendRate: Send + Sync {
    /// Takes one of `limit` message slots of the UTC second `second` (seconds since the epoch)
    /// for the whole account; `false` when every slot of that second is taken (by any run).
    async fn take_slot(&self, second: u64, limit: u32) -> Result<bool, DomainError>;
}

/// Waits until a slot of the account's send rate is taken for this run (module docs): at most
/// `limit` messages of the account in any UTC second.
pub(super) async fn account_turn(rate: &dyn SendRate, limit: NonZeroU32) -> Result<(), DomainError> {
    loop {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        if rate.take_slot(now.as_secs(), limit.get()).await? {
            return Ok(());
        }
        // Every slot of this second is taken: try again at the start of the next one.
        tokio::time::sleep(Duration::from_secs(now.as_secs() + 1).saturating_sub(now)).await;
    }
}

/// How long a run has left before it is cut off.
pub trait TimeLeft: Send + Sync {
    /// The time left; `None`: no deadline (the command line).
    fn time_left(&self) -> Option<Duration>;
}

/// The current Lambda invocation's deadline (milliseconds since the epoch, from the runtime's
/// invocation context), set by the handler as each invocation starts: a Lambda sandbox runs one
/// invocation at a time. Unset: no deadline.
#[derive(Debug, Default)]
pub struct InvocationDeadline(AtomicU64);

impl InvocationDeadline {
    /// Sets the deadline of the invocation that starts now. A deadline already past as the
    /// invocation starts is no deadline Lambda gives (emulators send 0 or a relative value: the
    /// runtime API emulated by `cargo lambda watch` reads as 1970): the run then has none, as on
    /// the command line, and says so.
    pub fn set(&self, deadline_ms: u64) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let deadline = if u128::from(deadline_ms) > now {
            deadline_ms
        } else {
            tracing::warn!(deadline_ms, "the invocation's deadline is already past as it starts: run without one");
            0
        };
        self.0.store(deadline, Ordering::SeqCst);
    }
}

impl TimeLeft for InvocationDeadline {
    fn time_left(&self) -> Option<Duration> {
        let deadline = self.0.load(Ordering::SeqCst);
        if deadline == 0 {
            return None;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Some(Duration::from_millis(deadline).saturating_sub(now))
    }
}

/// How much time a run keeps in hand before its deadline (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineReserve {
    /// No new claim with less than this left: a claimed delivery still reads the provider's
    /// record and chart, renders, hands over, sends and records (a few round trips, well under
    /// a second each; 90 s leaves room for slow ones and for the hand-over's own reserve).
    pub claim: Duration,
    /// No hand-over to SES with less than this left: the send and the record must both finish
    /// before the deadline (normally well under a second together; 45 s holds one SES attempt
    /// cut at its 30 s timeout, its retry and the record). Only an SES call that outlasts this
    /// can still be cut by the deadline, and then its delivery is in doubt (alarmed), as after
    /// any crash.
    pub hand_over: Duration,
}

impl Default for DeadlineReserve {
    fn default() -> Self {
        DeadlineReserve { claim: Duration::from_secs(90), hand_over: Duration::from_secs(45) }
    }
}

/// Whether `left` has less than `reserve` left.
pub(super) fn short_of(left: Option<&dyn TimeLeft>, reserve: Duration) -> bool {
    left.and_then(TimeLeft::time_left).is_some_and(|left| left < reserve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_past_as_the_invocation_starts_is_none_and_a_future_one_counts_down() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        let deadline = InvocationDeadline::default();
        assert_eq!(deadline.time_left(), None, "unset: no deadline");
        deadline.set(900_000);
        assert_eq!(deadline.time_left(), None, "1970: not a deadline Lambda gives");
        deadline.set(now + 600_000);
        let left = deadline.time_left().expect("a deadline");
        assert!(left <= Duration::from_secs(600) && left > Duration::from_secs(500), "{left:?}");
    }
}
