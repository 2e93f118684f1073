//! Offboarding against the local stack: the provider's published products are withdrawn in the
//! same transaction, the team is told once, the provider is sent nothing more and can no longer
//! publish; only the team may offboard; after the retention period the nightly job's erasure step
//! leaves no name or address of the provider's people in its partition.

use chrono::{DateTime, Duration, Utc};
use marketplace_aws::{PortalApp, RecordOutcome};
use marketplace_core::provider::ProviderStatus;
use marketplace_portal::offboarding::ERASURE_RETENTION_DAYS;
use marketplace_portal::product::ProductStatus;
use marketplace_tests::*;
use nightly_reports::aws::erasure::erase_due_providers;
use serde_json::{json, Value};

const REASON: &str = "The provider ended its agreement.";

fn offboarding_event(provider_id: &str, actor: Value) -> Value {
    portal_event(
        &unique("evt"),
        "ProviderOffboarded",
        json!({ "provider_id": provider_id, "actor": actor, "reason": REASON }),
    )
}

fn team_actor() -> Value {
    json!({"id": "team-member-9", "role": "marketplace-team"})
}

async fn offboard_report(app: &PortalApp, events: &[Value]) -> marketplace_aws::BatchReport {
    process(app, &signup_notification::SignupNotification, events).await
}

/// An approved provider with products `vault` and `keys` published and `draft` refused.
async fn provider_with_products(app: &PortalApp, prefix: &str) -> (String, String) {
    let (provider, address) = approved_provider(app, prefix).await;
    let mut broken = valid_listing();
    broken["pricing"] = json!([]);
    for (product, listing) in [("vault", valid_listing()), ("keys", valid_listing()), ("draft", broken)] {
        assert!(run_publish(app, &[publish_event(&provider, product, listing, provider_actor(&provider))])
            .await
            .is_empty());
    }
    (provider, address)
}

#[tokio::test]
async fn offboarding_withdraws_the_published_products_tells_the_team_once_and_the_provider_nothing_more() {
    let app = app().await;
    let (provider, address) = provider_with_products(&app, "off-ok").await;
    let emails_before = emails_to(&address).len();
    let event = offboarding_event(&provider, team_actor());
    assert!(offboard_report(&app, std::slice::from_ref(&event)).await.response().batch_item_failures.is_empty());
    assert!(offboard_report(&app, &[event]).await.response().batch_item_failures.is_empty(), "redelivery");
    let repeat = offboard_report(&app, &[offboarding_event(&provider, team_actor())]).await;
    assert!(
        matches!(&repeat.records[0].outcome, RecordOutcome::Processed(o) if o.contains("already offboarded by event")),
        "{repeat:?}"
    );

    let record = stored_provider(&app, &provider).await.unwrap();
    assert_eq!(record.status, ProviderStatus::Offboarded);
    let offboarding = record.offboarding.as_ref().unwrap();
    assert_eq!((offboarding.reason.as_str(), offboarding.by.as_str()), (REASON, "team-member-9"));
    assert_eq!(offboarding.erase_after, offboarding.at + Duration::days(ERASURE_RETENTION_DAYS));
    for (product, status) in
        [("vault", ProductStatus::Withdrawn), ("keys", ProductStatus::Withdrawn), ("draft", ProductStatus::Draft)]
    {
        assert_eq!(stored_product(&app, &provider, product).await.unwrap().status, status, "{product}");
    }
    let team: Vec<_> =
        team_emails_about("Provider offboarded").into_iter().filter(|e| e.text.contains(&provider)).collect();
    assert_eq!(team.len(), 1, "one email to the team");
    for needle in [REASON, "(vault)", "(keys)", "sent no further email"] {
        assert!(team[0].text.contains(needle), "{needle} missing from\n{}", team[0].text);
    }
    assert!(!team[0].text.contains(&address), "no address of the provider's people");
    let states: Vec<String> = provider_items(&provider)
        .await
        .iter()
        .map(|i| attr_s(i, "action"))
        .filter(|a| a == "ProviderOffboarded")
        .collect();
    assert_eq!(states.len(), 1, "one state change");

    // Nothing more for the provider: a publish request is refused for good, and no email reaches it.
    let report = publish_report(&app, &[publish_event(&provider, "vault", valid_listing(), team_actor())]).await;
    assert_eq!(rejected(&report), vec!["m0"]);
    assert_eq!(emails_to(&address).len(), emails_before, "the provider was sent nothing");
}

