//! Offboarding a provider (`ProviderOffboarded`, the marketplace team only, with a reason).
//!
//! **The event.** Every published product of the provider is withdrawn (status `Withdrawn`, the
//! offboarding as its withdrawal) in the *same* transaction as the provider's own write (status
//! `Offboarded`, [`Offboarding`] with the erasure date), its audit entry and the intent of the one
//! email it causes, to the team. A transaction holds at most 100 items: a provider with more than
//! [`MAX_PRODUCTS_WITHDRAWN`] published products is refused for good, saying how many to withdraw
//! first (`ProductWithdrawn`). Drafts and products withdrawn before stay as they are. A repeat
//! under a new event id changes nothing; a provider that does not exist is refused for good; only
//! the team may offboard.
//!
//! **No further email.** The provider is never emailed again: the outbox drops every recipient
//! but the team's inbox from an offboarded provider's emails (settled `SUPPRESSED`, with the
//! reason), the report job records its report and statement emails as not sent, and the MPA
//! campaign skips it. Its reports and statements go on being made and stored (running
//! deployments of products withdrawn by the offboarding keep being billed until they end).
//!
//! **Erasure ([`erasure`]): the retention rule.** [`ERASURE_RETENTION_DAYS`] (90) days after the
//! offboarding event's time (`Offboarding::erase_after`, fixed when offboarded), the provider's
//! personal data is erased: the contact's and the MPA acceptor's names and addresses on the
//! provider record (and the former contact's, and undeliverable addresses), and every address and
//! name in its audit entries and email outbox items. 90 days cover the statement of the month of
//! the offboarding (made on the 1st of the next month) and the 60 days the marketplace gives a
//! provider to dispute a statement. What financial records must keep stays: reports, statements
//! and report files carry only the provider id and amounts. The nightly job erases what is due,
//! every day (`jobs/nightly-reports`, `erasure` step), each provider by conditional writes.

pub mod emails;
pub mod erasure;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::event::{Actor, PortalEvent};
use crate::fields;
use crate::outbox::{kinds, send_once};
use crate::ports::{AuditEntry, Precondition, Services};
use crate::product::{Product, ProductStatus, Withdrawal};
use crate::race::{retry_lost_races, Attempt};
use marketplace_core::provider::{Offboarding, Provider, ProviderStatus};
use marketplace_core::validate::{trimmed, Problems};
use marketplace_core::DomainError;

pub use emails::offboarding_emails;

pub const DETAIL_TYPE: &str = "ProviderOffboarded";

/// Days after the offboarding until the provider's personal data is erased (module docs).
pub const ERASURE_RETENTION_DAYS: i64 = 90;

/// The most published products one offboarding withdraws: with the provider, its audit entry and
/// the email's intent, well within the 100 items of one DynamoDB transaction.
pub const MAX_PRODUCTS_WITHDRAWN: usize = 90;

#[derive(Debug, Default, Deserialize)]
struct OffboardingDetail {
    provider_id: Option<String>,
    actor: Option<OffboardingActor>,
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct OffboardingActor {
    id: Option<String>,
    role: Option<String>,
}

/// An offboarding whose fields are all valid.
#[derive(Debug, Clone)]
pub struct OffboardingRequest {
    pub provider_id: String,
    pub actor: Actor,
    pub reason: String,
}

impl OffboardingRequest {
    pub fn from_event(event: &PortalEvent) -> Result<Self, DomainError> {
        event.expect(&[DETAIL_TYPE])?;
        let detail: OffboardingDetail = event.detail()?;
        let mut p = Problems::new();
        let provider_id = trimmed(detail.provider_id);
        let reason = trimmed(detail.reason);
        p.check("provider_id", &provider_id, fields::PROVIDER_ID);
        p.check("reason", &reason, fields::OFFBOARDING_REASON);
        let actor = detail.actor.unwrap_or_default();
        let actor = Actor { id: trimmed(actor.id), role: trimmed(actor.role) };
        p.check("actor.id", &actor.id, fields::ACTOR_ID);
        p.check("actor.role", &actor.role, fields::ACTOR_ROLE);
        p.into_result(OffboardingRequest { provider_id, actor, reason })
    }

    /// Only the marketplace team offboards providers.
    pub fn authorize(&self) -> Result<(), DomainError> {
        if self.actor.is_marketplace_team() {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "actor {} (role {:?}) may not offboard provider {}: only the marketplace team may",
                self.actor.id, self.actor.role, self.provider_id
            )))
        }
    }
}

/// What an offboarding does.
#[derive(Debug, Clone, PartialEq)]
pub enum OffboardingDecision {
    /// Write the provider and withdraw these products, in one transaction.
    Write { provider: Box<Provider>, products: Vec<(Product, Precondition)> },
    /// Offboarded already (a repeat under a new event id): nothing to do.
    AlreadyOffboarded { by_event: String },
}

/// When the personal data of a provider offboarded at `at` is erased.
pub fn erase_after(at: DateTime<Utc>) -> DateTime<Utc> {
    at + Duration::days(ERASURE_RETENTION_DAYS)
}

