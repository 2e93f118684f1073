//! Exactly-once delivery of report emails per (date, recipient) — and of statement emails per
//! (month, provider) — with a conditional-write ledger.
//!
//! SES has no idempotency key, so "exactly once" is built from a ledger item per delivery
//! ([`super::storage::delivery_key`], named by [`DeliveryOf`]) that moves through three states:
//! 1. **claim** — put `CLAIMED` with the run's token, unless the item is `SENDING` or `SENT`.
//!    A `CLAIMED` item is taken over: its run died (or is still working) *before* handing the
//!    delivery to SES, so nothing of it can have gone out. `SENT` → skip (already delivered);
//!    `SENDING` → *in doubt*: skip and report it.
//! 2. **hand over** — right before the first SES call, update to `SENDING`, conditional on the
//!    token. If another run took the claim over meanwhile, the condition fails and this run
//!    sends nothing (the other run delivers): two runs never both pass this step.
//! 3. **send** through the `Mailer`.
//! 4. **record** — update to `SENT` with the SES message ids, conditional on the token. If the
//!    send failed, the claim is released (deleted, conditional on the token), so the next run
//!    retries.
//!
//! Every step is safe to repeat (an SDK retry of a write that succeeded finds its own token).
//! Every path sends at most once. A crash before 2 leaves a `CLAIMED` item that the next run
//! takes over and sends; only a crash between 2 and 4 — while the SES call is in flight, or
//! between SES's answer and the record — leaves a `SENDING` item: the delivery is *in doubt*.
//! So the in-doubt set after a crash is at most the deliveries whose SES calls were in flight
//! ([`SendLimits::concurrency`] at the most), never those merely claimed.
//!
//! **In doubt is held for an operator, not re-sent.** The portal's outbox re-sends its in-doubt
//! email because an event's idempotency claim rules out a second live invocation; the job has no
//! such exclusion (a statement run and a daily retry, or two retries, may run at once), so a
//! `SENDING` item may belong to a run whose SES call is in flight right now, and re-sending it
//! would duplicate a live delivery, not only a dead one. The run reports the in-doubt deliveries
//! (`deliveries_in_doubt`, alarmed); the operator checks the recipient's mail and re-sends with
//! `--resend` (docs/operations.md, "Deliveries in doubt").
//!
//! A run's deliveries go out concurrently through one [`Sender`]: at most
//! [`SendLimits::concurrency`] in flight, SES messages paced to [`SendLimits::per_second`]
//! ([`SendPace`]). Each delivery still claims, hands over, sends and records on its own, so
//! concurrency changes how long a run takes, never what it sends. The pace is shared with every
//! other sending run (one send rate for the account), and a run stops claiming and handing over
//! deliveries before its deadline ([`Delivered::Postponed`]): module `turns`.

use std::future::Future;
use std::num::NonZeroUsize;

use async_trait::async_trait;
use futures::StreamExt;

use crate::email::{provider_report_email, team_summary_email_with, ReportPicture, ATTACHMENT_BUDGET_BYTES};
use crate::rows::{DailyReport, ErrorRow};
use crate::storage::{DeliveryOf, Recipient};
use marketplace_core::email::Email;
use marketplace_core::ports::{EmailTags, Mailer, ProviderDirectory};
use marketplace_core::{DomainError, PortalConfig};

mod pace;
mod resend;
mod suppression;
mod turns;

pub use pace::{SendLimits, SendPace};
pub use resend::Resend;
pub use suppression::suppressed_because;
pub use turns::{DeadlineReserve, InvocationDeadline, SendRate, TimeLeft};

/// What the ledger held when a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefused {
    /// Delivered before.
    AlreadySent,
    /// Claimed but never recorded as sent.
    InDoubt,
}

