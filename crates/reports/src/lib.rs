//! # marketplace-reports
//!
//! The report engine: the nightly deployment reports and the monthly statements, from the
//! deployment-log contract to the emails. What it shares with the portal (money, the email
//! builder, configuration, errors, the provider record, the `Mailer` and `ProviderDirectory`
//! ports) is `marketplace-core`.
//!
//! Pipeline, all pure and AWS-free:
//! 1. [`attribute`] — DynamoDB-JSON items as a neutral [`attribute::Item`];
//! 2. [`record`] — the deployment-log contract, checked once ([`record::check`]) over the
//!    attributes a source lends: an item becomes a typed [`record::DeploymentLog`] or a
//!    [`record::Rejected`] with its reason; [`fast`] lends an export line's text to the same
//!    check without building the item;
//! 3. [`aggregate`] — streaming totals per (date, provider, product, currency) with exact
//!    decimals and half-even rounding once per output row ([`marketplace_core::money`]); partial
//!    aggregates merge for scaled-out runs; the rows it builds are [`rows`], and [`packed`] holds
//!    error rows in one buffer between spills;
//! 4. [`files`] — the CSV files byte for byte, with formula-injection neutralisation;
//! 5. [`email`] — the provider and marketplace-team emails (bodies with totals, CSV attachments
//!    within SES's size limit);
//! 6. [`storage`] — the `Reports` table's key design (report rows, summary rows, delivery
//!    ledger) and [`delivery`] — exactly-once delivery per (date, recipient);
//! 7. [`statement`] — the monthly statement of a closed month from the stored daily rows, its
//!    CSV, and [`statement_email`] — its email (once per month and provider, through the same
//!    ledger).
//!
//! Sources (DynamoDB queries, export files) and sinks (files, DynamoDB, SES) live in the job
//! `jobs/nightly-reports`.

pub mod aggregate;
pub mod attribute;
pub mod delivery;
pub mod email;
pub mod fast;
pub mod files;
pub mod mpa_campaign;
pub mod packed;
pub mod record;
pub mod rows;
pub mod statement;
pub mod statement_email;
pub mod storage;

#[cfg(test)]
mod tests;

pub use aggregate::{Aggregator, DailyReport, PartialAggregate, ReportPlan};
pub use attribute::{AttributeValue, Item};
pub use files::{report_files, ReportFile};
pub use marketplace_core::money::Currency;
