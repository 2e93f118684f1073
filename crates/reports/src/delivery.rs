//! Exactly-once delivery of report emails per (date, recipient) — and of statement emails per
//! (month, provider) — with a conditional-write ledger.
//!
//! SES has no idempotency key, so "exactly once" is built from a ledger item per delivery
//! ([`super::storage::delivery_key`], named by [`DeliveryOf`]):
//! 1. **claim** — conditional put `attribute_not_exists(pk)` with state `SENDING` and a fresh
//!    token. If the item exists: `SENT` → skip (already delivered); `SENDING` → *in doubt* (an
//!    earlier run died between claiming and recording, or runs concurrently): skip and report it.
//! 2. **send** through the `Mailer`.
//! 3. **record** — update to `SENT` with the SES message id, conditional on the token. If the
//!    send failed, the claim is released (deleted, conditional on the token), so the next run
//!    retries.
//!
//! Every path sends at most once; all paths except a crash between 2 and 3 send exactly once,
//! and that crash leaves a visible `SENDING` item rather than a duplicate. `--resend` overrides
//! the ledger (claims unconditionally) for an explicit re-send.
//!
//! A run's deliveries go out concurrently through one [`Sender`]: at most
//! [`SendLimits::concurrency`] in flight, SES messages paced to [`SendLimits::per_second`]
//! ([`SendPace`]). Each delivery still claims, sends and records on its own, so concurrency
//! changes how long a run takes, never what it sends.

use std::future::Future;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::time::Instant;

use super::aggregate::ErrorRow;
use super::email::{provider_report_email, team_summary_email, ReportPicture, ATTACHMENT_BUDGET_BYTES};
use super::storage::{DeliveryOf, Recipient};
use super::DailyReport;
use marketplace_core::email::Email;
use marketplace_core::ports::{Mailer, ProviderDirectory};
use marketplace_core::{DomainError, PortalConfig};

/// What the ledger held when a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefused {
    /// Delivered before.
    AlreadySent,
    /// Claimed but never recorded as sent.
    InDoubt,
}

/// The delivery ledger (DynamoDB implementation in the job): one entry per (what, recipient).
#[async_trait]
pub trait DeliveryLedger: Send + Sync {
    /// Claims the delivery with `token`; `force` overwrites any existing entry (re-send).
    async fn claim(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        force: bool,
    ) -> Result<Result<(), ClaimRefused>, DomainError>;
    /// Records the delivery as sent (only if still claimed with `token`).
    async fn record_sent(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        message_ids: &[String],
    ) -> Result<(), DomainError>;
    /// Drops a claim after a failed send (only if still claimed with `token`).
    async fn release(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<(), DomainError>;
}

/// Outcome of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Sent now (SES message ids).
    Sent(Vec<String>),
    /// Skipped: the ledger says it was sent before.
    AlreadySent,
    /// Skipped: claimed earlier but not recorded; needs an operator (`--resend`).
    InDoubt,
}

/// Sends `emails` (one delivery, possibly several messages) once per (`of`, recipient): `of` is
/// a report date or a statement's month ([`DeliveryOf`]).
pub async fn deliver_once(
    ledger: &dyn DeliveryLedger,
    mailer: &dyn Mailer,
    of: impl Into<DeliveryOf> + Send,
    to: &Recipient,
    emails: &[Email],
    token: &str,
    resend: bool,
) -> Result<Delivered, DomainError> {
    let of = of.into();
    match ledger.claim(of, to, token, resend).await? {
        Err(ClaimRefused::AlreadySent) => return Ok(Delivered::AlreadySent),
        Err(ClaimRefused::InDoubt) => return Ok(Delivered::InDoubt),
        Ok(()) => {}
    }
    let mut ids = Vec::new();
    for email in emails {
        match mailer.send(email).await {
            Ok(id) => ids.push(id),
            Err(e) if ids.is_empty() => {
                ledger.release(of, to, token).await?;
                return Err(e);
            }
            Err(e) => {
                // Part of the delivery went out: record what did, so nothing is repeated.
                ledger.record_sent(of, to, token, &ids).await?;
                return Err(e);
            }
        }
    }
    ledger.record_sent(of, to, token, &ids).await?;
    Ok(Delivered::Sent(ids))
}

