//! A full local disk against the local stack (moto, through the real SDK): a storing and sending
//! run whose report files do not fit its local-disk budget stores nothing in the `Reports` table
//! or the report-files bucket and emails no one (every local file is written before anything is
//! stored or sent); the same run with room does all three.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use marketplace_aws::report_files::date_prefix;
use marketplace_reports::delivery::Resend;
use marketplace_reports::ReportPlan;
use marketplace_tests::deliveries::*;
use marketplace_tests::reports::keys_under;
use marketplace_tests::*;
use nightly_reports::app::{publish, AppError, AwsContext};
use nightly_reports::cli::Delivery;
use nightly_reports::disk::DiskBudget;
use nightly_reports::pipeline::{aggregate_export_source, RunSummary};
use nightly_reports::spill::Spill;

/// The run of `date` from `export` within `budget`: the export source, the spill, then every sink
/// `delivery` asks for.
async fn run(
    export: &Path,
    date: NaiveDate,
    out: &Path,
    budget: DiskBudget,
    delivery: Delivery,
    aws: Option<&AwsContext>,
) -> Result<RunSummary, AppError> {
    let spill = Spill::new(budget).expect("spill");
    let agg = aggregate_export_source(export, ReportPlan::single(date), None, Some(&spill)).expect("aggregates");
    publish(agg, out, delivery, &Resend::Nothing, Some(&spill), None, aws).await
}

#[tokio::test]
async fn a_full_local_disk_stores_nothing_and_emails_no_one() {
    moto_endpoint();
    let aws = AwsContext::from_env().await.expect("local stack env");
    assert!(aws.files.is_some(), "the local stack names the report-files bucket");
    let date = date_of_its_own();
    let ids = provider_ids("diskfull", 3);
    store_providers(aws.providers.table(), &ids, None, false).await;
    let export = export_file(&ids, &date.to_string());
    let scratch = std::env::temp_dir().join(unique("report-storage"));

    // What the run needs on the local disk: the same run, nothing stored or sent.
    let local = Delivery { store: false, send: false, resend: false };
    let dry = run(&export, date, &scratch.join("dry"), DiskBudget::unlimited(), local, None).await.expect("dry run");
    let need = dry.local_disk_peak_bytes.expect("the run's peak");

    // Half of it: the report files stop the run before anything leaves the machine.
    let everything = Delivery { store: true, send: true, resend: false };
    let out = scratch.join("out");
    match run(&export, date, &out, DiskBudget::limited(need / 2), everything, Some(&aws)).await {
        Err(AppError::DiskFull(full)) => assert!(full.path.starts_with(&out), "{full}"),
        other => panic!("expected a full local disk, got {other:?}"),
    }
    assert!(!out.join(date.to_string()).exists(), "no date directory");
    assert!(aws.reports.month_sums_mark(date).await.expect("read").is_none(), "no month sums for {date}");
    for id in &ids {
        assert_eq!(aws.reports.provider_rows(id, date, date).await.expect("read").len(), 0, "no rows of {id}");
        assert_eq!(emails_to(&address(id)).len(), 0, "no email to {id}");
    }
    assert_eq!(keys_under(&date_prefix(date)).await, BTreeSet::new(), "no report file in the bucket");

    // With room, the same run stores and sends all of it.
    let summary =
        run(&export, date, &out, DiskBudget::limited(need), everything, Some(&aws)).await.expect("a run with room");
    assert_eq!(summary.local_disk_peak_bytes, Some(need));
    assert!(aws.reports.month_sums_mark(date).await.expect("read").is_some(), "month sums stored");
    for id in &ids {
        assert_eq!(aws.reports.provider_rows(id, date, date).await.expect("read").len(), 1, "{id}'s row");
        assert_eq!(emails_to(&address(id)).len(), 1, "{id}'s report");
    }
    assert_eq!(keys_under(&date_prefix(date)).await.len(), summary.files_uploaded);
    std::fs::remove_dir_all(&scratch).expect("clean up");
}
