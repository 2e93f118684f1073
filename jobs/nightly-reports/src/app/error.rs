//! The error of a run ([`AppError`]).

use chrono::NaiveDate;
use marketplace_aws::sdk_error::AwsError;
use marketplace_core::DomainError;

use crate::disk::{full_disk, DiskFull};
use crate::export::ExportError;
use crate::files_sink::WriteError;
use crate::pipeline::{JobError, RunSummary};
use crate::spill::SpillError;
use crate::statement_run::StatementRunError;

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Local stages.
    #[error(transparent)]
    Job(JobError),
    /// The local disk is full (the run's budget or the file system): nothing was stored or sent.
    #[error(transparent)]
    DiskFull(DiskFull),
    /// AWS stages.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Configuration.
    #[error(transparent)]
    Config(#[from] DomainError),
    /// A required environment variable is missing.
    #[error("environment variable {0} is not set")]
    MissingEnv(&'static str),
    /// Some deliveries failed, or were postponed because the invocation's time ran short; every
    /// other one went out. Carries the run's summary.
    #[error("{}", undelivered(.0))]
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
    Statement(#[from] StatementRunError),
}

fn undelivered(summary: &RunSummary) -> String {
    let mut parts = Vec::new();
    if !summary.failed_deliveries.is_empty() {
        parts.push(format!("reports not delivered to: {}", summary.failed_deliveries.join("; ")));
    }
    if !summary.postponed.is_empty() {
        parts.push(format!(
            "the invocation's time ran short: reports postponed to the next run (Lambda's retry) for: {}",
            summary.postponed.join("; ")
        ));
    }
    parts.join("; ")
}

/// A local stage's error, or [`AppError::DiskFull`] when a full disk is what it is: the one
/// error an operator acts on, whichever file (a spill run, a report file) hit it.
impl From<JobError> for AppError {
    fn from(error: JobError) -> Self {
        let full = match &error {
            JobError::Spill(SpillError { path, source })
            | JobError::Export(ExportError::Spill(SpillError { path, source }))
            | JobError::Write(WriteError { path, source }) => full_disk(path, source),
            _ => None,
        };
        match full {
            Some(full) => AppError::DiskFull(full),
            None => AppError::Job(error),
        }
    }
}

impl AppError {
    /// A request (payload, partial) the run cannot take.
    pub fn invalid(reason: impl Into<String>) -> Self {
        AppError::Config(DomainError::invalid(reason))
    }
}
