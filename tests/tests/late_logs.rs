//! Late deployment logs against the local stack: a night is stored, then the `late-logs` handler
//! gets DynamoDB stream events (the real `aws_lambda_events` type, from stream-record JSON) for
//! changes to logs of its dates, and the next nights name the late ones per date until the date
//! is re-run. Every paged read is forced across page boundaries (pages of one item). The windows
//! each have a test: a change recorded before its date's mark lands, and the scale-out merge.

use std::path::{Path, PathBuf};

use aws_lambda_events::event::dynamodb::Event;
use chrono::{DateTime, Utc};
use late_logs::{handle, BatchCounts};
use marketplace_aws::reports_table::ReportsTable as LateLogStore;
use marketplace_reports::delivery::Resend;
use marketplace_reports::AttributeValue as AttributeValueD;
use marketplace_reports::ReportPlan;
use marketplace_tests::reports::*;
use marketplace_tests::*;
use nightly_reports::app::{handle_scheduled, run_job, AwsContext, ScheduledRun};
use nightly_reports::pipeline::RunSummary;
use serde_json::{json, Value};

/// This file's month (no other test uses it): the golden logs of 2026-02 moved there.
const MONTH: &str = "2024-03-";

fn date(day: &str) -> chrono::NaiveDate {
    on(MONTH, day)
}

fn on(month: &str, day: &str) -> chrono::NaiveDate {
    format!("{month}{day}").parse().expect("date")
}

/// A log key of `month`'s `day` (shard 03).
fn log_of(month: &str, day: &str, id: &str) -> (String, String) {
    (format!("DAY#{month}{day}#03"), format!("{month}{day}T12:00:00Z#{id}"))
}

/// One stream record (keys only, as template.yaml's stream is) for the log `pk`/`sk`.
fn record(event_id: &str, sequence: u64, name: &str, (pk, sk): (&str, &str), created: DateTime<Utc>) -> Value {
    json!({
        "eventID": event_id,
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": created.timestamp() as f64,
            "Keys": { "pk": { "S": pk }, "sk": { "S": sk } },
            "SequenceNumber": format!("{sequence:028}"),
            "SizeBytes": 80,
            "StreamViewType": "KEYS_ONLY"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/DeploymentLogs/stream/2024-03-01T00:00:00.000"
    })
}

fn event(records: &[Value]) -> Event {
    serde_json::from_value(json!({ "Records": records })).expect("a DynamoDB stream event")
}

