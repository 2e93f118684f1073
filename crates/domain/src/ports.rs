//! What the domain needs from the outside world, named by what it does. The DynamoDB and SES
//! implementations live in `marketplace-aws`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::email::Email;
use crate::product::Product;
use crate::provider::Provider;
use crate::DomainError;

/// One entry of a provider's audit trail. Its key is derived from the event that caused it, so
/// redelivering the event cannot add a second entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub provider_id: String,
    /// The time of the event that caused it (not the processing time): stable across retries.
    pub at: DateTime<Utc>,
    pub event_id: String,
    /// Distinguishes several entries caused by one event and orders them within it: the state
    /// change is `0-state`, emails are `1-email-<kind>`.
    pub step: String,
    pub action: String,
    pub actor_id: String,
    pub details: serde_json::Value,
}

/// What a conditional write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// The item must not exist yet.
    Absent,
    /// The item must exist with exactly this `version` (optimistic concurrency).
    Version(u64),
}

/// The outcome of a conditional write that lost.
#[derive(Debug)]
pub enum WriteError {
    /// The precondition did not hold: someone else changed (or created) the item first.
    PreconditionFailed,
    Other(DomainError),
}

impl From<DomainError> for WriteError {
    fn from(e: DomainError) -> Self {
        WriteError::Other(e)
    }
}

#[async_trait]
pub trait ProviderStore: Send + Sync {
    async fn get_provider(&self, provider_id: &str) -> Result<Option<Provider>, DomainError>;

    /// Writes the provider and its audit entry in one transaction, if `precondition` holds.
    async fn put_provider(
        &self,
        provider: &Provider,
        precondition: Precondition,
        audit: &AuditEntry,
    ) -> Result<(), WriteError>;

    async fn audit_trail(&self, provider_id: &str) -> Result<Vec<AuditEntry>, DomainError>;

    async fn get_product(&self, provider_id: &str, product_id: &str) -> Result<Option<Product>, DomainError>;

    /// Writes the product and its audit entry in one transaction, if `precondition` holds.
    async fn put_product(
        &self,
        product: &Product,
        precondition: Precondition,
        audit: &AuditEntry,
    ) -> Result<(), WriteError>;
}

/// Remembers which emails went out for which event, so a redelivered event sends nothing twice.
#[async_trait]
pub trait EmailLedger: Send + Sync {
    async fn email_sent(&self, provider_id: &str, event_id: &str, kind: &str) -> Result<bool, DomainError>;

    /// Records a sent email (with its audit entry); a record that already exists is not an error.
    async fn record_email(
        &self,
        provider_id: &str,
        event_id: &str,
        kind: &str,
        message_id: &str,
        audit: &AuditEntry,
    ) -> Result<(), DomainError>;
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email and returns the provider's message id.
    async fn send(&self, email: &Email) -> Result<String, DomainError>;
}

/// Powertools-style idempotency records, see [`crate::idempotency`].
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for processing unless a live record exists; returns what was found.
    async fn begin(
        &self,
        key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<crate::idempotency::Claim, DomainError>;

    /// Marks `key` completed; the record expires after the store's retention period.
    async fn complete(&self, key: &str, now: DateTime<Utc>) -> Result<(), DomainError>;

    /// Drops an in-progress claim after a failure so that a redelivery can try again.
    async fn release(&self, key: &str) -> Result<(), DomainError>;
}

/// Everything a domain operation may touch, passed as one bundle.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    pub store: &'a dyn ProviderStore,
    pub ledger: &'a dyn EmailLedger,
    pub mailer: &'a dyn Mailer,
    pub config: &'a crate::PortalConfig,
}

impl Services<'_> {
    /// Sends `email` for `event` unless the ledger says it went out already, then records it (and an
    /// audit entry `email-<kind>`). A crash between the send and the record can repeat the email on
    /// redelivery; every other path sends it exactly once.
    pub async fn send_once(
        &self,
        event: &crate::event::PortalEvent,
        provider_id: &str,
        kind: &str,
        email: &Email,
        actor_id: &str,
    ) -> Result<(), DomainError> {
        if self.ledger.email_sent(provider_id, &event.id, kind).await? {
            tracing::info!(provider_id, event_id = %event.id, kind, "email already sent for this event");
            return Ok(());
        }
        let message_id = self.mailer.send(email).await?;
        let audit = AuditEntry {
            provider_id: provider_id.to_string(),
            at: event.time,
            event_id: event.id.clone(),
            step: format!("1-email-{kind}"),
            action: "EmailSent".into(),
            actor_id: actor_id.to_string(),
            details: serde_json::json!({ "kind": kind, "to": email.to, "subject": email.subject, "message_id": message_id }),
        };
        self.ledger.record_email(provider_id, &event.id, kind, &message_id, &audit).await?;
        tracing::info!(provider_id, event_id = %event.id, kind, %message_id, "email sent");
        Ok(())
    }
}
