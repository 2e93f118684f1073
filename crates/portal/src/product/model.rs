//! The product record and what it is made of: a listing, its price plans, the product's status and
//! the outcome of its latest publish request, and the bounds that keep a refused request within
//! one DynamoDB item.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use marketplace_core::billing::BillingModel;
use marketplace_core::money::Currency;

pub const DETAIL_TYPE: &str = "ProductPublishRequested";
/// A provider's user or the marketplace team takes a published product off the storefront.
pub const WITHDRAWN: &str = "ProductWithdrawn";

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductStatus {
    Draft,
    Published,
    /// Taken off the storefront by a `ProductWithdrawn`; its listing is kept, deployments already
    /// running keep being reported and billed, and a later `ProductPublishRequested` publishes it
    /// again.
    Withdrawn,
}

/// Who withdrew a product, when and why: kept on the product while it stays withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub event_id: String,
    pub at: DateTime<Utc>,
    /// The portal user id of who withdrew it.
    pub by: String,
    /// True when the marketplace team withdrew it, false when the provider's own user did.
    pub by_team: bool,
    pub reason: String,
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
    /// Why the latest request was refused (empty when it was not), at most [`MAX_REASONS`] of at
    /// most [`MAX_REASON_CHARS`] each:
    /// plain language for the provider, naming listing fields as the portal's form does.
    #[serde(default)]
    pub refusal_reasons: Vec<String>,
    /// The latest request was refused only because the provider's MPA is not approved: the
    /// listing itself was valid, so the provider has nothing to fix in it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused_for_mpa_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    /// The withdrawal in force (status `Withdrawn`, also through a refused request to publish it
    /// again); cleared when it is published again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<Withdrawal>,
    pub updated_at: DateTime<Utc>,
    pub last_event: String,
    pub last_outcome: PublishOutcome,
    pub version: u64,
}

/// The most a refused request's stored JSON text may take.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// The most characters of one stored refusal reason.
pub const MAX_REASON_CHARS: usize = 500;
/// The most refusal reasons stored (and emailed).
pub const MAX_REASONS: usize = 50;
