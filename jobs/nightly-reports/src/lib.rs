//! The nightly deployment reports job (issue 4): a pipeline
//! **source → aggregate → sinks**.
//!
//! * Sources: DynamoDB table-export files ([`export`], parsed on every core) or the
//!   `DeploymentLogs` table ([`aws::logs_table`]: 16 day-shard queries per day read; month-to-date
//!   builds on the exact month sums earlier nights stored, so a night reads only its day).
//! * Aggregate: pure, streaming, in `marketplace_reports`; error and reject rows leave
//!   memory through [`spill`], within the run's local-disk budget ([`disk`]).
//! * Sinks: CSV files ([`files_sink`]), report items in DynamoDB and emails
//!   (`marketplace_aws::reports_table`, `marketplace_reports::delivery`), metrics ([`metrics`]).
//!
//! One run end to end, for the CLI, the Lambda handler and the tests alike: [`app`], over the
//! AWS clients of a [`context`].
//!
//! Scale-out: `--partition i/N` writes a partial aggregate, `merge` folds partials and writes
//! outputs byte-identical to a single run ([`partition`]). A seeded generator of synthetic logs
//! is in [`generate`]; `./dev bench-reports` measures the job against DuckDB on it.
//!
//! Monthly statements ([`statement_run`]): on the 1st, every provider with a published product
//! gets the closed month's statement from its stored daily rows — stored (table + S3) and
//! emailed once per (month, provider).

pub mod app;
pub mod aws;
pub mod chart;
pub mod cli;
pub mod context;
pub mod disk;
pub mod export;
pub mod files_sink;
pub mod generate;
pub mod metrics;
pub mod partition;
pub mod pipeline;
pub mod progress;
pub mod spill;
pub mod statement_run;
