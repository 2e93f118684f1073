//! # marketplace-aws
//!
//! The one place where AWS SDK types appear: DynamoDB implementations of the portal's stores, the
//! SES mailer, the SDK settings, the one attribute converter ([`attributes`]) and error mapper
//! ([`sdk_error`]), and the Lambda plumbing every portal function shares (SQS batch → EventBridge
//! envelope → idempotent [`PortalOperation`] → `SqsBatchResponse`).
//!
//! The report engine's adapters come with features: `reports` gives the `Reports` table
//! (`reports_table`, `batch_write`), `report-files` adds the report files bucket and the reports
//! API's reader (`report_files`, `report_reader`). The portal functions use neither, so they do
//! not depend on `marketplace-reports` or the S3 client.
//!
//! Endpoints come from the SDK's own settings (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_ENDPOINT_URL_SES`), which is how the tests point everything at the local emulator; there
//! is no test mode in this code.

pub mod attributes;
pub mod batch;
#[cfg(feature = "reports")]
pub mod batch_write;
pub mod idempotency;
pub mod mailer;
pub mod mpa_versions;
pub mod provider_store;
#[cfg(feature = "report-files")]
pub mod report_files;
#[cfg(feature = "report-files")]
pub mod report_reader;
#[cfg(feature = "reports")]
pub mod reports_table;
pub mod sdk;
pub mod sdk_error;
pub mod telemetry;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use marketplace_core::PortalConfig;
use marketplace_portal::metrics::Counters;
use marketplace_portal::ports::Services;

pub use batch::{process_portal_batch, BatchReport, Deadline, PortalOperation, RecordOutcome};
pub use idempotency::DynamoIdempotencyStore;
pub use mailer::SesMailer;
pub use provider_store::DynamoProviderStore;

/// The SDK configuration (Lambda-fitted credentials, region, endpoints, timeouts): see [`sdk`].
pub use aws_types::SdkConfig;
pub use sdk::{batch_sdk_config, sdk_config};

/// Reads a required environment variable, naming it when it is missing.
pub fn required_env(name: &str) -> anyhow::Result<String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => anyhow::bail!("environment variable {name} is not set"),
    }
}

/// The portal functions' timeout (`template.yaml`, `Globals.Function.Timeout`): the deadline of an
/// invocation that has no Lambda context (a direct call of [`PortalApp::handle`]).
pub const FUNCTION_TIMEOUT: chrono::Duration = chrono::Duration::seconds(30);

/// The most time one record may take, unless `RECORD_TIME_BUDGET_MS` says otherwise: a record
/// starts only with this much (plus the response margin) left and is cut when it is spent (the
/// arithmetic with the SDK's timeouts: [`sdk::PORTAL_FUNCTION`]).
pub const DEFAULT_RECORD_BUDGET: chrono::Duration = chrono::Duration::seconds(10);

/// Everything a portal-event function needs, built once per cold start.
pub struct PortalApp {
    pub store: DynamoProviderStore,
    pub idempotency: DynamoIdempotencyStore,
    pub mailer: SesMailer,
    pub config: PortalConfig,
    /// The most time one record may take (the deadline guard, [`batch`]).
    pub record_budget: chrono::Duration,
    /// The time an invocation without a Lambda context has ([`PortalApp::handle`]):
    /// [`FUNCTION_TIMEOUT`], as in Lambda.
    pub function_timeout: chrono::Duration,
}

