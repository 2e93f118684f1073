//! A provider's contact or Marketplace Representative changes (`ProviderContactChanged`): people
//! leave companies, and the marketplace team reassigns representatives.
//!
//! - **Who**: the provider's own users (role `provider`, same `provider_id`) may change the
//!   contact; only the marketplace team may change the representative (a team member).
//! - **What**: the new contact (name and email, validated like sign-up) and/or the new
//!   representative; every problem is named at once and nothing changes.
//! - **Effect**: one conditional write of the provider record (its `version`) with its audit
//!   entry and the intents of the emails. Every later email, report and statement goes to the
//!   record's contact, so to the new one. An address SES reported undeliverable that is now the
//!   contact again is cleared: the change is how the team fixes it.
//! - **Emails** (one each, exactly once through the outbox): when the contact's address changes,
//!   the old contact is told who replaced them (name only: the new address is not disclosed to a
//!   former contact) and the new contact is welcomed as the contact; when only the name or the
//!   representative changes, the contact is told.
//! - **Order**: changes apply in the order the portal made them (event `time`): an older change
//!   arriving later changes nothing. A change to what the record already holds changes nothing
//!   and sends nothing. An offboarded provider cannot be changed.

use serde::Deserialize;

use crate::event::{Actor, PortalEvent};
use crate::fields;
use crate::outbox::{kinds, send_once};
use crate::ports::{AuditEntry, Precondition, Services};
use crate::race::{retry_lost_races, Attempt};
use crate::signup::{ActorDetail, RepresentativeDetail};
use marketplace_core::email::{compose, Email, Message};
use marketplace_core::provider::{ContactChange, Provider, Representative};
use marketplace_core::validate::{trimmed, Problems};
use marketplace_core::{DomainError, PortalConfig};

pub const DETAIL_TYPE: &str = "ProviderContactChanged";
/// Outbox kinds of the emails a change causes.
pub const OLD_CONTACT_EMAIL: &str = "contact-replaced";
pub const NEW_CONTACT_EMAIL: &str = "contact-welcome";
pub const CONTACT_UPDATED_EMAIL: &str = "contact-updated";

#[derive(Debug, Default, Deserialize)]
struct ContactDetail {
    provider_id: Option<String>,
    contact_name: Option<String>,
    contact_email: Option<String>,
    representative: Option<RepresentativeDetail>,
    actor: Option<ActorDetail>,
}

/// The new contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub email: String,
}

/// A validated contact change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactChangeRequest {
    pub provider_id: String,
    pub contact: Option<Contact>,
    pub representative: Option<Representative>,
    pub actor: Actor,
    pub actor_provider_id: Option<String>,
}

impl ContactChangeRequest {
    /// Parses and validates the event, reporting every problem at once.
    pub fn from_event(event: &PortalEvent) -> Result<Self, DomainError> {
        event.expect(&[DETAIL_TYPE])?;
        let detail: ContactDetail = event.detail()?;
        let mut p = Problems::new();
        let provider_id = trimmed(detail.provider_id);
        p.check("provider_id", &provider_id, fields::PROVIDER_ID);
        let contact = match (detail.contact_name, detail.contact_email) {
            (None, None) => None,
            (name, email) => {
                let contact = Contact { name: trimmed(name), email: trimmed(email) };
                p.check("contact_name", &contact.name, fields::CONTACT_NAME);
                p.check("contact_email", &contact.email, fields::EMAIL);
                Some(contact)
            }
        };
        let representative = detail.representative.map(|r| {
            let r = Representative { name: trimmed(r.name), email: trimmed(r.email) };
            p.check("representative.name", &r.name, fields::PERSON_NAME);
            p.check("representative.email", &r.email, fields::EMAIL);
            r
        });
        if contact.is_none() && representative.is_none() {
            p.push("the change names nothing to change: give contact_name and contact_email, or representative");
        }
        let actor = detail.actor.unwrap_or_default();
        let actor_provider_id = Some(trimmed(actor.provider_id)).filter(|s| !s.is_empty());
        let actor = Actor { id: trimmed(actor.id), role: trimmed(actor.role) };
        p.check("actor.id", &actor.id, fields::ACTOR_ID);
        p.check("actor.role", &actor.role, fields::ACTOR_ROLE);
        p.into_result(ContactChangeRequest { provider_id, contact, representative, actor, actor_provider_id })
    }

