//! The `Marketplace` table in memory: providers, products, audit trails and the email outbox.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::claims::MemoryClaims;
use super::faults::{lock, Call, Faults};
use crate::idempotency::{ClaimTicket, IdempotencyStore};
use crate::ports::{
    AuditEntry, EmailLedger, EmailOutcome, IntentState, Precondition, ProviderStore, Settlement, WriteError,
};
use crate::product::model::Product;
use marketplace_core::agreement::MpaVersions;
use marketplace_core::ports::ProviderDirectory;
use marketplace_core::provider::Provider;
use marketplace_core::DomainError;

/// An email outbox item: pending from the intent until the settle records SES's message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailIntent {
    Pending,
    Sent {
        message_id: String,
    },
    /// Not sent: its recipients are undeliverable.
    Suppressed {
        reason: String,
    },
    /// SES declined the send: certainly not sent; a redelivery records the intent anew.
    Withdrawn,
}

/// The `Marketplace` table: providers, products, audit trails and the email outbox.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    /// Where settling an event's emails completes its claim, as `DynamoProviderStore::with_claims`.
    claims: Option<MemoryClaims>,
    faults: Faults,
}

/// An audit entry's place in its provider's trail, in the order of the DynamoDB sort key
/// `AUDIT#<time in milliseconds>#<event id>#<step>`.
type AuditKey = (String, i64, String, String);

/// An email's outbox key: provider, event, kind.
type EmailKey = (String, String, String);

#[derive(Debug, Default)]
struct Tables {
    providers: HashMap<String, Provider>,
    products: HashMap<(String, String), Product>,
    audit: BTreeMap<AuditKey, AuditEntry>,
    emails: HashMap<EmailKey, EmailIntent>,
    mpa_versions: Option<MpaVersions>,
}

fn audit_key(entry: &AuditEntry) -> AuditKey {
    (entry.provider_id.clone(), entry.at.timestamp_millis(), entry.event_id.clone(), entry.step.clone())
}

fn email_key(provider_id: &str, event_id: &str, kind: &str) -> EmailKey {
    (provider_id.to_string(), event_id.to_string(), kind.to_string())
}

/// Whether a record at `current` version (`None`: absent) meets `precondition`.
fn holds(precondition: Precondition, current: Option<u64>) -> bool {
    match precondition {
        Precondition::Absent => current.is_none(),
        Precondition::Version(version) => current == Some(version),
    }
}

impl Tables {
    /// One state change's transaction: when the record's condition `holds` and its audit entry is
    /// new, `write` the record, add the entry and the pending intents of `email_kinds`; else nothing.
    fn change(
        &mut self,
        holds: bool,
        provider_id: &str,
        audit: &AuditEntry,
        email_kinds: &[&str],
        write: impl FnOnce(&mut Self),
    ) -> Result<(), WriteError> {
        if !holds || self.audit.contains_key(&audit_key(audit)) {
            return Err(WriteError::PreconditionFailed);
        }
        write(self);
        self.audit.insert(audit_key(audit), audit.clone());
        for kind in email_kinds {
            self.emails.insert(email_key(provider_id, &audit.event_id, kind), EmailIntent::Pending);
        }
        Ok(())
    }
}

impl MemoryStore {
    /// Settling an event's emails completes its claim in `claims`, in the same step.
    pub fn with_claims(mut self, claims: MemoryClaims) -> Self {
        self.claims = Some(claims);
        self
    }

    /// Counts this store's calls in `faults` and suffers the faults planned there.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// The stored provider (not counted as a call).
    pub fn provider(&self, provider_id: &str) -> Option<Provider> {
        lock(&self.tables).providers.get(provider_id).cloned()
    }

    /// The stored MPA versions (not counted as a call).
    pub fn stored_mpa_versions(&self) -> Option<MpaVersions> {
        lock(&self.tables).mpa_versions.clone()
    }

