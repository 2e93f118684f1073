//! Sign-up notification against the local stack: DynamoDB and SES through the real SDK.

use aws_sdk_dynamodb::types::AttributeValue;
use marketplace_aws::{PortalApp, PortalOperation};
use marketplace_tests::*;
use serde_json::{json, Value};
use signup_notification::SignupNotification;

async fn run(app: &PortalApp, events: &[Value]) -> Vec<String> {
    failures(&app.handle(&SignupNotification, batch_of(events)).await)
}

fn text(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

#[tokio::test]
async fn new_provider_is_recorded_and_welcomed_once() {
    let app = app().await;
    let provider = unique("acme");
    let address = format!("{provider}@acme.example");
    let event = signup_event(&provider, &address);

    assert_eq!(run(&app, std::slice::from_ref(&event)).await, Vec::<String>::new());

    let items = provider_items(&provider).await;
    let profile = items.iter().find(|i| text(i, "sk") == "PROFILE").expect("provider item");
    assert_eq!(text(profile, "status"), "PortalAccountCreated");
    assert_eq!(text(profile, "account_alias"), format!("{provider}-prod"));
    assert_eq!(text(profile, "created_by_event"), event["id"].as_str().unwrap());
    let audit: Vec<String> =
        items.iter().filter(|i| text(i, "sk").starts_with("AUDIT#")).map(|i| text(i, "action")).collect();
    assert_eq!(audit, vec!["PortalAccountCreated", "EmailSent"]);

    let emails = emails_to(&address);
    assert_eq!(emails.len(), 1, "exactly one welcome email");
    let email = &emails[0];
    assert_eq!(email.from, "no-reply@marketplace.example.com");
    assert_eq!(email.reply_to, "support@marketplace.example.com");
    assert_eq!(email.subject, "Welcome to the Marketplace Provider Portal, Acme Software <GmbH>");
    for needle in [
        format!("{provider}-prod"),
        "same credentials".to_string(),
        "https://portal.marketplace.example.com".to_string(),
        "https://docs.marketplace.example.com/providers/getting-started".to_string(),
        "Marketplace Provider Agreement (MPA), version 2026-01".to_string(),
        "training videos".to_string(),
        "marketplace-team@marketplace.example.com".to_string(),
    ] {
        assert!(email.text.contains(&needle), "text part lacks {needle:?}:\n{}", email.text);
        assert!(email.html.contains(&needle), "html part lacks {needle:?}:\n{}", email.html);
    }
    assert!(email.html.contains("Acme Software &lt;GmbH&gt;"), "company name is escaped in HTML");
}

#[tokio::test]
async fn redelivered_event_sends_nothing_and_changes_nothing() {
    let app = app().await;
    let provider = unique("dup");
    let address = format!("{provider}@acme.example");
    let event = signup_event(&provider, &address);

    assert!(run(&app, std::slice::from_ref(&event)).await.is_empty());
    let before = provider_items(&provider).await;
    // Delivered again, alone and twice inside one batch.
    assert!(run(&app, std::slice::from_ref(&event)).await.is_empty());
    assert!(run(&app, &[event.clone(), event.clone()]).await.is_empty());

    assert_eq!(provider_items(&provider).await, before);
    assert_eq!(emails_to(&address).len(), 1);
}

#[tokio::test]
async fn concurrent_deliveries_of_one_event_send_one_email() {
    let app = app().await;
    let provider = unique("race");
    let address = format!("{provider}@acme.example");
    let event = signup_event(&provider, &address);
    let app = &app;
    let runs = (0..8).map(|_| {
        let event = event.clone();
        async move { run(app, &[event]).await }
    });
    let results = futures::future::join_all(runs).await;
    // Losers of the race see the claim in progress and ask for a retry; nobody sends twice.
    assert!(results.iter().any(|failed| failed.is_empty()), "one delivery succeeds");
    assert_eq!(emails_to(&address).len(), 1);
    // The retries of the losers are then duplicates.
    assert!(run(app, &[event]).await.is_empty());
    assert_eq!(emails_to(&address).len(), 1);
}

#[tokio::test]
async fn a_second_different_event_for_the_same_provider_is_a_conflict() {
    let app = app().await;
    let provider = unique("conflict");
    let address = format!("{provider}@acme.example");
    assert!(run(&app, &[signup_event(&provider, &address)]).await.is_empty());
    let before = provider_items(&provider).await;

    let other_address = format!("{provider}-other@acme.example");
    let second = signup_event(&provider, &other_address);
    let report = signup_report(&app, std::slice::from_ref(&second)).await;

    assert_eq!(rejected(&report), vec!["m0"], "the conflicting event is rejected for good, not applied");
    assert!(retried(&report).is_empty(), "and not retried");
    let reason = rejection_reason(SignupNotification::FUNCTION, second["id"].as_str().unwrap()).await;
    assert!(reason.unwrap().contains("already has a portal account"), "the reason is recorded");
    assert_eq!(provider_items(&provider).await, before, "the first sign-up is not overwritten");
    assert!(emails_to(&other_address).is_empty());
    assert_eq!(emails_to(&address).len(), 1);
}

#[tokio::test]
async fn invalid_events_write_nothing_and_send_nothing() {
    let app = app().await;
    let cases: Vec<(&str, marketplace_tests::JsonEdit)> = vec![
        (
            "missing contact_email",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("contact_email");
            }),
        ),
        (
            "missing actor",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("actor");
            }),
        ),
        ("not an address", Box::new(|d| d["contact_email"] = json!("jane-at-acme"))),
        (
            "header injection in address",
            Box::new(|d| d["contact_email"] = json!("jane@acme.example\r\nBcc: x@evil.example")),
        ),
        ("control characters in name", Box::new(|d| d["contact_name"] = json!("Jane\r\nBcc: x@evil.example"))),
        ("company name too long", Box::new(|d| d["company_name"] = json!("x".repeat(201)))),
        ("provider role", Box::new(|d| d["actor"]["role"] = json!("provider"))),
        ("provider_id with separator", Box::new(|d| d["provider_id"] = json!("acme#1"))),
        ("field of the wrong type", Box::new(|d| d["company_name"] = json!(42))),
    ];
    for (name, mutate) in cases {
        let provider = unique("invalid");
        let address = format!("{provider}@acme.example");
        let mut detail = signup_detail(&provider, &address);
        mutate(&mut detail);
        let event = portal_event(&unique("evt"), "ProviderAccountCreated", detail);
        let report = signup_report(&app, std::slice::from_ref(&event)).await;
        assert_eq!(rejected(&report), vec!["m0"], "{name}: rejected for good");
        assert!(retried(&report).is_empty(), "{name}: not retried");
        let reason = rejection_reason(SignupNotification::FUNCTION, event["id"].as_str().unwrap()).await;
        assert!(reason.is_some_and(|r| r.starts_with("invalid input")), "{name}: reason recorded");
        assert!(provider_items(&provider).await.is_empty(), "{name}: nothing written");
        assert!(emails_to(&address).is_empty(), "{name}: nothing sent");
    }

    // Envelopes that are not portal sign-ups at all.
    let provider = unique("invalid");
    let address = format!("{provider}@acme.example");
    let mut wrong_source = signup_event(&provider, &address);
    wrong_source["source"] = json!("someone.else");
    let mut no_id = signup_event(&provider, &address);
    no_id.as_object_mut().unwrap().remove("id");
    let wrong_type = portal_event(&unique("evt"), "MpaAccepted", signup_detail(&provider, &address));
    let bodies = vec!["not json".to_string(), wrong_source.to_string(), no_id.to_string(), wrong_type.to_string()];
    let report = app.process(&SignupNotification, sqs_batch(&bodies), chrono::Utc::now() + INVOCATION_TIME).await;
    assert_eq!(rejected(&report), vec!["m0", "m1", "m2", "m3"]);
    assert!(retried(&report).is_empty());
    assert!(provider_items(&provider).await.is_empty());
    assert!(emails_to(&address).is_empty());
}