/// Counts of one delivery pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Messages sent.
    pub sent: usize,
    /// Deliveries skipped as already sent.
    pub already_sent: usize,
    /// Deliveries skipped as in doubt (claimed, never recorded): who they were for.
    pub in_doubt: Vec<String>,
    /// Providers without a contact address in the provider store.
    pub no_recipient: usize,
    /// Deliveries that failed (recipient, reason); the others still went out.
    pub failed: Vec<(String, String)>,
}

/// Which deliveries to send again even though the ledger has them (operator's re-send).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Resend {
    /// None: the ledger decides (the nightly default).
    #[default]
    Nothing,
    /// Every provider and the team.
    All,
    /// These providers only.
    Providers(std::collections::BTreeSet<String>),
}

impl Resend {
    /// Whether the delivery to `to` is sent again.
    pub fn covers(&self, to: &Recipient) -> bool {
        match (self, to) {
            (Resend::Nothing, _) => false,
            (Resend::All, _) => true,
            (Resend::Providers(ids), Recipient::Provider(id)) => ids.contains(id),
            (Resend::Providers(_), Recipient::Team) => false,
        }
    }
}

impl From<bool> for Resend {
    fn from(all: bool) -> Self {
        if all {
            Resend::All
        } else {
            Resend::Nothing
        }
    }
}

/// Supplies one provider's error rows when the report does not hold them (asked in provider
/// order; the job reads them back from its spill).
pub type ErrorRowsOf<'a> = &'a mut (dyn FnMut(&str) -> Result<Vec<ErrorRow>, String> + Send);

/// Draws the 30-day chart of a provider's report email (the job's implementation reads the
/// provider's earlier days from the `Reports` table and draws with `plotters`). Asked once per
/// provider, one at a time, so only one picture is in memory.
#[async_trait]
pub trait ReportCharts: Send + Sync {
    /// The chart of `provider_id`'s 30 days ending at `report.date` (that day from `report`).
    async fn chart(&self, report: &DailyReport, provider_id: &str) -> Result<ReportPicture, DomainError>;
}

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
        let at = {
            let mut next = self.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// A mailer that waits for its turn at a [`SendPace`] before every message.
pub struct PacedMailer<'a> {
    mailer: &'a dyn Mailer,
    pace: SendPace,
}

impl<'a> PacedMailer<'a> {
    /// `mailer`, at most `per_second` messages per second.
    pub fn new(mailer: &'a dyn Mailer, per_second: NonZeroU32) -> Self {
        PacedMailer { mailer, pace: SendPace::new(per_second) }
    }
}

#[async_trait]
impl Mailer for PacedMailer<'_> {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        self.pace.turn().await;
        self.mailer.send(email).await
    }
}

/// One run's deliveries (daily reports or monthly statements): the ledger, the paced mailer,
/// the run's claim token, and at most [`SendLimits::concurrency`] deliveries in flight.
///
/// Concurrency is on the caller's task ([`Sender::each`] polls the in-flight deliveries
/// together; nothing is spawned): the ledger's conditional writes make concurrent deliveries,
/// and concurrent runs, safe, and the pace keeps their sum within SES's rate.
pub struct Sender<'a> {
    ledger: &'a dyn DeliveryLedger,
    mailer: PacedMailer<'a>,
    token: String,
    concurrency: NonZeroUsize,
}

impl<'a> Sender<'a> {
    /// A run's sender with a fresh claim token.
    pub fn new(ledger: &'a dyn DeliveryLedger, mailer: &'a dyn Mailer, limits: SendLimits) -> Self {
        let token = format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
        Sender { ledger, mailer: PacedMailer::new(mailer, limits.per_second), token, concurrency: limits.concurrency }
    }

