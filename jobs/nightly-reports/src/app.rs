//! One report run, end to end: source → aggregate → CSV files → (report items) → (emails).
//! Used by the CLI, the Lambda handler and the integration tests alike.
//!
//! Environment for the AWS parts ([`AwsContext::from_env`]): `DEPLOYMENT_LOGS_TABLE`,
//! `REPORTS_TABLE`, `MARKETPLACE_TABLE` (provider contact addresses), the portal's email
//! settings (`SENDER_ADDRESS`, `REPLY_TO_ADDRESS`, `TEAM_INBOX`, `PORTAL_URL`, ...) and the
//! SDK's own (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...).

use std::path::PathBuf;

use marketplace_aws::{DynamoProviderStore, SesMailer};
use marketplace_domain::report::aggregate::Aggregator;
use marketplace_domain::report::ReportPlan;
use marketplace_domain::{DomainError, PortalConfig};
use serde::Deserialize;

use crate::aws::{deliver_reports, AwsError, DeliveryServices, DeploymentLogTable, ReportsTable};
use crate::cli::Delivery;
use crate::partition::Partition;
use crate::pipeline::{aggregate_export_source, write_partial, write_reports, JobError, RunSummary};

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Local stages.
    #[error(transparent)]
    Job(#[from] JobError),
    /// AWS stages.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Configuration.
    #[error(transparent)]
    Config(#[from] DomainError),
    /// A required environment variable is missing.
    #[error("environment variable {0} is not set")]
    MissingEnv(&'static str),
    /// The run needs AWS but has no context.
    #[error("this run reads the DeploymentLogs table or stores/sends, which needs AWS settings")]
    NoAws,
}

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

/// The AWS clients a run may use.
pub struct AwsContext {
    /// Source table.
    pub logs: DeploymentLogTable,
    /// Reports table and delivery ledger.
    pub reports: ReportsTable,
    /// Provider contact addresses.
    pub providers: DynamoProviderStore,
    /// SES.
    pub mailer: SesMailer,
    /// Email settings.
    pub config: PortalConfig,
}

fn env(name: &'static str) -> Result<String, AppError> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).ok_or(AppError::MissingEnv(name))
}

impl AwsContext {
    /// Builds clients from the environment (see module docs).
    pub async fn from_env() -> Result<Self, AppError> {
        let sdk = marketplace_aws::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        Ok(AwsContext {
            logs: DeploymentLogTable::new(dynamodb.clone(), env("DEPLOYMENT_LOGS_TABLE")?),
            reports: ReportsTable::new(dynamodb.clone(), env("REPORTS_TABLE")?),
            providers: DynamoProviderStore::new(dynamodb, env("MARKETPLACE_TABLE")?),
            mailer: SesMailer::new(aws_sdk_ses::Client::new(&sdk)),
            config: PortalConfig::from_env()?,
        })
    }
}

impl JobRequest {
    /// Whether this request touches AWS at all.
    pub fn needs_aws(&self) -> bool {
        self.source == Source::Table || (self.partition.is_none() && (self.delivery.store || self.delivery.send))
    }
}

/// Runs one request. `aws` may be `None` when [`JobRequest::needs_aws`] is false.
pub async fn run_job(request: &JobRequest, aws: Option<&AwsContext>) -> Result<RunSummary, AppError> {
    let partition = request.partition.as_ref().map(|(p, _)| *p);
    let agg = match &request.source {
        Source::Export(path) => aggregate_export_source(path, request.plan, partition)?,
        Source::Table => aws.ok_or(AppError::NoAws)?.logs.aggregate(request.plan, partition, request.parallelism).await?,
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
    publish(agg, &request.out, request.delivery, aws).await
}

/// The sinks: CSV files always; report items and emails when asked.
pub async fn publish(agg: Aggregator, out: &std::path::Path, delivery: Delivery, aws: Option<&AwsContext>) -> Result<RunSummary, AppError> {
    let stats = agg.stats();
    let reports = agg.finish().map_err(JobError::from)?;
    write_reports(out, &reports)?;
    let mut summary = RunSummary::new(stats, &reports);
    if delivery.store || delivery.send {
        let aws = aws.ok_or(AppError::NoAws)?;
        for report in &reports {
            if delivery.store {
                summary.items_stored += aws.reports.store(report).await?;
            }
            if delivery.send {
                let services = DeliveryServices {
                    ledger: &aws.reports,
                    mailer: &aws.mailer,
                    providers: &aws.providers,
                    config: &aws.config,
                };
                let counts = deliver_reports(&services, report, delivery.resend).await?;
                summary.emails_sent += counts.sent;
                summary.emails_already_sent += counts.already_sent;
                summary.deliveries_in_doubt += counts.in_doubt;
                summary.providers_without_contact += counts.no_recipient;
            }
        }
    }
    Ok(summary)
}

/// The Lambda payload (EventBridge Scheduler `Input`): `{}` → yesterday (UTC);
/// `{"date": "2026-02-14"}` or `{"dates": "2026-02-01..2026-02-14"}` otherwise. Other fields
/// (e.g. a scheduled-event envelope) are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduledRun {
    /// One report date.
    #[serde(default)]
    pub date: Option<chrono::NaiveDate>,
    /// A range `D1..D2`.
    #[serde(default)]
    pub dates: Option<String>,
}

impl ScheduledRun {
    /// The plan the payload asks for.
    pub fn plan(&self) -> Result<ReportPlan, AppError> {
        if let Some(range) = &self.dates {
            let r: crate::cli::DateRange = range
                .parse()
                .map_err(|e: String| AppError::Config(DomainError::invalid(e)))?;
            return ReportPlan::new(r.first, r.last).map_err(|e| AppError::Job(e.into()));
        }
        Ok(ReportPlan::single(self.date.unwrap_or_else(crate::cli::yesterday_utc)))
    }
}