/// Decides what an offboarding does: pure, unit-tested.
pub fn decide_offboarding(
    provider: &Provider,
    products: &[Product],
    request: &OffboardingRequest,
    event: &PortalEvent,
) -> Result<OffboardingDecision, DomainError> {
    if let Some(offboarding) = provider.offboarding.as_ref().filter(|_| provider.is_offboarded()) {
        return Ok(OffboardingDecision::AlreadyOffboarded { by_event: offboarding.event_id.clone() });
    }
    let published: Vec<&Product> = products.iter().filter(|p| p.status == ProductStatus::Published).collect();
    if published.len() > MAX_PRODUCTS_WITHDRAWN {
        return Err(DomainError::Conflict(format!(
            "provider {} has {} published products; offboarding withdraws them in one transaction of at most \
             {MAX_PRODUCTS_WITHDRAWN}: withdraw at least {} of them first (ProductWithdrawn), then offboard again",
            request.provider_id,
            published.len(),
            published.len() - MAX_PRODUCTS_WITHDRAWN
        )));
    }
    let withdrawal = Withdrawal {
        event_id: event.id.clone(),
        at: event.time,
        by: request.actor.id.clone(),
        by_team: true,
        reason: format!("The provider was offboarded: {}", request.reason),
    };
    let products = published
        .into_iter()
        .map(|p| {
            let withdrawn = Product {
                status: ProductStatus::Withdrawn,
                withdrawal: Some(withdrawal.clone()),
                // Never backwards: a request older than what the product applied stays stale.
                updated_at: p.updated_at.max(event.time),
                last_event: event.id.clone(),
                version: p.version + 1,
                ..p.clone()
            };
            (withdrawn, Precondition::Version(p.version))
        })
        .collect();
    let provider = Provider {
        status: ProviderStatus::Offboarded,
        offboarding: Some(Offboarding {
            event_id: event.id.clone(),
            at: event.time,
            by: request.actor.id.clone(),
            reason: request.reason.clone(),
            erase_after: erase_after(event.time),
            erased_at: None,
        }),
        version: provider.version + 1,
        ..provider.clone()
    };
    Ok(OffboardingDecision::Write { provider: Box::new(provider), products })
}

/// The products `event` withdrew, read back from `products`.
fn withdrawn_by<'a>(products: &'a [Product], event: &PortalEvent) -> Vec<&'a Product> {
    products.iter().filter(|p| p.withdrawal.as_ref().is_some_and(|w| w.event_id == event.id)).collect()
}

/// Handles one `ProviderOffboarded` event.
pub async fn offboard_provider(event: &PortalEvent, services: &Services<'_>) -> Result<String, DomainError> {
    let request = OffboardingRequest::from_event(event)?;
    request.authorize()?;
    let outcome = retry_lost_races("offboard", || async {
        let provider = services.store.get_provider(&request.provider_id).await?.ok_or_else(|| {
            DomainError::Conflict(format!(
                "provider {} does not exist: there is nothing to offboard",
                request.provider_id
            ))
        })?;
        let products = services.store.list_products(&request.provider_id).await?;
        if provider.offboarding.as_ref().is_some_and(|o| o.event_id == event.id) {
            // Applied by an earlier delivery of this event: only its email may be missing.
            let withdrawn: Vec<Product> = withdrawn_by(&products, event).into_iter().cloned().collect();
            return Ok(Attempt::Done(Ok((provider, withdrawn, false))));
        }
        let (next, writes) = match decide_offboarding(&provider, &products, &request, event)? {
            OffboardingDecision::Write { provider, products } => (provider, products),
            OffboardingDecision::AlreadyOffboarded { by_event } => {
                return Ok(Attempt::Done(Err(format!("unchanged: already offboarded by event {by_event}"))));
            }
        };
        let withdrawn: Vec<Product> = writes.iter().map(|(p, _)| p.clone()).collect();
        let audit = AuditEntry::state_change(
            &request.provider_id,
            event,
            "ProviderOffboarded",
            &request.actor.id,
            serde_json::json!({
                "reason": request.reason,
                "withdrawn_products": withdrawn.iter().map(|p| p.product_id.as_str()).collect::<Vec<_>>(),
                "erase_after": next.offboarding.as_ref().map(|o| o.erase_after),
            }),
        );
        let email_kinds = kinds(&offboarding_emails(&next, &withdrawn, services.config));
        let write = services
            .store
            .put_provider_and_products(&next, Precondition::Version(provider.version), &audit, &email_kinds, &writes)
            .await;
        Attempt::after(write, Ok((*next, withdrawn, true)))
    })
    .await?;
    let (provider, withdrawn, intents_recorded) = match outcome {
        Ok(applied) => applied,
        Err(unchanged) => return Ok(format!("provider {} {unchanged}", request.provider_id)),
    };
    let emails = offboarding_emails(&provider, &withdrawn, services.config);
    send_once(services, event, &provider, &request.actor.id, emails, intents_recorded).await?;
    Ok(format!("provider {} offboarded; {} products withdrawn", provider.provider_id, withdrawn.len()))
}

#[cfg(test)]
mod tests;
