//! Recording bounces and complaints on the in-memory ports.

use chrono::{DateTime, Utc};
use marketplace_core::provider::{Provider, UndeliverableReason};

use super::*;
use crate::idempotency::{run_once, ClaimTicket, Processed};
use crate::memory::{Call, EmailIntent, Fault, MemoryPortal};
use crate::ports::ProviderStore;

fn t0() -> DateTime<Utc> {
    "2026-11-25T10:00:00Z".parse().expect("a timestamp")
}

async fn portal() -> MemoryPortal {
    let portal = MemoryPortal::default();
    let provider = Provider::example();
    let audit = AuditEntry::state_change(
        "acme",
        &notification("signup", Feedback::Delivery { recipients: 1 }).0,
        "Created",
        "t",
        serde_json::Value::Null,
    );
    portal.store.put_provider(&provider, Precondition::Absent, &audit, &[]).await.expect("provider");
    portal
}

fn report(feedback_id: &str, recipients: &[&str]) -> Report {
    Report {
        feedback_id: feedback_id.into(),
        provider_id: Some("acme".into()),
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
        detail: "General".into(),
        at: t0(),
    }
}

fn notification(id: &str, feedback: Feedback) -> (PortalEvent, Feedback) {
    let event = PortalEvent {
        id: id.into(),
        detail_type: "Bounce".into(),
        source: "aws.ses".into(),
        time: t0(),
        detail: serde_json::json!({ "id": id }),
    };
    (event, feedback)
}

fn hard_bounce(feedback_id: &str, to: &str) -> (PortalEvent, Feedback) {
    notification(feedback_id, Feedback::Bounce { permanent: true, report: report(feedback_id, &[to]) })
}

/// One delivery of the notification under the claim of SNS message `message`.
async fn deliver(
    portal: &MemoryPortal,
    message: &str,
    (event, feedback): &(PortalEvent, Feedback),
) -> Result<Processed<FeedbackOutcome>, DomainError> {
    let claim = ClaimTicket::new("email-feedback", message, t0());
    let services = Services { claim: Some(&claim), ..portal.services() };
    run_once(&portal.claims, &claim, event, t0() + chrono::Duration::seconds(30), || {
        record_feedback(event, feedback, &services)
    })
    .await
}

fn team_emails(portal: &MemoryPortal) -> usize {
    portal.mailer.sent().iter().filter(|e| e.subject.starts_with("Undeliverable contact address")).count()
}

#[tokio::test]
async fn a_hard_bounce_of_the_contact_marks_it_undeliverable_audits_and_tells_the_team_once() {
    let portal = portal().await;
    let bounce = hard_bounce("f1", "JANE@acme.example");
    let outcome = deliver(&portal, "sns-1", &bounce).await.expect("ok");
    assert_eq!(outcome, Processed::Ran(FeedbackOutcome::Marked { provider_id: "acme".into() }));
    let provider = portal.store.provider("acme").expect("provider");
    assert_eq!(provider.version, 2);
    let marked = provider.undeliverable("jane@acme.example").expect("marked");
    assert_eq!(
        (marked.reason, marked.feedback_id.as_str(), marked.detail.as_str()),
        (UndeliverableReason::PermanentBounce, "f1", "General")
    );
    let audit = portal.store.audit("acme");
    assert!(audit.iter().any(|a| a.action == "AddressUndeliverable" && a.details["role"] == "contact"), "{audit:?}");
    assert!(audit.iter().any(|a| a.action == "EmailSent" && a.event_id == "f1"));
    let sent = portal.mailer.sent();
    assert_eq!(team_emails(&portal), 1);
    let email = sent.last().expect("the team email");
    assert_eq!(email.to, std::slice::from_ref(&portal.config.team_inbox));
    assert_eq!(email.subject, "Undeliverable contact address: Acme (acme)");
    for needle in
        ["permanent bounce (General)", "jane@acme.example", "ProviderContactChanged", "contact address of Acme (acme)"]
    {
        assert!(email.text.contains(needle), "{needle:?} missing:\n{}", email.text);
    }

    // SNS redelivers the message: a duplicate. The same feedback under another message id, and
    // a later bounce of the same address: nothing changes, no second email.
    assert_eq!(deliver(&portal, "sns-1", &bounce).await.expect("ok"), Processed::Duplicate);
    assert_eq!(
        deliver(&portal, "sns-2", &bounce).await.expect("ok"),
        Processed::Ran(FeedbackOutcome::Resumed { provider_id: "acme".into() })
    );
    let later = hard_bounce("f2", "jane@acme.example");
    assert_eq!(
        deliver(&portal, "sns-3", &later).await.expect("ok"),
        Processed::Ran(FeedbackOutcome::AlreadyUndeliverable { provider_id: "acme".into() })
    );
    assert_eq!(team_emails(&portal), 1, "the team is told once per address");
    assert_eq!(portal.store.provider("acme").expect("provider").version, 2);
}

