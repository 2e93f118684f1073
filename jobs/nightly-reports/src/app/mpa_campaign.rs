//! The MPA campaign step of a run (`marketplace_reports::mpa_campaign`): read the MPA versions
//! (none stored: no campaign), scan the provider records, then
//! 1. before the report deliveries, the providers pending on the latest version, for the team's
//!    summary ([`prepare_campaign`]);
//! 2. after them, the notices, through the run's ledger, pace, shared SES rate and deadline
//!    ([`send_campaign`]; the notices the ledger already has as sent are read in one paged
//!    `Query` of `DELIVERY#MPA#<version>` and skipped unclaimed): reports go first, so a long campaign never holds a night's reports
//!    back; notices the deadline postpones fail the run like postponed reports, and Lambda's
//!    retry (or the next night) sends them.
//!
//! Every whole run does both (the nightly run, the command line, a merge); `mpa-campaign` on the
//! command line and `{"mode": "mpa_campaign"}` run the campaign alone, to start it at once.

use std::collections::BTreeSet;

use chrono::Utc;
use marketplace_reports::delivery::{DeliveryServices, Resend};
use marketplace_reports::mpa_campaign::{send_notices, Campaign, CampaignCounts};
use marketplace_reports::storage::MpaNoticeOf;

use super::error::AppError;
use crate::aws::provider_profiles::{each_provider, stored_mpa_versions};
use crate::context::AwsContext;
use crate::pipeline::RunSummary;

/// Step 1: the campaign of the latest MPA version as of now, `None` when no version is stored.
pub async fn prepare_campaign(aws: &AwsContext) -> Result<Option<Campaign>, AppError> {
    let Some(versions) = stored_mpa_versions(&aws.providers).await? else {
        return Ok(None);
    };
    let Some(mut campaign) = Campaign::new(versions, Utc::now()) else {
        return Ok(None);
    };
    let (pages, skipped) = each_provider(&aws.providers, aws.scan_page_limit, |p| campaign.add(p)).await?;
    tracing::info!(
        version = %campaign.pending.version,
        pages,
        skipped,
        targets = campaign.targets.len(),
        pending = campaign.pending.total,
        "MPA campaign: providers read"
    );
    Ok(Some(campaign.sorted()))
}

/// Step 2: the notices of `campaign`, once each unless `resend` covers them.
pub async fn send_campaign(aws: &AwsContext, campaign: &Campaign, resend: &Resend) -> CampaignCounts {
    let services = DeliveryServices {
        ledger: aws.ledger(),
        mailer: aws.mailer.as_ref(),
        providers: &aws.providers,
        config: &aws.config,
        charts: None,
        limits: aws.sends,
        rate: Some(aws.send_rate()),
        time_left: Some(aws.time_left.as_ref()),
    };
    let sent_before = match MpaNoticeOf::new(&campaign.pending.version) {
        None => BTreeSet::new(),
        Some(of) => aws.reports.sent_to_providers(of.into()).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the MPA notices' ledger unreadable in one go: every target is claimed");
            BTreeSet::new()
        }),
    };
    send_notices(&services, campaign, resend, &sent_before).await
}

/// Adds what the campaign did to a run's summary: its counts under `mpa_campaign`, its sends,
/// in-doubt, failed and postponed notices with the run's own (`MPA <version> <provider>`), so
/// the run's alarms and its failure (Lambda's retry) cover them.
pub fn add_to_summary(summary: &mut RunSummary, counts: CampaignCounts) {
    let of = |id: &String| format!("MPA {} {id}", counts.version);
    summary.emails_sent += counts.sent;
    summary.emails_already_sent += counts.already_sent;
    summary.deliveries_in_doubt += counts.in_doubt.len();
    summary.in_doubt.extend(counts.in_doubt.iter().map(of));
    summary.deliveries_postponed += counts.postponed.len();
    summary.postponed.extend(counts.postponed.iter().map(of));
    summary.failed_deliveries.extend(counts.failed.iter().map(|(id, why)| format!("{}: {why}", of(id))));
    summary.mpa_campaign = Some(counts);
}

/// A campaign that could not be read: the run goes on (reports without the pending list) and
/// fails at the end, naming why.
pub fn add_failure(summary: &mut RunSummary, error: &AppError) {
    tracing::error!(%error, "MPA campaign not run: providers or versions unreadable");
    summary.failed_deliveries.push(format!("MPA campaign: {error}"));
}

/// The campaign alone (the command line's `mpa-campaign`, the payload's `mpa_campaign` mode):
/// fails, like a run, when some notice failed or was postponed.
pub async fn run_mpa_campaign(aws: &AwsContext, resend: &Resend) -> Result<RunSummary, AppError> {
    let mut summary = RunSummary::default();
    if let Some(campaign) = prepare_campaign(aws).await? {
        let counts = send_campaign(aws, &campaign, resend).await;
        add_to_summary(&mut summary, counts);
    }
    if !summary.failed_deliveries.is_empty() || !summary.postponed.is_empty() {
        return Err(AppError::Undelivered(Box::new(summary)));
    }
    Ok(summary)
}