    /// The provider's own users may change its contact; only the team its representative.
    pub fn authorize(&self) -> Result<(), DomainError> {
        if self.actor.is_marketplace_team() {
            return Ok(());
        }
        let own_user =
            self.actor.role == Actor::PROVIDER && self.actor_provider_id.as_deref() == Some(self.provider_id.as_str());
        if !own_user {
            return Err(DomainError::Forbidden(format!(
                "actor {} (role {:?}, provider {:?}) may not change the contact of provider {}",
                self.actor.id,
                self.actor.role,
                self.actor_provider_id.as_deref().unwrap_or("none"),
                self.provider_id
            )));
        }
        if self.representative.is_some() {
            return Err(DomainError::Forbidden(format!(
                "only the marketplace team may change provider {}'s Marketplace Representative",
                self.provider_id
            )));
        }
        Ok(())
    }
}

/// What a contact change does to the provider record.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactDecision {
    /// Write this record; these emails go out.
    Write(Box<Provider>),
    /// This very event was applied before: only its emails may be missing.
    AlreadyApplied,
    /// The record already holds what the change asks for.
    Unchanged,
    /// A newer change was applied: this older one changes nothing.
    Stale,
}

/// Decides what `request` does to `provider`: pure, unit-tested.
pub fn decide(
    provider: &Provider,
    request: &ContactChangeRequest,
    event: &PortalEvent,
) -> Result<ContactDecision, DomainError> {
    if let Some(last) = &provider.contact_changed {
        if last.event_id == event.id {
            return Ok(ContactDecision::AlreadyApplied);
        }
        if last.at > event.time {
            return Ok(ContactDecision::Stale);
        }
    }
    if provider.is_offboarded() {
        return Err(DomainError::Conflict(format!(
            "provider {} has been offboarded; its contact can no longer be changed",
            provider.provider_id
        )));
    }
    let mut next = provider.clone();
    if let Some(contact) = &request.contact {
        next.contact_name = contact.name.clone();
        next.contact_email = contact.email.clone();
        // The address is the contact's again: whoever changed it vouches for it.
        next.undeliverable.retain(|u| !u.address.eq_ignore_ascii_case(&contact.email));
    }
    if let Some(representative) = &request.representative {
        next.representative = Some(representative.clone());
    }
    if next.contact_name == provider.contact_name
        && next.contact_email == provider.contact_email
        && next.representative == provider.representative
        && next.undeliverable == provider.undeliverable
    {
        return Ok(ContactDecision::Unchanged);
    }
    next.contact_changed = Some(ContactChange {
        event_id: event.id.clone(),
        at: event.time,
        by: request.actor.id.clone(),
        previous_contact_name: provider.contact_name.clone(),
        previous_contact_email: provider.contact_email.clone(),
        previous_representative: provider.representative.clone(),
    });
    next.version = provider.version + 1;
    Ok(ContactDecision::Write(Box::new(next)))
}

