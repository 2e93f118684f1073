//! The monthly statement run (the job's `statement` mode): for every provider with a published
//! product, the closed month's statement from its stored daily rows, stored (a `Reports` item and
//! a CSV in the report-files bucket) and emailed once per (month, provider).
//!
//! Per provider, in order: read the month's daily rows (one paged `Query`), build the statement
//! (`marketplace_reports::statement`; a quiet month is a zero statement), put the
//! statement item, write the CSV under `<out>/statements/<yyyy-mm>/providers/<id>/` and upload
//! it, then deliver the email through the delivery ledger (`DELIVERY#STATEMENT#<yyyy-mm>`), so a
//! re-run rewrites identical items and bytes and sends nothing new; `resend` sends again as for
//! the dailies. No single provider stops the run: a failure is recorded and the others go on;
//! the run then fails naming who was missed ([`StatementRunError::Incomplete`]). Providers go
//! concurrently through the daily reports' [`Sender`] (bounded, SES paced).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use marketplace_aws::sdk_error::AwsError;
use marketplace_core::ports::ProviderDirectory;
use marketplace_reports::delivery::{Delivered, Resend, Sender};
use marketplace_reports::statement::{monthly_statement, statement_csv, Month, Statement};
use marketplace_reports::statement_email::statement_email;
use marketplace_reports::storage::Recipient;
use serde::Serialize;

use crate::aws::published::providers_with_published_products;
use crate::context::AwsContext;

/// One statement run's request.
#[derive(Debug, Clone)]
pub struct StatementRequest {
    /// The month (must be closed).
    pub month: Month,
    /// Local directory; the CSVs go to `<out>/statements/<yyyy-mm>/providers/<id>/statement.csv`.
    pub out: PathBuf,
    /// Email the statements (off: store only).
    pub send: bool,
    /// Deliveries to send again even though the ledger has them.
    pub resend: Resend,
    /// `Limit` of every page of the published-products Scan (`None`: DynamoDB's 1 MB pages).
    pub scan_page_limit: Option<i32>,
}

/// What a statement run did (the CLI prints it, the Lambda returns it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatementSummary {
    /// The month.
    pub month: String,
    /// Providers with a published product.
    pub providers: usize,
    /// Statement items stored.
    pub statements_stored: usize,
    /// Of them, zero statements (a quiet month).
    pub zero_statements: usize,
    /// Statement CSVs uploaded to the report-files bucket.
    pub files_uploaded: usize,
    /// Statement emails sent now.
    pub emails_sent: usize,
    /// Statement emails the ledger had as sent before.
    pub emails_already_sent: usize,
    /// Deliveries claimed by another (or a crashed) run and never recorded.
    pub deliveries_in_doubt: usize,
    /// Who they were for.
    pub in_doubt: Vec<String>,
    /// Providers without a provider record (statement stored, not emailed).
    pub providers_without_contact: usize,
    /// `provider: reason` of every provider whose statement was not stored or not delivered.
    pub failed_deliveries: Vec<String>,
}

/// Errors of a statement run.
#[derive(Debug, thiserror::Error)]
pub enum StatementRunError {
    /// The month has not ended (UTC): its statement would be partial.
    #[error("{month} is not over yet (today is {today} UTC): its statement would be partial; run it from {next} on")]
    MonthOpen {
        /// The month asked for.
        month: Month,
        /// Today (UTC).
        today: NaiveDate,
        /// The first day it can run.
        next: NaiveDate,
    },
    /// The list of providers could not be read: nothing was done.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Some providers' statements were not stored or not delivered; every other one was.
    #[error("monthly statements of {} not complete for: {}", .0.month, .0.failed_deliveries.join("; "))]
    Incomplete(Box<StatementSummary>),
}

/// The month a statement run reports when none is given: the month before the one `now` is in
/// (the schedule fires on the 1st, so a retry later that day still reports the same month).
pub fn month_before(now: DateTime<Utc>) -> Month {
    let this = Month::of(now.date_naive());
    Month::of(this.first_day().pred_opt().unwrap_or(this.first_day()))
}

/// Refuses a month that has not ended by `today` (UTC).
pub fn refuse_open_month(month: Month, today: NaiveDate) -> Result<(), StatementRunError> {
    if month.is_closed(today) {
        return Ok(());
    }
    Err(StatementRunError::MonthOpen { month, today, next: month.next().first_day() })
}

/// Runs the statements of `request.month` for every provider with a published product.
///
/// Providers go concurrently, as the daily reports do ([`Sender`]): at most
/// `aws.sends.concurrency` providers in flight (each: its rows, statement, CSV, upload, email),
/// SES messages paced to `aws.sends.per_second`.
pub async fn run_statements(
    request: &StatementRequest,
    aws: &AwsContext,
) -> Result<StatementSummary, StatementRunError> {
    let month = request.month;
    refuse_open_month(month, Utc::now().date_naive())?;
    let providers = providers_with_published_products(&aws.providers, request.scan_page_limit).await?;
    let mut summary = StatementSummary { month: month.to_string(), providers: providers.len(), ..Default::default() };
    let sender = &Sender::new(&aws.reports, &aws.mailer, aws.sends);
    sender
        .each(
            &providers,
            |provider_id| async move {
                let mut done = ProviderDone::default();
                let result = one_provider(request, aws, sender, provider_id, &mut done).await;
                (provider_id, done, result)
            },
            |(provider_id, done, result)| {
                done.add_to(&mut summary, month, provider_id);
                if let Err(why) = result {
                    tracing::error!(provider_id, %month, error = %why, "statement not stored or not delivered; the others go on");
                    summary.failed_deliveries.push(format!("{provider_id}: {why}"));
                }
            },
        )
        .await;
    // Completion order varies with concurrency; the summary lists providers in order.
    summary.failed_deliveries.sort();
    summary.in_doubt.sort();
    if !summary.failed_deliveries.is_empty() {
        return Err(StatementRunError::Incomplete(Box::new(summary)));
    }
    Ok(summary)
}

