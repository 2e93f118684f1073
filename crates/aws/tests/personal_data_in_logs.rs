//! No personal data in the logs: a provider's whole portal life (a sign-up refused for its
//! address, the sign-up, an MPA accepted, rejected, accepted again and approved, a product refused
//! for its support address and then published) runs through the batch loop on the in-memory ports
//! while every tracing line is captured; none of the names and addresses it carried may appear in
//! them, and the rejected event's recorded reason names the field instead of quoting it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::{Duration, Utc};
use marketplace_aws::{process_portal_batch, Deadline, PortalOperation, RecordOutcome};
use marketplace_core::validate::redact_addresses;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::memory::{ClaimStatus, MemoryPortal};
use marketplace_portal::ports::Services;
use marketplace_portal::{mpa, product, signup};
use serde_json::{json, Value};

/// The three portal functions' operations in one, dispatched by detail type.
struct Portal;

impl PortalOperation for Portal {
    const FUNCTION: &'static str = "portal";

    async fn run(&self, event: &PortalEvent, services: Services<'_>) -> Result<String, DomainError> {
        match event.detail_type.as_str() {
            signup::DETAIL_TYPE => signup::notify_signup(event, &services).await.map(|o| format!("{o:?}")),
            product::DETAIL_TYPE => product::handle_publish_request(event, &services).await,
            _ => mpa::handle_mpa_event(event, &services).await.map(|o| format!("{o:?}")),
        }
    }
}

/// Every line the subscriber writes, kept for the assertions.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the capture buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the capture buffer")).into_owned()
    }
}

const CONTACT_NAME: &str = "Jane Roe-Lindqvist";
const CONTACT_EMAIL: &str = "jane.roe@acme.example";
const BAD_CONTACT_EMAIL: &str = "jane.roe@acme";
const ACCEPTOR_NAME: &str = "Bob Legalsson";
const ACCEPTOR_EMAIL: &str = "bob.legal@acme.example";
const SUPPORT_EMAIL: &str = "vault.support@acme.example";
const BAD_SUPPORT_EMAIL: &str = "vault.support at acme.example";

fn record(id: &str, detail_type: &str, minutes: i64, detail: Value) -> SqsMessage {
    let time = "2026-11-25T10:00:00Z".parse::<chrono::DateTime<Utc>>().expect("a time") + Duration::minutes(minutes);
    let mut message = SqsMessage::default();
    message.message_id = Some(format!("msg-{id}"));
    message.body = Some(
        json!({"version": "0", "id": id, "detail-type": detail_type, "source": "marketplace.portal",
            "account": "123456789012", "time": time, "region": "us-east-1", "resources": [], "detail": detail})
        .to_string(),
    );
    message
}

fn signup_detail(contact_email: &str) -> Value {
    json!({"provider_id": "acme", "account_alias": "acme-prod", "company_name": "Acme",
        "contact_name": CONTACT_NAME, "contact_email": contact_email,
        "actor": {"id": "team-7", "role": "marketplace-team"}})
}

fn accepted() -> Value {
    json!({"provider_id": "acme", "mpa_version": "2026-01", "accepted_at": "2026-11-25T10:00:00Z",
        "accepted_by": {"id": "u1", "name": ACCEPTOR_NAME, "email": ACCEPTOR_EMAIL},
        "actor": {"id": "u1", "role": "provider", "provider_id": "acme"}})
}

fn decided(reason: Option<&str>) -> Value {
    let mut detail =
        json!({"provider_id": "acme", "mpa_version": "2026-01", "actor": {"id": "t1", "role": "marketplace-team"}});
    if let Some(reason) = reason {
        detail["reason"] = json!(reason);
    }
    detail
}

fn publish(support_email: &str) -> Value {
    json!({"provider_id": "acme", "product_id": "vault", "actor": {"id": "u1", "role": "provider", "provider_id": "acme"},
        "listing": {"name": "Acme Vault", "summary": "Secrets management for teams.",
            "description": "Stores, rotates and audits secrets.", "category": "security",
            "support_email": support_email, "blueprint_id": "bp-acme-vault-3", "provider_share": "0.7",
            "pricing": [{"model": "hourly", "unit": "vm-hour", "unit_price": "0.000125", "currency": "USD"}]}})
}

#[tokio::test]
async fn a_whole_portal_lifecycle_logs_no_names_or_addresses() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let portal = MemoryPortal::default();
    let mut batch = SqsEvent::default();
    batch.records = vec![
        record("signup-bad", signup::DETAIL_TYPE, 0, signup_detail(BAD_CONTACT_EMAIL)),
        record("signup", signup::DETAIL_TYPE, 0, signup_detail(CONTACT_EMAIL)),
        record("accept-1", mpa::ACCEPTED, 1, accepted()),
        record("reject", mpa::REJECTED, 2, decided(Some("missing tax form"))),
        record("accept-2", mpa::ACCEPTED, 3, accepted()),
        record("approve", mpa::APPROVED, 4, decided(None)),
        record("publish-bad", product::DETAIL_TYPE, 5, publish(BAD_SUPPORT_EMAIL)),
        record("publish", product::DETAIL_TYPE, 6, publish(SUPPORT_EMAIL)),
    ];
    let deadline = Deadline { at: Utc::now() + Duration::seconds(60), record_budget: Duration::seconds(10) };
    let report = process_portal_batch(&Portal, batch, &portal.claims, portal.services(), deadline).await;

    let outcomes: Vec<&RecordOutcome> = report.records.iter().map(|r| &r.outcome).collect();
    assert!(matches!(outcomes[0], RecordOutcome::Rejected(_)), "{outcomes:?}");
    assert!(outcomes[1..].iter().all(|o| matches!(o, RecordOutcome::Processed(_))), "{outcomes:?}");
    assert_eq!(portal.mailer.sent().len(), 10, "the lifecycle sent its emails");
    let rejected = portal.claims.record("portal#signup-bad").expect("the rejected event's record");
    assert_eq!(rejected.status, ClaimStatus::Rejected);
    let reason = rejected.reason.expect("a reason");
    assert!(reason.contains("contact_email is not a valid email address"), "{reason}");
    assert!(!reason.contains(BAD_CONTACT_EMAIL), "{reason}");
    let refused = portal.store.product("acme", "vault").map(|p| p.last_event);
    assert_eq!(refused.as_deref(), Some("publish"));

    let logs = captured.text();
    assert!(logs.contains("event rejected for good") && logs.contains("email sent"), "captured:\n{logs}");
    for personal in [
        CONTACT_NAME,
        "Jane",
        CONTACT_EMAIL,
        BAD_CONTACT_EMAIL,
        ACCEPTOR_NAME,
        ACCEPTOR_EMAIL,
        SUPPORT_EMAIL,
        BAD_SUPPORT_EMAIL,
    ] {
        assert!(!logs.contains(personal), "{personal:?} logged:\n{logs}");
    }
    assert_eq!(redact_addresses(&logs), logs, "no address at all");
}
