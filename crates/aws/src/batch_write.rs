//! `BatchWriteItem` with its unprocessed items retried: the report adapters' bulk writes (report
//! rows, month sums, generated deployment logs).

use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use crate::attributes::Item;
use crate::sdk_error::AwsError;

/// Rounds of `BatchWriteItem` for one chunk before its unprocessed items are an error (with
/// backoff 50 ms, 100 ms, ... that is about 10 s of throttling).
pub const BATCH_PUT_ATTEMPTS: u32 = 20;

/// Writes items with `BatchWriteItem`, 25 at a time, retrying unprocessed items with backoff at
/// most [`BATCH_PUT_ATTEMPTS`] times per chunk; returns how many were written.
pub async fn batch_put(client: &Client, table: &str, items: Vec<Item>) -> Result<usize, AwsError> {
    let failed = |message: String| AwsError::Dynamo { operation: "BatchWriteItem", table: table.to_owned(), message };
    let count = items.len();
    let mut requests: Vec<WriteRequest> = Vec::with_capacity(items.len());
    for item in items {
        let put = PutRequest::builder().set_item(Some(item)).build().map_err(|e| failed(e.to_string()))?;
        requests.push(WriteRequest::builder().put_request(put).build());
    }
    for chunk in requests.chunks(25) {
        let mut pending = chunk.to_vec();
        let mut attempt = 0u32;
        while !pending.is_empty() {
            if attempt == BATCH_PUT_ATTEMPTS {
                return Err(failed(format!("{} item(s) still unprocessed after {attempt} attempts", pending.len())));
            }
            let out = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(AwsError::dynamo("BatchWriteItem", table))?;
            pending = out.unprocessed_items.and_then(|mut m| m.remove(table)).unwrap_or_default();
            attempt += 1;
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
            }
        }
    }
    Ok(count)
}