    /// [`deliver_once`] with this run's token, paced.
    pub async fn deliver(
        &self,
        of: impl Into<DeliveryOf> + Send,
        to: &Recipient,
        emails: &[Email],
        force: bool,
    ) -> Result<Delivered, DomainError> {
        deliver_once(self.ledger, &self.mailer, of, to, emails, &self.token, force).await
    }

    /// Starts `work` for every item in order, keeping at most `concurrency` of them in flight,
    /// and hands each outcome to `done` as it completes. `work` itself is called in item order,
    /// one at a time, when a place is free: what it does before returning its future (e.g.
    /// reading the next provider's rows from a sequential reader) happens in order, and at most
    /// `concurrency` futures (and whatever they hold) exist at once.
    pub async fn each<I, F, Fut>(&self, items: I, work: F, mut done: impl FnMut(Fut::Output))
    where
        I: IntoIterator,
        F: FnMut(I::Item) -> Fut,
        Fut: Future,
    {
        let mut outcomes = futures::stream::iter(items).map(work).buffer_unordered(self.concurrency.get());
        while let Some(outcome) = outcomes.next().await {
            done(outcome);
        }
    }
}

/// Everything delivery needs.
pub struct DeliveryServices<'a> {
    /// Ledger.
    pub ledger: &'a dyn DeliveryLedger,
    /// Mailer (SES).
    pub mailer: &'a dyn Mailer,
    /// Provider contact addresses.
    pub providers: &'a dyn ProviderDirectory,
    /// Sender, reply-to, team inbox, portal URL.
    pub config: &'a PortalConfig,
    /// The providers' charts; `None` sends the emails without one.
    pub charts: Option<&'a dyn ReportCharts>,
    /// Deliveries in flight and SES's send rate.
    pub limits: SendLimits,
}

fn recipient_name(to: &Recipient) -> String {
    match to {
        Recipient::Provider(id) => id.clone(),
        Recipient::Team => "the marketplace team".to_owned(),
    }
}

/// What became of one provider's report email.
enum ProviderOutcome {
    /// Delivered, skipped by the ledger, or failed to send.
    Delivery(Result<Delivered, DomainError>),
    /// No provider record: no address.
    NoRecipient,
    /// Not sent for a reason before the send (provider record or error rows unreadable).
    Failed(String),
    /// Nothing to send.
    Nothing,
}

/// Emails every provider of `report` its files and the team the summary, once per (date,
/// recipient) unless `resend` covers it. No single recipient stops the others: a failed
/// delivery (rejected address, message too large, throttling beyond the SDK's retries, a ledger
/// write that failed) is logged and listed in [`DeliveryCounts::failed`], and the pass goes on.
///
/// Providers are delivered concurrently ([`SendLimits`]): each delivery (provider record, chart,
/// email, ledger claim, send, record) is a handful of round trips, so at most `concurrency` are
/// in flight, and SES messages are paced to `per_second`. The team summary goes last, after every
/// provider's delivery ended.
///
/// `errors_of`, when given, supplies each provider's error rows (in provider order) for a report
/// whose error rows were streamed out of memory; otherwise the report holds them. It is called
/// in provider order, when a place among the in-flight deliveries is free.
///
/// **Memory**: at most `concurrency` provider deliveries exist at once, each holding its error
/// rows and one email (attachments within [`ATTACHMENT_BUDGET_BYTES`], 7 MiB, plus their MIME
/// encoding, ≤ 10 MB, while it is sent): a bound of `concurrency` × ≈ 17 MiB (≈ 136 MiB at the
/// default 8), whatever the number of providers. Typical report emails are tens of KiB.
pub async fn deliver_reports(
    services: &DeliveryServices<'_>,
    report: &DailyReport,
    resend: &Resend,
    mut errors_of: Option<ErrorRowsOf<'_>>,
) -> DeliveryCounts {
    let mut counts = DeliveryCounts::default();
    let sender = Sender::new(services.ledger, services.mailer, services.limits);
    let date = report.date;
    sender
        .each(
            report.providers.keys(),
            |provider_id| {
                // Read here, in provider order: the spill is one sequential reader.
                let errors = errors_of.as_mut().map(|errors_of| errors_of(provider_id));
                provider_delivery(services, &sender, report, resend, provider_id, errors)
            },
            |(provider_id, outcome)| match outcome {
                ProviderOutcome::Delivery(result) => counts.add(date, &Recipient::Provider(provider_id), result),
                ProviderOutcome::NoRecipient => counts.no_recipient += 1,
                ProviderOutcome::Failed(why) => counts.failed.push((provider_id, why)),
                ProviderOutcome::Nothing => {}
            },
        )
        .await;
    // Completion order varies with concurrency; the counts list providers in order.
    counts.failed.sort();
    counts.in_doubt.sort();
    let team = team_summary_email(services.config, report, ATTACHMENT_BUDGET_BYTES);
    let to = Recipient::Team;
    let result = sender.deliver(date, &to, &[team], resend.covers(&to)).await;
    counts.add(date, &to, result);
    counts
}

