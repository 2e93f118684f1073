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

use async_trait::async_trait;

use super::aggregate::ErrorRow;
use super::email::{provider_report_email, team_summary_email, ReportPicture, ATTACHMENT_BUDGET_BYTES};
use super::storage::{DeliveryOf, Recipient};
use super::DailyReport;
use crate::email::Email;
use crate::ports::{Mailer, ProviderStore};
use crate::{DomainError, PortalConfig};

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

/// Everything delivery needs.
pub struct DeliveryServices<'a> {
    /// Ledger.
    pub ledger: &'a dyn DeliveryLedger,
    /// Mailer (SES).
    pub mailer: &'a dyn Mailer,
    /// Provider contact addresses.
    pub providers: &'a dyn ProviderStore,
    /// Sender, reply-to, team inbox, portal URL.
    pub config: &'a PortalConfig,
    /// The providers' charts; `None` sends the emails without one.
    pub charts: Option<&'a dyn ReportCharts>,
}

fn recipient_name(to: &Recipient) -> String {
    match to {
        Recipient::Provider(id) => id.clone(),
        Recipient::Team => "the marketplace team".to_owned(),
    }
}

/// Emails every provider of `report` its files and the team the summary, once per (date,
/// recipient) unless `resend` covers it. No single recipient stops the others: a failed
/// delivery (rejected address, message too large, throttling beyond the SDK's retries, a ledger
/// write that failed) is logged and listed in [`DeliveryCounts::failed`], and the pass goes on.
///
/// `errors_of`, when given, supplies each provider's error rows (in provider order) for a report
/// whose error rows were streamed out of memory; otherwise the report holds them.
pub async fn deliver_reports(
    services: &DeliveryServices<'_>,
    report: &DailyReport,
    resend: &Resend,
    mut errors_of: Option<ErrorRowsOf<'_>>,
) -> DeliveryCounts {
    let mut counts = DeliveryCounts::default();
    let token = format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
    // One email is composed and sent at a time: attachments never pile up in memory.
    for provider_id in report.providers.keys() {
        let provider = match services.providers.get_provider(provider_id).await {
            Ok(Some(provider)) => provider,
            Ok(None) => {
                tracing::warn!(provider_id, "no provider record: report not emailed");
                counts.no_recipient += 1;
                continue;
            }
            Err(e) => {
                tracing::error!(provider_id, error = %e, "provider record unreadable: report not emailed");
                counts.failed.push((provider_id.clone(), e.to_string()));
                continue;
            }
        };
        let hydrated = match errors_of.as_mut() {
            None => None,
            Some(errors_of) => match errors_of(provider_id) {
                Ok(errors) => Some(report.for_provider(provider_id, errors)),
                Err(e) => {
                    counts.failed.push((provider_id.clone(), format!("error rows unreadable: {e}")));
                    continue;
                }
            },
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
        let email = provider_report_email(
            services.config,
            hydrated.as_ref().unwrap_or(report),
            &provider,
            chart.as_ref(),
            ATTACHMENT_BUDGET_BYTES,
        );
        if let Some(email) = email {
            deliver_one(
                services,
                report.date,
                Recipient::Provider(provider_id.clone()),
                email,
                &token,
                resend,
                &mut counts,
            )
            .await;
        }
    }
    let team = team_summary_email(services.config, report, ATTACHMENT_BUDGET_BYTES);
    deliver_one(services, report.date, Recipient::Team, team, &token, resend, &mut counts).await;
    counts
}

async fn deliver_one(
    services: &DeliveryServices<'_>,
    date: chrono::NaiveDate,
    to: Recipient,
    email: Email,
    token: &str,
    resend: &Resend,
    counts: &mut DeliveryCounts,
) {
    let force = resend.covers(&to);
    match deliver_once(services.ledger, services.mailer, date, &to, &[email], token, force).await {
        Ok(Delivered::Sent(ids)) => counts.sent += ids.len(),
        Ok(Delivered::AlreadySent) => counts.already_sent += 1,
        Ok(Delivered::InDoubt) => {
            tracing::warn!(recipient = ?to, %date, "delivery in doubt (claimed earlier, never recorded): check the recipient's mail, then re-send (README, \"Deliveries in doubt\")");
            counts.in_doubt.push(recipient_name(&to));
        }
        Err(e) => {
            tracing::error!(recipient = ?to, %date, error = %e, "delivery failed; the others go on");
            counts.failed.push((recipient_name(&to), e.to_string()));
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

    /// One provider record (acme), nothing else.
    struct OneProvider;

    #[async_trait]
    impl ProviderStore for OneProvider {
        async fn get_provider(&self, provider_id: &str) -> Result<Option<crate::provider::Provider>, DomainError> {
            Ok((provider_id == "acme").then(crate::provider::Provider::example))
        }
        async fn put_provider(
            &self,
            _: &crate::provider::Provider,
            _: crate::ports::Precondition,
            _: &crate::ports::AuditEntry,
            _: &[&str],
        ) -> Result<(), crate::ports::WriteError> {
            Err(DomainError::infra("put_provider", "read-only").into())
        }
        async fn audit_trail(&self, _: &str) -> Result<Vec<crate::ports::AuditEntry>, DomainError> {
            Ok(Vec::new())
        }
        async fn get_product(&self, _: &str, _: &str) -> Result<Option<crate::product::Product>, DomainError> {
            Ok(None)
        }
        async fn get_provider_and_product(
            &self,
            provider_id: &str,
            _: &str,
        ) -> Result<(Option<crate::provider::Provider>, Option<crate::product::Product>), DomainError> {
            Ok((self.get_provider(provider_id).await?, None))
        }
        async fn put_product(
            &self,
            _: &crate::product::Product,
            _: crate::ports::Precondition,
            _: &crate::ports::AuditEntry,
            _: &[&str],
        ) -> Result<(), crate::ports::WriteError> {
            Err(DomainError::infra("put_product", "read-only").into())
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
        let mut agg = crate::report::Aggregator::new(crate::report::ReportPlan::single(day()));
        let item = crate::report::attribute::parse_export_line(line).expect("line");
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
