//! The sinks of a run: month sums and report items in the `Reports` table, CSV files (local,
//! then the report-files bucket) and the emails, from one aggregator.
//!
//! Every local file is written before anything is stored or sent: a full local disk
//! ([`crate::disk`]) fails the run with nothing in the table, the bucket or anyone's inbox.

use std::path::Path;

use marketplace_reports::aggregate::Aggregator;
use marketplace_reports::delivery::{deliver_reports_noting, DeliveryServices, ErrorRowsOf, Resend};

use super::error::AppError;
use super::mpa_campaign::{self, prepare_campaign, send_campaign};
use super::spill_reader::{rejects_of, ErrorsByProvider};
use super::table_read::TableRead;
use crate::aws::chart_source::StoredReportCharts;
use crate::cli::Delivery;
use crate::context::AwsContext;
use crate::files_sink::write_report_with;
use crate::pipeline::{write_reports, JobError, RunSummary};
use crate::spill::Spill;

/// The sinks, in this order: CSV files always; month sums, files and report items in AWS when
/// `delivery` stores; emails when it sends (again where `resend` covers them), then the MPA
/// campaign's notices. `spill` holds
/// the error and reject rows when the aggregator streamed them out (they are read back one
/// provider at a time) and the run's local-disk budget. `day_items`: what a table run read
/// ([`TableRead`]), kept in the month-sums marks so that late logs of the dates can be told from
/// logs the report read. Fails at the end, after every other delivery went out, when some
/// delivery failed ([`AppError::Undelivered`]).
pub async fn publish(
    agg: Aggregator,
    out: &Path,
    delivery: Delivery,
    resend: &Resend,
    spill: Option<&Spill>,
    day_items: Option<&TableRead>,
    aws: Option<&AwsContext>,
) -> Result<RunSummary, AppError> {
    let stats = agg.stats();
    let days_read = agg.days_to_read().count();
    let groups = agg.group_count();
    if delivery.store && aws.is_none() {
        return Err(AppError::NoAws);
    }
    // The month sums are stored after the files are written; `finish` consumes the aggregator.
    let totals = delivery.store.then(|| agg.totals());
    let mut reports = agg.finish().map_err(JobError::from)?;
    let date_dirs = match spill {
        None => write_reports(out, &reports)?,
        Some(spill) => {
            let mut errors = ErrorsByProvider::open(spill)?;
            let mut dirs = Vec::with_capacity(reports.len());
            for report in &mut reports {
                report.rejected = rejects_of(spill, report.date)?;
                let date = report.date;
                dirs.push(
                    write_report_with(out, report, spill.budget(), Some(&mut |p: &str| errors.take(date, p)))
                        .map_err(JobError::from)?,
                );
            }
            dirs
        }
    };
    if let (Some(aws), Some(totals)) = (aws, &totals) {
        for date in totals.plan().report_dates() {
            let logs_read = day_items.map(|read| read.items.get(&date).copied().unwrap_or(0));
            aws.reports.store_month_sums(date, totals, logs_read, day_items.map(|read| read.started_at)).await?;
        }
    }
    drop(totals);
    let mut files_uploaded = 0;
    if delivery.store {
        if let Some(files) = aws.and_then(|a| a.files.as_ref()) {
            for (report, dir) in reports.iter().zip(&date_dirs) {
                files_uploaded += files.upload_date(report.date, dir).await?.len();
            }
        }
    }
    let mut errors = spill.map(ErrorsByProvider::open).transpose()?;
    let mut summary = RunSummary::new(stats, &reports);
    summary.days_read = days_read;
    summary.groups = groups;
    summary.files_uploaded = files_uploaded;
    summary.local_disk_peak_bytes = spill.map(|s| s.budget().peak());
    summary.local_disk_limit_bytes = spill.and_then(|s| s.budget().limit());
    if delivery.store || delivery.send {
        let aws = aws.ok_or(AppError::NoAws)?;
        // The MPA campaign (sending runs): its pending providers go into the newest date's team
        // summary; its notices go out after every report (`super::mpa_campaign`).
        let campaign = match delivery.send {
            false => None,
            true => prepare_campaign(aws).await.unwrap_or_else(|e| {
                mpa_campaign::add_failure(&mut summary, &e);
                None
            }),
        };
        let newest = reports.last().map(|r| r.date);
        for report in &reports {
            if delivery.store {
                summary.items_stored += aws.reports.store(report).await?;
            }
            if delivery.send {
                let services = DeliveryServices {
                    ledger: aws.ledger(),
                    mailer: aws.mailer.as_ref(),
                    providers: &aws.providers,
                    config: &aws.config,
                    charts: Some(&StoredReportCharts::new(&aws.reports)),
                    limits: aws.sends,
                    rate: Some(aws.send_rate()),
                    time_left: Some(aws.time_left.as_ref()),
                };
                let date = report.date;
                let mut errors_of = errors.as_mut().map(|e| move |p: &str| e.take(date, p));
                let errors_of = errors_of.as_mut().map(|f| f as ErrorRowsOf<'_>);
                let pending = campaign.as_ref().filter(|_| newest == Some(report.date)).map(|c| &c.pending);
                let counts = deliver_reports_noting(&services, report, resend, errors_of, pending).await;
                summary.emails_sent += counts.sent;
                summary.emails_already_sent += counts.already_sent;
                summary.deliveries_in_doubt += counts.in_doubt.len();
                summary.in_doubt.extend(counts.in_doubt.iter().map(|to| format!("{} {to}", report.date)));
                summary.providers_without_contact += counts.no_recipient;
                summary.providers_suppressed += counts.suppressed;
                summary.providers_offboarded += counts.offboarded;
                summary.deliveries_postponed += counts.postponed.len();
                summary.postponed.extend(counts.postponed.iter().map(|to| format!("{} {to}", report.date)));
                summary
                    .failed_deliveries
                    .extend(counts.failed.iter().map(|(to, why)| format!("{} {to}: {why}", report.date)));
            }
        }
        if let Some(campaign) = &campaign {
            // An operator's re-send of reports never re-sends the campaign's notices.
            let counts = send_campaign(aws, campaign, &Resend::Nothing).await;
            mpa_campaign::add_to_summary(&mut summary, counts);
        }
    }
    if !summary.failed_deliveries.is_empty() || !summary.postponed.is_empty() {
        return Err(AppError::Undelivered(Box::new(summary)));
    }
    Ok(summary)
}
