//! Sign-up notification: a marketplace team member created a Provider Portal account for a
//! provider's cloud account alias (`ProviderAccountCreated`); record the provider and welcome them.

use serde::Deserialize;

use crate::email::{compose, Email, Message};
use crate::event::{Actor, PortalEvent};
use crate::ports::{AuditEntry, Precondition, Services, WriteError};
use crate::provider::{Provider, ProviderStatus};
use crate::validate::Problems;
use crate::{DomainError, PortalConfig};

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
    pub actor: Option<ActorDetail>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ActorDetail {
    pub id: Option<String>,
    pub role: Option<String>,
}

/// A validated sign-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProvider {
    pub provider_id: String,
    pub account_alias: String,
    pub company_name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub actor: Actor,
}

impl ProviderAccountCreated {
    pub fn validate(self) -> Result<NewProvider, DomainError> {
        let mut p = Problems::new();
        let field = |v: Option<String>| v.map(|s| s.trim().to_string()).unwrap_or_default();
        let provider_id = field(self.provider_id);
        let account_alias = field(self.account_alias);
        let company_name = field(self.company_name);
        let contact_name = field(self.contact_name);
        let contact_email = field(self.contact_email);
        p.identifier("provider_id", &provider_id, 64);
        p.line("account_alias", &account_alias, 63);
        p.line("company_name", &company_name, 200);
        p.line("contact_name", &contact_name, 200);
        p.email("contact_email", &contact_email);
        let actor = self.actor.unwrap_or_default();
        let actor = Actor { id: field(actor.id), role: field(actor.role) };
        p.line("actor.id", &actor.id, 128);
        if !actor.is_marketplace_team() {
            p.push(format!(
                "actor.role must be {:?} to create a portal account (got {:?})",
                Actor::MARKETPLACE_TEAM,
                actor.role
            ));
        }
        p.into_result(NewProvider { provider_id, account_alias, company_name, contact_name, contact_email, actor })
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
    };
    let audit = AuditEntry {
        provider_id: provider.provider_id.clone(),
        at: event.time,
        event_id: event.id.clone(),
        step: "0-state".into(),
        action: "PortalAccountCreated".into(),
        actor_id: signup.actor.id.clone(),
        details: serde_json::json!({ "account_alias": provider.account_alias, "company_name": provider.company_name }),
    };
    let outcome = match services.store.put_provider(&provider, Precondition::Absent, &audit).await {
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
    let email = welcome_email(services.config, &provider);
    services.send_once(event, &provider.provider_id, WELCOME_EMAIL, &email, &signup.actor.id).await?;
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
                "Accept the Marketplace Provider Agreement (MPA), version {}, in the portal. No product can be published until the marketplace team has approved your acceptance.",
                config.mpa_current_version
            ),
            format!("Read the getting-started guide: {}", config.guide_url),
            "Watch the training videos in the portal.".to_string(),
        ])
        .paragraph(format!(
            "Questions? Contact the marketplace team at {}.",
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
        PortalConfig {
            sender: "no-reply@marketplace.example.com".into(),
            reply_to: "support@marketplace.example.com".into(),
            team_inbox: "team@marketplace.example.com".into(),
            portal_url: "https://portal.marketplace.example.com".into(),
            guide_url: "https://docs.marketplace.example.com/getting-started".into(),
            mpa_current_version: "2026-01".into(),
        }
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
        let provider = Provider {
            provider_id: "acme".into(),
            account_alias: "acme-prod".into(),
            company_name: "Acme <Software>".into(),
            contact_name: "Jane".into(),
            contact_email: "jane@acme.example".into(),
            status: ProviderStatus::PortalAccountCreated,
            created_at: chrono::Utc::now(),
            created_by: "team-7".into(),
            created_by_event: "e1".into(),
            version: 1,
            mpa: None,
        };
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
        }
        assert!(email.html.contains("Acme &lt;Software&gt;"));
    }
}
