//! The job's stages, each callable alone: source → aggregate → sinks.
//!
//! * [`aggregate_export_source`] — export files into an [`Aggregator`] (optionally one partition);
//! * [`aggregate_pages`] — pages of the DynamoDB source into an [`Aggregator`];
//! * [`write_partial`] / [`merge_partials`] — the scale-out path's partial-aggregate files;
//! * [`write_reports`] — the CSV sink.
//!
//! The DynamoDB source is [`crate::aws::logs_table`]; a run joins it to [`aggregate_pages`]
//! (`crate::app::table_read`). The store and mail sinks are `crate::app::publish`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use marketplace_reports::aggregate::{AggregateError, Aggregator, IngestStats, PartialAggregate};
use marketplace_reports::{DailyReport, Item, ReportPlan};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::export::{aggregate_export_parallel, ExportError};
use crate::files_sink::{write_report, WriteError};
use crate::partition::Partition;
use crate::spill::{Spill, SpillError, SPILL_ROWS};

/// Errors of the job's stages.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Reading export files.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// Aggregating.
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
    /// Writing CSV files.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Reading or writing a partial-aggregate file.
    #[error("partial aggregate {path}: {message}")]
    Partial {
        /// File.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Spilling or reading back error and reject rows.
    #[error(transparent)]
    Spill(#[from] SpillError),
    /// No partials given to merge.
    #[error("merge needs at least one partial-aggregate file")]
    NothingToMerge,
}

/// Aggregates the export at `path` (all files, or one partition's) for `plan` on every core;
/// with a `spill`, error and reject rows move there as it goes (then [`Aggregator::finish`]'s
/// reports lack them: the spill has them).
pub fn aggregate_export_source(
    path: &Path,
    plan: ReportPlan,
    partition: Option<Partition>,
    spill: Option<&Spill>,
) -> Result<Aggregator, JobError> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let (agg, files) = aggregate_export_parallel(path, plan, partition, workers, spill)?;
    tracing::info!(files, workers, groups = agg.group_count(), stats = ?agg.stats(), "export aggregated");
    Ok(agg)
}

