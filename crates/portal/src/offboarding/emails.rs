//! The one email an offboarding causes: to the team (the provider is sent no further email).

use crate::product::Product;
use marketplace_core::email::{compose, Email, Message};
use marketplace_core::provider::Provider;
use marketplace_core::PortalConfig;

/// The emails an offboarding causes, by ledger kind: one to the team, naming the products it
/// withdrew, the reason and when the provider's personal data is erased. No names or addresses of
/// the provider's people.
pub fn offboarding_emails(
    provider: &Provider,
    withdrawn: &[Product],
    config: &PortalConfig,
) -> Vec<(&'static str, Email)> {
    let Some(offboarding) = provider.offboarding.as_ref() else {
        return Vec::new();
    };
    let mut message = Message::new("Hello marketplace team,")
        .paragraph(format!(
            "{} ({}) was offboarded on {} by portal user {}, for this reason:",
            provider.company_name,
            provider.provider_id,
            offboarding.at.format("%Y-%m-%d"),
            offboarding.by
        ))
        .quote(offboarding.reason.clone());
    message = if withdrawn.is_empty() {
        message.paragraph("It had no published product: nothing was withdrawn from the storefront.")
    } else {
        message
            .paragraph(match withdrawn.len() {
                1 => "Its published product was withdrawn from the storefront:".to_string(),
                n => format!("Its {n} published products were withdrawn from the storefront:"),
            })
            .steps(withdrawn.iter().map(|p| match p.listing.as_ref() {
                Some(listing) => format!("\"{}\" ({})", listing.name, p.product_id),
                None => p.product_id.clone(),
            }))
    };
    let message = message
        .paragraph(
            "The provider is sent no further email. Deployments already running keep being reported and billed, \
             and its reports and monthly statements are still made and stored.",
        )
        .paragraph(format!(
            "Its personal data (contact and MPA acceptor names and addresses, and the addresses in its email and \
             audit records) is erased after {} ({} days after the offboarding); its reports and statements, which \
             carry only its id and amounts, stay.",
            offboarding.erase_after.format("%Y-%m-%d"),
            super::ERASURE_RETENTION_DAYS
        ));
    vec![(
        "team-provider-offboarded",
        compose(
            config,
            vec![config.team_inbox.clone()],
            &format!("Provider offboarded: {} ({})", provider.company_name, provider.provider_id),
            &message,
        ),
    )]
}
