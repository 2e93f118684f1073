//! Late-log items (`LATE#<yyyy-mm>`): the `late-logs` function writes one per DynamoDB stream
//! record of an already reported date, the night reads a month's with one paged `Query`.

use chrono::NaiveDate;
use marketplace_reports::storage::{late_logs_pk, LateLogItem};

use super::table::{KeyQuery, ReportsTable};
use crate::attributes::{from_item, to_item};
use crate::sdk_error::AwsError;

impl ReportsTable {
    /// The late logs recorded for dates of `month`'s month.
    pub async fn late_logs(&self, month: NaiveDate) -> Result<Vec<LateLogItem>, AwsError> {
        let mut late = Vec::new();
        for item in self.query(KeyQuery::on("pk", late_logs_pk(month))).await? {
            late.push(from_item(&item)?);
        }
        Ok(late)
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
