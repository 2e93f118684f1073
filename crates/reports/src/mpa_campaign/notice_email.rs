//! The campaign's emails: the provider's notice of a new MPA version ([`mpa_notice_email`]) and
//! the team summary's section of providers still pending on it ([`pending_section`]).

use chrono::{DateTime, Utc};

use super::{approved_version, PendingMpa};
use marketplace_core::agreement::MpaVersions;
use marketplace_core::email::{compose, Email, Message};
use marketplace_core::provider::Provider;
use marketplace_core::PortalConfig;

/// `2027-01-01 00:00 UTC`.
fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The notice asking `provider` to accept `versions`' latest version, as of `now` (whether it is
/// already in effect): what changed, what happens at the effective date, how to accept, whom to
/// ask.
pub fn mpa_notice_email(
    config: &PortalConfig,
    versions: &MpaVersions,
    provider: &Provider,
    now: DateTime<Utc>,
) -> Email {
    let latest = versions.latest();
    let (version, effective) = (&latest.version, when(latest.effective_at));
    let approved = approved_version(provider).unwrap_or("an earlier version");
    let in_effect = latest.effective_at <= now;
    let what_changed = format!(
        "The marketplace team has published version {version} of the Marketplace Provider Agreement (MPA). \
         {} is approved on version {approved}. Version {version} {} effect on {effective}.",
        provider.company_name,
        if in_effect { "took" } else { "takes" }
    );
    let what_happens = if in_effect {
        format!(
            "Your published products stay published. Since {effective}, publishing a new product or \
             listing is refused until version {version} is accepted by you and approved by the marketplace team."
        )
    } else {
        format!(
            "Until {effective} nothing changes for you. From {effective} your published products stay \
             published, but publishing a new product or listing needs version {version} accepted by you \
             and approved by the marketplace team."
        )
    };
    let message = Message::new(format!("Hello {},", provider.contact_name))
        .paragraph(what_changed)
        .paragraph(what_happens)
        .paragraph("To accept it:")
        .steps([
            format!("Read the Marketplace Provider Agreement, version {version} (link below)."),
            format!("Sign in to the Provider Portal and accept version {version} on the Agreement page."),
            "The marketplace team reviews your acceptance; we email you when it is approved.".to_owned(),
        ])
        .link(format!("The Marketplace Provider Agreement, version {version}"), latest.text_url.clone())
        .link("Provider Portal", config.portal_url.clone())
        .paragraph(format!(
            "Questions about the new version? Contact your Marketplace Representative: {}",
            provider.representative(config)
        ));
    let subject = if in_effect {
        format!("Action needed: accept MPA version {version} (in effect since {effective})")
    } else {
        format!("Action needed: accept MPA version {version} before {effective}")
    };
    compose(config, vec![provider.contact_email.clone()], &subject, &message)
}

/// Adds the providers still pending on the latest version to the team's summary: how many, the
/// first [`super::PENDING_LISTED`] by id (id, company, approved version, whether they accepted
/// the latest and wait for the team, whether the latest is in effect), and the count of the rest.
pub fn pending_section(message: Message, pending: &PendingMpa) -> Message {
    let (version, effective) = (&pending.version, when(pending.effective_at));
    let state = if pending.in_effect { "in effect since" } else { "takes effect on" };
    if pending.total == 0 {
        return message.paragraph(format!(
            "MPA version {version} ({state} {effective}): no provider is pending; every approved provider is approved on it."
        ));
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let rows = pending
        .listed
        .iter()
        .map(|p| {
            vec![
                p.provider_id.clone(),
                p.company_name.clone(),
                p.approved_version.clone(),
                if p.accepted_latest { "accepted, awaiting approval" } else { "not accepted" }.to_owned(),
                yes_no(pending.in_effect),
            ]
        })
        .collect();
    let mut message = message
        .paragraph(format!(
            "MPA version {version} ({state} {effective}): {} provider(s) are approved only on an older version \
             and not yet approved on it{}.",
            pending.total,
            if pending.in_effect { "; they cannot publish new products or listings until they are" } else { "" }
        ))
        .table(
            ["Provider", "Company", "Approved version", format!("Version {version}").as_str(), "In effect"]
                .map(String::from)
                .to_vec(),
            rows,
        );
    if pending.total > pending.listed.len() {
        message = message.paragraph(format!(
            "... and {} more (the first {} by provider id are listed).",
            pending.total - pending.listed.len(),
            pending.listed.len()
        ));
    }
    message
}
