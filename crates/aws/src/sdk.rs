//! The AWS SDK configuration every binary shares: fitted to Lambda, cheap to build at cold start,
//! and with timeouts and retries chosen from the function's own timeout.
//!
//! What `aws_config::load_defaults` would do at start-up and why this does less (the
//! configuration is built here from `aws-types` directly, so `aws-config` and the STS client its
//! web-identity provider needs are not linked at all: ~370 KB of every Lambda binary):
//!
//! - **Credentials from the environment only.** Lambda hands the execution role's credentials to
//!   the process in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, valid for
//!   the life of the execution environment (SnapStart, which would swap them for a container
//!   endpoint, does not exist for `provided.al2023`). The default chain would also build the
//!   profile, web-identity (STS), ECS and IMDS providers and their HTTPS clients, none of which
//!   Lambda uses. Outside Lambda (the tests, the demo, an operator running the job's CLI) export
//!   the same variables, e.g. `eval "$(aws configure export-credentials --format env)"`.
//! - **Region from `AWS_REGION`** (Lambda sets it), no profile or IMDS lookup.
//! - **Compiled-in root certificates.** The default HTTPS client scans the system's certificate
//!   store when the first client is built (several milliseconds of every cold start). AWS service
//!   endpoints present certificates from Amazon Trust Services, so the trust store is those roots
//!   (Amazon Root CA 1–4 and the Starfield Services G2 root that cross-signs them), compiled in.
//!   A plain-HTTP endpoint (the local stack) needs no certificates at all; an HTTPS endpoint
//!   whose certificate another authority issued (a TLS-intercepting proxy, say) is refused.
//! - **Endpoints** still come from the SDK's own environment settings, read the way
//!   `aws_config`'s loader reads them: `AWS_ENDPOINT_URL` for every service and
//!   `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_DYNAMODB`) for one, which each
//!   service client looks up through [`EnvServiceConfig`]. That is how the tests reach the local
//!   stack. (Profile files and `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` are not read.)
//!
//! Build the [`SdkConfig`](aws_config::SdkConfig) once per process and every service client
//! from it (one client per service, cloned where several stores share it).

use std::time::Duration;

use aws_credential_types::provider::{self, error::CredentialsError, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::BehaviorVersion;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::region::Region;
use aws_types::sdk_config::SdkConfig;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// Amazon Trust Services' root certificates (PEM), the issuers of every AWS service endpoint.
const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("amazon-trust-services.pem");

/// Timeouts and retries of every SDK call a process makes.
///
/// The portal functions run with `Timeout: 30` (template.yaml, `Globals`), SQS batches of up to
/// 10 records handled one after another, and each record makes a handful of DynamoDB calls and at
/// most two SES sends, each of which takes milliseconds on AWS. The arithmetic, which the deadline
/// guard builds on (`batch`, [`crate::DEFAULT_RECORD_BUDGET`]):
///
/// - connect: 1 s. A regional endpoint answers the TCP/TLS handshake in milliseconds; a host that
///   does not within a second is a dead one, better tried again on a fresh connection.
/// - attempt: 2 s. DynamoDB single-item writes and transactions take milliseconds (p99 well under
///   100 ms), SES `SendRawEmail` of a portal email (no attachments) well under a second.
/// - retries: standard mode, 3 attempts in all, backoff from 50 ms doubling (jittered) up to 1 s:
///   throttling, 5xx and timed-out attempts are retried inside the call. A retried transaction
///   carries the same `ClientRequestToken` (the SDK fills it in once per call), and every other
///   write is conditional, so an attempt that had in fact landed is not applied twice.
/// - operation: 4 s for the whole call with its retries (the operation timeout cuts a third
///   attempt short). One call can never take longer, so a record's budget (10 s) holds a call
///   that fails by this timeout *and* the failure path's own call (releasing the idempotency
///   claim) that may fail the same way: a record whose service hangs still ends cleanly, through
///   its error path, and is reported in `batchItemFailures`; the budget plus the response margin
///   (11 s) fits the 30 s function timeout with room for two such records.
pub const PORTAL_FUNCTION: SdkTimeouts = SdkTimeouts {
    connect: Duration::from_secs(1),
    attempt: Duration::from_secs(2),
    operation: Duration::from_secs(4),
    max_attempts: 3,
    initial_backoff: Duration::from_millis(50),
    max_backoff: Duration::from_secs(1),
};

/// The nightly report job: `Timeout: 900`, batch work (paged DynamoDB queries of 1 MB pages,
/// `BatchWriteItem`, S3 partials of a few MB, SES sends with CSV attachments), where a throttled
/// call is better retried longer than given up: the whole run is repeated by Lambda's async retry
/// otherwise.
///
/// - connect 2 s; attempt 30 s (a 1 MB page or a multi-MB S3 object on a slow attempt);
/// - standard retries, 6 attempts, backoff from 200 ms up to 5 s (≤ ~15 s of waiting in all);
/// - operation 120 s, so one call never takes more than 2 of the 15 minutes and a stuck run
///   still fails with the call's error well before Lambda's timeout kills it silently.
pub const BATCH_JOB: SdkTimeouts = SdkTimeouts {
    connect: Duration::from_secs(2),
    attempt: Duration::from_secs(30),
    operation: Duration::from_secs(120),
    max_attempts: 6,
    initial_backoff: Duration::from_millis(200),
    max_backoff: Duration::from_secs(5),
};

/// How long SDK calls may take and how often they are retried (see [`PORTAL_FUNCTION`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkTimeouts {
    /// TCP connect and TLS handshake.
    pub connect: Duration,
    /// One HTTP attempt, from sending the request to the end of the response.
    pub attempt: Duration,
    /// The whole call, every attempt and backoff included.
    pub operation: Duration,
    /// Attempts in all (the first one included), standard retry mode.
    pub max_attempts: u32,
    /// First backoff; doubles (with jitter) per retry up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
}

