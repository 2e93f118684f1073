use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use std::future::Future;

use crate::memory::{Call, Fault, MemoryPortal};
use marketplace_core::provider::{Undeliverable, UndeliverableReason};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn event(id: &str, time: &str, detail: serde_json::Value) -> PortalEvent {
    PortalEvent {
        id: id.into(),
        detail_type: DETAIL_TYPE.into(),
        source: crate::event::PORTAL_SOURCE.into(),
        time: at(time),
        detail,
    }
}

fn by_provider_user(extra: serde_json::Value) -> serde_json::Value {
    let mut detail =
        json!({ "provider_id": "acme", "actor": { "id": "u1", "role": "provider", "provider_id": "acme" } });
    detail.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    detail
}

fn new_contact() -> serde_json::Value {
    by_provider_user(json!({ "contact_name": "Omar Haddad", "contact_email": "omar@acme.example" }))
}

fn request(e: &PortalEvent) -> ContactChangeRequest {
    ContactChangeRequest::from_event(e).unwrap()
}

#[test]
fn every_problem_is_named_at_once_without_quoting_addresses() {
    let e = event(
        "e1",
        "2026-12-01T10:00:00Z",
        json!({ "provider_id": "acme", "contact_name": "", "contact_email": "omar-at-acme",
                "representative": { "name": "Ana", "email": "ana@@x" }, "actor": { "id": "", "role": "" } }),
    );
    let DomainError::Invalid(problems) = ContactChangeRequest::from_event(&e).unwrap_err() else { panic!("invalid") };
    let text = problems.join("\n");
    for field in ["contact_name", "contact_email", "representative.email", "actor.id", "actor.role"] {
        assert!(text.contains(field), "{field} missing from {text}");
    }
    assert!(!text.contains("omar-at-acme") && !text.contains("ana@@x"), "{text}");
    let nothing = event("e2", "2026-12-01T10:00:00Z", by_provider_user(json!({})));
    let DomainError::Invalid(problems) = ContactChangeRequest::from_event(&nothing).unwrap_err() else { panic!() };
    assert!(problems[0].contains("names nothing to change"), "{problems:?}");
}

#[test]
fn the_providers_users_change_the_contact_and_only_the_team_the_representative() {
    assert!(request(&event("e1", "2026-12-01T10:00:00Z", new_contact())).authorize().is_ok());
    let other = json!({ "provider_id": "acme", "contact_name": "X", "contact_email": "x@acme.example",
                        "actor": { "id": "u9", "role": "provider", "provider_id": "globex" } });
    assert!(matches!(request(&event("e2", "2026-12-01T10:00:00Z", other)).authorize(), Err(DomainError::Forbidden(_))));
    let representative = by_provider_user(json!({ "representative": { "name": "Ana", "email": "ana@m.example" } }));
    let refused = request(&event("e3", "2026-12-01T10:00:00Z", representative)).authorize().unwrap_err();
    assert!(refused.to_string().contains("only the marketplace team"), "{refused}");
    let team = json!({ "provider_id": "acme", "representative": { "name": "Ana", "email": "ana@m.example" },
                       "actor": { "id": "t1", "role": "marketplace-team" } });
    assert!(request(&event("e4", "2026-12-01T10:00:00Z", team)).authorize().is_ok());
}

#[test]
fn a_change_applies_once_in_the_portals_order_and_a_repeat_changes_nothing() {
    let provider = Provider::example();
    let e = event("e1", "2026-12-01T10:00:00Z", new_contact());
    let ContactDecision::Write(next) = decide(&provider, &request(&e), &e).unwrap() else { panic!("written") };
    assert_eq!((next.contact_name.as_str(), next.contact_email.as_str()), ("Omar Haddad", "omar@acme.example"));
    assert_eq!(next.version, provider.version + 1);
    let change = next.contact_changed.as_ref().unwrap();
    assert_eq!((change.previous_contact_email.as_str(), change.event_id.as_str()), ("jane@acme.example", "e1"));
    assert_eq!(decide(&next, &request(&e), &e).unwrap(), ContactDecision::AlreadyApplied);
    let repeat = event("e2", "2026-12-01T10:05:00Z", new_contact());
    assert_eq!(decide(&next, &request(&repeat), &repeat).unwrap(), ContactDecision::Unchanged);
    let older = event(
        "e0",
        "2026-12-01T09:00:00Z",
        by_provider_user(json!({ "contact_name": "Old", "contact_email": "old@acme.example" })),
    );
    assert_eq!(decide(&next, &request(&older), &older).unwrap(), ContactDecision::Stale);
}

