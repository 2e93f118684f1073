//! The monthly statement run (the job's `statement` mode): for every provider with a published
//! product, the closed month's statement from its stored daily rows, stored (a `Reports` item and
//! a CSV in the report-files bucket) and emailed once per (month, provider).
//!
//! Only a complete month is stated. First, every day of it must have a finished daily run (its
//! month-sums mark, written last by the run; one keys-only `Query`): otherwise the whole run is
//! refused naming the missing days ([`StatementRunError::MonthIncomplete`]), nothing is stored or
//! sent, and the `StatementDaysMissing` metric is emitted. The schedule fires daily on the 1st to
//! the 7th, so the month is stated by the first run after its days are re-run (a run of a month
//! already sent finds every delivery in the ledger and sends nothing). Then the month sums of
//! the last day are read once (one paged `Query`) and each statement must reconcile with its
//! provider's ([`marketplace_reports::statement::reconcile`]); one that does not is neither stored
//! nor sent, and counts as a failed provider (`statements_unreconciled`, named in the error).
//!
//! Per provider, in order: read the month's daily rows (one paged `Query`), build the statement
//! (`marketplace_reports::statement`; a quiet month is a zero statement), reconcile it, put the
//! statement item, write the CSV under `<out>/statements/<yyyy-mm>/providers/<id>/` and upload
//! it, then deliver the email through the delivery ledger (`DELIVERY#STATEMENT#<yyyy-mm>`), so a
//! re-run rewrites identical items and bytes and sends nothing new; `resend` sends again as for
//! the dailies. No single provider stops the run: a failure is recorded and the others go on;
//! the run then fails naming who was missed ([`StatementRunError::Incomplete`]). Providers go
//! concurrently through the daily reports' [`Sender`] (bounded, SES paced).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use marketplace_aws::sdk_error::AwsError;
use marketplace_core::ports::ProviderDirectory;
use marketplace_reports::aggregate::{GroupKey, GroupTotals};
use marketplace_reports::delivery::{Delivered, Resend, Sender};
use marketplace_reports::statement::{
    days_without_finished_run, monthly_statement, name_days, reconcile, statement_csv, Month, Statement,
};
use marketplace_reports::statement_email::statement_email;
use marketplace_reports::storage::Recipient;
use serde::Serialize;

use crate::aws::published::providers_with_published_products;
use crate::context::AwsContext;
use crate::metrics::{emit_in_lambda, statement_refused_line};

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
    /// Statements that did not reconcile with the month sums of the month's last day (neither
    /// stored nor sent; also in `failed_deliveries`).
    pub statements_unreconciled: usize,
    /// Providers without a provider record (statement stored, not emailed).
    pub providers_without_contact: usize,
    /// Providers whose contact address is undeliverable: stored, recorded as suppressed, not emailed.
    pub providers_suppressed: usize,
    /// Offboarded providers (statement stored, not emailed: they are sent no further email).
    pub providers_offboarded: usize,
    /// `provider: reason` of every provider whose statement was not stored or not delivered.
    pub failed_deliveries: Vec<String>,
    /// Statement emails not started because the invocation's time ran short (`<month>
    /// <provider>`): the run fails so that the retry sends them.
    pub postponed: Vec<String>,
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
    /// Days of the month have no finished daily run: nothing was stored or sent.
    #[error(
        "the statements of {month} are refused: no finished daily run for {} (a run finishes a date \
         when it stores the date's month sums); re-run those days, then the statements (the \
         schedule tries again every day until the 7th)",
        name_days(.missing)
    )]
    MonthIncomplete {
        /// The month asked for.
        month: Month,
        /// Its days without a finished daily run, ascending.
        missing: Vec<NaiveDate>,
    },
    /// The list of providers, the month-sums marks or the last day's month sums could not be
    /// read: nothing was done.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Some providers' statements were not stored or not delivered; every other one was.
    #[error("monthly statements of {} not complete for: {}", .0.month, not_done(.0))]
    Incomplete(Box<StatementSummary>),
}

