//! Logging: JSON lines (CloudWatch-friendly) inside Lambda, readable text elsewhere.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// The log filter from `RUST_LOG` (`info`, `warn,nightly_reports=debug`, ...; default `info`).
///
/// `Targets` takes the plain `target=level` directives we use; `EnvFilter` would also take span
/// and field patterns, at the cost of the `regex` crate in every binary (cold start and size).
pub fn log_filter() -> Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs the global subscriber once; later calls are ignored. `RUST_LOG` sets the filter
/// ([`log_filter`]); `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda) switches to JSON.
pub fn init() {
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        let json = layer.json().with_current_span(false).with_ansi(false).without_time();
        tracing_subscriber::registry().with(json.with_filter(log_filter())).try_init()
    } else {
        tracing_subscriber::registry().with(layer.with_filter(log_filter())).try_init()
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
