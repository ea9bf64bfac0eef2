//! How AWS failures map onto the ports' errors: by whether trying again can help.
//!
//! One place decides it, from the service's error code and the HTTP status, so the DynamoDB
//! and the API Gateway adapters agree and the decision is unit-tested without a network.
//!
//! Every decision is total: where it reads a field the service may leave out (the error code),
//! a missing field makes the failure retryable, never
//! permanent. DynamoDB stand-ins (and proxies in front of the real thing) omit such fields, and a
//! permanent error stops a player for good, where a needless retry costs one request.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use idle_app::ports::{PostError, StoreError};

/// What a failure means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A condition failed or a concurrent transaction touched the same item.
    Conflict,
    /// Throttling, a 5xx, a timeout, a dropped connection: the same call may succeed later.
    Transient,
    /// The connection is closed (API Gateway's 410).
    Gone,
    /// Validation, permissions, a missing table: retrying will not help.
    Permanent,
}

/// Classifies a service error by its code (`x-amzn-ErrorType` or the body's `__type`) and the
/// HTTP status. Codes win over statuses: DynamoDB answers throttling with a 400 (DynamoDB
/// Developer Guide, "Error handling with DynamoDB": `ThrottlingException`,
/// `ProvisionedThroughputExceededException` and `RequestLimitExceeded` are 400s to retry).
/// Without a code
/// (absent or empty) a 4xx says too little to give up on (DynamoDB answers throttling,
/// conflicts and validation alike with 400), so the failure is transient unless the status is
/// 410 (gone).
pub(crate) fn classify(code: Option<&str>, status: Option<u16>) -> Kind {
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return match status {
            Some(410) => Kind::Gone,
            _ => Kind::Transient,
        };
    };
    match code {
        "ConditionalCheckFailedException"
        | "TransactionConflictException"
        | "ConditionalCheckFailed"
        | "TransactionConflict" => Kind::Conflict,
        "GoneException" => Kind::Gone,
        "ThrottlingException"
        | "Throttling"
        | "ThrottlingError"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "ProvisionedThroughputExceededException"
        | "ProvisionedThroughputExceeded"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "KmsThrottled"
        | "LimitExceededException"
        | "TransactionInProgressException"
        | "InternalServerError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "RequestTimeout"
        | "RequestTimeoutException" => Kind::Transient,
        _ => match status {
            Some(410) => Kind::Gone,
            Some(429) => Kind::Transient,
            Some(s) if s >= 500 => Kind::Transient,
            _ => Kind::Permanent,
        },
    }
}

/// The kind of an SDK failure: no response (timeout, connection) is transient, an unparsable
/// response too (a truncated body), a request that could not be built is permanent.
pub(crate) fn sdk_kind<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Kind {
    match err {
        SdkError::ConstructionFailure(_) => Kind::Permanent,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Kind::Transient
        }
        SdkError::ServiceError(ctx) => {
            classify(ctx.err().code(), Some(ctx.raw().status().as_u16()))
        }
        _ => Kind::Transient,
    }
}

/// A store error for a failed DynamoDB call: `what` says which call on which table and key.
pub(crate) fn store_error<E>(what: impl fmt::Display, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let kind = sdk_kind(&err);
    let message = format!("{what}: {}", DisplayErrorContext(&err));
    to_store_error(kind, message)
}

/// A request shape the SDK refused to build (a required field missing): a bug, not bad luck.
pub(crate) fn built<T>(
    what: &str,
    result: Result<T, aws_sdk_dynamodb::error::BuildError>,
) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Permanent(format!("cannot build {what}: {e}")))
}

pub(crate) fn to_store_error(kind: Kind, message: String) -> StoreError {
    match kind {
        Kind::Conflict => StoreError::Conflict(message),
        Kind::Transient => StoreError::Transient(message),
        Kind::Gone | Kind::Permanent => StoreError::Permanent(message),
    }
}

/// A delivery error for a failed `@connections` call.
pub(crate) fn post_error<E>(what: impl fmt::Display, err: SdkError<E, HttpResponse>) -> PostError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match sdk_kind(&err) {
        Kind::Gone => PostError::Gone,
        Kind::Transient | Kind::Conflict => {
            PostError::Transient(format!("{what}: {}", DisplayErrorContext(&err)))
        }
        Kind::Permanent => PostError::Permanent(format!("{what}: {}", DisplayErrorContext(&err))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_failures_and_conflicting_transactions_are_conflicts() {
        assert_eq!(
            classify(Some("ConditionalCheckFailedException"), Some(400)),
            Kind::Conflict
        );
        assert_eq!(
            classify(Some("TransactionConflictException"), Some(400)),
            Kind::Conflict
        );
    }

    #[test]
    fn throttling_is_transient_even_though_dynamodb_answers_it_with_a_400() {
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
            "InternalServerError",
            "LimitExceededException",
        ] {
            assert_eq!(classify(Some(code), Some(400)), Kind::Transient, "{code}");
        }
    }

    #[test]
    fn unknown_codes_follow_the_http_status() {
        assert_eq!(classify(Some("Whatever"), Some(503)), Kind::Transient);
        assert_eq!(classify(Some("Whatever"), Some(429)), Kind::Transient);
        assert_eq!(classify(Some("Whatever"), Some(410)), Kind::Gone);
        assert_eq!(classify(Some("Whatever"), Some(400)), Kind::Permanent);
        assert_eq!(
            classify(Some("ValidationException"), Some(400)),
            Kind::Permanent
        );
        assert_eq!(
            classify(Some("ResourceNotFoundException"), Some(400)),
            Kind::Permanent
        );
        assert_eq!(
            classify(Some("AccessDeniedException"), Some(400)),
            Kind::Permanent
        );
    }

    #[test]
    fn a_service_error_without_a_code_is_retryable_whatever_its_status() {
        for status in [None, Some(400), Some(403), Some(404), Some(413), Some(500)] {
            for code in [None, Some("")] {
                assert_eq!(
                    classify(code, status),
                    Kind::Transient,
                    "{code:?} {status:?}"
                );
            }
        }
        assert_eq!(classify(None, Some(410)), Kind::Gone);
        assert!(matches!(
            to_store_error(classify(None, Some(400)), "x".into()),
            StoreError::Transient(_)
        ));
    }

    #[test]
    fn gone_is_recognised_by_code_or_status() {
        assert_eq!(classify(Some("GoneException"), Some(410)), Kind::Gone);
        assert_eq!(classify(Some("GoneException"), None), Kind::Gone);
        assert_eq!(
            classify(Some("ForbiddenException"), Some(403)),
            Kind::Permanent
        );
        assert_eq!(
            classify(Some("PayloadTooLargeException"), Some(413)),
            Kind::Permanent
        );
    }
}
