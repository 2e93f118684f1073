//! Providers: software vendors selling through the marketplace.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::PortalConfig;

/// Where a provider is in its life with the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderStatus {
    /// The marketplace team created the Provider Portal account; the provider was emailed.
    PortalAccountCreated,
    /// The marketplace team offboarded the provider (`ProviderOffboarded`): its products are
    /// withdrawn and it is sent no more email; see [`Provider::offboarding`].
    Offboarded,
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
    /// The provider's own Marketplace Representative, set at sign-up; records without one (and
    /// records written before there was one) have the team default ([`Provider::representative`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<Representative>,
    /// The latest contact change (`ProviderContactChanged`) applied, if any: later changes apply
    /// in the order the portal made them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_changed: Option<ContactChange>,
    /// Addresses of this provider that SES reported undeliverable (a permanent bounce or a
    /// complaint): no email goes to them until a contact change replaces them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undeliverable: Vec<Undeliverable>,
    /// Set when the provider was offboarded (status [`ProviderStatus::Offboarded`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offboarding: Option<Offboarding>,
}

/// The event that last changed a provider's contact or representative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactChange {
    pub event_id: String,
    /// The event's time: an older change arriving later is stale.
    pub at: DateTime<Utc>,
    pub by: String,
    /// What the change replaced, so that a redelivery can still tell the former contact.
    pub previous_contact_name: String,
    pub previous_contact_email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_representative: Option<Representative>,
}

/// Why SES will not deliver to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UndeliverableReason {
    /// A permanent (hard) bounce: the address does not exist or refuses mail for good.
    PermanentBounce,
    /// The recipient marked a message as spam.
    Complaint,
}

/// An address SES reported undeliverable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undeliverable {
    pub address: String,
    pub reason: UndeliverableReason,
    /// SES's classification (bounce sub-type, complaint feedback type), without addresses.
    pub detail: String,
    /// When SES reported it.
    pub at: DateTime<Utc>,
    /// SES's feedback id of the notification that reported it.
    pub feedback_id: String,
}

/// A provider's offboarding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offboarding {
    pub event_id: String,
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
    /// When its personal data is due to be erased (the retention rule).
    pub erase_after: DateTime<Utc>,
    /// When it was erased, once it has been.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<DateTime<Utc>>,
}

/// The marketplace team member a provider asks about its reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Representative {
    pub name: String,
    pub email: String,
}

impl std::fmt::Display for Representative {
    /// `NAME <ADDRESS>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
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
    /// The version approved before this acceptance, if any: it keeps the provider publishing
    /// until the new version takes effect, whatever is decided on this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub still_approved: Option<String>,
}

impl Provider {
    /// The provider's Marketplace Representative: its own, or the team default.
    pub fn representative<'a>(&'a self, config: &'a PortalConfig) -> &'a Representative {
        self.representative.as_ref().unwrap_or(&config.default_representative)
    }

    /// Why email to `address` must not be sent, if SES reported it undeliverable for this provider.
    pub fn undeliverable(&self, address: &str) -> Option<&Undeliverable> {
        self.undeliverable.iter().find(|u| u.address.eq_ignore_ascii_case(address))
    }

    /// True once the provider has been offboarded: it is sent no more email.
    pub fn is_offboarded(&self) -> bool {
        self.status == ProviderStatus::Offboarded
    }

    /// True when the provider may publish at `at`: its MPA is approved on the version required
    /// then or a newer one.
    pub fn mpa_approved_for(&self, versions: &crate::agreement::MpaVersions, at: DateTime<Utc>) -> bool {
        self.mpa.as_ref().is_some_and(|m| {
            (m.status == MpaStatus::Approved && versions.satisfied_by(&m.version, at))
                || m.still_approved.as_deref().is_some_and(|v| versions.satisfied_by(v, at))
        })
    }

    /// True when the provider's MPA is approved on exactly `current_version`.
    pub fn mpa_approved_on(&self, current_version: &str) -> bool {
        matches!(&self.mpa, Some(m) if m.status == MpaStatus::Approved && m.version == current_version)
    }
}

/// The closing line of a provider's report and statement emails, naming whom to ask:
/// "If you need help understanding your reports, contact your Marketplace Representative:
/// NAME <ADDRESS>". `provider` is the provider's record when the caller has it; without one (or
/// for a record without a representative) the line names the team default.
pub fn reports_help_line(provider: Option<&Provider>, config: &PortalConfig) -> String {
    let representative = provider.map_or(&config.default_representative, |p| p.representative(config));
    format!("If you need help understanding your reports, contact your Marketplace Representative: {representative}")
}

impl Provider {
    /// A freshly signed-up provider, for the unit tests of every crate that reads the record:
    /// `acme`, contact Jane, no MPA, the default representative.
    pub fn example() -> Provider {
        Provider {
            provider_id: "acme".into(),
            account_alias: "acme-prod".into(),
            company_name: "Acme".into(),
            contact_name: "Jane".into(),
            contact_email: "jane@acme.example".into(),
            status: ProviderStatus::PortalAccountCreated,
            created_at: Utc::now(),
            created_by: "team-1".into(),
            created_by_event: "e0".into(),
            version: 1,
            mpa: None,
            representative: None,
            contact_changed: None,
            undeliverable: Vec::new(),
            offboarding: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(representative: Option<Representative>) -> Provider {
        Provider { representative, ..Provider::example() }
    }

    #[test]
    fn the_reports_help_line_names_the_providers_representative_or_the_default() {
        let config = PortalConfig::example();
        let own = Representative { name: "Ana Ortiz".into(), email: "ana@marketplace.example.com".into() };
        assert_eq!(
            reports_help_line(Some(&provider(Some(own))), &config),
            "If you need help understanding your reports, contact your Marketplace Representative: \
             Ana Ortiz <ana@marketplace.example.com>"
        );
        let default = "If you need help understanding your reports, contact your Marketplace Representative: \
                       Marketplace Provider Desk <providers@marketplace.example.com>";
        assert_eq!(reports_help_line(Some(&provider(None)), &config), default);
        assert_eq!(reports_help_line(None, &config), default);
    }

    #[test]
    fn a_record_written_before_representatives_existed_reads_with_the_default() {
        let mut old = serde_json::to_value(provider(None)).unwrap();
        assert!(old.get("representative").is_none(), "absent, not null, when there is none");
        old.as_object_mut().unwrap().remove("representative");
        let read: Provider = serde_json::from_value(old).unwrap();
        assert_eq!(read.representative(&PortalConfig::example()).name, "Marketplace Provider Desk");
    }
}
