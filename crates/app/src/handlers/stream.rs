//! The task table's DynamoDB stream.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use std::time::Instant;

use serde_json::Value;

use super::{flush_metrics, function_names};

use crate::auth::check_player_id;
use crate::services::Services;
use crate::usecase::{self, BatchRecord, BatchReport, MalformedRecord, TaskRecord};

/// A stream batch: advances the players its records name and reports, as batch item failures,
/// the first record of each player that could not be committed (with `ReportBatchItemFailures`
/// Lambda retries from the lowest sequence number reported: AWS Lambda Developer Guide,
/// "Configuring partial batch response with DynamoDB and Lambda"). Malformed records are logged
/// and skipped.
pub async fn task_stream(services: &Services, event: Event) -> DynamoDbEventResponse {
    let started = Instant::now();
    let records = event.records.iter().map(read_record).collect();
    let report = usecase::process_batch(services, records).await;
    finish(services, started, &report)
}

/// Like [`task_stream`], from the raw event JSON: a record that does not even parse as a stream
/// record is counted as malformed instead of failing the whole invocation (which Lambda would
/// retry, bisected, until the template's retry cap or record age, then hand to the on-failure
/// queue; records expire from the stream after 24 hours). Prefer this as the Lambda entry point.
pub async fn task_stream_json(services: &Services, event: Value) -> DynamoDbEventResponse {
    let started = Instant::now();
    let report = usecase::process_batch(services, records_from_json(&event)).await;
    finish(services, started, &report)
}

/// Reads a raw stream event record by record; one that does not parse is a malformed record.
pub fn records_from_json(event: &Value) -> Vec<BatchRecord> {
    let Some(raw) = event.get("Records").and_then(Value::as_array) else {
        tracing::error!(event = %event, "stream event without a Records array");
        return Vec::new();
    };
    raw.iter()
        .map(
            |value| match serde_json::from_value::<EventRecord>(value.clone()) {
                Ok(record) => read_record(&record),
                Err(error) => Err(MalformedRecord {
                    reason: format!("not a DynamoDB stream record: {error}"),
                    sequence_number: value
                        .pointer("/dynamodb/SequenceNumber")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    record: value.clone(),
                }),
            },
        )
        .collect()
}

fn finish(services: &Services, started: Instant, report: &BatchReport) -> DynamoDbEventResponse {
    flush_metrics(
        services,
        function_names::TASK_PROCESSOR,
        started,
        Some(report.records),
        None,
    );
    failures(report)
}

fn failures(report: &BatchReport) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = report
        .failures
        .iter()
        .map(|sequence_number| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number.clone());
            failure
        })
        .collect();
    response
}

/// Reads the player id (and task id) from a record's keys, and its sequence number.
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
    let keys = serde_json::to_value(&record.change.keys).unwrap_or(Value::Null);
    if keys.as_object().is_none_or(|k| k.is_empty()) {
        return malformed("no Keys");
    }
    let Some(player_id) = keys.pointer("/player_id/S").and_then(Value::as_str) else {
        return malformed("Keys has no string player_id");
    };
    if let Err(why) = check_player_id(player_id) {
        return malformed(&format!("player_id is not valid: {why}"));
    }
    Ok(TaskRecord {
        player_id: player_id.to_owned(),
        task_id: keys
            .pointer("/task_id/S")
            .and_then(Value::as_str)
            .map(str::to_owned),
        sequence_number,
        event_name: record.event_name.clone(),
    })
}