/// Who a statement run missed: the failed, then the postponed (the invocation's time ran short).
fn not_done(summary: &StatementSummary) -> String {
    let postponed =
        summary.postponed.iter().map(|p| format!("{p}: postponed to the retry (the invocation's time ran short)"));
    summary.failed_deliveries.iter().cloned().chain(postponed).collect::<Vec<_>>().join("; ")
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

/// Refuses `month` unless every day of it has a finished daily run (`finished`: the dates whose
/// month-sums mark is stored).
pub fn refuse_incomplete_month(month: Month, finished: &[NaiveDate]) -> Result<(), StatementRunError> {
    let missing = days_without_finished_run(month, finished);
    if missing.is_empty() {
        return Ok(());
    }
    Err(StatementRunError::MonthIncomplete { month, missing })
}

/// The month sums of the month's last day, by provider.
type SumsByProvider = HashMap<String, Vec<(GroupKey, GroupTotals)>>;

/// Runs the statements of `request.month` for every provider with a published product, once the
/// month is complete (module docs).
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
    let finished = aws.reports.month_sums_dates(month.first_day()).await?;
    if let Err(refused) = refuse_incomplete_month(month, &finished) {
        if let StatementRunError::MonthIncomplete { missing, .. } = &refused {
            tracing::error!(%month, missing = %name_days(missing), "statements refused: days without a finished daily run");
            emit_in_lambda(&statement_refused_line(missing.len(), Utc::now().timestamp_millis()));
        }
        return Err(refused);
    }
    let mut sums = SumsByProvider::new();
    for (key, totals) in aws.reports.month_sums(month.last_day()).await? {
        sums.entry(key.provider_id.clone()).or_default().push((key, totals));
    }
    let sums = &sums;
    let providers = providers_with_published_products(&aws.providers, request.scan_page_limit).await?;
    let mut summary = StatementSummary { month: month.to_string(), providers: providers.len(), ..Default::default() };
    let sender = &Sender::new(aws.ledger(), aws.mailer.as_ref(), aws.sends)
        .sharing(Some(aws.send_rate()))
        .until(Some(aws.time_left.as_ref()));
    sender
        .each(
            &providers,
            |provider_id| async move {
                let mut done = ProviderDone::default();
                let provider_sums = sums.get(provider_id).map(Vec::as_slice).unwrap_or_default();
                let result = one_provider(request, aws, sender, provider_id, provider_sums, &mut done).await;
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
    summary.postponed.sort();
    if !summary.failed_deliveries.is_empty() || !summary.postponed.is_empty() {
        return Err(StatementRunError::Incomplete(Box::new(summary)));
    }
    Ok(summary)
}

/// What one provider's statement got through (its steps stop at the first failure).
#[derive(Debug, Default)]
struct ProviderDone {
    unreconciled: bool,
    stored: bool,
    zero: bool,
    uploaded: bool,
    emailed: Option<Emailed>,
}

#[derive(Debug)]
enum Emailed {
    NoContact,
    /// The contact address is undeliverable: recorded as suppressed in the ledger.
    Suppressed,
    Offboarded,
    Delivered(Delivered),
}

impl ProviderDone {
    fn add_to(self, summary: &mut StatementSummary, month: Month, provider_id: &str) {
        summary.statements_unreconciled += usize::from(self.unreconciled);
        summary.statements_stored += usize::from(self.stored);
        summary.zero_statements += usize::from(self.zero);
        summary.files_uploaded += usize::from(self.uploaded);
        match self.emailed {
            None => {}
            Some(Emailed::NoContact) => summary.providers_without_contact += 1,
            Some(Emailed::Suppressed) => summary.providers_suppressed += 1,
            Some(Emailed::Offboarded) => summary.providers_offboarded += 1,
            Some(Emailed::Delivered(Delivered::Sent(ids))) => summary.emails_sent += ids.len(),
            Some(Emailed::Delivered(Delivered::AlreadySent)) => summary.emails_already_sent += 1,
            Some(Emailed::Delivered(Delivered::Postponed)) => {
                tracing::warn!(provider_id, %month, "statement email postponed: the run's time ran short; the retry sends it");
                summary.postponed.push(format!("{month} {provider_id}"));
            }
            Some(Emailed::Delivered(Delivered::InDoubt)) => {
                tracing::warn!(provider_id, %month, "statement delivery in doubt (claimed earlier, never recorded): check the provider's mail, then re-send (README, \"Monthly statements\")");
                summary.deliveries_in_doubt += 1;
                summary.in_doubt.push(format!("{month} {provider_id}"));
            }
        }
    }
}

/// One provider's statement: reconciled with `month_sums` (the provider's month sums of the last
/// day), stored, uploaded, emailed. Errors name the failing step; `done` says what was done
/// before it.
async fn one_provider(
    request: &StatementRequest,
    aws: &AwsContext,
    sender: &Sender<'_>,
    provider_id: &str,
    month_sums: &[(GroupKey, GroupTotals)],
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
    if let Err(why) = reconcile(&statement, month_sums) {
        done.unreconciled = true;
        return Err(format!("statement {why}; re-run the days whose rows are missing, then the statements"));
    }
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
    if provider.is_offboarded() {
        tracing::info!(provider_id, "provider offboarded: statement stored, not emailed");
        done.emailed = Some(Emailed::Offboarded);
        return Ok(());
    }
    let to = Recipient::Provider(provider_id.to_owned());
    if let Some(reason) = marketplace_reports::delivery::suppressed_because(&provider) {
        tracing::warn!(provider_id, %reason, "statement email suppressed: recorded in the delivery ledger, not sent");
        if sender.claim(month.into(), &to, request.resend.covers(&to)).await.map_err(|e| e.to_string())?.is_none() {
            sender.suppress(month.into(), &to, &reason).await.map_err(|e| format!("statement not suppressed: {e}"))?;
        }
        done.emailed = Some(Emailed::Suppressed);
        return Ok(());
    }
    let email = statement_email(&aws.config, &provider, &statement);
    drop(statement);
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
    fn a_month_with_days_without_a_finished_daily_run_is_refused_naming_them() {
        let feb: Month = "2026-02".parse().expect("month");
        let all: Vec<NaiveDate> = feb.first_day().iter_days().take(28).collect();
        assert!(refuse_incomplete_month(feb, &all).is_ok());
        let finished: Vec<NaiveDate> = all
            .iter()
            .copied()
            .filter(|d| ![date("2026-02-02"), date("2026-02-27"), date("2026-02-28")].contains(d))
            .collect();
        match refuse_incomplete_month(feb, &finished) {
            Err(e @ StatementRunError::MonthIncomplete { .. }) => assert_eq!(
                e.to_string(),
                "the statements of 2026-02 are refused: no finished daily run for 2026-02-02, 2026-02-27..2026-02-28 \
                 (a run finishes a date when it stores the date's month sums); re-run those days, then the \
                 statements (the schedule tries again every day until the 7th)"
            ),
            other => panic!("expected a refusal, got {other:?}"),
        }
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
