//! `redrive`: perform again what the task processor did not.
//!
//! Locally, the embedded store keeps every committed outbox until it is marked performed, so a
//! redrive performs each one left (in commit order, through the same use case the runtime's
//! feed uses) and marks those that succeeded.
//!
//! On AWS, the Players stream's event source mapping sends a batch it gave up on to its
//! on-failure SQS queue. That message names the batch, not the players: the stream, the shard,
//! the first and last sequence numbers and the approximate arrival times of the first and last
//! records (AWS Lambda Developer Guide, "Retaining records of invocations" / on-failure
//! destinations for stream event sources: `DDBStreamBatchInfo`). The records stay readable for
//! 24 hours (the stream's retention), so a redrive reads them back ([`StreamRanges`]) and
//! performs their outboxes through [`perform_batch`] as the processor does.
//!
//! Once the stream no longer holds the range ([`Range::Gone`]), the records, and with them the
//! outboxes, are lost; what the players they touched still have is their item, which keeps the
//! outbox of its last write, and their wake time. So the redrive finds the players
//! ([`TouchedPlayers`]: those with a history record in the range's time window, or, when the
//! history names none, every player whose wake-up is due) and, for each, performs its last
//! outbox again and advances it to now ([`wake`]). What cannot come back: the notifications and
//! history records of outboxes that were not a player's last (see the crate README).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::EventRecord;
use idle_app::config::AppConfig;
use idle_app::handlers::read_record;
use idle_app::outbox::OutboxRecord;
use idle_app::ports::{
    ConnectionInfo, GameStore, Notifier, PostError, StoreError, SystemClock, Waker,
};
use idle_app::services::Services;
use idle_app::usecase::{perform_batch, wake, BatchRecord, BatchReport, Woken};
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
pub enum Range {
    /// The records of the range, as the Lambda event would hold them.
    Records(Vec<EventRecord>),
    /// The stream no longer holds the range (trimmed after 24 hours, or the stream is gone):
    /// why, as the API said it.
    Gone(String),
}

/// Reads a failed batch's records back from the stream. On AWS the DynamoDB Streams API
/// ([`StreamsApi`]); tests of the expired branch use a fake, since no emulator trims a stream.
#[async_trait]
pub trait StreamRanges: Send + Sync {
    /// The records from the batch's first to its last sequence number, or [`Range::Gone`].
    ///
    /// # Errors
    /// Call failures other than "trimmed" or "no such stream" ([`CliError::Store`]).
    async fn read(&self, batch: &BatchInfo) -> Result<Range, CliError>;
}

/// [`StreamRanges`] over the DynamoDB Streams API: `GetShardIterator` `AT_SEQUENCE_NUMBER`,
/// then `GetRecords` up to the last sequence number. `TrimmedDataAccessException` (the range
/// is past the 24-hour retention) and `ResourceNotFoundException` (the stream or shard is gone)
/// are [`Range::Gone`].
pub struct StreamsApi(pub aws_sdk_dynamodbstreams::Client);

#[async_trait]
impl StreamRanges for StreamsApi {
    async fn read(&self, batch: &BatchInfo) -> Result<Range, CliError> {
        read_range(&self.0, batch).await
    }
}

/// Where the players an expired range touched are found: the history, and each player's last
/// outbox. On AWS the DynamoDB store.
#[async_trait]
pub trait TouchedPlayers: Send + Sync {
    /// Players with a history record (a finished task or an audit record) from `from` to `to`
    /// inclusive, ms since the epoch.
    async fn with_history_between(
        &self,
        from: Millis,
        to: Millis,
    ) -> Result<BTreeSet<String>, CliError>;

    /// The outbox of the player's last write, if it still holds one, with the version it was
    /// committed with.
    async fn last_outbox(&self, player_id: &str) -> Result<Option<OutboxRecord>, CliError>;
}

#[async_trait]
impl TouchedPlayers for idle_aws::DynamoStore {
    /// A scan of the Tasks table ([`idle_aws::DynamoStore::players_with_history_between`]).
    async fn with_history_between(
        &self,
        from: Millis,
        to: Millis,
    ) -> Result<BTreeSet<String>, CliError> {
        Ok(self.players_with_history_between(from, to).await?)
    }

