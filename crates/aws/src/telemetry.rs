//! Logging: JSON lines (CloudWatch-friendly) inside Lambda, readable text elsewhere.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are ignored. `RUST_LOG` sets the filter
/// (default `info`); `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda) switches to JSON.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder.json().with_current_span(false).with_ansi(false).without_time().try_init()
    } else {
        builder.try_init()
    };
    let _ = result;
}

/// The CloudWatch namespace of the portal functions' metrics.
pub const NAMESPACE: &str = "Marketplace/Portal";

/// One CloudWatch embedded-metric-format record: counts for `function`, as one JSON line.
///
/// Lambda ships stdout to CloudWatch Logs, which turns such a line into metrics (dimension
/// `Function`); no API call, no extra latency. A crate would add a metrics facade and a
/// dependency tree for what is one JSON object.
pub fn emf_line(function: &str, timestamp_ms: i64, counts: &[(&str, u64)]) -> String {
    let metrics: Vec<serde_json::Value> =
        counts.iter().map(|(name, _)| serde_json::json!({ "Name": name, "Unit": "Count" })).collect();
    let mut record = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": metrics }]
        },
        "Function": function,
    });
    for (name, value) in counts {
        record[*name] = serde_json::json!(value);
    }
    record.to_string()
}

/// Prints [`emf_line`] on stdout.
pub fn emit_metrics(function: &str, counts: &[(&str, u64)]) {
    println!("{}", emf_line(function, chrono::Utc::now().timestamp_millis(), counts));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_declares_every_count_it_carries() {
        let line = emf_line("signup-notification", 1_700_000_000_000, &[("EventsProcessed", 3), ("EventsRejected", 1)]);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Function"]]));
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"], "EventsRejected");
        assert_eq!(v["Function"], "signup-notification");
        assert_eq!(v["EventsProcessed"], 3);
        assert_eq!(v["EventsRejected"], 1);
        assert!(!line.contains('\n'));
    }
}
