//! The `Reports` table: every adapter of it, for the report job, the `late-logs` function and
//! the reports API alike. Key design in `marketplace_reports::storage`; one role per file:
//!
//! * [`table`] — the store ([`ReportsTable`]): its paged key queries and replacing writes;
//! * [`report_items`] — a date's report and summary rows;
//! * [`month_sums`] — the exact month sums of a date and the mark that they are complete;
//! * [`late_logs`] — late-log items: written from the DeploymentLogs stream, read each night;
//! * [`ledger`] — the delivery ledger (`marketplace_reports::delivery::DeliveryLedger`);
//! * [`delivered`] — who a delivery's ledger has as sent (the MPA campaign's re-runs);
//! * [`provider_rows`] — a provider's stored daily rows of a date range (chart, statements);
//! * [`statements`] — monthly statement items;
//! * [`pages`] — one page of a partition's items at a time (the reports API);
//! * [`send_rate`] — the account's SES send-rate slots, shared by every sending run.

pub mod delivered;
pub mod late_logs;
pub mod ledger;
pub mod month_sums;
pub mod pages;
pub mod provider_rows;
pub mod report_items;
pub mod send_rate;
pub mod statements;
pub mod table;

pub use pages::{ItemPage, PageQuery};
pub use table::ReportsTable;
