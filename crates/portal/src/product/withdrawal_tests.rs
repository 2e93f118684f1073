use serde_json::json;

use super::emails::{emails_for, withdrawal_emails};
use super::model::{Product, ProductStatus, PublishOutcome, DETAIL_TYPE, WITHDRAWN};
use super::rules::{decide, validate_listing, Decision, PublishRequest};
use super::withdrawal::{decide_withdrawal, handle_withdrawal, WithdrawalDecision, WithdrawalRequest};
use crate::event::{Actor, PortalEvent};
use crate::memory::MemoryPortal;
use crate::ports::{AuditEntry, Precondition, ProviderStore};
use marketplace_core::provider::Provider;
use marketplace_core::{DomainError, PortalConfig};

fn listing() -> serde_json::Value {
    json!({
        "name": "Vault", "summary": "Secrets.", "description": "Stores secrets.", "category": "security",
        "support_email": "support@acme.example", "blueprint_id": "bp-1", "provider_share": "0.7",
        "pricing": [{"model": "hourly", "unit": "vm-hour", "unit_price": "0.125", "currency": "USD"}]
    })
}

fn event(id: &str, detail_type: &str, time: &str, detail: serde_json::Value) -> PortalEvent {
    PortalEvent {
        id: id.into(),
        detail_type: detail_type.into(),
        source: "marketplace.portal".into(),
        time: time.parse().unwrap(),
        detail,
    }
}

fn publish_request() -> PublishRequest {
    PublishRequest {
        provider_id: "acme".into(),
        product_id: "p".into(),
        actor: Actor { id: "u".into(), role: "provider".into() },
        actor_provider_id: Some("acme".into()),
        listing: Some(listing()),
    }
}

fn withdrawal_detail(actor: serde_json::Value) -> serde_json::Value {
    json!({ "provider_id": "acme", "product_id": "p", "actor": actor, "reason": "  End of life.  " })
}

fn provider_user() -> serde_json::Value {
    json!({"id": "u", "role": "provider", "provider_id": "acme"})
}

fn withdrawal(id: &str, time: &str) -> (WithdrawalRequest, PortalEvent) {
    let event = event(id, WITHDRAWN, time, withdrawal_detail(provider_user()));
    (WithdrawalRequest::from_event(&event).unwrap(), event)
}

fn published() -> Product {
    let valid = validate_listing(Some(&listing())).unwrap();
    let publish = event("e1", DETAIL_TYPE, "2026-11-25T10:00:00Z", json!({}));
    match decide(None, &publish_request(), &[], Some(&valid), &publish) {
        Decision::Write(p) => *p,
        other => panic!("expected a write, got {other:?}"),
    }
}

fn withdrawn() -> Product {
    let (request, event) = withdrawal("w1", "2026-11-26T10:00:00Z");
    match decide_withdrawal(Some(&published()), &request, &event).unwrap() {
        WithdrawalDecision::Write(p) => *p,
        other => panic!("expected a write, got {other:?}"),
    }
}

#[test]
fn a_published_product_is_withdrawn_keeping_its_listing() {
    let before = published();
    let after = withdrawn();
    assert_eq!(after.status, ProductStatus::Withdrawn);
    assert_eq!(after.listing, before.listing, "the listing is kept for a later publication");
    assert_eq!(after.published_at, before.published_at);
    assert_eq!((after.version, after.last_event.as_str()), (before.version + 1, "w1"));
    let w = after.withdrawal.as_ref().unwrap();
    assert_eq!((w.event_id.as_str(), w.by.as_str(), w.by_team, w.reason.as_str()), ("w1", "u", false, "End of life."));
}

#[test]
fn only_a_published_product_can_be_withdrawn_and_the_refusal_is_permanent_and_says_why() {
    let (request, event) = withdrawal("w1", "2026-11-26T10:00:00Z");
    let missing = decide_withdrawal(None, &request, &event).unwrap_err();
    assert!(missing.is_permanent());
    assert!(missing.to_string().contains("product p of provider acme does not exist"), "{missing}");

    let draft = Product { status: ProductStatus::Draft, ..published() };
    let refused = decide_withdrawal(Some(&draft), &request, &event).unwrap_err();
    assert!(matches!(refused, DomainError::Conflict(_)), "{refused:?}");
    assert!(refused.to_string().contains("is not published (it is a draft"), "{refused}");
}

