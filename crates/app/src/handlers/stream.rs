//! `task-processor`: the Players table's stream (performing committed outboxes) and the wake
//! queue (advancing players when their time comes). One function serves both event sources; a
//! batch comes from one of them, told apart by its records' `eventSource`.

use std::time::Instant;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::sqs::SqsMessage;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{flush_metrics, function_names};

use crate::auth::check_player_id;
use crate::outbox::{Outbox, OutboxRecord};
use crate::packed;
use crate::ports::WakeMessage;
use crate::services::Services;
use crate::usecase::{self, BatchRecord, BatchReport, MalformedRecord, WakeStep};

/// The processor's event as Lambda hands it over: the `Records` of a Players stream batch or of
/// a wake-queue batch, each kept as its JSON text until its type is known, so that a record is
/// parsed once, straight into an `EventRecord` or an `SqsMessage`, instead of into a
/// `serde_json::Value` of the whole event first and then again from it (the five-record sample:
/// 0.17 M fewer instructions of 5.86 M; docs/performance.md, "Fifth round").
///
/// A top-level value that is neither an object nor an array does not deserialise (Lambda
/// reports the invocation as failed); a `Records` that is missing or not an array is read as
/// none, and the processor logs it and performs nothing.
#[derive(Debug, Default, Deserialize)]
pub struct ProcessorEvent {
    #[serde(rename = "Records", default, deserialize_with = "records_if_array")]
    records: Option<Vec<Box<RawValue>>>,
}

/// `Records` as the texts of its elements, or `None` when it is not an array.
fn records_if_array<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Box<RawValue>>>, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    Ok(serde_json::from_str(raw.get()).ok())
}

impl From<&Value> for ProcessorEvent {
    /// The event of a `serde_json::Value` (tests, tools): each record re-serialised as text.
    fn from(event: &Value) -> ProcessorEvent {
        let records = event
            .get("Records")
            .and_then(Value::as_array)
            .map(|records| {
                records
                    .iter()
                    .filter_map(|record| serde_json::value::to_raw_value(record).ok())
                    .collect()
            });
        ProcessorEvent { records }
    }
}

impl From<Value> for ProcessorEvent {
    fn from(event: Value) -> ProcessorEvent {
        ProcessorEvent::from(&event)
    }
}

/// The `eventSource` of a record's text (`""` when it has none or is not an object).
fn event_source(record: &RawValue) -> String {
    #[derive(Deserialize)]
    struct Source {
        #[serde(rename = "eventSource", default)]
        event_source: String,
    }
    serde_json::from_str::<Source>(record.get())
        .map(|source| source.event_source)
        .unwrap_or_default()
}

