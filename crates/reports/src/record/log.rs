//! The typed deployment log: what a log that honours the contract is.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use marketplace_core::money::Currency;

/// How the deployment is billed: the listing's billing models. It does not change the arithmetic
/// (quantity × unit price), but it is part of the contract, so an unknown model is a reject.
pub use marketplace_core::billing::BillingModel;

/// Outcome of a finished deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DeploymentStatus {
    /// Deployed; billable.
    #[serde(rename = "SUCCEEDED")]
    Succeeded,
    /// Not deployed; never billed.
    #[serde(rename = "FAILED")]
    Failed,
}

impl DeploymentStatus {
    /// The wire spelling (`SUCCEEDED` / `FAILED`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Succeeded => "SUCCEEDED",
            DeploymentStatus::Failed => "FAILED",
        }
    }
}

impl fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One error entry recorded during a deployment (successful deployments may have some too).
/// `S` is the text: `String`, or `&str` borrowed from the input ([`ValidLog`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentErrorEntry<S = String> {
    /// Machine-readable code, e.g. `VM_TIMEOUT`.
    pub code: S,
    /// Human-readable message.
    pub message: S,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A deployment log that honours the contract. `S` is its text: `String` (the owned log), or
/// `&str` borrowed from the input ([`ValidLog`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentLog<S = String> {
    /// Deployment id.
    pub deployment_id: S,
    /// Provider owning the product.
    pub provider_id: S,
    /// Product deployed.
    pub product_id: S,
    /// Product display name at deployment time.
    pub product_name: S,
    /// Customer alias shown to the provider.
    pub customer_alias: S,
    /// Start (UTC).
    pub started_at: DateTime<Utc>,
    /// End (UTC); its UTC date is the report date the deployment belongs to.
    pub finished_at: DateTime<Utc>,
    /// Outcome.
    pub status: DeploymentStatus,
    /// Error entries in recorded order.
    pub errors: Vec<DeploymentErrorEntry<S>>,
    /// Billing model.
    pub billing_model: BillingModel,
    /// Billed quantity (≥ 0, may be fractional).
    pub quantity: Decimal,
    /// Price per unit (≥ 0, up to 6 decimal places).
    pub unit_price: Decimal,
    /// Billing currency.
    pub currency: Currency,
    /// The provider's share of revenue, in (0, 1].
    pub provider_share: Decimal,
}

/// A valid deployment log that borrows its text from its input (the attribute map, the export
/// line): what the rule core returns and the aggregator counts without copying.
pub type ValidLog<'a> = DeploymentLog<&'a str>;

impl<S: AsRef<str>> DeploymentLog<S> {
    /// The report date (UTC date of `finished_at`).
    pub fn report_date(&self) -> NaiveDate {
        self.finished_at.date_naive()
    }

    /// The log with its own text.
    pub fn to_owned_log(&self) -> DeploymentLog {
        let owned = |text: &S| text.as_ref().to_owned();
        DeploymentLog {
            deployment_id: owned(&self.deployment_id),
            provider_id: owned(&self.provider_id),
            product_id: owned(&self.product_id),
            product_name: owned(&self.product_name),
            customer_alias: owned(&self.customer_alias),
            started_at: self.started_at,
            finished_at: self.finished_at,
            status: self.status,
            errors: self
                .errors
                .iter()
                .map(|e| DeploymentErrorEntry { code: owned(&e.code), message: owned(&e.message), at: e.at })
                .collect(),
            billing_model: self.billing_model,
            quantity: self.quantity,
            unit_price: self.unit_price,
            currency: self.currency,
            provider_share: self.provider_share,
        }
    }
}
