//! Sending the emails of an event exactly once, across crashes and redeliveries.
//!
//! 1. **Intent.** Each email's outbox item `EMAIL#<event id>#<kind>` is recorded as pending
//!    *before* SES is called: in the very transaction that applies the event's state change (so it
//!    costs no round trip), or, when the state was applied by an earlier delivery, by a
//!    conditional put that also tells whether the email went out already (`SENT`: nothing to do).
//! 2. **Send.** SES `SendRawEmail`, one call per email.
//! 3. **Settle.** Right after SES accepted it, one transaction marks the intent `SENT` (with SES's
//!    message id) and writes its `EmailSent` audit entry; the settle of the event's last email
//!    also completes the event's idempotency claim. (Settling all emails of an event at once would
//!    save a round trip per extra email, but a death between two sends would then repeat every
//!    email sent so far, not only the one in flight: the guarantee wins.)
//!
//! A pending intent found by a later delivery was left by an invocation that died between 1 and 3,
//! or whose send failed (the event's idempotency claim rules out one that is still running): the
//! email is **sent again**, counted (`EmailsResent`) and alarmed. Re-sending was chosen over
//! reporting because the emails carry what a provider needs to act (log-in, MPA review,
//! publication), and a missing one stalls the provider without anyone noticing, while a duplicate
//! is a nuisance the alarm explains. So the only window in which an email can go out twice is a
//! process death while its SES call is in flight or before the settle write returns:
//! milliseconds, never a retry or a throttled write.
//!
//! A settle that fails after SES accepted (DynamoDB throttled past the SDK's retries, not a crash)
//! does **not** fail the event: retrying it would re-send. The emails are counted as unsettled
//! (`EmailsUnsettled`, alarmed) and the event completes.
//!
//! **Not sent, or perhaps sent.** A send that fails leaves its intent pending and fails the event,
//! so the queue redelivers it and the redelivery sends again. Whether that re-send may be a
//! duplicate depends on how the send failed: when SES *answered* with an error (throttled, a 5xx,
//! an identity not verified: `DomainError::Declined`/`Refused`, which the SES mailer returns only
//! when no attempt of the call went unanswered) the email was certainly not sent, and the intent
//! is **withdrawn** at once, so that the redelivery records it anew and its send is an ordinary
//! one; so are the intents of the event's later emails, which were never attempted. Only an intent
//! that no earlier delivery can have acted on is withdrawn: one this delivery recorded (an intent
//! found unsettled may have been sent by the delivery that left it). When the outcome is unknown (a timeout, a connection cut, a dispatch failure after the
//! request may have reached SES) the intent stays pending and the re-send is counted in
//! `EmailsResent`, which so counts only what may really be a duplicate. A withdrawal that fails
//! only leaves the intent pending: the re-send is then counted, erring towards the alarm.
//!
//! **Suppression.** No email goes to an address SES reported undeliverable for the provider (a
//! permanent bounce or a complaint, recorded on the provider record by `email-feedback`, see
//! [`crate::feedback`]). Such recipients are dropped from the email; when none is left the email
//! is not sent at all: its outbox item is settled `SUPPRESSED` with the reason and an
//! `EmailSuppressed` audit entry, and counted (`EmailsSuppressed`). The team learns of the address
//! once, from `email-feedback`; a contact change that replaces the address lifts the suppression.
//! Every email goes out tagged with the provider's id and its kind (`Mailer::send_tagged`), which
//! is how SES's notifications find the provider again.

use crate::event::PortalEvent;
use crate::idempotency::ClaimTicket;
use crate::metrics::Counters;
use crate::ports::{AuditEntry, EmailOutcome, IntentState, Services, Settlement};
use marketplace_core::email::Email;
use marketplace_core::ports::EmailTags;
use marketplace_core::provider::Provider;
use marketplace_core::DomainError;

/// The audit step of an email: after the state change (`0-state`), ordered by kind.
pub fn email_step(kind: &str) -> String {
    format!("1-email-{kind}")
}

