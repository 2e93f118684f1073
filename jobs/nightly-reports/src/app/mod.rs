//! One report run, end to end: source → aggregate → CSV files → (report items) → (emails).
//! Used by the CLI, the Lambda handler and the integration tests alike; the AWS clients it may
//! use are an [`AwsContext`]. One role per file:
//!
//! * [`error`] — the run's error ([`AppError`]);
//! * [`run`] — one request ([`JobRequest`]) end to end ([`run_job`]);
//! * [`guards`] — the refusals before anything is read (an unfinished day, later stored dates);
//! * [`seed`] — month-to-date from stored month sums;
//! * [`table_read`] — the DeploymentLogs table's pages into the aggregator;
//! * [`late_logs`] — the late logs of already reported dates, counted for the summary;
//! * [`mpa_campaign`] — the MPA campaign step: pending providers for the team, notices;
//! * [`publish`] — the sinks: month sums, report items, files, emails;
//! * [`spill_reader`] — the spilled error and reject rows read back per (date, provider);
//! * [`payload`] — the Lambda payload ([`ScheduledRun`]);
//! * [`lambda`] — its handler ([`handle_scheduled`]), one mode each;
//! * [`scale_out`] — the partition and merge modes.

pub mod error;
pub mod guards;
pub mod lambda;
pub mod late_logs;
pub mod mpa_campaign;
pub mod payload;
pub mod publish;
pub mod run;
pub mod scale_out;
pub mod seed;
pub mod spill_reader;
pub mod table_read;

pub use crate::context::AwsContext;
pub use error::AppError;
pub use guards::{refuse_if_later_dates_stored, refuse_unfinished_days};
pub use lambda::handle_scheduled;
pub use late_logs::LATE_LOGS_PREVIOUS_MONTH_DAYS;
pub use mpa_campaign::run_mpa_campaign;
pub use payload::{Mode, ResendPayload, ScheduledRun};
pub use publish::publish;
pub use run::{run_job, JobRequest, Source};
pub use seed::{add_stored_sums, starting_point};
pub use table_read::TableRead;
