//! The in-memory ports keep the DynamoDB stores' conditional-write semantics (module docs).

use chrono::{DateTime, Duration, Utc};

use super::claims::{ClaimStatus, MemoryClaims};
use super::faults::{Call, Fault, Faults};
use super::store::{EmailIntent, MemoryStore};
use crate::idempotency::{Claim, ClaimTicket, IdempotencyStore, RECORD_RETENTION};
use crate::ports::{
    AuditEntry, EmailLedger, EmailOutcome, IntentState, Precondition, ProviderStore, Settlement, WriteError,
};
use marketplace_core::ports::ProviderDirectory;
use marketplace_core::provider::Provider;

fn t0() -> DateTime<Utc> {
    "2026-11-25T10:00:00Z".parse().expect("a timestamp")
}

fn audit(event_id: &str, step: &str) -> AuditEntry {
    AuditEntry {
        provider_id: "acme".into(),
        at: t0(),
        event_id: event_id.into(),
        step: step.into(),
        action: "Test".into(),
        actor_id: "t1".into(),
        details: serde_json::Value::Null,
    }
}

fn provider(version: u64) -> Provider {
    Provider { version, ..Provider::example() }
}

fn settlement(event_id: &str, kind: &str) -> Settlement {
    Settlement {
        provider_id: "acme".into(),
        event_id: event_id.into(),
        kind: kind.into(),
        outcome: EmailOutcome::Sent { message_id: format!("m-{kind}") },
        audit: audit(event_id, &format!("1-email-{kind}")),
    }
}

fn lost(write: Result<(), WriteError>) -> bool {
    matches!(write, Err(WriteError::PreconditionFailed))
}

#[tokio::test]
async fn a_write_expecting_absence_loses_to_an_existing_record_and_writes_nothing() {
    let store = MemoryStore::default();
    store.put_provider(&provider(1), Precondition::Absent, &audit("e1", "0-state"), &["welcome"]).await.unwrap();
    let again = store.put_provider(&provider(1), Precondition::Absent, &audit("e2", "0-state"), &["welcome"]).await;
    assert!(lost(again));
    assert_eq!(store.audit("acme").len(), 1, "the loser's audit entry is not written");
    assert_eq!(store.email_intent("acme", "e2", "welcome"), None, "nor its intents");
}

#[tokio::test]
async fn a_write_expecting_a_version_loses_to_another_version_or_a_missing_record() {
    let store = MemoryStore::default();
    assert!(lost(store.put_provider(&provider(2), Precondition::Version(1), &audit("e1", "0-state"), &[]).await));
    store.put_provider(&provider(1), Precondition::Absent, &audit("e1", "0-state"), &[]).await.unwrap();
    assert!(lost(store.put_provider(&provider(3), Precondition::Version(2), &audit("e2", "0-state"), &[]).await));
    store.put_provider(&provider(2), Precondition::Version(1), &audit("e2", "0-state"), &[]).await.unwrap();
    assert_eq!(store.get_provider("acme").await.unwrap().map(|p| p.version), Some(2));
}

#[tokio::test]
async fn a_change_whose_audit_entry_exists_already_writes_nothing() {
    let store = MemoryStore::default();
    store.put_provider(&provider(1), Precondition::Absent, &audit("e1", "0-state"), &[]).await.unwrap();
    let replay = store.put_provider(&provider(2), Precondition::Version(1), &audit("e1", "0-state"), &["x"]).await;
    assert!(lost(replay));
    assert_eq!(store.provider("acme").map(|p| p.version), Some(1));
    assert_eq!(store.email_intent("acme", "e1", "x"), None);
}

#[tokio::test]
async fn an_intent_is_recorded_once_and_tells_whether_its_email_was_settled() {
    let store = MemoryStore::default();
    assert_eq!(store.record_intent("acme", "e1", "welcome", t0()).await.unwrap(), IntentState::Recorded);
    assert_eq!(store.record_intent("acme", "e1", "welcome", t0()).await.unwrap(), IntentState::Unsettled);
    store.settle(&[settlement("e1", "welcome")], None).await.unwrap();
    assert_eq!(store.record_intent("acme", "e1", "welcome", t0()).await.unwrap(), IntentState::Sent);
}

