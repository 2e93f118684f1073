//! Test support for integration and end-to-end tests: the local AWS stack (a moto server started
//! by `./dev test`), portal events wrapped the way EventBridge → SQS delivers them, and the emails
//! the emulator received, parsed back from raw MIME.

pub mod lambda_watch;

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use marketplace_aws::PortalApp;
use mail_parser::MimeHeaders;
use serde_json::{json, Value};

/// The emulator's base URL; tests cannot run without the local stack.
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!("MOTO_ENDPOINT is not set: run the integration tests with `./dev test`, which starts the local AWS stack")
    })
}

/// A fresh identifier, unique within this test run and across runs against the same emulator.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}

pub async fn app() -> PortalApp {
    moto_endpoint();
    PortalApp::from_env().await.expect("the local stack's environment configures the functions")
}

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

/// An SQS batch whose records carry `bodies` (message ids `m0`, `m1`, ...).
pub fn sqs_batch(bodies: &[String]) -> SqsEvent {
    let mut batch = SqsEvent::default();
    for (i, body) in bodies.iter().enumerate() {
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
}

/// Every raw email the emulator holds, oldest first.
pub fn sent_emails() -> Vec<SentEmail> {
    let url = format!("{}/moto-api/data.json", moto_endpoint());
    let data: Value = ureq::get(&url).call().expect("moto data.json").into_json().expect("json");
    let raw = data["ses"]["RawMessage"].as_array().cloned().unwrap_or_default();
    raw.iter()
        .filter_map(|m| m["raw_data"].as_str())
        .map(|raw| parse_email(raw.as_bytes()))
        .collect()
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
        text: message.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        html: message.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
        attachments: message
            .attachments()
            .map(|a| (a.attachment_name().unwrap_or_default().to_string(), a.contents().to_vec()))
            .collect(),
    }
}

/// A raw DynamoDB client on the emulator, for asserting on stored state.
pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    moto_endpoint();
    aws_sdk_dynamodb::Client::new(&marketplace_aws::sdk_config().await)
}

/// Every item of a provider's partition in the `Marketplace` table.
pub async fn provider_items(provider_id: &str) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let table = std::env::var("MARKETPLACE_TABLE").expect("MARKETPLACE_TABLE");
    dynamodb()
        .await
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("PROVIDER#{provider_id}")))
        .send()
        .await
        .expect("query provider partition")
        .items
        .unwrap_or_default()
}
