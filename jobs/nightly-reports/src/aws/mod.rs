//! AWS side of the job, built on `marketplace-aws` (SDK config from the environment, SES raw
//! mailer, provider store), one role per file:
//!
//! * [`logs_table`] — the DynamoDB source ([`DeploymentLogTable`]);
//! * [`report_store`] — report and summary items in the `Reports` table ([`ReportsTable`]);
//! * [`ledger`] — the delivery ledger in the same table (`DeliveryLedger` for [`ReportsTable`]);
//! * [`partials`] — scale-out partial aggregates in S3 ([`PartialStore`]);
//! * [`report_files`] — the run's report files in S3 ([`ReportFileStore`]);
//! * [`statements`] — monthly statements: a provider's daily rows of a month in, the statement
//!   item and its CSV object out;
//! * [`published`] — the providers with a published product (a paged, filtered Scan of the
//!   `Marketplace` table), who get a statement.
//! * [`chart_source`] — the providers' 30-day charts from the `Reports` table.
//!
//! Delivery itself (which email to whom, once) uses no SDK: it is
//! `marketplace_reports::delivery::deliver_reports`, over the mailer and this ledger.
//! This file holds what they share: the error type, attribute conversion and `batch_put`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue as Av, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use marketplace_core::DomainError;
use marketplace_reports::aggregate::AggregateError;
use marketplace_reports::attribute::AttributeValue;

pub mod chart_source;
pub mod ledger;
pub mod logs_table;
pub mod partials;
pub mod published;
pub mod report_files;
pub mod report_store;
pub mod statements;

pub use logs_table::DeploymentLogTable;
pub use partials::PartialStore;
pub use report_files::ReportFileStore;
pub use report_store::ReportsTable;

/// Day-shards per day (`DAY#<date>#00` .. `#15`).
pub const SHARDS: u32 = 16;

/// Errors of the AWS stages.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A DynamoDB call failed.
    #[error("DynamoDB {operation} on {table}: {message}")]
    Dynamo {
        /// Operation.
        operation: &'static str,
        /// Table.
        table: String,
        /// SDK error text.
        message: String,
    },
    /// An S3 call (scale-out partials, report files) failed.
    #[error("S3 {operation} on bucket {bucket}: {message}")]
    S3 {
        /// Operation.
        operation: &'static str,
        /// Bucket.
        bucket: String,
        /// SDK error text.
        message: String,
    },
    /// Aggregation failed.
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
    /// Spilling error and reject rows failed.
    #[error(transparent)]
    Spill(#[from] crate::spill::SpillError),
    /// Domain / mailer / store failure.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

pub(crate) fn dynamo<'a, E, R>(operation: &'static str, table: &'a str) -> impl FnOnce(SdkError<E, R>) -> AwsError + 'a
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| AwsError::Dynamo { operation, table: table.to_owned(), message: DisplayErrorContext(e).to_string() }
}

/// SDK attribute value → the domain's neutral one.
pub fn from_sdk(v: &Av) -> AttributeValue {
    match v {
        Av::S(s) => AttributeValue::S(s.clone()),
        Av::N(n) => AttributeValue::N(n.clone()),
        Av::L(l) => AttributeValue::L(l.iter().map(from_sdk).collect()),
        Av::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect()),
        Av::Bool(b) => AttributeValue::BOOL(*b),
        Av::Null(b) => AttributeValue::NULL(*b),
        Av::Ss(v) => AttributeValue::SS(v.clone()),
        Av::Ns(v) => AttributeValue::NS(v.clone()),
        // Binary is never part of the contract; keep its type so the reject reason names it.
        _ => AttributeValue::B(String::new()),
    }
}

/// The domain's attribute value → SDK attribute value (for loading generated items).
pub fn to_sdk(v: &AttributeValue) -> Av {
    match v {
        AttributeValue::S(s) => Av::S(s.clone()),
        AttributeValue::N(n) => Av::N(n.clone()),
        AttributeValue::L(l) => Av::L(l.iter().map(to_sdk).collect()),
        AttributeValue::M(m) => Av::M(m.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()),
        AttributeValue::BOOL(b) => Av::Bool(*b),
        AttributeValue::NULL(b) => Av::Null(*b),
        AttributeValue::SS(v) => Av::Ss(v.clone()),
        AttributeValue::NS(v) => Av::Ns(v.clone()),
        AttributeValue::B(_) | AttributeValue::BS(_) => Av::Null(true),
    }
}

/// Rounds of `BatchWriteItem` for one chunk before its unprocessed items are an error (with
/// backoff 50 ms, 100 ms, ... that is about 10 s of throttling).
pub const BATCH_PUT_ATTEMPTS: u32 = 20;

/// Writes items with `BatchWriteItem`, 25 at a time, retrying unprocessed items with backoff at
/// most [`BATCH_PUT_ATTEMPTS`] times per chunk.
pub async fn batch_put(client: &Client, table: &str, items: Vec<HashMap<String, Av>>) -> Result<usize, AwsError> {
    let count = items.len();
    let mut requests: Vec<WriteRequest> = Vec::with_capacity(items.len());
    for item in items {
        let put = PutRequest::builder().set_item(Some(item)).build().map_err(|e| AwsError::Dynamo {
            operation: "BatchWriteItem",
            table: table.to_owned(),
            message: e.to_string(),
        })?;
        requests.push(WriteRequest::builder().put_request(put).build());
    }
    for chunk in requests.chunks(25) {
        let mut pending = chunk.to_vec();
        let mut attempt = 0u32;
        while !pending.is_empty() {
            if attempt == BATCH_PUT_ATTEMPTS {
                return Err(AwsError::Dynamo {
                    operation: "BatchWriteItem",
                    table: table.to_owned(),
                    message: format!("{} item(s) still unprocessed after {attempt} attempts", pending.len()),
                });
            }
            let out = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(dynamo("BatchWriteItem", table))?;
            pending = out.unprocessed_items.and_then(|mut m| m.remove(table)).unwrap_or_default();
            attempt += 1;
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketplace_reports::attribute::Item;

    #[test]
    fn sdk_conversion_round_trips_nested_values() {
        let v = AttributeValue::M(Item::from([(
            "errors".to_owned(),
            AttributeValue::L(vec![AttributeValue::S("x".into()), AttributeValue::N("1.50".into())]),
        )]));
        assert_eq!(from_sdk(&to_sdk(&v)), v);
    }
}
