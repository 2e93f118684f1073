//! End to end through the Lambda runtime protocol, not in-process handler calls: `cargo lambda
//! watch` runs the real function binaries against the local stack, `cargo lambda invoke` sends
//! them the sample events from `events/` (EventBridge events in SQS envelopes, exactly as the
//! queues deliver them), and the assertions read DynamoDB and the emails moto received.
//!
//! The functions reach moto through `infra/checks/recording_proxy.py`; after each step the calls
//! they made are checked against their policy in template.yaml, table by table (the dynamic half
//! of the least-privilege check; `infra/checks/policy_check.py` has the static half).
//!
//! The sample events carry fixed ids (provider `acme-software`), as do other tests' fixtures, so
//! this test runs on a local stack of its own.
//!
//! The lifecycle: sign-up (welcome email, provider record, audit trail), redelivery of the same
//! event, a malformed record reported in `batchItemFailures` while its batch neighbour succeeds,
//! MPA acceptance (receipt + team review request) and approval (approval email), product
//! publishing (product record, provider and team notices), deployments of that product (written
//! to DeploymentLogs as the deployment engine does), the nightly job for their day (report items,
//! the provider's report and the team's summary emailed), its re-run (nothing sent twice) and a
//! late log of that day (a DeploymentLogs stream record to `late-logs`: one late-log item).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use marketplace_reports::attribute::parse_export_line;
use marketplace_tests::lambda_watch::{event_file, LambdaWatch, PrivateStack, RecordingProxy};
use marketplace_tests::*;
use nightly_reports::app::AwsContext;
use serde_json::{json, Value};

type Item = HashMap<String, AttributeValue>;