impl SdkTimeouts {
    /// These timeouts with an operator's overrides from the environment: `SDK_ATTEMPT_TIMEOUT_MS`
    /// (one attempt) and `SDK_CALL_TIMEOUT_MS` (the whole call). For an environment whose
    /// services answer more slowly than AWS does — the fault suite's emulator on a busy machine,
    /// where a real-time timeout would fire because of the machine, not the service. With longer
    /// timeouts a record may outlast its budget; the budget's cut still keeps the deadline.
    pub fn overridden_by_env(self) -> Result<Self, String> {
        Self::overridden_by(self, env)
    }

    fn overridden_by(mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let millis = |name: &str| -> Result<Option<Duration>, String> {
            lookup(name)
                .map(|v| match v.trim().parse::<u64>() {
                    Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                    _ => Err(format!("{name}={v:?}: expected a positive number of milliseconds")),
                })
                .transpose()
        };
        if let Some(attempt) = millis("SDK_ATTEMPT_TIMEOUT_MS")? {
            self.attempt = attempt;
        }
        if let Some(operation) = millis("SDK_CALL_TIMEOUT_MS")? {
            self.operation = operation;
        }
        if self.attempt > self.operation {
            return Err(format!(
                "SDK_ATTEMPT_TIMEOUT_MS ({} ms) is longer than SDK_CALL_TIMEOUT_MS ({} ms)",
                self.attempt.as_millis(),
                self.operation.as_millis()
            ));
        }
        Ok(self)
    }

    /// The SDK's timeout configuration.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    /// The SDK's retry configuration (standard mode).
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }
}

/// The SDK configuration of a portal function (see the module docs and [`PORTAL_FUNCTION`]).
pub async fn sdk_config() -> SdkConfig {
    sdk_config_with(PORTAL_FUNCTION).await
}

/// The SDK configuration of the nightly report job (see [`BATCH_JOB`]).
pub async fn batch_sdk_config() -> SdkConfig {
    sdk_config_with(BATCH_JOB).await
}

/// The SDK configuration with the given timeouts: environment credentials and region, the
/// SDK's endpoint settings, an HTTPS client trusting Amazon Trust Services' roots. (`async`
/// like the loader it replaces; nothing in it waits.)
pub async fn sdk_config_with(timeouts: SdkTimeouts) -> SdkConfig {
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(EnvCredentials))
        .region(env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).map(Region::new))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .tls_context(amazon_trust_services())
                .build_https(),
        )
        .time_source(SystemTimeSource::new())
        .service_config(EnvServiceConfig)
        .timeout_config(timeouts.timeout_config())
        .retry_config(timeouts.retry_config());
    builder.set_sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep());
    builder.set_endpoint_url(env("AWS_ENDPOINT_URL"));
    builder.build()
}

/// An S3 client from `sdk`, addressing buckets path-style: that works on AWS and on local
/// emulators alike.
#[cfg(feature = "report-files")]
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// A set, non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, read
/// when a client asks (as `aws_config`'s environment provider does).
#[derive(Debug)]
struct EnvCredentials;

impl EnvCredentials {
    fn credentials() -> provider::Result {
        let var = |name: &'static str| match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(Some(value.trim().to_owned())),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(e) => Err(CredentialsError::invalid_configuration(format!("{name}: {e}"))),
        };
        let missing = |name: &str| CredentialsError::not_loaded(format!("environment variable {name} is not set"));
        let key = var("AWS_ACCESS_KEY_ID")?.ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?;
        let secret = var("AWS_SECRET_ACCESS_KEY")?.ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?;
        Ok(Credentials::new(key, secret, var("AWS_SESSION_TOKEN")?, None, "Environment"))
    }
}

impl ProvideCredentials for EnvCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::ready(Self::credentials())
    }
}

/// Service-specific settings from the environment, looked up as `aws_config` does: a service
/// client asks for a setting (`AWS_ENDPOINT_URL`) for its service id (`DynamoDB`), and gets
/// `AWS_ENDPOINT_URL_DYNAMODB` if set, else `AWS_ENDPOINT_URL`.
#[derive(Debug)]
pub struct EnvServiceConfig;

