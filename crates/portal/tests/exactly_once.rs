//! The exactly-once core (idempotency claims, the email outbox, lost-race retries) through the
//! portal's operations, on the in-memory ports: crashes are planned deaths at a chosen call, races
//! are deliveries interleaved at a chosen call, redeliveries are the same event delivered again.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;

use chrono::{DateTime, Duration, Utc};
use marketplace_core::provider::MpaStatus;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::idempotency::{run_once, ClaimTicket, Processed, RECORD_RETENTION};
use marketplace_portal::memory::{Call, ClaimStatus, EmailIntent, Fault, MemoryPortal};
use marketplace_portal::metrics::Counters;
use marketplace_portal::ports::Services;
use marketplace_portal::product::ProductStatus;
use marketplace_portal::{mpa, product, signup};
use serde_json::Value;
use tokio::sync::Notify;

/// The Lambda timeout: a claim's lease runs this long after its delivery starts.
const LEASE: Duration = Duration::seconds(30);

fn t0() -> DateTime<Utc> {
    "2026-11-25T10:00:00Z".parse().expect("a timestamp")
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn event(id: &str, detail_type: &str, detail: Value, time: DateTime<Utc>) -> PortalEvent {
    PortalEvent { id: id.into(), detail_type: detail_type.into(), source: "marketplace.portal".into(), time, detail }
}

fn signup_event() -> PortalEvent {
    event("signup-1", signup::DETAIL_TYPE, fixture("provider-account-created.json"), t0())
}

fn accepted() -> PortalEvent {
    event("accept-1", mpa::ACCEPTED, fixture("mpa-accepted.json"), t0() + Duration::minutes(1))
}

fn approved() -> PortalEvent {
    event("approve-1", mpa::APPROVED, fixture("mpa-approved.json"), t0() + Duration::minutes(2))
}

fn rejected() -> PortalEvent {
    event("reject-1", mpa::REJECTED, fixture("mpa-rejected.json"), t0() + Duration::minutes(2))
}

/// A publish request for product `vault` named `name`, made `minutes` after the sign-up.
fn publish(id: &str, name: &str, minutes: i64) -> PortalEvent {
    let mut detail = fixture("product-publish-requested.json");
    detail["listing"]["name"] = Value::from(name);
    event(id, product::DETAIL_TYPE, detail, t0() + Duration::minutes(minutes))
}

/// The portal's operations, as the Lambda functions run them.
#[derive(Clone, Copy)]
enum Operation {
    Signup,
    Mpa,
    Publish,
}

/// One delivery of `event` starting at `now`, as the batch loop runs each record: under the claim
/// `<function>#<event id>` until the lease ends.
async fn deliver(
    portal: &MemoryPortal,
    operation: Operation,
    event: &PortalEvent,
    now: DateTime<Utc>,
) -> Result<Processed<String>, DomainError> {
    let function = match operation {
        Operation::Signup => "signup-notification",
        Operation::Mpa => "mpa-approval",
        Operation::Publish => "product-publishing",
    };
    let claim = ClaimTicket::new(function, &event.id, now);
    let services = Services { claim: Some(&claim), ..portal.services() };
    run_once(&portal.claims, &claim, event, now + LEASE, || async move {
        match operation {
            Operation::Signup => signup::notify_signup(event, &services).await.map(|o| format!("{o:?}")),
            Operation::Mpa => mpa::handle_mpa_event(event, &services).await.map(|o| format!("{o:?}")),
            Operation::Publish => product::handle_publish_request(event, &services).await,
        }
    })
    .await
}

/// Delivers `event` and expects the operation to run.
async fn ran(portal: &MemoryPortal, operation: Operation, event: &PortalEvent, now: DateTime<Utc>) -> String {
    match deliver(portal, operation, event, now).await {
        Ok(Processed::Ran(outcome)) => outcome,
        other => panic!("{}: expected the operation to run, got {other:?}", event.id),
    }
}

/// Polls a delivery once. The in-memory ports never wait, so it is then either done or stopped
/// at a planned `Die` (dropping it is the crash) or `Wait` (it goes on once the gate opens).
async fn poll_once<F: Future>(mut delivery: Pin<&mut F>) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match delivery.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

/// A delivery of `event` started now and stopped at the next `call`, and the gate that lets it go
/// on: meanwhile another delivery can run between its read and its write.
async fn stopped_at<'a>(
    portal: &'a MemoryPortal,
    call: Call,
    operation: Operation,
    event: &'a PortalEvent,
) -> (Pin<Box<impl Future<Output = Result<Processed<String>, DomainError>> + 'a>>, Arc<Notify>) {
    let gate = Arc::new(Notify::new());
    portal.faults.plan(call, 1, Fault::Wait(gate.clone()));
    let mut delivery = Box::pin(deliver(portal, operation, event, t0()));
    assert!(poll_once(delivery.as_mut()).await.is_none(), "{}: expected it to stop at {call:?}", event.id);
    (delivery, gate)
}