    /// The `outbox` attribute of the player's item, which every write with something to
    /// perform carries ([`idle_aws::DynamoStore::stored_outbox`]).
    async fn last_outbox(&self, player_id: &str) -> Result<Option<OutboxRecord>, CliError> {
        let outbox = self.stored_outbox(player_id).await?;
        if outbox.is_empty() {
            return Ok(None);
        }
        let mut loaded = self.load_players(&[player_id.to_owned()]).await?;
        if let Some((_, error)) = loaded.unreadable.pop() {
            return Err(error.into());
        }
        let connections = loaded.connections_of(player_id);
        Ok(loaded.players.pop().map(|state| OutboxRecord {
            player_id: player_id.to_owned(),
            version: state.player.version,
            sequence_number: format!("redrive:{player_id}"),
            outbox,
            connections,
        }))
    }
}

/// What `redrive` does with a range the stream no longer holds (`--expired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Expired {
    /// Advance the players with a history record in the range's time window (a scan of the
    /// Tasks table); if it names none, or the message carries no arrival times, those of
    /// `due`.
    History,
    /// Advance every player whose wake-up is due (the wake index; no scan).
    Due,
    /// Report the range and keep its message.
    Keep,
}

/// Redrives batches named by on-failure messages, over the ports.
pub struct Redrive<'a> {
    pub services: &'a Services,
    pub ranges: &'a dyn StreamRanges,
    pub touched: &'a dyn TouchedPlayers,
    pub expired: Expired,
    /// Widens an expired range's time window on both sides, ms: a record arrives when its write
    /// commits, and a task's `finished_at` is its scheduled end, up to a tick (60 s) earlier
    /// when the ticker rather than its wake-up completed it.
    pub slack_ms: Millis,
}

/// How one batch went: the JSON to report, and whether all of it was done (the message can be
/// deleted).
#[derive(Debug)]
pub struct Redriven {
    pub report: Value,
    pub done: bool,
}

/// A batch's time window from the arrival times its message carries (RFC 3339), widened by
/// `slack_ms` on both sides; `None` when either is missing or unreadable.
pub fn window(batch: &BatchInfo, slack_ms: Millis) -> Option<(Millis, Millis)> {
    let millis = |at: &Option<String>| {
        at.as_deref()
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.timestamp_millis())
    };
    let first = millis(&batch.approximate_arrival_of_first_record)?;
    let last = millis(&batch.approximate_arrival_of_last_record)?;
    Some((
        first.min(last).saturating_sub(slack_ms),
        first.max(last).saturating_add(slack_ms),
    ))
}

impl Redrive<'_> {
    /// Redrives the batch `failure` names: its records performed again while the stream has
    /// them; otherwise, unless [`Expired::Keep`], every player it touched advanced.
    ///
    /// # Errors
    /// Store and stream call failures ([`CliError::Store`]); the message is then kept.
    pub async fn batch(&self, failure: &FailureMessage) -> Result<Redriven, CliError> {
        match self.ranges.read(&failure.batch).await? {
            Range::Records(records) => {
                let batch: Vec<BatchRecord> = records.iter().map(read_record).collect();
                let report = perform_batch(self.services, batch).await;
                Ok(Redriven {
                    done: report.failed_players == 0,
                    report: json!({ "batch": failure.batch, "report": report }),
                })
            }
            Range::Gone(why) => self.expired_batch(failure, why).await,
        }
    }

    async fn expired_batch(
        &self,
        failure: &FailureMessage,
        why: String,
    ) -> Result<Redriven, CliError> {
        if self.expired == Expired::Keep {
            return Ok(Redriven {
                report: json!({ "batch": failure.batch, "gone": why,
                    "note": "the stream no longer holds this range; kept (--expired keep)" }),
                done: false,
            });
        }
        let window = window(&failure.batch, self.slack_ms);
        let from_history = match (self.expired, window) {
            (Expired::History, Some((from, to))) => {
                self.touched.with_history_between(from, to).await?
            }
            _ => BTreeSet::new(),
        };
        let (players, found_by) = if !from_history.is_empty() {
            (from_history, "history")
        } else {
            let why = match (self.expired, window) {
                (Expired::Due, _) => "due (--expired due)",
                (_, None) => "due (the message carries no arrival times)",
                _ => "due (no history record in the window)",
            };
            (self.due_players().await?, why)
        };
        let mut advanced = Advance::default();
        for player in &players {
            self.advance(player, &mut advanced).await;
        }
        Ok(Redriven {
            done: advanced.failed.is_empty(),
            report: json!({
                "batch": failure.batch,
                "gone": why,
                "window": window.map(|(from, to)| json!({ "from": from, "to": to })),
                "found_by": found_by,
                "players": players.len(),
                "advance": advanced,
            }),
        })
    }

    /// Every player the wake index says is due now, shard by shard, page by page.
    async fn due_players(&self) -> Result<BTreeSet<String>, CliError> {
        let now = self.services.clock.now();
        let mut due = BTreeSet::new();
        for shard in 0..self.services.config.wake_shards.max(1) {
            let mut cursor = None;
            loop {
                let page = self.services.store.due_players(shard, now, cursor).await?;
                due.extend(page.items);
                cursor = page.next;
                if cursor.is_none() {
                    break;
                }
            }
        }
        Ok(due)
    }

    /// Performs the player's last outbox again (its history records put if absent, its
    /// notifications posted or kept; wake-ups are armed at commit, not from outboxes), then
    /// advances the player to now if it is due (the wake-up use case). Failures are noted in `into`, never returned: the
    /// other players go on.
    async fn advance(&self, player_id: &str, into: &mut Advance) {
        match self.touched.last_outbox(player_id).await {
            Ok(Some(record)) => {
                let report = perform_batch(self.services, vec![Ok(record)]).await;
                into.outboxes_performed += report.performed;
                into.history += report.history;
                into.delivered += report.delivered;
                into.kept += report.kept;
                if report.failed_players > 0 {
                    into.failed.push(player_id.to_owned());
                    return;
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(player_id, %error, "redrive: cannot read the player's outbox");
                into.failed.push(player_id.to_owned());
                return;
            }
        }
        match wake(self.services, player_id, self.services.clock.now()).await {
            Ok(Woken::Advanced) => into.advanced += 1,
            Ok(Woken::Progress | Woken::Nothing) => into.not_due += 1,
            Ok(Woken::Unknown) => into.unknown += 1,
            Err(error) => {
                tracing::error!(player_id, %error, "redrive: cannot advance the player");
                into.failed.push(player_id.to_owned());
            }
        }
    }
}

