//! DynamoDB implementation of `ProviderStore` and `EmailLedger` on the `Marketplace` table
//! (key design in the `marketplace-domain` crate docs).

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use marketplace_domain::ports::{AuditEntry, EmailLedger, Precondition, ProviderStore, WriteError};
use marketplace_domain::product::Product;
use marketplace_domain::provider::Provider;
use marketplace_domain::DomainError;

use crate::attributes::{from_item, s, to_item, Item};

pub const PROFILE: &str = "PROFILE";

pub fn provider_pk(provider_id: &str) -> String {
    format!("PROVIDER#{provider_id}")
}

pub fn audit_sk(entry: &AuditEntry) -> String {
    format!("AUDIT#{}#{}#{}", entry.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), entry.event_id, entry.step)
}

pub fn product_sk(product_id: &str) -> String {
    format!("PRODUCT#{product_id}")
}

pub fn email_sk(event_id: &str, kind: &str) -> String {
    format!("EMAIL#{event_id}#{kind}")
}

#[derive(Clone, Debug)]
pub struct DynamoProviderStore {
    client: Client,
    table: String,
}

impl DynamoProviderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoProviderStore { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A `Put` of `record` under (`pk`, `sk`) guarded by `precondition`, for use in a transaction.
    pub fn conditional_put(
        &self,
        mut item: Item,
        pk: String,
        sk: String,
        precondition: Precondition,
    ) -> Result<TransactWriteItem, DomainError> {
        item.insert("pk".into(), s(pk));
        item.insert("sk".into(), s(sk));
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        put = match precondition {
            Precondition::Absent => put.condition_expression("attribute_not_exists(pk)"),
            Precondition::Version(v) => put
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        let put = put.build().map_err(|e| DomainError::infra("build put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub fn audit_put(&self, audit: &AuditEntry) -> Result<TransactWriteItem, DomainError> {
        let mut item = to_item(audit)?;
        item.insert("item_type".into(), s("audit"));
        self.conditional_put(item, provider_pk(&audit.provider_id), audit_sk(audit), Precondition::Absent)
    }

    /// Runs `items` as one transaction; a failed condition anywhere is `PreconditionFailed`.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), WriteError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(err) => Err(classify_transaction_error(err)),
        }
    }

    /// Reads one item with a strongly consistent read.
    pub async fn get_item(&self, pk: String, sk: String) -> Result<Option<Item>, DomainError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| DomainError::infra("DynamoDB GetItem", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(out.item)
    }

    /// All items of a provider's partition whose sort key starts with `prefix`, following pages.
    pub async fn query_prefix(&self, provider_id: &str, prefix: &str) -> Result<Vec<Item>, DomainError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(provider_pk(provider_id)))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| DomainError::infra("DynamoDB Query", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(pages)
    }
}

fn classify_transaction_error(err: SdkError<TransactWriteItemsError>) -> WriteError {
    if let SdkError::ServiceError(service) = &err {
        if let TransactWriteItemsError::TransactionCanceledException(cancel) = service.err() {
            let reasons = cancel.cancellation_reasons();
            let condition_failed =
                reasons.is_empty() || reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"));
            if condition_failed {
                return WriteError::PreconditionFailed;
            }
        }
    }
    WriteError::Other(DomainError::infra(
        "DynamoDB TransactWriteItems",
        aws_sdk_dynamodb::error::DisplayErrorContext(err),
    ))
}

#[async_trait]
impl ProviderStore for DynamoProviderStore {
    async fn get_provider(&self, provider_id: &str) -> Result<Option<Provider>, DomainError> {
        self.get_item(provider_pk(provider_id), PROFILE.into()).await?.map(|item| from_item(&item)).transpose()
    }

    async fn put_provider(
        &self,
        provider: &Provider,
        precondition: Precondition,
        audit: &AuditEntry,
    ) -> Result<(), WriteError> {
        let mut item = to_item(provider)?;
        item.insert("item_type".into(), s("provider"));
        let put = self.conditional_put(item, provider_pk(&provider.provider_id), PROFILE.into(), precondition)?;
        self.transact(vec![put, self.audit_put(audit)?]).await
    }

    async fn audit_trail(&self, provider_id: &str) -> Result<Vec<AuditEntry>, DomainError> {
        self.query_prefix(provider_id, "AUDIT#").await?.iter().map(from_item).collect()
    }

    async fn get_product(&self, provider_id: &str, product_id: &str) -> Result<Option<Product>, DomainError> {
        self.get_item(provider_pk(provider_id), product_sk(product_id)).await?.map(|item| from_item(&item)).transpose()
    }

    async fn put_product(
        &self,
        product: &Product,
        precondition: Precondition,
        audit: &AuditEntry,
    ) -> Result<(), WriteError> {
        let mut item = to_item(product)?;
        item.insert("item_type".into(), s("product"));
        let put = self.conditional_put(
            item,
            provider_pk(&product.provider_id),
            product_sk(&product.product_id),
            precondition,
        )?;
        self.transact(vec![put, self.audit_put(audit)?]).await
    }
}

#[async_trait]
impl EmailLedger for DynamoProviderStore {
    async fn email_sent(&self, provider_id: &str, event_id: &str, kind: &str) -> Result<bool, DomainError> {
        Ok(self.get_item(provider_pk(provider_id), email_sk(event_id, kind)).await?.is_some())
    }

    async fn record_email(
        &self,
        provider_id: &str,
        event_id: &str,
        kind: &str,
        message_id: &str,
        audit: &AuditEntry,
    ) -> Result<(), DomainError> {
        let mut ledger = Item::new();
        ledger.insert("item_type".into(), s("email"));
        ledger.insert("event_id".into(), s(event_id));
        ledger.insert("kind".into(), s(kind));
        ledger.insert("message_id".into(), s(message_id));
        ledger.insert("sent_at".into(), s(chrono::Utc::now().to_rfc3339()));
        let put =
            self.conditional_put(ledger, provider_pk(provider_id), email_sk(event_id, kind), Precondition::Absent)?;
        match self.transact(vec![put, self.audit_put(audit)?]).await {
            Ok(()) | Err(WriteError::PreconditionFailed) => Ok(()),
            Err(WriteError::Other(e)) => Err(e),
        }
    }
}