/// What one provider's statement got through (its steps stop at the first failure).
#[derive(Debug, Default)]
struct ProviderDone {
    stored: bool,
    zero: bool,
    uploaded: bool,
    emailed: Option<Emailed>,
}

#[derive(Debug)]
enum Emailed {
    NoContact,
    Delivered(Delivered),
}

impl ProviderDone {
    fn add_to(self, summary: &mut StatementSummary, month: Month, provider_id: &str) {
        summary.statements_stored += usize::from(self.stored);
        summary.zero_statements += usize::from(self.zero);
        summary.files_uploaded += usize::from(self.uploaded);
        match self.emailed {
            None => {}
            Some(Emailed::NoContact) => summary.providers_without_contact += 1,
            Some(Emailed::Delivered(Delivered::Sent(ids))) => summary.emails_sent += ids.len(),
            Some(Emailed::Delivered(Delivered::AlreadySent)) => summary.emails_already_sent += 1,
            Some(Emailed::Delivered(Delivered::InDoubt)) => {
                tracing::warn!(provider_id, %month, "statement delivery in doubt (claimed earlier, never recorded): check the provider's mail, then re-send (README, \"Monthly statements\")");
                summary.deliveries_in_doubt += 1;
                summary.in_doubt.push(format!("{month} {provider_id}"));
            }
        }
    }
}

/// One provider's statement: stored, uploaded, emailed. Errors name the failing step; `done`
/// says what was done before it.
async fn one_provider(
    request: &StatementRequest,
    aws: &AwsContext,
    sender: &Sender<'_>,
    provider_id: &str,
    done: &mut ProviderDone,
) -> Result<(), String> {
    let month = request.month;
    let rows = aws
        .reports
        .provider_rows(provider_id, month.first_day(), month.last_day())
        .await
        .map_err(|e| format!("daily rows unreadable: {e}"))?;
    let statement =
        monthly_statement(provider_id, month, &rows).map_err(|e| format!("daily rows do not add up: {e}"))?;
    aws.reports.store_statement(&statement).await.map_err(|e| format!("statement not stored: {e}"))?;
    done.stored = true;
    done.zero = statement.lines.is_empty();
    let path = write_csv(&request.out, &statement).map_err(|e| format!("statement file not written: {e}"))?;
    if let Some(files) = &aws.files {
        files
            .upload_statement(month, provider_id, &path)
            .await
            .map_err(|e| format!("statement file not uploaded: {e}"))?;
        done.uploaded = true;
    }
    if !request.send {
        return Ok(());
    }
    let Some(provider) =
        aws.providers.get_provider(provider_id).await.map_err(|e| format!("provider unreadable: {e}"))?
    else {
        tracing::warn!(provider_id, "no provider record: statement stored, not emailed");
        done.emailed = Some(Emailed::NoContact);
        return Ok(());
    };
    let email = statement_email(&aws.config, &provider, &statement);
    drop(statement);
    let to = Recipient::Provider(provider_id.to_owned());
    let delivered = sender
        .deliver(month, &to, &[email], request.resend.covers(&to))
        .await
        .map_err(|e| format!("statement email not sent: {e}"))?;
    done.emailed = Some(Emailed::Delivered(delivered));
    Ok(())
}

/// Writes the statement's CSV under `out`; returns its path.
pub fn write_csv(out: &Path, statement: &Statement) -> std::io::Result<PathBuf> {
    let dir = out.join("statements").join(statement.month.to_string()).join("providers").join(&statement.provider_id);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("statement.csv");
    std::fs::write(&path, statement_csv(statement))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn without_a_month_the_run_reports_the_month_before_the_schedule() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("instant");
        assert_eq!(month_before(at("2026-03-01T03:30:00Z")).to_string(), "2026-02");
        assert_eq!(month_before(at("2026-03-01T23:59:00Z")).to_string(), "2026-02", "a late retry, same month");
        assert_eq!(month_before(at("2026-01-01T03:30:00Z")).to_string(), "2025-12");
    }

    #[test]
    fn an_open_month_is_refused_with_the_day_it_can_run() {
        let feb: Month = "2026-02".parse().expect("month");
        match refuse_open_month(feb, date("2026-02-28")) {
            Err(e @ StatementRunError::MonthOpen { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "2026-02 is not over yet (today is 2026-02-28 UTC): its statement would be partial; run it from 2026-03-01 on"
                )
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(refuse_open_month(feb, date("2026-03-01")).is_ok());
        assert!(refuse_open_month("2026-04".parse().expect("month"), date("2026-03-01")).is_err());
    }

    #[test]
    fn the_csv_goes_under_its_month_and_provider() {
        let out = std::env::temp_dir().join(format!("statement-csv-{}", std::process::id()));
        let statement = monthly_statement("acme", "2026-02".parse().expect("month"), &[]).expect("statement");
        let path = write_csv(&out, &statement).expect("written");
        assert!(path.ends_with("statements/2026-02/providers/acme/statement.csv"));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), statement_csv(&statement));
        let _ = std::fs::remove_dir_all(out);
    }
}
