//! Product publishing against the local stack: publication, every refusal reason (alone and
//! together), authorisation, duplicates, updates and out-of-order events.

use marketplace_portal::product::{ProductStatus, PublishOutcome};
use marketplace_tests::*;
use serde_json::{json, Value};

fn team_actor() -> Value {
    json!({"id": "team-member-9", "role": "marketplace-team"})
}

fn subjects_to(address: &str, prefix: &str) -> Vec<SentEmail> {
    emails_to(address).into_iter().filter(|e| e.subject.starts_with(prefix)).collect()
}

#[tokio::test]
async fn an_approved_provider_publishes_and_both_sides_are_told() {
    let app = app().await;
    let (provider, address) = approved_provider(&app, "pub-ok").await;
    let event = publish_event(&provider, "acme-vault", valid_listing(), provider_actor(&provider));

    assert!(run_publish(&app, std::slice::from_ref(&event)).await.is_empty());
    assert!(run_publish(&app, &[event]).await.is_empty(), "redelivery is a no-op");

    let product = stored_product(&app, &provider, "acme-vault").await.expect("product stored");
    assert_eq!(product.status, ProductStatus::Published);
    assert_eq!(product.last_outcome, PublishOutcome::Published);
    assert!(product.published_at.is_some());
    let listing = product.listing.unwrap();
    assert_eq!(listing.pricing[0].unit_price.to_string(), "0.000125", "sub-cent prices keep their precision");
    assert_eq!(listing.provider_share.to_string(), "0.7");
    let item = provider_item(&provider, "PRODUCT#acme-vault").await.unwrap();
    assert_eq!(attr_s(&item, "status"), "Published");

    let emails = subjects_to(&address, "Product published: Acme Vault");
    assert_eq!(emails.len(), 1, "one email despite the redelivery");
    let page = "https://marketplace.example.com/products/acme-vault";
    for needle in [
        "Acme Vault",
        "acme-vault",
        "Charged by the hour",
        "0.000125 USD per vm-hour",
        "Monthly subscription",
        "49.99 EUR per seat",
        "Your share of revenue: 70% of what customers pay (the marketplace keeps 30%).",
        page,
    ] {
        assert!(emails[0].text.contains(needle), "{needle} missing from\n{}", emails[0].text);
    }
    assert!(emails[0].html.contains(&format!("<a href=\"{page}\">{page}</a>")), "{}", emails[0].html);
    assert!(!emails[0].text.contains("0.7") && !emails[0].text.contains("hourly |"), "no raw share or model");
    let team: Vec<_> = team_emails_about("Acme Vault by").into_iter().filter(|e| e.text.contains(&provider)).collect();
    assert_eq!(team.len(), 1);
    assert!(team[0].text.contains("Provider share: 70%") && team[0].text.contains(page), "{}", team[0].text);
    let actions = product_actions(&provider).await;
    assert_eq!(actions, vec!["ProductPublished"]);
}

#[tokio::test]
async fn every_reason_is_given_at_once_and_the_product_stays_draft() {
    let app = app().await;
    let (provider, address) = signed_up_provider(&app, "pub-many").await; // no MPA at all
    let mut listing = valid_listing();
    listing["name"] = json!("");
    listing["support_email"] = json!("support-at-acme");
    listing["provider_share"] = json!("1.5");
    listing["pricing"] = json!([
        {"model": "weekly", "unit": "vm-hour", "unit_price": "1", "currency": "USD"},
        {"model": "hourly", "unit": "vm-hour", "unit_price": "-1", "currency": "USD"},
        {"model": "usage", "unit": "GB", "unit_price": "0.0000001", "currency": "usd"}
    ]);

    assert!(run_publish(&app, &[publish_event(&provider, "acme-vault", listing, provider_actor(&provider))])
        .await
        .is_empty());

    let product = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(product.status, ProductStatus::Draft);
    let expected = [
        "Marketplace Provider Agreement version 2026-01 is not approved",
        "The product name is required",
        "The support email address is not a valid email address",
        "Your share of revenue must be more than 0% and at most 100% (got 150%)",
        "Price plan 1: the billing model must be hourly, monthly, one-time or usage",
        "Price plan 2: the price must not be negative",
        "Price plan 3: the currency must be a three-letter ISO 4217 code",
        "Price plan 3: the price has more than 6 digits after the decimal point",
    ];
    assert_eq!(product.refusal_reasons.len(), expected.len(), "{:#?}", product.refusal_reasons);
    for (reason, fragment) in product.refusal_reasons.iter().zip(expected) {
        assert!(reason.contains(fragment), "{reason:?} should contain {fragment:?}");
    }
    let emails = subjects_to(&address, "Product not published");
    assert_eq!(emails.len(), 1);
    for fragment in expected {
        assert!(emails[0].text.contains(fragment), "email lacks {fragment:?}");
    }
    assert!(emails[0].text.contains("stays a draft"));
    assert!(emails[0].text.contains("Fix the listing"), "the listing has problems besides the MPA");
    for path in ["listing.", "pricing[", "unit_price", "provider_share"] {
        assert!(!emails[0].text.contains(path), "no internal field path {path:?} in\n{}", emails[0].text);
    }
}

