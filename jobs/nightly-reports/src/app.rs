//! One report run, end to end: source → aggregate → CSV files → (report items) → (emails).
//! Used by the CLI, the Lambda handler and the integration tests alike.
//!
//! Environment for the AWS parts ([`AwsContext::from_env`]): `DEPLOYMENT_LOGS_TABLE`,
//! `REPORTS_TABLE`, `MARKETPLACE_TABLE` (provider contact addresses), the portal's email
//! settings (`SENDER_ADDRESS`, `REPLY_TO_ADDRESS`, `TEAM_INBOX`, `PORTAL_URL`, ...), how fast
//! emails go out (`REPORT_SEND_CONCURRENCY`, default 8; `SES_MAX_SEND_RATE` per second, default
//! 14) and the SDK's own (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use marketplace_aws::{DynamoProviderStore, SesMailer};
use marketplace_core::{DomainError, PortalConfig};
use marketplace_reports::aggregate::Aggregator;
use marketplace_reports::aggregate::{ErrorRow, RejectRow};
use marketplace_reports::delivery::{deliver_reports, DeliveryServices, ErrorRowsOf, Resend, SendLimits};
use marketplace_reports::storage::late_counts;
use marketplace_reports::ReportPlan;
use serde::Deserialize;

use crate::aws::{AwsError, DeploymentLogTable, PartialStore, ReportFileStore, ReportsTable};
use crate::cli::Delivery;
use crate::files_sink::write_report_with;
use crate::partition::Partition;
use crate::pipeline::{
    aggregate_export_spilling, decode_partial, encode_partial, write_partial, write_reports, JobError, RunSummary,
};
use crate::spill::Spill;

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
    /// The AWS settings in the environment are incomplete (`marketplace_aws::required_env`).
    #[error("{0:#}")]
    Settings(anyhow::Error),
    /// Some deliveries failed; every other one went out. Carries the run's summary.
    #[error("reports not delivered to: {}", .0.failed_deliveries.join("; "))]
    Undelivered(Box<RunSummary>),
    /// A report date that has not ended yet (UTC).
    #[error("{date} has not ended yet (today is {today} UTC): its logs are incomplete; report it from tomorrow on")]
    DayNotOver {
        /// The date asked for.
        date: NaiveDate,
        /// Today (UTC).
        today: NaiveDate,
    },
    /// Later dates of the month were stored after the first date of this run.
    #[error(
        "report dates {later:?} were stored after {last} and their month-to-date figures build on it: \
         re-run {first}..{through} together (--dates {first}..{through}, or {{\"dates\": \"{first}..{through}\"}})"
    )]
    LaterDatesReported {
        /// First date asked for.
        first: NaiveDate,
        /// Last date asked for.
        last: NaiveDate,
        /// Later dates of the month with stored figures.
        later: Vec<NaiveDate>,
        /// The latest of them.
        through: NaiveDate,
    },
    /// The run needs AWS but has no context.
    #[error("this run reads the DeploymentLogs table or stores/sends, which needs AWS settings")]
    NoAws,
    /// The monthly statement run (`statement` mode) failed or missed providers.
    #[error(transparent)]
    Statement(#[from] crate::statement_run::StatementRunError),
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
    /// Deliveries in flight and SES's send rate (`REPORT_SEND_CONCURRENCY`, `SES_MAX_SEND_RATE`).
    pub sends: SendLimits,
    /// Where scale-out partitions leave their partial aggregates (`REPORT_PARTIALS_BUCKET`;
    /// only the Lambda scale-out modes need it).
    pub partials: Option<PartialStore>,
    /// Where a storing run puts its report files (`REPORT_FILES_BUCKET`; without it the files
    /// stay local only).
    pub files: Option<ReportFileStore>,
}

