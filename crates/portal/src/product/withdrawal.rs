//! Withdrawing a product (`ProductWithdrawn`): the product leaves the storefront (status
//! `Withdrawn`, its listing kept), the provider's contact and the marketplace team are each told
//! by one email. Deployments already running keep being reported and billed: the report job reads
//! deployment logs, not product statuses, and the monthly statement run counts withdrawn products
//! as well as published ones. A withdrawn product is published again by a `ProductPublishRequested`
//! ([`super::rules::decide`]).
//!
//! Who may: the provider's own users or the marketplace team, as for publishing. What may be
//! withdrawn: a published product only; a product that does not exist, or is a draft, is refused
//! for good (nothing written, nothing sent). A withdrawal repeated under a new event id while the
//! product is still withdrawn changes nothing (no write, no email); one older (event `time`) than
//! what the product last applied is stale and changes nothing. The state change is one
//! conditional write (the product's version) with its audit entry and both emails' intents.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::apply::{apply_product_change, ProductChange};
use super::emails::withdrawal_emails;
use super::model::{Product, ProductStatus, Withdrawal, WITHDRAWN};
use super::rules::PublishRequest;
use crate::event::{Actor, PortalEvent};
use crate::fields;
use crate::ports::{AuditEntry, Services};
use marketplace_core::validate::{trimmed, Problems};
use marketplace_core::DomainError;

#[derive(Debug, Default, Deserialize)]
struct WithdrawalDetail {
    provider_id: Option<String>,
    product_id: Option<String>,
    actor: Option<WithdrawalActor>,
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WithdrawalActor {
    id: Option<String>,
    role: Option<String>,
    provider_id: Option<String>,
}

/// A withdrawal whose fields are all valid.
#[derive(Debug, Clone)]
pub struct WithdrawalRequest {
    pub provider_id: String,
    pub product_id: String,
    pub actor: Actor,
    /// For role `provider`: the provider the actor belongs to.
    pub actor_provider_id: Option<String>,
    /// Why: quoted to the provider and the team.
    pub reason: String,
}

impl WithdrawalRequest {
    pub fn from_event(event: &PortalEvent) -> Result<Self, DomainError> {
        event.expect(&[WITHDRAWN])?;
        let detail: WithdrawalDetail = event.detail()?;
        let mut p = Problems::new();
        let provider_id = trimmed(detail.provider_id);
        let product_id = trimmed(detail.product_id);
        let reason = trimmed(detail.reason);
        p.check("provider_id", &provider_id, fields::PROVIDER_ID);
        p.check("product_id", &product_id, fields::PRODUCT_ID);
        p.check("reason", &reason, fields::WITHDRAWAL_REASON);
        let actor = detail.actor.unwrap_or_default();
        let actor_provider_id = actor.provider_id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let actor = Actor { id: trimmed(actor.id), role: trimmed(actor.role) };
        p.check("actor.id", &actor.id, fields::ACTOR_ID);
        p.check("actor.role", &actor.role, fields::ACTOR_ROLE);
        p.into_result(WithdrawalRequest { provider_id, product_id, actor, actor_provider_id, reason })
    }

