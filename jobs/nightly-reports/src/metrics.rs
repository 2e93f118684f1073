//! Operator metrics in CloudWatch's embedded metric format (EMF): one JSON line per Lambda run
//! on stdout, which CloudWatch Logs turns into metrics of namespace [`NAMESPACE`] without any
//! API call. `template.yaml` alarms on `DeliveriesInDoubt`, `DeliveriesFailed` and `LateLogs` (> 0), on a
//! night without `SuccessfulRun` (the heartbeat), and on a monthly statement run that found its
//! month incomplete: `StatementDaysMissing` (days without a finished daily run; the run refused
//! the whole month) or `StatementsUnreconciled` (statements that disagree with the last day's
//! month sums; those providers were left out) > 0.
//!
//! Only the Lambda entry point prints the run's line; a statement run refused for missing days
//! prints its own ([`statement_refused_line`]) through [`emit_in_lambda`], also only under
//! Lambda: the CLI's stdout ends with its JSON summary.

use std::time::Duration;

use serde_json::{json, Map, Value};

/// CloudWatch namespace of the job's metrics.
pub const NAMESPACE: &str = "Marketplace/NightlyReports";

/// (metric, field of the run summary) pairs, all `Count`.
const COUNTS: &[(&str, &str)] = &[
    ("RecordsRead", "items"),
    ("RecordsRejected", "rejected"),
    ("Groups", "groups"),
    ("DaysRead", "days_read"),
    ("EmailsSent", "emails_sent"),
    ("DeliveriesInDoubt", "deliveries_in_doubt"),
    ("DeliveriesPostponed", "deliveries_postponed"),
    ("LateLogs", "late_log_count"),
    ("StatementsUnreconciled", "statements_unreconciled"),
];

/// The EMF line for one run: `summary` is the run summary as JSON (what the handler returns,
/// or what a failed delivery carried), `failed_deliveries` how many deliveries failed,
/// `succeeded` whether the run as a whole succeeded (the heartbeat), `now_ms` the timestamp.
pub fn emf_line(summary: &Value, failed_deliveries: usize, succeeded: bool, duration: Duration, now_ms: i64) -> String {
    let mut metrics = vec![json!({"Name": "DurationMs", "Unit": "Milliseconds"})];
    let mut record = Map::new();
    for (metric, field) in COUNTS {
        if let Some(n) = summary.get(field).and_then(Value::as_u64) {
            metrics.push(json!({"Name": metric, "Unit": "Count"}));
            record.insert((*metric).to_owned(), json!(n));
        }
    }
    for (metric, value) in [("DeliveriesFailed", failed_deliveries as u64), ("SuccessfulRun", u64::from(succeeded))] {
        metrics.push(json!({"Name": metric, "Unit": "Count"}));
        record.insert(metric.to_owned(), json!(value));
    }
    // The local disk: the run's peak, and its share of the budget (`EphemeralStorage`).
    let peak = summary.get("local_disk_peak_bytes").and_then(Value::as_u64);
    let limit = summary.get("local_disk_limit_bytes").and_then(Value::as_u64).filter(|&l| l > 0);
    if let Some(peak) = peak {
        metrics.push(json!({"Name": "LocalDiskPeakBytes", "Unit": "Bytes"}));
        record.insert("LocalDiskPeakBytes".to_owned(), json!(peak));
        if let Some(limit) = limit {
            metrics.push(json!({"Name": "LocalDiskUsedPercent", "Unit": "Percent"}));
            record.insert("LocalDiskUsedPercent".to_owned(), json!(peak.saturating_mul(100) / limit));
        }
    }
    record.insert("DurationMs".to_owned(), json!(duration.as_millis() as u64));
    record.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [[]], "Metrics": metrics}]
        }),
    );
    Value::Object(record).to_string()
}

/// The EMF line of a statement run refused because `days_missing` days of its month have no
/// finished daily run (`StatementDaysMissing`), at `now_ms`.
pub fn statement_refused_line(days_missing: usize, now_ms: i64) -> String {
    json!({
        "StatementDaysMissing": days_missing as u64,
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{"Name": "StatementDaysMissing", "Unit": "Count"}]
            }]
        }
    })
    .to_string()
}

/// Prints an EMF `line` on stdout when running under Lambda (which ships stdout to CloudWatch
/// Logs); elsewhere nothing: the CLI's stdout is its JSON summary, and its error says the same.
pub fn emit_in_lambda(line: &str) {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_becomes_one_emf_record_with_every_metric_declared() {
        let summary = json!({"items": 1000, "rejected": 2, "groups": 40, "days_read": 1, "emails_sent": 12, "deliveries_in_doubt": 1, "late_log_count": 3});
        let line = emf_line(&summary, 1, false, Duration::from_millis(1500), 1_700_000_000_000);
        let v: Value = serde_json::from_str(&line).expect("json");
        let declared: Vec<&str> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        for name in declared.iter() {
            assert!(v.get(*name).is_some(), "{name} has a value");
        }
        assert_eq!(declared.len(), 10);
        assert_eq!(v["LateLogs"].as_u64(), Some(3));
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!((v["RecordsRead"].as_u64(), v["DeliveriesInDoubt"].as_u64()), (Some(1000), Some(1)));
        assert_eq!((v["SuccessfulRun"].as_u64(), v["DeliveriesFailed"].as_u64()), (Some(0), Some(1)));
        assert_eq!(v["DurationMs"].as_u64(), Some(1500));
        assert_eq!(v["_aws"]["Timestamp"].as_i64(), Some(1_700_000_000_000));
    }

    #[test]
    fn a_run_near_its_local_disk_budget_shows_it_as_a_share() {
        let summary =
            json!({"items": 1, "local_disk_peak_bytes": 3_355_443_200u64, "local_disk_limit_bytes": 4_294_967_296u64});
        let v: Value = serde_json::from_str(&emf_line(&summary, 0, true, Duration::ZERO, 1)).expect("json");
        assert_eq!(
            (v["LocalDiskPeakBytes"].as_u64(), v["LocalDiskUsedPercent"].as_u64()),
            (Some(3_355_443_200), Some(78))
        );
        let units: Vec<_> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|m| m["Unit"].as_str())
            .collect();
        assert!(units.contains(&"Bytes") && units.contains(&"Percent"), "{units:?}");
        let unlimited = json!({"items": 1, "local_disk_peak_bytes": 4096});
        let v: Value = serde_json::from_str(&emf_line(&unlimited, 0, true, Duration::ZERO, 1)).expect("json");
        assert!(v.get("LocalDiskUsedPercent").is_none(), "no budget, no share");
    }

    #[test]
    fn a_statement_run_feeds_the_unreconciled_and_days_missing_metrics() {
        let summary = json!({"month": "2026-02", "emails_sent": 3, "statements_unreconciled": 2});
        let v: Value = serde_json::from_str(&emf_line(&summary, 2, false, Duration::ZERO, 1)).expect("json");
        assert_eq!(v["StatementsUnreconciled"].as_u64(), Some(2));
        let refused: Value = serde_json::from_str(&statement_refused_line(3, 1_700_000_000_000)).expect("json");
        assert_eq!(refused["StatementDaysMissing"].as_u64(), Some(3));
        let declared = &refused["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            (declared["Namespace"].as_str(), declared["Metrics"][0]["Name"].as_str()),
            (Some(NAMESPACE), Some("StatementDaysMissing"))
        );
        assert_eq!(refused["_aws"]["Timestamp"].as_i64(), Some(1_700_000_000_000));
    }
}
