//! SES's word on sent email: deliveries, bounces and complaints (the `email-feedback` function).
//!
//! SES publishes a notification per sent email and outcome (template.yaml: the configuration set's
//! event destination → SNS → `email-feedback`); the function reads it into a [`Feedback`]. What
//! changes state is a **permanent bounce** or a **complaint** of a provider's current address
//! (today: its contact email, role `contact`): the address is recorded undeliverable on the
//! provider record ([`Provider::undeliverable`]) by a conditional write with an
//! `AddressUndeliverable` audit entry and the intent of one email to the marketplace team, who
//! must get the provider's contact changed (`ProviderContactChanged`, which replaces the address
//! and clears the mark). From then on the outbox suppresses every email to it ([`crate::outbox`]).
//!
//! Exactly once: the team email's outbox item is keyed by SES's feedback id (the event id of the
//! [`PortalEvent`] the function builds), so a redelivered notification, or the same feedback
//! reaching the function twice, finds the mark and resumes the outbox instead of writing again;
//! a second bounce of an already undeliverable address changes nothing and tells no one. A
//! bounce of an address that is not one of the provider's (the team inbox, an MPA acceptor), or
//! of an email that names no provider, is logged (without the address) and ignored. Transient
//! bounces and deliveries change nothing: they are only counted.

mod email;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use crate::event::PortalEvent;
use crate::outbox::send_once;
use crate::ports::{AuditEntry, Precondition, Services};
use crate::race::{retry_lost_races, Attempt};
use marketplace_core::provider::{Undeliverable, UndeliverableReason};
use marketplace_core::DomainError;

pub use email::undeliverable_email;

/// The outbox kind of the team's email about an undeliverable address.
pub const TEAM_EMAIL: &str = "undeliverable-address";
/// Who the audit trail names for changes SES reported.
pub const ACTOR: &str = "ses";

/// One SES notification, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// SES delivered an email to the recipients' mail servers.
    Delivery { recipients: usize },
    /// A bounce; `permanent` for SES's `Permanent` bounce type (a hard bounce).
    Bounce { permanent: bool, report: Report },
    /// A recipient marked the email as spam.
    Complaint { report: Report },
    /// A notification type this function does not act on (counted).
    Other { kind: String },
}

/// A bounce or complaint as SES reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// SES's feedback id: one per bounce or complaint report.
    pub feedback_id: String,
    /// The provider the email concerned (its message tag or header), when it named one.
    pub provider_id: Option<String>,
    /// The recipients it concerns.
    pub recipients: Vec<String>,
    /// SES's classification: bounce sub-type, complaint feedback type (no addresses).
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// What one notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackOutcome {
    /// A delivery or transient bounce: counted, nothing changed.
    Counted,
    /// The provider's contact address was recorded undeliverable and the team was told.
    Marked { provider_id: String },
    /// An earlier delivery of this feedback recorded it; the team's email was made sure of.
    Resumed { provider_id: String },
    /// The address was already undeliverable (another report): nothing changed, no email.
    AlreadyUndeliverable { provider_id: String },
    /// Nothing to record, and why (no addresses in it).
    Ignored(String),
}

impl Feedback {
    /// The reason a state-changing notification gives, or `None` for one that only counts.
    fn undeliverable(&self) -> Option<(UndeliverableReason, &Report)> {
        match self {
            Feedback::Bounce { permanent: true, report } => Some((UndeliverableReason::PermanentBounce, report)),
            Feedback::Complaint { report } => Some((UndeliverableReason::Complaint, report)),
            _ => None,
        }
    }

    /// Whether handling it may change state (and so needs the idempotency claim and the store).
    pub fn changes_state(&self) -> bool {
        self.undeliverable().is_some()
    }
}

/// Records what `feedback` (read from the notification `event` carries) says about a provider's
/// address and tells the team once (module docs).
pub async fn record_feedback(
    event: &PortalEvent,
    feedback: &Feedback,
    services: &Services<'_>,
) -> Result<FeedbackOutcome, DomainError> {
    let Some((reason, report)) = feedback.undeliverable() else { return Ok(FeedbackOutcome::Counted) };
    let Some(provider_id) = report.provider_id.as_deref() else {
        return Ok(FeedbackOutcome::Ignored("the email named no provider (no provider_id tag or header)".into()));
    };
    let (provider, outcome) = retry_lost_races("record an undeliverable address", || async {
        let Some(provider) = services.store.get_provider(provider_id).await? else {
            return Ok(Attempt::Done((
                None,
                FeedbackOutcome::Ignored(format!("provider {provider_id} does not exist")),
            )));
        };
        let contact = &provider.contact_email;
        if !report.recipients.iter().any(|r| r.eq_ignore_ascii_case(contact)) {
            let ignored = format!("not a current address of provider {provider_id} (its contact is another address)");
            return Ok(Attempt::Done((None, FeedbackOutcome::Ignored(ignored))));
        }
        let provider_id = provider_id.to_string();
        if let Some(known) = provider.undeliverable(contact) {
            let outcome = if known.feedback_id == report.feedback_id {
                FeedbackOutcome::Resumed { provider_id }
            } else {
                FeedbackOutcome::AlreadyUndeliverable { provider_id }
            };
            return Ok(Attempt::Done((Some(provider), outcome)));
        }
        let mut next = provider.clone();
        next.version += 1;
        next.undeliverable.push(Undeliverable {
            address: contact.clone(),
            reason,
            detail: report.detail.clone(),
            at: report.at,
            feedback_id: report.feedback_id.clone(),
        });
        let audit = AuditEntry::state_change(
            &provider_id,
            event,
            "AddressUndeliverable",
            ACTOR,
            serde_json::json!({
                "role": "contact", "address": contact, "reason": reason,
                "detail": report.detail, "feedback_id": report.feedback_id,
            }),
        );
        let write =
            services.store.put_provider(&next, Precondition::Version(provider.version), &audit, &[TEAM_EMAIL]).await;
        Attempt::after(write, (Some(next), FeedbackOutcome::Marked { provider_id }))
    })
    .await?;
    let intents_recorded = match &outcome {
        FeedbackOutcome::Marked { .. } => true,
        FeedbackOutcome::Resumed { .. } => false,
        _ => return Ok(outcome),
    };
    let Some(provider) = provider else { return Ok(outcome) };
    let Some(undeliverable) = provider.undeliverable(&provider.contact_email) else { return Ok(outcome) };
    let email = undeliverable_email(services.config, &provider, "contact", undeliverable);
    send_once(services, event, &provider, ACTOR, vec![(TEAM_EMAIL, email)], intents_recorded).await?;
    Ok(outcome)
}
