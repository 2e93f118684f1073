//! DynamoDB implementation of `ProviderStore` and `EmailLedger` on the `Marketplace` table
//! (key design in the `marketplace-portal` crate docs).

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Get, Put, ReturnValuesOnConditionCheckFailure, TransactGetItem, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use marketplace_core::agreement::MpaVersions;
use marketplace_core::ports::ProviderDirectory;
use marketplace_core::provider::Provider;
use marketplace_core::DomainError;
use marketplace_portal::idempotency::{ClaimTicket, IdempotencyStore};
use marketplace_portal::ports::{
    AuditEntry, EmailLedger, EmailOutcome, IntentState, Precondition, ProviderStore, Settlement, WriteError,
};
use marketplace_portal::product::Product;

use crate::attributes::{from_item, n, s, text, to_item, Item};
use crate::idempotency::DynamoIdempotencyStore;
use crate::sdk_error::{sdk_error, sdk_message};

/// `status` of an email outbox item whose email has not been confirmed sent.
const EMAIL_PENDING: &str = "PENDING";
/// `status` of an email outbox item whose email SES accepted.
const EMAIL_SENT: &str = "SENT";
/// `status` of an email outbox item not sent because its recipients are undeliverable.
const EMAIL_SUPPRESSED: &str = "SUPPRESSED";
/// `status` of an email outbox item whose send SES declined (certainly not sent): a redelivery
/// records the intent anew.
const EMAIL_WITHDRAWN: &str = "WITHDRAWN";

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
    /// Where the event claims live, so that settling an event's emails completes its claim in
    /// the same transaction.
    claims: Option<DynamoIdempotencyStore>,
}

