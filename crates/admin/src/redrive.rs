//! `redrive`: perform again what the task processor did not.
//!
//! Locally, the embedded store keeps every committed outbox until it is marked performed, so a
//! redrive performs each one left (in commit order, through the same use case the runtime's
//! feed uses) and marks those that succeeded.
//!
//! On AWS, the Players stream's event source mapping sends a batch it gave up on to its
//! on-failure SQS queue. That message names the batch, not the players: the stream, the shard
//! and the first and last sequence numbers (AWS Lambda Developer Guide, "Retaining records of
//! invocations" / on-failure destinations for stream event sources: `DDBStreamBatchInfo`). The
//! records stay readable for 24 hours (the stream's retention), so a redrive reads them back
//! (`GetShardIterator` `AT_SEQUENCE_NUMBER`, then `GetRecords` up to the last number), performs
//! their outboxes through [`perform_batch`] as the processor does, and deletes the message
//! when every record was performed. A range the stream no longer has is reported and its
//! message kept: the players it touched cannot be told from the message alone (what it lost
//! are the outbox's notifications and history records; the ticker still advances the players).

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::EventRecord;
use idle_app::config::AppConfig;
use idle_app::handlers::read_record;
use idle_app::ports::{ConnectionInfo, Notifier, PostError, StoreError, SystemClock, Waker};
use idle_app::services::Services;
use idle_app::usecase::{perform_batch, BatchRecord, BatchReport};
use idle_core::model::Millis;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::CliError;

/// The part of an on-failure message of a DynamoDB stream event source that names the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub stream_arn: String,
    #[serde(default)]
    pub batch_size: Option<u64>,
    #[serde(default)]
    pub approximate_arrival_of_first_record: Option<String>,
    #[serde(default)]
    pub approximate_arrival_of_last_record: Option<String>,
}

/// An on-failure message's body: `{"requestContext": {...}, "responseContext": {...},
/// "version", "timestamp", "DDBStreamBatchInfo": {...}}`; only the batch info is needed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FailureMessage {
    #[serde(rename = "DDBStreamBatchInfo")]
    pub batch: BatchInfo,
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// Reads an on-failure message body.
///
/// # Errors
/// [`CliError::Usage`] naming what is missing when the body is not a DynamoDB stream's
/// on-failure message (a Kinesis one has `KinesisBatchInfo` instead).
pub fn parse_failure_message(body: &str) -> Result<FailureMessage, CliError> {
    serde_json::from_str(body).map_err(|e| {
        CliError::Usage(format!(
            "not an on-failure message of a DynamoDB stream event source: {e}"
        ))
    })
}

/// Stream sequence numbers are decimal strings of up to 40 digits ("SequenceNumber": 21 to 40
/// characters, DynamoDB Streams API Reference, "StreamRecord"): compared as numbers.
pub fn sequence_le(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    (a.len(), a) <= (b.len(), b)
}

/// A notifier for a local data directory while no `idle-local` runs: every connection row is
/// stale (its socket died with the process that held it; the next start clears the rows), so
/// every post is `Gone` and the notifications are kept for `sync`.
struct Offline;

#[async_trait]
impl Notifier for Offline {
    async fn post(&self, _: &str, _: &[u8]) -> Result<(), PostError> {
        Err(PostError::Gone)
    }
    async fn connection_info(&self, _: &str) -> Result<ConnectionInfo, PostError> {
        Err(PostError::Gone)
    }
    async fn close(&self, _: &str) -> Result<(), PostError> {
        Ok(())
    }
}

/// Wake-ups locally while no `idle-local` runs: nothing to arm now; the runtime sweeps the
/// wake index when it starts and advances every player whose `wake_at` has passed.
struct NextStart;