impl PortalApp {
    /// Builds the clients from the environment: `MARKETPLACE_TABLE`, `IDEMPOTENCY_TABLE`,
    /// optionally `RECORD_TIME_BUDGET_MS` and the SDK timeout overrides
    /// ([`sdk::SdkTimeouts::overridden_by_env`]), and the [`PortalConfig`] variables.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = PortalConfig::from_env()?;
        let record_budget = match std::env::var("RECORD_TIME_BUDGET_MS") {
            Ok(ms) => chrono::Duration::milliseconds(
                ms.trim().parse().map_err(|e| anyhow::anyhow!("RECORD_TIME_BUDGET_MS={ms:?}: {e}"))?,
            ),
            Err(_) => DEFAULT_RECORD_BUDGET,
        };
        let timeouts = sdk::PORTAL_FUNCTION.overridden_by_env().map_err(anyhow::Error::msg)?;
        let sdk = sdk::sdk_config_with(timeouts).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let idempotency = DynamoIdempotencyStore::new(dynamodb.clone(), required_env("IDEMPOTENCY_TABLE")?);
        Ok(PortalApp {
            store: DynamoProviderStore::new(dynamodb, required_env("MARKETPLACE_TABLE")?)
                .with_claims(idempotency.clone()),
            idempotency,
            mailer: SesMailer::new(aws_sdk_ses::Client::new(&sdk)),
            config,
            record_budget,
            function_timeout: FUNCTION_TIMEOUT,
        })
    }

    /// What the domain operations of one batch may touch; `counters` collect the batch's metrics.
    pub fn services<'a>(&'a self, counters: &'a Counters) -> Services<'a> {
        Services {
            store: &self.store,
            ledger: &self.store,
            mailer: &self.mailer,
            config: &self.config,
            counters,
            claim: None,
        }
    }

    /// Handles one SQS batch of portal events with `operation` until `deadline` (see [`batch`]),
    /// publishes its metrics and returns every record's outcome.
    pub async fn process<O: PortalOperation>(
        &self,
        operation: &O,
        batch: SqsEvent,
        deadline: chrono::DateTime<chrono::Utc>,
    ) -> BatchReport {
        let counters = Counters::default();
        let deadline = Deadline { at: deadline, record_budget: self.record_budget };
        let report =
            process_portal_batch(operation, batch, &self.idempotency, self.services(&counters), deadline).await;
        telemetry::emit_metrics(O::FUNCTION, &report.metrics(&counters));
        report
    }

    /// Handles one SQS batch as an invocation starting now with the functions' timeout.
    pub async fn handle<O: PortalOperation>(&self, operation: &O, batch: SqsEvent) -> SqsBatchResponse {
        self.process(operation, batch, chrono::Utc::now() + self.function_timeout).await.response()
    }
}

/// The whole `main` of a portal-event function: logging, clients from the environment, then the
/// Lambda runtime loop feeding SQS batches to `operation` until each invocation's deadline.
pub async fn run_portal_function<O: PortalOperation>(operation: O) -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = PortalApp::from_env().await?;
    let (app, operation) = (&app, &operation);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
        let deadline = invocation_deadline(event.context.deadline(), chrono::Utc::now());
        Ok::<_, lambda_runtime::Error>(app.process(operation, event.payload, deadline).await.response())
    }))
    .await
}

/// The invocation's deadline as the runtime states it. An invocation that has just started cannot
/// be past its deadline: such a value is not a wall-clock deadline (cargo-lambda's local emulator
/// sends one), and trusting it would make the deadline guard refuse every record, so the
/// functions' timeout from now stands in for it.
pub fn invocation_deadline(
    stated: std::time::SystemTime,
    now: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    let stated = chrono::DateTime::<chrono::Utc>::from(stated);
    if stated < now - chrono::Duration::seconds(1) {
        tracing::warn!(%stated, "the runtime's deadline is already past; assuming the function timeout from now");
        return now + FUNCTION_TIMEOUT;
    }
    stated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_deadline_is_kept_and_an_impossible_one_replaced() {
        let now = chrono::Utc::now();
        let in_20s = std::time::SystemTime::from(now + chrono::Duration::seconds(20));
        assert_eq!(invocation_deadline(in_20s, now), chrono::DateTime::<chrono::Utc>::from(in_20s));
        let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(4_000);
        assert_eq!(invocation_deadline(long_ago, now), now + FUNCTION_TIMEOUT);
    }
}