    /// The stored product (not counted as a call).
    pub fn product(&self, provider_id: &str, product_id: &str) -> Option<Product> {
        lock(&self.tables).products.get(&(provider_id.to_string(), product_id.to_string())).cloned()
    }

    /// A provider's audit trail in key order (not counted as a call).
    pub fn audit(&self, provider_id: &str) -> Vec<AuditEntry> {
        let tables = lock(&self.tables);
        tables.audit.iter().filter(|(key, _)| key.0 == provider_id).map(|(_, entry)| entry.clone()).collect()
    }

    /// The outbox item of email `kind` of `event_id` (not counted as a call).
    pub fn email_intent(&self, provider_id: &str, event_id: &str, kind: &str) -> Option<EmailIntent> {
        lock(&self.tables).emails.get(&email_key(provider_id, event_id, kind)).cloned()
    }
}

#[async_trait]
impl ProviderDirectory for MemoryStore {
    async fn get_provider(&self, provider_id: &str) -> Result<Option<Provider>, DomainError> {
        self.faults.enter(Call::GetProvider).await?;
        Ok(self.provider(provider_id))
    }
}

#[async_trait]
impl ProviderStore for MemoryStore {
    async fn put_provider(
        &self,
        provider: &Provider,
        precondition: Precondition,
        audit: &AuditEntry,
        email_kinds: &[&str],
    ) -> Result<(), WriteError> {
        self.faults.enter(Call::PutProvider).await?;
        let mut tables = lock(&self.tables);
        let current = tables.providers.get(&provider.provider_id).map(|p| p.version);
        tables.change(holds(precondition, current), &provider.provider_id, audit, email_kinds, |tables| {
            tables.providers.insert(provider.provider_id.clone(), provider.clone());
        })
    }

    async fn audit_trail(&self, provider_id: &str) -> Result<Vec<AuditEntry>, DomainError> {
        self.faults.enter(Call::AuditTrail).await?;
        Ok(self.audit(provider_id))
    }

    async fn get_product(&self, provider_id: &str, product_id: &str) -> Result<Option<Product>, DomainError> {
        self.faults.enter(Call::GetProduct).await?;
        Ok(self.product(provider_id, product_id))
    }

    async fn get_provider_and_product(
        &self,
        provider_id: &str,
        product_id: &str,
    ) -> Result<(Option<Provider>, Option<Product>), DomainError> {
        self.faults.enter(Call::GetProviderAndProduct).await?;
        Ok((self.provider(provider_id), self.product(provider_id, product_id)))
    }

    async fn put_product(
        &self,
        product: &Product,
        precondition: Precondition,
        audit: &AuditEntry,
        email_kinds: &[&str],
    ) -> Result<(), WriteError> {
        self.faults.enter(Call::PutProduct).await?;
        let key = (product.provider_id.clone(), product.product_id.clone());
        let mut tables = lock(&self.tables);
        let current = tables.products.get(&key).map(|p| p.version);
        tables.change(holds(precondition, current), &product.provider_id, audit, email_kinds, |tables| {
            tables.products.insert(key, product.clone());
        })
    }

    async fn list_products(&self, provider_id: &str) -> Result<Vec<Product>, DomainError> {
        self.faults.enter(Call::ListProducts).await?;
        let tables = lock(&self.tables);
        let mut products: Vec<Product> =
            tables.products.values().filter(|p| p.provider_id == provider_id).cloned().collect();
        products.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        Ok(products)
    }

    async fn put_provider_and_products(
        &self,
        provider: &Provider,
        precondition: Precondition,
        audit: &AuditEntry,
        email_kinds: &[&str],
        products: &[(Product, Precondition)],
    ) -> Result<(), WriteError> {
        self.faults.enter(Call::PutProviderAndProducts).await?;
        let mut tables = lock(&self.tables);
        let key = |p: &Product| (p.provider_id.clone(), p.product_id.clone());
        let holds = holds(precondition, tables.providers.get(&provider.provider_id).map(|p| p.version))
            && products.iter().all(|(p, pre)| holds(*pre, tables.products.get(&key(p)).map(|p| p.version)));
        tables.change(holds, &provider.provider_id, audit, email_kinds, |tables| {
            tables.providers.insert(provider.provider_id.clone(), provider.clone());
            for (product, _) in products {
                tables.products.insert(key(product), product.clone());
            }
        })
    }

