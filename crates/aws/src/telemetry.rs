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
