//! `task-processor`: the Players table's stream (performing committed outboxes) and the wake
//! queue (advancing players when their time comes). One function serves both event sources; a
//! batch comes from one of them, told apart by its records' `eventSource`.

use std::time::Instant;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::sqs::SqsMessage;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;
use serde_json::Value;

use super::{flush_metrics, function_names};

use crate::auth::check_player_id;
use crate::outbox::{Outbox, OutboxRecord};
use crate::packed;
use crate::ports::WakeMessage;
use crate::services::Services;
use crate::usecase::{self, BatchRecord, BatchReport, MalformedRecord, WakeStep};

/// The processor's entry point, from the raw event JSON: a DynamoDB stream batch
/// (`eventSource` `aws:dynamodb`) is performed with [`player_stream_report`]; an SQS batch
/// (`aws:sqs`) is a batch of wake-ups for [`wake_queue`]. Either way the answer is the partial
/// batch response (`batchItemFailures` naming sequence numbers or message ids; both event
/// sources use the same JSON shape).
pub async fn task_processor(services: &Services, event: Value) -> DynamoDbEventResponse {
    let started = Instant::now();
    let first_source = event
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (records, failures) = if first_source == "aws:sqs" {
        let failures = wake_queue(services, &event).await;
        (count_records(&event), failures)
    } else {
        let report = player_stream_report(services, event).await;
        (report.records, report.failures)
    };
    flush_metrics(
        services,
        function_names::TASK_PROCESSOR,
        started,
        Some(records),
        None,
    );
    response(failures)
}

fn count_records(event: &Value) -> usize {
    event
        .get("Records")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

fn response(failures: Vec<String>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(id);
            failure
        })
        .collect();
    response
}

/// Performs the committed outboxes of a Players stream batch (see
/// [`usecase::perform_batch`]). A record that does not even parse as a stream record is counted
/// as malformed instead of failing the whole invocation.
pub async fn player_stream_report(services: &Services, event: Value) -> BatchReport {
    usecase::perform_batch(services, records_from_json(&event)).await
}

/// Reads a raw stream event record by record; one that does not parse is a malformed record.
pub fn records_from_json(event: &Value) -> Vec<BatchRecord> {
    let Some(raw) = event.get("Records").and_then(Value::as_array) else {
        tracing::error!(event = %event, "stream event without a Records array");
        return Vec::new();
    };
    raw.iter()
        .map(|value| match EventRecord::deserialize(value) {
            Ok(record) => read_record(&record),
            Err(error) => Err(MalformedRecord {
                reason: format!("not a DynamoDB stream record: {error}"),
                sequence_number: value
                    .pointer("/dynamodb/SequenceNumber")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                record: value.clone(),
            }),
        })
        .collect()
}

/// The Players item's attribute holding the packed player, queue and outbox ([`packed`]).
pub const PACKED_STATE: &str = "state";
/// The Players item's plain marker of a write with something to perform (N, 1): the stream's
/// filter passes only the images that carry it.
pub const OUTBOX_MARKER: &str = "outbox";
/// The Players item's string set of the player's listed connection ids (absent when it has
/// none: DynamoDB has no empty set); outside the packed state, changed only by the connection
/// store, never by a commit.
pub const CONNECTIONS_LIST: &str = "connections";

/// The connection ids of a stream image's [`CONNECTIONS_LIST`] (none when it is absent), in
/// id order; `Err` names what is wrong with an attribute of another type.
fn listed_connections(image: &serde_dynamo::Item) -> Result<Vec<String>, String> {
    match image.get(CONNECTIONS_LIST) {
        None => Ok(Vec::new()),
        Some(serde_dynamo::AttributeValue::Ss(ids)) => {
            let mut ids = ids.clone();
            ids.sort();
            Ok(ids)
        }
        Some(_) => Err(format!("`{CONNECTIONS_LIST}` is not a string set")),
    }
}

