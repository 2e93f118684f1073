//! Products and publishing: a provider asks to publish a product (`ProductPublishRequested`); the
//! product is published when the provider's MPA is approved on the current version and the listing
//! is complete and valid, otherwise it is refused with **every** reason at once.
//!
//! Authorisation is checked before anything else and refuses without writing or emailing: only the
//! provider's own users (role `provider`, matching `provider_id`) or the marketplace team may ask.
//! A refused new product is stored as `Draft` with its reasons; a refused *update* of a published
//! product leaves the published listing live and records the reasons. Publishing an unchanged
//! listing again is a no-op.
//!
//! Requests apply in the order the portal made them: a request older (by its event `time`) than
//! the one the product last applied is stale and changes nothing, so a redelivered or delayed old
//! request never overwrites a newer listing. Requests made within the same instant apply in
//! arrival order.
//!
//! Whatever a refused request holds fits one DynamoDB item: the raw request is kept as JSON text
//! cut to [`MAX_REQUEST_BYTES`], reasons are cut to [`MAX_REASON_CHARS`] each and
//! [`MAX_REASONS`] in all (numbers out of DynamoDB's range and deep nesting cannot occur in text).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::event::{Actor, PortalEvent};
use crate::outbox::{kinds, send_once};
use crate::ports::{AuditEntry, Precondition, Services};
use crate::race::{retry_lost_races, Attempt};
use marketplace_core::billing::BillingModel;
use marketplace_core::email::{compose, Email, Message};
use marketplace_core::money::{parse_decimal, Currency};
use marketplace_core::provider::{MpaStatus, Provider};
use marketplace_core::validate::{is_https_url, trimmed, Problems};
use marketplace_core::{DomainError, PortalConfig};

pub const DETAIL_TYPE: &str = "ProductPublishRequested";

/// One pricing plan of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub model: BillingModel,
    pub unit: String,
    /// Up to 6 decimal places: sub-cent hourly and usage rates are normal.
    pub unit_price: Decimal,
    /// ISO 4217.
    pub currency: Currency,
}

/// A valid product listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub name: String,
    pub summary: String,
    pub description: String,
    pub category: String,
    pub support_email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_url: Option<String>,
    /// What the marketplace deploys.
    pub blueprint_id: String,
    /// The provider's share of revenue, in (0, 1].
    pub provider_share: Decimal,
    pub pricing: Vec<Plan>,
}

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
    p.line("The product name", &name, 100);
    p.line("The summary", &summary, 300);
    p.paragraph("The description", &description, 10_000);
    p.line("The category", &category, 64);
    if support_email.is_empty() {
        p.push("The support email address is required");
    } else {
        p.email("The support email address", &support_email);
    }
    if !support_url.is_empty() && !is_https_url(&support_url) {
        p.push(format!("The support web page must be an address starting with https:// (got {support_url:?})"));
    }
    p.identifier("The blueprint ID", &blueprint_id, 128);
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
    p.line(&format!("{at}: the unit"), &unit, 32);
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductStatus {
    Draft,
    Published,
}

/// What the latest publish request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublishOutcome {
    Published,
    Updated,
    Refused,
}

/// The product record (`PROVIDER#<id>` / `PRODUCT#<product_id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub provider_id: String,
    pub product_id: String,
    pub status: ProductStatus,
    /// The live listing (for a published product) or the last valid one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<Listing>,
    /// The listing as last requested, when it was refused: its JSON text, cut to
    /// [`MAX_REQUEST_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_listing: Option<String>,
    /// The name the refused request gave the product, if any (cut to 100 characters): for emails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_name: Option<String>,
    /// Why the latest request was refused (empty when it was not), bounded as the module says:
    /// plain language for the provider, naming listing fields as the portal's form does.
    #[serde(default)]
    pub refusal_reasons: Vec<String>,
    /// The latest request was refused only because the provider's MPA is not approved: the
    /// listing itself was valid, so the provider has nothing to fix in it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused_for_mpa_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub last_event: String,
    pub last_outcome: PublishOutcome,
    pub version: u64,
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
        p.identifier("provider_id", &provider_id, 64);
        p.identifier("product_id", &product_id, 64);
        let actor = detail.actor.unwrap_or_default();
        let actor_provider_id = actor.provider_id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let actor = Actor { id: trimmed(actor.id), role: trimmed(actor.role) };
        p.line("actor.id", &actor.id, 128);
        p.line("actor.role", &actor.role, 64);
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