impl AwsContext {
    /// Builds clients from the environment (see module docs).
    pub async fn from_env() -> Result<Self, AppError> {
        let sdk = marketplace_aws::batch_sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let env = |name| marketplace_aws::required_env(name).map_err(AppError::Settings);
        Ok(AwsContext {
            logs: DeploymentLogTable::new(dynamodb.clone(), env("DEPLOYMENT_LOGS_TABLE")?),
            reports: ReportsTable::new(dynamodb.clone(), env("REPORTS_TABLE")?),
            providers: DynamoProviderStore::new(dynamodb, env("MARKETPLACE_TABLE")?),
            mailer: SesMailer::new(aws_sdk_ses::Client::new(&sdk)),
            config: PortalConfig::from_env()?,
            sends: SendLimits::from_env()?,
            partials: std::env::var("REPORT_PARTIALS_BUCKET")
                .ok()
                .filter(|b| !b.trim().is_empty())
                .map(|bucket| PartialStore::new(&sdk, bucket)),
            files: std::env::var("REPORT_FILES_BUCKET")
                .ok()
                .filter(|b| !b.trim().is_empty())
                .map(|bucket| ReportFileStore::new(&sdk, bucket)),
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
    run_job_resending(request, &Resend::from(request.delivery.resend), aws).await
}

/// [`run_job`], re-sending the deliveries `resend` covers even where the ledger has them.
pub async fn run_job_resending(
    request: &JobRequest,
    resend: &Resend,
    aws: Option<&AwsContext>,
) -> Result<RunSummary, AppError> {
    refuse_unfinished_days(request.plan, chrono::Utc::now().date_naive())?;
    let partition = request.partition.as_ref().map(|(p, _)| *p);
    if request.partition.is_none() && request.delivery.store {
        refuse_if_later_dates_stored(&aws.ok_or(AppError::NoAws)?.reports, request.plan).await?;
    }
    // A whole run streams its error and reject rows out of memory; a partition keeps them for
    // its partial aggregate.
    let spill = if partition.is_none() { Some(Spill::new().map_err(JobError::from)?) } else { None };
    let (agg, table_read) = match &request.source {
        Source::Export(path) => (aggregate_export_spilling(path, request.plan, partition, spill.as_ref())?, None),
        Source::Table => {
            let aws = aws.ok_or(AppError::NoAws)?;
            let start = starting_point(&aws.reports, request.plan, partition.is_none()).await?;
            let read_started_at = chrono::Utc::now();
            let (agg, items) =
                aws.logs.aggregate_counting(start, partition, request.parallelism, spill.as_ref()).await?;
            (agg, Some(TableRead { started_at: read_started_at, items }))
        }
    };
    let late = match (&request.source, aws, &table_read) {
        (Source::Table, Some(aws), Some(read)) if partition.is_none() => {
            late_logs(&aws.reports, request.plan, read.started_at).await?
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
    let summary =
        publish_resending(agg, &request.out, request.delivery, resend, spill.as_ref(), table_read.as_ref(), aws).await;
    match summary {
        Ok(mut summary) => {
            summary.late_log_count = late.iter().map(|(_, n)| *n).sum();
            summary.late_logs = late.iter().map(|(d, n)| format!("{d}: {n}")).collect();
            Ok(summary)
        }
        Err(AppError::Undelivered(mut summary)) => {
            summary.late_log_count = late.iter().map(|(_, n)| *n).sum();
            summary.late_logs = late.iter().map(|(d, n)| format!("{d}: {n}")).collect();
            Err(AppError::Undelivered(summary))
        }
        Err(e) => Err(e),
    }
}

/// What a table run read: when its read of the DeploymentLogs day-shards started, and how many
/// items each day held. Both go into the dates' month-sums marks.
#[derive(Debug, Clone)]
pub struct TableRead {
    /// When the run started reading (changes from then on may be missing from its reports).
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Items read per day.
    pub items: BTreeMap<NaiveDate, u64>,
}

/// Logs that arrived after their day was reported, as the `late-logs` function recorded them
/// from the DeploymentLogs stream: the late-log items of the first report date's month (and of
/// the month before in a month's first [`LATE_LOGS_PREVIOUS_MONTH_DAYS`] days, so a late log of
/// the 31st is still named on the 1st), one paged `Query` each, plus the month's marks. A date
/// counts the late logs changed after its latest run started reading; the dates this run
/// reports count from this run's own read start (`read_started_at`), so a re-run makes its
/// dates' earlier late logs moot. Each date is logged with the re-run that includes it, and
/// reported (`late_logs` in the summary, the `LateLogs` metric and its alarm). No day is read
/// again.
async fn late_logs(
    reports: &ReportsTable,
    plan: ReportPlan,
    read_started_at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(NaiveDate, u64)>, AppError> {
    let first = plan.first();
    let mut months = vec![first];
    if first.day() <= LATE_LOGS_PREVIOUS_MONTH_DAYS {
        months.extend(first.with_day(1).and_then(|d| d.pred_opt()));
    }
    let mut counts = BTreeMap::new();
    for month in months {
        let mut marks = reports.month_sums_marks(month).await?;
        for date in plan.report_dates() {
            if let Some(mark) = marks.get_mut(&date) {
                mark.read_started_at = Some(read_started_at);
            }
        }
        counts.extend(late_counts(&reports.late_logs(month).await?, &marks));
    }
    for (date, count) in &counts {
        tracing::warn!(
            %date, late_logs = count,
            "deployment logs of an already reported day changed after its report; re-run it and the later dates (--dates {date}..<latest reported date>)"
        );
    }
    Ok(counts.into_iter().collect())
}

/// In a month's first days the late logs of the month before are named too.
pub const LATE_LOGS_PREVIOUS_MONTH_DAYS: u32 = 7;

/// A report of `today` (UTC) or later would report a partial day: refused.
pub fn refuse_unfinished_days(plan: ReportPlan, today: NaiveDate) -> Result<(), AppError> {
    if plan.last() >= today {
        return Err(AppError::DayNotOver { date: plan.last(), today });
    }
    Ok(())
}

/// A stored run for `plan` would leave the month-to-date figures of later dates of its last
/// month built on the old figures: refuse it, naming the dates to re-run together with it.
pub async fn refuse_if_later_dates_stored(reports: &ReportsTable, plan: ReportPlan) -> Result<(), AppError> {
    let later: Vec<NaiveDate> =
        reports.month_sums_dates(plan.last()).await?.into_iter().filter(|d| *d > plan.last()).collect();
    match later.last() {
        None => Ok(()),
        Some(&through) => Err(AppError::LaterDatesReported { first: plan.first(), last: plan.last(), later, through }),
    }
}

/// The aggregator a table run starts from. Month-to-date comes from the exact month sums an
/// earlier night stored (the latest marked date of the first report date's month before it), so
/// only the days after that date are read: on a normal night, one day. Without stored sums
/// (the first night, or after a gap) the days since the month's start are read. `with_sums`:
/// load the sums (a partition leaves them to the merge, which adds them once).
pub async fn starting_point(reports: &ReportsTable, plan: ReportPlan, with_sums: bool) -> Result<Aggregator, AppError> {
    let first = plan.first();
    let through = reports.month_sums_dates(first).await?.into_iter().filter(|d| *d < first).max();
    let Some(through) = through else {
        return Ok(Aggregator::new(plan));
    };
    let sums = if with_sums { reports.month_sums(through).await? } else { Vec::new() };
    tracing::info!(%through, groups = sums.len(), "month-to-date builds on stored month sums");
    Ok(Aggregator::seeded(plan, through, sums).map_err(JobError::from)?)
}

/// Adds the stored month sums a merged set of table partitions was built on (once).
pub async fn add_stored_sums(reports: &ReportsTable, mut merged: Aggregator) -> Result<Aggregator, AppError> {
    let plan = merged.plan();
    if let Some(through) = merged.read_from().pred_opt().filter(|d| *d >= plan.read_from()) {
        let seed = Aggregator::seeded(plan, through, reports.month_sums(through).await?).map_err(JobError::from)?;
        merged.merge(seed).map_err(JobError::from)?;
    }
    Ok(merged)
}

/// The sinks: CSV files always; report items and emails when asked.
pub async fn publish(
    agg: Aggregator,
    out: &std::path::Path,
    delivery: Delivery,
    aws: Option<&AwsContext>,
) -> Result<RunSummary, AppError> {
    publish_resending(agg, out, delivery, &Resend::from(delivery.resend), None, None, aws).await
}

/// [`publish`] with an explicit re-send selection, and the error and reject rows in `spill`
/// when the aggregator streamed them out (they are read back one provider at a time).
/// `day_items`: what a table run read ([`TableRead`]), kept in the month-sums marks so that
/// late logs of the dates can be told from logs the report read. Fails at
/// the end, after every other delivery went out, when some delivery failed
/// ([`AppError::Undelivered`]).
pub async fn publish_resending(
    agg: Aggregator,
    out: &std::path::Path,
    delivery: Delivery,
    resend: &Resend,
    spill: Option<&Spill>,
    day_items: Option<&TableRead>,
    aws: Option<&AwsContext>,
) -> Result<RunSummary, AppError> {
    let stats = agg.stats();
    let days_read = agg.days_to_read().count();
    let groups = agg.group_count();
    if delivery.store {
        let aws = aws.ok_or(AppError::NoAws)?;
        for date in agg.plan().report_dates() {
            let logs_read = day_items.map(|read| read.items.get(&date).copied().unwrap_or(0));
            aws.reports.store_month_sums(date, &agg, logs_read, day_items.map(|read| read.started_at)).await?;
        }
    }
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
                    write_report_with(out, report, Some(&mut |p: &str| errors.take(date, p)))
                        .map_err(JobError::from)?,
                );
            }
            dirs
        }
    };
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
                    charts: Some(&crate::aws::chart_source::StoredReportCharts::new(&aws.reports)),
                    limits: aws.sends,
                };
                let date = report.date;
                let mut errors_of = errors.as_mut().map(|e| move |p: &str| e.take(date, p));
                let errors_of = errors_of.as_mut().map(|f| f as ErrorRowsOf<'_>);
                let counts = deliver_reports(&services, report, resend, errors_of).await;
                summary.emails_sent += counts.sent;
                summary.emails_already_sent += counts.already_sent;
                summary.deliveries_in_doubt += counts.in_doubt.len();
                summary.in_doubt.extend(counts.in_doubt.iter().map(|to| format!("{} {to}", report.date)));
                summary.providers_without_contact += counts.no_recipient;
                summary
                    .failed_deliveries
                    .extend(counts.failed.iter().map(|(to, why)| format!("{} {to}: {why}", report.date)));
            }
        }
    }
    if !summary.failed_deliveries.is_empty() {
        return Err(AppError::Undelivered(Box::new(summary)));
    }
    Ok(summary)
}

