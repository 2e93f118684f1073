//! The publishing rules: a listing's validation (every problem at once, in the provider's words),
//! the publish request and who may make it, the MPA the provider needs, the pure decision of what
//! a request does to the product, and the operation that applies it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::apply::{apply_product_change, ProductChange};
use super::emails::{emails_for, percent};
use super::model::{
    Listing, Plan, Product, ProductStatus, PublishOutcome, DETAIL_TYPE, MAX_REASONS, MAX_REASON_CHARS,
    MAX_REQUEST_BYTES,
};
use crate::event::{Actor, PortalEvent};
use crate::fields;
use crate::ports::{AuditEntry, Services};
use marketplace_core::agreement::MpaVersions;
use marketplace_core::billing::BillingModel;
use marketplace_core::money::{parse_decimal, Currency};
use marketplace_core::provider::{MpaStatus, Provider};
use marketplace_core::validate::{is_https_url, trimmed, Problems};
use marketplace_core::DomainError;

pub const MAX_PLANS: usize = 20;
pub const MAX_PRICE_DECIMALS: u32 = 6;

/// Validates a listing as received (any JSON), collecting every problem.
pub fn validate_listing(raw: Option<&serde_json::Value>) -> Result<Listing, Vec<String>> {
    let mut p = Problems::new();
    let Some(raw) = raw.filter(|v| v.is_object()) else {
        return Err(vec!["The listing is missing: the request carried no product details".into()]);
    };
    // Problems are worded for the provider, who reads them in the refusal email and the portal:
    // fields by their name in the portal's listing form, never by their JSON path.
    let text = |name: &str, label: &str, p: &mut Problems| -> String {
        match raw.get(name) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.trim().to_string(),
            Some(_) => {
                p.push(format!("{label} must be text"));
                String::new()
            }
        }
    };
    let name = text("name", "The product name", &mut p);
    let summary = text("summary", "The summary", &mut p);
    let description = text("description", "The description", &mut p);
    let category = text("category", "The category", &mut p);
    let support_email = text("support_email", "The support email address", &mut p);
    let support_url = text("support_url", "The support web page", &mut p);
    let blueprint_id = text("blueprint_id", "The blueprint ID", &mut p);
    p.check("The product name", &name, fields::LISTING_NAME);
    p.check("The summary", &summary, fields::LISTING_SUMMARY);
    p.check("The description", &description, fields::LISTING_DESCRIPTION);
    p.check("The category", &category, fields::LISTING_CATEGORY);
    if support_email.is_empty() {
        p.push("The support email address is required");
    } else {
        p.check("The support email address", &support_email, fields::EMAIL);
    }
    if !support_url.is_empty() && !is_https_url(&support_url) {
        p.push(format!("The support web page must be an address starting with https:// (got {support_url:?})"));
    }
    p.check("The blueprint ID", &blueprint_id, fields::BLUEPRINT_ID);
    let provider_share = decimal_field(raw.get("provider_share"));
    match provider_share {
        Some(share) if share > Decimal::ZERO && share <= Decimal::ONE => {}
        Some(share) => {
            p.push(format!("Your share of revenue must be more than 0% and at most 100% (got {})", percent(share)))
        }
        None => p.push("Your share of revenue is required, as a fraction between 0 and 1 (0.7 is 70%)"),
    }
    let mut pricing = Vec::new();
    match raw.get("pricing").and_then(|v| v.as_array()) {
        None => p.push("At least one price plan is required"),
        Some(plans) if plans.is_empty() => p.push("At least one price plan is required"),
        Some(plans) if plans.len() > MAX_PLANS => {
            p.push(format!("The listing has {} price plans; at most {MAX_PLANS} are allowed", plans.len()))
        }
        Some(plans) => {
            for (i, plan) in plans.iter().enumerate() {
                if let Some(plan) = validate_plan(i, plan, &mut p) {
                    if pricing
                        .iter()
                        .any(|q: &Plan| q.model == plan.model && q.unit == plan.unit && q.currency == plan.currency)
                    {
                        p.push(format!(
                            "Price plan {} repeats another plan ({}, per {}, in {})",
                            i + 1,
                            plan.model.in_words().to_lowercase(),
                            plan.unit,
                            plan.currency
                        ));
                    }
                    pricing.push(plan);
                }
            }
        }
    }
    if !p.is_empty() {
        return Err(p.into_vec());
    }
    Ok(Listing {
        name,
        summary,
        description,
        category,
        support_email,
        support_url: Some(support_url).filter(|u| !u.is_empty()),
        blueprint_id,
        provider_share: provider_share.unwrap_or_default(),
        pricing,
    })
}