/// Counts `pages` of DeploymentLogs items (each with the report date whose shards held it) into
/// `agg` as they arrive; with a `spill`, error and reject rows move there every [`SPILL_ROWS`].
/// Returns it with how many items each day held. After a failure the remaining pages are
/// drained unread, so the source ends by itself.
pub async fn aggregate_pages(
    mut agg: Aggregator,
    mut pages: mpsc::Receiver<(NaiveDate, Vec<Item>)>,
    spill: Option<&Spill>,
) -> Result<(Aggregator, BTreeMap<NaiveDate, u64>), JobError> {
    let mut failed = None;
    let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    while let Some((day, page)) = pages.recv().await {
        if failed.is_some() {
            continue;
        }
        *per_day.entry(day).or_default() += page.len() as u64;
        for item in &page {
            if let Err(e) = agg.ingest_item(item, &|| "item without deployment_id or keys".to_owned()) {
                failed = Some(JobError::from(e));
                break;
            }
        }
        if let Some(spill) = spill.filter(|_| agg.held_rows() >= SPILL_ROWS) {
            if let Err(e) = spill.add(agg.take_rows()) {
                failed = Some(JobError::Spill(e));
            }
        }
    }
    if let (None, Some(spill)) = (&failed, spill) {
        if let Err(e) = spill.add(agg.take_rows()) {
            failed = Some(JobError::Spill(e));
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok((agg, per_day)),
    }
}

/// Writes a partial aggregate as JSON.
pub fn write_partial(agg: &Aggregator, path: &Path) -> Result<(), JobError> {
    let err = |message: String| JobError::Partial { path: path.to_owned(), message };
    let json = encode_partial(agg).map_err(|e| err(e.to_string()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    std::fs::write(path, json).map_err(|e| err(e.to_string()))
}

/// Reads and merges partial aggregates (all must share one plan).
pub fn merge_partials(paths: &[PathBuf]) -> Result<Aggregator, JobError> {
    let mut merged: Option<Aggregator> = None;
    for path in paths {
        let err = |message: String| JobError::Partial { path: path.clone(), message };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let agg = decode_partial(&bytes).map_err(|e| err(e.to_string()))?;
        match merged.as_mut() {
            None => merged = Some(agg),
            Some(m) => m.merge(agg)?,
        }
    }
    merged.ok_or(JobError::NothingToMerge)
}

/// A partial aggregate as bytes (JSON), for a file or an object store.
pub fn encode_partial(agg: &Aggregator) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&agg.to_partial())
}

/// The inverse of [`encode_partial`].
pub fn decode_partial(bytes: &[u8]) -> Result<Aggregator, serde_json::Error> {
    serde_json::from_slice::<PartialAggregate>(bytes).map(Aggregator::from_partial)
}

/// Writes every date's CSV files under `out`; returns the date directories.
pub fn write_reports(out: &Path, reports: &[DailyReport]) -> Result<Vec<PathBuf>, JobError> {
    reports.iter().map(|r| write_report(out, r).map_err(JobError::from)).collect()
}

/// What a run did; printed as one JSON line by the CLI and returned by the Lambda handler.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Report dates produced.
    pub dates: Vec<String>,
    /// Items read.
    pub items: u64,
    /// Items counted.
    pub counted: u64,
    /// Items rejected (listed in `rejected.csv`).
    pub rejected: u64,
    /// Items outside the dates read.
    pub outside_window: u64,
    /// Providers with files, summed over dates.
    pub provider_reports: usize,
    /// Report items stored in DynamoDB.
    pub items_stored: usize,
    /// (date, group) totals held: what memory grows with.
    pub groups: usize,
    /// Days of deployment logs read (1 on a normal night; the month so far without stored
    /// month sums).
    pub days_read: usize,
    /// Logs of already reported days that arrived (or left) after their report
    /// (`<date>: <count>`): re-run those dates and the later ones.
    pub late_logs: Vec<String>,
    /// Their number.
    pub late_log_count: u64,
    /// Report files put in the report-files bucket (`REPORT_FILES_BUCKET`).
    pub files_uploaded: usize,
    /// The most bytes the run had on the local disk at once (its spill and report files, in
    /// 4 KiB blocks), to compare with the function's `EphemeralStorage` (`crate::disk`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_disk_peak_bytes: Option<u64>,
    /// The run's local-disk budget (`EPHEMERAL_STORAGE_MB`), when it has one: with the peak,
    /// the `LocalDiskUsedPercent` metric and its alarm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_disk_limit_bytes: Option<u64>,
    /// Emails sent.
    pub emails_sent: usize,
    /// Emails skipped because the ledger says they were already sent.
    pub emails_already_sent: usize,
    /// Deliveries claimed earlier but never recorded as sent (not re-sent; see `--resend`).
    pub deliveries_in_doubt: usize,
    /// Who those in-doubt deliveries were for (`<date> <provider id or team>`).
    pub in_doubt: Vec<String>,
    /// Deliveries that failed this run (`<date> <recipient>: <reason>`); the others went out.
    pub failed_deliveries: Vec<String>,
    /// Deliveries not started because the invocation's time ran short (`<date> <recipient>`):
    /// the run fails so that Lambda's retry delivers them.
    pub postponed: Vec<String>,
    /// Their number.
    pub deliveries_postponed: usize,
    /// Providers with files but no provider record to email.
    pub providers_without_contact: usize,
    /// Providers whose contact address is undeliverable (SES bounce or complaint): the report is
    /// stored and recorded as suppressed in the delivery ledger, not emailed.
    pub providers_suppressed: usize,
    /// Offboarded providers with files: stored, not emailed (they are sent no further email).
    pub providers_offboarded: usize,
    /// What the MPA campaign did (`crate::app::mpa_campaign`), when a version is stored as data;
    /// its emails are also in the counts above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mpa_campaign: Option<marketplace_reports::mpa_campaign::CampaignCounts>,
}

impl RunSummary {
    /// Summary of the aggregation part of a run.
    pub fn new(stats: IngestStats, reports: &[DailyReport]) -> Self {
        RunSummary {
            dates: reports.iter().map(|r| r.date.to_string()).collect(),
            items: stats.items,
            counted: stats.counted,
            rejected: stats.rejected,
            outside_window: stats.outside_window,
            provider_reports: reports.iter().map(|r| r.providers.len()).sum(),
            ..RunSummary::default()
        }
    }
}
