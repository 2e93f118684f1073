//! Sign-up notification: a marketplace team member created a Provider Portal account for a
//! provider's cloud account alias (`ProviderAccountCreated`); record the provider and welcome them.

use serde::Deserialize;

use crate::event::{Actor, PortalEvent};
use crate::fields;
use crate::outbox::send_once;
use crate::ports::{AuditEntry, Precondition, Services, WriteError};
use marketplace_core::email::{compose, Email, Message};
use marketplace_core::provider::{Provider, ProviderStatus, Representative};
use marketplace_core::validate::{trimmed, Problems};
use marketplace_core::{DomainError, PortalConfig};

pub const DETAIL_TYPE: &str = "ProviderAccountCreated";
pub const WELCOME_EMAIL: &str = "welcome";

/// The event's `detail` as received: every field optional so that *all* missing ones are reported.
#[derive(Debug, Default, Deserialize)]
pub struct ProviderAccountCreated {
    pub provider_id: Option<String>,
    pub account_alias: Option<String>,
    pub company_name: Option<String>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    /// Optional: the provider's own Marketplace Representative (otherwise the team default).
    pub representative: Option<RepresentativeDetail>,
    pub actor: Option<ActorDetail>,
}

/// A Marketplace Representative as received.
#[derive(Debug, Default, Deserialize)]
pub struct RepresentativeDetail {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Who sent a portal command, as received.
#[derive(Debug, Default, Deserialize)]
pub struct ActorDetail {
    pub id: Option<String>,
    pub role: Option<String>,
    /// For role `provider`: the provider the user belongs to.
    pub provider_id: Option<String>,
}

/// A validated sign-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProvider {
    pub provider_id: String,
    pub account_alias: String,
    pub company_name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub representative: Option<Representative>,
    pub actor: Actor,
}

impl ProviderAccountCreated {
    pub fn validate(self) -> Result<NewProvider, DomainError> {
        let mut p = Problems::new();
        let provider_id = trimmed(self.provider_id);
        let account_alias = trimmed(self.account_alias);
        let company_name = trimmed(self.company_name);
        let contact_name = trimmed(self.contact_name);
        let contact_email = trimmed(self.contact_email);
        p.check("provider_id", &provider_id, fields::PROVIDER_ID);
        p.check("account_alias", &account_alias, fields::ACCOUNT_ALIAS);
        p.check("company_name", &company_name, fields::COMPANY_NAME);
        p.check("contact_name", &contact_name, fields::CONTACT_NAME);
        p.check("contact_email", &contact_email, fields::EMAIL);
        let representative = self.representative.map(|r| {
            let r = Representative { name: trimmed(r.name), email: trimmed(r.email) };
            p.check("representative.name", &r.name, fields::PERSON_NAME);
            p.check("representative.email", &r.email, fields::EMAIL);
            r
        });
        let actor = self.actor.unwrap_or_default();
        let actor = Actor { id: trimmed(actor.id), role: trimmed(actor.role) };
        p.check("actor.id", &actor.id, fields::ACTOR_ID);
        if !actor.is_marketplace_team() {
            p.push(format!(
                "actor.role must be {:?} to create a portal account (got {:?})",
                Actor::MARKETPLACE_TEAM,
                actor.role
            ));
        }
        p.into_result(NewProvider {
            provider_id,
            account_alias,
            company_name,
            contact_name,
            contact_email,
            representative,
            actor,
        })
    }
}

/// What happened to a sign-up event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupOutcome {
    /// The provider was recorded and welcomed.
    Created,
    /// The provider had been recorded by this same event before (a retry after a crash); only
    /// what was missing (the email) was done.
    Resumed,
}