/// A decimal given as a JSON string (preferred) or number.
fn decimal_field(value: Option<&serde_json::Value>) -> Option<Decimal> {
    match value? {
        serde_json::Value::String(s) => parse_decimal(s),
        serde_json::Value::Number(n) => parse_decimal(&n.to_string()),
        _ => None,
    }
}

fn validate_plan(i: usize, plan: &serde_json::Value, p: &mut Problems) -> Option<Plan> {
    let at = format!("Price plan {}", i + 1);
    let Some(obj) = plan.as_object() else {
        p.push(format!("{at} is not a plan: it needs a billing model, a unit, a price and a currency"));
        return None;
    };
    let text = |name: &str| obj.get(name).and_then(|v| v.as_str()).map(str::trim).unwrap_or_default().to_string();
    let before = p.len();
    let model_text = text("model");
    let model = BillingModel::parse(&model_text);
    if model.is_none() {
        p.push(format!("{at}: the billing model must be hourly, monthly, one-time or usage (got {model_text:?})"));
    }
    let unit = text("unit");
    p.check(&format!("{at}: the unit"), &unit, fields::PLAN_UNIT);
    let currency_text = text("currency");
    let currency = currency_text.parse::<Currency>().ok();
    if currency.is_none() {
        p.push(format!(
            "{at}: the currency must be a three-letter ISO 4217 code such as USD or EUR (got {currency_text:?})"
        ));
    }
    let unit_price = decimal_field(obj.get("unit_price"));
    match unit_price {
        None => p.push(format!("{at}: the price must be a number such as 0.125")),
        Some(price) if price < Decimal::ZERO => p.push(format!("{at}: the price must not be negative (got {price})")),
        Some(price) if price.normalize().scale() > MAX_PRICE_DECIMALS => p.push(format!(
            "{at}: the price has more than {MAX_PRICE_DECIMALS} digits after the decimal point (got {price})"
        )),
        Some(_) => {}
    }
    if p.len() != before {
        return None;
    }
    Some(Plan { model: model?, unit, unit_price: unit_price?, currency: currency? })
}

#[derive(Debug, Default, Deserialize)]
struct PublishDetail {
    provider_id: Option<String>,
    product_id: Option<String>,
    actor: Option<PublishActor>,
    listing: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct PublishActor {
    id: Option<String>,
    role: Option<String>,
    provider_id: Option<String>,
}

/// A publish request whose envelope (who, which product) is valid; the listing is judged later.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub provider_id: String,
    pub product_id: String,
    pub actor: Actor,
    /// For role `provider`: the provider the actor belongs to.
    pub actor_provider_id: Option<String>,
    /// The listing as received (any JSON), judged by [`validate_listing`].
    pub listing: Option<serde_json::Value>,
}

impl PublishRequest {
    pub fn from_event(event: &PortalEvent) -> Result<Self, DomainError> {
        event.expect(&[DETAIL_TYPE])?;
        let detail: PublishDetail = event.detail()?;
        let mut p = Problems::new();
        let provider_id = trimmed(detail.provider_id);
        let product_id = trimmed(detail.product_id);
        p.check("provider_id", &provider_id, fields::PROVIDER_ID);
        p.check("product_id", &product_id, fields::PRODUCT_ID);
        let actor = detail.actor.unwrap_or_default();
        let actor_provider_id = actor.provider_id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let actor = Actor { id: trimmed(actor.id), role: trimmed(actor.role) };
        p.check("actor.id", &actor.id, fields::ACTOR_ID);
        p.check("actor.role", &actor.role, fields::ACTOR_ROLE);
        p.into_result(PublishRequest { provider_id, product_id, actor, actor_provider_id, listing: detail.listing })
    }