/// Whom an event's emails concern: the provider's record (whose undeliverable addresses are
/// suppressed), or only its id, in which case [`send_once`] reads the record (one more round
/// trip: pass the record when the operation has it).
#[derive(Debug, Clone, Copy)]
pub enum EmailOwner<'a> {
    Record(&'a Provider),
    Id(&'a str),
}

impl<'a> From<&'a Provider> for EmailOwner<'a> {
    fn from(provider: &'a Provider) -> Self {
        EmailOwner::Record(provider)
    }
}

impl<'a> From<&'a String> for EmailOwner<'a> {
    fn from(provider_id: &'a String) -> Self {
        EmailOwner::Id(provider_id)
    }
}

impl<'a> From<&'a str> for EmailOwner<'a> {
    fn from(provider_id: &'a str) -> Self {
        EmailOwner::Id(provider_id)
    }
}

/// Sends `emails` (by outbox kind) for `event` unless they went out already, then settles them
/// together with the event's claim (module docs). `intents_recorded`: the state change that
/// recorded their intents was written by this very delivery, so none of them can have been sent.
pub async fn send_once<'p>(
    services: &Services<'_>,
    event: &PortalEvent,
    owner: impl Into<EmailOwner<'p>>,
    actor_id: &str,
    emails: Vec<(&'static str, Email)>,
    intents_recorded: bool,
) -> Result<(), DomainError> {
    let read;
    let (provider_id, provider) = match owner.into() {
        EmailOwner::Record(provider) => (provider.provider_id.as_str(), Some(provider)),
        EmailOwner::Id(provider_id) => {
            read = if emails.is_empty() { None } else { services.store.get_provider(provider_id).await? };
            (provider_id, read.as_ref())
        }
    };
    let count = emails.len();
    let all_kinds = kinds(&emails);
    for (i, (kind, email)) in emails.into_iter().enumerate() {
        let last = i + 1 == count;
        let claim = if last { services.claim } else { None };
        // Whether this delivery recorded the intent, so that no earlier one can have sent it.
        let mut fresh = intents_recorded;
        if !intents_recorded {
            match services.ledger.record_intent(provider_id, &event.id, kind, chrono::Utc::now()).await? {
                IntentState::Sent | IntentState::Suppressed => {
                    tracing::info!(provider_id, event_id = %event.id, kind, "email already settled for this event");
                    continue;
                }
                IntentState::Unsettled => {
                    Counters::add(&services.counters.emails_resent);
                    tracing::warn!(provider_id, event_id = %event.id, kind,
                        "unsettled email intent from an earlier delivery: sending again (may be a duplicate)");
                }
                IntentState::Recorded => fresh = true,
            }
        }
        let (email, suppressed) = without_undeliverable(email, provider);
        let (email, suppressed) = without_offboarded(email, suppressed, provider, &services.config.team_inbox);
        if email.to.is_empty() {
            let reason = suppressed.join("; ");
            Counters::add(&services.counters.emails_suppressed);
            tracing::warn!(provider_id, event_id = %event.id, kind, %reason, "email suppressed: no deliverable recipient");
            let details = serde_json::json!({ "kind": kind, "subject": email.subject, "reason": reason });
            let settlement =
                settlement(event, provider_id, kind, actor_id, EmailOutcome::Suppressed { reason }, details);
            settle(services, event, std::slice::from_ref(&settlement), claim).await;
            continue;
        }
        let tags = EmailTags { provider_id, kind };
        let message_id = match services.mailer.send_tagged(&email, &tags).await {
            Ok(message_id) => message_id,
            Err(error) => {
                // Withdrawn only what no delivery can have sent: this email when SES answered
                // (and no earlier delivery left its intent), the later ones when this very
                // delivery's state change recorded them (nothing attempted them since).
                if fresh && error.certainly_not_done() {
                    withdraw(services, event, provider_id, kind).await;
                }
                if intents_recorded {
                    for later in &all_kinds[i + 1..] {
                        withdraw(services, event, provider_id, later).await;
                    }
                }
                return Err(error);
            }
        };
        Counters::add(&services.counters.emails_sent);
        tracing::info!(provider_id, event_id = %event.id, kind, %message_id, "email sent");
        let mut details =
            serde_json::json!({ "kind": kind, "to": email.to, "subject": email.subject, "message_id": message_id });
        if !suppressed.is_empty() {
            details["suppressed"] = serde_json::json!(suppressed);
        }
        let sent = settlement(event, provider_id, kind, actor_id, EmailOutcome::Sent { message_id }, details);
        // Each email is settled right after SES accepted it, so that a death can repeat at most
        // the one email in flight; the last settle also completes the event's claim.
        settle(services, event, std::slice::from_ref(&sent), claim).await;
    }
    Ok(())
}

