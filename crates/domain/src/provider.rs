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
    /// The latest MPA acceptance, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpa: Option<MpaRecord>,
}

/// Where a provider's Marketplace Provider Agreement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MpaStatus {
    /// Accepted by the provider, waiting for the marketplace team.
    PendingApproval,
    Approved,
    Rejected,
}

/// A person acting for the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// The provider's latest MPA acceptance and the team's decision on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MpaRecord {
    pub version: String,
    pub status: MpaStatus,
    pub accepted_by: Person,
    pub accepted_at: DateTime<Utc>,
    /// The `MpaAccepted` event that recorded this acceptance.
    pub accepted_event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// The `MpaApproved` / `MpaRejected` event that decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
}

impl Provider {
    /// True when the provider may publish: its MPA is approved on the current version.
    pub fn mpa_approved_on(&self, current_version: &str) -> bool {
        matches!(&self.mpa, Some(m) if m.status == MpaStatus::Approved && m.version == current_version)
    }
}