#[async_trait]
impl Waker for NextStart {
    async fn arm(&self, _: &str, _: Millis) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Which records of a batch were performed: those of players with no failure reported.
fn performed(records: &[BatchRecord], report: &BatchReport) -> Vec<(String, u64)> {
    let failed: std::collections::BTreeSet<&str> = records
        .iter()
        .flatten()
        .filter(|r| report.failures.contains(&r.sequence_number))
        .map(|r| r.player_id.as_str())
        .collect();
    records
        .iter()
        .flatten()
        .filter(|r| !failed.contains(r.player_id.as_str()))
        .map(|r| (r.player_id.clone(), r.version))
        .collect()
}

/// Performs every outbox of the data directory's store not yet performed, then marks those that
/// succeeded. The caller holds the directory's lock.
pub async fn redrive_local(
    store: idle_sqlite::SqliteStore,
    config: &AppConfig,
) -> Result<Value, CliError> {
    let store = Arc::new(store);
    let records: Vec<BatchRecord> = store.last_outboxes()?.into_iter().map(Ok).collect();
    let services = Services::new(
        config.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        Arc::new(Offline),
        Arc::new(SystemClock),
        Arc::new(NextStart),
    );
    let report = perform_batch(&services, records.clone()).await;
    let done = performed(&records, &report);
    let marked = store.mark_performed(&done)?;
    let result = json!({ "outboxes": records.len(), "marked_performed": marked, "report": report });
    if report.failed_players > 0 {
        return Err(CliError::Redrive(result.to_string()));
    }
    Ok(result)
}

/// What reading one batch's range back found.
#[derive(Debug)]
enum Range {
    /// The records of the range, as the Lambda event would hold them.
    Records(Vec<EventRecord>),
    /// The stream no longer holds the range (trimmed after 24 hours, or the stream is gone).
    Gone(String),
}

async fn read_range(
    streams: &aws_sdk_dynamodbstreams::Client,
    batch: &BatchInfo,
) -> Result<Range, CliError> {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&batch.start_sequence_number)
        .send()
        .await;
    let mut iterator = match iterator {
        Ok(output) => output.shard_iterator,
        Err(err) => {
            let service = err.as_service_error();
            if service.is_some_and(|e| {
                e.is_trimmed_data_access_exception() || e.is_resource_not_found_exception()
            }) {
                return Ok(Range::Gone(format!("{err:?}")));
            }
            return Err(CliError::Store(StoreError::Transient(format!(
                "GetShardIterator {}: {err:?}",
                batch.shard_id
            ))));
        }
    };
    let mut records = Vec::new();
    // An open shard answers empty pages at its end: a few in a row end the read.
    let mut empty_pages = 0;
    while let Some(current) = iterator.take() {
        let output = streams
            .get_records()
            .shard_iterator(current)
            .send()
            .await
            .map_err(|e| {
                CliError::Store(StoreError::Transient(format!(
                    "GetRecords {}: {e:?}",
                    batch.shard_id
                )))
            })?;
        let page = output.records.unwrap_or_default();
        if page.is_empty() {
            empty_pages += 1;
            if empty_pages >= 3 {
                break;
            }
        } else {
            empty_pages = 0;
        }
        let mut past_end = false;
        for record in page {
            let sequence = record
                .dynamodb
                .as_ref()
                .and_then(|d| d.sequence_number.clone())
                .unwrap_or_default();
            if !sequence_le(&sequence, &batch.end_sequence_number) {
                past_end = true;
                break;
            }
            records.push(idle_aws::stream::to_lambda_record(
                record,
                &batch.stream_arn,
            )?);
        }
        if past_end {
            break;
        }
        iterator = output.next_shard_iterator;
    }
    Ok(Range::Records(records))
}