/// `email` without the recipients SES reported undeliverable for `provider`, and why each was
/// dropped (the role and the reason, never the address: the reasons reach the logs).
fn without_undeliverable(mut email: Email, provider: Option<&Provider>) -> (Email, Vec<String>) {
    let Some(provider) = provider else { return (email, Vec::new()) };
    let mut suppressed = Vec::new();
    email.to.retain(|to| match provider.undeliverable(to) {
        Some(undeliverable) => {
            let role = if to.eq_ignore_ascii_case(&provider.contact_email) { "contact" } else { "recipient" };
            suppressed.push(format!(
                "the {role} address is undeliverable: {:?} ({}) reported by SES at {}",
                undeliverable.reason,
                undeliverable.detail,
                undeliverable.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
            false
        }
        None => true,
    });
    (email, suppressed)
}

/// `email` without any recipient but the team's inbox when `provider` was offboarded: it is sent
/// no further email (`crate::offboarding`); the reason joins `suppressed`.
fn without_offboarded(
    mut email: Email,
    mut suppressed: Vec<String>,
    provider: Option<&Provider>,
    team_inbox: &str,
) -> (Email, Vec<String>) {
    if provider.is_some_and(Provider::is_offboarded) {
        let before = email.to.len();
        email.to.retain(|to| to.eq_ignore_ascii_case(team_inbox));
        if email.to.len() < before {
            suppressed.push("the provider has been offboarded: it is sent no further email".into());
        }
    }
    (email, suppressed)
}

fn settlement(
    event: &PortalEvent,
    provider_id: &str,
    kind: &str,
    actor_id: &str,
    outcome: EmailOutcome,
    details: serde_json::Value,
) -> Settlement {
    let action = match outcome {
        EmailOutcome::Sent { .. } => "EmailSent",
        EmailOutcome::Suppressed { .. } => "EmailSuppressed",
    };
    Settlement {
        provider_id: provider_id.to_string(),
        event_id: event.id.clone(),
        kind: kind.to_string(),
        audit: AuditEntry {
            provider_id: provider_id.to_string(),
            at: event.time,
            event_id: event.id.clone(),
            step: email_step(kind),
            action: action.into(),
            actor_id: actor_id.to_string(),
            details,
        },
        outcome,
    }
}

/// Withdraws the intent of an email SES certainly did not send (module docs); a failure only
/// leaves it pending.
async fn withdraw(services: &Services<'_>, event: &PortalEvent, provider_id: &str, kind: &str) {
    if let Err(error) = services.ledger.withdraw_intent(provider_id, &event.id, kind).await {
        tracing::warn!(provider_id, event_id = %event.id, kind, %error,
            "could not withdraw the intent of an email SES declined; its re-send will count as a possible duplicate");
    }
}

/// Settles `sent` (and completes `claim`); a failure is counted and logged, never returned.
async fn settle(services: &Services<'_>, event: &PortalEvent, sent: &[Settlement], claim: Option<&ClaimTicket>) {
    match services.ledger.settle(sent, claim).await {
        Ok(()) => {
            if let Some(claim) = claim {
                claim.mark_completed();
            }
        }
        Err(error) => {
            for _ in sent {
                Counters::add(&services.counters.emails_unsettled);
            }
            tracing::error!(event_id = %event.id, emails = sent.len(), %error,
                "emails sent but their intents could not be settled; not failing the event, which would send them again");
        }
    }
}

/// The outbox kinds of `emails`, for recording their intents with the state change.
pub fn kinds(emails: &[(&'static str, Email)]) -> Vec<&'static str> {
    emails.iter().map(|(kind, _)| *kind).collect()
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