/// One provider's report email: its record, its rows (`errors`, when streamed), its chart, the
/// email, the delivery.
async fn provider_delivery(
    services: &DeliveryServices<'_>,
    sender: &Sender<'_>,
    report: &DailyReport,
    resend: &Resend,
    provider_id: &str,
    errors: Option<Result<Vec<ErrorRow>, String>>,
) -> (String, ProviderOutcome) {
    let outcome = async {
        let provider = match services.providers.get_provider(provider_id).await {
            Ok(Some(provider)) => provider,
            Ok(None) => {
                tracing::warn!(provider_id, "no provider record: report not emailed");
                return ProviderOutcome::NoRecipient;
            }
            Err(e) => {
                tracing::error!(provider_id, error = %e, "provider record unreadable: report not emailed");
                return ProviderOutcome::Failed(e.to_string());
            }
        };
        let hydrated = match errors {
            None => None,
            Some(Ok(errors)) => Some(report.for_provider(provider_id, errors)),
            Some(Err(e)) => return ProviderOutcome::Failed(format!("error rows unreadable: {e}")),
        };
        // A chart that cannot be made never holds the report back: the email goes without it.
        let chart = match services.charts {
            None => None,
            Some(charts) => match charts.chart(report, provider_id).await {
                Ok(chart) => Some(chart),
                Err(e) => {
                    tracing::warn!(provider_id, error = %e, "no chart: the report email goes without it");
                    None
                }
            },
        };
        let Some(email) = provider_report_email(
            services.config,
            hydrated.as_ref().unwrap_or(report),
            &provider,
            chart.as_ref(),
            ATTACHMENT_BUDGET_BYTES,
        ) else {
            return ProviderOutcome::Nothing;
        };
        drop((hydrated, chart));
        let to = Recipient::Provider(provider_id.to_owned());
        ProviderOutcome::Delivery(sender.deliver(report.date, &to, &[email], resend.covers(&to)).await)
    }
    .await;
    (provider_id.to_owned(), outcome)
}

