//! The one mapping of AWS SDK errors. Every adapter reports a failed call through it: as a domain
//! error classified by error *code*, not by operation ([`sdk_error`], the ports' `DomainError`),
//! or as an [`AwsError`] naming the table or bucket (the report adapters); both carry the SDK's
//! full message ([`sdk_message`]).
//!
//! A code is permanent only when it says that this very request can never succeed (the item is
//! malformed or too large, a parameter is invalid). Everything else is transient: throttling, 5xx,
//! timeouts and connection failures obviously, but also access denied, a missing table or an
//! unverified SES identity, because an operator can fix those; such events reach the dead-letter
//! queue after the queue's receives (alarmed) and can be redriven, instead of being dropped.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use marketplace_core::validate::redact_addresses;
use marketplace_core::DomainError;

/// Error codes (DynamoDB, SES) that mean the request itself is wrong.
pub const PERMANENT_CODES: &[&str] = &[
    "ValidationException",
    "SerializationException",
    "ItemCollectionSizeLimitExceededException",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "MissingParameter",
];

/// Whether an error code means that retrying the same request cannot help.
pub fn is_permanent_code(code: Option<&str>) -> bool {
    code.is_some_and(|c| PERMANENT_CODES.contains(&c))
}

/// The SDK's full message of `err`, with its causes (what every mapped error carries), without
/// the email addresses it may name (SES names an unverified or refused recipient): the message
/// reaches the logs and rejected-event records.
pub fn sdk_message<E: std::error::Error + 'static, R: std::fmt::Debug>(err: &SdkError<E, R>) -> String {
    redact_addresses(&DisplayErrorContext(err).to_string())
}

/// Maps an SDK error of `operation` to [`DomainError::Refused`] (permanent code) or
/// [`DomainError::Infrastructure`] (anything else), keeping the SDK's full message.
pub fn sdk_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> DomainError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let permanent = matches!(&err, SdkError::ServiceError(service) if is_permanent_code(service.err().code()));
    let message = sdk_message(&err);
    if permanent {
        DomainError::refused(operation, message)
    } else {
        DomainError::infra(operation, message)
    }
}

/// A failed call of the report adapters, naming the table or bucket it was on, or an item they
/// read that does not read back.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A DynamoDB call failed.
    #[error("DynamoDB {operation} on {table}: {message}")]
    Dynamo {
        /// Operation.
        operation: &'static str,
        /// Table.
        table: String,
        /// SDK error text.
        message: String,
    },
    /// An S3 call (scale-out partials, report files) failed.
    #[error("S3 {operation} on bucket {bucket}: {message}")]
    S3 {
        /// Operation.
        operation: &'static str,
        /// Bucket.
        bucket: String,
        /// SDK error text.
        message: String,
    },
    /// The month sums to store could not be built.
    #[cfg(feature = "reports")]
    #[error(transparent)]
    Aggregate(#[from] marketplace_reports::aggregate::AggregateError),
    /// An item that does not convert (to or from its record).
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl AwsError {
    /// Maps an SDK error of the DynamoDB `operation` on `table`.
    pub fn dynamo<'a, E, R>(operation: &'static str, table: &'a str) -> impl FnOnce(SdkError<E, R>) -> AwsError + 'a
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        move |e| AwsError::Dynamo { operation, table: table.to_owned(), message: sdk_message(&e) }
    }

    /// Maps an SDK error of the S3 `operation` on `bucket`.
    pub fn s3<'a, E, R>(operation: &'static str, bucket: &'a str) -> impl FnOnce(SdkError<E, R>) -> AwsError + 'a
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        move |e| AwsError::s3_failed(operation, bucket, sdk_message(&e))
    }

    /// An S3 `operation` on `bucket` that failed outside the SDK call (a local file, the body).
    pub fn s3_failed(operation: &'static str, bucket: &str, message: impl std::fmt::Display) -> AwsError {
        AwsError::S3 { operation, bucket: bucket.to_owned(), message: message.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_codes_about_the_request_itself_are_permanent() {
        for code in ["ValidationException", "InvalidParameterValue"] {
            assert!(is_permanent_code(Some(code)), "{code}");
        }
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "Throttling",
            "InternalServerError",
            "ServiceUnavailable",
            "AccessDeniedException",
            "MessageRejected",
            "ResourceNotFoundException",
        ] {
            assert!(!is_permanent_code(Some(code)), "{code}");
        }
        assert!(!is_permanent_code(None), "no code (timeout, connection) is transient");
    }
}