#[tokio::test]
async fn a_settle_marks_the_intents_sent_and_completes_the_claim_in_one_step() {
    let claims = MemoryClaims::default();
    let store = MemoryStore::default().with_claims(claims.clone());
    let ticket = ClaimTicket::new("fn", "e1", t0());
    assert_eq!(claims.begin(&ticket.key, "h", t0(), t0() + Duration::seconds(30)).await.unwrap(), Claim::Acquired);
    store.settle(&[settlement("e1", "welcome")], Some(&ticket)).await.unwrap();
    assert_eq!(store.email_intent("acme", "e1", "welcome"), Some(EmailIntent::Sent { message_id: "m-welcome".into() }));
    assert_eq!(store.audit("acme").len(), 1);
    let record = claims.record("fn#e1").unwrap();
    assert_eq!((record.status, record.payload_hash.as_str()), (ClaimStatus::Completed, "h"));

    // Settled before (its audit entry exists): only the claim is completed, nothing else written.
    let later = ClaimTicket::new("fn", "e1", t0() + Duration::days(20));
    let mut again = settlement("e1", "welcome");
    again.outcome = EmailOutcome::Sent { message_id: "m-other".into() };
    store.settle(&[again], Some(&later)).await.unwrap();
    assert_eq!(store.email_intent("acme", "e1", "welcome"), Some(EmailIntent::Sent { message_id: "m-welcome".into() }));
    assert_eq!(claims.record("fn#e1").unwrap().expires_at, (later.now + RECORD_RETENTION).timestamp());
}

#[tokio::test]
async fn a_claim_is_refused_while_its_lease_runs_and_taken_over_after_it() {
    let claims = MemoryClaims::default();
    let lease_until = t0() + Duration::seconds(30);
    assert_eq!(claims.begin("k", "h", t0(), lease_until).await.unwrap(), Claim::Acquired);
    let in_progress = Claim::InProgress { payload_hash: "h".into() };
    assert_eq!(claims.begin("k", "h", lease_until, lease_until).await.unwrap(), in_progress, "live to its end");
    let after = lease_until + Duration::seconds(1);
    assert_eq!(claims.begin("k", "h", after, after + Duration::seconds(30)).await.unwrap(), Claim::Acquired);
}

#[tokio::test]
async fn completed_and_rejected_records_answer_until_the_retention_period_ends() {
    let claims = MemoryClaims::default();
    claims.begin("done", "h", t0(), t0()).await.unwrap();
    claims.complete("done", t0()).await.unwrap();
    claims.reject("bad", "h2", &"x".repeat(3000), t0()).await.unwrap();
    let within = t0() + RECORD_RETENTION;
    let lease = within + Duration::seconds(30);
    assert_eq!(claims.begin("done", "h", within, lease).await.unwrap(), Claim::Completed { payload_hash: "h".into() });
    assert_eq!(claims.begin("bad", "h", within, lease).await.unwrap(), Claim::Rejected { payload_hash: "h2".into() });
    assert_eq!(claims.record("bad").and_then(|r| r.reason).map(|r| r.len()), Some(2000), "the reason is cut");
    let after = within + Duration::seconds(1);
    assert_eq!(claims.begin("done", "h", after, after).await.unwrap(), Claim::Acquired);
}

#[tokio::test]
async fn release_drops_only_an_in_progress_claim() {
    let claims = MemoryClaims::default();
    claims.begin("k", "h", t0(), t0() + Duration::seconds(30)).await.unwrap();
    claims.release("k").await.unwrap();
    assert_eq!(claims.record("k"), None);
    claims.complete("k", t0()).await.unwrap();
    claims.release("k").await.unwrap();
    assert_eq!(claims.record("k").map(|r| r.status), Some(ClaimStatus::Completed));
    claims.release("missing").await.unwrap();
}

#[tokio::test]
async fn a_planned_fault_hits_only_its_call_and_every_call_is_counted() {
    let faults = Faults::default();
    let store = MemoryStore::default().with_faults(faults.clone());
    store.get_provider("acme").await.unwrap();
    faults.plan(Call::GetProvider, 2, Fault::Fail);
    assert!(store.get_provider("acme").await.is_ok(), "the first call from now is not the second");
    let failed = store.get_provider("acme").await.unwrap_err();
    assert!(!failed.is_permanent(), "a planned failure is transient: {failed}");
    assert!(store.get_provider("acme").await.is_ok());
    assert_eq!(faults.calls(Call::GetProvider), 4);
    assert_eq!(faults.calls(Call::PutProvider), 0);
}
