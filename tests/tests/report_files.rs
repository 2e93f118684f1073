//! The report-files bucket against the local stack (moto S3, through the real SDK): a re-run of a
//! date leaves exactly its own files under `reports/<date>/`, so nothing stale is served.

use std::collections::BTreeSet;

use marketplace_aws::report_files::{date_prefix, object_key, provider_files_prefix};
use marketplace_reports::delivery::Resend;
use marketplace_reports::{AttributeValue, Item, ReportPlan};
use marketplace_tests::reports::*;
use marketplace_tests::*;
use nightly_reports::app::{run_job, AwsContext};

/// The object keys of the files a run wrote locally for `date` (its `<out>/<date>/` directory).
fn keys_of_run(out: &std::path::Path, date: chrono::NaiveDate) -> BTreeSet<String> {
    files_under(&out.join(date.to_string())).keys().map(|relative| object_key(date, relative)).collect()
}

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn a_rerun_of_a_date_deletes_the_files_of_a_provider_whose_log_moved_away() {
    moto_endpoint();
    let aws = AwsContext::from_env().await.expect("local stack env");
    assert!(aws.files.is_some(), "the local stack names the report-files bucket");
    // A month of its own on the shared emulator: the golden logs of the 14th, every one
    // Q's but one succeeded deployment, which is P's.
    let month = "2024-09-";
    let date: chrono::NaiveDate = format!("{month}14").parse().expect("date");
    let (p, q) = (unique("stale-files-p"), unique("stale-files-q"));
    let mut logs: Vec<Item> = golden_logs_in(month)
        .into_iter()
        .filter(|item| text(item, "finished_at").starts_with(&date.to_string()))
        .collect();
    let moved = logs.iter().position(|item| text(item, "status") == "SUCCEEDED").expect("a succeeded log of the 14th");
    for (i, item) in logs.iter_mut().enumerate() {
        let owner = if i == moved { &p } else { &q };
        item.insert("provider_id".into(), AttributeValue::S(owner.clone()));
    }
    aws.logs.load(logs.clone()).await.expect("load");
    let out = std::env::temp_dir().join(unique("report-files-out"));

    run_job(&table_run(ReportPlan::single(date), &out), &Resend::Nothing, Some(&aws)).await.expect("first run");
    let p_prefix = provider_files_prefix(&p, date);
    let p_files = keys_under(&p_prefix).await;
    assert!(p_files.contains(&format!("{p_prefix}deployments.csv")), "P has its report: {p_files:?}");
    assert_eq!(keys_under(&date_prefix(date)).await, keys_of_run(&out, date), "the date holds the run's files");
    let q_before = deployments_of(&out, date, &q);

    // The deployment engine corrects the log: it was Q's. The re-run of the date...
    let mut corrected = logs[moved].clone();
    corrected.insert("provider_id".into(), AttributeValue::S(q.clone()));
    aws.logs.load(vec![corrected]).await.expect("move the log to Q");
    let rerun =
        run_job(&table_run(ReportPlan::single(date), &out), &Resend::Nothing, Some(&aws)).await.expect("re-run");

    // ...leaves exactly its own files: none of P's, Q's with the moved deployment.
    assert_eq!(keys_under(&p_prefix).await, BTreeSet::new(), "P downloads nothing of Q's for {date}");
    let in_bucket = keys_under(&date_prefix(date)).await;
    assert_eq!(in_bucket, keys_of_run(&out, date), "the date holds exactly the re-run's files");
    assert_eq!(rerun.files_uploaded, in_bucket.len());
    let q_deployments = format!("{}deployments.csv", provider_files_prefix(&q, date));
    assert!(in_bucket.contains(&q_deployments), "{in_bucket:?}");
    assert_eq!(deployments_of(&out, date, &q), q_before + 1, "Q's file counts the moved deployment");
}

/// The deployments `provider`'s local `deployments.csv` of `date` counts (its `deployments` column).
fn deployments_of(out: &std::path::Path, date: chrono::NaiveDate, provider: &str) -> u64 {
    let files = files_under(&out.join(date.to_string()));
    let csv = String::from_utf8_lossy(&files[&format!("providers/{provider}/deployments.csv")]).into_owned();
    let mut lines = csv.lines();
    // Counted from the right: product names may hold quoted commas, the columns after them do not.
    let from_right =
        lines.next().and_then(|h| h.rsplit(',').position(|c| c == "deployments")).expect("a deployments column");
    lines.map(|l| l.rsplit(',').nth(from_right).and_then(|n| n.parse::<u64>().ok()).expect("a count")).sum()
}