impl DynamoProviderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoProviderStore { client, table: table.into(), claims: None }
    }

    pub fn with_claims(mut self, claims: DynamoIdempotencyStore) -> Self {
        self.claims = Some(claims);
        self
    }

    /// The pending outbox items of the emails an event's state change causes (module
    /// `marketplace_portal::outbox`), written in the same transaction as the change.
    fn intent_puts(
        &self,
        provider_id: &str,
        event_id: &str,
        kinds: &[&str],
    ) -> Result<Vec<TransactWriteItem>, DomainError> {
        let now = Utc::now().to_rfc3339();
        kinds
            .iter()
            .map(|kind| {
                let put = Put::builder()
                    .table_name(&self.table)
                    .item("pk", s(provider_pk(provider_id)))
                    .item("sk", s(email_sk(event_id, kind)))
                    .item("item_type", s("email"))
                    .item("event_id", s(event_id))
                    .item("kind", s(*kind))
                    .item("status", s(EMAIL_PENDING))
                    .item("intent_at", s(&now))
                    .build()
                    .map_err(|e| DomainError::infra("build put", e))?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect()
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
                .expression_attribute_values(":expected", n(v)),
        };
        let put = put.build().map_err(|e| DomainError::infra("build put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The product record's `Put` guarded by `precondition`, for use in a transaction.
    fn product_put(&self, product: &Product, precondition: Precondition) -> Result<TransactWriteItem, DomainError> {
        let (pk, sk) = (provider_pk(&product.provider_id), product_sk(&product.product_id));
        self.conditional_put(typed_item(product, "product")?, pk, sk, precondition)
    }

    pub fn audit_put(&self, audit: &AuditEntry) -> Result<TransactWriteItem, DomainError> {
        self.audit_put_under(provider_pk(&audit.provider_id), audit)
    }

    /// The `Put` of a new audit entry in partition `pk`, for use in a transaction.
    pub(crate) fn audit_put_under(&self, pk: String, audit: &AuditEntry) -> Result<TransactWriteItem, DomainError> {
        self.conditional_put(typed_item(audit, "audit")?, pk, audit_sk(audit), Precondition::Absent)
    }

    /// Runs `items` as one transaction; a failed condition anywhere is `PreconditionFailed`.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), WriteError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(err) => Err(classify_transaction_error(err)),
        }
    }

    /// Reads `keys` (`pk`, `sk`) together in one `TransactGetItems` (a consistent snapshot, one
    /// round trip); an absent item is `None`, in the order of `keys`.
    pub async fn get_items(&self, keys: &[(String, String)]) -> Result<Vec<Option<Item>>, DomainError> {
        let mut request = self.client.transact_get_items();
        for (pk, sk) in keys {
            let get = Get::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .build()
                .map_err(|e| DomainError::infra("build get", e))?;
            request = request.transact_items(TransactGetItem::builder().get(get).build());
        }
        let out = request.send().await.map_err(|e| sdk_error("DynamoDB TransactGetItems", e))?;
        Ok(out.responses.unwrap_or_default().into_iter().map(|r| r.item).collect())
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
            .map_err(|e| sdk_error("DynamoDB GetItem", e))?;
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
            .map_err(|e| sdk_error("DynamoDB Query", e))?;
        Ok(pages)
    }
}

/// `record` as an item with its `item_type`.
pub(crate) fn typed_item(record: &impl serde::Serialize, item_type: &str) -> Result<Item, DomainError> {
    let mut item = to_item(record)?;
    item.insert("item_type".into(), s(item_type));
    Ok(item)
}

/// A cancelled transaction is classified by its cancellation reasons: a failed condition is a lost
/// race, a validation error (an item over DynamoDB's limits) is permanent, anything else
/// (throttling, a conflicting transaction) is transient.
fn classify_transaction_error(err: SdkError<TransactWriteItemsError>) -> WriteError {
    if let SdkError::ServiceError(service) = &err {
        if let TransactWriteItemsError::TransactionCanceledException(cancel) = service.err() {
            let reasons = cancel.cancellation_reasons();
            let has = |code: &str| reasons.iter().any(|r| r.code() == Some(code));
            if reasons.is_empty() || has("ConditionalCheckFailed") {
                return WriteError::PreconditionFailed;
            }
            if has("ValidationError") {
                let message = sdk_message(&err);
                return WriteError::Other(DomainError::refused("DynamoDB TransactWriteItems", message));
            }
        }
    }
    WriteError::Other(sdk_error("DynamoDB TransactWriteItems", err))
}

#[async_trait]
impl ProviderDirectory for DynamoProviderStore {
    async fn get_provider(&self, provider_id: &str) -> Result<Option<Provider>, DomainError> {
        self.get_item(provider_pk(provider_id), PROFILE.into()).await?.map(|item| from_item(&item)).transpose()
    }
}

#[async_trait]
impl ProviderStore for DynamoProviderStore {
    async fn put_provider(
        &self,
        provider: &Provider,
        precondition: Precondition,
        audit: &AuditEntry,
        email_kinds: &[&str],
    ) -> Result<(), WriteError> {
        self.put_provider_and_products(provider, precondition, audit, email_kinds, &[]).await
    }

    async fn audit_trail(&self, provider_id: &str) -> Result<Vec<AuditEntry>, DomainError> {
        self.query_prefix(provider_id, "AUDIT#").await?.iter().map(from_item).collect()
    }

    async fn get_product(&self, provider_id: &str, product_id: &str) -> Result<Option<Product>, DomainError> {
        self.get_item(provider_pk(provider_id), product_sk(product_id)).await?.map(|item| from_item(&item)).transpose()
    }

    async fn get_provider_and_product(
        &self,
        provider_id: &str,
        product_id: &str,
    ) -> Result<(Option<Provider>, Option<Product>), DomainError> {
        let keys =
            [(provider_pk(provider_id), PROFILE.to_string()), (provider_pk(provider_id), product_sk(product_id))];
        let mut items = self.get_items(&keys).await?.into_iter();
        let provider = items.next().flatten().map(|item| from_item(&item)).transpose()?;
        let product = items.next().flatten().map(|item| from_item(&item)).transpose()?;
        Ok((provider, product))
    }

    async fn get_provider_and_mpa_versions(
        &self,
        provider_id: &str,
    ) -> Result<(Option<Provider>, Option<MpaVersions>), DomainError> {
        self.read_provider_and_mpa_versions(provider_id).await
    }

    async fn get_provider_product_and_mpa_versions(
        &self,
        provider_id: &str,
        product_id: &str,
    ) -> Result<(Option<Provider>, Option<Product>, Option<MpaVersions>), DomainError> {
        self.read_provider_product_and_mpa_versions(provider_id, product_id).await
    }

    async fn put_product(
        &self,
        product: &Product,
        precondition: Precondition,
        audit: &AuditEntry,
        email_kinds: &[&str],
    ) -> Result<(), WriteError> {
        let mut items = vec![self.product_put(product, precondition)?, self.audit_put(audit)?];
        items.extend(self.intent_puts(&product.provider_id, &audit.event_id, email_kinds)?);
        self.transact(items).await
    }

    async fn list_products(&self, provider_id: &str) -> Result<Vec<Product>, DomainError> {
        self.query_prefix(provider_id, "PRODUCT#").await?.iter().map(from_item).collect()
    }

    async fn put_provider_and_products(
        &self,
        provider: &Provider,
        precondition: Precondition,
        audit: &AuditEntry,
        email_kinds: &[&str],
        products: &[(Product, Precondition)],
    ) -> Result<(), WriteError> {
        let put = self.conditional_put(
            typed_item(provider, "provider")?,
            provider_pk(&provider.provider_id),
            PROFILE.into(),
            precondition,
        )?;
        let mut items = vec![put, self.audit_put(audit)?];
        items.extend(self.intent_puts(&provider.provider_id, &audit.event_id, email_kinds)?);
        for (product, precondition) in products {
            items.push(self.product_put(product, *precondition)?);
        }
        self.transact(items).await
    }

    async fn get_mpa_versions(&self) -> Result<Option<MpaVersions>, DomainError> {
        self.read_mpa_versions().await
    }

    async fn put_mpa_versions(
        &self,
        versions: &MpaVersions,
        precondition: Precondition,
        audit: &AuditEntry,
    ) -> Result<(), WriteError> {
        self.write_mpa_versions(versions, precondition, audit).await
    }
}

#[async_trait]
impl EmailLedger for DynamoProviderStore {
    async fn record_intent(
        &self,
        provider_id: &str,
        event_id: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<IntentState, DomainError> {
        let (pk, sk) = (provider_pk(provider_id), email_sk(event_id, kind));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s(&sk))
            .item("item_type", s("email"))
            .item("event_id", s(event_id))
            .item("kind", s(kind))
            .item("status", s(EMAIL_PENDING))
            .item("intent_at", s(now.to_rfc3339()))
            .condition_expression("attribute_not_exists(pk) OR #status = :withdrawn")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":withdrawn", s(EMAIL_WITHDRAWN))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match result {
            Ok(_) => return Ok(IntentState::Recorded),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
                _ => return Err(sdk_error("DynamoDB PutItem (email intent)", err)),
            },
        };
        let existing = match existing {
            Some(item) => item,
            None => self
                .get_item(pk, sk)
                .await?
                .ok_or_else(|| DomainError::infra("email intent", "intent vanished; retry"))?,
        };
        Ok(match text(&existing, "status").as_str() {
            EMAIL_SENT => IntentState::Sent,
            EMAIL_SUPPRESSED => IntentState::Suppressed,
            _ => IntentState::Unsettled,
        })
    }

    async fn settle(&self, sent: &[Settlement], claim: Option<&ClaimTicket>) -> Result<(), DomainError> {
        let mut items = Vec::new();
        for settlement in sent {
            let mut ledger = Item::new();
            ledger.insert("pk".into(), s(provider_pk(&settlement.provider_id)));
            ledger.insert("sk".into(), s(email_sk(&settlement.event_id, &settlement.kind)));
            ledger.insert("item_type".into(), s("email"));
            ledger.insert("event_id".into(), s(&settlement.event_id));
            ledger.insert("kind".into(), s(&settlement.kind));
            match &settlement.outcome {
                EmailOutcome::Sent { message_id } => {
                    ledger.insert("status".into(), s(EMAIL_SENT));
                    ledger.insert("message_id".into(), s(message_id));
                    ledger.insert("sent_at".into(), s(Utc::now().to_rfc3339()));
                }
                EmailOutcome::Suppressed { reason } => {
                    ledger.insert("status".into(), s(EMAIL_SUPPRESSED));
                    ledger.insert("reason".into(), s(reason));
                    ledger.insert("suppressed_at".into(), s(Utc::now().to_rfc3339()));
                }
            }
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(ledger))
                .build()
                .map_err(|e| DomainError::infra("build put", e))?;
            items.push(TransactWriteItem::builder().put(put).build());
            items.push(self.audit_put(&settlement.audit)?);
        }
        let claims = match claim {
            Some(claim) => {
                let claims = self.claims.as_ref().ok_or_else(|| {
                    DomainError::infra("settle emails", "no idempotency table to complete the claim in")
                })?;
                items.push(claims.complete_item(&claim.key, claim.now)?);
                Some((claims, claim))
            }
            None => None,
        };
        match self.transact(items).await {
            Ok(()) => Ok(()),
            // An audit entry exists: an earlier invocation settled these very emails. The claim
            // still needs completing.
            Err(WriteError::PreconditionFailed) => match claims {
                Some((claims, claim)) => claims.complete(&claim.key, claim.now).await,
                None => Ok(()),
            },
            Err(WriteError::Other(e)) => Err(e),
        }
    }

    async fn withdraw_intent(&self, provider_id: &str, event_id: &str, kind: &str) -> Result<(), DomainError> {
        // A conditional put (the functions may put, not delete or update, outbox items).
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(provider_pk(provider_id)))
            .item("sk", s(email_sk(event_id, kind)))
            .item("item_type", s("email"))
            .item("event_id", s(event_id))
            .item("kind", s(kind))
            .item("status", s(EMAIL_WITHDRAWN))
            .item("withdrawn_at", s(Utc::now().to_rfc3339()))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(EMAIL_PENDING))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Ok(())
            }
            Err(err) => Err(sdk_error("DynamoDB PutItem (withdraw email intent)", err)),
        }
    }
}
