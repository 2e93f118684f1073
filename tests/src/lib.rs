//! Test support for integration and end-to-end tests: the local AWS stack (a moto server started
//! by `./dev test`), portal events wrapped the way EventBridge → SQS delivers them, and the emails
//! the emulator received, parsed back from raw MIME.

pub mod api;
pub mod deliveries;
pub mod lambda_watch;
pub mod reports;
pub mod run_clock;

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use mail_parser::MimeHeaders;
use marketplace_aws::PortalApp;
use serde_json::{json, Value};

/// The emulator's base URL; tests cannot run without the local stack.
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "MOTO_ENDPOINT is not set: run the integration tests with `./dev test`, which starts the local AWS stack"
        )
    })
}

/// A fresh identifier, unique within this test run and across runs against the same emulator.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}

/// The portal functions as the tests run them: configured from the local stack's environment,
/// with all the time a busy machine's emulator may need. The tests give the time: the deadline
/// guard's arithmetic (30 s, a 10 s record budget) is proven with given clocks in
/// `crates/aws/src/batch_tests.rs` and against the real binaries by the fault suite; here a slow
/// emulator must not cut a record short or leave it unstarted.
pub async fn app() -> PortalApp {
    moto_endpoint();
    let mut app = PortalApp::from_env().await.expect("the local stack's environment configures the functions");
    app.function_timeout = INVOCATION_TIME;
    app.record_budget = INVOCATION_TIME / 2;
    app
}

/// How long a test's invocation may take (see [`app`]).
pub const INVOCATION_TIME: chrono::Duration = chrono::Duration::minutes(10);

/// An EventBridge event from the portal, as the rule puts it on the queue.
pub fn portal_event(id: &str, detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": detail_type,
        "source": "marketplace.portal",
        "account": "123456789012",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    })
}

/// An SQS batch whose records carry `bodies` (message ids `m0`, `m1`, ...). Every portal event
/// among them is held to the published contract on the way: its event schema
/// (`contract/events/`) and the code give its `detail` the same verdict, accepted or refused.
pub fn sqs_batch(bodies: &[String]) -> SqsEvent {
    let mut batch = SqsEvent::default();
    for (i, body) in bodies.iter().enumerate() {
        let portal = serde_json::from_str(body).ok().and_then(marketplace_contract::check::portal_event);
        if let Some((detail_type, detail)) = portal {
            marketplace_contract::check::assert_event_agrees(&detail_type, &detail);
        }
        let mut message = SqsMessage::default();
        message.message_id = Some(format!("m{i}"));
        message.body = Some(body.clone());
        message.event_source = Some("aws:sqs".into());
        batch.records.push(message);
    }
    batch
}

pub fn batch_of(events: &[Value]) -> SqsEvent {
    sqs_batch(&events.iter().map(Value::to_string).collect::<Vec<_>>())
}

/// One email the emulator accepted, parsed from its raw MIME text.
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub from: String,
    pub reply_to: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<(String, Vec<u8>)>,
    /// Inline parts (images the HTML shows by `cid:`): Content-ID, content type, bytes.
    pub inline: Vec<(String, String, Vec<u8>)>,
}

/// Every raw email the emulator holds, oldest first. (`infra/moto_server.py` serves the same
/// list as `/moto-api/data.json` → `ses` → `RawMessage`, without dumping every other service.)
pub fn sent_emails() -> Vec<SentEmail> {
    let url = format!("{}/_local/ses/raw-messages", moto_endpoint());
    let raw: Vec<Value> = ureq::get(&url).call().expect("sent messages").into_json().expect("json");
    raw.iter().filter_map(|m| m["raw_data"].as_str()).map(|raw| parse_email(raw.as_bytes())).collect()
}

/// Emails sent to `address`.
pub fn emails_to(address: &str) -> Vec<SentEmail> {
    sent_emails().into_iter().filter(|e| e.to.iter().any(|t| t == address)).collect()
}

pub fn parse_email(raw: &[u8]) -> SentEmail {
    let message = mail_parser::MessageParser::default().parse(raw).expect("a parseable MIME message");
    let addresses = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| a.iter().filter_map(|x| x.address().map(str::to_string)).collect()).unwrap_or_default()
    };
    SentEmail {
        from: addresses(message.from()).join(","),
        reply_to: addresses(message.reply_to()).join(","),
        to: addresses(message.to()),
        subject: message.subject().unwrap_or_default().to_string(),
        // Line ends normalised to \n so assertions need not care about MIME's CRLF.
        text: message.body_text(0).map(|t| t.replace("\r\n", "\n")).unwrap_or_default(),
        html: message.body_html(0).map(|t| t.replace("\r\n", "\n")).unwrap_or_default(),
        attachments: message
            .attachments()
            .filter(|a| a.content_id().is_none())
            .map(|a| (a.attachment_name().unwrap_or_default().to_string(), a.contents().to_vec()))
            .collect(),
        inline: message
            .parts
            .iter()
            .filter_map(|p| {
                let content_type =
                    p.content_type().map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()));
                Some((p.content_id()?.to_string(), content_type.unwrap_or_default(), p.contents().to_vec()))
            })
            .collect(),
    }
}