/// The emails a change from `before` to `after` causes, by outbox kind.
pub fn emails_for(before: &Provider, after: &Provider, config: &PortalConfig) -> Vec<(&'static str, Email)> {
    let company = &after.company_name;
    let representative = after.representative(config);
    if !before.contact_email.eq_ignore_ascii_case(&after.contact_email) {
        let replaced = Message::new(format!("Hello {},", before.contact_name))
            .paragraph(format!(
                "{} is now the contact for {company} in the Provider Portal, in your place. From now on the \
                 marketplace's emails, reports and statements for {company} go to them.",
                after.contact_name
            ))
            .paragraph(format!(
                "If you did not expect this change, tell your Marketplace Representative, {representative}, \
                 or the marketplace team at {}.",
                config.team_inbox
            ));
        let welcome = Message::new(format!("Hello {},", after.contact_name))
            .paragraph(format!(
                "You are now the contact for {company} in the Provider Portal (in place of {}). The marketplace's \
                 emails, reports and statements for {company} come to you from now on.",
                before.contact_name
            ))
            .paragraph(format!(
                "Log in to the Provider Portal with your cloud account's credentials (alias \"{}\").",
                after.account_alias
            ))
            .link("Provider Portal", config.portal_url.clone())
            .paragraph(format!("Your Marketplace Representative is {representative}: ask them about your listings, your MPA and your reports."));
        return vec![
            (
                OLD_CONTACT_EMAIL,
                compose(
                    config,
                    vec![before.contact_email.clone()],
                    &format!("You are no longer the contact for {company}"),
                    &replaced,
                ),
            ),
            (
                NEW_CONTACT_EMAIL,
                compose(
                    config,
                    vec![after.contact_email.clone()],
                    &format!("You are now the contact for {company}"),
                    &welcome,
                ),
            ),
        ];
    }
    let mut updated = Message::new(format!("Hello {},", after.contact_name))
        .paragraph(format!("The details of {company}'s contacts in the Provider Portal were changed."));
    if before.contact_name != after.contact_name {
        updated = updated.paragraph(format!("The contact's name is now {}.", after.contact_name));
    }
    if before.undeliverable(&after.contact_email).is_some() && after.undeliverable(&after.contact_email).is_none() {
        updated = updated.paragraph(format!(
            "The marketplace had stopped emailing {} because mail to it could not be delivered; it emails this address again from now on.",
            after.contact_email
        ));
    }
    if before.representative != after.representative {
        updated = updated.paragraph(format!(
            "Your Marketplace Representative is now {representative}: ask them about your listings, your MPA and your reports."
        ));
    }
    updated = updated.link("Provider Portal", config.portal_url.clone());
    vec![(
        CONTACT_UPDATED_EMAIL,
        compose(config, vec![after.contact_email.clone()], &format!("Contact details changed for {company}"), &updated),
    )]
}

/// Handles one `ProviderContactChanged` event.
pub async fn change_contact(event: &PortalEvent, services: &Services<'_>) -> Result<String, DomainError> {
    let request = ContactChangeRequest::from_event(event)?;
    request.authorize()?;
    let provider_id = &request.provider_id;
    let outcome = retry_lost_races("contact change", || async {
        let provider = services.store.get_provider(provider_id).await?.ok_or_else(|| {
            DomainError::NotFound(format!(
                "provider {provider_id} does not exist (no portal account has been created for it yet)"
            ))
        })?;
        match decide(&provider, &request, event)? {
            ContactDecision::Write(next) => {
                let emails = emails_for(&provider, &next, services.config);
                let audit = AuditEntry::state_change(
                    provider_id,
                    event,
                    DETAIL_TYPE,
                    &request.actor.id,
                    serde_json::json!({
                        "contact_changed": request.contact.is_some(),
                        "representative_changed": request.representative.is_some(),
                    }),
                );
                let write = services
                    .store
                    .put_provider(&next, Precondition::Version(provider.version), &audit, &kinds(&emails))
                    .await;
                Attempt::after(write, Some((emails, true, *next)))
            }
            ContactDecision::AlreadyApplied => Ok(Attempt::Done(Some((
                emails_for(&before_change(&provider), &provider, services.config),
                false,
                provider,
            )))),
            ContactDecision::Unchanged | ContactDecision::Stale => Ok(Attempt::Done(None)),
        }
    })
    .await?;
    let Some((emails, intents_recorded, record)) = outcome else {
        return Ok(format!("provider {provider_id} contact unchanged"));
    };
    // The record as changed: its undeliverable addresses decide what is suppressed.
    send_once(services, event, &record, &request.actor.id, emails, intents_recorded).await?;
    Ok(format!("provider {provider_id} contact changed"))
}

/// The record as it was before its latest contact change, for a redelivery of that change that
/// must still send its emails.
fn before_change(provider: &Provider) -> Provider {
    let mut before = provider.clone();
    if let Some(change) = &provider.contact_changed {
        before.contact_name = change.previous_contact_name.clone();
        before.contact_email = change.previous_contact_email.clone();
        before.representative = change.previous_representative.clone();
    }
    before
}

#[cfg(test)]
#[path = "contact_tests.rs"]
mod tests;