#[test]
fn a_new_address_tells_the_old_and_the_new_contact_and_a_fixed_address_is_deliverable_again() {
    let config = PortalConfig::example();
    let provider = Provider::example();
    let e = event("e1", "2026-12-01T10:00:00Z", new_contact());
    let ContactDecision::Write(next) = decide(&provider, &request(&e), &e).unwrap() else { panic!() };
    let emails = emails_for(&provider, &next, &config);
    assert_eq!(emails.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [OLD_CONTACT_EMAIL, NEW_CONTACT_EMAIL]);
    assert_eq!(emails[0].1.to, ["jane@acme.example"]);
    assert!(emails[0].1.text.contains("Omar Haddad is now the contact for Acme"), "{}", emails[0].1.text);
    assert!(!emails[0].1.text.contains("omar@acme.example"), "a former contact is not given the new address");
    assert_eq!(emails[1].1.to, ["omar@acme.example"]);
    assert!(emails[1].1.text.contains("in place of Jane"), "{}", emails[1].1.text);

    let bounced = Provider {
        undeliverable: vec![Undeliverable {
            address: "jane@acme.example".into(),
            reason: UndeliverableReason::PermanentBounce,
            detail: "General".into(),
            at: at("2026-11-30T00:00:00Z"),
            feedback_id: "f1".into(),
        }],
        ..Provider::example()
    };
    let same = event(
        "e2",
        "2026-12-01T10:00:00Z",
        by_provider_user(json!({ "contact_name": "Jane", "contact_email": "JANE@acme.example" })),
    );
    let ContactDecision::Write(fixed) = decide(&bounced, &request(&same), &same).unwrap() else { panic!("clears") };
    assert!(fixed.undeliverable.is_empty());
    let emails = emails_for(&bounced, &fixed, &config);
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].0, CONTACT_UPDATED_EMAIL);
    assert!(emails[0].1.text.contains("emails this address again"), "{}", emails[0].1.text);
}

#[test]
fn an_offboarded_provider_cannot_change_its_contact() {
    let offboarded = Provider { status: marketplace_core::provider::ProviderStatus::Offboarded, ..Provider::example() };
    let e = event("e1", "2026-12-01T10:00:00Z", new_contact());
    assert!(matches!(decide(&offboarded, &request(&e), &e), Err(DomainError::Conflict(_))));
}

/// The in-memory portal with provider `acme` signed up (contact Jane, one welcome email sent).
async fn signed_up() -> MemoryPortal {
    let portal = MemoryPortal::default();
    let signup = PortalEvent {
        id: "signup-1".into(),
        detail_type: crate::signup::DETAIL_TYPE.into(),
        source: crate::event::PORTAL_SOURCE.into(),
        time: at("2026-11-25T10:00:00Z"),
        detail: json!({ "provider_id": "acme", "account_alias": "acme-prod", "company_name": "Acme",
                        "contact_name": "Jane", "contact_email": "jane@acme.example",
                        "actor": { "id": "t1", "role": "marketplace-team" } }),
    };
    crate::signup::notify_signup(&signup, &portal.services()).await.expect("signed up");
    portal
}

#[tokio::test]
async fn a_redelivery_after_the_write_sends_the_missing_emails_to_the_old_and_new_contact() {
    let portal = signed_up().await;
    let e = event("e1", "2026-12-01T10:00:00Z", new_contact());
    // The first delivery writes the change and dies in its first send.
    portal.faults.plan(Call::Send, 1, Fault::Die);
    let services = portal.services();
    let mut first = std::pin::pin!(change_contact(&e, &services));
    let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(first.as_mut().poll(cx).is_pending())).await;
    assert!(polled, "the first delivery died in its send");
    let outcome = change_contact(&e, &portal.services()).await.expect("the redelivery finishes");
    assert!(outcome.contains("contact changed"), "{outcome}");
    let sent: Vec<Vec<String>> = portal.mailer.sent().iter().skip(1).map(|m| m.to.clone()).collect();
    assert_eq!(sent, [vec!["jane@acme.example".to_string()], vec!["omar@acme.example".to_string()]]);
    assert_eq!(portal.store.provider("acme").unwrap().contact_email, "omar@acme.example");
    let again = change_contact(&e, &portal.services()).await.expect("a third delivery");
    assert!(again.contains("contact changed"), "{again}");
    assert_eq!(portal.mailer.sent().len(), 3, "nothing sent twice");
}

#[tokio::test]
async fn a_contact_replaced_because_mail_to_it_bounced_is_not_emailed_and_the_new_one_is() {
    use crate::memory::EmailIntent;
    use crate::ports::{AuditEntry, Precondition, ProviderStore};
    let portal = signed_up().await;
    let mut bounced = portal.store.provider("acme").expect("stored");
    bounced.undeliverable.push(Undeliverable {
        address: "jane@acme.example".into(),
        reason: UndeliverableReason::PermanentBounce,
        detail: "General".into(),
        at: at("2026-11-30T00:00:00Z"),
        feedback_id: "f1".into(),
    });
    bounced.version += 1;
    let mark = AuditEntry::state_change(
        "acme",
        &event("b1", "2026-11-30T00:00:00Z", json!({})),
        "AddressUndeliverable",
        "ses",
        json!({}),
    );
    portal.store.put_provider(&bounced, Precondition::Version(1), &mark, &[]).await.expect("marked");

    let e = event("e1", "2026-12-01T10:00:00Z", new_contact());
    change_contact(&e, &portal.services()).await.expect("changed");
    let sent: Vec<Vec<String>> = portal.mailer.sent().iter().skip(1).map(|m| m.to.clone()).collect();
    assert_eq!(sent, [vec!["omar@acme.example".to_string()]], "only the new contact is emailed");
    assert!(matches!(portal.store.email_intent("acme", "e1", OLD_CONTACT_EMAIL), Some(EmailIntent::Suppressed { .. })));
}
