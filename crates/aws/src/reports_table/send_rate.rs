//! The account's SES send-rate slots (`marketplace_reports::delivery::SendRate`): one item per
//! UTC second (`SES#RATE`, `<second>`) whose `sent` counts the messages any run took in it; a
//! slot is one conditional increment, refused when the second is full. Items expire an hour on.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use marketplace_core::DomainError;
use marketplace_reports::delivery::SendRate;
use marketplace_reports::storage::{send_rate_key, SEND_RATE_RETENTION_SECONDS};

use super::table::ReportsTable;
use crate::sdk_error::sdk_error;

#[async_trait]
impl SendRate for ReportsTable {
    async fn take_slot(&self, second: u64, limit: u32) -> Result<bool, DomainError> {
        let (pk, sk) = send_rate_key(second);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", Av::S(pk))
            .key("sk", Av::S(sk))
            .update_expression("ADD sent :one SET expires_at = :expires")
            .condition_expression("attribute_not_exists(sent) OR sent < :limit")
            .expression_attribute_values(":one", Av::N("1".into()))
            .expression_attribute_values(":limit", Av::N(limit.to_string()))
            .expression_attribute_values(":expires", Av::N((second + SEND_RATE_RETENTION_SECONDS).to_string()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem send rate", e)),
        }
    }
}
