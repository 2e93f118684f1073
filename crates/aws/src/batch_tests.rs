//! The deadline guard and the record budget. No race with the machine's speed: a record that is
//! cut never ends (it waits forever), and one that is not cut is ready at its first poll, which
//! the batch loop makes before it looks at the clock.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use marketplace_core::email::Email;
use marketplace_core::ports::{Mailer, ProviderDirectory};
use marketplace_core::provider::Provider;
use marketplace_core::PortalConfig;
use marketplace_portal::idempotency::{Claim, ClaimTicket};
use marketplace_portal::ports::{
    AuditEntry, EmailLedger, IntentState, Precondition, ProviderStore, Settlement, WriteError,
};
use marketplace_portal::product::Product;

use super::*;

/// Idempotency records in memory: enough for the batch loop's claims.
#[derive(Default)]
struct Claims(Mutex<HashMap<String, &'static str>>);

impl Claims {
    fn state(&self, key: &str) -> Option<&'static str> {
        self.0.lock().expect("not poisoned").get(key).copied()
    }
}

#[async_trait]
impl IdempotencyStore for Claims {
    async fn begin(&self, key: &str, hash: &str, _: DateTime<Utc>, _: DateTime<Utc>) -> Result<Claim, DomainError> {
        let mut claims = self.0.lock().expect("not poisoned");
        let payload_hash = hash.to_string();
        Ok(match claims.get(key) {
            None => {
                claims.insert(key.to_string(), "IN_PROGRESS");
                Claim::Acquired
            }
            Some(&"COMPLETED") => Claim::Completed { payload_hash },
            Some(&"REJECTED") => Claim::Rejected { payload_hash },
            Some(_) => Claim::InProgress { payload_hash },
        })
    }

    async fn complete(&self, key: &str, _: DateTime<Utc>) -> Result<(), DomainError> {
        self.0.lock().expect("not poisoned").insert(key.to_string(), "COMPLETED");
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), DomainError> {
        self.0.lock().expect("not poisoned").remove(key);
        Ok(())
    }

    async fn reject(&self, key: &str, _: &str, _: &str, _: DateTime<Utc>) -> Result<(), DomainError> {
        self.0.lock().expect("not poisoned").insert(key.to_string(), "REJECTED");
        Ok(())
    }
}

/// The operations under test touch no store, ledger or mailer: any use is an error.
struct Untouched;

fn untouched() -> DomainError {
    DomainError::infra("test", "this test's operations use no store")
}

#[async_trait]
impl ProviderDirectory for Untouched {
    async fn get_provider(&self, _: &str) -> Result<Option<Provider>, DomainError> {
        Err(untouched())
    }
}

#[async_trait]
impl ProviderStore for Untouched {
    async fn put_provider(&self, _: &Provider, _: Precondition, _: &AuditEntry, _: &[&str]) -> Result<(), WriteError> {
        Err(WriteError::Other(untouched()))
    }
    async fn audit_trail(&self, _: &str) -> Result<Vec<AuditEntry>, DomainError> {
        Err(untouched())
    }
    async fn get_product(&self, _: &str, _: &str) -> Result<Option<Product>, DomainError> {
        Err(untouched())
    }
    async fn get_provider_and_product(
        &self,
        _: &str,
        _: &str,
    ) -> Result<(Option<Provider>, Option<Product>), DomainError> {
        Err(untouched())
    }
    async fn put_product(&self, _: &Product, _: Precondition, _: &AuditEntry, _: &[&str]) -> Result<(), WriteError> {
        Err(WriteError::Other(untouched()))
    }
}

#[async_trait]
impl EmailLedger for Untouched {
    async fn record_intent(&self, _: &str, _: &str, _: &str, _: DateTime<Utc>) -> Result<IntentState, DomainError> {
        Err(untouched())
    }
    async fn settle(&self, _: &[Settlement], _: Option<&ClaimTicket>) -> Result<(), DomainError> {
        Err(untouched())
    }
}