/// Why a provider may not publish, or `None` when its MPA is approved on the current version.
pub fn mpa_refusal(provider: &Provider, config: &PortalConfig) -> Option<String> {
    let current = &config.mpa_current_version;
    let state = match &provider.mpa {
        None => "no MPA has been accepted yet".to_string(),
        Some(m) if m.version != *current => format!("the approved or pending MPA is version {}", m.version),
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

/// The most a refused request's stored JSON text may take.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// The most characters of one stored refusal reason.
pub const MAX_REASON_CHARS: usize = 500;
/// The most refusal reasons stored (and emailed).
pub const MAX_REASONS: usize = 50;

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
        _ => Decision::Write(Box::new(Product {
            status: existing.map_or(ProductStatus::Draft, |p| p.status),
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
        })),
    }
}

/// Handles one `ProductPublishRequested` event.
pub async fn handle_publish_request(event: &PortalEvent, services: &Services<'_>) -> Result<String, DomainError> {
    let request = PublishRequest::from_event(event)?;
    let (provider, first_read) =
        services.store.get_provider_and_product(&request.provider_id, &request.product_id).await?;
    let provider = provider.ok_or_else(|| {
        DomainError::NotFound(format!(
            "provider {} does not exist (no portal account has been created for it yet)",
            request.provider_id
        ))
    })?;
    request.authorize()?;
    let mut reasons: Vec<String> = mpa_refusal(&provider, services.config).into_iter().collect();
    let listing = match validate_listing(request.listing.as_ref()) {
        Ok(listing) => Some(listing),
        Err(problems) => {
            reasons.extend(problems);
            None
        }
    };
    let first_read = std::sync::Mutex::new(Some(first_read));
    let outcome = retry_lost_races("publish", || async {
        // The first attempt uses the product read with the provider; a lost race reads it again.
        let taken = first_read.lock().ok().and_then(|mut first| first.take());
        let existing = match taken {
            Some(existing) => existing,
            None => services.store.get_product(&request.provider_id, &request.product_id).await?,
        };
        if let Some(existing) = existing.as_ref().filter(|p| p.last_event == event.id) {
            // Applied by an earlier delivery of this event: only its emails may be missing.
            return Ok(Attempt::Done(Some((existing.clone(), false))));
        }
        let next = match decide(existing.as_ref(), &request, &reasons, listing.as_ref(), event) {
            Decision::Write(next) => next,
            Decision::Unchanged => return Ok(Attempt::Done(None)),
            Decision::Stale { applied_at } => {
                tracing::info!(event_id = %event.id, %applied_at, "older publish request ignored: a newer one was applied");
                return Ok(Attempt::Done(None));
            }
        };
        let audit = AuditEntry::state_change(
            &request.provider_id,
            event,
            format!("Product{:?}", next.last_outcome),
            &request.actor.id,
            serde_json::json!({ "product_id": next.product_id, "status": next.status, "reasons": next.refusal_reasons }),
        );
        let precondition = existing.as_ref().map_or(Precondition::Absent, |p| Precondition::Version(p.version));
        let email_kinds = kinds(&emails_for(&provider, &next, services.config));
        let write = services.store.put_product(&next, precondition, &audit, &email_kinds).await;
        Attempt::after(write, Some((*next, true)))
    })
    .await?;
    let Some((product, intents_recorded)) = outcome else {
        return Ok(format!("product {} unchanged", request.product_id));
    };
    let emails = emails_for(&provider, &product, services.config);
    send_once(services, event, &provider.provider_id, &request.actor.id, emails, intents_recorded).await?;
    Ok(format!("product {} {:?}", product.product_id, product.last_outcome))
}

