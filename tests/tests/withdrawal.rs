//! Product withdrawal against the local stack: a published product leaves the storefront and both
//! sides are told once; repeats, redeliveries and older events change nothing; only a published
//! product of one's own may be withdrawn; a withdrawn product is published again; its provider
//! still gets its monthly statement (running deployments keep being billed).

use marketplace_aws::{PortalApp, RecordOutcome};
use marketplace_portal::product::{ProductStatus, PublishOutcome};
use marketplace_tests::*;
use serde_json::{json, Value};

const REASON: &str = "Replaced by Acme Vault 4.";

fn withdrawal_event(provider_id: &str, product_id: &str, actor: Value) -> Value {
    portal_event(
        &unique("evt"),
        "ProductWithdrawn",
        json!({ "provider_id": provider_id, "product_id": product_id, "actor": actor, "reason": REASON }),
    )
}

fn team_actor() -> Value {
    json!({"id": "team-member-9", "role": "marketplace-team"})
}

fn subjects_to(address: &str, prefix: &str) -> Vec<SentEmail> {
    emails_to(address).into_iter().filter(|e| e.subject.starts_with(prefix)).collect()
}

/// The provider's audit actions about products, in order.
async fn product_actions(provider: &str) -> Vec<String> {
    provider_items(provider).await.iter().map(|i| attr_s(i, "action")).filter(|a| a.starts_with("Product")).collect()
}

/// An approved provider with product `acme-vault` published.
async fn published(app: &PortalApp, prefix: &str) -> (String, String) {
    let (provider, address) = approved_provider(app, prefix).await;
    let publish = publish_event(&provider, "acme-vault", valid_listing(), provider_actor(&provider));
    assert!(run_publish(app, &[publish]).await.is_empty());
    (provider, address)
}

