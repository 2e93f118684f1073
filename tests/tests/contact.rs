//! `ProviderContactChanged` against the local stack: DynamoDB and SES through the real SDK.

use marketplace_aws::PortalApp;
use marketplace_core::ports::ProviderDirectory;
use marketplace_tests::*;
use serde_json::{json, Value};
use signup_notification::SignupNotification;

async fn run(app: &PortalApp, events: &[Value]) -> Vec<String> {
    failures(&app.handle(&SignupNotification, batch_of(events)).await)
}

fn contact_changed(provider: &str, name: &str, email: &str) -> Value {
    portal_event(
        &unique("evt"),
        "ProviderContactChanged",
        json!({"provider_id": provider, "contact_name": name, "contact_email": email, "actor": provider_actor(provider)}),
    )
}

#[tokio::test]
async fn the_old_and_the_new_contact_are_told_once_and_later_emails_go_to_the_new_one() {
    let app = app().await;
    let (provider, old_address) = signed_up_provider(&app, "contact").await;
    let new_address = format!("new-{provider}@provider.example");
    let change = contact_changed(&provider, "Omar Haddad", &new_address);

    assert!(run(&app, std::slice::from_ref(&change)).await.is_empty());
    // Redelivered alone and twice in one batch, and repeated by the portal under a new id.
    assert!(run(&app, &[change.clone(), change.clone()]).await.is_empty());
    assert!(run(&app, &[contact_changed(&provider, "Omar Haddad", &new_address)]).await.is_empty());

    let stored = app.store.get_provider(&provider).await.expect("read").expect("the provider");
    assert_eq!((stored.contact_name.as_str(), stored.contact_email.as_str()), ("Omar Haddad", new_address.as_str()));
    assert_eq!(stored.version, 2, "one write");
    let old = emails_to(&old_address);
    assert_eq!(old.len(), 2, "the welcome and the one notice");
    assert_eq!(old[1].subject, "You are no longer the contact for Acme Software <GmbH>");
    assert!(old[1].text.contains("Omar Haddad is now the contact"), "{}", old[1].text);
    assert!(!old[1].text.contains(&new_address), "the former contact is not given the new address");
    let new = emails_to(&new_address);
    assert_eq!(new.len(), 1);
    assert!(new[0].text.contains("in place of Jane Doe"), "{}", new[0].text);
    let trail: Vec<String> = provider_items(&provider)
        .await
        .iter()
        .filter(|i| i["sk"].as_s().is_ok_and(|s| s.starts_with("AUDIT#")))
        .filter_map(|i| i.get("action").and_then(|a| a.as_s().ok()).cloned())
        .collect();
    assert_eq!(trail.iter().filter(|a| *a == "ProviderContactChanged").count(), 1, "{trail:?}");

    // A later portal email (the MPA receipt) goes to the new contact, not the old one.
    let version = app.config.mpa_current_version.clone();
    assert!(run_mpa(&app, &[mpa_accepted(&provider, &version)]).await.is_empty());
    assert_eq!(emails_to(&new_address).len(), 2);
    assert_eq!(emails_to(&old_address).len(), 2);
}

#[tokio::test]
async fn an_invalid_or_unauthorised_change_is_refused_and_changes_nothing() {
    let app = app().await;
    let (provider, address) = signed_up_provider(&app, "contact-bad").await;
    let before = provider_items(&provider).await;
    let mut by_another = contact_changed(&provider, "Mallory", "mallory@evil.example");
    by_another["detail"]["actor"] = json!({"id": "u9", "role": "provider", "provider_id": "someone-else"});
    let mut representative_by_provider = contact_changed(&provider, "Jane Doe", &address);
    representative_by_provider["detail"]["representative"] = json!({"name": "Ana", "email": "ana@m.example"});
    let invalid = contact_changed(&provider, "", "not-an-address");
    let unknown = contact_changed(&unique("nobody"), "Omar", "omar@provider.example");
    let response =
        app.handle(&SignupNotification, batch_of(&[by_another, representative_by_provider, invalid, unknown])).await;
    // Refused for good, not retried; an unknown provider may still be signing up: retried.
    assert_eq!(failures(&response), vec!["m3"]);
    assert_eq!(provider_items(&provider).await, before);
    assert_eq!(emails_to(&address).len(), 1, "only the welcome");
    assert!(emails_to("mallory@evil.example").is_empty());
}

#[tokio::test]
async fn the_team_changes_the_representative_and_the_contact_is_told() {
    let app = app().await;
    let (provider, address) = signed_up_provider(&app, "contact-rep").await;
    let change = portal_event(
        &unique("evt"),
        "ProviderContactChanged",
        json!({"provider_id": provider, "representative": {"name": "Ana Ortiz", "email": "ana@marketplace.example"},
               "actor": {"id": "team-member-7", "role": "marketplace-team"}}),
    );
    assert!(run(&app, &[change]).await.is_empty());
    let stored = app.store.get_provider(&provider).await.expect("read").expect("the provider");
    assert_eq!(stored.representative.map(|r| r.email), Some("ana@marketplace.example".to_string()));
    let emails = emails_to(&address);
    assert_eq!(emails.len(), 2);
    assert!(
        emails[1].text.contains("Marketplace Representative is now Ana Ortiz <ana@marketplace.example>"),
        "{}",
        emails[1].text
    );
}