/// What advancing an expired range's players did.
#[derive(Debug, Default, Serialize)]
struct Advance {
    /// Last outboxes performed again, and what they did.
    outboxes_performed: usize,
    history: usize,
    delivered: usize,
    kept: usize,
    /// Players whose advance wrote something.
    advanced: usize,
    /// Players with nothing due now.
    not_due: usize,
    /// Players that no longer exist (erased).
    unknown: usize,
    /// Players that could not be advanced (transient trouble: run the redrive again).
    failed: Vec<String>,
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
/// redrives each batch it names ([`Redrive::batch`]), and deletes the messages whose batch was
/// done in full.
pub async fn redrive_aws(
    sdk: &aws_config::SdkConfig,
    store: idle_aws::DynamoStore,
    config: &AppConfig,
    queue_url: &str,
    max_messages: usize,
    expired: Expired,
    slack_ms: Millis,
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
            "WAKE_QUEUE_URL is not set: redrive arms the wake-ups of the changes it commits, as task-processor does".into(),
        )
    })?;
    let sqs = idle_aws::sqs_client(sdk);
    let ranges = StreamsApi(idle_aws::stream::streams_client(sdk));
    let store = Arc::new(store);
    let clock = Arc::new(SystemClock);
    let services = Services::new(
        config.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        Arc::new(idle_aws::ApiGatewayNotifier::new(sdk, &ws_endpoint)),
        clock.clone(),
        Arc::new(idle_aws::SqsWaker::new(sqs.clone(), wake_queue, clock)),
    );
    let redrive = Redrive {
        services: &services,
        ranges: &ranges,
        touched: store.as_ref(),
        expired,
        slack_ms,
    };
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
                    undone += 1;
                    json!({ "message_id": message.message_id, "unreadable": error.to_string() })
                }
                Ok(failure) => {
                    let redriven = redrive.batch(&failure).await?;
                    if redriven.done {
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
                    redriven.report
                }
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
    fn an_expired_ranges_window_is_its_arrival_times_widened_by_the_slack() {
        let batch = parse_failure_message(MESSAGE).unwrap().batch;
        // 2019-11-14T00:13:19Z
        let arrival = 1_573_690_399_000;
        assert_eq!(
            window(&batch, 300_000),
            Some((arrival - 300_000, arrival + 300_000))
        );
        let later = BatchInfo {
            approximate_arrival_of_last_record: Some("2019-11-14T00:14:19.5Z".into()),
            ..batch.clone()
        };
        assert_eq!(window(&later, 0), Some((arrival, arrival + 60_500)));
        for missing in [
            BatchInfo {
                approximate_arrival_of_first_record: None,
                ..batch.clone()
            },
            BatchInfo {
                approximate_arrival_of_last_record: Some("yesterday".into()),
                ..batch.clone()
            },
        ] {
            assert_eq!(window(&missing, 300_000), None);
        }
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