/// A delivery of `event` that dies at the planned call: the invocation is gone, its claim stays.
async fn dies(portal: &MemoryPortal, operation: Operation, event: &PortalEvent, now: DateTime<Utc>) {
    let delivery = pin!(deliver(portal, operation, event, now));
    assert!(poll_once(delivery).await.is_none(), "{}: expected the delivery to die", event.id);
}

/// A provider signed up and its MPA approved; returns how many emails that sent.
async fn approved_provider(portal: &MemoryPortal) -> usize {
    ran(portal, Operation::Signup, &signup_event(), t0()).await;
    ran(portal, Operation::Mpa, &accepted(), t0()).await;
    ran(portal, Operation::Mpa, &approved(), t0()).await;
    subjects(portal).len()
}

fn subjects(portal: &MemoryPortal) -> Vec<String> {
    portal.mailer.sent().into_iter().map(|email| email.subject).collect()
}

fn count(counter: &std::sync::atomic::AtomicU64) -> u64 {
    Counters::get(counter)
}

fn claim_status(portal: &MemoryPortal, key: &str) -> Option<ClaimStatus> {
    portal.claims.record(key).map(|record| record.status)
}

// The idempotency claim (`idempotency.rs`).

#[tokio::test]
async fn a_claim_is_taken_once_and_a_redelivery_after_completion_does_nothing() {
    let portal = MemoryPortal::default();
    assert_eq!(ran(&portal, Operation::Signup, &signup_event(), t0()).await, "Created");
    assert_eq!(claim_status(&portal, "signup-notification#signup-1"), Some(ClaimStatus::Completed));
    let again = deliver(&portal, Operation::Signup, &signup_event(), t0() + Duration::minutes(5)).await;
    assert!(matches!(again, Ok(Processed::Duplicate)), "{again:?}");
    assert_eq!(portal.faults.calls(Call::PutProvider), 1, "the redelivery wrote nothing");
    assert_eq!(subjects(&portal).len(), 1);
    assert_eq!(portal.faults.calls(Call::Complete), 0, "the settle of the last email completed the claim");
}

#[tokio::test]
async fn a_redelivery_waits_while_a_claim_is_live_and_takes_it_over_after_its_lease() {
    let portal = MemoryPortal::default();
    portal.faults.plan(Call::Send, 1, Fault::Die);
    dies(&portal, Operation::Signup, &signup_event(), t0()).await;
    assert_eq!(claim_status(&portal, "signup-notification#signup-1"), Some(ClaimStatus::InProgress));
    let early = deliver(&portal, Operation::Signup, &signup_event(), t0() + Duration::seconds(10)).await;
    assert!(matches!(&early, Err(DomainError::InProgress(_))), "{early:?}");
    assert!(!early.unwrap_err().is_permanent(), "the queue retries it");
    let after_lease = t0() + LEASE + Duration::seconds(1);
    assert_eq!(ran(&portal, Operation::Signup, &signup_event(), after_lease).await, "Resumed");
    assert_eq!(claim_status(&portal, "signup-notification#signup-1"), Some(ClaimStatus::Completed));
}