#[tokio::test]
async fn each_listing_fault_alone_is_the_only_reason() {
    let app = app().await;
    let (provider, address) = approved_provider(&app, "pub-one").await;
    let cases: Vec<(&str, marketplace_tests::JsonEdit)> = vec![
        (
            "The summary is required",
            Box::new(|l| {
                l.as_object_mut().unwrap().remove("summary");
            }),
        ),
        ("The description is 10001 characters long", Box::new(|l| l["description"] = json!("x".repeat(10_001)))),
        ("The product name contains control characters", Box::new(|l| l["name"] = json!("Vault\u{0007}"))),
        ("The category is required", Box::new(|l| l["category"] = json!("  "))),
        (
            "The support web page must be an address starting with https://",
            Box::new(|l| l["support_url"] = json!("javascript:alert(1)")),
        ),
        ("The blueprint ID must be", Box::new(|l| l["blueprint_id"] = json!("bp with spaces"))),
        ("Your share of revenue must be more than 0%", Box::new(|l| l["provider_share"] = json!("0"))),
        ("At least one price plan is required", Box::new(|l| l["pricing"] = json!([]))),
        ("Price plan 1: the currency must be", Box::new(|l| l["pricing"][0]["currency"] = json!("XYZ"))),
        ("Price plan 1: the price must be a number", Box::new(|l| l["pricing"][0]["unit_price"] = json!("cheap"))),
        (
            "Price plan 2 repeats another plan (charged by the hour",
            Box::new(|l| l["pricing"][1] = l["pricing"][0].clone()),
        ),
    ];
    for (i, (fragment, mutate)) in cases.into_iter().enumerate() {
        let product_id = format!("product-{i}");
        let mut listing = valid_listing();
        mutate(&mut listing);
        assert!(run_publish(&app, &[publish_event(&provider, &product_id, listing, provider_actor(&provider))])
            .await
            .is_empty());
        let product = stored_product(&app, &provider, &product_id).await.unwrap();
        assert_eq!(product.status, ProductStatus::Draft, "{fragment}");
        assert_eq!(product.refusal_reasons.len(), 1, "{fragment}: {:?}", product.refusal_reasons);
        assert!(
            product.refusal_reasons[0].contains(fragment),
            "{:?} should contain {fragment:?}",
            product.refusal_reasons[0]
        );
    }
    assert_eq!(subjects_to(&address, "Product not published").len(), 11);
}

#[tokio::test]
async fn only_the_provider_itself_or_the_team_may_publish() {
    let app = app().await;
    let (provider, address) = approved_provider(&app, "pub-auth").await;
    let (other, _) = signed_up_provider(&app, "pub-other").await;
    let forbidden = [
        provider_actor(&other),
        json!({"id": "user-2", "role": "provider"}),
        json!({"id": "user-3", "role": "customer", "provider_id": provider}),
    ];
    for actor in forbidden {
        let report =
            publish_report(&app, &[publish_event(&provider, "acme-vault", valid_listing(), actor.clone())]).await;
        assert_eq!(rejected(&report), vec!["m0"], "{actor}: rejected for good");
        assert!(retried(&report).is_empty(), "{actor}: not retried");
        assert!(stored_product(&app, &provider, "acme-vault").await.is_none(), "{actor}: nothing written");
    }
    assert!(emails_to(&address).iter().all(|e| !e.subject.starts_with("Product")), "nothing sent");

    assert!(run_publish(&app, &[publish_event(&provider, "acme-vault", valid_listing(), team_actor())])
        .await
        .is_empty());
    assert_eq!(stored_product(&app, &provider, "acme-vault").await.unwrap().status, ProductStatus::Published);
}

