//! Reading a table's DynamoDB stream back as the event Lambda would deliver, and wake-queue
//! messages as Lambda's SQS event (feature `streams`).
//!
//! Tests use it to check that a commit produces the stream records the task processor acts
//! on, with real sequence numbers, and to feed those records to the processor's handler; a
//! replay tool or a local driver can use it the same way. It reads through the DynamoDB Streams
//! API (`DescribeStream`, `GetShardIterator`, `GetRecords`), which moto implements. moto does
//! not apply an event source's filter: [`with_outbox`] applies the template's.

use std::collections::{BTreeMap, HashMap};

use aws_config::SdkConfig;
use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord, UserIdentity};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use idle_app::ports::StoreError;

use crate::config::{local_endpoint, retry_config, stalled_stream_protection, timeout_config};
use crate::error::store_error;

/// Most `GetRecords` calls per shard before giving up (a stream that never drains).
const MAX_READS_PER_SHARD: usize = 10_000;

/// A DynamoDB Streams client with this crate's timeouts and retries; `DYNAMODB_ENDPOINT`, when
/// set, replaces the regional endpoint (moto serves both APIs on one port).
pub fn streams_client(config: &SdkConfig) -> aws_sdk_dynamodbstreams::Client {
    let mut builder = aws_sdk_dynamodbstreams::config::Builder::from(config)
        .timeout_config(timeout_config())
        .retry_config(retry_config(config.retry_config()))
        .stalled_stream_protection(stalled_stream_protection());
    if let Some(endpoint) = local_endpoint() {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_dynamodbstreams::Client::from_conf(builder.build())
}

/// The template's `FilterCriteria` on the Players stream (`{"dynamodb": {"NewImage": {"outbox":
/// {"N": [{"exists": true}]}}}}`): keeps the records whose new image has the numeric `outbox`
/// marker, the writes with something to perform.
pub fn with_outbox(mut event: Event) -> Event {
    event.records.retain(|record| {
        record
            .change
            .new_image
            .get("outbox")
            .is_some_and(|value| matches!(value, serde_dynamo::AttributeValue::N(_)))
    });
    event
}

/// The ARN of `table`'s latest stream.
async fn stream_arn(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<String, StoreError> {
    let description = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| store_error(format_args!("DescribeTable {table}"), e))?;
    description
        .table
        .and_then(|t| t.latest_stream_arn)
        .ok_or_else(|| StoreError::Permanent(format!("table {table} has no stream")))
}

/// Every shard id of a stream, in the order `DescribeStream` lists them.
async fn shard_ids(
    streams: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
) -> Result<Vec<String>, StoreError> {
    let mut shard_ids = Vec::new();
    let mut start_shard = None;
    loop {
        let output = streams
            .describe_stream()
            .stream_arn(stream_arn)
            .set_exclusive_start_shard_id(start_shard)
            .send()
            .await
            .map_err(|e| store_error(format_args!("DescribeStream {stream_arn}"), e))?;
        let Some(description) = output.stream_description else {
            break;
        };
        shard_ids.extend(
            description
                .shards()
                .iter()
                .filter_map(|s| s.shard_id().map(str::to_owned)),
        );
        start_shard = description.last_evaluated_shard_id;
        if start_shard.is_none() {
            break;
        }
    }
    Ok(shard_ids)
}

/// Follows a table's stream as a poller does: each [`poll`](StreamTail::poll) returns the
/// records written since the previous one (from the stream's oldest on the first), shard by
/// shard, each record once.
pub struct StreamTail {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    table: String,
    stream_arn: Option<String>,
    /// The next iterator of each shard seen (None once a closed shard is drained).
    iterators: BTreeMap<String, Option<String>>,
    /// When the shard list was last read: it is read again at most once a second.
    listed: Option<std::time::Instant>,
}

impl StreamTail {
    /// A tail of `table`'s latest stream, starting at its oldest record.
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: impl Into<String>,
    ) -> StreamTail {
        StreamTail {
            dynamodb,
            streams,
            table: table.into(),
            stream_arn: None,
            iterators: BTreeMap::new(),
            listed: None,
        }
    }

    /// The records written since the last poll, as one Lambda DynamoDB event (possibly empty).
    /// New shards are looked for at most once a second.
    /// Errors: a table without a stream is [`StoreError::Permanent`]; call failures as the
    /// crate documentation says (the tail keeps its place, so the next poll tries again).
    pub async fn poll(&mut self) -> Result<Event, StoreError> {
        let arn = match &self.stream_arn {
            Some(arn) => arn.clone(),
            None => {
                let arn = stream_arn(&self.dynamodb, &self.table).await?;
                self.stream_arn = Some(arn.clone());
                arn
            }
        };
        let stale = self
            .listed
            .is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(1));
        let shards = if stale {
            self.listed = Some(std::time::Instant::now());
            shard_ids(&self.streams, &arn).await?
        } else {
            Vec::new()
        };
        for shard_id in shards {
            if self.iterators.contains_key(&shard_id) {
                continue;
            }
            let output = self
                .streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&shard_id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| store_error(format_args!("GetShardIterator {shard_id}"), e))?;
            self.iterators.insert(shard_id, output.shard_iterator);
        }
        let mut records = Vec::new();
        for (shard_id, iterator) in self.iterators.iter_mut() {
            let Some(current) = iterator.clone() else {
                continue;
            };
            let output = self
                .streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .map_err(|e| store_error(format_args!("GetRecords {shard_id}"), e))?;
            for record in output.records.unwrap_or_default() {
                records.push(to_lambda_record(record, &arn)?);
            }
            *iterator = output.next_shard_iterator;
        }
        let mut event = Event::default();
        event.records = records;
        Ok(event)
    }
}

