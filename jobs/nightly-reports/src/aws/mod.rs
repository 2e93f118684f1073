//! The AWS adapters only the job uses, one role per file. (The `Reports` table and the
//! report-files bucket, which the report functions share, are `marketplace_aws::reports_table`
//! and `marketplace_aws::report_files`.)
//!
//! * [`logs_table`] — the DynamoDB source and the generator's loader ([`DeploymentLogTable`]);
//! * [`partials`] — scale-out partial aggregates in S3 ([`PartialStore`]);
//! * [`published`] — the providers with a published product (a paged, filtered Scan of the
//!   `Marketplace` table), who get a statement;
//! * [`provider_profiles`] — the MPA versions and every provider record (a paged Scan of the
//!   `Marketplace` table), for the MPA campaign;
//! * [`erasure`] — erasing offboarded providers' personal data after the retention period;
//! * [`chart_source`] — the providers' 30-day charts, drawn from their rows in the `Reports` table.
//!
//! Delivery itself (which email to whom, once) uses no SDK: it is
//! `marketplace_reports::delivery::deliver_reports`, over the mailer and the table's ledger.

pub mod chart_source;
pub mod erasure;
pub mod logs_table;
pub mod partials;
pub mod provider_profiles;
pub mod published;

pub use logs_table::DeploymentLogTable;
pub use partials::PartialStore;
