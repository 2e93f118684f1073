//! The one mapping from AWS SDK errors to domain errors, by error *code*, not by operation.
//!
//! A code is permanent only when it says that this very request can never succeed (the item is
//! malformed or too large, a parameter is invalid). Everything else is transient: throttling, 5xx,
//! timeouts and connection failures obviously, but also access denied, a missing table or an
//! unverified SES identity, because an operator can fix those; such events reach the dead-letter
//! queue after the queue's receives (alarmed) and can be redriven, instead of being dropped.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
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

/// Maps an SDK error of `operation` to [`DomainError::Refused`] (permanent code) or
/// [`DomainError::Infrastructure`] (anything else), keeping the SDK's full message.
pub fn sdk_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> DomainError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let permanent = matches!(&err, SdkError::ServiceError(service) if is_permanent_code(service.err().code()));
    let message = DisplayErrorContext(&err).to_string();
    if permanent {
        DomainError::refused(operation, message)
    } else {
        DomainError::infra(operation, message)
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
