//! SES feedback end to end: SNS events carrying SES notifications in the shapes SES documents
//! (event publishing's `eventType` with message tags, identity notifications' `notificationType`
//! with the original headers) go through the real `email-feedback` binary (`cargo lambda watch`,
//! the Lambda runtime protocol) against the local stack; then the portal's outbox, through the
//! real DynamoDB store and SES mailer, suppresses the undeliverable address. The function's calls
//! pass through the recording proxy and are checked against its policy in template.yaml.

use aws_sdk_dynamodb::types::AttributeValue;
use marketplace_tests::lambda_watch::{event_file, LambdaWatch, RecordingProxy};
use marketplace_tests::*;
use serde_json::{json, Value};

type Item = std::collections::HashMap<String, AttributeValue>;

/// The sample SNS event `file` with its SNS message id and SES notification replaced.
fn sns_event(file: &str, message_id: &str, edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(event_file(file)).expect("sample")).expect("sample is JSON");
    let sns = &mut event["Records"][0]["Sns"];
    let mut message: Value = serde_json::from_str(sns["Message"].as_str().expect("a message")).expect("SES JSON");
    edit(&mut message);
    sns["MessageId"] = json!(message_id);
    sns["Message"] = json!(message.to_string());
    let path = std::env::temp_dir().join(format!("{}.json", unique("sns")));
    std::fs::write(&path, event.to_string()).expect("write event");
    path
}

/// A notification of `file`'s kind about an email to `to` concerning `provider` (by message tag).
fn tagged(message: &mut Value, provider: &str, to: &str) {
    message["mail"]["tags"]["provider_id"] = json!([provider]);
    message["mail"]["destination"] = json!([to]);
    for (object, list) in [("bounce", "bouncedRecipients"), ("complaint", "complainedRecipients")] {
        if message.get(object).is_some() {
            message[object][list] = json!([{ "emailAddress": to }]);
            message[object]["timestamp"] = json!(chrono::Utc::now().to_rfc3339());
        }
    }
}

fn audit_actions(items: &[Item]) -> Vec<String> {
    items.iter().filter(|i| attr_s(i, "sk").starts_with("AUDIT#")).map(|i| attr_s(i, "action")).collect()
}

