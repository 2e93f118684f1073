//! Time and mail for the report job's tests: the time a run has left is the test's (never the
//! machine's), and it runs short at a chosen email.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use marketplace_core::email::Email;
use marketplace_core::ports::Mailer;
use marketplace_core::DomainError;
use marketplace_reports::delivery::TimeLeft;
use nightly_reports::app::AwsContext;

/// A clock the test sets: the time the run has left, in seconds.
pub struct TestClock(pub AtomicU64);

impl TimeLeft for TestClock {
    fn time_left(&self) -> Option<Duration> {
        Some(Duration::from_secs(self.0.load(Ordering::SeqCst)))
    }
}

/// The real mailer; as SES accepts the `n`-th email, the run's time runs short (10 s left: less
/// than either deadline reserve).
struct ClockMailer {
    inner: Box<dyn Mailer>,
    clock: Arc<TestClock>,
    sent: AtomicUsize,
    n: usize,
}

#[async_trait]
impl Mailer for ClockMailer {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        let id = self.inner.send(email).await?;
        if self.sent.fetch_add(1, Ordering::SeqCst) + 1 == self.n {
            self.clock.0.store(10, Ordering::SeqCst);
        }
        Ok(id)
    }
}

/// The placeholder while the real mailer is moved into a wrapper.
pub struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send(&self, _: &Email) -> Result<String, DomainError> {
        Err(DomainError::infra("SendRawEmail", "no mailer"))
    }
}

/// Gives `aws`'s run fifteen minutes, until SES accepts its `n`-th email: then 10 s.
pub fn time_runs_short_at_email(aws: &mut AwsContext, n: usize) {
    let clock = Arc::new(TestClock(AtomicU64::new(900)));
    aws.time_left = clock.clone();
    let real = std::mem::replace(&mut aws.mailer, Box::new(NoMailer));
    aws.mailer = Box::new(ClockMailer { inner: real, clock, sent: AtomicUsize::new(0), n });
}