impl DeliveryCounts {
    /// Counts one delivery's result (and logs what needs an operator).
    fn add(&mut self, date: chrono::NaiveDate, to: &Recipient, result: Result<Delivered, DomainError>) {
        match result {
            Ok(Delivered::Sent(ids)) => self.sent += ids.len(),
            Ok(Delivered::AlreadySent) => self.already_sent += 1,
            Ok(Delivered::InDoubt) => {
                tracing::warn!(recipient = ?to, %date, "delivery in doubt (claimed earlier, never recorded): check the recipient's mail, then re-send (README, \"Deliveries in doubt\")");
                self.in_doubt.push(recipient_name(to));
            }
            Err(e) => {
                tracing::error!(recipient = ?to, %date, error = %e, "delivery failed; the others go on");
                self.failed.push((recipient_name(to), e.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct MemLedger(Mutex<HashMap<String, (String, bool)>>);

    fn k(of: DeliveryOf, to: &Recipient) -> String {
        format!("{of:?}{to:?}")
    }

    #[async_trait]
    impl DeliveryLedger for MemLedger {
        async fn claim(
            &self,
            of: DeliveryOf,
            to: &Recipient,
            token: &str,
            force: bool,
        ) -> Result<Result<(), ClaimRefused>, DomainError> {
            let mut m = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
            match m.get(&k(of, to)) {
                Some((_, true)) if !force => Ok(Err(ClaimRefused::AlreadySent)),
                Some((_, false)) if !force => Ok(Err(ClaimRefused::InDoubt)),
                _ => {
                    m.insert(k(of, to), (token.into(), false));
                    Ok(Ok(()))
                }
            }
        }
        async fn record_sent(
            &self,
            of: DeliveryOf,
            to: &Recipient,
            token: &str,
            _: &[String],
        ) -> Result<(), DomainError> {
            let mut m = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
            if let Some(e) = m.get_mut(&k(of, to)).filter(|e| e.0 == token) {
                e.1 = true;
            }
            Ok(())
        }
        async fn release(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<(), DomainError> {
            let mut m = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
            if m.get(&k(of, to)).is_some_and(|e| e.0 == token) {
                m.remove(&k(of, to));
            }
            Ok(())
        }
    }

    struct CountingMailer(Mutex<u32>, bool);

    #[async_trait]
    impl Mailer for CountingMailer {
        async fn send(&self, _: &Email) -> Result<String, DomainError> {
            if self.1 {
                return Err(DomainError::infra("send", "down"));
            }
            let mut n = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
            *n += 1;
            Ok(format!("msg-{n}"))
        }
    }

    fn email() -> Email {
        Email {
            from: "a@x".into(),
            reply_to: "a@x".into(),
            to: vec!["b@x".into()],
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            attachments: vec![],
            inline_images: vec![],
        }
    }

    fn day() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 2, 14).unwrap_or_default()
    }

    #[tokio::test]
    async fn second_delivery_of_the_same_date_sends_nothing_unless_resend() {
        let ledger = MemLedger::default();
        let mailer = CountingMailer(Mutex::new(0), false);
        let to = Recipient::Provider("acme".into());
        let first = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t1", false).await.expect("ok");
        assert_eq!(first, Delivered::Sent(vec!["msg-1".into()]));
        let again = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t2", false).await.expect("ok");
        assert_eq!(again, Delivered::AlreadySent);
        let forced = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t3", true).await.expect("ok");
        assert_eq!(forced, Delivered::Sent(vec!["msg-2".into()]));
        let team = deliver_once(&ledger, &mailer, day(), &Recipient::Team, &[email()], "t4", false).await.expect("ok");
        assert!(matches!(team, Delivered::Sent(_)));
        // The month's statement is a delivery of its own: the daily one does not stand in for it.
        let month = super::super::statement::Month::of(day());
        let statement = deliver_once(&ledger, &mailer, month, &to, &[email()], "t5", false).await.expect("ok");
        assert_eq!(statement, Delivered::Sent(vec!["msg-4".into()]));
        let again = deliver_once(&ledger, &mailer, month, &to, &[email()], "t6", false).await.expect("ok");
        assert_eq!(again, Delivered::AlreadySent);
    }

    #[tokio::test]
    async fn failed_send_releases_the_claim_so_the_next_run_retries() {
        let ledger = MemLedger::default();
        let to = Recipient::Provider("acme".into());
        let down = CountingMailer(Mutex::new(0), true);
        assert!(deliver_once(&ledger, &down, day(), &to, &[email()], "t1", false).await.is_err());
        let up = CountingMailer(Mutex::new(0), false);
        let retry = deliver_once(&ledger, &up, day(), &to, &[email()], "t2", false).await.expect("ok");
        assert!(matches!(retry, Delivered::Sent(_)));
    }

    #[tokio::test]
    async fn claim_without_record_is_in_doubt_and_not_resent() {
        let ledger = MemLedger::default();
        let to = Recipient::Provider("acme".into());
        assert!(ledger.claim(day().into(), &to, "crashed", false).await.expect("ok").is_ok());
        let mailer = CountingMailer(Mutex::new(0), false);
        let out = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t2", false).await.expect("ok");
        assert_eq!(out, Delivered::InDoubt);
        assert_eq!(*mailer.0.lock().expect("lock"), 0);
    }

    fn limits(concurrency: usize, per_second: u32) -> SendLimits {
        SendLimits {
            concurrency: NonZeroUsize::new(concurrency).expect("not zero"),
            per_second: NonZeroU32::new(per_second).expect("not zero"),
        }
    }

    #[test]
    fn send_limits_default_to_8_in_flight_and_14_per_second_and_refuse_nonsense() {
        let of = |pairs: &'static [(&'static str, &'static str)]| {
            SendLimits::from_lookup(move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
        };
        assert_eq!(of(&[]).expect("defaults"), limits(8, 14));
        assert_eq!(of(&[("REPORT_SEND_CONCURRENCY", " "), ("SES_MAX_SEND_RATE", "")]).expect("blank"), limits(8, 14));
        assert_eq!(of(&[("REPORT_SEND_CONCURRENCY", "1"), ("SES_MAX_SEND_RATE", "50")]).expect("set"), limits(1, 50));
        match of(&[("REPORT_SEND_CONCURRENCY", "0"), ("SES_MAX_SEND_RATE", "14.5")]) {
            Err(DomainError::Invalid(problems)) => {
                assert_eq!(problems.len(), 2, "{problems:?}");
                assert!(problems[0].contains("REPORT_SEND_CONCURRENCY") && problems[1].contains("SES_MAX_SEND_RATE"));
            }
            other => panic!("expected both refused, got {other:?}"),
        }
        assert!(of(&[("REPORT_SEND_CONCURRENCY", "257")]).is_err());
    }

    /// Notes the (tokio) instant of every send.
    #[derive(Default)]
    struct ClockedMailer(Mutex<Vec<Instant>>);

    #[async_trait]
    impl Mailer for ClockedMailer {
        async fn send(&self, _: &Email) -> Result<String, DomainError> {
            let mut at = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
            at.push(Instant::now());
            Ok(format!("msg-{}", at.len()))
        }
    }

    // Paused time: the clock only moves when every task waits on a timer, so the instants are
    // exact and the test takes no wall-clock time.
    #[tokio::test(start_paused = true)]
    async fn concurrent_sends_never_go_faster_than_the_rate() {
        let clocked = ClockedMailer::default();
        let paced = PacedMailer::new(&clocked, NonZeroU32::new(4).expect("4"));
        let email = email();
        let start = Instant::now();
        let sends: Vec<_> = (0..10).map(|_| paced.send(&email)).collect();
        for sent in futures::future::join_all(sends).await {
            sent.expect("sent");
        }
        let at = clocked.0.lock().expect("lock").clone();
        assert_eq!(at.len(), 10);
        assert_eq!(at[0], start, "the first send does not wait");
        for pair in at.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(250), "4 per second: one every 250 ms");
        }
        // After a quiet spell the pace does not save up a burst: the next send is one slot on.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let quiet = Instant::now();
        let (a, b) = tokio::join!(paced.send(&email), paced.send(&email));
        a.expect("sent");
        b.expect("sent");
        let at = clocked.0.lock().expect("lock").clone();
        assert_eq!((at[10] - quiet, at[11] - quiet), (Duration::ZERO, Duration::from_millis(250)));
    }

    #[tokio::test(start_paused = true)]
    async fn each_keeps_at_most_the_limit_in_flight_and_starts_work_in_order() {
        let ledger = MemLedger::default();
        let mailer = CountingMailer(Mutex::new(0), false);
        let sender = Sender::new(&ledger, &mailer, limits(3, 14));
        let in_flight = Mutex::new((0usize, 0usize));
        let mut started = Vec::new();
        let mut finished = Vec::new();
        sender
            .each(
                0..10u64,
                |i| {
                    started.push(i);
                    let in_flight = &in_flight;
                    async move {
                        {
                            let mut n = in_flight.lock().expect("lock");
                            n.0 += 1;
                            n.1 = n.1.max(n.0);
                        }
                        // Later items finish sooner: completion order is not start order.
                        tokio::time::sleep(Duration::from_millis(100 * (10 - i))).await;
                        in_flight.lock().expect("lock").0 -= 1;
                        i
                    }
                },
                |i| finished.push(i),
            )
            .await;
        assert_eq!(started, (0..10).collect::<Vec<_>>(), "work is started in item order");
        assert_eq!(in_flight.lock().expect("lock").1, 3, "never more than 3 in flight");
        finished.sort_unstable();
        assert_eq!(finished, (0..10).collect::<Vec<_>>(), "every item done once");
    }

    /// One provider record (acme), nothing else.
    struct OneProvider;

    #[async_trait]
    impl ProviderDirectory for OneProvider {
        async fn get_provider(
            &self,
            provider_id: &str,
        ) -> Result<Option<marketplace_core::provider::Provider>, DomainError> {
            Ok((provider_id == "acme").then(marketplace_core::provider::Provider::example))
        }
    }

    /// Keeps every email it is given.
    #[derive(Default)]
    struct KeepingMailer(Mutex<Vec<Email>>);

    #[async_trait]
    impl Mailer for KeepingMailer {
        async fn send(&self, email: &Email) -> Result<String, DomainError> {
            let mut sent = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
            sent.push(email.clone());
            Ok(format!("msg-{}", sent.len()))
        }
    }

    /// A chart source that draws a fixed picture, or fails.
    struct Charts(bool);

    #[async_trait]
    impl ReportCharts for Charts {
        async fn chart(&self, report: &DailyReport, provider_id: &str) -> Result<ReportPicture, DomainError> {
            if !self.0 {
                return Err(DomainError::infra("Query Reports", "throttled"));
            }
            Ok(ReportPicture {
                png: format!("png of {provider_id} {}", report.date).into_bytes(),
                alt_text: "alt".into(),
                width: 720,
                height: 360,
                caption: "caption".into(),
                header: vec!["Date".into()],
                rows: vec![],
            })
        }
    }

    fn acme_report() -> DailyReport {
        let line = r#"{"Item":{"deployment_id":{"S":"d-1"},"provider_id":{"S":"acme"},"product_id":{"S":"vault"},"product_name":{"S":"Vault"},"customer_alias":{"S":"C"},"started_at":{"S":"2026-02-14T01:00:00Z"},"finished_at":{"S":"2026-02-14T02:00:00Z"},"status":{"S":"SUCCEEDED"},"errors":{"L":[]},"billing_model":{"S":"monthly"},"quantity":{"N":"1"},"unit_price":{"N":"49.99"},"currency":{"S":"USD"},"provider_share":{"N":"0.8"}}}"#;
        let mut agg = crate::Aggregator::new(crate::ReportPlan::single(day()));
        let item = crate::attribute::parse_export_line(line).expect("line");
        agg.ingest_item(&item, &String::new).expect("ok");
        agg.finish().expect("ok").remove(0)
    }

    #[tokio::test]
    async fn the_provider_email_carries_the_chart_and_goes_without_it_when_the_chart_fails() {
        let config = PortalConfig::example();
        for works in [true, false] {
            let (ledger, mailer) = (MemLedger::default(), KeepingMailer::default());
            let charts = Charts(works);
            let services = DeliveryServices {
                ledger: &ledger,
                mailer: &mailer,
                providers: &OneProvider,
                config: &config,
                charts: Some(&charts),
                limits: SendLimits::default(),
            };
            let counts = deliver_reports(&services, &acme_report(), &Resend::Nothing, None).await;
            assert_eq!((counts.sent, counts.failed.len()), (2, 0), "provider and team, chart works: {works}");
            let sent = mailer.0.lock().expect("lock");
            let images: Vec<_> = sent[0].inline_images.iter().map(|i| i.data.clone()).collect();
            if works {
                assert_eq!(images, [b"png of acme 2026-02-14".to_vec()]);
            } else {
                assert!(images.is_empty() && !sent[0].html.contains("<img"));
            }
            assert!(sent[1].inline_images.is_empty(), "the team's email has no chart");
        }
    }
}