/// A raw DynamoDB client on the emulator, for asserting on stored state.
pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    moto_endpoint();
    aws_sdk_dynamodb::Client::new(&marketplace_aws::sdk_config().await)
}

/// Every item of a provider's partition in the `Marketplace` table.
pub async fn provider_items(
    provider_id: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let table = std::env::var("MARKETPLACE_TABLE").expect("MARKETPLACE_TABLE");
    dynamodb()
        .await
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("PROVIDER#{provider_id}")),
        )
        .send()
        .await
        .expect("query provider partition")
        .items
        .unwrap_or_default()
}

/// Message ids of the records a batch response reports as failed.
pub fn failures(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

/// The marketplace team's inbox in the local stack's configuration.
pub fn team_inbox() -> String {
    std::env::var("TEAM_INBOX").expect("TEAM_INBOX")
}

pub fn signup_detail(provider_id: &str, email: &str) -> Value {
    json!({
        "provider_id": provider_id,
        "account_alias": format!("{provider_id}-prod"),
        "company_name": "Acme Software <GmbH>",
        "contact_name": "Jane Doe",
        "contact_email": email,
        "actor": {"id": "team-member-7", "role": "marketplace-team"}
    })
}

pub fn signup_event(provider_id: &str, email: &str) -> Value {
    portal_event(&unique("evt"), "ProviderAccountCreated", signup_detail(provider_id, email))
}

/// Signs up a fresh provider through the sign-up function; returns (provider id, contact address).
pub async fn signed_up_provider(app: &PortalApp, prefix: &str) -> (String, String) {
    let provider = unique(prefix);
    let address = format!("{provider}@provider.example");
    let response =
        app.handle(&signup_notification::SignupNotification, batch_of(&[signup_event(&provider, &address)])).await;
    assert!(response.batch_item_failures.is_empty(), "sign-up of {provider} failed");
    (provider, address)
}

pub fn mpa_accepted(provider_id: &str, version: &str) -> Value {
    portal_event(
        &unique("evt"),
        "MpaAccepted",
        json!({
            "provider_id": provider_id,
            "mpa_version": version,
            "accepted_by": {"id": "user-1", "name": "Jane Doe", "email": format!("legal-{provider_id}@provider.example")},
            "accepted_at": "2026-11-25T10:00:00Z",
            "actor": provider_actor(provider_id)
        }),
    )
}

pub fn mpa_decision(provider_id: &str, version: &str, approve: bool, role: &str) -> Value {
    let mut detail = json!({
        "provider_id": provider_id,
        "mpa_version": version,
        "actor": {"id": "team-member-9", "role": role}
    });
    let detail_type = if approve {
        "MpaApproved"
    } else {
        detail["reason"] = json!("Section 4 <tax form> is missing.\nPlease upload it.");
        "MpaRejected"
    };
    portal_event(&unique("evt"), detail_type, detail)
}

/// Runs the MPA function on `events`; returns the failed message ids.
pub async fn run_mpa(app: &PortalApp, events: &[Value]) -> Vec<String> {
    failures(&app.handle(&mpa_approval::MpaApproval, batch_of(events)).await)
}

/// A provider whose MPA is approved on the current version.
pub async fn approved_provider(app: &PortalApp, prefix: &str) -> (String, String) {
    let (provider, address) = signed_up_provider(app, prefix).await;
    let version = app.config.mpa_current_version.clone();
    assert!(run_mpa(app, &[mpa_accepted(&provider, &version)]).await.is_empty());
    assert!(run_mpa(app, &[mpa_decision(&provider, &version, true, "marketplace-team")]).await.is_empty());
    (provider, address)
}

pub fn valid_listing() -> Value {
    json!({
        "name": "Acme Vault",
        "summary": "Secrets management for teams.",
        "description": "Acme Vault stores, rotates and audits secrets.\nDeploys in minutes.",
        "category": "security",
        "support_email": "support@acme.example",
        "support_url": "https://acme.example/support",
        "blueprint_id": "bp-acme-vault-3",
        "provider_share": "0.7",
        "pricing": [
            {"model": "hourly", "unit": "vm-hour", "unit_price": "0.000125", "currency": "USD"},
            {"model": "monthly", "unit": "seat", "unit_price": "49.99", "currency": "EUR"}
        ]
    })
}

pub fn publish_event(provider_id: &str, product_id: &str, listing: Value, actor: Value) -> Value {
    portal_event(
        &unique("evt"),
        "ProductPublishRequested",
        json!({ "provider_id": provider_id, "product_id": product_id, "actor": actor, "listing": listing }),
    )
}

pub fn provider_actor(provider_id: &str) -> Value {
    json!({"id": "user-1", "role": "provider", "provider_id": provider_id})
}

pub async fn run_publish(app: &PortalApp, events: &[Value]) -> Vec<String> {
    failures(&app.handle(&product_publishing::ProductPublishing, batch_of(events)).await)
}

/// A string attribute of a stored item ("" when absent).
pub fn attr_s(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, name: &str) -> String {
    item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

/// The stored item with sort key `sk` in a provider's partition.
pub async fn provider_item(
    provider_id: &str,
    sk: &str,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    provider_items(provider_id).await.into_iter().find(|i| attr_s(i, "sk") == sk)
}

/// The provider record as the domain reads it.
pub async fn stored_provider(app: &PortalApp, provider_id: &str) -> Option<marketplace_core::provider::Provider> {
    use marketplace_core::ports::ProviderDirectory;
    app.store.get_provider(provider_id).await.expect("read provider")
}

pub async fn stored_product(
    app: &PortalApp,
    provider_id: &str,
    product_id: &str,
) -> Option<marketplace_portal::product::Product> {
    use marketplace_portal::ports::ProviderStore;
    app.store.get_product(provider_id, product_id).await.expect("read product")
}

/// Emails to the team inbox whose subject mentions `needle`.
pub fn team_emails_about(needle: &str) -> Vec<SentEmail> {
    emails_to(&team_inbox()).into_iter().filter(|e| e.subject.contains(needle)).collect()
}

/// Every file under `dir` by relative path (`/`-separated), with its bytes: for comparing output trees.
pub fn files_under(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).expect("readable file"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// One edit of a JSON document: how a test case turns a valid event into an invalid one.
pub type JsonEdit = Box<dyn Fn(&mut serde_json::Value)>;

/// Runs a portal function's `operation` on `events` as one invocation with the tests' time
/// ([`INVOCATION_TIME`]), and returns every record's outcome.
pub async fn process<O: marketplace_aws::PortalOperation>(
    app: &PortalApp,
    operation: &O,
    events: &[Value],
) -> marketplace_aws::BatchReport {
    app.process(operation, batch_of(events), chrono::Utc::now() + INVOCATION_TIME).await
}

pub async fn signup_report(app: &PortalApp, events: &[Value]) -> marketplace_aws::BatchReport {
    process(app, &signup_notification::SignupNotification, events).await
}

pub async fn mpa_report(app: &PortalApp, events: &[Value]) -> marketplace_aws::BatchReport {
    process(app, &mpa_approval::MpaApproval, events).await
}

pub async fn publish_report(app: &PortalApp, events: &[Value]) -> marketplace_aws::BatchReport {
    process(app, &product_publishing::ProductPublishing, events).await
}

/// Message ids of the records rejected for good (recorded, not retried).
pub fn rejected(report: &marketplace_aws::BatchReport) -> Vec<String> {
    report
        .records
        .iter()
        .filter(|r| matches!(r.outcome, marketplace_aws::RecordOutcome::Rejected(_)))
        .map(|r| r.message_id.clone())
        .collect()
}

/// Message ids of the records the queue must deliver again.
pub fn retried(report: &marketplace_aws::BatchReport) -> Vec<String> {
    failures(&report.response())
}

/// The reason recorded for an event that `function` rejected for good (its `REJECTED` idempotency record).
pub async fn rejection_reason(function: &str, event_id: &str) -> Option<String> {
    let table = std::env::var("IDEMPOTENCY_TABLE").expect("IDEMPOTENCY_TABLE");
    let item = dynamodb()
        .await
        .get_item()
        .table_name(table)
        .key("id", aws_sdk_dynamodb::types::AttributeValue::S(format!("{function}#{event_id}")))
        .consistent_read(true)
        .send()
        .await
        .expect("read idempotency record")
        .item?;
    (attr_s(&item, "status") == "REJECTED").then(|| attr_s(&item, "reason"))
}