fn undeliverable(profile: &Item) -> Vec<Value> {
    profile
        .get("undeliverable")
        .and_then(|v| v.as_l().ok())
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_m().ok())
                .map(|m| json!({ "reason": attr_s(m, "reason"), "feedback_id": attr_s(m, "feedback_id") }))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn bounces_and_complaints_through_the_function_binary_mark_the_contact_and_later_email_is_suppressed() {
    let app = app().await;
    let (provider, contact) = signed_up_provider(&app, "bounce").await;
    let subject = format!("Undeliverable contact address: Acme Software <GmbH> ({provider})");

    let mut proxy = RecordingProxy::start(&moto_endpoint());
    let endpoint = proxy.endpoint().to_string();
    let watch = tokio::task::spawn_blocking(move || LambdaWatch::start(&[("AWS_ENDPOINT_URL", endpoint.as_str())]))
        .await
        .expect("start watch");
    let watch = std::sync::Arc::new(watch);
    let invoke = |file: std::path::PathBuf| {
        let watch = watch.clone();
        async move {
            let response = tokio::task::spawn_blocking(move || watch.invoke("email-feedback", &file)).await;
            response.expect("invoke")
        }
    };
    let before = provider_items(&provider).await;

    // ---- a delivery and a transient bounce are counted; nothing changes
    let delivery = sns_event("ses-delivery.json", &unique("sns"), |m| tagged(m, &provider, &contact));
    let counts = invoke(delivery).await;
    assert_eq!(counts["deliveries"], 1, "{counts}");
    let soft = sns_event("ses-bounce.json", &unique("sns"), |m| {
        tagged(m, &provider, &contact);
        m["bounce"]["bounceType"] = json!("Transient");
        m["bounce"]["bounceSubType"] = json!("MailboxFull");
    });
    let counts = invoke(soft).await;
    assert_eq!((counts["transient_bounces"].as_u64(), counts["permanent_bounces"].as_u64()), (Some(1), Some(0)));
    assert_eq!(provider_items(&provider).await, before, "deliveries and soft bounces change nothing");

    // ---- a permanent bounce of the contact (event publishing, message tag)
    let feedback_id = unique("feedback");
    let bounce_message = unique("sns");
    let bounce = sns_event("ses-bounce.json", &bounce_message, |m| {
        tagged(m, &provider, &contact);
        m["bounce"]["feedbackId"] = json!(feedback_id);
    });
    let counts = invoke(bounce.clone()).await;
    assert_eq!((counts["permanent_bounces"].as_u64(), counts["marked_undeliverable"].as_u64()), (Some(1), Some(1)));
    let items = provider_items(&provider).await;
    let profile = items.iter().find(|i| attr_s(i, "sk") == "PROFILE").expect("provider");
    assert_eq!(undeliverable(profile), vec![json!({ "reason": "PermanentBounce", "feedback_id": feedback_id })]);
    assert_eq!(profile.get("version").and_then(|v| v.as_n().ok()).map(String::as_str), Some("2"));
    assert_eq!(audit_actions(&items), ["PortalAccountCreated", "EmailSent", "AddressUndeliverable", "EmailSent"]);
    let told = team_emails_about(&subject);
    assert_eq!(told.len(), 1, "the team is told");
    assert!(told[0].text.contains(&contact) && told[0].text.contains("ProviderContactChanged"), "{}", told[0].text);
    let calls = proxy.assert_calls_granted_to("EmailFeedbackFunction");
    assert!(calls.contains("dynamodb:PutItem on Marketplace"), "{calls}");

    // ---- SNS redelivers it; the same address complains (identity notification, header)
    let counts = invoke(bounce).await;
    assert_eq!(counts["duplicates"], 1, "{counts}");
    let complaint = sns_event("ses-complaint.json", &unique("sns"), |m| {
        m["mail"]["headers"] = json!([{ "name": "X-Marketplace-Provider-Id", "value": provider }]);
        m["complaint"]["complainedRecipients"] = json!([{ "emailAddress": contact.to_uppercase() }]);
        m["complaint"]["feedbackId"] = json!(unique("complaint"));
    });
    let counts = invoke(complaint).await;
    assert_eq!((counts["complaints"].as_u64(), counts["already_undeliverable"].as_u64()), (Some(1), Some(1)));
    assert_eq!(team_emails_about(&subject).len(), 1, "told once per address");

    // ---- a bounce of an address that is not the provider's changes nothing
    let stranger = sns_event("ses-bounce.json", &unique("sns"), |m| {
        tagged(m, &provider, &format!("someone-{provider}@elsewhere.example"));
        m["bounce"]["feedbackId"] = json!(unique("feedback"));
    });
    assert_eq!(invoke(stranger).await["ignored"], 1);
    assert_eq!(undeliverable(&provider_item(&provider, "PROFILE").await.expect("provider")).len(), 1);
    proxy.assert_calls_granted_to("EmailFeedbackFunction");

    // ---- the provider accepts the MPA: the receipt does not go to the bounced contact
    let before_mail = emails_to(&contact).len();
    let report = mpa_report(&app, &[mpa_accepted(&provider, "2026-01")]).await;
    assert!(retried(&report).is_empty() && rejected(&report).is_empty(), "{report:?}");
    assert_eq!(emails_to(&contact).len(), before_mail, "nothing more goes to the undeliverable contact");
    let acceptor = format!("legal-{provider}@provider.example");
    assert_eq!(emails_to(&acceptor).len(), 1, "the accepting user still gets the receipt");
    let items = provider_items(&provider).await;
    let receipt = items.iter().find(|i| attr_s(i, "sk").ends_with("#mpa-receipt")).expect("receipt outbox item");
    assert_eq!(attr_s(receipt, "status"), "SENT");
    let sent = items.iter().find(|i| attr_s(i, "step") == "1-email-mpa-receipt").expect("its audit entry");
    assert_eq!(attr_s(sent, "action"), "EmailSent");
    assert!(format!("{:?}", sent.get("details")).contains("contact address is undeliverable"), "{sent:?}");

    let watch = std::sync::Arc::try_unwrap(watch).unwrap_or_else(|_| panic!("watch still shared"));
    drop(watch);
}