#[tokio::test]
async fn one_bad_record_fails_alone_in_a_batch() {
    let app = app().await;
    let (p1, p2, bad) = (unique("batch"), unique("batch"), unique("batch"));
    let mut invalid = signup_detail(&bad, "not-an-address");
    invalid["company_name"] = json!("");
    let events = [
        signup_event(&p1, &format!("{p1}@acme.example")),
        portal_event(&unique("evt"), "ProviderAccountCreated", invalid),
        signup_event(&p2, &format!("{p2}@acme.example")),
    ];
    let report = signup_report(&app, &events).await;
    assert_eq!(rejected(&report), vec!["m1"]);
    assert!(retried(&report).is_empty());
    assert_eq!(emails_to(&format!("{p1}@acme.example")).len(), 1);
    assert_eq!(emails_to(&format!("{p2}@acme.example")).len(), 1);
    assert!(provider_items(&bad).await.is_empty());
}

#[tokio::test]
async fn a_failed_send_is_retried_without_recording_the_provider_twice() {
    // An unverified sender makes SES (and the emulator's sandbox) refuse the message.
    let mut app = app().await;
    let verified = app.config.clone();
    app.config.sender = "unverified@marketplace.example.com".into();
    let provider = unique("retry");
    let address = format!("{provider}@acme.example");
    let event = signup_event(&provider, &address);

    let report = signup_report(&app, std::slice::from_ref(&event)).await;
    assert_eq!(retried(&report), vec!["m0"], "a transient failure asks for a retry");
    assert!(rejected(&report).is_empty(), "and is not rejected");
    assert!(emails_to(&address).is_empty());
    let profile_before = provider_items(&provider).await;
    assert_eq!(profile_before.iter().filter(|i| text(i, "sk") == "PROFILE").count(), 1);

    app.config = verified;
    assert!(run(&app, std::slice::from_ref(&event)).await.is_empty(), "the redelivery completes the work");
    let emails = emails_to(&address);
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].from, "no-reply@marketplace.example.com");
    let items = provider_items(&provider).await;
    assert_eq!(items.iter().filter(|i| text(i, "action") == "PortalAccountCreated").count(), 1);
    assert_eq!(items.iter().filter(|i| text(i, "action") == "EmailSent").count(), 1);
}