    /// Only the provider's own users or the marketplace team may publish its products.
    pub fn authorize(&self) -> Result<(), DomainError> {
        let allowed = self.actor.is_marketplace_team()
            || (self.actor.role == Actor::PROVIDER
                && self.actor_provider_id.as_deref() == Some(self.provider_id.as_str()));
        if allowed {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "actor {} (role {:?}, provider {:?}) may not publish products of provider {}",
                self.actor.id,
                self.actor.role,
                self.actor_provider_id.as_deref().unwrap_or("none"),
                self.provider_id
            )))
        }
    }
}

/// Why a provider may not publish at `at`, or `None` when its MPA is approved on the version
/// required then or a newer one (`marketplace_core::agreement`).
pub fn mpa_refusal(provider: &Provider, versions: &MpaVersions, at: DateTime<Utc>) -> Option<String> {
    if provider.mpa_approved_for(versions, at) {
        return None;
    }
    let current = &versions.latest().version;
    let state = match &provider.mpa {
        None => "no MPA has been accepted yet".to_string(),
        Some(m) if !versions.satisfied_by(&m.version, at) => {
            format!("the approved or pending MPA is version {}", m.version)
        }
        Some(m) => match m.status {
            MpaStatus::Approved => return None,
            MpaStatus::PendingApproval => "it is accepted and waiting for the marketplace team's approval".into(),
            MpaStatus::Rejected => "its acceptance was rejected".into(),
        },
    };
    Some(format!(
        "The Marketplace Provider Agreement version {current} is not approved for {} yet ({state})",
        provider.company_name
    ))
}

/// `text` cut to at most `max` bytes on a character boundary, saying so when it was cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (cut: {} bytes in all)", &text[..end], text.len())
}

/// Refusal reasons bounded in length and number.
fn bounded_reasons(reasons: &[String]) -> Vec<String> {
    let mut out: Vec<String> = reasons.iter().take(MAX_REASONS).map(|r| cut(r, MAX_REASON_CHARS)).collect();
    if reasons.len() > MAX_REASONS {
        out.push(format!("… and {} more problems", reasons.len() - MAX_REASONS));
    }
    out
}

/// What a publish request does to the product.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Write this product record.
    Write(Box<Product>),
    /// The same listing is already published: nothing to do.
    Unchanged,
    /// The same request was refused last, for the same reasons (a portal retry under a new event
    /// id): the record, the audit trail and the provider's inbox already say it all.
    AlreadyRefused { refused_by: String },
    /// The product last applied a newer request: this older one changes nothing.
    Stale { applied_at: DateTime<Utc> },
}

/// Decides what a publish request does to the product: pure, unit-tested.
pub fn decide(
    existing: Option<&Product>,
    request: &PublishRequest,
    reasons: &[String],
    listing: Option<&Listing>,
    event: &PortalEvent,
) -> Decision {
    if let Some(existing) = existing.filter(|p| p.updated_at > event.time) {
        return Decision::Stale { applied_at: existing.updated_at };
    }
    let version = existing.map_or(1, |p| p.version + 1);
    let base = Product {
        provider_id: request.provider_id.clone(),
        product_id: request.product_id.clone(),
        status: ProductStatus::Draft,
        listing: existing.and_then(|p| p.listing.clone()),
        requested_listing: None,
        requested_name: None,
        refusal_reasons: Vec::new(),
        refused_for_mpa_only: false,
        published_at: existing.and_then(|p| p.published_at),
        // Publishing again ends a withdrawal; a refused request keeps it (below).
        withdrawal: None,
        updated_at: event.time,
        last_event: event.id.clone(),
        last_outcome: PublishOutcome::Refused,
        version,
    };
    match (listing, reasons.is_empty()) {
        (Some(listing), true) => {
            let was_published = existing.is_some_and(|p| p.status == ProductStatus::Published);
            if was_published && existing.and_then(|p| p.listing.as_ref()) == Some(listing) {
                return Decision::Unchanged;
            }
            Decision::Write(Box::new(Product {
                status: ProductStatus::Published,
                listing: Some(listing.clone()),
                published_at: base.published_at.or(Some(event.time)),
                last_outcome: if was_published { PublishOutcome::Updated } else { PublishOutcome::Published },
                ..base
            }))
        }
        _ => {
            let refused = Product {
                // A refused request changes no status: a draft stays a draft, a published listing
                // stays live, a withdrawn product stays withdrawn.
                status: existing.map_or(ProductStatus::Draft, |p| p.status),
                withdrawal: existing.and_then(|p| p.withdrawal.clone()),
                requested_listing: request.listing.as_ref().map(|l| cut(&l.to_string(), MAX_REQUEST_BYTES)),
                requested_name: request
                    .listing
                    .as_ref()
                    .and_then(|l| l.get("name"))
                    .and_then(|n| n.as_str())
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| n.chars().take(100).collect()),
                refusal_reasons: bounded_reasons(reasons),
                // A valid listing refused all the same: the MPA was the only reason.
                refused_for_mpa_only: listing.is_some(),
                ..base
            };
            match existing.filter(|p| same_refusal(p, &refused)) {
                Some(existing) => Decision::AlreadyRefused { refused_by: existing.last_event.clone() },
                None => Decision::Write(Box::new(refused)),
            }
        }
    }
}