/// Messages received from a queue (`ReceiveMessage`) as the SQS event Lambda hands a function
/// (`eventSource` `aws:sqs`), for the queue `queue_arn` in `region`.
pub fn sqs_lambda_event(
    messages: &[aws_sdk_sqs::types::Message],
    queue_arn: &str,
    region: &str,
) -> serde_json::Value {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|message| {
            let attributes: serde_json::Map<String, serde_json::Value> = message
                .attributes()
                .map(|attributes| {
                    attributes
                        .iter()
                        .map(|(name, value)| (name.as_str().to_owned(), value.clone().into()))
                        .collect()
                })
                .unwrap_or_default();
            serde_json::json!({
                "messageId": message.message_id(),
                "receiptHandle": message.receipt_handle(),
                "body": message.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// Every record of `table`'s latest stream from its oldest (`TRIM_HORIZON`), shard by shard in
/// the order `DescribeStream` lists them, as one Lambda DynamoDB event. Reads each shard until
/// `GetRecords` returns nothing: meant for tests and local tools, where the stream is quiet.
pub async fn read_stream_as_lambda_event(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    table: &str,
) -> Result<Event, StoreError> {
    let stream_arn = stream_arn(dynamodb, table).await?;
    let shard_ids = shard_ids(streams, &stream_arn).await?;

    let mut records = Vec::new();
    for shard_id in shard_ids {
        let output = streams
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .shard_id(&shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .map_err(|e| store_error(format_args!("GetShardIterator {shard_id}"), e))?;
        let mut iterator = output.shard_iterator;
        let mut reads = 0;
        while let Some(current) = iterator.take() {
            reads += 1;
            if reads > MAX_READS_PER_SHARD {
                return Err(StoreError::Transient(format!(
                    "shard {shard_id} of {stream_arn} still had records after {MAX_READS_PER_SHARD} reads"
                )));
            }
            let output = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .map_err(|e| store_error(format_args!("GetRecords {shard_id}"), e))?;
            let page = output.records.unwrap_or_default();
            if page.is_empty() {
                break;
            }
            for record in page {
                records.push(to_lambda_record(record, &stream_arn)?);
            }
            iterator = output.next_shard_iterator;
        }
    }
    let mut event = Event::default();
    event.records = records;
    Ok(event)
}

fn item(map: Option<HashMap<String, AttributeValue>>) -> Result<serde_dynamo::Item, StoreError> {
    let map = map.unwrap_or_default();
    if map.values().any(has_unknown) {
        return Err(StoreError::Permanent(
            "stream record holds an attribute of a type this build does not know".into(),
        ));
    }
    Ok(serde_dynamo::Item::from(map))
}

fn has_unknown(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::M(map) => map.values().any(has_unknown),
        AttributeValue::L(list) => list.iter().any(has_unknown),
        other => other.is_unknown(),
    }
}

/// One DynamoDB Streams record as a Lambda event record of the stream `stream_arn`: the same
/// event id, event name, sequence number, keys and images; the creation time in whole seconds
/// (as Lambda delivers it).
pub fn to_lambda_record(record: Record, stream_arn: &str) -> Result<EventRecord, StoreError> {
    let malformed = |what: &str| StoreError::Permanent(format!("stream record without {what}"));
    let change = record.dynamodb.ok_or_else(|| malformed("`dynamodb`"))?;
    let mut lambda = EventRecord::default();
    lambda.aws_region = record.aws_region.unwrap_or_default();
    lambda.event_id = record.event_id.ok_or_else(|| malformed("`eventID`"))?;
    lambda.event_name = record
        .event_name
        .ok_or_else(|| malformed("`eventName`"))?
        .as_str()
        .to_owned();
    lambda.event_source = Some(
        record
            .event_source
            .unwrap_or_else(|| "aws:dynamodb".to_owned()),
    );
    lambda.event_version = record.event_version;
    lambda.event_source_arn = Some(stream_arn.to_owned());
    lambda.user_identity = record.user_identity.map(|identity| {
        let mut user = UserIdentity::default();
        user.type_ = identity.r#type.unwrap_or_default();
        user.principal_id = identity.principal_id.unwrap_or_default();
        user
    });

    let mut stream = StreamRecord::default();
    if let Some(at) = change.approximate_creation_date_time {
        stream.approximate_creation_date_time = chrono::DateTime::from_timestamp(at.secs(), 0)
            .ok_or_else(|| malformed("a valid ApproximateCreationDateTime"))?;
    }
    stream.keys = item(change.keys)?;
    stream.new_image = item(change.new_image)?;
    stream.old_image = item(change.old_image)?;
    stream.sequence_number = Some(
        change
            .sequence_number
            .ok_or_else(|| malformed("`SequenceNumber`"))?,
    );
    stream.size_bytes = change.size_bytes.unwrap_or_default();
    stream.stream_view_type = change
        .stream_view_type
        .map(|kind| serde_json::from_value(serde_json::Value::String(kind.as_str().to_owned())))
        .transpose()
        .map_err(|e| StoreError::Permanent(format!("stream record view type: {e}")))?;
    lambda.change = stream;
    Ok(lambda)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodbstreams::primitives::DateTime;
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord as SdkStreamRecord};

    use super::*;

    fn record(with_change: bool) -> Record {
        let change = SdkStreamRecord::builder()
            .approximate_creation_date_time(DateTime::from_secs(1_700_000_000))
            .keys("player_id", AttributeValue::S("p1".into()))
            .keys("task_id", AttributeValue::S("t1".into()))
            .new_image("player_id", AttributeValue::S("p1".into()))
            .new_image("task_id", AttributeValue::S("t1".into()))
            .new_image("attempts", AttributeValue::N("0".into()))
            .sequence_number("4200000000000000000001")
            .size_bytes(42)
            .stream_view_type(aws_sdk_dynamodbstreams::types::StreamViewType::NewAndOldImages)
            .build();
        let builder = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Insert)
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("us-east-1");
        if with_change {
            builder.dynamodb(change).build()
        } else {
            builder.build()
        }
    }

    #[test]
    fn a_record_converts_to_the_lambda_shape_and_round_trips_through_json() {
        let lambda = to_lambda_record(record(true), "arn:stream").unwrap();
        assert_eq!(lambda.event_name, "INSERT");
        assert_eq!(lambda.event_source_arn.as_deref(), Some("arn:stream"));
        assert_eq!(
            lambda.change.sequence_number.as_deref(),
            Some("4200000000000000000001")
        );
        assert_eq!(lambda.change.keys.len(), 2);
        assert!(lambda.change.old_image.is_empty());
        let mut event = Event::default();
        event.records = vec![lambda];
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json["Records"][0]["dynamodb"]["NewImage"]["attempts"]["N"],
            "0"
        );
        assert_eq!(
            json["Records"][0]["dynamodb"]["StreamViewType"],
            "NEW_AND_OLD_IMAGES"
        );
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn the_outbox_filter_keeps_only_images_with_a_numeric_marker() {
        let with = |outbox: Option<AttributeValue>| {
            let mut record = record(true);
            if let Some(change) = record.dynamodb.as_mut() {
                let image = change.new_image.get_or_insert_with(HashMap::new);
                if let Some(outbox) = outbox {
                    image.insert("outbox".into(), outbox);
                }
            }
            to_lambda_record(record, "arn:stream").unwrap()
        };
        let mut event = Event::default();
        event.records = vec![
            with(None),
            with(Some(AttributeValue::N("1".into()))),
            with(Some(AttributeValue::S("{}".into()))),
        ];
        let kept = with_outbox(event.clone());
        assert_eq!(kept.records, vec![event.records[1].clone()]);
    }

    #[test]
    fn a_record_without_its_change_is_an_error_not_a_panic() {
        assert!(matches!(
            to_lambda_record(record(false), "arn:stream"),
            Err(StoreError::Permanent(_))
        ));
    }
}
