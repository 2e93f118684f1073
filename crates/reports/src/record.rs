//! The deployment-log contract: an [`Item`](crate::attribute::Item), or an export line's text,
//! becomes a typed [`DeploymentLog`], or a [`Rejected`] item with the reason it breaks the
//! contract.
//!
//! Contract (issue "Nightly deployment reports"): `deployment_id`, `provider_id`, `product_id`,
//! `product_name`, `customer_alias`, `started_at`, `finished_at` (RFC 3339), `status`
//! (`SUCCEEDED` | `FAILED`), `errors` (list of maps `{code, message, at}`), `billing_model`
//! (`hourly` | `monthly` | `one_time` | `usage`), `quantity` ≥ 0, `unit_price` ≥ 0, `currency`
//! (a supported ISO 4217 code, see [`marketplace_core::money`]), `provider_share` in (0, 1].
//!
//! Extra rules protect the job itself, so that no single log can stop a night:
//! * `provider_id` names a directory of the output, so it must be a safe path segment
//!   (`[A-Za-z0-9._-]`, at most 128 characters, not `.` or `..`);
//! * every text field is bounded in bytes ([`MAX_ID`], [`MAX_NAME`], [`MAX_MESSAGE`]): ids end
//!   up in DynamoDB keys of the `Reports` table (at most 1,024 bytes per sort key) and every
//!   field in CSV rows and emails;
//! * at most [`MAX_ERRORS`] error entries per deployment;
//! * `quantity` ≤ [`MAX_QUANTITY`] and `unit_price` ≤ [`MAX_UNIT_PRICE`], so that
//!   `quantity × unit_price` and any realistic sum of them fit `Decimal`; a sum that still does
//!   not fit rejects the log that would overflow it (see `aggregate`).
//!
//! ## One rule core, thin sources
//! [`check`] is the contract, once: it asks a [`LogAttributes`] source for each attribute in
//! the contract's order and returns a [`ValidLog`] that borrows its text from the source, or
//! the first [`ContractViolation`]. A source only lends text: the attribute map of the general
//! path ([`check_item`], which also names a missing or wrongly typed attribute) and the export
//! line's fast paths ([`crate::fast`], whose attributes always have the right types). So every
//! path counts the same logs with the same values and rejects the others for the same reason.
//!
//! A log has two forms: [`ValidLog`] borrows its text (what the rule core returns and the
//! aggregator counts, no copy per log) and [`DeploymentLog`] owns it (for a caller that keeps a
//! log beyond its input). They are one generic type, [`DeploymentLog<S>`].

mod contract;
mod instant;
mod item;
mod log;

pub use contract::{
    check, Attribute, ContractViolation, EntryAttribute, LogAttributes, MAX_ERRORS, MAX_ID, MAX_MESSAGE, MAX_NAME,
    MAX_QUANTITY, MAX_UNIT_PRICE,
};
pub use instant::{format_instant, push_date, push_instant};
pub use item::{check_item, day_of_partition_key, parse_deployment_log, Rejected};
pub use log::{BillingModel, DeploymentErrorEntry, DeploymentLog, DeploymentStatus, ValidLog};

#[cfg(test)]
mod tests;
