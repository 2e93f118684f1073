//! The marketplace team's email about a provider address SES reported undeliverable.

use marketplace_core::email::{compose, Email, Message};
use marketplace_core::provider::{Provider, Undeliverable, UndeliverableReason};
use marketplace_core::PortalConfig;

/// "Undeliverable contact address: COMPANY (ID)": which provider, which of its addresses (`role`)
/// failed and why, and what to fix.
pub fn undeliverable_email(
    config: &PortalConfig,
    provider: &Provider,
    role: &str,
    undeliverable: &Undeliverable,
) -> Email {
    let why = match undeliverable.reason {
        UndeliverableReason::PermanentBounce => {
            format!("SES reported a permanent bounce ({}): the address does not accept mail", undeliverable.detail)
        }
        UndeliverableReason::Complaint => {
            format!("the recipient marked one of our emails as spam (complaint: {})", undeliverable.detail)
        }
    };
    let message = Message::new("Hello marketplace team,")
        .paragraph(format!(
            "Email to the {role} address of {} ({}) can no longer be delivered: {why}.",
            provider.company_name, provider.provider_id
        ))
        .table(
            vec!["Provider".into(), "Address role".into(), "Address".into(), "Reported at".into(), "SES feedback id".into()],
            vec![vec![
                provider.provider_id.clone(),
                role.to_string(),
                undeliverable.address.clone(),
                undeliverable.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                undeliverable.feedback_id.clone(),
            ]],
        )
        .paragraph(
            "Until it is fixed, no email goes to this address: portal emails to it are recorded as suppressed, \
             and the provider's reports and statements are not emailed.",
        )
        .steps([
            "Reach the provider another way (its Marketplace Representative, the account's owner) and ask for a working contact address.".to_string(),
            "Change the provider's contact in the Provider Portal (ProviderContactChanged): the new address receives every later email, and the undeliverable one is cleared.".to_string(),
        ])
        .link("Provider Portal", config.portal_url.clone());
    compose(
        config,
        vec![config.team_inbox.clone()],
        &format!("Undeliverable {role} address: {} ({})", provider.company_name, provider.provider_id),
        &message,
    )
}
