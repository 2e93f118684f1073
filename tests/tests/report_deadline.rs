//! The nightly job's deliveries at the edges of time and rate, through the real delivery ledger,
//! send-rate slots and SES on the local stack:
//!
//! * a run whose invocation is about to time out starts no delivery it cannot finish (none is
//!   left in doubt), fails so that Lambda retries it, and the retry sends the rest;
//! * two runs sending at once keep the account's messages within one send rate;
//! * a second's send-rate slots are refused once the second is full.
//!
//! Time is the test's: the run's time left comes from a clock the test sets (it runs out as the
//! n-th email is accepted), never from the machine's speed.

use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroUsize};

use aws_sdk_dynamodb::types::AttributeValue;
use marketplace_aws::reports_table::ReportsTable;
use marketplace_reports::delivery::{Resend, SendLimits, SendRate};
use marketplace_reports::ReportPlan;
use marketplace_tests::deliveries::*;
use marketplace_tests::reports::private_table;
use marketplace_tests::run_clock::*;
use marketplace_tests::*;
use nightly_reports::app::{run_job, AppError, AwsContext, JobRequest, Source};
use nightly_reports::cli::Delivery;

const PROVIDERS: usize = 6;

async fn context(per_second: u32) -> AwsContext {
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    aws.sends = SendLimits {
        concurrency: NonZeroUsize::new(2).expect("2"),
        per_second: NonZeroU32::new(per_second).expect("rate"),
    };
    aws
}

fn request(ids: &[String], date: chrono::NaiveDate) -> JobRequest {
    JobRequest {
        plan: ReportPlan::single(date),
        source: Source::Export(export_file(ids, &date.to_string())),
        partition: None,
        out: std::env::temp_dir().join(unique("deadline-out")),
        delivery: Delivery { store: false, send: true, resend: false },
        parallelism: 1,
    }
}

#[tokio::test]
async fn a_run_short_of_time_starts_no_delivery_it_cannot_finish_and_its_retry_sends_the_rest() {
    let ids = provider_ids("deadline", PROVIDERS);
    let date = date_of_its_own();
    let request = request(&ids, date);
    let subject = format!("report for {date}");

    // Fifteen minutes left, until SES accepts the second email.
    let mut aws = context(100).await;
    store_providers(aws.providers.table(), &ids, None, false).await;
    time_runs_short_at_email(&mut aws, 2);
    let summary = match run_job(&request, &Resend::Nothing, Some(&aws)).await {
        Err(AppError::Undelivered(summary)) => summary,
        other => panic!("a run whose time ran short fails so that Lambda retries it: {other:?}"),
    };
    let first: usize = emails_per_address(&subject).values().sum();
    // Two deliveries were in flight when the time ran short: both finish (the second may have
    // been claimed but not yet handed over: it is released and postponed instead).
    assert!((2..=3).contains(&summary.emails_sent), "{summary:?}");
    assert_eq!(first, summary.emails_sent);
    assert_eq!(summary.deliveries_in_doubt, 0, "nothing in doubt: {summary:?}");
    assert!(summary.failed_deliveries.is_empty(), "{summary:?}");
    assert_eq!(summary.deliveries_postponed, PROVIDERS + 1 - summary.emails_sent, "{summary:?}");
    assert_eq!(summary.postponed.len(), summary.deliveries_postponed);
    assert!(summary.postponed.contains(&format!("{date} the marketplace team")), "{summary:?}");
    let message = AppError::Undelivered(summary.clone()).to_string();
    assert!(message.contains("time ran short") && message.contains("Lambda's retry"), "{message}");

    // Lambda's retry, with its own fifteen minutes: the rest goes out, once.
    let retry = run_job(&request, &Resend::Nothing, Some(&context(100).await)).await.expect("the retry succeeds");
    assert_eq!((retry.emails_sent, retry.emails_already_sent), (PROVIDERS + 1 - first, first), "{retry:?}");
    assert_eq!((retry.deliveries_in_doubt, retry.deliveries_postponed), (0, 0), "{retry:?}");
    for id in &ids {
        assert_eq!(emails_per_address(&subject).get(&address(id)).copied(), Some(1), "{id}: one report");
    }
    assert_eq!(team_emails_about(&format!("summary for {date}")).len(), 1, "the team summary once");
}

/// Every `SES#RATE` item of the table: second → messages taken.
async fn rate_slots(table: &str) -> HashMap<u64, u64> {
    let out = dynamodb()
        .await
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("SES#RATE".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("query");
    let number = |item: &HashMap<String, AttributeValue>, name: &str| -> u64 {
        item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).expect("number")
    };
    out.items().iter().map(|item| (attr_s(item, "sk").parse().expect("second"), number(item, "sent"))).collect()
}

#[tokio::test]
async fn two_runs_sending_at_once_keep_the_accounts_messages_within_one_send_rate() {
    const RATE: u32 = 3;
    let table = private_table("Reports-rate", true).await;
    let ids_a = provider_ids("rate-a", 4);
    let ids_b = provider_ids("rate-b", 4);
    let (date_a, date_b) = (date_of_its_own(), date_of_its_own() + chrono::Days::new(1));
    let mut a = context(RATE).await;
    let mut b = context(RATE).await;
    a.reports = ReportsTable::new(dynamodb().await, &table);
    b.reports = ReportsTable::new(dynamodb().await, &table);
    store_providers(a.providers.table(), &ids_a, None, false).await;
    store_providers(a.providers.table(), &ids_b, None, false).await;
    let (ra, rb) = (request(&ids_a, date_a), request(&ids_b, date_b));
    let (sa, sb) = tokio::join!(run_job(&ra, &Resend::Nothing, Some(&a)), run_job(&rb, &Resend::Nothing, Some(&b)));
    let sent = sa.expect("run a").emails_sent + sb.expect("run b").emails_sent;
    assert_eq!(sent, 10, "4 providers and the team, twice");
    let slots = rate_slots(&table).await;
    assert_eq!(slots.values().sum::<u64>(), 10, "one slot per message: {slots:?}");
    assert!(slots.values().all(|&n| n <= u64::from(RATE)), "never more than {RATE} in one second: {slots:?}");
    assert!(slots.len() >= 4, "10 messages at 3 per second take at least four seconds: {slots:?}");
}

#[tokio::test]
async fn a_seconds_send_rate_slots_are_refused_once_the_second_is_full() {
    let reports = ReportsTable::new(dynamodb().await, private_table("Reports-rate", true).await);
    let second = 1_700_000_000;
    let mut taken = Vec::new();
    for _ in 0..4 {
        taken.push(reports.take_slot(second, 3).await.expect("slot"));
    }
    assert_eq!(taken, [true, true, true, false]);
    assert!(reports.take_slot(second + 1, 3).await.expect("slot"), "the next second is free");
    assert!(!reports.take_slot(second, 3).await.expect("slot"), "a full second stays full");
    assert!(reports.take_slot(second, 5).await.expect("slot"), "a higher rate has room");
}
