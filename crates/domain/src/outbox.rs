//! Sending an email for an event exactly once, across crashes and redeliveries.
//!
//! 1. **Intent.** A conditional put records `EMAIL#<event id>#<kind>` as pending *before* SES is
//!    called. Finding it already `SENT` means the email went out: nothing to do.
//! 2. **Send.** SES `SendRawEmail`.
//! 3. **Settle.** One transaction marks the intent sent (with SES's message id) and writes the
//!    `EmailSent` audit entry.
//!
//! A pending intent found by a later delivery was left by an invocation that died between 1 and 3
//! (the event's idempotency claim rules out one that is still running): it is **re-sent**, counted
//! (`EmailsResent`) and alarmed. Re-sending was chosen over reporting because the emails carry
//! what a provider needs to act (log-in, MPA review, publication), and a missing one stalls the
//! provider without anyone noticing, while a duplicate is a nuisance the alarm explains. So the
//! only window in which an email can go out twice is a process death while the SES call is in
//! flight or before its settle write returns: milliseconds, never a retry or a throttled write.
//!
//! A settle that fails after SES accepted the email (DynamoDB throttled past the SDK's retries,
//! not a crash) does **not** fail the event: retrying it would re-send. The email is counted as
//! unsettled (`EmailsUnsettled`, alarmed) and the event completes.

use crate::email::Email;
use crate::event::PortalEvent;
use crate::metrics::Counters;
use crate::ports::{AuditEntry, IntentState, Services};
use crate::DomainError;

/// The audit step of an email: after the state change (`0-state`), ordered by kind.
pub fn email_step(kind: &str) -> String {
    format!("1-email-{kind}")
}

/// Sends `email` of `kind` for `event` unless it went out already (module docs).
pub async fn send_once(
    services: &Services<'_>,
    event: &PortalEvent,
    provider_id: &str,
    kind: &str,
    email: &Email,
    actor_id: &str,
) -> Result<(), DomainError> {
    match services.ledger.record_intent(provider_id, &event.id, kind, chrono::Utc::now()).await? {
        IntentState::Sent => {
            tracing::info!(provider_id, event_id = %event.id, kind, "email already sent for this event");
            return Ok(());
        }
        IntentState::Unsettled => {
            Counters::add(&services.counters.emails_resent);
            tracing::warn!(provider_id, event_id = %event.id, kind,
                "unsettled email intent from a crashed invocation: sending again (may be a duplicate)");
        }
        IntentState::Recorded => {}
    }
    let message_id = services.mailer.send(email).await?;
    Counters::add(&services.counters.emails_sent);
    let audit = AuditEntry {
        provider_id: provider_id.to_string(),
        at: event.time,
        event_id: event.id.clone(),
        step: email_step(kind),
        action: "EmailSent".into(),
        actor_id: actor_id.to_string(),
        details: serde_json::json!({ "kind": kind, "to": email.to, "subject": email.subject, "message_id": message_id }),
    };
    match services.ledger.settle(provider_id, &event.id, kind, &message_id, &audit).await {
        Ok(()) => tracing::info!(provider_id, event_id = %event.id, kind, %message_id, "email sent"),
        Err(error) => {
            Counters::add(&services.counters.emails_unsettled);
            tracing::error!(provider_id, event_id = %event.id, kind, %message_id, %error,
                "email sent but its intent could not be settled; not failing the event, which would send it again");
        }
    }
    Ok(())
}