/// Reads a spill's error rows back for one (date, provider) after the other, in order. A
/// second thread merges the sorted runs ahead of the reader (a few batches, bounded), so the
/// merge overlaps rendering and writing the files.
struct ErrorsByProvider {
    batches: std::sync::mpsc::Receiver<Result<Vec<ErrorRow>, String>>,
    pending: std::collections::VecDeque<ErrorRow>,
}

/// Rows per batch handed from the merging thread (with 4 batches queued: a few MiB at most).
const MERGE_BATCH: usize = 1024;

impl ErrorsByProvider {
    fn open(spill: &Spill) -> Result<Self, JobError> {
        let mut merged = spill.errors()?;
        let (tx, batches) = std::sync::mpsc::sync_channel(4);
        // Ends by itself: at the last row, on an error, or when the reader is gone.
        std::thread::spawn(move || loop {
            let mut batch = Vec::with_capacity(MERGE_BATCH);
            let end = loop {
                match merged.next_row() {
                    Ok(Some(row)) => {
                        batch.push(row);
                        if batch.len() == MERGE_BATCH {
                            break Ok(false);
                        }
                    }
                    Ok(None) => break Ok(true),
                    Err(e) => break Err(e.to_string()),
                }
            };
            match end {
                Ok(end) => {
                    if tx.send(Ok(batch)).is_err() || end {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        Ok(ErrorsByProvider { batches, pending: std::collections::VecDeque::new() })
    }

    /// Whether the next row exists and `keep` says it belongs here.
    fn next_is(&mut self, keep: impl Fn(&ErrorRow) -> bool) -> Result<bool, String> {
        while self.pending.is_empty() {
            match self.batches.recv() {
                Ok(batch) => self.pending.extend(batch?),
                Err(_) => return Ok(false), // every row was read
            }
        }
        Ok(self.pending.front().is_some_and(keep))
    }

    fn take(&mut self, date: NaiveDate, provider_id: &str) -> Result<Vec<ErrorRow>, String> {
        while self.next_is(|r| (r.report_date, r.provider_id.as_str()) < (date, provider_id))? {
            self.pending.pop_front();
        }
        let mut rows = Vec::new();
        while self.next_is(|r| r.report_date == date && r.provider_id == provider_id)? {
            rows.extend(self.pending.pop_front());
        }
        Ok(rows)
    }
}

/// The rejects listed under `date` (its own and the undated ones), in file order.
fn rejects_of(spill: &Spill, date: NaiveDate) -> Result<Vec<RejectRow>, JobError> {
    let mut merged = spill.rejects()?;
    let mut rows = Vec::new();
    while let Some(row) = merged.next_row()? {
        if row.report_date.is_none_or(|d| d == date) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The job's Lambda payload (template.yaml documents who sends which):
///
/// * `{"mode": "run", "scheduled_time": T}` (the schedule) or `{}`: one run for the day before
///   `T` (UTC; without `T`, yesterday by the clock), so a retry after midnight still reports the
///   scheduled day. `{"date": D}` or `{"dates": "D1..D2"}` pick other dates.
/// * `{"mode": "partition", "run_id": R, "partition": i, "partitions": N, ...dates}`: aggregate
///   the day-shards of partition i/N and store the partial aggregate at `partials/R/i.json`.
/// * `{"mode": "merge", "partials": [keys], ...dates}`: merge the partials and publish exactly
///   what a single run would (files, report items, emails).
/// * `{"mode": "statement", "month": "YYYY-MM"}`: the monthly statements of a closed month
///   (without `month`: the month before `scheduled_time`, or before today) —
///   [`crate::statement_run`]; `resend` works as for the dailies.
///
/// Unknown fields are ignored (the scheduler's envelope may carry more).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduledRun {
    /// What to do (default `run`).
    #[serde(default)]
    pub mode: Mode,
    /// One report date.
    #[serde(default)]
    pub date: Option<chrono::NaiveDate>,
    /// A range `D1..D2`.
    #[serde(default)]
    pub dates: Option<String>,
    /// When the schedule fired; the report is for the UTC day before.
    #[serde(default)]
    pub scheduled_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Scale-out run id (the state machine's execution name).
    #[serde(default)]
    pub run_id: Option<String>,
    /// Scale-out partition index.
    #[serde(default)]
    pub partition: Option<usize>,
    /// Scale-out partition count.
    #[serde(default)]
    pub partitions: Option<usize>,
    /// Keys of the partial aggregates to merge.
    #[serde(default)]
    pub partials: Vec<String>,
    /// An operator's re-send: `"all"` or a list of provider ids whose deliveries go out again
    /// even though the ledger has them (README, "Deliveries in doubt").
    #[serde(default)]
    pub resend: Option<ResendPayload>,
    /// `statement` mode: the month (`YYYY-MM`).
    #[serde(default)]
    pub month: Option<marketplace_reports::statement::Month>,
}

/// `"resend"` of the payload: `"all"` or `["provider-id", ...]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ResendPayload {
    /// Must be `"all"`.
    Word(String),
    /// Provider ids.
    Providers(Vec<String>),
}

impl ResendPayload {
    /// The selection it asks for.
    pub fn selection(&self) -> Result<Resend, AppError> {
        match self {
            ResendPayload::Word(w) if w == "all" => Ok(Resend::All),
            ResendPayload::Word(w) => Err(AppError::Config(DomainError::invalid(format!(
                "resend must be \"all\" or a list of provider ids, got {w:?}"
            )))),
            ResendPayload::Providers(ids) if ids.is_empty() => {
                Err(AppError::Config(DomainError::invalid("resend lists no provider ids")))
            }
            ResendPayload::Providers(ids) => Ok(Resend::Providers(ids.iter().cloned().collect())),
        }
    }
}

/// The job's Lambda modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A whole run.
    #[default]
    Run,
    /// Aggregate one partition into a partial aggregate.
    Partition,
    /// Merge partial aggregates and publish.
    Merge,
    /// The monthly statements of a closed month.
    Statement,
}

impl ScheduledRun {
    /// The plan the payload asks for.
    pub fn plan(&self) -> Result<ReportPlan, AppError> {
        if let Some(range) = &self.dates {
            let r: crate::cli::DateRange =
                range.parse().map_err(|e: String| AppError::Config(DomainError::invalid(e)))?;
            return ReportPlan::new(r.first, r.last).map_err(|e| AppError::Job(e.into()));
        }
        let day_before_schedule = self.scheduled_time.and_then(|t| t.date_naive().pred_opt());
        Ok(ReportPlan::single(self.date.or(day_before_schedule).unwrap_or_else(crate::cli::yesterday_utc)))
    }
}

/// Handles one Lambda payload; returns what the caller (schedule or state machine) gets back.
pub async fn handle_scheduled(
    run: &ScheduledRun,
    aws: &AwsContext,
    out: &Path,
    parallelism: usize,
) -> Result<serde_json::Value, AppError> {
    let plan = run.plan()?;
    refuse_unfinished_days(plan, chrono::Utc::now().date_naive())?;
    let everything = Delivery { store: true, send: true, resend: false };
    let invalid = |m: String| AppError::Config(DomainError::invalid(m));
    let summary = match run.mode {
        Mode::Run => {
            let request = JobRequest {
                plan,
                source: Source::Table,
                partition: None,
                out: out.to_owned(),
                delivery: everything,
                parallelism,
            };
            let resend = run.resend.as_ref().map(ResendPayload::selection).transpose()?.unwrap_or_default();
            run_job_resending(&request, &resend, Some(aws)).await?
        }
        Mode::Partition => {
            let run_id = run.run_id.as_deref().filter(|r| marketplace_core::validate::is_identifier(r, 80));
            let run_id = run_id.ok_or_else(|| {
                invalid(format!(
                    "partition mode needs a run_id of letters, digits, '.', '_' or '-' (got {:?})",
                    run.run_id
                ))
            })?;
            let partition = match (run.partition, run.partitions) {
                (Some(index), Some(count)) if index < count => Partition { index, count },
                _ => {
                    return Err(invalid(format!(
                        "partition mode needs 0 <= partition < partitions (got {:?} of {:?})",
                        run.partition, run.partitions
                    )))
                }
            };
            let store = aws.partials.as_ref().ok_or(AppError::MissingEnv("REPORT_PARTIALS_BUCKET"))?;
            let start = starting_point(&aws.reports, plan, false).await?;
            // Error and reject rows go to a local spill, then to S3 as one sorted run each
            // (`<i>.errors`, `<i>.rejects`), streamed: neither this partition nor the merge
            // holds them. The group totals (`<i>.json`) go last, so a listed partial is whole.
            let spill = Spill::new().map_err(JobError::from)?;
            let mut agg = aws.logs.aggregate(start, Some(partition), parallelism, Some(&spill)).await?;
            spill.add(agg.take_rows()).map_err(JobError::from)?;
            let stats = agg.stats();
            let stem = format!("partials/{run_id}/{}", partition.index);
            let (errors_run, rejects_run) = (spill.scratch_path("out-errors"), spill.scratch_path("out-rejects"));
            spill.write_merged(&errors_run, &rejects_run).map_err(JobError::from)?;
            store.put_file(&format!("{stem}.errors"), &errors_run).await?;
            store.put_file(&format!("{stem}.rejects"), &rejects_run).await?;
            let key = format!("{stem}.json");
            store.put(&key, encode_partial(&agg).map_err(|e| invalid(e.to_string()))?).await?;
            return Ok(
                serde_json::json!({ "partial": key, "items": stats.items, "counted": stats.counted, "rejected": stats.rejected }),
            );
        }
        Mode::Merge => {
            let store = aws.partials.as_ref().ok_or(AppError::MissingEnv("REPORT_PARTIALS_BUCKET"))?;
            // Each partial's rows are streamed to a file and merged as a run of one spill, so
            // the merge holds group totals only, whatever the number of error rows.
            let spill = Spill::new().map_err(JobError::from)?;
            let mut merged: Option<Aggregator> = None;
            for key in &run.partials {
                let mut agg =
                    decode_partial(&store.get(key).await?).map_err(|e| invalid(format!("partial {key}: {e}")))?;
                if agg.plan() != plan {
                    return Err(invalid(format!("partial {key} covers other dates than this merge")));
                }
                let stem = key.strip_suffix(".json").unwrap_or(key);
                let (errors_run, rejects_run) = (spill.scratch_path("in-errors"), spill.scratch_path("in-rejects"));
                store.get_file(&format!("{stem}.errors"), &errors_run).await?;
                store.get_file(&format!("{stem}.rejects"), &rejects_run).await?;
                spill.adopt(&errors_run, &rejects_run).map_err(JobError::from)?;
                spill.add(agg.take_rows()).map_err(JobError::from)?;
                match merged.as_mut() {
                    None => merged = Some(agg),
                    Some(m) => m.merge(agg).map_err(JobError::from)?,
                }
            }
            let merged = merged.ok_or(AppError::Job(JobError::NothingToMerge))?;
            refuse_if_later_dates_stored(&aws.reports, plan).await?;
            let merged = add_stored_sums(&aws.reports, merged).await?;
            let resend = Resend::from(everything.resend);
            publish_resending(merged, out, everything, &resend, Some(&spill), None, Some(aws)).await?
        }
        Mode::Statement => {
            let request = crate::statement_run::StatementRequest {
                month: run.month.unwrap_or_else(|| {
                    crate::statement_run::month_before(run.scheduled_time.unwrap_or_else(chrono::Utc::now))
                }),
                out: out.to_owned(),
                send: true,
                resend: run.resend.as_ref().map(ResendPayload::selection).transpose()?.unwrap_or_default(),
                scan_page_limit: None,
            };
            let summary = crate::statement_run::run_statements(&request, aws).await?;
            return serde_json::to_value(&summary).map_err(|e| invalid(e.to_string()));
        }
    };
    serde_json::to_value(&summary).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn today_and_later_are_refused_as_partial_days() {
        let today = chrono::Utc::now().date_naive();
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
            match run_job(&request(plan), None).await {
                Err(AppError::DayNotOver { date, today: t }) => assert_eq!((date, t), (plan.last(), today)),
                other => panic!("{plan:?}: expected a refusal, got {other:?}"),
            }
        }
        assert!(refuse_unfinished_days(ReportPlan::single(yesterday), today).is_ok());
        let payload = ScheduledRun { date: Some(today), ..ScheduledRun::default() };
        assert_eq!(payload.plan().expect("plan").last(), today, "the payload parses; the run refuses it");
    }
}