/// The emails a publish outcome causes, by ledger kind.
pub fn emails_for(provider: &Provider, product: &Product, config: &PortalConfig) -> Vec<(&'static str, Email)> {
    let greeting = format!("Hello {},", provider.contact_name);
    let to = vec![provider.contact_email.clone()];
    let published = match product.last_outcome {
        PublishOutcome::Published => Some(("published", "product-published")),
        PublishOutcome::Updated => Some(("updated", "product-updated")),
        PublishOutcome::Refused => None,
    };
    match (published, product.listing.as_ref()) {
        (Some((verb, kind)), Some(listing)) => {
            let plans = plan_rows(listing);
            let header = vec!["Billing".to_string(), "Price".into()];
            let page = config.storefront_page(&product.product_id);
            let share = format!(
                "{} of what customers pay (the marketplace keeps {})",
                percent(listing.provider_share),
                percent(Decimal::ONE - listing.provider_share)
            );
            let provider_message = Message::new(greeting)
                .paragraph(format!(
                    "Your product \"{}\" ({}) is {verb} on the marketplace.",
                    listing.name, product.product_id
                ))
                .link("Its page in the storefront", page.clone())
                .table(header.clone(), plans.clone())
                .paragraph(format!("Your share of revenue: {share}."))
                .link("Provider Portal", config.portal_url.clone());
            let team_message = Message::new("Hello marketplace team,")
                .paragraph(format!(
                    "{} ({}) {verb} the product \"{}\" ({}), blueprint {}.",
                    provider.company_name, provider.provider_id, listing.name, product.product_id, listing.blueprint_id
                ))
                .link("Storefront page", page)
                .table(header, plans)
                .paragraph(format!("Provider share: {share}."));
            vec![
                (kind, compose(config, to, &format!("Product {verb}: {}", listing.name), &provider_message)),
                (
                    "team-product-notice",
                    compose(
                        config,
                        vec![config.team_inbox.clone()],
                        &format!("Product {verb}: {} by {}", listing.name, provider.company_name),
                        &team_message,
                    ),
                ),
            ]
        }
        _ => {
            let name = product.requested_name.clone().unwrap_or_else(|| product.product_id.clone());
            let live = if product.status == ProductStatus::Published {
                "The listing that is already published stays live unchanged."
            } else {
                "The product stays a draft."
            };
            let (intro, next_step) = if product.refused_for_mpa_only {
                (
                    format!(
                        "Your request to publish \"{name}\" ({}) was refused, because of your Marketplace Provider Agreement:",
                        product.product_id
                    ),
                    format!(
                        "{live} Your listing itself is complete and needs no change: ask to publish again once the \
                         marketplace team has approved your acceptance of the agreement, version {}.",
                        config.mpa_current_version
                    ),
                )
            } else {
                (
                    format!(
                        "Your request to publish \"{name}\" ({}) was refused, for these reasons:",
                        product.product_id
                    ),
                    format!("{live} Fix the listing in the Provider Portal and ask to publish again."),
                )
            };
            let mut message = Message::new(greeting)
                .paragraph(intro)
                .steps(product.refusal_reasons.iter().cloned())
                .paragraph(next_step);
            if product.refused_for_mpa_only {
                message = message.link(
                    format!("The Marketplace Provider Agreement, version {}", config.mpa_current_version),
                    config.mpa_url.clone(),
                );
            }
            let message = message.link("Provider Portal", config.portal_url.clone());
            vec![("product-refused", compose(config, to, &format!("Product not published: {name}"), &message))]
        }
    }
}

/// A plan as a table row: the billing model in words, then the price per unit.
fn plan_rows(listing: &Listing) -> Vec<Vec<String>> {
    listing
        .pricing
        .iter()
        .map(|p| {
            let price = match p.model {
                BillingModel::OneTime => format!("{} {} per {}, once", p.unit_price, p.currency, p.unit),
                _ => format!("{} {} per {}", p.unit_price, p.currency, p.unit),
            };
            vec![p.model.in_words().to_string(), price]
        })
        .collect()
}

