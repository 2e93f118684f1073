//! The nightly job's erasure step: the personal data of every provider offboarded more than the
//! retention period ago (`marketplace_portal::offboarding`: [`ERASURE_RETENTION_DAYS`], the rule
//! and what is erased) is erased from the `Marketplace` table, every day, after the reports.
//!
//! Per provider due ([`is_due`]): every audit entry and email outbox item of its partition that
//! holds a name or an address is rewritten without it (each a conditional put: the item must
//! still be there), then the provider record is erased and its `erased_at` set by one conditional
//! write on its version, with a `PersonalDataErased` audit entry. The provider record goes last,
//! so a run that dies or fails half-way leaves the provider due, and the next run erases again
//! (erasing twice changes nothing). Reports, statements, report files and the delivery ledger
//! (the `Reports` table, the bucket) carry only the provider id and amounts, and stay.
//!
//! The due providers come from the Scan of provider records the MPA campaign uses
//! ([`each_provider`]); at 10,000 providers a handful of pages a night.
//!
//! [`ERASURE_RETENTION_DAYS`]: marketplace_portal::offboarding::ERASURE_RETENTION_DAYS

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::provider_profiles::each_provider;
use marketplace_aws::attributes::{from_item, to_item, Item};
use marketplace_aws::DynamoProviderStore;
use marketplace_core::provider::Provider;
use marketplace_core::DomainError;
use marketplace_portal::offboarding::erasure::{erased_provider, erased_value, is_due};
use marketplace_portal::ports::{AuditEntry, Precondition, ProviderStore, WriteError, STATE_STEP};

/// Who the erasure's audit entries name as the actor.
pub const ERASURE_ACTOR: &str = "nightly-reports";

/// What one erasure step did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureSummary {
    /// Offboarded providers whose retention period is over and who were not erased yet.
    pub due: usize,
    /// Those erased by this run.
    pub erased: usize,
    /// Audit entries and outbox items rewritten without names and addresses.
    pub records_rewritten: usize,
    /// `provider: reason` of every provider not erased (due again the next night).
    pub failed: Vec<String>,
}

/// Erases the personal data of every provider due at `now` (module docs).
pub async fn erase_due_providers(
    marketplace: &DynamoProviderStore,
    now: DateTime<Utc>,
    page_limit: Option<i32>,
) -> Result<ErasureSummary, DomainError> {
    let mut due = Vec::new();
    each_provider(marketplace, page_limit, |provider| {
        if is_due(&provider, now) {
            due.push(provider);
        }
    })
    .await
    .map_err(|e| DomainError::infra("erasure: scan of provider records", e))?;
    let mut summary = ErasureSummary { due: due.len(), ..ErasureSummary::default() };
    for provider in &due {
        match erase_provider(marketplace, provider, now).await {
            Ok(rewritten) => {
                summary.erased += 1;
                summary.records_rewritten += rewritten;
                tracing::info!(provider_id = %provider.provider_id, rewritten, "personal data erased");
            }
            Err(e) => {
                tracing::error!(provider_id = %provider.provider_id, error = %e, "personal data not erased: due again tomorrow");
                summary.failed.push(format!("{}: {e}", provider.provider_id));
            }
        }
    }
    Ok(summary)
}

/// Erases one provider; returns how many audit and outbox items were rewritten.
async fn erase_provider(
    marketplace: &DynamoProviderStore,
    provider: &Provider,
    now: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let mut rewritten = 0;
    for prefix in ["AUDIT#", "EMAIL#"] {
        for item in marketplace.query_prefix(&provider.provider_id, prefix).await? {
            let value: Value = from_item(&item)?;
            if let Some(erased) = erased_value(&value) {
                rewrite(marketplace, to_item(&erased)?).await?;
                rewritten += 1;
            }
        }
    }
    let offboarding_event = provider.offboarding.as_ref().map_or("", |o| o.event_id.as_str());
    let audit = AuditEntry {
        provider_id: provider.provider_id.clone(),
        at: now,
        event_id: format!("erasure-{offboarding_event}"),
        step: STATE_STEP.into(),
        action: "PersonalDataErased".into(),
        actor_id: ERASURE_ACTOR.into(),
        details: serde_json::json!({ "records_rewritten": rewritten, "offboarding_event": offboarding_event }),
    };
    let erased = erased_provider(provider, now);
    match marketplace.put_provider(&erased, Precondition::Version(provider.version), &audit, &[]).await {
        Ok(()) => Ok(rewritten),
        Err(WriteError::PreconditionFailed) => {
            Err(DomainError::infra("erasure", "the provider record changed meanwhile; the next run erases it"))
        }
        Err(WriteError::Other(e)) => Err(e),
    }
}

/// Puts `item` back over itself, if it is still there.
async fn rewrite(marketplace: &DynamoProviderStore, item: Item) -> Result<(), DomainError> {
    let written = marketplace
        .client()
        .put_item()
        .table_name(marketplace.table())
        .set_item(Some(item))
        .condition_expression("attribute_exists(pk)")
        .send()
        .await;
    match written {
        Ok(_) => Ok(()),
        // Gone meanwhile (nothing deletes these today): nothing left to erase.
        Err(e) if e.as_service_error().is_some_and(|err| err.is_conditional_check_failed_exception()) => Ok(()),
        Err(e) => Err(marketplace_aws::sdk_error::sdk_error("DynamoDB PutItem (erasure)", e)),
    }
}
