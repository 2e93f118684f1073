//! DynamoDB implementation of the domain's idempotency records (`Idempotency` table, key `id`).
//!
//! Item: `id`, `status` (`IN_PROGRESS` | `COMPLETED` | `REJECTED`), `payload_hash`, `expires_at`
//! (epoch seconds, the table's TTL attribute), and for a rejected event its `reason`. An
//! in-progress claim expires at the invocation's deadline (the caller's `lease_until`), a completed
//! or rejected record after `retention` (longer than the queue's retention, so any redelivery still
//! finds it). Expiry is checked in the condition itself, since DynamoDB deletes expired items only
//! eventually.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use marketplace_core::DomainError;
use marketplace_portal::idempotency::{Claim, IdempotencyStore, RECORD_RETENTION};

use crate::attributes::{epoch, s, text};
use crate::sdk_error::sdk_error;

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";
const REJECTED: &str = "REJECTED";

#[derive(Clone, Debug)]
pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
    retention: Duration,
}

impl DynamoIdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoIdempotencyStore { client, table: table.into(), retention: RECORD_RETENTION }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The update that marks `key` completed, for a transaction that settles the event's work.
    pub fn complete_item(&self, key: &str, now: DateTime<Utc>) -> Result<TransactWriteItem, DomainError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("id", s(key))
            .update_expression("SET #status = :completed, expires_at = :expires")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":expires", epoch(now + self.retention))
            .build()
            .map_err(|e| DomainError::infra("build update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotencyStore {
    async fn begin(
        &self,
        key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, DomainError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", s(key))
            .item("status", s(IN_PROGRESS))
            .item("payload_hash", s(payload_hash))
            .item("expires_at", epoch(lease_until))
            .condition_expression("attribute_not_exists(id) OR expires_at < :now")
            .expression_attribute_values(":now", epoch(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let failed = match result {
            Ok(_) => return Ok(Claim::Acquired),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.clone(),
                _ => return Err(sdk_error("DynamoDB PutItem (idempotency)", err)),
            },
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
                .map_err(|e| sdk_error("DynamoDB GetItem (idempotency)", e))?
                .item
                .ok_or_else(|| DomainError::infra("idempotency", "record vanished; retry"))?,
        };
        let payload_hash = text(&existing, "payload_hash");
        Ok(match text(&existing, "status").as_str() {
            COMPLETED => Claim::Completed { payload_hash },
            REJECTED => Claim::Rejected { payload_hash },
            _ => Claim::InProgress { payload_hash },
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
            .expression_attribute_values(":expires", epoch(now + self.retention))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB UpdateItem (idempotency)", e))?;
        Ok(())
    }

    async fn reject(&self, key: &str, payload_hash: &str, reason: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
        // The reason quotes the event; keep the record small whatever the event held.
        let reason: String = reason.chars().take(2000).collect();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", s(key))
            .item("status", s(REJECTED))
            .item("payload_hash", s(payload_hash))
            .item("reason", s(reason))
            .item("rejected_at", s(now.to_rfc3339()))
            .item("expires_at", epoch(now + self.retention))
            .send()
            .await
            .map_err(|e| sdk_error("DynamoDB PutItem (idempotency)", e))?;
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
            Err(e) => Err(sdk_error("DynamoDB DeleteItem (idempotency)", e)),
        }
    }
}