/// Reads the on-failure queue at `queue_url` until it is empty (or `max_messages` were read),
/// redrives each batch it names, and deletes the messages whose batch was performed in full.
pub async fn redrive_aws(
    sdk: &aws_config::SdkConfig,
    store: idle_aws::DynamoStore,
    config: &AppConfig,
    queue_url: &str,
    max_messages: usize,
) -> Result<Value, CliError> {
    let ws_endpoint = std::env::var("WS_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            CliError::Usage(
                "WS_ENDPOINT is not set: redrive posts notifications as task-processor does \
                 (the stack's WebSocket API management endpoint)"
                    .into(),
            )
        })?;
    let wake_queue = config.wake_queue_url.clone().ok_or_else(|| {
        CliError::Usage(
            "WAKE_QUEUE_URL is not set: redrive arms wake-ups as task-processor does".into(),
        )
    })?;
    let sqs = idle_aws::sqs_client(sdk);
    let streams = idle_aws::stream::streams_client(sdk);
    let store = Arc::new(store);
    let clock = Arc::new(SystemClock);
    let services = Services::new(
        config.clone(),
        store.clone(),
        store.clone(),
        store,
        Arc::new(idle_aws::ApiGatewayNotifier::new(sdk, &ws_endpoint)),
        clock.clone(),
        Arc::new(idle_aws::SqsWaker::new(sqs.clone(), wake_queue, clock)),
    );
    let mut results = Vec::new();
    let mut undone = 0;
    while results.len() < max_messages {
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| StoreError::Transient(format!("ReceiveMessage {queue_url}: {e:?}")))?;
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let body = message.body.clone().unwrap_or_default();
            let outcome = match parse_failure_message(&body) {
                Err(error) => {
                    json!({ "message_id": message.message_id, "unreadable": error.to_string() })
                }
                Ok(failure) => match read_range(&streams, &failure.batch).await? {
                    Range::Gone(why) => {
                        undone += 1;
                        json!({ "batch": failure.batch, "gone": why,
                            "note": "the stream no longer holds this range: its players cannot be told from the message; the message is kept" })
                    }
                    Range::Records(records) => {
                        let batch: Vec<BatchRecord> = records.iter().map(read_record).collect();
                        let report = perform_batch(&services, batch).await;
                        if report.failed_players == 0 {
                            if let Some(handle) = &message.receipt_handle {
                                sqs.delete_message()
                                    .queue_url(queue_url)
                                    .receipt_handle(handle)
                                    .send()
                                    .await
                                    .map_err(|e| {
                                        StoreError::Transient(format!("DeleteMessage: {e:?}"))
                                    })?;
                            }
                        } else {
                            undone += 1;
                        }
                        json!({ "batch": failure.batch, "report": report })
                    }
                },
            };
            results.push(outcome);
        }
    }
    let result = json!({ "messages": results.len(), "batches": results });
    if undone > 0 {
        return Err(CliError::Redrive(result.to_string()));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape AWS documents for a DynamoDB stream's on-failure record (AWS Lambda Developer
    /// Guide, DynamoDB: "Example Amazon SQS and Amazon SNS on-failure invocation record").
    const MESSAGE: &str = r#"{
        "requestContext": {
            "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 1
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled"
        },
        "version": "1.0",
        "timestamp": "2019-11-14T00:13:49.717Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001573689847184-864758bb",
            "startSequenceNumber": "800000000003126276362",
            "endSequenceNumber": "800000000003126276362",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
            "batchSize": 1,
            "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
        }
    }"#;

    #[test]
    fn an_on_failure_message_names_the_stream_shard_and_range() {
        let message = parse_failure_message(MESSAGE).unwrap();
        assert_eq!(
            message.batch.shard_id,
            "shardId-00000001573689847184-864758bb"
        );
        assert_eq!(message.batch.start_sequence_number, "800000000003126276362");
        assert_eq!(message.batch.end_sequence_number, "800000000003126276362");
        assert!(message
            .batch
            .stream_arn
            .ends_with("/stream/2019-11-14T00:04:06.388"));
        assert_eq!(message.batch.batch_size, Some(1));
    }

    #[test]
    fn other_messages_are_refused_with_what_is_missing() {
        for body in ["", "{}", r#"{"KinesisBatchInfo": {"shardId": "s"}}"#] {
            match parse_failure_message(body) {
                Err(CliError::Usage(message)) => {
                    assert!(message.contains("on-failure"), "{message}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        let without_end = MESSAGE.replace("\"endSequenceNumber\"", "\"other\"");
        assert!(parse_failure_message(&without_end).is_err());
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(sequence_le("9", "10"));
        assert!(!sequence_le("10", "9"));
        assert!(sequence_le(
            "800000000003126276362",
            "800000000003126276362"
        ));
        assert!(sequence_le("0099", "100"));
        assert!(!sequence_le(
            "800000000003126276363",
            "800000000003126276362"
        ));
    }
}
