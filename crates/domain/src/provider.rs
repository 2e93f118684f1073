//! Providers: software vendors selling through the marketplace.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a provider is in its life with the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderStatus {
    /// The marketplace team created the Provider Portal account; the provider was emailed.
    PortalAccountCreated,
}

/// The provider record (`PROVIDER#<id>` / `PROFILE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    pub provider_id: String,
    /// The provider's cloud account alias; they log in to the portal with its credentials.
    pub account_alias: String,
    pub company_name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub status: ProviderStatus,
    pub created_at: DateTime<Utc>,
    /// The marketplace team member who created the portal account.
    pub created_by: String,
    /// The event that created the record: a redelivery of it is recognised, any other is a conflict.
    pub created_by_event: String,
    /// Incremented by every change; conditional writes check it.
    pub version: u64,
}