#[test]
fn a_repeated_withdrawal_changes_nothing_and_an_older_one_is_stale() {
    let product = withdrawn();
    let (again, event) = withdrawal("w2", "2026-11-26T11:00:00Z");
    assert_eq!(
        decide_withdrawal(Some(&product), &again, &event).unwrap(),
        WithdrawalDecision::AlreadyWithdrawn { withdrawn_by: "w1".into() }
    );
    let (older, event) = withdrawal("w0", "2026-11-25T09:00:00Z");
    assert_eq!(
        decide_withdrawal(Some(&published()), &older, &event).unwrap(),
        WithdrawalDecision::Stale { applied_at: published().updated_at },
        "older than the publication it would undo"
    );
}

#[test]
fn a_withdrawn_product_is_published_again_and_a_refused_request_leaves_it_withdrawn() {
    let product = withdrawn();
    let valid = validate_listing(Some(&listing())).unwrap();
    let again = event("e2", DETAIL_TYPE, "2026-11-27T10:00:00Z", json!({}));
    let Decision::Write(republished) = decide(Some(&product), &publish_request(), &[], Some(&valid), &again) else {
        panic!("the same listing publishes a withdrawn product again");
    };
    assert_eq!(republished.status, ProductStatus::Published);
    assert_eq!(republished.last_outcome, PublishOutcome::Published);
    assert_eq!(republished.withdrawal, None, "publishing ends the withdrawal");
    assert_eq!(republished.published_at, product.published_at, "first publication time kept");

    let reasons = vec!["The MPA is not approved".to_string()];
    let Decision::Write(refused) = decide(Some(&product), &publish_request(), &reasons, Some(&valid), &again) else {
        panic!("a refusal is recorded");
    };
    assert_eq!(refused.status, ProductStatus::Withdrawn);
    assert_eq!(refused.withdrawal, product.withdrawal, "still withdrawn, for the same reason");
    let text = &emails_for(&Provider::example(), &refused, &PortalConfig::example())[0].1.text;
    assert!(text.contains("The product stays withdrawn from the storefront."), "{text}");
}

#[test]
fn every_problem_of_a_withdrawal_is_listed_and_only_the_provider_or_the_team_may_withdraw() {
    let bad =
        event("w1", WITHDRAWN, "2026-11-26T10:00:00Z", json!({ "provider_id": "a b", "actor": {"role": "provider"} }));
    let DomainError::Invalid(problems) = WithdrawalRequest::from_event(&bad).unwrap_err() else {
        panic!("invalid input");
    };
    for field in ["provider_id", "product_id", "reason", "actor.id"] {
        assert!(problems.iter().any(|p| p.starts_with(field)), "{field} missing from {problems:?}");
    }
    let publish = event("w1", DETAIL_TYPE, "2026-11-26T10:00:00Z", withdrawal_detail(provider_user()));
    assert!(WithdrawalRequest::from_event(&publish).is_err(), "another detail-type is not a withdrawal");

    let by = |actor: serde_json::Value| {
        WithdrawalRequest::from_event(&event("w1", WITHDRAWN, "2026-11-26T10:00:00Z", withdrawal_detail(actor)))
            .unwrap()
            .authorize()
    };
    assert!(by(provider_user()).is_ok());
    assert!(by(json!({"id": "t", "role": "marketplace-team"})).is_ok());
    for actor in [
        json!({"id": "u", "role": "provider", "provider_id": "globex"}),
        json!({"id": "u", "role": "provider"}),
        json!({"id": "u", "role": "customer", "provider_id": "acme"}),
    ] {
        let refused = by(actor.clone()).unwrap_err();
        assert!(matches!(refused, DomainError::Forbidden(_)), "{actor}");
        assert!(refused.to_string().contains("may not withdraw products of provider acme"), "{refused}");
    }
}