#[tokio::test]
async fn unknown_providers_and_malformed_requests_write_nothing() {
    let app = app().await;
    let ghost = unique("pub-ghost");
    // An unknown provider may still be signing up: retried, not rejected.
    let report = publish_report(&app, &[publish_event(&ghost, "p", valid_listing(), team_actor())]).await;
    assert_eq!(retried(&report), vec!["m0"]);
    assert!(provider_items(&ghost).await.is_empty());

    let (provider, _) = approved_provider(&app, "pub-malformed").await;
    let mut no_product = publish_event(&provider, "p", valid_listing(), team_actor());
    no_product["detail"].as_object_mut().unwrap().remove("product_id");
    let mut no_actor = publish_event(&provider, "p", valid_listing(), team_actor());
    no_actor["detail"].as_object_mut().unwrap().remove("actor");
    let report = publish_report(&app, &[no_product, no_actor]).await;
    assert_eq!(rejected(&report), vec!["m0", "m1"]);
    assert!(retried(&report).is_empty());
    assert!(provider_items(&provider).await.iter().all(|i| !attr_s(i, "sk").starts_with("PRODUCT#")));
}

#[tokio::test]
async fn a_publish_before_approval_is_refused_then_succeeds_after_it() {
    let app = app().await;
    let (provider, address) = signed_up_provider(&app, "pub-order").await;
    let version = app.config.mpa_current_version.clone();
    assert!(run_mpa(&app, &[mpa_accepted(&provider, &version)]).await.is_empty());

    assert!(run_publish(&app, &[publish_event(&provider, "acme-vault", valid_listing(), provider_actor(&provider))])
        .await
        .is_empty());
    let draft = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(draft.status, ProductStatus::Draft);
    assert_eq!(draft.refusal_reasons.len(), 1);
    assert!(draft.refusal_reasons[0].contains("waiting for the marketplace team's approval"));
    assert!(draft.refused_for_mpa_only, "the listing was valid");
    let refused = subjects_to(&address, "Product not published: Acme Vault");
    assert_eq!(refused.len(), 1);
    assert!(!refused[0].text.contains("Fix the listing"), "nothing to fix in the listing:\n{}", refused[0].text);
    assert!(refused[0].text.contains("Your listing itself is complete and needs no change"), "{}", refused[0].text);
    assert!(refused[0].text.contains("https://marketplace.example.com/legal/mpa"), "links the agreement text");

    assert!(run_mpa(&app, &[mpa_decision(&provider, &version, true, "marketplace-team")]).await.is_empty());
    assert!(run_publish(&app, &[publish_event(&provider, "acme-vault", valid_listing(), provider_actor(&provider))])
        .await
        .is_empty());
    let product = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(product.status, ProductStatus::Published);
    assert!(product.refusal_reasons.is_empty());
    assert_eq!(subjects_to(&address, "Product not published").len(), 1);
    assert_eq!(subjects_to(&address, "Product published").len(), 1);
}

#[tokio::test]
async fn updates_are_published_unchanged_requests_are_no_ops_and_refused_updates_keep_the_live_listing() {
    let app = app().await;
    let (provider, address) = approved_provider(&app, "pub-update").await;
    let publish = |listing: Value| publish_event(&provider, "acme-vault", listing, provider_actor(&provider));
    assert!(run_publish(&app, &[publish(valid_listing())]).await.is_empty());
    let first = stored_product(&app, &provider, "acme-vault").await.unwrap();

    // The same listing again, as a new request: nothing changes, nothing is sent.
    assert!(run_publish(&app, &[publish(valid_listing())]).await.is_empty());
    assert_eq!(stored_product(&app, &provider, "acme-vault").await.unwrap(), first);

    // A changed listing is an update.
    let mut changed = valid_listing();
    changed["summary"] = json!("Secrets management for every team.");
    assert!(run_publish(&app, &[publish(changed.clone())]).await.is_empty());
    let updated = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(updated.last_outcome, PublishOutcome::Updated);
    assert_eq!(updated.published_at, first.published_at, "first publication time is kept");
    assert_eq!(updated.listing.as_ref().unwrap().summary, "Secrets management for every team.");

    // An invalid update is refused; the published listing stays live.
    let mut broken = changed.clone();
    broken["pricing"] = json!([]);
    assert!(run_publish(&app, &[publish(broken)]).await.is_empty());
    let after = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(after.status, ProductStatus::Published);
    assert_eq!(after.listing, updated.listing);
    assert_eq!(after.last_outcome, PublishOutcome::Refused);

    assert_eq!(subjects_to(&address, "Product published").len(), 1);
    assert_eq!(subjects_to(&address, "Product updated").len(), 1);
    let refused = subjects_to(&address, "Product not published");
    assert_eq!(refused.len(), 1);
    assert!(refused[0].text.contains("already published stays live"));
}