/// Handles one `ProviderAccountCreated` event.
pub async fn notify_signup(event: &PortalEvent, services: &Services<'_>) -> Result<SignupOutcome, DomainError> {
    event.expect(&[DETAIL_TYPE])?;
    let signup = event.detail::<ProviderAccountCreated>()?.validate()?;
    let provider = Provider {
        provider_id: signup.provider_id.clone(),
        account_alias: signup.account_alias.clone(),
        company_name: signup.company_name.clone(),
        contact_name: signup.contact_name.clone(),
        contact_email: signup.contact_email.clone(),
        status: ProviderStatus::PortalAccountCreated,
        created_at: event.time,
        created_by: signup.actor.id.clone(),
        created_by_event: event.id.clone(),
        version: 1,
        mpa: None,
        representative: signup.representative.clone(),
        contact_changed: None,
        undeliverable: Vec::new(),
        offboarding: None,
    };
    let audit = AuditEntry::state_change(
        &provider.provider_id,
        event,
        "PortalAccountCreated",
        &signup.actor.id,
        serde_json::json!({ "account_alias": provider.account_alias, "company_name": provider.company_name }),
    );
    // The welcome email names and links the MPA version to accept: the latest published one.
    let config = services.store.mpa_versions(services.config).await?.applied_to(services.config);
    let email = welcome_email(&config, &provider);
    let outcome = match services.store.put_provider(&provider, Precondition::Absent, &audit, &[WELCOME_EMAIL]).await {
        Ok(()) => SignupOutcome::Created,
        Err(WriteError::Other(e)) => return Err(e),
        Err(WriteError::PreconditionFailed) => {
            let existing = services.store.get_provider(&provider.provider_id).await?;
            match existing {
                Some(existing) if existing.created_by_event == event.id => SignupOutcome::Resumed,
                Some(existing) => {
                    return Err(DomainError::Conflict(format!(
                    "provider {} already has a portal account (created by event {} at {}); event {} was not applied",
                    existing.provider_id, existing.created_by_event, existing.created_at, event.id
                )))
                }
                None => return Err(DomainError::infra("put_provider", "condition failed but no provider found")),
            }
        }
    };
    let intents_recorded = outcome == SignupOutcome::Created;
    send_once(services, event, &provider, &signup.actor.id, vec![(WELCOME_EMAIL, email)], intents_recorded).await?;
    Ok(outcome)
}

