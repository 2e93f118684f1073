use serde_json::json;

use super::erasure::{erased_provider, erased_value, is_due, ERASED};
use super::{
    decide_offboarding, erase_after, offboard_provider, offboarding_emails, OffboardingDecision, OffboardingRequest,
    DETAIL_TYPE, MAX_PRODUCTS_WITHDRAWN,
};
use crate::event::Actor;
use crate::event::PortalEvent;
use crate::memory::MemoryPortal;
use crate::ports::{AuditEntry, Precondition, ProviderStore};
use crate::product::{
    decide, validate_listing, Decision, Product, ProductStatus, PublishRequest, DETAIL_TYPE as PUBLISH,
};
use marketplace_core::email::Email;
use marketplace_core::provider::{MpaRecord, MpaStatus, Person, Provider, ProviderStatus};
use marketplace_core::{DomainError, PortalConfig};

fn event(id: &str, detail_type: &str, time: &str, detail: serde_json::Value) -> PortalEvent {
    PortalEvent {
        id: id.into(),
        detail_type: detail_type.into(),
        source: "marketplace.portal".into(),
        time: time.parse().unwrap(),
        detail,
    }
}

fn team() -> serde_json::Value {
    json!({"id": "team-member-9", "role": "marketplace-team"})
}

fn offboarding(id: &str, actor: serde_json::Value) -> PortalEvent {
    event(
        id,
        DETAIL_TYPE,
        "2026-12-01T10:00:00Z",
        json!({"provider_id": "acme", "actor": actor, "reason": "Contract ended."}),
    )
}

fn product(product_id: &str, status: ProductStatus) -> Product {
    let listing = json!({
        "name": format!("Product {product_id}"), "summary": "S.", "description": "D.", "category": "security",
        "support_email": "support@acme.example", "blueprint_id": "bp-1", "provider_share": "0.7",
        "pricing": [{"model": "hourly", "unit": "vm-hour", "unit_price": "0.125", "currency": "USD"}]
    });
    let request = PublishRequest {
        provider_id: "acme".into(),
        product_id: product_id.into(),
        actor: Actor { id: "u".into(), role: "provider".into() },
        actor_provider_id: Some("acme".into()),
        listing: Some(listing.clone()),
    };
    let valid = validate_listing(Some(&listing)).unwrap();
    let Decision::Write(published) =
        decide(None, &request, &[], Some(&valid), &event("p", PUBLISH, "2026-11-25T10:00:00Z", json!({})))
    else {
        panic!("published");
    };
    Product { status, ..*published }
}

fn provider() -> Provider {
    Provider {
        mpa: Some(MpaRecord {
            version: "2026-01".into(),
            status: MpaStatus::Approved,
            accepted_by: Person { id: "u1".into(), name: "Jane Roe".into(), email: "legal@acme.example".into() },
            accepted_at: "2026-11-01T00:00:00Z".parse().unwrap(),
            accepted_event: "e-accept".into(),
            decided_by: None,
            decided_at: None,
            decided_event: None,
            rejection_reason: None,
            still_approved: None,
        }),
        ..Provider::example()
    }
}

fn write(decision: OffboardingDecision) -> (Provider, Vec<(Product, Precondition)>) {
    match decision {
        OffboardingDecision::Write { provider, products } => (*provider, products),
        other => panic!("expected a write, got {other:?}"),
    }
}