#[test]
fn the_contact_and_the_team_are_each_told_with_the_reason_and_that_billing_goes_on() {
    let config = PortalConfig::example();
    let emails = withdrawal_emails(&Provider::example(), &withdrawn(), &config);
    let kinds: Vec<_> = emails.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(kinds, ["product-withdrawn", "team-product-withdrawn"]);
    let (provider_email, team_email) = (&emails[0].1, &emails[1].1);
    assert_eq!(provider_email.to, ["jane@acme.example"]);
    assert_eq!(team_email.to, std::slice::from_ref(&config.team_inbox));
    assert_eq!(provider_email.subject, "Product withdrawn: Vault");
    assert_eq!(team_email.subject, "Product withdrawn: Vault by Acme");
    for email in [provider_email, team_email] {
        for part in [&email.text, &email.html] {
            assert!(part.contains("End of life."), "{part}");
            assert!(part.contains("keep being reported and billed"), "{part}");
            assert!(part.contains("2026-11-26"), "{part}");
        }
    }
    assert!(provider_email.text.contains("by one of your users"), "{}", provider_email.text);
    assert!(provider_email.text.contains("ask to publish it in the Provider Portal"), "{}", provider_email.text);
    assert!(team_email.text.contains("by the provider's own user (portal user u)"), "{}", team_email.text);
    assert!(withdrawal_emails(&Provider::example(), &published(), &config).is_empty(), "nothing without a withdrawal");
}

/// A portal in memory with provider `acme` and its published product `p`.
async fn portal_with_published_product() -> MemoryPortal {
    let portal = MemoryPortal::default();
    let audit = |event_id: &str| AuditEntry {
        provider_id: "acme".into(),
        at: "2026-11-25T09:00:00Z".parse().unwrap(),
        event_id: event_id.into(),
        step: "0-state".into(),
        action: "Seed".into(),
        actor_id: "t".into(),
        details: serde_json::Value::Null,
    };
    let store = &portal.store;
    store.put_provider(&Provider::example(), Precondition::Absent, &audit("s1"), &[]).await.unwrap();
    store.put_product(&published(), Precondition::Absent, &audit("e1"), &[]).await.unwrap();
    portal
}

#[tokio::test]
async fn a_withdrawal_writes_once_and_sends_two_emails_once_however_often_it_comes() {
    let portal = portal_with_published_product().await;
    let services = portal.services();
    let (_, first) = withdrawal("w1", "2026-11-26T10:00:00Z");
    assert_eq!(handle_withdrawal(&first, &services).await.unwrap(), "product p withdrawn");
    let product = portal.store.product("acme", "p").unwrap();
    assert_eq!((product.status, product.version), (ProductStatus::Withdrawn, 2));
    assert_eq!(portal.mailer.sent().len(), 2);
    let audit = portal.store.audit("acme");

    // Redelivered: the outbox finds both emails sent.
    handle_withdrawal(&first, &services).await.unwrap();
    // Repeated by the portal under a new event id.
    let (_, repeat) = withdrawal("w2", "2026-11-26T11:00:00Z");
    let outcome = handle_withdrawal(&repeat, &services).await.unwrap();
    assert_eq!(outcome, "product p unchanged: already withdrawn by event w1");
    assert_eq!(portal.mailer.sent().len(), 2, "no second email");
    assert_eq!(portal.store.audit("acme"), audit, "no second write or audit entry");
    assert_eq!(portal.store.product("acme", "p").unwrap(), product);
}

#[tokio::test]
async fn a_refused_withdrawal_writes_and_sends_nothing() {
    let portal = portal_with_published_product().await;
    let services = portal.services();
    let audit = portal.store.audit("acme");
    let cases = [
        (
            json!({ "provider_id": "acme", "product_id": "nope", "actor": provider_user(), "reason": "r" }),
            "does not exist",
        ),
        (
            json!({ "provider_id": "ghost", "product_id": "p", "actor": {"id": "t", "role": "marketplace-team"}, "reason": "r" }),
            "provider ghost does not exist",
        ),
        (
            json!({ "provider_id": "acme", "product_id": "p", "actor": {"id": "u", "role": "provider", "provider_id": "globex"}, "reason": "r" }),
            "may not withdraw",
        ),
    ];
    for (i, (detail, says)) in cases.into_iter().enumerate() {
        let refused = handle_withdrawal(&event(&format!("w{i}"), WITHDRAWN, "2026-11-26T10:00:00Z", detail), &services)
            .await
            .unwrap_err();
        assert!(refused.is_permanent(), "{refused:?}");
        assert!(refused.to_string().contains(says), "{refused} should say {says:?}");
    }
    assert_eq!(portal.store.audit("acme"), audit);
    assert_eq!(portal.store.product("acme", "p").unwrap().status, ProductStatus::Published);
    assert!(portal.mailer.sent().is_empty());
}
