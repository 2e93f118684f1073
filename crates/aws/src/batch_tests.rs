//! The deadline guard and the record budget. No race with the machine's speed: a record that is
//! cut never ends (it waits forever), and one that is not cut is ready at its first poll, which
//! the batch loop makes before it looks at the clock.

use marketplace_portal::memory::{ClaimStatus, MemoryClaims, MemoryPortal};

use super::*;

/// Never ends for the event `hang`; done at its first poll otherwise.
struct HangOrDone;

impl PortalOperation for HangOrDone {
    const FUNCTION: &'static str = "test-fn";

    async fn run(&self, event: &PortalEvent, _: Services<'_>) -> Result<String, DomainError> {
        match event.id.as_str() {
            "hang" => std::future::pending().await,
            id => Ok(format!("{id} done")),
        }
    }
}

fn state(claims: &MemoryClaims, key: &str) -> Option<ClaimStatus> {
    claims.record(key).map(|record| record.status)
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

async fn run(event_ids: &[&str], deadline: Deadline, claims: &MemoryClaims) -> Vec<RecordOutcome> {
    // The operations under test touch no store, ledger or mailer.
    let untouched = MemoryPortal::default();
    let report = process_portal_batch(&HangOrDone, batch(event_ids), claims, untouched.services(), deadline).await;
    assert_eq!(untouched.faults.all_calls(), 0, "the store, ledger and mailer are not used");
    report.records.into_iter().map(|r| r.outcome).collect()
}

#[tokio::test]
async fn a_record_that_outlasts_its_budget_is_cut_and_the_batch_still_answers() {
    let claims = MemoryClaims::default();
    let deadline = Deadline { at: Utc::now() + Duration::seconds(60), record_budget: Duration::milliseconds(50) };
    let outcomes = run(&["hang", "next"], deadline, &claims).await;
    assert!(
        matches!(&outcomes[0], RecordOutcome::Retry(reason) if reason.contains("time budget of 50 ms")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], RecordOutcome::Processed("next done".into()));
    // The cut record's claim is left as a crash leaves it: in progress until the deadline, when
    // its lease ends and the queue's redelivery takes it over.
    assert_eq!(state(&claims, "test-fn#hang"), Some(ClaimStatus::InProgress));
    assert_eq!(state(&claims, "test-fn#next"), Some(ClaimStatus::Completed));
}

#[tokio::test]
async fn a_record_that_ends_is_never_cut_however_small_its_budget() {
    let claims = MemoryClaims::default();
    let deadline = Deadline { at: Utc::now() + Duration::seconds(60), record_budget: Duration::milliseconds(1) };
    assert_eq!(run(&["quick"], deadline, &claims).await, vec![RecordOutcome::Processed("quick done".into())]);
}

#[tokio::test]
async fn no_record_starts_without_its_budget_and_the_response_margin_left() {
    let claims = MemoryClaims::default();
    let budget = Duration::seconds(10);
    // The clock only moves forward: a deadline 1 ms short of budget + margin stays short.
    let deadline =
        Deadline { at: Utc::now() + budget + RESPONSE_MARGIN - Duration::milliseconds(1), record_budget: budget };
    let outcomes = run(&["a", "b"], deadline, &claims).await;
    assert_eq!(outcomes, vec![RecordOutcome::NotStarted, RecordOutcome::NotStarted]);
    assert_eq!(state(&claims, "test-fn#a"), None, "a record not started claims nothing");
}

#[test]
fn the_guard_admits_a_record_exactly_when_budget_and_margin_fit() {
    let now = Utc::now();
    let deadline = Deadline { at: now + Duration::seconds(11), record_budget: Duration::seconds(10) };
    assert!(deadline.allows_record_at(now));
    assert!(!deadline.allows_record_at(now + Duration::milliseconds(1)));
}
