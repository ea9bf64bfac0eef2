//! How AWS failures map onto the ports' errors: by whether trying again can help.
//!
//! One place decides it, from the service's error code and the HTTP status, so the DynamoDB
//! and the API Gateway adapters agree and the decision is unit-tested without a network.
//!
//! Every decision is total: where it reads a field the service may leave out (the error code,
//! a cancelled transaction's reasons), a missing field makes the failure retryable, never
//! permanent. DynamoDB stand-ins (and proxies in front of the real thing) omit such fields, and a
//! permanent error stops a player for good, where a needless retry costs one request.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
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

/// The error for a `TransactionCanceledException` of a `TransactWriteItems` whose items are
/// labelled `labels`: see [`cancellation_error`]. Its `CancellationReasons` are optional in the
/// API, and some DynamoDB stand-ins leave them out.
pub(crate) fn transaction_cancelled(
    cancelled: &TransactionCanceledException,
    labels: &[String],
) -> StoreError {
    let reasons: Vec<Option<String>> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().map(str::to_owned))
        .collect();
    cancellation_error(&reasons, labels)
}

/// The error for a cancelled `TransactWriteItems`, from its cancellation reasons (one per item,
/// in request order, code `None` for the items that did not fail) and the items' labels.
///
/// A failed condition or a conflicting transaction anywhere makes it a conflict (reload and
/// recompute); otherwise a throttled item makes it transient; a known permanent code
/// (validation, an item collection over its limit) makes it permanent. A cancellation that
/// names no failed item (no reasons at all, or only `None` codes) is a conflict: that is what
/// an ordinary lost race looks like from a stand-in that sends no reasons, and a conflict only
/// costs a reload, where a permanent error would stop the player.
pub(crate) fn cancellation_error(reasons: &[Option<String>], labels: &[String]) -> StoreError {
    let mut worst = None::<Kind>;
    let mut failed = Vec::new();
    for (index, code) in reasons.iter().enumerate() {
        let code = match code.as_deref() {
            None | Some("None") => continue,
            Some(code) => code,
        };
        let label = labels.get(index).map_or("?", String::as_str);
        failed.push(format!("{label}: {code}"));
        let kind = match classify(Some(code), None) {
            Kind::Gone => Kind::Permanent,
            kind => kind,
        };
        worst = Some(match (worst, kind) {
            (Some(Kind::Conflict), _) | (_, Kind::Conflict) => Kind::Conflict,
            (Some(Kind::Transient), _) | (_, Kind::Transient) => Kind::Transient,
            _ => Kind::Permanent,
        });
    }
    let message = if failed.is_empty() {
        "transaction cancelled without a reason (taken as a conflict)".to_owned()
    } else {
        format!("transaction cancelled: {}", failed.join(", "))
    };
    to_store_error(worst.unwrap_or(Kind::Conflict), message)
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

    fn labels() -> Vec<String> {
        vec!["player p1".into(), "task p1/t1".into(), "task p1/t2".into()]
    }

    #[test]
    fn a_failed_condition_cancels_as_a_conflict_naming_the_item() {
        let reasons = [
            Some("None".into()),
            Some("ConditionalCheckFailed".into()),
            None,
        ];
        match cancellation_error(&reasons, &labels()) {
            StoreError::Conflict(message) => {
                assert!(
                    message.contains("task p1/t1: ConditionalCheckFailed"),
                    "{message}"
                );
                assert!(!message.contains("player p1"), "{message}");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn a_conflict_outranks_throttling_and_throttling_outranks_validation() {
        let both = [
            Some("ThrottlingError".into()),
            Some("TransactionConflict".into()),
            Some("None".into()),
        ];
        assert!(matches!(
            cancellation_error(&both, &labels()),
            StoreError::Conflict(_)
        ));
        let throttled = [
            Some("ValidationError".into()),
            Some("ProvisionedThroughputExceeded".into()),
            Some("None".into()),
        ];
        assert!(matches!(
            cancellation_error(&throttled, &labels()),
            StoreError::Transient(_)
        ));
        let invalid = [Some("ValidationError".into()), Some("None".into()), None];
        assert!(matches!(
            cancellation_error(&invalid, &labels()),
            StoreError::Permanent(_)
        ));
    }

    #[test]
    fn a_cancellation_that_names_no_failed_item_is_a_conflict_never_permanent() {
        let nothing_failed: [&[Option<String>]; 4] = [
            &[],
            &[None],
            &[Some("None".into())],
            &[None, Some("None".into()), None],
        ];
        for reasons in nothing_failed {
            match cancellation_error(reasons, &labels()) {
                StoreError::Conflict(message) => {
                    assert!(message.contains("without a reason"), "{message}")
                }
                other => panic!("{reasons:?}: expected a conflict, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_transaction_cancelled_exception_without_cancellation_reasons_is_a_conflict() {
        // As some DynamoDB stand-ins send it: a message, no CancellationReasons at all
        let bare = TransactionCanceledException::builder()
            .message(
                "Transaction cancelled, please refer cancellation reasons for specific reasons",
            )
            .build();
        assert!(bare.cancellation_reasons.is_none());
        assert!(matches!(
            transaction_cancelled(&bare, &labels()),
            StoreError::Conflict(_)
        ));
        // And the reasons, when there are, still decide
        let reasons = vec![
            aws_sdk_dynamodb::types::CancellationReason::builder()
                .code("None")
                .build(),
            aws_sdk_dynamodb::types::CancellationReason::builder()
                .code("ValidationError")
                .message("Item size has exceeded the maximum allowed size")
                .build(),
        ];
        let invalid = TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(reasons))
            .build();
        assert!(matches!(
            transaction_cancelled(&invalid, &labels()),
            StoreError::Permanent(m) if m.contains("task p1/t1: ValidationError")
        ));
    }
}