fn processed(report: &marketplace_aws::BatchReport) -> String {
    match &report.records[0].outcome {
        RecordOutcome::Processed(outcome) => outcome.clone(),
        other => panic!("expected the event processed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_withdrawn_product_leaves_the_storefront_and_both_sides_are_told_once() {
    let app = app().await;
    let (provider, address) = published(&app, "wd-ok").await;
    let before = stored_product(&app, &provider, "acme-vault").await.unwrap();
    let withdrawal = withdrawal_event(&provider, "acme-vault", provider_actor(&provider));

    assert!(run_publish(&app, std::slice::from_ref(&withdrawal)).await.is_empty());
    assert!(run_publish(&app, std::slice::from_ref(&withdrawal)).await.is_empty(), "redelivery is a no-op");

    let product = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(product.status, ProductStatus::Withdrawn);
    assert_eq!(product.listing, before.listing, "the listing is kept");
    assert_eq!(product.version, before.version + 1, "one write");
    let w = product.withdrawal.as_ref().expect("the withdrawal is recorded");
    assert_eq!((w.reason.as_str(), w.by.as_str(), w.by_team), (REASON, "user-1", false));
    assert_eq!(attr_s(&provider_item(&provider, "PRODUCT#acme-vault").await.unwrap(), "status"), "Withdrawn");

    let emails = subjects_to(&address, "Product withdrawn: Acme Vault");
    assert_eq!(emails.len(), 1, "one email to the contact despite the redelivery");
    for needle in [REASON, "by one of your users", "keep being reported", "ask to publish it in the Provider Portal"] {
        assert!(emails[0].text.contains(needle), "{needle} missing from\n{}", emails[0].text);
    }
    let team: Vec<_> =
        team_emails_about("Product withdrawn: Acme Vault").into_iter().filter(|e| e.text.contains(&provider)).collect();
    assert_eq!(team.len(), 1, "one email to the team");
    assert!(team[0].text.contains(REASON) && team[0].text.contains("portal user user-1"), "{}", team[0].text);

    // The portal repeats the withdrawal under a new event id: nothing written or sent.
    let report = publish_report(&app, &[withdrawal_event(&provider, "acme-vault", team_actor())]).await;
    let outcome = processed(&report);
    assert!(outcome.contains("unchanged: already withdrawn by event"), "{outcome}");
    assert_eq!(stored_product(&app, &provider, "acme-vault").await.unwrap(), product);
    assert_eq!(subjects_to(&address, "Product withdrawn").len(), 1);
    // One of each: the publish and the withdrawal may share a second, and entries of one second
    // sort by event id, so their order in the trail is not the order they were made.
    let mut actions = product_actions(&provider).await;
    actions.sort();
    assert_eq!(actions, vec!["ProductPublished", "ProductWithdrawn"]);
}

#[tokio::test]
async fn only_a_published_product_of_ones_own_may_be_withdrawn_and_a_refusal_changes_nothing() {
    let app = app().await;
    let (provider, address) = published(&app, "wd-refused").await;
    let (other, _) = signed_up_provider(&app, "wd-other").await;
    // A draft: refused for its listing.
    let mut broken = valid_listing();
    broken["pricing"] = json!([]);
    assert!(run_publish(&app, &[publish_event(&provider, "draft", broken, provider_actor(&provider))])
        .await
        .is_empty());
    let items_before = provider_items(&provider).await.len();
    let emails_before = emails_to(&address).len();

    let cases = [
        (withdrawal_event(&provider, "no-such-product", team_actor()), "product no-such-product of provider"),
        (withdrawal_event(&provider, "draft", team_actor()), "is not published (it is a draft"),
        (withdrawal_event(&unique("wd-ghost"), "acme-vault", team_actor()), "does not exist, so it has no product"),
        (withdrawal_event(&provider, "acme-vault", provider_actor(&other)), "may not withdraw products of provider"),
        (withdrawal_event(&provider, "acme-vault", json!({"id": "user-3", "role": "customer"})), "may not withdraw"),
    ];
    for (event, says) in cases {
        let event_id = event["id"].as_str().unwrap().to_string();
        let report = publish_report(&app, &[event]).await;
        assert_eq!(rejected(&report), vec!["m0"], "{says}: rejected for good");
        assert!(retried(&report).is_empty(), "{says}: not retried");
        let reason = rejection_reason("product-publishing", &event_id).await.expect("recorded");
        assert!(reason.contains(says), "{reason:?} should say {says:?}");
    }
    let mut no_reason = withdrawal_event(&provider, "acme-vault", team_actor());
    no_reason["detail"].as_object_mut().unwrap().remove("reason");
    assert_eq!(rejected(&publish_report(&app, &[no_reason]).await), vec!["m0"]);

    assert_eq!(provider_items(&provider).await.len(), items_before, "nothing written");
    assert_eq!(emails_to(&address).len(), emails_before, "nothing sent");
    assert_eq!(stored_product(&app, &provider, "acme-vault").await.unwrap().status, ProductStatus::Published);
}

#[tokio::test]
async fn an_older_withdrawal_delivered_late_never_undoes_a_newer_publication() {
    let app = app().await;
    let (provider, address) = approved_provider(&app, "wd-late").await;
    let mut publish = publish_event(&provider, "acme-vault", valid_listing(), provider_actor(&provider));
    publish["time"] = json!("2026-11-25T10:00:05Z");
    assert!(run_publish(&app, &[publish]).await.is_empty());
    let mut older = withdrawal_event(&provider, "acme-vault", provider_actor(&provider));
    older["time"] = json!("2026-11-25T10:00:00Z");
    let outcome = processed(&publish_report(&app, &[older]).await);
    assert!(outcome.ends_with("unchanged"), "{outcome}");
    assert_eq!(stored_product(&app, &provider, "acme-vault").await.unwrap().status, ProductStatus::Published);
    assert!(subjects_to(&address, "Product withdrawn").is_empty());
}

#[tokio::test]
async fn a_withdrawn_product_is_published_again_and_a_refused_request_keeps_it_withdrawn() {
    let app = app().await;
    let (provider, address) = published(&app, "wd-again").await;
    let first = stored_product(&app, &provider, "acme-vault").await.unwrap();
    let at = |mut event: Value, time: &str| {
        event["time"] = json!(time);
        event
    };
    let far = "2099-01-01T00:00:0";
    let withdraw = at(withdrawal_event(&provider, "acme-vault", team_actor()), &format!("{far}0Z"));
    assert!(run_publish(&app, &[withdraw]).await.is_empty());

    let mut broken = valid_listing();
    broken["pricing"] = json!([]);
    let refused = at(publish_event(&provider, "acme-vault", broken, provider_actor(&provider)), &format!("{far}1Z"));
    assert!(run_publish(&app, &[refused]).await.is_empty());
    let still = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!((still.status, still.last_outcome), (ProductStatus::Withdrawn, PublishOutcome::Refused));
    let refusal = subjects_to(&address, "Product not published");
    assert_eq!(refusal.len(), 1);
    assert!(refusal[0].text.contains("The product stays withdrawn from the storefront."), "{}", refusal[0].text);

    let again =
        at(publish_event(&provider, "acme-vault", valid_listing(), provider_actor(&provider)), &format!("{far}2Z"));
    assert!(run_publish(&app, &[again]).await.is_empty());
    let republished = stored_product(&app, &provider, "acme-vault").await.unwrap();
    assert_eq!(republished.status, ProductStatus::Published);
    assert_eq!(republished.last_outcome, PublishOutcome::Published);
    assert_eq!(republished.withdrawal, None);
    assert_eq!(republished.published_at, first.published_at, "the first publication time is kept");
    assert_eq!(subjects_to(&address, "Product published").len(), 2, "published, then published again");
    assert_eq!(
        product_actions(&provider).await,
        vec!["ProductPublished", "ProductWithdrawn", "ProductRefused", "ProductPublished"]
    );
}

#[tokio::test]
async fn a_provider_whose_only_product_is_withdrawn_still_gets_its_monthly_statement() {
    let app = app().await;
    let (provider, _) = published(&app, "wd-billed").await;
    assert!(run_publish(&app, &[withdrawal_event(&provider, "acme-vault", team_actor())]).await.is_empty());
    let providers =
        nightly_reports::aws::published::providers_with_published_products(&app.store, Some(500)).await.expect("scan");
    assert!(providers.contains(&provider), "deployments already running keep being billed");
}
