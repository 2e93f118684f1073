//! The nightly deployment reports job (issue 4): a pipeline
//! **source → aggregate → sinks**.
//!
//! * Sources: DynamoDB table-export files ([`export`]) or the `DeploymentLogs` table
//!   (16 day-shards queried concurrently, see the AWS module once wired).
//! * Aggregate: pure, streaming, in `marketplace_domain::report`.
//! * Sinks: CSV files ([`files_sink`]), report items in DynamoDB and emails (AWS).
//!
//! Scale-out: `--partition i/N` writes a partial aggregate, `merge` folds partials and writes
//! outputs byte-identical to a single run ([`partition`]). A seeded generator of synthetic logs
//! is in [`generate`]; the `bench` binary measures throughput on it.

pub mod app;
pub mod aws;
pub mod cli;
pub mod export;
pub mod files_sink;
pub mod generate;
pub mod metrics;
pub mod partition;
pub mod pipeline;
pub mod rss;
pub mod spill;
