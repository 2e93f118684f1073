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

use crate::event::PortalEvent;
use crate::idempotency::ClaimTicket;
use crate::metrics::Counters;
use crate::ports::{AuditEntry, IntentState, Services, Settlement};
use marketplace_core::email::Email;
use marketplace_core::DomainError;

/// The audit step of an email: after the state change (`0-state`), ordered by kind.
pub fn email_step(kind: &str) -> String {
    format!("1-email-{kind}")
}

/// Sends `emails` (by outbox kind) for `event` unless they went out already, then settles them
/// together with the event's claim (module docs). `intents_recorded`: the state change that
/// recorded their intents was written by this very delivery, so none of them can have been sent.
pub async fn send_once(
    services: &Services<'_>,
    event: &PortalEvent,
    provider_id: &str,
    actor_id: &str,
    emails: Vec<(&'static str, Email)>,
    intents_recorded: bool,
) -> Result<(), DomainError> {
    let count = emails.len();
    for (i, (kind, email)) in emails.into_iter().enumerate() {
        let last = i + 1 == count;
        if !intents_recorded {
            match services.ledger.record_intent(provider_id, &event.id, kind, chrono::Utc::now()).await? {
                IntentState::Sent => {
                    tracing::info!(provider_id, event_id = %event.id, kind, "email already sent for this event");
                    continue;
                }
                IntentState::Unsettled => {
                    Counters::add(&services.counters.emails_resent);
                    tracing::warn!(provider_id, event_id = %event.id, kind,
                        "unsettled email intent from an earlier delivery: sending again (may be a duplicate)");
                }
                IntentState::Recorded => {}
            }
        }
        let message_id = services.mailer.send(&email).await?;
        Counters::add(&services.counters.emails_sent);
        tracing::info!(provider_id, event_id = %event.id, kind, %message_id, "email sent");
        let sent = Settlement {
            provider_id: provider_id.to_string(),
            event_id: event.id.clone(),
            kind: kind.to_string(),
            audit: AuditEntry {
                provider_id: provider_id.to_string(),
                at: event.time,
                event_id: event.id.clone(),
                step: email_step(kind),
                action: "EmailSent".into(),
                actor_id: actor_id.to_string(),
                details: serde_json::json!({ "kind": kind, "to": email.to, "subject": email.subject, "message_id": message_id }),
            },
            message_id,
        };
        // Each email is settled right after SES accepted it, so that a death can repeat at most
        // the one email in flight; the last settle also completes the event's claim.
        settle(services, event, std::slice::from_ref(&sent), if last { services.claim } else { None }).await;
    }
    Ok(())
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