#[tokio::test]
async fn a_permanent_failure_is_rejected_once_with_its_reason_and_never_run_again() {
    let portal = MemoryPortal::default();
    let mut by_provider = signup_event();
    by_provider.detail["actor"]["role"] = Value::from("provider");
    let refused = deliver(&portal, Operation::Signup, &by_provider, t0()).await.unwrap_err();
    assert!(refused.is_permanent(), "{refused}");
    let record = portal.claims.record("signup-notification#signup-1").expect("a rejected record");
    assert_eq!(record.status, ClaimStatus::Rejected);
    assert!(record.reason.is_some_and(|r| r.contains("actor.role must be")));
    let again = deliver(&portal, Operation::Signup, &by_provider, t0() + Duration::minutes(1)).await;
    assert!(matches!(again, Ok(Processed::Duplicate)), "{again:?}");
    assert_eq!(portal.faults.calls(Call::PutProvider), 0);
    assert!(subjects(&portal).is_empty());
}

#[tokio::test]
async fn a_reused_event_id_with_another_payload_is_refused_not_skipped() {
    let portal = MemoryPortal::default();
    ran(&portal, Operation::Signup, &signup_event(), t0()).await;
    let mut other = signup_event();
    other.detail["company_name"] = Value::from("Globex");
    let refused = deliver(&portal, Operation::Signup, &other, t0() + Duration::minutes(1)).await.unwrap_err();
    assert!(matches!(&refused, DomainError::Conflict(m) if m.contains("different payload")), "{refused}");
}

#[tokio::test]
async fn a_transient_failure_releases_the_claim_for_the_queues_retry() {
    let portal = MemoryPortal::default();
    portal.faults.plan(Call::PutProvider, 1, Fault::Fail);
    let failed = deliver(&portal, Operation::Signup, &signup_event(), t0()).await.unwrap_err();
    assert!(!failed.is_permanent(), "{failed}");
    assert_eq!(claim_status(&portal, "signup-notification#signup-1"), None, "released, not left to expire");
    assert_eq!(ran(&portal, Operation::Signup, &signup_event(), t0() + Duration::seconds(1)).await, "Created");
    assert_eq!(subjects(&portal).len(), 1);
}

// The email outbox (`outbox.rs`).

#[tokio::test]
async fn a_crash_between_recording_the_intent_and_sending_sends_on_redelivery() {
    let portal = MemoryPortal::default();
    portal.faults.plan(Call::Send, 1, Fault::Die);
    dies(&portal, Operation::Signup, &signup_event(), t0()).await;
    assert!(subjects(&portal).is_empty());
    assert_eq!(portal.store.email_intent("acme", "signup-1", signup::WELCOME_EMAIL), Some(EmailIntent::Pending));

    ran(&portal, Operation::Signup, &signup_event(), t0() + LEASE + Duration::seconds(1)).await;
    assert_eq!(subjects(&portal), ["Welcome to the Marketplace Provider Portal, Acme"]);
    // The unsettled intent cannot tell a death before SES from one after it: counted as resent.
    assert_eq!(count(&portal.counters.emails_resent), 1);
    let settled = portal.store.email_intent("acme", "signup-1", signup::WELCOME_EMAIL);
    assert!(matches!(settled, Some(EmailIntent::Sent { .. })), "{settled:?}");
}

#[tokio::test]
async fn a_crash_after_sending_and_before_settling_sends_again_and_counts_it_resent() {
    let portal = MemoryPortal::default();
    portal.faults.plan(Call::Settle, 1, Fault::Die);
    dies(&portal, Operation::Signup, &signup_event(), t0()).await;
    assert_eq!(subjects(&portal).len(), 1, "SES accepted it before the death");
    assert_eq!(portal.store.email_intent("acme", "signup-1", signup::WELCOME_EMAIL), Some(EmailIntent::Pending));

    ran(&portal, Operation::Signup, &signup_event(), t0() + LEASE + Duration::seconds(1)).await;
    assert_eq!(subjects(&portal).len(), 2, "the one duplicate the outbox allows");
    assert_eq!(count(&portal.counters.emails_resent), 1, "and it is counted (alarmed)");
    let sent_entries = portal.store.audit("acme").into_iter().filter(|entry| entry.action == "EmailSent").count();
    assert_eq!(sent_entries, 1);
    assert_eq!(claim_status(&portal, "signup-notification#signup-1"), Some(ClaimStatus::Completed));
}

