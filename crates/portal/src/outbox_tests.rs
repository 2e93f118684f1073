//! The outbox on the in-memory ports: suppression of undeliverable recipients, and a declined
//! send told apart from one whose outcome is unknown.

use chrono::{DateTime, Utc};
use marketplace_core::email::Email;
use marketplace_core::provider::{Provider, Undeliverable, UndeliverableReason};

use super::*;
use crate::memory::{Call, EmailIntent, Fault, MemoryPortal};
use crate::ports::{Precondition, ProviderStore};

const KIND: &str = "notice";

fn t0() -> DateTime<Utc> {
    "2026-11-25T10:00:00Z".parse().expect("a timestamp")
}

fn event() -> PortalEvent {
    PortalEvent {
        id: "e1".into(),
        detail_type: "Test".into(),
        source: "marketplace.portal".into(),
        time: t0(),
        detail: serde_json::Value::Null,
    }
}

fn email(to: &[&str]) -> Email {
    Email {
        from: "no-reply@m.example".into(),
        reply_to: "support@m.example".into(),
        to: to.iter().map(|a| a.to_string()).collect(),
        subject: "Notice".into(),
        text: "Hello".into(),
        html: "<p>Hello</p>".into(),
        attachments: vec![],
        inline_images: vec![],
    }
}

fn bounced_contact() -> Provider {
    let provider = Provider::example();
    let undeliverable = Undeliverable {
        address: provider.contact_email.to_uppercase(),
        reason: UndeliverableReason::PermanentBounce,
        detail: "General".into(),
        at: t0(),
        feedback_id: "f1".into(),
    };
    Provider { undeliverable: vec![undeliverable], ..provider }
}

/// A portal holding `provider`, with the intent of email [`KIND`] of event `e1` recorded pending
/// (as the state change records it).
async fn portal_with(provider: &Provider) -> MemoryPortal {
    let portal = MemoryPortal::default();
    let audit = AuditEntry::state_change(&provider.provider_id, &event(), "Test", "t1", serde_json::Value::Null);
    portal.store.put_provider(provider, Precondition::Absent, &audit, &[KIND]).await.expect("stored");
    portal
}

fn count(counter: &std::sync::atomic::AtomicU64) -> u64 {
    Counters::get(counter)
}

#[tokio::test]
async fn an_email_to_an_undeliverable_contact_is_settled_suppressed_with_its_reason_and_never_sent() {
    let provider = bounced_contact();
    let portal = portal_with(&provider).await;
    let services = portal.services();
    let to = provider.contact_email.clone();
    send_once(&services, &event(), &provider, "t1", vec![(KIND, email(&[&to]))], true).await.expect("settled");

    assert!(portal.mailer.sent().is_empty(), "nothing goes to an undeliverable address");
    let Some(EmailIntent::Suppressed { reason }) = portal.store.email_intent("acme", "e1", KIND) else {
        panic!("not suppressed: {:?}", portal.store.email_intent("acme", "e1", KIND));
    };
    assert!(reason.contains("contact address is undeliverable: PermanentBounce (General)"), "{reason}");
    assert!(!reason.contains('@'), "the reason is logged: no address in it: {reason}");
    let audit = portal.store.audit("acme");
    let entry = audit.iter().find(|a| a.step == email_step(KIND)).expect("an audit entry");
    assert_eq!(entry.action, "EmailSuppressed");
    assert_eq!(entry.details["reason"], serde_json::json!(reason));
    assert_eq!(count(&portal.counters.emails_suppressed), 1);
    assert_eq!(count(&portal.counters.emails_sent), 0);

    // A redelivery finds it settled: nothing sent, nothing counted again.
    send_once(&services, &event(), &provider, "t1", vec![(KIND, email(&[&to]))], false).await.expect("settled");
    assert!(portal.mailer.sent().is_empty());
    assert_eq!(count(&portal.counters.emails_suppressed), 1);
    assert_eq!(count(&portal.counters.emails_resent), 0);
}

#[tokio::test]
async fn a_provider_given_by_id_is_read_for_its_undeliverable_addresses() {
    let provider = bounced_contact();
    let portal = portal_with(&provider).await;
    let to = provider.contact_email.clone();
    let reads = portal.faults.calls(Call::GetProvider);
    send_once(&portal.services(), &event(), "acme", "t1", vec![(KIND, email(&[&to]))], true).await.expect("ok");
    assert_eq!(portal.faults.calls(Call::GetProvider), reads + 1, "one read for the record");
    assert!(portal.mailer.sent().is_empty());
    assert!(matches!(portal.store.email_intent("acme", "e1", KIND), Some(EmailIntent::Suppressed { .. })));
}

#[tokio::test]
async fn only_the_undeliverable_recipient_is_dropped_and_the_others_get_the_email() {
    let provider = bounced_contact();
    let portal = portal_with(&provider).await;
    let to = [provider.contact_email.as_str(), "max@acme.example"];
    send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&to))], true).await.expect("sent");
    let sent = portal.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, ["max@acme.example"]);
    let audit = portal.store.audit("acme");
    let entry = audit.iter().find(|a| a.step == email_step(KIND)).expect("an audit entry");
    assert_eq!(entry.action, "EmailSent");
    assert_eq!(entry.details["to"], serde_json::json!(["max@acme.example"]));
    assert_eq!(entry.details["suppressed"].as_array().map(Vec::len), Some(1));
    assert_eq!(count(&portal.counters.emails_suppressed), 0, "the email was sent");
}

