//! The scale-out modes of the Lambda: a partition aggregates its share of the day-shards into a
//! partial aggregate in S3; the merge folds the partials and publishes exactly what a single run
//! would. Error and reject rows travel as sorted spill runs beside each partial, streamed: neither
//! side holds them in memory. Each partition's read ([`TableRead`]: when it started reading,
//! items per day) travels beside its partial too (`<i>.read`), so the merge marks the dates with
//! the earliest read start and names late logs as a single run does.

use std::path::Path;

use chrono::Utc;
use marketplace_reports::aggregate::Aggregator;
use marketplace_reports::delivery::Resend;
use marketplace_reports::ReportPlan;
use serde_json::Value;

use super::error::AppError;
use super::guards::refuse_if_later_dates_stored;
use super::late_logs::late_log_counts;
use super::payload::SCHEDULED_DELIVERY;
use super::publish::publish;
use super::run::run_spill;
use super::seed::{add_stored_sums, starting_point};
use super::table_read::{read_table, TableRead};
use crate::aws::partials::FetchError;
use crate::aws::PartialStore;
use crate::context::AwsContext;
use crate::partition::Partition;
use crate::pipeline::{decode_partial, encode_partial, JobError, RunSummary};
use crate::spill::SpillError;

fn partial_store(aws: &AwsContext) -> Result<&PartialStore, AppError> {
    aws.partials.as_ref().ok_or(AppError::MissingEnv("REPORT_PARTIALS_BUCKET"))
}

/// `partition` mode: aggregates `partition`'s day-shards for `plan` and stores the partial at
/// `partials/<run_id>/<i>.json` (its rows at `<i>.errors` and `<i>.rejects`, its read at
/// `<i>.read`); returns its key and counts.
pub async fn run_partition(
    run_id: &str,
    partition: Partition,
    plan: ReportPlan,
    aws: &AwsContext,
    parallelism: usize,
) -> Result<Value, AppError> {
    let store = partial_store(aws)?;
    let start = starting_point(&aws.reports, plan, false).await?;
    // Error and reject rows go to a local spill, then to S3 as one sorted run each
    // (`<i>.errors`, `<i>.rejects`), streamed: neither this partition nor the merge
    // holds them. The group totals (`<i>.json`) go last, so a listed partial is whole.
    let spill = run_spill()?;
    let started_at = Utc::now();
    let (mut agg, items) = read_table(&aws.logs, start, Some(partition), parallelism, Some(&spill)).await?;
    let read = TableRead { started_at, items };
    spill.add(agg.take_rows()).map_err(JobError::from)?;
    let stats = agg.stats();
    let stem = format!("partials/{run_id}/{}", partition.index);
    let (errors_run, rejects_run) = (spill.scratch_path("out-errors"), spill.scratch_path("out-rejects"));
    spill.write_merged(&errors_run, &rejects_run).map_err(JobError::from)?;
    store.put_file(&format!("{stem}.errors"), &errors_run).await?;
    store.put_file(&format!("{stem}.rejects"), &rejects_run).await?;
    store
        .put(&format!("{stem}.read"), serde_json::to_vec(&read).map_err(|e| AppError::invalid(e.to_string()))?)
        .await?;
    let key = format!("{stem}.json");
    store.put(&key, encode_partial(&agg).map_err(|e| AppError::invalid(e.to_string()))?).await?;
    Ok(serde_json::json!({
        "partial": key,
        "items": stats.items,
        "counted": stats.counted,
        "rejected": stats.rejected,
        "local_disk_peak_bytes": spill.budget().peak(),
        "local_disk_limit_bytes": spill.budget().limit(),
    }))
}

/// `merge` mode: merges the partials at `keys` (all for `plan`), adds the stored month sums
/// they built on, and publishes (stored and sent), marking the dates with the partitions'
/// earliest read start and naming the late logs from it as a single run does.
pub async fn run_merge(
    keys: &[String],
    plan: ReportPlan,
    aws: &AwsContext,
    out: &Path,
) -> Result<RunSummary, AppError> {
    let store = partial_store(aws)?;
    // Each partial's rows are streamed to a file and merged as a run of one spill, so
    // the merge holds group totals only, whatever the number of error rows.
    let spill = run_spill()?;
    let mut merged: Option<Aggregator> = None;
    let mut reads = Vec::with_capacity(keys.len());
    for key in keys {
        let mut agg =
            decode_partial(&store.get(key).await?).map_err(|e| AppError::invalid(format!("partial {key}: {e}")))?;
        if agg.plan() != plan {
            return Err(AppError::invalid(format!("partial {key} covers other dates than this merge")));
        }
        let stem = key.strip_suffix(".json").unwrap_or(key);
        let (errors_run, rejects_run) = (spill.scratch_path("in-errors"), spill.scratch_path("in-rejects"));
        for (suffix, run) in [("errors", &errors_run), ("rejects", &rejects_run)] {
            let mut file = spill.create_file(run).map_err(JobError::from)?;
            store.get_file(&format!("{stem}.{suffix}"), &mut file).await.map_err(|e| match e {
                FetchError::S3(e) => AppError::Aws(e),
                FetchError::Write(source) => JobError::Spill(SpillError { path: run.clone(), source }).into(),
            })?;
        }
        spill.adopt(&errors_run, &rejects_run).map_err(JobError::from)?;
        let read = store.get(&format!("{stem}.read")).await?;
        reads.push(
            serde_json::from_slice::<TableRead>(&read)
                .map_err(|e| AppError::invalid(format!("partial {key}'s read: {e}")))?,
        );
        spill.add(agg.take_rows()).map_err(JobError::from)?;
        match merged.as_mut() {
            None => merged = Some(agg),
            Some(m) => m.merge(agg).map_err(JobError::from)?,
        }
    }
    let merged = merged.ok_or(AppError::Job(JobError::NothingToMerge))?;
    let read = TableRead::combined(reads).ok_or(AppError::Job(JobError::NothingToMerge))?;
    refuse_if_later_dates_stored(&aws.reports, plan).await?;
    let merged = add_stored_sums(&aws.reports, merged).await?;
    let late = late_log_counts(&aws.reports, plan, read.started_at).await?;
    let name_late = |summary: &mut RunSummary| {
        summary.late_log_count = late.iter().map(|(_, n)| *n).sum();
        summary.late_logs = late.iter().map(|(d, n)| format!("{d}: {n}")).collect();
    };
    match publish(merged, out, SCHEDULED_DELIVERY, &Resend::Nothing, Some(&spill), Some(&read), Some(aws)).await {
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