fn text(item: &Item, name: &str) -> String {
    item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

/// The EventBridge event inside the first SQS record of a sample event file.
fn inner_event(file: &str) -> Value {
    let envelope: Value = serde_json::from_str(&std::fs::read_to_string(event_file(file)).expect("sample event"))
        .expect("sample event is JSON");
    serde_json::from_str(envelope["Records"][0]["body"].as_str().expect("an SQS body")).expect("body is JSON")
}

fn failed_ids(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not an SQS batch response: {response}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn portal_lifecycle_through_the_lambda_runtime() {
    // Before any thread runs: the helpers read the stack's endpoint and table names from the
    // environment (this file holds this one test).
    let stack = PrivateStack::start();
    for (name, value) in stack.env() {
        std::env::set_var(name, value);
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime").block_on(lifecycle());
    drop(stack);
}

async fn lifecycle() {
    let mut proxy = RecordingProxy::start(&moto_endpoint());
    let endpoint = proxy.endpoint().to_string();
    let reports_out = std::env::temp_dir().join(unique("reports-out"));
    let out = reports_out.to_string_lossy().to_string();
    let watch = tokio::task::spawn_blocking(move || {
        LambdaWatch::start(&[("AWS_ENDPOINT_URL", endpoint.as_str()), ("REPORTS_OUT_DIR", out.as_str())])
    })
    .await
    .expect("start watch");
    let watch = std::sync::Arc::new(watch);
    let invoke = |function: &'static str, file: std::path::PathBuf| {
        let watch = watch.clone();
        async move { tokio::task::spawn_blocking(move || watch.invoke(function, &file)).await.expect("invoke") }
    };

    // ---- sign-up: ProviderAccountCreated -> provider record + one welcome email
    let signup = inner_event("provider-account-created.json");
    let provider = signup["detail"]["provider_id"].as_str().expect("provider_id").to_string();
    let contact = signup["detail"]["contact_email"].as_str().expect("contact_email").to_string();

    let response = invoke("signup-notification", event_file("provider-account-created.json")).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new(), "sign-up succeeds: {response}");

    let items = provider_items(&provider).await;
    let profile = items.iter().find(|i| text(i, "sk") == "PROFILE").expect("the provider is recorded");
    assert_eq!(text(profile, "status"), "PortalAccountCreated");
    assert_eq!(text(profile, "account_alias"), signup["detail"]["account_alias"].as_str().unwrap());
    assert_eq!(text(profile, "created_by_event"), signup["id"].as_str().unwrap());
    let audit: Vec<String> =
        items.iter().filter(|i| text(i, "sk").starts_with("AUDIT#")).map(|i| text(i, "action")).collect();
    assert_eq!(audit, vec!["PortalAccountCreated", "EmailSent"]);

    let welcome = emails_to(&contact);
    assert_eq!(welcome.len(), 1, "exactly one welcome email");
    assert_eq!(welcome[0].subject, "Welcome to the Marketplace Provider Portal, Acme Software");
    assert_eq!(welcome[0].from, "no-reply@marketplace.example.com");
    assert!(welcome[0].text.contains(signup["detail"]["account_alias"].as_str().unwrap()));
    assert!(welcome[0].html.contains("https://portal.marketplace.example.com"));
    assert!(welcome[0].html.contains("<a href=\"https://marketplace.example.com/legal/mpa\">"), "links the MPA text");
    let representative = &signup["detail"]["representative"];
    let named = format!("{} <{}>", representative["name"].as_str().unwrap(), representative["email"].as_str().unwrap());
    assert!(welcome[0].text.contains(&named), "names the provider's representative {named}:\n{}", welcome[0].text);
    let calls = proxy.assert_calls_granted_to("SignupNotificationFunction");
    for call in ["dynamodb:PutItem on Idempotency", "dynamodb:PutItem on Marketplace", "ses:SendRawEmail"] {
        assert!(calls.contains(call), "the sign-up went through the recording proxy ({call}):\n{calls}");
    }

    // ---- the queue redelivers the same message: nothing changes, no second email
    let response = invoke("signup-notification", event_file("provider-account-created.json")).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new(), "a redelivery is not a failure: {response}");
    assert_eq!(emails_to(&contact).len(), 1, "a redelivered sign-up sends no second email");
    assert_eq!(provider_items(&provider).await.len(), items.len(), "a redelivery writes nothing");

    // ---- a batch with one malformed record: only that record is reported as failed
    let other = unique("runtime");
    let other_email = format!("{other}@example.com");
    let good = portal_event(
        &unique("evt"),
        "ProviderAccountCreated",
        json!({
            "provider_id": other, "account_alias": format!("{other}-prod"), "company_name": "Other Ltd",
            "contact_name": "Max Muster", "contact_email": other_email,
            "actor": {"id": "team-member-7", "role": "marketplace-team"}
        }),
    );
    let bad = portal_event(&unique("evt"), "ProviderAccountCreated", json!({"provider_id": "no-email"}));
    let batch = json!({"Records": [
        {"messageId": "good-1", "body": good.to_string(), "eventSource": "aws:sqs"},
        {"messageId": "bad-1", "body": bad.to_string(), "eventSource": "aws:sqs"},
    ]});
    let batch_file = std::env::temp_dir().join(format!("{other}.json"));
    std::fs::write(&batch_file, batch.to_string()).expect("write batch file");
    let response = invoke("signup-notification", batch_file.clone()).await;
    let _ = std::fs::remove_file(&batch_file);
    assert_eq!(failed_ids(&response), Vec::<String>::new(), "the malformed record is not retried: {response}");
    let reason = rejection_reason("signup-notification", bad["id"].as_str().unwrap()).await;
    assert!(reason.is_some_and(|r| r.contains("contact_email")), "its rejection is recorded with the reason");
    assert_eq!(emails_to(&other_email).len(), 1, "the good record in the same batch is processed");
    proxy.assert_calls_granted_to("SignupNotificationFunction");

    // ---- MPA: the provider accepts, the team approves
    let accepted = inner_event("mpa-accepted.json");
    assert_eq!(accepted["detail"]["provider_id"], signup["detail"]["provider_id"], "the samples tell one story");
    let version = accepted["detail"]["mpa_version"].as_str().expect("mpa_version").to_string();
    let response = invoke("mpa-approval", event_file("mpa-accepted.json")).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new(), "MPA acceptance succeeds: {response}");
    let profile = provider_item(&provider, "PROFILE").await.expect("provider");
    assert_eq!(mpa_status(&profile), "PendingApproval", "the MPA waits for approval");
    let receipts: Vec<_> = emails_to(&contact).into_iter().filter(|e| e.subject.starts_with("MPA version")).collect();
    assert_eq!(receipts.len(), 1, "one acceptance receipt");
    assert!(receipts[0].text.contains(&format!("accepted version {version}")));
    assert_eq!(
        team_emails_about(&format!("({provider}), version {version}")).len(),
        1,
        "one review request to the team"
    );
    proxy.assert_calls_granted_to("MpaApprovalFunction");

    let response = invoke("mpa-approval", event_file("mpa-approved.json")).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new(), "MPA approval succeeds: {response}");
    let profile = provider_item(&provider, "PROFILE").await.expect("provider");
    assert_eq!(mpa_status(&profile), "Approved", "the MPA is approved");
    let approvals: Vec<_> = emails_to(&contact).into_iter().filter(|e| e.subject.starts_with("MPA approved")).collect();
    assert_eq!(approvals.len(), 1, "one approval email");
    assert!(approvals[0].text.contains("You can now publish products"));
    let acceptor = accepted["detail"]["accepted_by"]["email"].as_str().expect("accepted_by.email");
    assert_ne!(acceptor, contact, "the sample's accepting user is not the contact");
    let copies = emails_to(acceptor).into_iter().filter(|e| e.subject.starts_with("MPA approved")).count();
    assert_eq!(copies, 1, "the user who accepted gets the decision once");
    proxy.assert_calls_granted_to("MpaApprovalFunction");

    // ---- the approved provider publishes a product
    let publish = inner_event("product-publish-requested.json");
    let product_id = publish["detail"]["product_id"].as_str().expect("product_id").to_string();
    let product_name = publish["detail"]["listing"]["name"].as_str().expect("listing name").to_string();
    let response = invoke("product-publishing", event_file("product-publish-requested.json")).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new(), "publishing succeeds: {response}");
    let product = provider_item(&provider, &format!("PRODUCT#{product_id}")).await.expect("the product is recorded");
    assert_eq!(text(&product, "status"), "Published", "the product is live: {product:?}");
    let notices: Vec<_> =
        emails_to(&contact).into_iter().filter(|e| e.subject == format!("Product published: {product_name}")).collect();
    assert_eq!(notices.len(), 1, "one publication notice to the provider");
    let page = format!("https://marketplace.example.com/products/{product_id}");
    assert!(notices[0].text.contains(&page), "links the storefront page:\n{}", notices[0].text);
    assert!(notices[0].text.contains("Your share of revenue: "), "{}", notices[0].text);
    let company = signup["detail"]["company_name"].as_str().expect("company_name");
    let team_notice = format!("Product published: {product_name} by {company}");
    assert_eq!(
        team_emails_about(&team_notice).iter().filter(|e| e.subject == team_notice).count(),
        1,
        "one notice to the team"
    );
    proxy.assert_calls_granted_to("ProductPublishingFunction");

    // ---- deployments of the product that day, as the deployment engine writes them
    let logs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/deployment-logs-2026-11-25.json"),
    )
    .expect("deployment log fixture");
    let items: Vec<_> = logs.lines().map(|l| parse_export_line(l).expect("export line")).collect();
    assert!(items.iter().all(|i| format!("{i:?}").contains(&product_id)), "the fixture deploys the published product");
    let aws = AwsContext::from_env().await.expect("job settings from the stack's env");
    assert_eq!(aws.logs.load(items).await.expect("load deployment logs"), 2);

    // ---- the nightly job for that day, through the runtime
    let rerun = event_file("nightly-reports-rerun.json");
    let date: Value = serde_json::from_str(&std::fs::read_to_string(&rerun).expect("rerun event")).expect("JSON");
    let date = date["date"].as_str().expect("date").to_string();
    let summary = invoke("nightly-reports", rerun.clone()).await;
    assert_eq!(summary["items"], 2, "both deployments are read: {summary}");
    assert_eq!(summary["rejected"], 0, "{summary}");
    assert_eq!(summary["provider_reports"], 1, "{summary}");
    assert_eq!(summary["emails_sent"], 2, "the provider's report and the team's summary: {summary}");
    assert_eq!(summary["providers_without_contact"], 0, "the signed-up provider has a contact: {summary}");

    let reports: Vec<_> = emails_to(&contact)
        .into_iter()
        .filter(|e| e.subject.ends_with(&format!(": your marketplace deployment report for {date}")))
        .collect();
    assert_eq!(reports.len(), 1, "one report to the provider's contact from the sign-up");
    let names: Vec<&str> = reports[0].attachments.iter().map(|(name, _)| name.as_str()).collect();
    assert!(names.contains(&format!("{date}-deployments.csv").as_str()), "deployments CSV attached: {names:?}");
    assert!(names.contains(&format!("{date}-errors.csv").as_str()), "errors CSV attached: {names:?}");
    let (_, deployments_csv) =
        reports[0].attachments.iter().find(|(n, _)| n.ends_with("-deployments.csv")).expect("csv");
    let deployments_csv = String::from_utf8_lossy(deployments_csv);
    // Two deployments, one failed (never billed): 1200 billable, 70% (840) to the provider.
    assert!(
        deployments_csv
            .contains(&format!("{date},{provider},{product_id},{product_name},USD,2,1,1,0,1,1200.00,840.00,360.00")),
        "{deployments_csv}"
    );
    let (_, errors_csv) = reports[0].attachments.iter().find(|(n, _)| n.ends_with("-errors.csv")).expect("csv");
    assert!(String::from_utf8_lossy(errors_csv).contains("VM_TIMEOUT"), "the failed deployment's error is reported");
    let team_summary = format!("Marketplace deployment summary for {date}");
    assert_eq!(team_emails_about(&team_summary).len(), 1, "one summary to the team");

    let reports_table = std::env::var("REPORTS_TABLE").expect("REPORTS_TABLE");
    let stored = dynamodb()
        .await
        .query()
        .table_name(&reports_table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("PROVIDER#{provider}")))
        .send()
        .await
        .expect("query report items")
        .items
        .unwrap_or_default();
    assert!(
        stored.iter().any(|i| text(i, "sk").starts_with(&format!("DAY#{date}#PRODUCT#{product_id}#USD"))),
        "the provider's report row for the product is stored: {stored:?}"
    );
    proxy.assert_calls_granted_to("NightlyReportsFunction");

    // ---- a re-run of the same day stores the same and sends nothing twice
    let summary = invoke("nightly-reports", rerun).await;
    assert_eq!(summary["emails_sent"], 0, "{summary}");
    assert_eq!(summary["emails_already_sent"], 2, "{summary}");
    assert_eq!(emails_to(&contact).into_iter().filter(|e| e.subject.contains("deployment report")).count(), 1);
    assert_eq!(team_emails_about(&team_summary).len(), 1);
    proxy.assert_calls_granted_to("NightlyReportsFunction");

    // ---- a log of that (reported) day arrives late: the stream record, through the runtime
    let mut stream: Value = serde_json::from_str(
        &std::fs::read_to_string(event_file("deployment-log-stream.json")).expect("sample stream event"),
    )
    .expect("JSON");
    let mut late = stream["Records"][0].take();
    late["dynamodb"]["Keys"] =
        json!({"pk": {"S": format!("DAY#{date}#03")}, "sk": {"S": format!("{date}T23:59:59Z#late-e2e")}});
    late["dynamodb"]["ApproximateCreationDateTime"] = json!(chrono::Utc::now().timestamp() + 1);
    let late_file = std::env::temp_dir().join(unique("late-log-stream")).with_extension("json");
    std::fs::write(&late_file, json!({"Records": [late.clone()]}).to_string()).expect("write stream event");
    let response = invoke("late-logs", late_file.clone()).await;
    assert!(failed_ids(&response).is_empty(), "{response}");
    let month = &date[..7];
    let late_items = dynamodb()
        .await
        .query()
        .table_name(&reports_table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("LATE#{month}")))
        .send()
        .await
        .expect("query late logs")
        .items
        .unwrap_or_default();
    let event_id = late["eventID"].as_str().expect("eventID");
    assert_eq!(
        late_items.iter().map(|i| text(i, "sk")).collect::<Vec<_>>(),
        vec![format!("{date}#{event_id}")],
        "one late log recorded"
    );
    proxy.assert_calls_granted_to("LateLogsFunction");
    let _ = std::fs::remove_file(&late_file);
    let _ = std::fs::remove_dir_all(&reports_out);

    let watch = std::sync::Arc::try_unwrap(watch).unwrap_or_else(|_| panic!("watch still shared"));
    let port = watch.port();
    drop(watch);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "cargo lambda watch is stopped after the test");
}

/// The `mpa.status` field of a stored provider item ("" when it has no MPA).
fn mpa_status(profile: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> String {
    profile
        .get("mpa")
        .and_then(|m| m.as_m().ok())
        .and_then(|m| m.get("status"))
        .and_then(|s| s.as_s().ok())
        .cloned()
        .unwrap_or_default()
}