#[tokio::test]
async fn a_deliverable_contact_is_emailed_as_before() {
    let provider = Provider::example();
    let portal = portal_with(&provider).await;
    let to = provider.contact_email.clone();
    send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&[&to]))], true).await.expect("sent");
    assert_eq!(portal.mailer.sent().len(), 1);
    assert!(matches!(portal.store.email_intent("acme", "e1", KIND), Some(EmailIntent::Sent { .. })));
}

#[tokio::test]
async fn a_send_ses_declined_is_withdrawn_so_the_redeliverys_send_is_not_counted_as_a_duplicate() {
    let provider = Provider::example();
    let portal = portal_with(&provider).await;
    let to = provider.contact_email.clone();
    portal.faults.plan(Call::Send, 1, Fault::Decline);
    let failed = send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&[&to]))], true).await;
    assert!(matches!(failed, Err(DomainError::Declined { .. })), "{failed:?}");
    assert_eq!(portal.store.email_intent("acme", "e1", KIND), Some(EmailIntent::Withdrawn));

    // The redelivery: the state change is found applied, the intent is recorded anew.
    send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&[&to]))], false).await.expect("ok");
    assert_eq!(portal.mailer.sent().len(), 1, "sent once in all");
    assert_eq!(count(&portal.counters.emails_resent), 0, "nothing can have been sent twice");
    assert_eq!(count(&portal.counters.emails_sent), 1);
    assert!(matches!(portal.store.email_intent("acme", "e1", KIND), Some(EmailIntent::Sent { .. })));
}

#[tokio::test]
async fn a_send_whose_outcome_is_unknown_keeps_its_intent_and_the_resend_counts_as_a_possible_duplicate() {
    let provider = Provider::example();
    let portal = portal_with(&provider).await;
    let to = provider.contact_email.clone();
    portal.faults.plan(Call::Send, 1, Fault::Fail);
    let failed = send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&[&to]))], true).await;
    assert!(matches!(failed, Err(DomainError::Infrastructure { .. })), "{failed:?}");
    assert_eq!(portal.store.email_intent("acme", "e1", KIND), Some(EmailIntent::Pending));
    assert_eq!(portal.faults.calls(Call::WithdrawIntent), 0, "not withdrawn: SES may have it");

    send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&[&to]))], false).await.expect("ok");
    assert_eq!(count(&portal.counters.emails_resent), 1, "this one may be a duplicate");
}

#[tokio::test]
async fn a_failed_withdrawal_leaves_the_intent_pending_and_the_resend_is_counted() {
    let provider = Provider::example();
    let portal = portal_with(&provider).await;
    let to = provider.contact_email.clone();
    portal.faults.plan(Call::Send, 1, Fault::Decline);
    portal.faults.plan(Call::WithdrawIntent, 1, Fault::Fail);
    let failed = send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&[&to]))], true).await;
    assert!(matches!(failed, Err(DomainError::Declined { .. })), "the send's error, not the withdrawal's");
    assert_eq!(portal.store.email_intent("acme", "e1", KIND), Some(EmailIntent::Pending));
    send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&[&to]))], false).await.expect("ok");
    assert_eq!(count(&portal.counters.emails_resent), 1, "erring towards the alarm");
}

/// A portal holding the provider with the intents of two emails of event `e1` recorded.
async fn portal_with_two(provider: &Provider) -> MemoryPortal {
    let portal = MemoryPortal::default();
    let audit = AuditEntry::state_change(&provider.provider_id, &event(), "Test", "t1", serde_json::Value::Null);
    portal.store.put_provider(provider, Precondition::Absent, &audit, &[KIND, "second"]).await.expect("stored");
    portal
}

#[tokio::test]
async fn the_emails_after_a_failed_send_were_never_attempted_and_their_resend_is_not_counted() {
    let provider = Provider::example();
    let to = provider.contact_email.clone();
    let two = || vec![(KIND, email(&[&to])), ("second", email(&[&to]))];
    for (fault, resent) in [(Fault::Decline, 0), (Fault::Fail, 1)] {
        let portal = portal_with_two(&provider).await;
        portal.faults.plan(Call::Send, 1, fault.clone());
        assert!(send_once(&portal.services(), &event(), &provider, "t1", two(), true).await.is_err());
        assert_eq!(portal.store.email_intent("acme", "e1", "second"), Some(EmailIntent::Withdrawn), "{fault:?}");
        send_once(&portal.services(), &event(), &provider, "t1", two(), false).await.expect("ok");
        assert_eq!(portal.mailer.sent().len(), 2, "{fault:?}");
        assert_eq!(
            count(&portal.counters.emails_resent),
            resent,
            "only the one in flight may be a duplicate: {fault:?}"
        );
    }
}

#[tokio::test]
async fn an_intent_found_unsettled_is_not_withdrawn_when_its_resend_is_declined() {
    let provider = Provider::example();
    let portal = portal_with(&provider).await;
    let to = provider.contact_email.clone();
    // An earlier delivery left the intent pending (it may have sent the email); this one's
    // re-send is declined: the intent stays pending, so the next re-send is still counted.
    portal.faults.plan(Call::Send, 1, Fault::Decline);
    let failed = send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&[&to]))], false).await;
    assert!(matches!(failed, Err(DomainError::Declined { .. })), "{failed:?}");
    assert_eq!(portal.store.email_intent("acme", "e1", KIND), Some(EmailIntent::Pending));
    assert_eq!(portal.faults.calls(Call::WithdrawIntent), 0);
    send_once(&portal.services(), &event(), &provider, "t1", vec![(KIND, email(&[&to]))], false).await.expect("ok");
    assert_eq!(count(&portal.counters.emails_resent), 2, "both re-sends may be duplicates of the first delivery's");
}