/// The delivery ledger (DynamoDB implementation in `marketplace-aws`): one entry per (what,
/// recipient), `CLAIMED` → `SENDING` → `SENT` (module docs).
#[async_trait]
pub trait DeliveryLedger: Send + Sync {
    /// Claims the delivery with `token` unless it is handed over or sent (a `CLAIMED` entry is
    /// taken over; one with `token` is this run's own); `force` overwrites any entry (re-send).
    async fn claim(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        force: bool,
    ) -> Result<Result<(), ClaimRefused>, DomainError>;
    /// Marks the claim as handed to SES, right before the first send (only if still claimed
    /// with `token`): `false` when another run took the claim over, and this run must not send.
    async fn hand_over(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<bool, DomainError>;
    /// Records the delivery as sent (only if still claimed with `token`).
    async fn record_sent(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        message_ids: &[String],
    ) -> Result<(), DomainError>;
    /// Drops a claim after a failed send, or when there is nothing to send after all (only if
    /// still claimed with `token`).
    async fn release(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<(), DomainError>;

    /// Records the claimed delivery as suppressed, not sent: its recipient's address is
    /// undeliverable (only if still claimed with `token`). A later claim takes it over like a
    /// claimed one, so a run after the contact changed sends it. A ledger that keeps no such
    /// state only releases the claim (the default).
    async fn record_suppressed(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        reason: &str,
    ) -> Result<(), DomainError> {
        let _ = reason;
        self.release(of, to, token).await
    }
}

/// Outcome of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Sent now (SES message ids).
    Sent(Vec<String>),
    /// Skipped: the ledger says it was sent before, or another run took the claim over before
    /// this one handed it to SES (that run delivers it).
    AlreadySent,
    /// Skipped: handed to SES earlier but never recorded; needs an operator (`--resend`).
    InDoubt,
    /// Not started (or its claim released before the hand-over): the run's time is running out
    /// ([`DeadlineReserve`]); the next run (Lambda's retry) delivers it.
    Postponed,
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
    let limits = SendLimits { concurrency: NonZeroUsize::MIN, per_second: std::num::NonZeroU32::MAX };
    Sender::with_token(ledger, mailer, limits, token.to_owned()).deliver(of, to, emails, resend).await
}

/// Step 1: claims the delivery; `Some` is why it is skipped.
async fn claim(
    ledger: &dyn DeliveryLedger,
    of: DeliveryOf,
    to: &Recipient,
    token: &str,
    force: bool,
) -> Result<Option<Delivered>, DomainError> {
    Ok(match ledger.claim(of, to, token, force).await? {
        Ok(()) => None,
        Err(ClaimRefused::AlreadySent) => Some(Delivered::AlreadySent),
        Err(ClaimRefused::InDoubt) => Some(Delivered::InDoubt),
    })
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
    /// Offboarded providers: their reports are stored, their emails not sent.
    pub offboarded: usize,
    /// Providers whose contact address is undeliverable: recorded as suppressed, not sent.
    pub suppressed: usize,
    /// Deliveries that failed (recipient, reason); the others still went out.
    pub failed: Vec<(String, String)>,
    /// Deliveries left to the next run because this one's time ran short: who they were for.
    pub postponed: Vec<String>,
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
    mailer: &'a dyn Mailer,
    pace: SendPace,
    per_second: std::num::NonZeroU32,
    token: String,
    concurrency: NonZeroUsize,
    rate: Option<&'a dyn SendRate>,
    time_left: Option<&'a dyn TimeLeft>,
}

impl<'a> Sender<'a> {
    /// A run's sender with a fresh claim token.
    pub fn new(ledger: &'a dyn DeliveryLedger, mailer: &'a dyn Mailer, limits: SendLimits) -> Self {
        let token = format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
        Self::with_token(ledger, mailer, limits, token)
    }

    fn with_token(ledger: &'a dyn DeliveryLedger, mailer: &'a dyn Mailer, limits: SendLimits, token: String) -> Self {
        Sender {
            ledger,
            mailer,
            pace: SendPace::new(limits.per_second),
            per_second: limits.per_second,
            token,
            concurrency: limits.concurrency,
            rate: None,
            time_left: None,
        }
    }

    /// Also keeps the account's messages, with every other run's, within the send rate
    /// (`turns` module docs).
    pub fn sharing(mut self, rate: Option<&'a dyn SendRate>) -> Self {
        self.rate = rate;
        self
    }

    /// Stops claiming, and handing deliveries to SES, when `time_left` runs short of the
    /// [`DeadlineReserve`] (`turns` module docs).
    pub fn until(mut self, time_left: Option<&'a dyn TimeLeft>) -> Self {
        self.time_left = time_left;
        self
    }