    async fn get_mpa_versions(&self) -> Result<Option<MpaVersions>, DomainError> {
        self.faults.enter(Call::GetMpaVersions).await?;
        Ok(lock(&self.tables).mpa_versions.clone())
    }

    async fn put_mpa_versions(
        &self,
        versions: &MpaVersions,
        precondition: Precondition,
        audit: &AuditEntry,
    ) -> Result<(), WriteError> {
        self.faults.enter(Call::PutMpaVersions).await?;
        let mut tables = lock(&self.tables);
        let current = tables.mpa_versions.as_ref().map(|v| v.revision);
        tables.change(holds(precondition, current), &audit.provider_id, audit, &[], |tables| {
            tables.mpa_versions = Some(versions.clone());
        })
    }
}

#[async_trait]
impl EmailLedger for MemoryStore {
    async fn record_intent(
        &self,
        provider_id: &str,
        event_id: &str,
        kind: &str,
        _now: DateTime<Utc>,
    ) -> Result<IntentState, DomainError> {
        self.faults.enter(Call::RecordIntent).await?;
        let mut tables = lock(&self.tables);
        Ok(match tables.emails.get(&email_key(provider_id, event_id, kind)) {
            None | Some(EmailIntent::Withdrawn) => {
                tables.emails.insert(email_key(provider_id, event_id, kind), EmailIntent::Pending);
                IntentState::Recorded
            }
            Some(EmailIntent::Pending) => IntentState::Unsettled,
            Some(EmailIntent::Sent { .. }) => IntentState::Sent,
            Some(EmailIntent::Suppressed { .. }) => IntentState::Suppressed,
        })
    }

    async fn settle(&self, sent: &[Settlement], claim: Option<&ClaimTicket>) -> Result<(), DomainError> {
        self.faults.enter(Call::Settle).await?;
        let claims = match claim {
            Some(claim) => {
                let claims = self.claims.as_ref().ok_or_else(|| {
                    DomainError::infra("settle emails", "no idempotency table to complete the claim in")
                })?;
                Some((claims, claim))
            }
            None => None,
        };
        {
            let mut tables = lock(&self.tables);
            if !sent.iter().any(|settlement| tables.audit.contains_key(&audit_key(&settlement.audit))) {
                for settlement in sent {
                    let key = email_key(&settlement.provider_id, &settlement.event_id, &settlement.kind);
                    let settled = match &settlement.outcome {
                        EmailOutcome::Sent { message_id } => EmailIntent::Sent { message_id: message_id.clone() },
                        EmailOutcome::Suppressed { reason } => EmailIntent::Suppressed { reason: reason.clone() },
                    };
                    tables.emails.insert(key, settled);
                    tables.audit.insert(audit_key(&settlement.audit), settlement.audit.clone());
                }
                if let Some((claims, claim)) = claims {
                    claims.mark_completed(&claim.key, claim.now);
                }
                return Ok(());
            }
        }
        // An audit entry exists: an earlier invocation settled these very emails. The claim still
        // needs completing.
        match claims {
            Some((claims, claim)) => claims.complete(&claim.key, claim.now).await,
            None => Ok(()),
        }
    }

    async fn withdraw_intent(&self, provider_id: &str, event_id: &str, kind: &str) -> Result<(), DomainError> {
        self.faults.enter(Call::WithdrawIntent).await?;
        let mut tables = lock(&self.tables);
        if let Some(intent @ EmailIntent::Pending) = tables.emails.get_mut(&email_key(provider_id, event_id, kind)) {
            *intent = EmailIntent::Withdrawn;
        }
        Ok(())
    }
}
