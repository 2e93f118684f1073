//! The emails an MPA event causes: the receipt and the team's review request on acceptance, the
//! decision afterwards.

use super::model::{Decision, MpaCommand};
use marketplace_core::email::{compose, Email, Message};
use marketplace_core::provider::{Person, Provider};
use marketplace_core::PortalConfig;

/// The emails one MPA event causes, by ledger kind.
///
/// The receipt and the decision go to the provider's contact and to the user who accepted (their
/// address is stored with the acceptance, [`MpaRecord::accepted_by`](marketplace_core::provider::MpaRecord::accepted_by)) as one email with both in
/// `To:` (one address when they are the same person): one outbox intent covers both, so each
/// address gets it exactly once, at no extra round trip.
pub fn emails_for(provider: &Provider, command: &MpaCommand, config: &PortalConfig) -> Vec<(&'static str, Email)> {
    let acceptor = match command {
        MpaCommand::Accept { by, .. } => Some(by),
        MpaCommand::Decide { .. } => provider.mpa.as_ref().map(|m| &m.accepted_by),
    };
    let (provider_to, greeting) = recipients(provider, acceptor);
    let agreement = |version: &str| format!("The Marketplace Provider Agreement, version {version}");
    match command {
        MpaCommand::Accept { version, by, at, .. } => {
            let receipt = Message::new(greeting)
                .paragraph(format!(
                    "{} accepted version {version} of the Marketplace Provider Agreement for {} on {}.",
                    by.name,
                    provider.company_name,
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ))
                .paragraph("The marketplace team will review the acceptance. We will email you when it is approved; until then no product can be published.")
                .link(agreement(version), config.mpa_url.clone())
                .link("Provider Portal", config.portal_url.clone());
            let review = Message::new("Hello marketplace team,")
                .paragraph(format!(
                    "{} ({}) accepted the Marketplace Provider Agreement and is waiting for your review.",
                    provider.company_name, provider.provider_id
                ))
                .table(
                    vec!["Provider".into(), "MPA version".into(), "Accepted by".into(), "Accepted at".into()],
                    vec![vec![
                        provider.provider_id.clone(),
                        version.clone(),
                        format!("{} <{}>", by.name, by.email),
                        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    ]],
                )
                .paragraph("Approve or reject it in the Provider Portal.")
                .link(agreement(version), config.mpa_url.clone())
                .link("Provider Portal", config.portal_url.clone());
            vec![
                (
                    "mpa-receipt",
                    compose(
                        config,
                        provider_to,
                        &format!("MPA version {version} accepted: {}", provider.company_name),
                        &receipt,
                    ),
                ),
                (
                    "mpa-review-request",
                    compose(
                        config,
                        vec![config.team_inbox.clone()],
                        &format!(
                            "Review MPA acceptance: {} ({}), version {version}",
                            provider.company_name, provider.provider_id
                        ),
                        &review,
                    ),
                ),
            ]
        }
        MpaCommand::Decide { version, decision: Decision::Approve, .. } => {
            let message = Message::new(greeting)
                .paragraph(format!(
                    "The marketplace team approved {}'s acceptance of the Marketplace Provider Agreement, version {version}.",
                    provider.company_name
                ))
                .paragraph("You can now publish products in the Provider Portal.")
                .link(agreement(version), config.mpa_url.clone())
                .link("Provider Portal", config.portal_url.clone())
                .link("Getting-started guide", config.guide_url.clone());
            vec![(
                "mpa-approved",
                compose(
                    config,
                    provider_to,
                    &format!("MPA approved: {} can now publish products", provider.company_name),
                    &message,
                ),
            )]
        }
        MpaCommand::Decide { version, decision: Decision::Reject { reason }, .. } => {
            let message = Message::new(greeting)
                .paragraph(format!(
                    "The marketplace team did not approve {}'s acceptance of the Marketplace Provider Agreement, version {version}. The reason given:",
                    provider.company_name
                ))
                .quote(reason.clone())
                .paragraph(format!(
                    "Please address it and accept the agreement again in the Provider Portal; a new acceptance starts a new review. Questions? Contact {}.",
                    config.team_inbox
                ))
                .link(agreement(version), config.mpa_url.clone())
                .link("Provider Portal", config.portal_url.clone());
            vec![(
                "mpa-rejected",
                compose(config, provider_to, &format!("MPA not approved: {}", provider.company_name), &message),
            )]
        }
    }
}

/// The provider's contact and the accepting user (once, when they are the same address), and a
/// greeting naming both.
fn recipients(provider: &Provider, acceptor: Option<&Person>) -> (Vec<String>, String) {
    let mut to = vec![provider.contact_email.clone()];
    let mut greeting = format!("Hello {},", provider.contact_name);
    if let Some(by) = acceptor.filter(|by| !by.email.eq_ignore_ascii_case(&provider.contact_email)) {
        to.push(by.email.clone());
        if by.name != provider.contact_name {
            greeting = format!("Hello {} and {},", provider.contact_name, by.name);
        }
    }
    (to, greeting)
}