    /// [`deliver_once`] with this run's token, paced.
    pub async fn deliver(
        &self,
        of: impl Into<DeliveryOf> + Send,
        to: &Recipient,
        emails: &[Email],
        force: bool,
    ) -> Result<Delivered, DomainError> {
        let of = of.into();
        if let Some(skipped) = self.claim(of, to, force).await? {
            return Ok(skipped);
        }
        self.send_claimed(of, to, emails).await
    }

    /// Claims a delivery before its emails are made (so a delivery sent before costs one
    /// conditional write, not its rendering); `Some` is why it is skipped. Follow with
    /// [`Sender::send_claimed`] or [`Sender::release`].
    pub async fn claim(&self, of: DeliveryOf, to: &Recipient, force: bool) -> Result<Option<Delivered>, DomainError> {
        if turns::short_of(self.time_left, DeadlineReserve::default().claim) {
            return Ok(Some(Delivered::Postponed));
        }
        claim(self.ledger, of, to, &self.token, force).await
    }

    /// Steps 2–4 of a claimed delivery: hand over, send, record (or release after a failed
    /// send). Each message first waits for its turn (the run's pace, then the account's rate);
    /// the hand-over comes after that wait, right before the SES call, so a delivery waiting for
    /// its turn is still only claimed (a crash while it waits leaves nothing in doubt), and is
    /// released, not handed over, when the run's time has run short meanwhile.
    pub async fn send_claimed(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        emails: &[Email],
    ) -> Result<Delivered, DomainError> {
        let (ledger, token) = (self.ledger, self.token.as_str());
        let mut ids = Vec::new();
        for (i, email) in emails.iter().enumerate() {
            self.pace.turn().await;
            if let Some(rate) = self.rate {
                if let Err(e) = turns::account_turn(rate, self.per_second).await {
                    return self.unsent(of, to, &ids, e).await;
                }
            }
            if i == 0 {
                if turns::short_of(self.time_left, DeadlineReserve::default().hand_over) {
                    ledger.release(of, to, token).await?;
                    return Ok(Delivered::Postponed);
                }
                if !ledger.hand_over(of, to, token).await? {
                    return Ok(Delivered::AlreadySent);
                }
            }
            // Tagged with the provider, so that SES's bounce and complaint notifications find it.
            let sent = match to {
                Recipient::Provider(provider_id) => {
                    let tags = EmailTags { provider_id, kind: of.email_kind() };
                    self.mailer.send_tagged(email, &tags).await
                }
                Recipient::Team => self.mailer.send(email).await,
            };
            match sent {
                Ok(id) => ids.push(id),
                Err(e) => return self.unsent(of, to, &ids, e).await,
            }
        }
        ledger.record_sent(of, to, token, &ids).await?;
        Ok(Delivered::Sent(ids))
    }

    /// A delivery stopped by `e` after `ids` went out: nothing sent → the claim is released (the
    /// next run retries); part of it sent → what did is recorded, so nothing is repeated.
    async fn unsent(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        ids: &[String],
        e: DomainError,
    ) -> Result<Delivered, DomainError> {
        if ids.is_empty() {
            self.ledger.release(of, to, &self.token).await?;
        } else {
            self.ledger.record_sent(of, to, &self.token, ids).await?;
        }
        Err(e)
    }

    /// Drops a claim with nothing to send after all.
    pub async fn release(&self, of: DeliveryOf, to: &Recipient) -> Result<(), DomainError> {
        self.ledger.release(of, to, &self.token).await
    }