/// The processor's entry point: a DynamoDB stream batch (`eventSource` `aws:dynamodb`) is
/// performed with [`perform_stream_records`]; an SQS batch (`aws:sqs`) is a batch of wake-ups
/// for [`wake_queue`]. Either way the answer is the partial batch response (`batchItemFailures`
/// naming sequence numbers or message ids; both event sources use the same JSON shape).
pub async fn task_processor(
    services: &Services,
    event: impl Into<ProcessorEvent>,
) -> DynamoDbEventResponse {
    let started = Instant::now();
    let records = event.into().records.unwrap_or_else(|| {
        tracing::error!("processor event without a Records array");
        Vec::new()
    });
    let count = records.len();
    let from_sqs = records
        .first()
        .is_some_and(|record| event_source(record) == "aws:sqs");
    let failures = if from_sqs {
        wake_queue(services, records).await
    } else {
        perform_stream_records(services, &records).await.failures
    };
    flush_metrics(
        services,
        function_names::TASK_PROCESSOR,
        started,
        Some(count),
        None,
    );
    response(failures)
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

/// Performs the committed outboxes of a Players stream batch given as its records' texts (see
/// [`usecase::perform_batch`]); [`player_stream_report`] for a batch as a `serde_json::Value`.
async fn perform_stream_records(services: &Services, records: &[Box<RawValue>]) -> BatchReport {
    let records = records
        .iter()
        .map(|record| {
            parse_record(serde_json::from_str::<EventRecord>(record.get()), || {
                serde_json::from_str(record.get()).unwrap_or_else(|_| record.get().into())
            })
        })
        .collect();
    usecase::perform_batch(services, records).await
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
        .map(|value| parse_record(EventRecord::deserialize(value), || value.clone()))
        .collect()
}

/// A stream record from the result of deserialising it: read ([`read_record`]), or malformed,
/// with `json` (the record as JSON, for the log) and its sequence number when it has one.
fn parse_record<E: std::fmt::Display>(
    parsed: Result<EventRecord, E>,
    json: impl FnOnce() -> Value,
) -> BatchRecord {
    match parsed {
        Ok(record) => read_record(&record),
        Err(error) => {
            let record = json();
            Err(MalformedRecord {
                reason: format!("not a DynamoDB stream record: {error}"),
                sequence_number: record
                    .pointer("/dynamodb/SequenceNumber")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                record,
            })
        }
    }
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

/// Handles a batch of wake-ups from the wake queue (the records' texts) and returns the ids of
/// the messages to receive again. Each message is `{"player_id", "at"}` ([`WakeMessage`]): one
/// that arrives early by less than [`usecase::MAX_WAIT_MS`] is waited out (SQS delays in whole
/// seconds), a far one is armed again, a due one advances the player. Messages run
/// concurrently. A message that cannot be read is logged and dropped (it can never succeed).
pub async fn wake_queue(services: &Services, records: Vec<Box<RawValue>>) -> Vec<String> {
    let failures = usecase::concurrently(services, records, |raw| async move {
        wake_one(services, &raw).await
    })
    .await;
    failures.into_iter().flatten().collect()
}

/// One wake-up message; returns its id if it must be received again.
async fn wake_one(services: &Services, raw: &RawValue) -> Option<String> {
    let message: SqsMessage = match serde_json::from_str(raw.get()) {
        Ok(message) => message,
        Err(error) => {
            tracing::error!(%error, record = raw.get(), outcome = "malformed", "not an SQS message");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(event: &ProcessorEvent) -> Option<Vec<&str>> {
        let records = event.records.as_ref()?;
        Some(records.iter().map(|record| record.get()).collect())
    }

    #[test]
    fn a_processor_event_keeps_each_record_as_its_text() {
        let event: ProcessorEvent =
            serde_json::from_str(r#"{"Records": [{"eventSource": "aws:sqs", "body": "{}"}, 7]}"#)
                .unwrap();
        assert_eq!(
            texts(&event),
            Some(vec![r#"{"eventSource": "aws:sqs", "body": "{}"}"#, "7"])
        );
        let records = event.records.unwrap();
        assert_eq!(event_source(&records[0]), "aws:sqs");
        assert_eq!(event_source(&records[1]), "");
    }

    #[test]
    fn records_that_are_missing_or_not_an_array_are_none_and_other_fields_are_ignored() {
        // (serde reads a struct from an array too, field by field: `[1]` is `Records: 1`)
        for text in [
            "{}",
            r#"{"Records": {"a": 1}}"#,
            r#"{"Records": null, "x": 1}"#,
            "[1]",
        ] {
            let event: ProcessorEvent = serde_json::from_str(text).unwrap();
            assert_eq!(texts(&event), None, "{text}");
        }
        assert!(serde_json::from_str::<ProcessorEvent>(r#""Records""#).is_err());
    }

    #[test]
    fn an_event_from_a_value_has_the_same_records() {
        let value = serde_json::json!({"Records": [{"eventSource": "aws:dynamodb"}, "x"]});
        let event = ProcessorEvent::from(&value);
        assert_eq!(
            texts(&event),
            Some(vec![r#"{"eventSource":"aws:dynamodb"}"#, r#""x""#])
        );
        assert_eq!(texts(&ProcessorEvent::from(serde_json::json!(3))), None);
    }
}
