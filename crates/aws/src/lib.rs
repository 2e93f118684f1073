//! # marketplace-aws
//!
//! The one place where AWS SDK types appear: DynamoDB implementations of the domain's stores, the
//! SES mailer, and the Lambda plumbing every portal function shares (SQS batch → EventBridge
//! envelope → idempotent domain operation → `SqsBatchResponse`).
//!
//! Endpoints come from the SDK's own settings (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_ENDPOINT_URL_SES`), which is how the tests point everything at the local emulator; there
//! is no test mode in this code.

pub mod attributes;
pub mod batch;
pub mod idempotency;
pub mod mailer;
pub mod provider_store;
pub mod sdk;
pub mod telemetry;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use marketplace_domain::ports::Services;
use marketplace_domain::PortalConfig;

pub use batch::process_portal_batch;
pub use idempotency::DynamoIdempotencyStore;
pub use mailer::SesMailer;
pub use provider_store::DynamoProviderStore;

/// The SDK configuration (Lambda-fitted credentials, region, endpoints, timeouts): see [`sdk`].
pub use sdk::{batch_sdk_config, sdk_config};

/// Reads a required environment variable, naming it when it is missing.
pub fn required_env(name: &str) -> anyhow::Result<String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => anyhow::bail!("environment variable {name} is not set"),
    }
}

/// Everything a portal-event function needs, built once per cold start.
pub struct PortalApp {
    pub store: DynamoProviderStore,
    pub idempotency: DynamoIdempotencyStore,
    pub mailer: SesMailer,
    pub config: PortalConfig,
}

impl PortalApp {
    /// Builds the clients from the environment: `MARKETPLACE_TABLE`, `IDEMPOTENCY_TABLE` and the
    /// [`PortalConfig`] variables.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = PortalConfig::from_env()?;
        let sdk = sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        Ok(PortalApp {
            store: DynamoProviderStore::new(dynamodb.clone(), required_env("MARKETPLACE_TABLE")?),
            idempotency: DynamoIdempotencyStore::new(dynamodb, required_env("IDEMPOTENCY_TABLE")?),
            mailer: SesMailer::new(aws_sdk_ses::Client::new(&sdk)),
            config,
        })
    }

    pub fn services(&self) -> Services<'_> {
        Services { store: &self.store, ledger: &self.store, mailer: &self.mailer, config: &self.config }
    }

    /// Handles one SQS batch of portal events with `operation` (see [`batch`]).
    pub async fn handle(&self, function: &str, batch: SqsEvent, operation: batch::Operation) -> SqsBatchResponse {
        process_portal_batch(function, batch, &self.idempotency, self.services(), operation).await
    }
}

/// The whole `main` of a portal-event function: logging, clients from the environment, then the
/// Lambda runtime loop feeding SQS batches to `operation`.
pub async fn run_portal_function(
    function: &'static str,
    operation: batch::Operation,
) -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = PortalApp::from_env().await?;
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(app.handle(function, event.payload, operation).await)
    }))
    .await
}