    /// Records a claimed delivery as suppressed, not sent ([`suppressed_because`]).
    pub async fn suppress(&self, of: DeliveryOf, to: &Recipient, reason: &str) -> Result<(), DomainError> {
        self.ledger.record_suppressed(of, to, &self.token, reason).await
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
    /// The account's send rate shared with every other run (`None`: this run's pace only).
    pub rate: Option<&'a dyn SendRate>,
    /// The run's deadline (`None`: none) and what to keep in hand before it.
    pub time_left: Option<&'a dyn TimeLeft>,
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
    /// The provider was offboarded: it is sent no further email (its report is still stored).
    Offboarded,
    /// The contact address is undeliverable: recorded in the ledger as suppressed.
    Suppressed,
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
    errors_of: Option<ErrorRowsOf<'_>>,
) -> DeliveryCounts {
    deliver_reports_noting(services, report, resend, errors_of, None).await
}

/// [`deliver_reports`] whose team summary also lists the providers pending on the latest MPA
/// version (`pending_mpa`: [`crate::mpa_campaign`]).
pub async fn deliver_reports_noting(
    services: &DeliveryServices<'_>,
    report: &DailyReport,
    resend: &Resend,
    mut errors_of: Option<ErrorRowsOf<'_>>,
    pending_mpa: Option<&crate::mpa_campaign::PendingMpa>,
) -> DeliveryCounts {
    let mut counts = DeliveryCounts::default();
    let sender =
        Sender::new(services.ledger, services.mailer, services.limits).sharing(services.rate).until(services.time_left);
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
                ProviderOutcome::Offboarded => counts.offboarded += 1,
                ProviderOutcome::Suppressed => counts.suppressed += 1,
                ProviderOutcome::Failed(why) => counts.failed.push((provider_id, why)),
                ProviderOutcome::Nothing => {}
            },
        )
        .await;
    // Completion order varies with concurrency; the counts list providers in order.
    counts.failed.sort();
    counts.in_doubt.sort();
    counts.postponed.sort();
    let team = team_summary_email_with(services.config, report, ATTACHMENT_BUDGET_BYTES, pending_mpa);
    let to = Recipient::Team;
    let result = sender.deliver(date, &to, &[team], resend.covers(&to)).await;
    counts.add(date, &to, result);
    counts
}

/// One provider's report email: its record, the ledger's claim (before anything is made, so a
/// re-run skips a delivered provider for one write), its rows (`errors`, when streamed), its
/// chart, the email, the send.
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
        if provider.is_offboarded() {
            tracing::info!(provider_id, "provider offboarded: report stored, not emailed");
            return ProviderOutcome::Offboarded;
        }
        let of = DeliveryOf::from(report.date);
        let to = Recipient::Provider(provider_id.to_owned());
        match sender.claim(of, &to, resend.covers(&to)).await {
            Ok(None) => {}
            Ok(Some(skipped)) => return ProviderOutcome::Delivery(Ok(skipped)),
            Err(e) => return ProviderOutcome::Delivery(Err(e)),
        }
        if let Some(reason) = suppressed_because(&provider) {
            tracing::warn!(provider_id, %reason, "report email suppressed: recorded in the delivery ledger, not sent");
            return match sender.suppress(of, &to, &reason).await {
                Ok(()) => ProviderOutcome::Suppressed,
                Err(e) => ProviderOutcome::Delivery(Err(e)),
            };
        }
        let hydrated = match errors {
            None => None,
            Some(Ok(errors)) => Some(report.for_provider(provider_id, errors)),
            Some(Err(e)) => {
                return released(sender, of, &to, ProviderOutcome::Failed(format!("error rows unreadable: {e}"))).await
            }
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
            return released(sender, of, &to, ProviderOutcome::Nothing).await;
        };
        drop((hydrated, chart));
        ProviderOutcome::Delivery(sender.send_claimed(of, &to, &[email]).await)
    }
    .await;
    (provider_id.to_owned(), outcome)
}

/// `outcome` of a claimed delivery that sends nothing, after its claim is released (a release
/// that fails leaves a `CLAIMED` entry, which the next run takes over: nothing is lost).
async fn released(sender: &Sender<'_>, of: DeliveryOf, to: &Recipient, outcome: ProviderOutcome) -> ProviderOutcome {
    if let Err(e) = sender.release(of, to).await {
        tracing::warn!(recipient = ?to, error = %e, "claim not released; the next run takes it over");
    }
    outcome
}

impl DeliveryCounts {
    /// Counts one delivery's result (and logs what needs an operator).
    fn add(&mut self, date: chrono::NaiveDate, to: &Recipient, result: Result<Delivered, DomainError>) {
        match result {
            Ok(Delivered::Sent(ids)) => self.sent += ids.len(),
            Ok(Delivered::AlreadySent) => self.already_sent += 1,
            Ok(Delivered::Postponed) => {
                tracing::warn!(recipient = ?to, %date, "delivery postponed: the run's time ran short; the retry delivers it");
                self.postponed.push(recipient_name(to));
            }
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