/// The product last refused what `refused` would record again: the same request (as stored) for
/// the same reasons, the status unchanged. A changed request, or one whose reasons changed since
/// (the MPA approved, a new MPA version), is not the same refusal.
fn same_refusal(existing: &Product, refused: &Product) -> bool {
    existing.last_outcome == PublishOutcome::Refused
        && existing.status == refused.status
        && existing.requested_listing == refused.requested_listing
        && existing.refusal_reasons == refused.refusal_reasons
        && existing.refused_for_mpa_only == refused.refused_for_mpa_only
}

/// Handles one `ProductPublishRequested` event.
pub async fn handle_publish_request(event: &PortalEvent, services: &Services<'_>) -> Result<String, DomainError> {
    let request = PublishRequest::from_event(event)?;
    // One read: the provider, the product and the MPA's versions.
    let (provider, first_read, stored_versions) =
        services.store.get_provider_product_and_mpa_versions(&request.provider_id, &request.product_id).await?;
    let provider = provider.ok_or_else(|| {
        DomainError::NotFound(format!(
            "provider {} does not exist (no portal account has been created for it yet)",
            request.provider_id
        ))
    })?;
    request.authorize()?;
    if provider.is_offboarded() {
        return Err(DomainError::Conflict(format!(
            "provider {} has been offboarded: it can no longer publish products",
            request.provider_id
        )));
    }
    let versions = MpaVersions::or_config(stored_versions, services.config);
    // The emails name and link the latest version, the one to accept.
    let config = versions.applied_to(services.config);
    let services = &Services { config: &config, ..*services };
    let mut reasons: Vec<String> = mpa_refusal(&provider, &versions, event.time).into_iter().collect();
    let listing = match validate_listing(request.listing.as_ref()) {
        Ok(listing) => Some(listing),
        Err(problems) => {
            reasons.extend(problems);
            None
        }
    };
    let change = |existing: Option<&Product>| {
        Ok(match decide(existing, &request, &reasons, listing.as_ref(), event) {
            Decision::Write(next) => {
                let audit = AuditEntry::state_change(
                    &request.provider_id,
                    event,
                    format!("Product{:?}", next.last_outcome),
                    &request.actor.id,
                    serde_json::json!({ "product_id": next.product_id, "status": next.status, "reasons": next.refusal_reasons }),
                );
                ProductChange::Write(next, audit)
            }
            Decision::Unchanged => ProductChange::Unchanged("unchanged".to_string()),
            Decision::AlreadyRefused { refused_by } => {
                tracing::info!(event_id = %event.id, %refused_by, "repeated publish request already refused: nothing written or sent");
                ProductChange::Unchanged(format!("unchanged: the same request was refused by event {refused_by}"))
            }
            Decision::Stale { applied_at } => {
                tracing::info!(event_id = %event.id, %applied_at, "older publish request ignored: a newer one was applied");
                ProductChange::Unchanged("unchanged".to_string())
            }
        })
    };
    let emails = |product: &Product| emails_for(&provider, product, services.config);
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
    Ok(format!("product {} {:?}", product.product_id, product.last_outcome))
}