#[tokio::test]
async fn a_settled_email_is_never_sent_again_even_once_the_claim_has_expired() {
    let portal = MemoryPortal::default();
    ran(&portal, Operation::Signup, &signup_event(), t0()).await;
    let after_retention = t0() + RECORD_RETENTION + Duration::days(1);
    assert_eq!(ran(&portal, Operation::Signup, &signup_event(), after_retention).await, "Resumed");
    assert_eq!(subjects(&portal).len(), 1);
    assert_eq!(count(&portal.counters.emails_resent), 0);
}

#[tokio::test]
async fn a_settle_that_fails_after_the_send_completes_the_event_without_sending_again() {
    let portal = MemoryPortal::default();
    portal.faults.plan(Call::Settle, 1, Fault::Fail);
    assert_eq!(ran(&portal, Operation::Signup, &signup_event(), t0()).await, "Created");
    assert_eq!(count(&portal.counters.emails_unsettled), 1);
    assert_eq!(claim_status(&portal, "signup-notification#signup-1"), Some(ClaimStatus::Completed));
    let again = deliver(&portal, Operation::Signup, &signup_event(), t0() + Duration::minutes(1)).await;
    assert!(matches!(again, Ok(Processed::Duplicate)), "{again:?}");
    assert_eq!(subjects(&portal).len(), 1);
}

#[tokio::test]
async fn each_email_of_an_event_goes_out_once_when_it_dies_between_two_sends() {
    let portal = MemoryPortal::default();
    ran(&portal, Operation::Signup, &signup_event(), t0()).await;
    portal.faults.plan(Call::Send, 2, Fault::Die);
    dies(&portal, Operation::Mpa, &accepted(), t0()).await;
    assert_eq!(subjects(&portal).len(), 2, "the welcome and the receipt");

    assert_eq!(ran(&portal, Operation::Mpa, &accepted(), t0() + LEASE + Duration::seconds(1)).await, "AlreadyApplied");
    assert_eq!(
        subjects(&portal),
        [
            "Welcome to the Marketplace Provider Portal, Acme",
            "MPA version 2026-01 accepted: Acme",
            "Review MPA acceptance: Acme (acme), version 2026-01",
        ]
    );
    for kind in ["mpa-receipt", "mpa-review-request"] {
        let intent = portal.store.email_intent("acme", "accept-1", kind);
        assert!(matches!(intent, Some(EmailIntent::Sent { .. })), "{kind}: {intent:?}");
    }
}

#[tokio::test]
async fn a_whole_flow_delivered_twice_sends_every_email_exactly_once() {
    let portal = MemoryPortal::default();
    let flow = [
        (Operation::Signup, signup_event()),
        (Operation::Mpa, accepted()),
        (Operation::Mpa, approved()),
        (Operation::Publish, publish("publish-1", "Acme Vault", 3)),
    ];
    for (operation, event) in &flow {
        ran(&portal, *operation, event, t0()).await;
        let again = deliver(&portal, *operation, event, t0() + Duration::minutes(1)).await;
        assert!(matches!(again, Ok(Processed::Duplicate)), "{}: {again:?}", event.id);
    }
    let mut subjects = subjects(&portal);
    assert_eq!(subjects.len(), 6, "{subjects:#?}");
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 6, "no subject twice: {subjects:#?}");
    assert_eq!(count(&portal.counters.emails_sent), 6);
    assert_eq!(count(&portal.counters.emails_resent), 0);
}

// Lost races (`race.rs`): two deliveries interleaved between one's read and its write.

#[tokio::test]
async fn two_decisions_at_once_one_wins_and_the_loser_rereads_into_a_conflict_without_email() {
    let portal = MemoryPortal::default();
    ran(&portal, Operation::Signup, &signup_event(), t0()).await;
    ran(&portal, Operation::Mpa, &accepted(), t0()).await;
    let emails_before = subjects(&portal).len();
    let rejection = rejected();
    let (rejection, gate) = stopped_at(&portal, Call::PutProvider, Operation::Mpa, &rejection).await;

    assert_eq!(ran(&portal, Operation::Mpa, &approved(), t0()).await, "Applied");
    gate.notify_one();
    let lost = rejection.await.unwrap_err();
    assert!(matches!(&lost, DomainError::Conflict(m) if m.contains("already Approved")), "{lost}");
    assert_eq!(portal.faults.calls(Call::GetProvider), 4, "accept, approve, and the rejection read twice");

    let provider = portal.store.provider("acme").expect("the provider");
    assert_eq!(provider.mpa.map(|m| m.status), Some(MpaStatus::Approved));
    assert_eq!(provider.version, 3, "sign-up, acceptance, approval: the loser wrote nothing");
    assert_eq!(subjects(&portal)[emails_before..], ["MPA approved: Acme can now publish products"]);
    assert!(portal.store.audit("acme").iter().all(|entry| entry.action != mpa::REJECTED));
}