#[test]
fn offboarding_withdraws_every_published_product_with_the_provider_and_sets_the_erasure_date() {
    let e = offboarding("o1", team());
    let request = OffboardingRequest::from_event(&e).unwrap();
    let products = [
        product("a", ProductStatus::Published),
        product("b", ProductStatus::Draft),
        product("c", ProductStatus::Published),
    ];
    let (next, writes) = write(decide_offboarding(&provider(), &products, &request, &e).unwrap());
    assert_eq!(next.status, ProviderStatus::Offboarded);
    assert_eq!(next.version, provider().version + 1);
    let o = next.offboarding.as_ref().unwrap();
    assert_eq!((o.event_id.as_str(), o.by.as_str(), o.reason.as_str()), ("o1", "team-member-9", "Contract ended."));
    assert_eq!(o.erase_after, "2027-03-01T10:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap(), "90 days on");
    assert_eq!(o.erase_after, erase_after(e.time));
    let ids: Vec<_> = writes.iter().map(|(p, _)| p.product_id.as_str()).collect();
    assert_eq!(ids, ["a", "c"], "drafts stay drafts");
    for (p, precondition) in &writes {
        assert_eq!(p.status, ProductStatus::Withdrawn);
        assert_eq!(*precondition, Precondition::Version(p.version - 1));
        let w = p.withdrawal.as_ref().unwrap();
        assert!(w.by_team && w.reason == "The provider was offboarded: Contract ended.", "{w:?}");
    }
}

#[test]
fn only_the_team_offboards_a_repeat_changes_nothing_and_too_many_products_are_refused_with_what_to_do() {
    for actor in [json!({"id": "u", "role": "provider", "provider_id": "acme"}), json!({"id": "u", "role": "customer"})]
    {
        let refused = OffboardingRequest::from_event(&offboarding("o1", actor)).unwrap().authorize().unwrap_err();
        assert!(
            matches!(refused, DomainError::Forbidden(_)) && refused.to_string().contains("only the marketplace team")
        );
    }
    let DomainError::Invalid(problems) =
        OffboardingRequest::from_event(&event("o1", DETAIL_TYPE, "2026-12-01T10:00:00Z", json!({}))).unwrap_err()
    else {
        panic!("invalid");
    };
    for field in ["provider_id", "reason", "actor.id"] {
        assert!(problems.iter().any(|p| p.starts_with(field)), "{field}: {problems:?}");
    }

    let e = offboarding("o1", team());
    let request = OffboardingRequest::from_event(&e).unwrap();
    let (offboarded, _) = write(decide_offboarding(&provider(), &[], &request, &e).unwrap());
    let again = offboarding("o2", team());
    assert_eq!(
        decide_offboarding(&offboarded, &[], &request, &again).unwrap(),
        OffboardingDecision::AlreadyOffboarded { by_event: "o1".into() }
    );

    let many: Vec<Product> =
        (0..=MAX_PRODUCTS_WITHDRAWN).map(|i| product(&format!("p{i:03}"), ProductStatus::Published)).collect();
    let refused = decide_offboarding(&provider(), &many, &request, &e).unwrap_err();
    assert!(refused.is_permanent());
    assert!(refused.to_string().contains("has 91 published products"), "{refused}");
    assert!(refused.to_string().contains("withdraw at least 1 of them first"), "{refused}");
}

#[test]
fn the_team_is_told_once_and_the_email_names_no_person() {
    let e = offboarding("o1", team());
    let request = OffboardingRequest::from_event(&e).unwrap();
    let products = [product("a", ProductStatus::Published)];
    let (next, writes) = write(decide_offboarding(&provider(), &products, &request, &e).unwrap());
    let withdrawn: Vec<Product> = writes.into_iter().map(|(p, _)| p).collect();
    let config = PortalConfig::example();
    let emails = offboarding_emails(&next, &withdrawn, &config);
    assert_eq!(emails.len(), 1);
    let (kind, email) = &emails[0];
    assert_eq!(*kind, "team-provider-offboarded");
    assert_eq!(email.to, std::slice::from_ref(&config.team_inbox));
    for needle in [
        "Contract ended.",
        "\"Product a\" (a)",
        "2027-03-01",
        "sent no further email",
        "keep being reported and billed",
    ] {
        assert!(email.text.contains(needle), "{needle} missing from\n{}", email.text);
    }
    for personal in ["Jane", "jane@acme.example", "legal@acme.example"] {
        assert!(!email.text.contains(personal) && !email.html.contains(personal), "{personal}");
    }
}

#[test]
fn erasure_is_due_after_the_retention_and_leaves_no_name_or_address() {
    let e = offboarding("o1", team());
    let request = OffboardingRequest::from_event(&e).unwrap();
    let (offboarded, _) = write(decide_offboarding(&provider(), &[], &request, &e).unwrap());
    let due = offboarded.offboarding.as_ref().unwrap().erase_after;
    assert!(!is_due(&provider(), due), "never for a provider still on board");
    assert!(!is_due(&offboarded, due - chrono::Duration::seconds(1)));
    assert!(is_due(&offboarded, due));
    let erased = erased_provider(&offboarded, due);
    assert!(!is_due(&erased, due), "erased once");
    let text = serde_json::to_string(&erased).unwrap();
    for personal in ["Jane", "jane@acme.example", "legal@acme.example", "Roe"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
    assert_eq!(erased.provider_id, "acme");
    assert_eq!(erased.company_name, offboarded.company_name);
    assert_eq!(erased.offboarding.as_ref().unwrap().erased_at, Some(due));
    assert_eq!(erased.version, offboarded.version + 1);

    let details = json!({ "kind": "welcome", "to": ["jane@acme.example"], "subject": "Welcome, Acme",
        "accepted_by": {"id": "u1", "name": "Jane Roe", "email": "legal@acme.example"}, "note": "cc x@y.example",
        "message_id": "m-1" });
    let erased = erased_value(&details).unwrap();
    assert_eq!(
        erased,
        json!({ "kind": "welcome", "to": [ERASED], "subject": "Welcome, Acme",
            "accepted_by": {"id": "u1", "name": ERASED, "email": ERASED}, "note": ERASED, "message_id": "m-1" })
    );
    assert_eq!(erased_value(&erased), None, "erasing twice changes nothing");
}

/// A portal in memory with provider `acme` (its MPA approved) and products.
async fn portal(products: &[Product]) -> MemoryPortal {
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
    portal.store.put_provider(&provider(), Precondition::Absent, &audit("s0"), &[]).await.unwrap();
    for (i, p) in products.iter().enumerate() {
        portal.store.put_product(p, Precondition::Absent, &audit(&format!("s{}", i + 1)), &[]).await.unwrap();
    }
    portal
}

#[tokio::test]
async fn an_offboarding_is_one_write_and_one_team_email_however_often_it_comes_and_the_provider_is_emailed_no_more() {
    let portal = portal(&[product("a", ProductStatus::Published), product("b", ProductStatus::Draft)]).await;
    let services = portal.services();
    let e = offboarding("o1", team());
    assert_eq!(offboard_provider(&e, &services).await.unwrap(), "provider acme offboarded; 1 products withdrawn");
    assert_eq!(portal.store.provider("acme").unwrap().status, ProviderStatus::Offboarded);
    assert_eq!(portal.store.product("acme", "a").unwrap().status, ProductStatus::Withdrawn);
    assert_eq!(portal.store.product("acme", "b").unwrap().status, ProductStatus::Draft);
    let sent = portal.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, std::slice::from_ref(&portal.config.team_inbox));
    let audit = portal.store.audit("acme");

    offboard_provider(&e, &services).await.unwrap();
    let repeat = offboard_provider(&offboarding("o2", team()), &services).await.unwrap();
    assert_eq!(repeat, "provider acme unchanged: already offboarded by event o1");
    assert_eq!(portal.mailer.sent().len(), 1, "no second email");
    assert_eq!(portal.store.audit("acme"), audit, "no second write");

    // Later emails about the provider reach the team only; its own are suppressed, not sent.
    let withdraw = event(
        "w1",
        crate::product::WITHDRAWN,
        "2026-12-02T10:00:00Z",
        json!({"provider_id": "acme", "product_id": "a", "actor": team(), "reason": "r"}),
    );
    crate::product::handle_withdrawal(&withdraw, &services).await.unwrap();
    let publish = event(
        "p2",
        PUBLISH,
        "2026-12-02T10:00:00Z",
        json!({"provider_id": "acme", "product_id": "b", "actor": team(), "listing": {}}),
    );
    let refused = crate::product::handle_publish_request(&publish, &services).await.unwrap_err();
    assert!(refused.is_permanent() && refused.to_string().contains("has been offboarded"), "{refused}");
    let offboarded = portal.store.provider("acme").unwrap();
    let config = &portal.config;
    let both = marketplace_core::email::compose(
        config,
        vec![offboarded.contact_email.clone(), config.team_inbox.clone()],
        "Notice",
        &marketplace_core::email::Message::new("Hello"),
    );
    let contact_only = marketplace_core::email::compose(
        config,
        vec![offboarded.contact_email.clone()],
        "Notice",
        &marketplace_core::email::Message::new("Hello"),
    );
    let later = event("n1", PUBLISH, "2026-12-03T10:00:00Z", json!({}));
    crate::outbox::send_once(
        &services,
        &later,
        &offboarded,
        "t",
        vec![("both", both), ("contact", contact_only)],
        false,
    )
    .await
    .unwrap();
    assert_eq!(portal.mailer.sent().len(), 2, "the team's copy only");
    let to_provider: Vec<Email> =
        portal.mailer.sent().into_iter().filter(|m| m.to.iter().any(|t| t != &portal.config.team_inbox)).collect();
    assert!(to_provider.is_empty(), "{to_provider:?}");
}

#[tokio::test]
async fn offboarding_an_unknown_provider_is_refused_for_good_and_changes_nothing() {
    let portal = portal(&[]).await;
    let e = event(
        "o1",
        DETAIL_TYPE,
        "2026-12-01T10:00:00Z",
        json!({"provider_id": "ghost", "actor": team(), "reason": "r"}),
    );
    let refused = offboard_provider(&e, &portal.services()).await.unwrap_err();
    assert!(refused.is_permanent() && refused.to_string().contains("provider ghost does not exist"), "{refused}");
    assert!(portal.mailer.sent().is_empty());
}