async fn deliver(store: &LateLogStore, records: &[Value]) -> BatchCounts {
    let (response, counts) = handle(store, event(records)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    counts
}

fn late(summary: &RunSummary) -> (Vec<String>, u64) {
    (summary.late_logs.clone(), summary.late_log_count)
}

#[tokio::test]
async fn logs_changed_after_their_day_was_reported_are_named_each_night_until_the_day_is_rerun() {
    moto_endpoint();
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    aws.logs = aws.logs.clone().with_page_limit(2);
    aws.reports = aws.reports.clone().with_page_limit(1);
    let reports_table = std::env::var("REPORTS_TABLE").expect("REPORTS_TABLE");
    let store = LateLogStore::new(dynamodb().await, &reports_table);
    assert_eq!(aws.logs.load(golden_logs_in(MONTH)).await.expect("load"), 34);
    let out: PathBuf = std::env::temp_dir().join(unique("late-logs"));

    // The 12th and 13th are reported (and their read start kept in their marks).
    let first =
        run_job(&table_run(ReportPlan::new(date("12"), date("13")).expect("plan"), &out), &Resend::Nothing, Some(&aws))
            .await
            .expect("12th..13th");
    assert_eq!(late(&first), (vec![], 0));
    let read_started_at = aws.reports.month_sums_mark(date("13")).await.expect("mark").and_then(|m| m.read_started_at);
    let read_started_at = read_started_at.expect("the mark keeps when the run started reading");
    assert!(read_started_at <= Utc::now());

    // A log of the 13th arrives after the report, and its stream record comes twice.
    let log_13 = (format!("DAY#{MONTH}13#05"), format!("{MONTH}13T23:59:59Z#late-13"));
    let mut item = golden_logs_in(MONTH)
        .into_iter()
        .find(|i| matches!(i.get("pk"), Some(AttributeValueD::S(s)) if s.starts_with(&format!("DAY#{MONTH}13#"))))
        .expect("a log of the 13th");
    item.insert("pk".into(), AttributeValueD::S(log_13.0.clone()));
    item.insert("sk".into(), AttributeValueD::S(log_13.1.clone()));
    item.insert("deployment_id".into(), AttributeValueD::S("late-13".into()));
    aws.logs.load(vec![item]).await.expect("load the late log");
    let now = Utc::now();
    let insert_13 = record("late-13-insert", 1, "INSERT", (&log_13.0, &log_13.1), now);
    assert_eq!(deliver(&store, std::slice::from_ref(&insert_13)).await, BatchCounts { late: 1, ..Default::default() });
    assert_eq!(
        deliver(&store, std::slice::from_ref(&insert_13)).await,
        BatchCounts { repeated: 1, ..Default::default() },
        "a redelivered record is recorded once"
    );

    // In one batch: a deletion of a log of the 12th (late), a log of the 20th (not reported
    // yet: kept pending, the night that reports the 20th decides), a change of the 13th the run
    // read (before its read started), and an invalid record.
    let batch = [
        record("late-12-remove", 2, "REMOVE", (&format!("DAY#{MONTH}12#01"), &format!("{MONTH}12T08:00:00Z#d-x")), now),
        record("on-time-20", 3, "INSERT", (&format!("DAY#{MONTH}20#02"), &format!("{MONTH}20T08:00:00Z#d-y")), now),
        record(
            "read-13",
            4,
            "MODIFY",
            (&format!("DAY#{MONTH}13#07"), &format!("{MONTH}13T09:00:00Z#d-z")),
            read_started_at - chrono::Duration::seconds(60),
        ),
        record("garbage", 5, "INSERT", ("not-a-log-key", "x"), now),
    ];
    assert_eq!(
        deliver(&store, &batch).await,
        BatchCounts { late: 1, pending: 1, not_late: 1, invalid: 1, repeated: 0 }
    );

    // The next night names them per date (no day is read twice: one day read); the 20th has no
    // report yet, so its pending change is no late log.
    let next =
        run_job(&table_run(ReportPlan::single(date("14")), &out), &Resend::Nothing, Some(&aws)).await.expect("14th");
    assert_eq!(next.days_read, 1, "{next:?}");
    assert_eq!(late(&next), (vec![format!("{MONTH}12: 1"), format!("{MONTH}13: 1")], 2));
    // ... and the night after, again, while nobody re-ran the dates.
    let again =
        run_job(&table_run(ReportPlan::single(date("15")), &out), &Resend::Nothing, Some(&aws)).await.expect("15th");
    assert_eq!(late(&again), (vec![format!("{MONTH}12: 1"), format!("{MONTH}13: 1")], 2));

    // A re-run of the 13th (with the later dates, as the job demands) reads its late log: the
    // 13th's is moot, the 12th's still counts. Stream times are whole seconds and a change in
    // the second a run starts reading counts as late (the safe side), so the re-run starts in a
    // later second than the late records (at most a second's wait on a fast machine).
    while Utc::now().timestamp() <= now.timestamp() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rerun =
        run_job(&table_run(ReportPlan::new(date("13"), date("15")).expect("plan"), &out), &Resend::Nothing, Some(&aws))
            .await
            .expect("re-run 13th..15th");
    assert_eq!(late(&rerun), (vec![format!("{MONTH}12: 1")], 1));
    let rerun =
        run_job(&table_run(ReportPlan::new(date("12"), date("15")).expect("plan"), &out), &Resend::Nothing, Some(&aws))
            .await
            .expect("re-run 12th..15th");
    assert_eq!(late(&rerun), (vec![], 0));
    let after =
        run_job(&table_run(ReportPlan::single(date("16")), &out), &Resend::Nothing, Some(&aws)).await.expect("16th");
    assert_eq!((after.days_read, late(&after)), (1, (vec![], 0)));

    // A change after the re-run is late again.
    let later =
        record("late-13-modify", 6, "MODIFY", (&log_13.0, &log_13.1), Utc::now() + chrono::Duration::seconds(1));
    assert_eq!(deliver(&store, &[later]).await, BatchCounts { late: 1, ..Default::default() });
    let night =
        run_job(&table_run(ReportPlan::single(date("17")), &out), &Resend::Nothing, Some(&aws)).await.expect("17th");
    assert_eq!(late(&night), (vec![format!("{MONTH}13: 1")], 1));
}

#[tokio::test]
async fn a_failed_check_reports_its_record_and_the_shard_resumes_there() {
    moto_endpoint();
    let store = LateLogStore::new(dynamodb().await, "NoSuchReportsTable");
    let now = Utc::now();
    let records = [
        record("bad", 10, "INSERT", ("nonsense", "x"), now),
        record("first", 11, "INSERT", ("DAY#2024-04-02#01", "2024-04-02T01:00:00Z#a"), now),
        record("second", 12, "INSERT", ("DAY#2024-04-03#01", "2024-04-03T01:00:00Z#b"), now),
    ];
    let (response, counts) = handle(&store, event(&records)).await;
    let failed: Vec<Option<String>> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, vec![Some(format!("{:028}", 11))], "the invalid record is skipped, the first failure reported");
    assert_eq!(counts, BatchCounts { invalid: 1, ..Default::default() });
}

