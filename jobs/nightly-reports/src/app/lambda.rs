//! The Lambda handler: one payload ([`ScheduledRun`]), one mode.

use std::path::Path;

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use super::error::AppError;
use super::guards::refuse_unfinished_days;
use super::mpa_campaign::run_mpa_campaign;
use super::payload::{Mode, ScheduledRun, SCHEDULED_DELIVERY};
use super::run::{run_job, JobRequest, Source};
use super::scale_out::{run_merge, run_partition};
use crate::aws::erasure::erase_due_providers;
use crate::context::AwsContext;
use crate::statement_run::run_statements;

/// Handles one Lambda payload; returns what the caller (schedule or state machine) gets back.
pub async fn handle_scheduled(
    run: &ScheduledRun,
    aws: &AwsContext,
    out: &Path,
    parallelism: usize,
) -> Result<Value, AppError> {
    let plan = run.plan()?;
    refuse_unfinished_days(plan, Utc::now().date_naive())?;
    match run.mode {
        Mode::Run => {
            let request = JobRequest {
                plan,
                source: Source::Table,
                partition: None,
                out: out.to_owned(),
                delivery: SCHEDULED_DELIVERY,
                parallelism,
            };
            let mut summary = to_json(&run_job(&request, &run.resend_selection()?, Some(aws)).await?)?;
            // The daily erasure step (`crate::aws::erasure`): its failure never fails the reports.
            summary["erasure"] = match erase_due_providers(&aws.providers, Utc::now(), None).await {
                Ok(erasure) => to_json(&erasure)?,
                Err(e) => {
                    tracing::error!(error = %e, "erasure step failed: due providers are erased by the next run");
                    serde_json::json!({ "error": e.to_string() })
                }
            };
            Ok(summary)
        }
        Mode::Partition => {
            let (run_id, partition) = run.scale_out_partition()?;
            run_partition(run_id, partition, plan, aws, parallelism).await
        }
        Mode::Merge => to_json(&run_merge(&run.partials, plan, aws, out).await?),
        Mode::Statement => to_json(&run_statements(&run.statement_request(out)?, aws).await?),
        Mode::MpaCampaign => to_json(&run_mpa_campaign(aws, &run.resend_selection()?).await?),
    }
}

fn to_json(summary: &impl Serialize) -> Result<Value, AppError> {
    serde_json::to_value(summary).map_err(|e| AppError::invalid(e.to_string()))
}
