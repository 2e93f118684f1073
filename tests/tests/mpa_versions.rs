//! MPA versions as data against the local stack: `MpaVersionPublished` through the MPA function,
//! then acceptance and publishing before and after the new version's effective date. Each test
//! has a `Marketplace` table of its own: a published version applies to every provider of a
//! table, and the other suites share the stack's.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, SecondsFormat, Utc};
use marketplace_aws::provider_store::DynamoProviderStore;
use marketplace_aws::PortalApp;
use marketplace_tests::reports::private_table;
use marketplace_tests::*;
use serde_json::{json, Value};

const NEW: &str = "2027-01";

/// The functions on a `Marketplace` table of the test's own.
async fn private_app() -> (PortalApp, String) {
    let mut app = app().await;
    let table = private_table("Marketplace-mpa-versions", false).await;
    app.store = DynamoProviderStore::new(dynamodb().await, &table).with_claims(app.idempotency.clone());
    (app, table)
}

fn at(event: Value, time: chrono::DateTime<Utc>) -> Value {
    let mut event = event;
    event["time"] = json!(time.to_rfc3339_opts(SecondsFormat::Secs, true));
    event
}

fn version_published(version: &str, effective_at: chrono::DateTime<Utc>) -> Value {
    portal_event(
        &unique("evt"),
        "MpaVersionPublished",
        json!({
            "mpa_version": version,
            "text_url": format!("https://marketplace.example.com/legal/mpa/{version}"),
            "effective_at": effective_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "actor": {"id": "team-member-9", "role": "marketplace-team"},
        }),
    )
}

async fn item(table: &str, pk: &str, sk: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
    dynamodb()
        .await
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

fn publish_at(provider: &str, product: &str, time: chrono::DateTime<Utc>) -> Value {
    at(
        portal_event(
            &unique("evt"),
            "ProductPublishRequested",
            json!({"provider_id": provider, "product_id": product, "actor": provider_actor(provider), "listing": valid_listing()}),
        ),
        time,
    )
}

async fn product_status(app: &PortalApp, provider: &str, product: &str) -> String {
    use marketplace_portal::ports::ProviderStore;
    let product = app.store.get_product(provider, product).await.expect("read").expect("a product");
    format!("{:?}", product.status)
}

#[tokio::test]
async fn a_new_version_is_accepted_from_its_publication_and_required_from_its_effective_date() {
    let (app, table) = private_app().await;
    let first = app.config.mpa_current_version.clone();
    let (provider, address) = approved_provider(&app, "mpa-v").await;
    let effective = Utc::now() + Duration::days(30);

    let published = version_published(NEW, effective);
    assert!(run_mpa(&app, std::slice::from_ref(&published)).await.is_empty());
    let versions = item(&table, "MPA", "VERSIONS").await.expect("the versions item");
    let list = versions["versions"].as_l().expect("a list");
    assert_eq!(list.len(), 2, "the configuration's version and the new one");
    let mpa_trail = dynamodb()
        .await
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("MPA".into()))
        .send()
        .await
        .expect("query")
        .items
        .unwrap_or_default();
    assert_eq!(mpa_trail.iter().filter(|i| i["sk"].as_s().is_ok_and(|s| s.starts_with("AUDIT#"))).count(), 1);

    // Redelivered, and retried by the portal under a new id: nothing changes.
    assert!(run_mpa(&app, &[published.clone(), version_published(NEW, effective)]).await.is_empty());
    assert_eq!(
        item(&table, "MPA", "VERSIONS").await.expect("item")["version"].as_n().ok().map(String::as_str),
        Some("1")
    );

    // Before the effective date the old approval still publishes.
    assert!(run_publish(&app, &[publish_at(&provider, "before", Utc::now())]).await.is_empty());
    assert_eq!(product_status(&app, &provider, "before").await, "Published");
    // From it, publishing is refused, naming the version to accept and linking its text.
    let after = effective + Duration::hours(1);
    assert!(run_publish(&app, &[publish_at(&provider, "after", after)]).await.is_empty());
    assert_eq!(product_status(&app, &provider, "after").await, "Draft");
    let refusal = emails_to(&address).into_iter().find(|e| e.text.contains("version 2027-01 is not approved"));
    let refusal = refusal.expect("a refusal naming the new version");
    assert!(refusal.text.contains("https://marketplace.example.com/legal/mpa/2027-01"), "{}", refusal.text);

    // The old version can no longer be accepted; the new one can, and once approved it publishes.
    let old = mpa_accepted(&provider, &first);
    assert!(run_mpa(&app, &[old]).await.is_empty(), "rejected for good, not retried");
    assert!(run_mpa(&app, &[mpa_accepted(&provider, NEW)]).await.is_empty());
    assert!(run_publish(&app, &[publish_at(&provider, "pending", after)]).await.is_empty());
    assert_eq!(product_status(&app, &provider, "pending").await, "Draft", "pending approval after the date");
    assert!(run_publish(&app, &[publish_at(&provider, "pending-before", Utc::now())]).await.is_empty());
    assert_eq!(
        product_status(&app, &provider, "pending-before").await,
        "Published",
        "the old approval holds until then"
    );
    assert!(run_mpa(&app, &[mpa_decision(&provider, NEW, true, "marketplace-team")]).await.is_empty());
    assert!(run_publish(&app, &[publish_at(&provider, "approved", after + Duration::minutes(1))]).await.is_empty());
    assert_eq!(product_status(&app, &provider, "approved").await, "Published");
}

#[tokio::test]
async fn a_version_in_conflict_or_in_the_past_is_refused_and_changes_nothing() {
    let (app, table) = private_app().await;
    let effective = Utc::now() + Duration::days(10);
    assert!(run_mpa(&app, &[version_published(NEW, effective)]).await.is_empty());
    let before = item(&table, "MPA", "VERSIONS").await;
    let changed_date = version_published(NEW, effective + Duration::days(1));
    let in_the_past = version_published("2027-02", Utc::now() - Duration::days(1));
    let mut by_a_provider = version_published("2027-03", effective);
    by_a_provider["detail"]["actor"] = json!({"id": "user-1", "role": "provider", "provider_id": "acme"});
    let report = app.handle(&mpa_approval::MpaApproval, batch_of(&[changed_date, in_the_past, by_a_provider])).await;
    assert!(report.batch_item_failures.is_empty(), "refused for good, not retried");
    assert_eq!(item(&table, "MPA", "VERSIONS").await, before);
    // The welcome email of a provider signed up now names the latest version and links its text.
    let (_, address) = signed_up_provider(&app, "mpa-welcome").await;
    let welcome = &emails_to(&address)[0];
    assert!(welcome.text.contains("version 2027-01"), "{}", welcome.text);
    assert!(welcome.text.contains("https://marketplace.example.com/legal/mpa/2027-01"), "{}", welcome.text);
}