/// A share in (0, 1] as a percentage: `0.7` → `70%`, `0.875` → `87.5%`.
pub fn percent(share: Decimal) -> String {
    format!("{}%", (share * Decimal::ONE_HUNDRED).normalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listing() -> serde_json::Value {
        json!({
            "name": "Vault", "summary": "Secrets.", "description": "Stores secrets.", "category": "security",
            "support_email": "support@acme.example", "blueprint_id": "bp-1", "provider_share": "0.7",
            "pricing": [{"model": "usage", "unit": "GB", "unit_price": "0.000001", "currency": "JPY"}]
        })
    }

    #[test]
    fn a_complete_listing_is_valid_and_keeps_decimal_precision() {
        let l = validate_listing(Some(&listing())).unwrap();
        assert_eq!(l.pricing[0].unit_price.to_string(), "0.000001");
        assert_eq!(l.pricing[0].model, BillingModel::Usage);
        assert_eq!(l.support_url, None);
    }

    #[test]
    fn numbers_are_accepted_for_share_and_price() {
        let mut raw = listing();
        raw["provider_share"] = json!(1);
        raw["pricing"][0]["unit_price"] = json!(0.25);
        let l = validate_listing(Some(&raw)).unwrap();
        assert_eq!(l.provider_share, Decimal::ONE);
        assert_eq!(l.pricing[0].unit_price.to_string(), "0.25");
    }

    #[test]
    fn trailing_zeros_do_not_count_as_decimal_places() {
        let mut raw = listing();
        raw["pricing"][0]["unit_price"] = json!("1.5000000");
        assert!(validate_listing(Some(&raw)).is_ok());
    }

    #[test]
    fn every_problem_is_listed() {
        let problems = validate_listing(Some(&json!({"pricing": [{"model": "x"}, 3]}))).unwrap_err();
        for fragment in [
            "The product name is required",
            "The summary is required",
            "The description is required",
            "The category is required",
            "The support email address is required",
            "The blueprint ID must be",
            "Your share of revenue is required",
            "Price plan 1: the billing model must be hourly, monthly, one-time or usage",
            "Price plan 1: the unit is required",
            "Price plan 1: the currency must be",
            "Price plan 1: the price must be a number",
            "Price plan 2 is not a plan",
        ] {
            assert!(problems.iter().any(|p| p.contains(fragment)), "{fragment} missing from {problems:#?}");
        }
        assert_no_field_paths(&problems);
        assert!(validate_listing(None).unwrap_err()[0].starts_with("The listing is missing"));
    }

    /// No problem names a field by its JSON path (`listing.pricing[0].unit_price`).
    fn assert_no_field_paths(problems: &[String]) {
        for problem in problems {
            assert!(!problem.contains("listing."), "{problem}");
            assert!(!problem.contains('['), "{problem}");
            assert!(!problem.contains("_price") && !problem.contains("provider_share"), "{problem}");
        }
    }

    #[test]
    fn every_plan_problem_is_plain_language() {
        let mut raw = listing();
        raw["provider_share"] = json!("1.5");
        raw["support_url"] = json!("http://acme.example");
        raw["pricing"] = json!([
            {"model": "usage", "unit": "GB", "unit_price": "1", "currency": "JPY"},
            {"model": "hourly", "unit": "vm-hour", "unit_price": "0.0000001", "currency": "usd"},
            {"model": "monthly", "unit": "seat", "unit_price": "-1", "currency": "EUR"},
            {"model": "usage", "unit": "GB", "unit_price": "2", "currency": "JPY"}
        ]);
        let problems = validate_listing(Some(&raw)).unwrap_err();
        assert_eq!(
            problems,
            [
                "The support web page must be an address starting with https:// (got \"http://acme.example\")",
                "Your share of revenue must be more than 0% and at most 100% (got 150%)",
                "Price plan 2: the currency must be a three-letter ISO 4217 code such as USD or EUR (got \"usd\")",
                "Price plan 2: the price has more than 6 digits after the decimal point (got 0.0000001)",
                "Price plan 3: the price must not be negative (got -1)",
                "Price plan 4 repeats another plan (pay per use, per GB, in JPY)",
            ]
        );
        assert_no_field_paths(&problems);
    }

    fn provider() -> Provider {
        Provider {
            provider_id: "acme".into(),
            account_alias: "acme-prod".into(),
            company_name: "Acme".into(),
            contact_name: "Jane".into(),
            contact_email: "jane@acme.example".into(),
            status: marketplace_core::provider::ProviderStatus::PortalAccountCreated,
            created_at: Utc::now(),
            created_by: "team-1".into(),
            created_by_event: "e0".into(),
            version: 1,
            mpa: None,
            representative: None,
        }
    }

    fn published(raw: serde_json::Value) -> Product {
        let listing = validate_listing(Some(&raw)).unwrap();
        written(decide(None, &request(raw), &[], Some(&listing), &event_at("e1", "2026-11-25T10:00:00Z")))
    }

    #[test]
    fn the_published_email_links_the_storefront_page_with_shares_in_percent_and_models_in_words() {
        let mut raw = listing();
        raw["provider_share"] = json!("0.875");
        raw["pricing"] = json!([
            {"model": "hourly", "unit": "vm-hour", "unit_price": "0.000125", "currency": "USD"},
            {"model": "monthly", "unit": "seat", "unit_price": "49.99", "currency": "EUR"},
            {"model": "one_time", "unit": "licence", "unit_price": "500", "currency": "EUR"},
            {"model": "usage", "unit": "GB", "unit_price": "0.02", "currency": "USD"}
        ]);
        let mut config = PortalConfig::example();
        config.storefront_url = "https://shop.example.com/p".into();
        let emails = emails_for(&provider(), &published(raw), &config);
        assert_eq!(emails.len(), 2);
        for (kind, email) in &emails {
            for part in [&email.text, &email.html] {
                assert!(part.contains("https://shop.example.com/p/p"), "{kind}: storefront page of product `p`");
                assert!(part.contains("87.5% of what customers pay (the marketplace keeps 12.5%)"), "{kind}");
                for words in ["Charged by the hour", "Monthly subscription", "One-time purchase", "Pay per use"] {
                    assert!(part.contains(words), "{kind} lacks {words}");
                }
                assert!(part.contains("0.000125 USD per vm-hour"), "{kind}");
                assert!(part.contains("500 EUR per licence, once"), "{kind}");
                assert!(!part.contains("0.875") && !part.contains("one_time"), "{kind}: no raw share or model");
            }
            assert!(email.html.contains("<a href=\"https://shop.example.com/p/p\">"), "{kind}");
        }
    }

    #[test]
    fn a_storefront_link_is_escaped_in_html() {
        let mut config = PortalConfig::example();
        config.storefront_url = "https://shop.example.com/p&x\'".into();
        let emails = emails_for(&provider(), &published(listing()), &config);
        let html = &emails[0].1.html;
        assert!(html.contains("href=\"https://shop.example.com/p&amp;x&#39;/p\""), "{html}");
    }

    fn refused(reasons: &[String], raw: serde_json::Value) -> Product {
        let listing = validate_listing(Some(&raw)).ok();
        written(decide(None, &request(raw), reasons, listing.as_ref(), &event_at("e1", "2026-11-25T10:00:00Z")))
    }

    #[test]
    fn a_refusal_for_the_mpa_alone_does_not_ask_to_fix_the_listing() {
        let config = PortalConfig::example();
        let mpa = mpa_refusal(&provider(), &config).unwrap();
        let product = refused(std::slice::from_ref(&mpa), listing());
        assert!(product.refused_for_mpa_only);
        let emails = emails_for(&provider(), &product, &config);
        let email = &emails[0].1;
        assert!(!email.text.contains("Fix the listing"), "{}", email.text);
        assert!(email.text.contains("Your listing itself is complete and needs no change"), "{}", email.text);
        assert!(email.text.contains("Marketplace Provider Agreement version 2026-01 is not approved for Acme"));
        assert!(email.text.contains("https://marketplace.example.com/legal/mpa"), "links the agreement");

        // The MPA and the listing: the listing must be fixed too.
        let mut bad = listing();
        bad["pricing"][0]["unit_price"] = json!("cheap");
        let mut reasons = vec![mpa];
        reasons.extend(validate_listing(Some(&bad)).unwrap_err());
        let product = refused(&reasons, bad);
        assert!(!product.refused_for_mpa_only);
        let text = &emails_for(&provider(), &product, &config)[0].1.text;
        assert!(text.contains("Fix the listing in the Provider Portal"), "{text}");
        assert!(text.contains("Price plan 1: the price must be a number such as 0.125"), "{text}");
        assert!(!text.contains("pricing[0]") && !text.contains("unit_price"), "{text}");
    }

    #[test]
    fn a_product_stored_before_the_mpa_only_flag_reads_as_a_listing_refusal() {
        let mut stored = serde_json::to_value(refused(&["x".into()], json!({}))).unwrap();
        assert!(stored.get("refused_for_mpa_only").is_none(), "false is not stored");
        stored.as_object_mut().unwrap().remove("refused_for_mpa_only");
        let read: Product = serde_json::from_value(stored).unwrap();
        assert!(!read.refused_for_mpa_only);
    }

    #[test]
    fn shares_read_as_percentages() {
        assert_eq!(percent("0.7".parse().unwrap()), "70%");
        assert_eq!(percent("1".parse().unwrap()), "100%");
        assert_eq!(percent("0.8750".parse().unwrap()), "87.5%");
        assert_eq!(percent("0.00001".parse().unwrap()), "0.001%");
    }

    #[test]
    fn authorisation_needs_the_providers_own_user_or_the_team() {
        let request = |role: &str, of: Option<&str>| PublishRequest {
            provider_id: "acme".into(),
            product_id: "p".into(),
            actor: Actor { id: "u".into(), role: role.into() },
            actor_provider_id: of.map(str::to_string),
            listing: None,
        };
        assert!(request("provider", Some("acme")).authorize().is_ok());
        assert!(request("marketplace-team", None).authorize().is_ok());
        assert!(request("provider", Some("globex")).authorize().is_err());
        assert!(request("provider", None).authorize().is_err());
        assert!(request("customer", Some("acme")).authorize().is_err());
    }

    fn request(listing: serde_json::Value) -> PublishRequest {
        PublishRequest {
            provider_id: "acme".into(),
            product_id: "p".into(),
            actor: Actor { id: "u".into(), role: "provider".into() },
            actor_provider_id: Some("acme".into()),
            listing: Some(listing),
        }
    }

    fn event_at(id: &str, time: &str) -> PortalEvent {
        PortalEvent {
            id: id.into(),
            detail_type: DETAIL_TYPE.into(),
            source: "marketplace.portal".into(),
            time: time.parse().unwrap(),
            detail: json!({}),
        }
    }

    fn written(decision: Decision) -> Product {
        match decision {
            Decision::Write(p) => *p,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn an_older_request_never_overwrites_a_newer_listing() {
        let newer = validate_listing(Some(&listing())).unwrap();
        let req = request(listing());
        let product = written(decide(None, &req, &[], Some(&newer), &event_at("e2", "2026-11-25T10:00:05Z")));
        let mut old_raw = listing();
        old_raw["name"] = json!("Old name");
        let old = validate_listing(Some(&old_raw)).unwrap();
        let stale = decide(Some(&product), &request(old_raw), &[], Some(&old), &event_at("e1", "2026-11-25T10:00:01Z"));
        assert_eq!(stale, Decision::Stale { applied_at: product.updated_at });
        // The same instant applies in arrival order.
        let same = decide(Some(&product), &req, &["x".into()], None, &event_at("e3", "2026-11-25T10:00:05Z"));
        assert_eq!(written(same).last_outcome, PublishOutcome::Refused);
    }

    #[test]
    fn a_refused_request_is_stored_within_one_item() {
        let mut deep = json!("leaf");
        for _ in 0..100 {
            deep = json!({ "n": deep });
        }
        let huge = json!({
            "name": "x".repeat(10_000), "description": "y".repeat(300_000), "nested": deep, "big": 1e300
        });
        let reasons: Vec<String> = (0..500).map(|i| format!("reason {i}: {}", "z".repeat(5_000))).collect();
        let product = written(decide(None, &request(huge), &reasons, None, &event_at("e1", "2026-11-25T10:00:00Z")));
        let stored = product.requested_listing.as_deref().unwrap();
        assert!(stored.len() <= MAX_REQUEST_BYTES + 64, "{}", stored.len());
        assert!(stored.contains("(cut: "), "says it was cut");
        assert_eq!(product.requested_name.as_ref().unwrap().chars().count(), 100);
        assert_eq!(product.refusal_reasons.len(), MAX_REASONS + 1);
        assert!(product.refusal_reasons.iter().all(|r| r.len() <= MAX_REASON_CHARS + 64));
        assert_eq!(product.refusal_reasons[MAX_REASONS], "… and 450 more problems");
        let item_bytes = serde_json::to_string(&product).unwrap().len();
        assert!(item_bytes < 100 * 1024, "far below DynamoDB's 400 KB item limit: {item_bytes}");
    }
}
