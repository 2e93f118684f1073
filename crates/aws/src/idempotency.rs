//! DynamoDB implementation of the domain's idempotency records (`Idempotency` table, key `id`).
//!
//! Item: `id`, `status` (`IN_PROGRESS` | `COMPLETED`), `payload_hash`, `expires_at` (epoch seconds,
//! the table's TTL attribute). An in-progress claim expires after `in_progress_timeout` (longer
//! than the function timeout), a completed record after `retention` (longer than the queue's
//! retention, so any redelivery still finds it). Expiry is checked in the condition itself, since
//! DynamoDB deletes expired items only eventually.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use marketplace_domain::idempotency::Claim;
use marketplace_domain::ports::IdempotencyStore;
use marketplace_domain::DomainError;

use crate::attributes::s;

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

#[derive(Clone, Debug)]
pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
    in_progress_timeout: Duration,
    retention: Duration,
}

impl DynamoIdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoIdempotencyStore {
            client,
            table: table.into(),
            in_progress_timeout: Duration::minutes(15),
            retention: Duration::days(15),
        }
    }

    pub fn with_in_progress_timeout(mut self, timeout: Duration) -> Self {
        self.in_progress_timeout = timeout;
        self
    }

    fn epoch(t: DateTime<Utc>) -> AttributeValue {
        AttributeValue::N(t.timestamp().to_string())
    }
}

fn infra(operation: &'static str, e: impl std::error::Error + 'static) -> DomainError {
    DomainError::infra(operation, aws_sdk_dynamodb::error::DisplayErrorContext(e))
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotencyStore {
    async fn begin(&self, key: &str, payload_hash: &str, now: DateTime<Utc>) -> Result<Claim, DomainError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", s(key))
            .item("status", s(IN_PROGRESS))
            .item("payload_hash", s(payload_hash))
            .item("expires_at", Self::epoch(now + self.in_progress_timeout))
            .condition_expression("attribute_not_exists(id) OR expires_at < :now")
            .expression_attribute_values(":now", Self::epoch(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Claim::Acquired),
            Err(err) => err.into_service_error(),
        };
        let PutItemError::ConditionalCheckFailedException(failed) = err else {
            return Err(infra("DynamoDB PutItem (idempotency)", err));
        };
        let existing = match failed.item {
            Some(item) => item,
            None => self
                .client
                .get_item()
                .table_name(&self.table)
                .key("id", s(key))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| infra("DynamoDB GetItem (idempotency)", e))?
                .item
                .ok_or_else(|| DomainError::infra("idempotency", "record vanished; retry"))?,
        };
        let text = |name: &str| existing.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let payload_hash = text("payload_hash");
        Ok(if text("status") == COMPLETED {
            Claim::Completed { payload_hash }
        } else {
            Claim::InProgress { payload_hash }
        })
    }

    async fn complete(&self, key: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", s(key))
            .update_expression("SET #status = :completed, expires_at = :expires")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":expires", Self::epoch(now + self.retention))
            .send()
            .await
            .map_err(|e| infra("DynamoDB UpdateItem (idempotency)", e))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), DomainError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(key))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(infra("DynamoDB DeleteItem (idempotency)", e)),
        }
    }
}