#[tokio::test]
async fn a_provider_on_an_old_mpa_version_cannot_publish() {
    let mut app = app().await;
    let (provider, _) = approved_provider(&app, "pub-oldmpa").await;
    app.config.mpa_current_version = "2027-01".into();
    assert!(run_publish(&app, &[publish_event(&provider, "acme-vault", valid_listing(), provider_actor(&provider))])
        .await
        .is_empty());
    let product = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(product.status, ProductStatus::Draft);
    assert_eq!(product.refusal_reasons.len(), 1);
    assert!(product.refusal_reasons[0].contains("version 2027-01 is not approved"), "{:?}", product.refusal_reasons);
    assert!(product.refusal_reasons[0].contains("version 2026-01"));
}

#[tokio::test]
async fn an_older_request_delivered_late_never_overwrites_a_newer_listing() {
    let app = app().await;
    let (provider, address) = approved_provider(&app, "pub-late").await;
    let mut older = publish_event(&provider, "acme-vault", valid_listing(), provider_actor(&provider));
    older["time"] = json!("2026-11-25T10:00:00Z");
    let mut newer_listing = valid_listing();
    newer_listing["summary"] = json!("The newer summary.");
    let mut newer = publish_event(&provider, "acme-vault", newer_listing, provider_actor(&provider));
    newer["time"] = json!("2026-11-25T10:00:05Z");

    assert!(run_publish(&app, &[newer]).await.is_empty());
    let report = publish_report(&app, &[older]).await;
    assert!(
        matches!(&report.records[0].outcome, marketplace_aws::RecordOutcome::Processed(o) if o.contains("unchanged"))
    );
    let product = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(product.listing.unwrap().summary, "The newer summary.");
    assert_eq!(subjects_to(&address, "Product published").len(), 1, "the stale request sends nothing");
}

#[tokio::test]
async fn a_huge_refused_request_is_stored_cut_to_fit_one_item() {
    let app = app().await;
    let (provider, address) = approved_provider(&app, "pub-huge").await;
    let mut deep = json!("leaf");
    for _ in 0..60 {
        deep = json!({ "n": deep });
    }
    let mut listing = valid_listing();
    listing["name"] = json!("n".repeat(5_000));
    listing["description"] = json!("d".repeat(150_000));
    listing["nested"] = deep;
    listing["support_url"] = json!(format!("http://{}", "u".repeat(60_000)));
    listing["pricing"] = json!((0..40)
        .map(|i| json!({"model": "weekly", "unit": "u".repeat(500), "unit_price": 1e300, "currency": i}))
        .collect::<Vec<_>>());
    let report = publish_report(&app, &[publish_event(&provider, "huge", listing, provider_actor(&provider))]).await;
    assert!(matches!(report.records[0].outcome, marketplace_aws::RecordOutcome::Processed(_)), "{report:?}");
    let product = stored_product(&app, &provider, "huge").await.unwrap();
    assert_eq!(product.status, ProductStatus::Draft);
    assert!(product.requested_listing.unwrap().contains("(cut: "));
    assert!(product.refusal_reasons.iter().any(|r| r.contains("(cut: ")), "a long quoted value is cut");
    assert_eq!(subjects_to(&address, "Product not published").len(), 1);
}

#[tokio::test]
async fn a_refused_request_repeated_under_a_new_event_id_changes_nothing() {
    let app = app().await;
    let (provider, address) = approved_provider(&app, "pub-retry").await;
    let mut broken = valid_listing();
    broken["pricing"] = json!([]);
    let publish = |listing: Value| publish_event(&provider, "acme-vault", listing, provider_actor(&provider));
    assert!(run_publish(&app, &[publish(broken.clone())]).await.is_empty());
    let refused = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(refused.last_outcome, PublishOutcome::Refused);

    // The portal retries the same request with a new event id: no write, no audit entry, no email.
    let report = publish_report(&app, &[publish(broken)]).await;
    assert!(
        matches!(&report.records[0].outcome, marketplace_aws::RecordOutcome::Processed(o)
            if o.contains(&format!("the same request was refused by event {}", refused.last_event))),
        "{report:?}"
    );
    assert_eq!(stored_product(&app, &provider, "acme-vault").await.unwrap(), refused);
    assert_eq!(subjects_to(&address, "Product not published").len(), 1, "one refusal email");
    let actions = product_actions(&provider).await;
    assert_eq!(actions, vec!["ProductRefused"]);

    // The fixed listing is evaluated as usual.
    assert!(run_publish(&app, &[publish(valid_listing())]).await.is_empty());
    assert_eq!(stored_product(&app, &provider, "acme-vault").await.unwrap().status, ProductStatus::Published);
}

/// The provider's audit actions about products, in order.
async fn product_actions(provider: &str) -> Vec<String> {
    provider_items(provider).await.iter().map(|i| attr_s(i, "action")).filter(|a| a.starts_with("Product")).collect()
}