/// The representative given at sign-up is stored on the provider record and named in the welcome;
/// without one, the team default (`DEFAULT_REPRESENTATIVE_*`) is. Both welcomes link the MPA text.
#[tokio::test]
async fn the_welcome_names_the_representative_and_links_the_agreement() {
    let app = app().await;
    let own = unique("rep-own");
    let own_address = format!("{own}@acme.example");
    let mut detail = signup_detail(&own, &own_address);
    detail["representative"] = json!({"name": "Ana <Ortiz>", "email": "ana.ortiz@marketplace.example.com"});
    let default = unique("rep-default");
    let default_address = format!("{default}@acme.example");
    let events =
        [portal_event(&unique("evt"), "ProviderAccountCreated", detail), signup_event(&default, &default_address)];
    assert!(run(&app, &events).await.is_empty());

    let profile = provider_item(&own, "PROFILE").await.expect("provider item");
    let stored = profile.get("representative").and_then(|r| r.as_m().ok()).expect("representative stored as a map");
    assert_eq!(stored.get("email").and_then(|e| e.as_s().ok()).unwrap(), "ana.ortiz@marketplace.example.com");
    assert!(!provider_item(&default, "PROFILE").await.unwrap().contains_key("representative"), "absent: the default");
    let line =
        |p: &marketplace_core::provider::Provider| marketplace_core::provider::reports_help_line(Some(p), &app.config);
    assert!(
        line(&stored_provider(&app, &own).await.unwrap()).ends_with("Ana <Ortiz> <ana.ortiz@marketplace.example.com>")
    );
    assert!(line(&stored_provider(&app, &default).await.unwrap())
        .ends_with("Marketplace Provider Desk <providers@marketplace.example.com>"));

    let own_welcome = emails_to(&own_address);
    assert_eq!(own_welcome.len(), 1);
    assert!(own_welcome[0]
        .text
        .contains("Your Marketplace Representative is Ana <Ortiz> <ana.ortiz@marketplace.example.com>"));
    assert!(own_welcome[0].html.contains("Ana &lt;Ortiz&gt; &lt;ana.ortiz@marketplace.example.com&gt;"), "escaped");
    let default_welcome = emails_to(&default_address);
    assert_eq!(default_welcome.len(), 1);
    assert!(default_welcome[0]
        .text
        .contains("Your Marketplace Representative is Marketplace Provider Desk <providers@marketplace.example.com>"));
    for welcome in [&own_welcome[0], &default_welcome[0]] {
        assert!(welcome.text.contains(
            "The Marketplace Provider Agreement, version 2026-01: https://marketplace.example.com/legal/mpa"
        ));
        assert!(welcome.html.contains("<a href=\"https://marketplace.example.com/legal/mpa\">"));
    }
}

#[tokio::test]
async fn a_malformed_representative_rejects_the_sign_up() {
    let app = app().await;
    let provider = unique("rep-bad");
    let address = format!("{provider}@acme.example");
    let mut detail = signup_detail(&provider, &address);
    detail["representative"] = json!({"name": "", "email": "not-an-address"});
    let event = portal_event(&unique("evt"), "ProviderAccountCreated", detail);
    let report = signup_report(&app, std::slice::from_ref(&event)).await;
    assert_eq!(rejected(&report), vec!["m0"]);
    let reason = rejection_reason(SignupNotification::FUNCTION, event["id"].as_str().unwrap()).await.unwrap();
    assert!(reason.contains("representative.name is required"), "{reason}");
    assert!(reason.contains("representative.email is not a valid email address"), "{reason}");
    assert!(!reason.contains("not-an-address"), "the rejected record names the field, not the value: {reason}");
    assert!(provider_items(&provider).await.is_empty());
    assert!(emails_to(&address).is_empty());
}