impl EnvServiceConfig {
    /// The environment variable a service-specific setting is read from first.
    pub fn service_variable(setting: &str, service_id: &str) -> String {
        format!("{setting}_{}", service_id.to_uppercase().replace(' ', "_"))
    }
}

impl LoadServiceConfig for EnvServiceConfig {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        env(&Self::service_variable(key.env(), key.service_id())).or_else(|| env(key.env()))
    }
}

/// A TLS context trusting the compiled-in Amazon Trust Services roots only: no system store scan.
fn amazon_trust_services() -> TlsContext {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS);
    // `build` only moves the fields; it has no failure case in aws-smithy-http-client 1.x.
    TlsContext::builder().with_trust_store(trust).build().expect("a TLS context from a trust store")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_with_its_retries_ends_well_within_the_function_timeout() {
        let function_timeout = Duration::from_secs(30); // template.yaml, Globals.Function.Timeout
        assert!(PORTAL_FUNCTION.operation * 3 <= function_timeout);
        // The deadline guard's arithmetic (batch.rs): a record's budget holds a call failing by
        // its operation timeout and the failure path's call after it; budget and the response
        // margin fit the function timeout.
        let budget = crate::DEFAULT_RECORD_BUDGET.to_std().expect("positive");
        let margin = crate::batch::RESPONSE_MARGIN.to_std().expect("positive");
        assert!(PORTAL_FUNCTION.operation * 2 < budget);
        assert!((budget + margin) * 2 <= function_timeout);
        assert_eq!(crate::FUNCTION_TIMEOUT.to_std().expect("positive"), function_timeout);
        assert!(PORTAL_FUNCTION.attempt < PORTAL_FUNCTION.operation);
        assert!(PORTAL_FUNCTION.connect < PORTAL_FUNCTION.attempt);
        let job_timeout = Duration::from_secs(900); // template.yaml, NightlyReportsFunction
        assert!(BATCH_JOB.operation * 5 <= job_timeout);
        assert!(BATCH_JOB.attempt < BATCH_JOB.operation);
    }

    #[test]
    fn timeouts_are_overridden_only_by_valid_settings() {
        let set = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(PORTAL_FUNCTION.overridden_by(set(&[])), Ok(PORTAL_FUNCTION));
        let slow = PORTAL_FUNCTION
            .overridden_by(set(&[("SDK_ATTEMPT_TIMEOUT_MS", "60000"), ("SDK_CALL_TIMEOUT_MS", "90000")]))
            .expect("valid");
        assert_eq!((slow.attempt, slow.operation), (Duration::from_secs(60), Duration::from_secs(90)));
        let error = PORTAL_FUNCTION.overridden_by(set(&[("SDK_CALL_TIMEOUT_MS", "0")])).expect_err("zero");
        assert!(error.contains("SDK_CALL_TIMEOUT_MS=\"0\""), "{error}");
        let error = PORTAL_FUNCTION.overridden_by(set(&[("SDK_ATTEMPT_TIMEOUT_MS", "5000")])).expect_err("5 s > 4 s");
        assert!(error.contains("longer than"), "{error}");
    }

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_trust_services_certificates() {
        let text = std::str::from_utf8(AMAZON_TRUST_SERVICES_ROOTS).expect("PEM is ASCII");
        assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 5);
    }

    #[test]
    fn service_specific_variables_are_named_as_the_sdk_names_them() {
        assert_eq!(EnvServiceConfig::service_variable("AWS_ENDPOINT_URL", "DynamoDB"), "AWS_ENDPOINT_URL_DYNAMODB");
        assert_eq!(EnvServiceConfig::service_variable("AWS_ENDPOINT_URL", "S3"), "AWS_ENDPOINT_URL_S3");
        assert_eq!(
            EnvServiceConfig::service_variable("AWS_ENDPOINT_URL", "Some Service"),
            "AWS_ENDPOINT_URL_SOME_SERVICE"
        );
    }

    #[tokio::test]
    async fn the_config_carries_the_timeouts_and_builds_clients_without_system_roots() {
        // Building a client builds its HTTPS connector, which parses the compiled-in roots (a
        // malformed one would panic here).
        let sdk = sdk_config().await;
        let timeouts = sdk.timeout_config().expect("timeouts set");
        assert_eq!(timeouts.connect_timeout(), Some(PORTAL_FUNCTION.connect));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(PORTAL_FUNCTION.attempt));
        assert_eq!(timeouts.operation_timeout(), Some(PORTAL_FUNCTION.operation));
        let retry = sdk.retry_config().expect("retries set");
        assert_eq!(retry.max_attempts(), 3);
        let _ = aws_sdk_dynamodb::Client::new(&sdk);
        let _ = aws_sdk_ses::Client::new(&sdk);
    }
}