#[tokio::test]
async fn only_the_team_may_offboard_and_an_unknown_provider_is_refused() {
    let app = app().await;
    let (provider, _) = provider_with_products(&app, "off-refused").await;
    let items_before = provider_items(&provider).await.len();
    let cases = [
        (offboarding_event(&provider, provider_actor(&provider)), "only the marketplace team may"),
        (offboarding_event(&unique("off-ghost"), team_actor()), "does not exist: there is nothing to offboard"),
    ];
    for (event, says) in cases {
        let event_id = event["id"].as_str().unwrap().to_string();
        let report = offboard_report(&app, &[event]).await;
        assert_eq!(rejected(&report), vec!["m0"], "{says}");
        assert!(retried(&report).is_empty());
        let reason = rejection_reason("signup-notification", &event_id).await.expect("recorded");
        assert!(reason.contains(says), "{reason:?} should say {says:?}");
    }
    assert_eq!(provider_items(&provider).await.len(), items_before, "nothing written");
    assert_eq!(stored_provider(&app, &provider).await.unwrap().status, ProviderStatus::PortalAccountCreated);
}

#[tokio::test]
async fn after_the_retention_period_the_erasure_step_leaves_no_name_or_address() {
    let app = app().await;
    let (provider, address) = provider_with_products(&app, "off-erase").await;
    // Offboarded a day before the other tests' providers, so that erasing at its date erases no
    // other provider of this run, and a nightly run today (another test's) erases nothing.
    let mut event = offboarding_event(&provider, team_actor());
    event["time"] = json!((Utc::now() - Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    assert!(offboard_report(&app, &[event]).await.response().batch_item_failures.is_empty());
    let erase_after = stored_provider(&app, &provider).await.unwrap().offboarding.unwrap().erase_after;
    let personal = [address.clone(), format!("legal-{provider}@provider.example"), "Jane Doe".to_string()];
    let holds_personal = |items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]| {
        let text = format!("{items:?}");
        personal.iter().filter(|p| text.contains(p.as_str())).cloned().collect::<Vec<_>>()
    };
    assert!(!holds_personal(&provider_items(&provider).await).is_empty(), "the partition holds personal data before");

    let before: DateTime<Utc> = erase_after - Duration::seconds(1);
    let early = erase_due_providers(&app.store, before, None).await.expect("erasure");
    assert!(early.failed.is_empty(), "{early:?}");
    assert!(!holds_personal(&provider_items(&provider).await).is_empty(), "not before the retention period is over");

    let summary = erase_due_providers(&app.store, erase_after, None).await.expect("erasure");
    assert!(summary.erased >= 1 && summary.records_rewritten >= 3, "{summary:?}");
    let items = provider_items(&provider).await;
    assert_eq!(holds_personal(&items), Vec::<String>::new(), "no name or address left");
    let record = stored_provider(&app, &provider).await.unwrap();
    assert_eq!(record.offboarding.unwrap().erased_at, Some(erase_after));
    assert!(!record.company_name.is_empty(), "the company and its id stay");
    assert!(items.iter().any(|i| attr_s(i, "action") == "PersonalDataErased"));
    assert_eq!(stored_product(&app, &provider, "vault").await.unwrap().status, ProductStatus::Withdrawn);

    let again = erase_due_providers(&app.store, erase_after, None).await.expect("erasure");
    assert!(again.failed.is_empty(), "{again:?}");
    assert_eq!(provider_items(&provider).await.len(), items.len(), "erased once: nothing more written");
}
