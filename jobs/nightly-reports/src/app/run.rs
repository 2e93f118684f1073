//! One run of a request, end to end: guards, source (export files or the DeploymentLogs table,
//! from the stored month sums on), then a partial aggregate (one partition) or the sinks.

use std::path::PathBuf;

use chrono::Utc;
use marketplace_reports::delivery::Resend;
use marketplace_reports::ReportPlan;

use super::error::AppError;
use super::guards::{refuse_if_later_dates_stored, refuse_unfinished_days};
use super::late_logs::late_log_counts;
use super::publish::publish;
use super::seed::starting_point;
use super::table_read::{read_table, TableRead};
use crate::cli::Delivery;
use crate::context::AwsContext;
use crate::disk::DiskBudget;
use crate::partition::Partition;
use crate::pipeline::{aggregate_export_source, write_partial, JobError, RunSummary};
use crate::spill::Spill;

/// Where deployment logs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The `DeploymentLogs` table.
    Table,
    /// Export files.
    Export(PathBuf),
}

/// One run's request.
#[derive(Debug, Clone)]
pub struct JobRequest {
    /// Report dates.
    pub plan: ReportPlan,
    /// Source.
    pub source: Source,
    /// Only this partition, writing a partial aggregate to the path instead of outputs.
    pub partition: Option<(Partition, PathBuf)>,
    /// Output directory for CSVs.
    pub out: PathBuf,
    /// Store / send switches.
    pub delivery: Delivery,
    /// Concurrent shard queries.
    pub parallelism: usize,
}

impl JobRequest {
    /// Whether this request touches AWS at all.
    pub fn needs_aws(&self) -> bool {
        self.source == Source::Table || (self.partition.is_none() && (self.delivery.store || self.delivery.send))
    }
}

/// A run's spill, within the local-disk budget `EPHEMERAL_STORAGE_MB` sets ([`DiskBudget`]).
pub(crate) fn run_spill() -> Result<Spill, AppError> {
    let budget = DiskBudget::from_env().map_err(|e| AppError::invalid(e.to_string()))?;
    Ok(Spill::new(budget).map_err(JobError::from)?)
}

/// Runs one request, sending again the deliveries `resend` covers even where the ledger has
/// them (the command line's `--resend` is `Resend::from(request.delivery.resend)`). `aws` may be
/// `None` when [`JobRequest::needs_aws`] is false.
pub async fn run_job(request: &JobRequest, resend: &Resend, aws: Option<&AwsContext>) -> Result<RunSummary, AppError> {
    refuse_unfinished_days(request.plan, Utc::now().date_naive())?;
    let partition = request.partition.as_ref().map(|(p, _)| *p);
    if request.partition.is_none() && request.delivery.store {
        refuse_if_later_dates_stored(&aws.ok_or(AppError::NoAws)?.reports, request.plan).await?;
    }
    // A whole run streams its error and reject rows out of memory; a partition keeps them for
    // its partial aggregate.
    let spill = if partition.is_none() { Some(run_spill()?) } else { None };
    let (agg, table_read) = match &request.source {
        Source::Export(path) => (aggregate_export_source(path, request.plan, partition, spill.as_ref())?, None),
        Source::Table => {
            let aws = aws.ok_or(AppError::NoAws)?;
            let start = starting_point(&aws.reports, request.plan, partition.is_none()).await?;
            let started_at = Utc::now();
            let (agg, items) = read_table(&aws.logs, start, partition, request.parallelism, spill.as_ref()).await?;
            (agg, Some(TableRead { started_at, items }))
        }
    };
    let late = match (aws, &table_read) {
        (Some(aws), Some(read)) if partition.is_none() => {
            late_log_counts(&aws.reports, request.plan, read.started_at).await?
        }
        _ => Vec::new(),
    };
    if let Some((_, path)) = &request.partition {
        let stats = agg.stats();
        write_partial(&agg, path)?;
        return Ok(RunSummary {
            items: stats.items,
            counted: stats.counted,
            rejected: stats.rejected,
            outside_window: stats.outside_window,
            ..RunSummary::default()
        });
    }
    let published =
        publish(agg, &request.out, request.delivery, resend, spill.as_ref(), table_read.as_ref(), aws).await;
    let name_late = |summary: &mut RunSummary| {
        summary.late_log_count = late.iter().map(|(_, n)| *n).sum();
        summary.late_logs = late.iter().map(|(d, n)| format!("{d}: {n}")).collect();
    };
    match published {
        Ok(mut summary) => {
            name_late(&mut summary);
            Ok(summary)
        }
        Err(AppError::Undelivered(mut summary)) => {
            name_late(&mut summary);
            Err(AppError::Undelivered(summary))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::payload::ScheduledRun;

    #[tokio::test]
    async fn today_and_later_are_refused_as_partial_days() {
        let today = Utc::now().date_naive();
        let yesterday = today.pred_opt().expect("a day before");
        let tomorrow = today.succ_opt().expect("a day after");
        let request = |plan| JobRequest {
            plan,
            source: Source::Export(PathBuf::from("does-not-matter.json")),
            partition: None,
            out: std::env::temp_dir().join("never-written"),
            delivery: Delivery { store: false, send: false, resend: false },
            parallelism: 1,
        };
        for plan in
            [ReportPlan::single(today), ReportPlan::single(tomorrow), ReportPlan::new(yesterday, today).expect("plan")]
        {
            match run_job(&request(plan), &Resend::Nothing, None).await {
                Err(AppError::DayNotOver { date, today: t }) => assert_eq!((date, t), (plan.last(), today)),
                other => panic!("{plan:?}: expected a refusal, got {other:?}"),
            }
        }
        assert!(refuse_unfinished_days(ReportPlan::single(yesterday), today).is_ok());
        let payload = ScheduledRun { date: Some(today), ..ScheduledRun::default() };
        assert_eq!(payload.plan().expect("plan").last(), today, "the payload parses; the run refuses it");
    }
}