#[tokio::test]
async fn an_email_to_an_undeliverable_contact_only_is_settled_suppressed() {
    use marketplace_core::provider::{Undeliverable, UndeliverableReason};
    use marketplace_portal::ports::{AuditEntry, Precondition, ProviderStore};
    let app = app().await;
    let (provider_id, contact) = signed_up_provider(&app, "suppressed").await;
    let mut provider = stored_provider(&app, &provider_id).await.expect("provider");
    let event = marketplace_portal::event::PortalEvent {
        id: unique("bounce"),
        detail_type: "Bounce".into(),
        source: "aws.ses".into(),
        time: chrono::Utc::now(),
        detail: json!({}),
    };
    let audit = AuditEntry::state_change(&provider_id, &event, "AddressUndeliverable", "ses", json!({}));
    let version = provider.version;
    provider.version += 1;
    provider.undeliverable.push(Undeliverable {
        address: contact.clone(),
        reason: UndeliverableReason::Complaint,
        detail: "abuse".into(),
        at: event.time,
        feedback_id: event.id.clone(),
    });
    app.store.put_provider(&provider, Precondition::Version(version), &audit, &[]).await.expect("marked");

    // The receipt goes to the contact alone when the contact accepted.
    let mut accepted = mpa_accepted(&provider_id, "2026-01");
    accepted["detail"]["accepted_by"]["email"] = json!(contact);
    let before = emails_to(&contact).len();
    let report = mpa_report(&app, &[accepted]).await;
    assert!(retried(&report).is_empty() && rejected(&report).is_empty(), "{report:?}");
    assert_eq!(emails_to(&contact).len(), before, "nothing goes to the contact");
    let items = provider_items(&provider_id).await;
    let receipt = items.iter().find(|i| attr_s(i, "sk").ends_with("#mpa-receipt")).expect("receipt outbox item");
    assert_eq!(attr_s(receipt, "status"), "SUPPRESSED");
    assert!(attr_s(receipt, "reason").contains("Complaint (abuse)"), "{receipt:?}");
    assert!(!attr_s(receipt, "reason").contains('@'));
    assert!(items.iter().any(|i| attr_s(i, "action") == "EmailSuppressed"), "an EmailSuppressed audit entry");
}

/// The MPA receipt and review request of one acceptance, through the real store and mailer, with
/// `counters` collecting the outbox's metrics.
async fn deliver_acceptance(
    app: &marketplace_aws::PortalApp,
    event: &Value,
    counters: &marketplace_portal::metrics::Counters,
) -> marketplace_aws::BatchReport {
    let deadline =
        marketplace_aws::Deadline { at: chrono::Utc::now() + INVOCATION_TIME, record_budget: INVOCATION_TIME / 2 };
    marketplace_aws::process_portal_batch(
        &mpa_approval::MpaApproval,
        batch_of(std::slice::from_ref(event)),
        &app.idempotency,
        app.services(counters),
        deadline,
    )
    .await
}

#[tokio::test]
async fn a_send_ses_refused_is_withdrawn_and_its_redelivery_is_not_counted_as_a_possible_duplicate() {
    use marketplace_portal::metrics::Counters;
    let mut app = app().await;
    let (provider, contact) = signed_up_provider(&app, "declined").await;
    let verified = app.config.sender.clone();
    // SES (the emulator, like SES in its sandbox) answers a send from an unverified address
    // with MessageRejected: the email is certainly not sent.
    app.config.sender = format!("unverified-{provider}@marketplace.example.com");
    let accepted = mpa_accepted(&provider, "2026-01");
    let counters = Counters::default();
    let report = deliver_acceptance(&app, &accepted, &counters).await;
    assert_eq!(retried(&report).len(), 1, "retried: SES may accept it later: {report:?}");
    let items = provider_items(&provider).await;
    let status =
        |kind: &str| items.iter().find(|i| attr_s(i, "sk").ends_with(&format!("#{kind}"))).map(|i| attr_s(i, "status"));
    assert_eq!(status("mpa-receipt").as_deref(), Some("WITHDRAWN"), "{items:?}");
    assert_eq!(status("mpa-review-request").as_deref(), Some("WITHDRAWN"), "never attempted");

    // The queue redelivers it once the sender is verified again: both emails go out, and none
    // counts as a possible duplicate.
    app.config.sender = verified;
    let counters = Counters::default();
    let report = deliver_acceptance(&app, &accepted, &counters).await;
    assert!(retried(&report).is_empty() && rejected(&report).is_empty(), "{report:?}");
    assert_eq!(Counters::get(&counters.emails_sent), 2);
    assert_eq!(Counters::get(&counters.emails_resent), 0, "nothing was sent twice");
    assert_eq!(emails_to(&contact).iter().filter(|e| e.subject.starts_with("MPA version")).count(), 1);
}