#[tokio::test]
async fn a_complaint_marks_the_contact_too() {
    let portal = portal().await;
    let complaint = notification(
        "c1",
        Feedback::Complaint { report: Report { detail: "abuse".into(), ..report("c1", &["jane@acme.example"]) } },
    );
    deliver(&portal, "sns-1", &complaint).await.expect("ok");
    let provider = portal.store.provider("acme").expect("provider");
    assert_eq!(provider.undeliverable("jane@acme.example").map(|u| u.reason), Some(UndeliverableReason::Complaint));
    let email = portal.mailer.sent().pop().expect("team email");
    assert!(email.text.contains("marked one of our emails as spam (complaint: abuse)"), "{}", email.text);
}

#[tokio::test]
async fn a_crash_after_the_mark_is_finished_by_the_redelivery_with_one_team_email() {
    let portal = portal().await;
    let bounce = hard_bounce("f1", "jane@acme.example");
    portal.faults.plan(Call::Send, 1, Fault::Fail);
    assert!(deliver(&portal, "sns-1", &bounce).await.is_err(), "the send failed: the invocation fails");
    assert!(portal.store.provider("acme").expect("p").undeliverable("jane@acme.example").is_some(), "the mark stays");
    assert_eq!(portal.store.email_intent("acme", "f1", TEAM_EMAIL), Some(EmailIntent::Pending));
    let again = deliver(&portal, "sns-1", &bounce).await.expect("ok");
    assert_eq!(again, Processed::Ran(FeedbackOutcome::Resumed { provider_id: "acme".into() }));
    assert_eq!(team_emails(&portal), 1);
    assert!(matches!(portal.store.email_intent("acme", "f1", TEAM_EMAIL), Some(EmailIntent::Sent { .. })));
}

#[tokio::test]
async fn bounces_that_are_not_the_providers_current_address_or_name_no_provider_change_nothing() {
    let portal = portal().await;
    let calls = portal.faults.calls(Call::PutProvider);
    for (id, feedback) in [
        ("f1", Feedback::Bounce { permanent: true, report: report("f1", &["team@marketplace.example.com"]) }),
        (
            "f2",
            Feedback::Bounce {
                permanent: true,
                report: Report { provider_id: None, ..report("f2", &["jane@acme.example"]) },
            },
        ),
        (
            "f3",
            Feedback::Bounce {
                permanent: true,
                report: Report { provider_id: Some("nobody".into()), ..report("f3", &["jane@acme.example"]) },
            },
        ),
    ] {
        let outcome = deliver(&portal, id, &notification(id, feedback)).await.expect("ok");
        let Processed::Ran(FeedbackOutcome::Ignored(why)) = outcome else { panic!("{id}: {outcome:?}") };
        assert!(!why.contains('@'), "no address in what is logged: {why}");
    }
    assert_eq!(portal.faults.calls(Call::PutProvider), calls, "nothing written");
    assert!(portal.mailer.sent().is_empty());
    assert!(portal.store.provider("acme").expect("p").undeliverable.is_empty());
}

#[tokio::test]
async fn transient_bounces_and_deliveries_are_only_counted() {
    let portal = portal().await;
    let all = portal.faults.all_calls();
    for feedback in [
        Feedback::Bounce { permanent: false, report: report("t1", &["jane@acme.example"]) },
        Feedback::Delivery { recipients: 1 },
        Feedback::Other { kind: "Open".into() },
    ] {
        assert!(!feedback.changes_state());
        let (event, feedback) = notification("n", feedback);
        assert_eq!(record_feedback(&event, &feedback, &portal.services()).await.expect("ok"), FeedbackOutcome::Counted);
    }
    assert_eq!(portal.faults.all_calls(), all, "no store or mailer call");
}

#[tokio::test]
async fn a_later_email_to_the_marked_contact_is_suppressed() {
    let portal = portal().await;
    deliver(&portal, "sns-1", &hard_bounce("f1", "jane@acme.example")).await.expect("ok");
    let provider = portal.store.provider("acme").expect("p");
    let welcome = crate::signup::welcome_email(&portal.config, &provider);
    let (event, _) = notification("later", Feedback::Delivery { recipients: 1 });
    send_once(&portal.services(), &event, &provider, "t1", vec![("later", welcome)], false).await.expect("settled");
    assert!(matches!(portal.store.email_intent("acme", "later", "later"), Some(EmailIntent::Suppressed { .. })));
    assert_eq!(team_emails(&portal), 1);
    assert_eq!(portal.mailer.sent().len(), 1, "only the team email went out");
}