#[tokio::test]
async fn an_older_publish_request_that_loses_the_race_to_a_newer_one_changes_nothing() {
    let portal = MemoryPortal::default();
    let emails_before = approved_provider(&portal).await;
    let older = publish("publish-old", "Old Vault", 3);
    let (older_delivery, gate) = stopped_at(&portal, Call::PutProduct, Operation::Publish, &older).await;

    assert_eq!(
        ran(&portal, Operation::Publish, &publish("publish-new", "New Vault", 4), t0()).await,
        "product vault Published"
    );
    gate.notify_one();
    assert!(matches!(older_delivery.await, Ok(Processed::Ran(outcome)) if outcome == "product vault unchanged"));

    let stored = portal.store.product("acme", "vault").expect("the product");
    assert_eq!((stored.status, stored.version), (ProductStatus::Published, 1));
    assert_eq!(stored.listing.map(|l| l.name).as_deref(), Some("New Vault"));
    assert_eq!(
        subjects(&portal)[emails_before..],
        ["Product published: New Vault", "Product published: New Vault by Acme"]
    );
}

#[tokio::test]
async fn a_newer_publish_request_that_loses_the_race_retries_and_updates_the_product() {
    let portal = MemoryPortal::default();
    let emails_before = approved_provider(&portal).await;
    let newer = publish("publish-new", "New Vault", 4);
    let (newer_delivery, gate) = stopped_at(&portal, Call::PutProduct, Operation::Publish, &newer).await;

    ran(&portal, Operation::Publish, &publish("publish-old", "Old Vault", 3), t0()).await;
    gate.notify_one();
    assert!(matches!(newer_delivery.await, Ok(Processed::Ran(outcome)) if outcome == "product vault Updated"));
    assert_eq!(portal.faults.calls(Call::PutProduct), 3, "the loser wrote again after reading again");

    let stored = portal.store.product("acme", "vault").expect("the product");
    assert_eq!(stored.version, 2);
    assert_eq!(stored.listing.map(|l| l.name).as_deref(), Some("New Vault"));
    assert_eq!(
        subjects(&portal)[emails_before..],
        [
            "Product published: Old Vault",
            "Product published: Old Vault by Acme",
            "Product updated: New Vault",
            "Product updated: New Vault by Acme",
        ]
    );
}

#[tokio::test]
async fn a_refused_publish_request_repeated_under_a_new_event_id_writes_and_sends_nothing() {
    let portal = MemoryPortal::default();
    ran(&portal, Operation::Signup, &signup_event(), t0()).await;
    ran(&portal, Operation::Mpa, &accepted(), t0()).await;
    assert_eq!(
        ran(&portal, Operation::Publish, &publish("publish-1", "Vault", 3), t0()).await,
        "product vault Refused"
    );
    let (emails, audit) = (subjects(&portal), portal.store.audit("acme").len());
    let refused = portal.store.product("acme", "vault").expect("the refused product");

    assert_eq!(
        ran(&portal, Operation::Publish, &publish("publish-2", "Vault", 4), t0()).await,
        "product vault unchanged: the same request was refused by event publish-1"
    );
    assert_eq!(portal.store.product("acme", "vault"), Some(refused), "no write");
    assert_eq!((subjects(&portal), portal.store.audit("acme").len()), (emails.clone(), audit), "no email, no audit");
    assert_eq!(claim_status(&portal, "product-publishing#publish-2"), Some(ClaimStatus::Completed));

    // Once the MPA is approved, the same request is evaluated again and publishes.
    ran(&portal, Operation::Mpa, &approved(), t0()).await;
    assert_eq!(
        ran(&portal, Operation::Publish, &publish("publish-3", "Vault", 5), t0()).await,
        "product vault Published"
    );
    assert!(subjects(&portal).contains(&"Product published: Vault".to_string()));
}