/// Reads a Players stream record: the player id from its keys, and from its new image the
/// `version`, the listed connection ids ([`CONNECTIONS_LIST`], where the notifications go) and, when the image carries the `outbox` marker, the outbox from the packed
/// `state` (B, [`packed`]); an image without the marker, which the template's filter keeps
/// away, has nothing to perform. A marker without a readable `state` is a malformed record.
pub fn read_record(record: &EventRecord) -> BatchRecord {
    let malformed = |reason: &str| {
        Err(MalformedRecord {
            reason: reason.to_owned(),
            sequence_number: record.change.sequence_number.clone(),
            record: serde_json::to_value(record).unwrap_or(Value::Null),
        })
    };
    let Some(sequence_number) = record
        .change
        .sequence_number
        .clone()
        .filter(|s| !s.is_empty())
    else {
        return malformed("no SequenceNumber");
    };
    // Read in place: the image holds the packed state, which a conversion would copy.
    let Some(serde_dynamo::AttributeValue::S(player_id)) = record.change.keys.get("player_id")
    else {
        return malformed("Keys has no string player_id");
    };
    if let Err(why) = check_player_id(player_id) {
        return malformed(&format!("player_id is not valid: {why}"));
    }
    let version = match record.change.new_image.get("version") {
        Some(serde_dynamo::AttributeValue::N(n)) => match n.parse::<u64>() {
            Ok(version) => version,
            Err(_) => return malformed("version is not a whole number"),
        },
        _ => 0,
    };
    let connections = match listed_connections(&record.change.new_image) {
        Ok(connections) => connections,
        Err(why) => return malformed(&why),
    };
    if record.change.new_image.get(OUTBOX_MARKER).is_none() {
        return Ok(OutboxRecord {
            player_id: player_id.to_owned(),
            version,
            sequence_number,
            outbox: Outbox::default(),
            connections,
        });
    }
    let outbox = match record.change.new_image.get(PACKED_STATE) {
        Some(serde_dynamo::AttributeValue::B(bytes)) => match packed::unpack_outbox(bytes) {
            Ok(outbox) => outbox,
            Err(error) => return malformed(&format!("{PACKED_STATE}: {error}")),
        },
        _ => {
            return malformed(&format!(
                "an outbox marker without a binary `{PACKED_STATE}`"
            ))
        }
    };
    Ok(OutboxRecord {
        player_id: player_id.to_owned(),
        version,
        sequence_number,
        outbox,
        connections,
    })
}

/// Handles a batch of wake-ups from the wake queue and returns the ids of the messages to
/// receive again. Each message is `{"player_id", "at"}` ([`WakeMessage`]): one that arrives
/// early by less than [`usecase::MAX_WAIT_MS`] is waited out (SQS delays in whole seconds), a
/// far one is armed again, a due one advances the player. Messages run concurrently. A message
/// that cannot be read is logged and dropped (it can never succeed).
pub async fn wake_queue(services: &Services, event: &Value) -> Vec<String> {
    let messages: Vec<Value> = event
        .get("Records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let failures = usecase::concurrently(services, messages, |raw| async move {
        wake_one(services, raw).await
    })
    .await;
    failures.into_iter().flatten().collect()
}

/// One wake-up message; returns its id if it must be received again.
async fn wake_one(services: &Services, raw: Value) -> Option<String> {
    let message: SqsMessage = match serde_json::from_value(raw.clone()) {
        Ok(message) => message,
        Err(error) => {
            tracing::error!(%error, record = %raw, outcome = "malformed", "not an SQS message");
            return None;
        }
    };
    let id = message.message_id.clone().unwrap_or_default();
    let wake: WakeMessage = match message.body.as_deref().map(serde_json::from_str) {
        Some(Ok(wake)) => wake,
        _ => {
            tracing::error!(message_id = %id, body = ?message.body, outcome = "malformed", "not a wake-up");
            return None;
        }
    };
    if let Err(why) = check_player_id(&wake.player_id) {
        tracing::error!(message_id = %id, %why, outcome = "malformed", "not a wake-up");
        return None;
    }
    match WakeStep::of(wake.at, services.clock.now()) {
        WakeStep::Rearm => {
            return match services.waker.arm(&wake.player_id, wake.at).await {
                Ok(()) => None,
                Err(error) => {
                    tracing::warn!(player_id = %wake.player_id, %error, "could not re-arm");
                    Some(id)
                }
            };
        }
        WakeStep::Wait(ms) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms.unsigned_abs())).await;
        }
        WakeStep::Advance => {}
    }
    match usecase::wake(services, &wake.player_id, wake.at).await {
        Ok(_) => None,
        Err(reason) => {
            tracing::warn!(player_id = %wake.player_id, %reason, outcome = "retry", "wake-up failed");
            Some(id)
        }
    }
}