/// The welcome email a provider receives when its portal account is created.
pub fn welcome_email(config: &PortalConfig, provider: &Provider) -> Email {
    let message = Message::new(format!("Hello {},", provider.contact_name))
        .paragraph(format!(
            "The marketplace team has created a Provider Portal account for {} (cloud account alias \"{}\").",
            provider.company_name, provider.account_alias
        ))
        .paragraph(format!(
            "Log in to the Provider Portal with the same credentials you use for your cloud account \"{}\": \
             there is no separate password to set up.",
            provider.account_alias
        ))
        .link("Provider Portal", config.portal_url.clone())
        .paragraph("Your next steps:")
        .steps([
            format!(
                "Read and accept the Marketplace Provider Agreement (MPA), version {}, in the portal. No product can be published until the marketplace team has approved your acceptance.",
                config.mpa_current_version
            ),
            format!("Read the getting-started guide: {}", config.guide_url),
            "Watch the training videos in the portal.".to_string(),
        ])
        .link(format!("The Marketplace Provider Agreement, version {}", config.mpa_current_version), config.mpa_url.clone())
        .paragraph(format!(
            "Your Marketplace Representative is {}: ask them about your listings, your MPA and your reports. \
             Other questions: the marketplace team at {}.",
            provider.representative(config),
            config.team_inbox
        ));
    compose(
        config,
        vec![provider.contact_email.clone()],
        &format!("Welcome to the Marketplace Provider Portal, {}", provider.company_name),
        &message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(json: serde_json::Value) -> ProviderAccountCreated {
        serde_json::from_value(json).unwrap()
    }

    fn config() -> PortalConfig {
        PortalConfig::example()
    }

    #[test]
    fn a_complete_signup_validates() {
        let ok = detail(serde_json::json!({
            "provider_id": "acme-software", "account_alias": "acme-prod", "company_name": "Acme Software",
            "contact_name": "Jane Doe", "contact_email": "jane@acme.example",
            "actor": {"id": "team-7", "role": "marketplace-team"}
        }))
        .validate()
        .unwrap();
        assert_eq!(ok.provider_id, "acme-software");
        assert_eq!(ok.actor.role, "marketplace-team");
    }

    #[test]
    fn every_missing_field_is_reported_at_once() {
        let err = detail(serde_json::json!({})).validate().unwrap_err().to_string();
        for field in [
            "provider_id",
            "account_alias is required",
            "company_name is required",
            "contact_name is required",
            "contact_email",
            "actor.id is required",
            "actor.role",
        ] {
            assert!(err.contains(field), "{field} missing from {err}");
        }
    }

    #[test]
    fn a_representative_is_optional_but_validated_when_given() {
        let base = serde_json::json!({
            "provider_id": "acme", "account_alias": "acme", "company_name": "Acme",
            "contact_name": "Jane", "contact_email": "jane@acme.example",
            "actor": {"id": "t1", "role": "marketplace-team"}
        });
        assert_eq!(detail(base.clone()).validate().unwrap().representative, None);
        let mut with = base.clone();
        with["representative"] = serde_json::json!({"name": " Ana Ortiz ", "email": "ana@marketplace.example.com"});
        assert_eq!(
            detail(with).validate().unwrap().representative,
            Some(Representative { name: "Ana Ortiz".into(), email: "ana@marketplace.example.com".into() })
        );
        let mut bad = base;
        bad["representative"] = serde_json::json!({"name": "Ana\r\nBcc: x", "email": "ana"});
        let err = detail(bad).validate().unwrap_err().to_string();
        assert!(err.contains("representative.name contains control characters"), "{err}");
        assert!(err.contains("representative.email is not a valid email address"), "{err}");
    }

    #[test]
    fn a_provider_cannot_create_its_own_account() {
        let err = detail(serde_json::json!({
            "provider_id": "acme", "account_alias": "acme", "company_name": "Acme",
            "contact_name": "Jane", "contact_email": "jane@acme.example",
            "actor": {"id": "u1", "role": "provider"}
        }))
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("actor.role must be \"marketplace-team\""), "{err}");
    }

    #[test]
    fn welcome_email_names_alias_portal_guide_mpa_and_contact() {
        let provider = Provider { company_name: "Acme <Software>".into(), ..Provider::example() };
        let email = welcome_email(&config(), &provider);
        assert_eq!(email.to, vec!["jane@acme.example"]);
        assert_eq!(email.subject, "Welcome to the Marketplace Provider Portal, Acme <Software>");
        for part in [&email.text, &email.html] {
            assert!(part.contains("acme-prod"));
            assert!(part.contains("https://portal.marketplace.example.com"));
            assert!(part.contains("https://docs.marketplace.example.com/getting-started"));
            assert!(part.contains("version 2026-01"));
            assert!(part.contains("team@marketplace.example.com"));
            assert!(part.contains("same credentials"));
            assert!(part.contains("training videos"));
            assert!(part.contains("https://marketplace.example.com/legal/mpa"), "links the agreement text");
        }
        assert!(email.html.contains("Acme &lt;Software&gt;"));
        assert!(email.html.contains("<a href=\"https://marketplace.example.com/legal/mpa\">"));
        assert!(email.text.contains("Marketplace Provider Desk <providers@marketplace.example.com>"), "the default");
        assert!(email.html.contains("Marketplace Provider Desk &lt;providers@marketplace.example.com&gt;"));

        let own = Provider {
            representative: Some(Representative { name: "Ana <A.> Ortiz".into(), email: "ana@m.example.com".into() }),
            ..provider
        };
        let email = welcome_email(&config(), &own);
        assert!(email.text.contains("Ana <A.> Ortiz <ana@m.example.com>"), "{}", email.text);
        assert!(email.html.contains("Ana &lt;A.&gt; Ortiz &lt;ana@m.example.com&gt;"));
        assert!(!email.text.contains("Marketplace Provider Desk"));
    }

    #[test]
    fn links_with_markup_characters_are_escaped_in_html() {
        let mut config = config();
        config.mpa_url = "https://m.example.com/mpa?v=1&lang=en".into();
        let email = welcome_email(&config, &own_provider());
        assert!(email.html.contains("href=\"https://m.example.com/mpa?v=1&amp;lang=en\""), "{}", email.html);
        assert!(email.text.contains("https://m.example.com/mpa?v=1&lang=en"));
    }

    fn own_provider() -> Provider {
        Provider::example()
    }
}