/// Window 1: the night reporting a date reads its shards, then writes the date's mark after all
/// its sums. A change made after its shard was read and before the mark lands reaches the
/// function while the date has no mark: it is kept (pending), and every night from the one that
/// reports the date names it until the date is re-run. A change before that night's read start
/// is one the night read: kept pending too, never named.
#[tokio::test]
async fn a_change_recorded_before_its_dates_mark_lands_is_named_by_the_nights_after_its_read() {
    moto_endpoint();
    const JUNE: &str = "2024-06-";
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    aws.reports = aws.reports.clone().with_page_limit(1);
    let store = LateLogStore::new(dynamodb().await, std::env::var("REPORTS_TABLE").expect("REPORTS_TABLE"));
    assert_eq!(aws.logs.load(golden_logs_in(JUNE)).await.expect("load"), 34);
    let out: PathBuf = std::env::temp_dir().join(unique("late-logs-window"));

    // The stream times are given: the run below starts reading after `before_read` and before
    // `during_run` (it runs now; `during_run` is ten minutes on, while it is still unmarked).
    let now = Utc::now();
    let (before_read, during_run) = (now - chrono::Duration::hours(1), now + chrono::Duration::minutes(10));
    let (read_log, unread_log) = (log_of(JUNE, "13", "read"), log_of(JUNE, "13", "unread"));
    let batch = [
        record("june-13-before-read", 20, "MODIFY", (&read_log.0, &read_log.1), before_read),
        record("june-13-during-run", 21, "INSERT", (&unread_log.0, &unread_log.1), during_run),
    ];
    assert_eq!(
        deliver(&store, &batch).await,
        BatchCounts { pending: 2, ..Default::default() },
        "no mark yet: both kept, not dropped as 'the night will read it'"
    );

    let night = run_job(
        &table_run(ReportPlan::new(on(JUNE, "12"), on(JUNE, "13")).expect("plan"), &out),
        &Resend::Nothing,
        Some(&aws),
    )
    .await
    .expect("12th..13th");
    let read_started_at =
        aws.reports.month_sums_mark(on(JUNE, "13")).await.expect("mark").and_then(|m| m.read_started_at);
    let read_started_at = read_started_at.expect("read start");
    assert!(before_read < read_started_at && read_started_at < during_run, "the given times bracket the read start");
    assert_eq!(late(&night), (vec![format!("{JUNE}13: 1")], 1), "the change after its read start, not the one before");
    let next = run_job(&table_run(ReportPlan::single(on(JUNE, "14")), &out), &Resend::Nothing, Some(&aws))
        .await
        .expect("14th");
    assert_eq!(late(&next), (vec![format!("{JUNE}13: 1")], 1), "named again until the 13th is re-run");
}

