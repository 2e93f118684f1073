//! What the domain needs from the outside world, named by what it does. The DynamoDB and SES
//! implementations live in `marketplace-aws`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use marketplace_core::agreement::MpaVersions;
use marketplace_core::ports::{Mailer, ProviderDirectory};
use marketplace_core::provider::Provider;
use marketplace_core::{DomainError, PortalConfig};

use crate::event::PortalEvent;
use crate::idempotency::ClaimTicket;
use crate::product::model::Product;

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

/// The `step` of the audit entry that records an event's state change.
pub const STATE_STEP: &str = "0-state";

impl AuditEntry {
    /// The audit entry of the state change `event` caused.
    pub fn state_change(
        provider_id: &str,
        event: &PortalEvent,
        action: impl Into<String>,
        actor_id: &str,
        details: serde_json::Value,
    ) -> Self {
        AuditEntry {
            provider_id: provider_id.to_string(),
            at: event.time,
            event_id: event.id.clone(),
            step: STATE_STEP.to_string(),
            action: action.into(),
            actor_id: actor_id.to_string(),
            details,
        }
    }
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

/// The portal's store of providers and products: reads them ([`ProviderDirectory`], which the
/// report engine uses too) and changes them, each change one transaction.
#[async_trait]
pub trait ProviderStore: ProviderDirectory {
    /// Writes the provider, its audit entry and the intents of the emails the change causes
    /// (`email_kinds`, see [`crate::outbox`]) in one transaction, if `precondition` holds.
    async fn put_provider(
        &self,
        provider: &Provider,
        precondition: Precondition,
        audit: &AuditEntry,
        email_kinds: &[&str],
    ) -> Result<(), WriteError>;

    async fn audit_trail(&self, provider_id: &str) -> Result<Vec<AuditEntry>, DomainError>;

    async fn get_product(&self, provider_id: &str, product_id: &str) -> Result<Option<Product>, DomainError>;

    /// The provider and one of its products, read together (one round trip).
    async fn get_provider_and_product(
        &self,
        provider_id: &str,
        product_id: &str,
    ) -> Result<(Option<Provider>, Option<Product>), DomainError>;

    /// Writes the product, its audit entry and the intents of the emails the change causes in one
    /// transaction, if `precondition` holds.
    async fn put_product(
        &self,
        product: &Product,
        precondition: Precondition,
        audit: &AuditEntry,
        email_kinds: &[&str],
    ) -> Result<(), WriteError>;

    /// Every product of the provider, in product id order.
    async fn list_products(&self, provider_id: &str) -> Result<Vec<Product>, DomainError>;

    /// Writes the provider, its audit entry, the intents of its emails and `products` (each
    /// guarded by its own precondition) in one transaction: all of it or nothing. The caller keeps
    /// the whole within DynamoDB's 100 items of a transaction.
    async fn put_provider_and_products(
        &self,
        provider: &Provider,
        precondition: Precondition,
        audit: &AuditEntry,
        email_kinds: &[&str],
        products: &[(Product, Precondition)],
    ) -> Result<(), WriteError>;

    /// The MPA's versions as stored, or `None` while only the configuration's first version
    /// exists (see `marketplace_core::agreement`).
    async fn get_mpa_versions(&self) -> Result<Option<MpaVersions>, DomainError>;

    /// Writes the MPA's versions and the audit entry of the change in one transaction, if
    /// `precondition` (on their revision) holds.
    async fn put_mpa_versions(
        &self,
        versions: &MpaVersions,
        precondition: Precondition,
        audit: &AuditEntry,
    ) -> Result<(), WriteError>;

    /// The MPA's versions: the stored list, or the configuration's first version.
    async fn mpa_versions(&self, config: &PortalConfig) -> Result<MpaVersions, DomainError> {
        Ok(MpaVersions::or_config(self.get_mpa_versions().await?, config))
    }

    /// The provider and the MPA's stored versions; the DynamoDB store reads both in one round trip.
    async fn get_provider_and_mpa_versions(
        &self,
        provider_id: &str,
    ) -> Result<(Option<Provider>, Option<MpaVersions>), DomainError> {
        Ok((self.get_provider(provider_id).await?, self.get_mpa_versions().await?))
    }

    /// The provider, one of its products and the MPA's stored versions; the DynamoDB store reads
    /// them in one round trip.
    async fn get_provider_product_and_mpa_versions(
        &self,
        provider_id: &str,
        product_id: &str,
    ) -> Result<(Option<Provider>, Option<Product>, Option<MpaVersions>), DomainError> {
        let (provider, product) = self.get_provider_and_product(provider_id, product_id).await?;
        Ok((provider, product, self.get_mpa_versions().await?))
    }
}

/// What [`EmailLedger::record_intent`] found for one email of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentState {
    /// No intent existed: it is recorded now and this invocation sends the email.
    Recorded,
    /// An earlier invocation recorded the intent and did not settle it: it died between recording
    /// and settling (the event's claim rules out a live one), so the email may or may not be out.
    Unsettled,
    /// The email went out and was settled.
    Sent,
    /// The email was not sent because its recipients are undeliverable, and was settled so.
    Suppressed,
}

/// The email outbox: an intent is recorded before an email is sent and settled after SES accepted
/// it, so a redelivered event never sends an email twice (see [`crate::outbox`]).
#[async_trait]
pub trait EmailLedger: Send + Sync {
    /// Records the intent to send email `kind` for `event_id`, unless one exists (a withdrawn
    /// one is recorded anew: `Recorded`); returns what was found.
    async fn record_intent(
        &self,
        provider_id: &str,
        event_id: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<IntentState, DomainError>;

    /// Marks the intents of `sent` emails sent (with their message ids) and writes their audit
    /// entries, and completes `claim` when given, all in one transaction.
    async fn settle(&self, sent: &[Settlement], claim: Option<&ClaimTicket>) -> Result<(), DomainError>;

    /// Withdraws the pending intent of email `kind` for `event_id` after SES answered its send
    /// with an error (the email was certainly not sent), so that the send a redelivery makes is
    /// not counted as a possible duplicate. Only a pending intent is withdrawn.
    async fn withdraw_intent(&self, provider_id: &str, event_id: &str, kind: &str) -> Result<(), DomainError>;
}

/// An email SES accepted, or one not sent because its recipients are undeliverable, to be
/// settled in the outbox.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub provider_id: String,
    pub event_id: String,
    pub kind: String,
    pub outcome: EmailOutcome,
    /// Its `EmailSent` or `EmailSuppressed` audit entry.
    pub audit: AuditEntry,
}

/// How an outbox item is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailOutcome {
    /// SES accepted it (`SENT`, with SES's message id).
    Sent { message_id: String },
    /// Not sent: every recipient is undeliverable for the provider (`SUPPRESSED`, with the reason).
    Suppressed { reason: String },
}

/// Everything a domain operation may touch, passed as one bundle.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    pub store: &'a dyn ProviderStore,
    pub ledger: &'a dyn EmailLedger,
    pub mailer: &'a dyn Mailer,
    pub config: &'a PortalConfig,
    pub counters: &'a crate::metrics::Counters,
    /// The idempotency claim the current event is processed under, if any: the outbox completes
    /// it in the same transaction that settles the event's emails.
    pub claim: Option<&'a ClaimTicket>,
}