#[async_trait]
impl Mailer for Untouched {
    async fn send(&self, _: &Email) -> Result<String, DomainError> {
        Err(untouched())
    }
}

/// Never ends for the event `hang`; done at its first poll otherwise.
fn hang_or_done<'a>(
    event: &'a PortalEvent,
    _: Services<'a>,
) -> Pin<Box<dyn Future<Output = Result<String, DomainError>> + Send + 'a>> {
    Box::pin(async move {
        match event.id.as_str() {
            "hang" => std::future::pending().await,
            id => Ok(format!("{id} done")),
        }
    })
}

fn batch(event_ids: &[&str]) -> SqsEvent {
    let mut batch = SqsEvent::default();
    for id in event_ids {
        let mut message = SqsMessage::default();
        message.message_id = Some(format!("msg-{id}"));
        message.body = Some(
            serde_json::json!({"version": "0", "id": id, "detail-type": "Test", "source": "marketplace.portal",
                "account": "123456789012", "time": "2026-11-25T10:00:00Z", "region": "us-east-1",
                "resources": [], "detail": {}})
            .to_string(),
        );
        batch.records.push(message);
    }
    batch
}

async fn run(event_ids: &[&str], deadline: Deadline, claims: &Claims) -> Vec<RecordOutcome> {
    let (config, counters) = (PortalConfig::example(), Counters::default());
    let services = Services {
        store: &Untouched,
        ledger: &Untouched,
        mailer: &Untouched,
        config: &config,
        counters: &counters,
        claim: None,
    };
    let report = process_portal_batch("test-fn", batch(event_ids), claims, services, deadline, hang_or_done).await;
    report.records.into_iter().map(|r| r.outcome).collect()
}

#[tokio::test]
async fn a_record_that_outlasts_its_budget_is_cut_and_the_batch_still_answers() {
    let claims = Claims::default();
    let deadline = Deadline { at: Utc::now() + Duration::seconds(60), record_budget: Duration::milliseconds(50) };
    let outcomes = run(&["hang", "next"], deadline, &claims).await;
    assert!(
        matches!(&outcomes[0], RecordOutcome::Retry(reason) if reason.contains("time budget of 50 ms")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], RecordOutcome::Processed("next done".into()));
    // The cut record's claim is left as a crash leaves it: in progress until the deadline, when
    // its lease ends and the queue's redelivery takes it over.
    assert_eq!(claims.state("test-fn#hang"), Some("IN_PROGRESS"));
    assert_eq!(claims.state("test-fn#next"), Some("COMPLETED"));
}

#[tokio::test]
async fn a_record_that_ends_is_never_cut_however_small_its_budget() {
    let claims = Claims::default();
    let deadline = Deadline { at: Utc::now() + Duration::seconds(60), record_budget: Duration::milliseconds(1) };
    assert_eq!(run(&["quick"], deadline, &claims).await, vec![RecordOutcome::Processed("quick done".into())]);
}

#[tokio::test]
async fn no_record_starts_without_its_budget_and_the_response_margin_left() {
    let claims = Claims::default();
    let budget = Duration::seconds(10);
    // The clock only moves forward: a deadline 1 ms short of budget + margin stays short.
    let deadline =
        Deadline { at: Utc::now() + budget + RESPONSE_MARGIN - Duration::milliseconds(1), record_budget: budget };
    let outcomes = run(&["a", "b"], deadline, &claims).await;
    assert_eq!(outcomes, vec![RecordOutcome::NotStarted, RecordOutcome::NotStarted]);
    assert_eq!(claims.state("test-fn#a"), None, "a record not started claims nothing");
}

#[test]
fn the_guard_admits_a_record_exactly_when_budget_and_margin_fit() {
    let now = Utc::now();
    let deadline = Deadline { at: now + Duration::seconds(11), record_budget: Duration::seconds(10) };
    assert!(deadline.allows_record_at(now));
    assert!(!deadline.allows_record_at(now + Duration::milliseconds(1)));
}