fn payload(value: Value) -> ScheduledRun {
    serde_json::from_value(value).expect("a valid payload")
}

/// Window 2: in scale-out mode the merge marks the date with the partitions' earliest read start
/// (kept beside each partial) and names the late logs of the month from it, as a single run does;
/// the function then tells a change the merged report read from one it may not have.
#[tokio::test]
async fn the_scale_out_merge_marks_its_read_start_and_names_late_logs() {
    moto_endpoint();
    const MAY: &str = "2024-05-";
    let aws = AwsContext::from_env().await.expect("local stack env");
    let store = LateLogStore::new(dynamodb().await, std::env::var("REPORTS_TABLE").expect("REPORTS_TABLE"));
    assert_eq!(aws.logs.load(golden_logs_in(MAY)).await.expect("load"), 34);
    let out: PathBuf = std::env::temp_dir().join(unique("late-logs-merge"));

    // The 12th is reported by a single run; a log of it changes after that run's read start.
    run_job(&table_run(ReportPlan::single(on(MAY, "12")), &out), &Resend::Nothing, Some(&aws)).await.expect("12th");
    let started_12 = aws.reports.month_sums_mark(on(MAY, "12")).await.expect("mark").and_then(|m| m.read_started_at);
    let log_12 = log_of(MAY, "12", "late-12");
    let late_12 = record("may-12-late", 30, "INSERT", (&log_12.0, &log_12.1), started_12.expect("read start"));
    assert_eq!(deliver(&store, &[late_12]).await, BatchCounts { late: 1, ..Default::default() });

    // The 13th through the state machine: 16 partitions, then the merge.
    let test_start = Utc::now();
    let run_id = unique("late-merge");
    let mut partials = Vec::new();
    for i in 0..16 {
        let p = payload(
            json!({"mode": "partition", "date": format!("{MAY}13"), "run_id": run_id, "partition": i, "partitions": 16}),
        );
        partials.push(
            handle_scheduled(&p, &aws, Path::new("/nonexistent"), 4).await.expect("partition")["partial"].clone(),
        );
    }
    let merge = payload(json!({"mode": "merge", "date": format!("{MAY}13"), "run_id": run_id, "partials": partials}));
    let merged = handle_scheduled(&merge, &aws, &out, 4).await.expect("merge");
    assert_eq!(
        (merged["late_logs"].clone(), merged["late_log_count"].clone()),
        (json!([format!("{MAY}12: 1")]), json!(1)),
        "the merge names the late logs as a single run does"
    );

    let mark = aws.reports.month_sums_mark(on(MAY, "13")).await.expect("mark").expect("the 13th is marked");
    let read_start = mark.read_started_at.expect("the merge keeps the partitions' read start");
    assert!(test_start <= read_start && read_start <= Utc::now(), "{read_start} is a partition's read start");
    assert_eq!(mark.items, Some(5), "the partitions' items of the 13th, summed");

    // A change the merged report read (before its read start) is no late log; one at it is.
    let (read_log, unread_log) = (log_of(MAY, "13", "read"), log_of(MAY, "13", "unread"));
    let batch = [
        record("may-13-read", 31, "MODIFY", (&read_log.0, &read_log.1), read_start - chrono::Duration::seconds(60)),
        record("may-13-unread", 32, "MODIFY", (&unread_log.0, &unread_log.1), read_start),
    ];
    assert_eq!(deliver(&store, &batch).await, BatchCounts { late: 1, not_late: 1, ..Default::default() });
}
