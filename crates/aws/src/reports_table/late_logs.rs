//! Late-log items (`LATE#<yyyy-mm>`): the `late-logs` function writes one per DynamoDB stream
//! record that a stored report may not have read (its date has no month-sums mark yet, or the
//! change is not older than the mark's read start); the night counts a month's while paging
//! through them with one `Query`, one page in memory at a time (a backfill or a correction
//! writes one item per log: a million of them must not be held at once).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use chrono::NaiveDate;
use marketplace_reports::storage::{late_logs_pk, LateLogItem};

use super::table::ReportsTable;
use crate::attributes::{from_item, to_item};
use crate::sdk_error::AwsError;

impl ReportsTable {
    /// Hands every late-log item recorded for dates of `month`'s month to `each`, one `Query`
    /// page at a time (at most 1 MB of items, or the store's page limit, in memory at once);
    /// returns how many items it read. A caller counts, it does not keep the items.
    pub async fn each_late_log(&self, month: NaiveDate, mut each: impl FnMut(LateLogItem)) -> Result<u64, AwsError> {
        let mut start: Option<HashMap<String, Av>> = None;
        let mut read = 0;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", Av::S(late_logs_pk(month)))
                .set_limit(self.page_limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(AwsError::dynamo("Query", &self.table))?;
            for item in out.items.unwrap_or_default() {
                each(from_item(&item)?);
                read += 1;
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(read),
            }
        }
    }

    /// Writes `item` unless it is there already (the same stream record delivered again):
    /// whether it was new.
    pub async fn record_late_log(&self, item: &LateLogItem) -> Result<bool, AwsError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(AwsError::dynamo("PutItem", &self.table)(e)),
        }
    }
}
