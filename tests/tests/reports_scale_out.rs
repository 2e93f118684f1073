//! The nightly job's Lambda modes against the local stack: the scale-out path (16 day-shard
//! partitions handing partial aggregates over through S3, then a merge) publishes exactly what a
//! single run does, and the schedule's `scheduled_time` picks the day before it.

use std::path::Path;

use marketplace_aws::sdk_error::AwsError;
use marketplace_core::DomainError;
use marketplace_reports::attribute::parse_export_line;
use marketplace_tests::*;
use nightly_reports::app::{handle_scheduled, AppError, AwsContext, ScheduledRun};
use nightly_reports::pipeline::JobError;
use serde_json::json;

fn payload(value: serde_json::Value) -> ScheduledRun {
    serde_json::from_value(value).expect("a valid payload")
}

#[tokio::test]
async fn sixteen_partitions_and_a_merge_publish_what_a_single_run_does() {
    moto_endpoint();
    let aws = AwsContext::from_env().await.expect("local stack env");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobs/nightly-reports/tests/fixtures/reports-2026-02-14");
    let items = std::fs::read_to_string(fixture.join("deployment-logs-export.json"))
        .expect("fixture")
        .lines()
        .map(|l| parse_export_line(l).expect("export line"))
        .collect();
    aws.logs.load(items).await.expect("load logs");

    // What the schedule sends at 02:00 on the 15th: the report is for the 14th.
    let single_out = std::env::temp_dir().join(unique("single"));
    let scheduled = payload(json!({"mode": "run", "scheduled_time": "2026-02-15T02:00:00Z"}));
    let single = handle_scheduled(&scheduled, &aws, &single_out, 4).await.expect("single run");
    assert_eq!(single["dates"], json!(["2026-02-14"]));
    assert_eq!((single["counted"].as_u64(), single["rejected"].as_u64()), (Some(27), Some(2)));

    // The state machine: 16 partitions (one per day-shard), then the merge.
    let run_id = unique("run");
    let mut partials = Vec::new();
    let mut counted = 0;
    for i in 0..16 {
        let p = payload(json!({"mode": "partition", "scheduled_time": "2026-02-15T02:00:00Z",
                               "run_id": run_id, "partition": i, "partitions": 16}));
        let result = handle_scheduled(&p, &aws, Path::new("/nonexistent"), 4).await.expect("partition");
        assert_eq!(result["partial"], json!(format!("partials/{run_id}/{i}.json")));
        counted += result["counted"].as_u64().expect("counted");
        partials.push(result["partial"].clone());
    }
    assert_eq!(counted, 27, "every deployment is counted by exactly one partition");
    // The partials hold group totals only; error and reject rows are sorted runs beside them.
    let store = aws.partials.as_ref().expect("REPORT_PARTIALS_BUCKET");
    let mut rows_bytes = 0;
    for i in 0..16 {
        let partial = store.get(&format!("partials/{run_id}/{i}.json")).await.expect("partial");
        let partial = nightly_reports::pipeline::decode_partial(&partial).expect("decodes");
        assert_eq!(partial.held_rows(), 0, "partial {i} carries no rows");
        for kind in ["errors", "rejects"] {
            rows_bytes += store.get(&format!("partials/{run_id}/{i}.{kind}")).await.expect("rows run").len();
        }
    }
    assert!(rows_bytes > 0, "the error and reject rows were handed over as runs");
    let merge_out = std::env::temp_dir().join(unique("merged"));
    let merge = payload(
        json!({"mode": "merge", "scheduled_time": "2026-02-15T02:00:00Z", "run_id": run_id, "partials": partials}),
    );
    let merged = handle_scheduled(&merge, &aws, &merge_out, 4).await.expect("merge");

    assert_eq!(files_under(&merge_out), files_under(&single_out), "byte-identical files");
    assert_eq!(merged["items_stored"], single["items_stored"]);
    assert_eq!(merged["emails_sent"], json!(0), "the merge sends nothing the single run already sent");
    let expected = files_under(&fixture.join("expected"));
    let merged_tree = files_under(&merge_out);
    assert_eq!(merged_tree["2026-02-14/marketplace-summary.csv"], expected["2026-02-14/marketplace-summary.csv"]);
}

#[tokio::test]
async fn malformed_scale_out_payloads_are_refused() {
    moto_endpoint();
    let aws = AwsContext::from_env().await.expect("local stack env");
    let out = std::env::temp_dir().join(unique("refused"));
    let invalid = |e: &AppError| matches!(e, AppError::Config(DomainError::Invalid(_)));
    let nothing = |e: &AppError| matches!(e, AppError::Job(JobError::NothingToMerge));
    let s3 = |e: &AppError| matches!(e, AppError::Aws(AwsError::S3 { operation: "GetObject", .. }));
    type Expected<'a> = &'a dyn Fn(&AppError) -> bool;
    let cases: [(&str, serde_json::Value, Expected); 5] = [
        ("no run id", json!({"mode": "partition", "date": "2026-02-14", "partition": 0, "partitions": 16}), &invalid),
        (
            "run id with a path",
            json!({"mode": "partition", "date": "2026-02-14", "run_id": "../x", "partition": 0, "partitions": 16}),
            &invalid,
        ),
        (
            "partition out of range",
            json!({"mode": "partition", "date": "2026-02-14", "run_id": "r", "partition": 16, "partitions": 16}),
            &invalid,
        ),
        ("nothing to merge", json!({"mode": "merge", "date": "2026-02-14", "partials": []}), &nothing),
        ("missing partial", json!({"mode": "merge", "date": "2026-02-14", "partials": ["partials/none/0.json"]}), &s3),
    ];
    for (name, body, expected) in cases {
        match handle_scheduled(&payload(body), &aws, &out, 4).await {
            Err(e) => assert!(expected(&e), "{name}: unexpected error {e:?}"),
            Ok(v) => panic!("{name}: accepted ({v})"),
        }
    }
    assert!(serde_json::from_value::<ScheduledRun>(json!({"mode": "explode"})).is_err(), "unknown modes are refused");
    assert!(!out.exists(), "nothing written");
}