    /// Only the provider's own users or the marketplace team may withdraw its products (the same
    /// rule as publishing).
    pub fn authorize(&self) -> Result<(), DomainError> {
        let publisher = PublishRequest {
            provider_id: self.provider_id.clone(),
            product_id: self.product_id.clone(),
            actor: self.actor.clone(),
            actor_provider_id: self.actor_provider_id.clone(),
            listing: None,
        };
        publisher.authorize().map_err(|_| {
            DomainError::Forbidden(format!(
                "actor {} (role {:?}, provider {:?}) may not withdraw products of provider {}",
                self.actor.id,
                self.actor.role,
                self.actor_provider_id.as_deref().unwrap_or("none"),
                self.provider_id
            ))
        })
    }
}

/// What a withdrawal does to the product.
#[derive(Debug, Clone, PartialEq)]
pub enum WithdrawalDecision {
    /// Write this product record.
    Write(Box<Product>),
    /// The product is withdrawn already (a repeat under a new event id): nothing to do.
    AlreadyWithdrawn { withdrawn_by: String },
    /// The product last applied a newer event: this older withdrawal changes nothing.
    Stale { applied_at: DateTime<Utc> },
}

/// Decides what a withdrawal does to the product: pure, unit-tested. A product that does not
/// exist or was never published is a permanent refusal.
pub fn decide_withdrawal(
    existing: Option<&Product>,
    request: &WithdrawalRequest,
    event: &PortalEvent,
) -> Result<WithdrawalDecision, DomainError> {
    let Some(existing) = existing else {
        return Err(DomainError::Conflict(format!(
            "product {} of provider {} does not exist: only a published product can be withdrawn",
            request.product_id, request.provider_id
        )));
    };
    if existing.updated_at > event.time {
        return Ok(WithdrawalDecision::Stale { applied_at: existing.updated_at });
    }
    match existing.status {
        ProductStatus::Withdrawn => Ok(WithdrawalDecision::AlreadyWithdrawn {
            withdrawn_by: existing
                .withdrawal
                .as_ref()
                .map_or_else(|| existing.last_event.clone(), |w| w.event_id.clone()),
        }),
        ProductStatus::Draft => Err(DomainError::Conflict(format!(
            "product {} of provider {} is not published (it is a draft that was never published): only a \
             published product can be withdrawn",
            request.product_id, request.provider_id
        ))),
        ProductStatus::Published => Ok(WithdrawalDecision::Write(Box::new(Product {
            status: ProductStatus::Withdrawn,
            withdrawal: Some(Withdrawal {
                event_id: event.id.clone(),
                at: event.time,
                by: request.actor.id.clone(),
                by_team: request.actor.is_marketplace_team(),
                reason: request.reason.clone(),
            }),
            updated_at: event.time,
            last_event: event.id.clone(),
            version: existing.version + 1,
            ..existing.clone()
        }))),
    }
}

/// Handles one `ProductWithdrawn` event.
pub async fn handle_withdrawal(event: &PortalEvent, services: &Services<'_>) -> Result<String, DomainError> {
    let request = WithdrawalRequest::from_event(event)?;
    request.authorize()?;
    let (provider, first_read) =
        services.store.get_provider_and_product(&request.provider_id, &request.product_id).await?;
    let provider = provider.ok_or_else(|| {
        DomainError::Conflict(format!(
            "provider {} does not exist, so it has no product {} to withdraw",
            request.provider_id, request.product_id
        ))
    })?;
    let change = |existing: Option<&Product>| {
        Ok(match decide_withdrawal(existing, &request, event)? {
            WithdrawalDecision::Write(next) => {
                let audit = AuditEntry::state_change(
                    &request.provider_id,
                    event,
                    "ProductWithdrawn",
                    &request.actor.id,
                    serde_json::json!({
                        "product_id": next.product_id, "status": next.status, "by_team": request.actor.is_marketplace_team(),
                        "reason": request.reason,
                    }),
                );
                ProductChange::Write(next, audit)
            }
            WithdrawalDecision::AlreadyWithdrawn { withdrawn_by } => {
                tracing::info!(event_id = %event.id, %withdrawn_by, "product already withdrawn: nothing written or sent");
                ProductChange::Unchanged(format!("unchanged: already withdrawn by event {withdrawn_by}"))
            }
            WithdrawalDecision::Stale { applied_at } => {
                tracing::info!(event_id = %event.id, %applied_at, "older withdrawal ignored: a newer event was applied");
                ProductChange::Unchanged("unchanged".to_string())
            }
        })
    };
    let emails = |product: &Product| withdrawal_emails(&provider, product, services.config);
    let product = match apply_product_change(
        services,
        event,
        &provider,
        &request.product_id,
        first_read,
        &request.actor.id,
        change,
        emails,
    )
    .await?
    {
        Ok(product) => product,
        Err(unchanged) => return Ok(format!("product {} {unchanged}", request.product_id)),
    };
    Ok(format!("product {} withdrawn", product.product_id))
}
