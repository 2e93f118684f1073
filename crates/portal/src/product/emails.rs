//! The emails a publish outcome causes: to the provider and the team when a product is published
//! or updated, to the provider alone (with every reason) when a request is refused.

use rust_decimal::Decimal;

use super::model::{Listing, Product, ProductStatus, PublishOutcome};
use marketplace_core::billing::BillingModel;
use marketplace_core::email::{compose, Email, Message};
use marketplace_core::provider::Provider;
use marketplace_core::PortalConfig;

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
            let live = match product.status {
                ProductStatus::Published => "The listing that is already published stays live unchanged.",
                ProductStatus::Withdrawn => "The product stays withdrawn from the storefront.",
                ProductStatus::Draft => "The product stays a draft.",
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

/// The emails a withdrawal causes, by ledger kind: one to the provider's contact, one to the
/// team. Both quote the reason and say that running deployments keep being reported and billed.
pub fn withdrawal_emails(provider: &Provider, product: &Product, config: &PortalConfig) -> Vec<(&'static str, Email)> {
    let Some(withdrawal) = product.withdrawal.as_ref() else {
        return Vec::new();
    };
    let name = product.listing.as_ref().map_or(product.product_id.as_str(), |l| l.name.as_str());
    let date = withdrawal.at.format("%Y-%m-%d");
    let by = if withdrawal.by_team { "the marketplace team" } else { "the provider's own user" };
    let running = "Deployments customers started before the withdrawal keep running and keep being reported \
                   and billed as before: they appear in the daily reports and the monthly statement.";
    let provider_message = Message::new(format!("Hello {},", provider.contact_name))
        .paragraph(format!(
            "Your product \"{name}\" ({}) was withdrawn from the marketplace on {date} by {}, for this reason:",
            product.product_id,
            if withdrawal.by_team { "the marketplace team" } else { "one of your users" }
        ))
        .quote(withdrawal.reason.clone())
        .paragraph("It no longer appears in the storefront, so customers cannot deploy it anew.")
        .paragraph(running)
        .paragraph(
            "Its listing is kept: to publish it again, ask to publish it in the Provider Portal (the listing \
             is checked again as for any publication).",
        )
        .link("Provider Portal", config.portal_url.clone());
    let team_message = Message::new("Hello marketplace team,")
        .paragraph(format!(
            "{} ({}): the product \"{name}\" ({}) was withdrawn from the storefront on {date} by {by} (portal user \
             {}), for this reason:",
            provider.company_name, provider.provider_id, product.product_id, withdrawal.by
        ))
        .quote(withdrawal.reason.clone())
        .paragraph(running);
    vec![
        (
            "product-withdrawn",
            compose(
                config,
                vec![provider.contact_email.clone()],
                &format!("Product withdrawn: {name}"),
                &provider_message,
            ),
        ),
        (
            "team-product-withdrawn",
            compose(
                config,
                vec![config.team_inbox.clone()],
                &format!("Product withdrawn: {name} by {}", provider.company_name),
                &team_message,
            ),
        ),
    ]
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
