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
use std::num::NonZeroUsize;

use async_trait::async_trait;
use futures::StreamExt;

use crate::email::{provider_report_email, team_summary_email, ReportPicture, ATTACHMENT_BUDGET_BYTES};
use crate::rows::{DailyReport, ErrorRow};
use crate::storage::{DeliveryOf, Recipient};
use marketplace_core::email::Email;
use marketplace_core::ports::{Mailer, ProviderDirectory};
use marketplace_core::{DomainError, PortalConfig};

mod pace;

pub use pace::{PacedMailer, SendLimits, SendPace};

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
mod tests;
