//! [`GameStore`] on DynamoDB: players (each item with its queue and its last outbox) and the
//! history of finished tasks.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use idle_app::outbox::{Commit, Outbox};
use idle_app::ports::{limits, GameStore, Loaded, Page, StoreError};
use idle_app::state::PlayerState;
use idle_core::model::{AuditRecord, EpochSecs, Millis, Task};

use crate::error::{built, store_error};
use crate::items::{
    commit_item, item_size, key_text, listed_of, n, outbox_of, player_item, player_state, s,
    string, task_from_item, task_item, update_of, Item, EXPIRES_AT, OUTBOX, PLAYER_ID, STATE,
    TASK_ID, VERSION, WAKE_BUCKET, WAKE_SHARD,
};
use crate::store::{
    backoff, decode_cursor, encode_cursor, DynamoStore, BATCH_GET_LIMIT, UNPROCESSED_ROUNDS,
};

/// The name of the Players index of due wake-ups.
pub const WAKE_INDEX: &str = "wake";

/// The history record of a finished `task`, kept `ttl_secs` after it finished: `expires_at`
/// (seconds since the epoch) is the Tasks table's TTL attribute.
fn history_item(task: &Task, ttl_secs: i64) -> Result<Item, StoreError> {
    let mut item = task_item(task)?;
    let since = EpochSecs::floor_millis(task.finished_at.unwrap_or(task.enqueued_at));
    item.insert(EXPIRES_AT.to_owned(), n(since.plus_secs(ttl_secs).0));
    Ok(item)
}

pub(crate) fn is_condition_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error().is_some_and(|e| {
        matches!(
            e.code(),
            Some("ConditionalCheckFailedException" | "ConditionalCheckFailed")
        )
    })
}

impl DynamoStore {
    /// Writes a Players `item` ([`packed_item`](crate::items::packed_item)) as one `UpdateItem`
    /// that sets its attributes and removes the optional ones it lacks, leaving the
    /// `connections` set alone ([`update_of`]; a `PutItem` would replace the whole item and drop
    /// it), on the condition `version = expected`, or `attribute_not_exists(version)` when
    /// `expected` is `None` (no player yet; an item holding only connections has no `version`).
    /// A failed condition is [`StoreError::Conflict`] naming the player.
    pub(crate) async fn write_player(
        &self,
        id: &str,
        item: Item,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let table = &self.tables.players;
        let update = update_of(item);
        let request = self
            .client
            .update_item()
            .table_name(table)
            .key(PLAYER_ID, s(id))
            .update_expression(update.expression)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .expression_attribute_names("#version", VERSION);
        let request = match expected {
            Some(version) => request
                .condition_expression("#version = :expected")
                .expression_attribute_values(":expected", n(version)),
            None => request.condition_expression("attribute_not_exists(#version)"),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Err(StoreError::Conflict(format!(
                "player {id} in {table}: the stored version is not {expected:?}"
            ))),
            Err(err) => Err(store_error(
                format_args!("UpdateItem player {id} on {table}"),
                err,
            )),
        }
    }

    /// The outbox of the player's last write, as stored in its item (empty when the last write
    /// had nothing to perform, or there is no such player): what a repair tool performs again.
    /// `GetItem` with a consistent read of the `outbox` marker and the packed `state`.
    ///
    /// Errors: a marked item whose `state` does not unpack is [`StoreError::Permanent`] naming
    /// the table and key; call failures as the crate documentation says.
    pub async fn stored_outbox(&self, player_id: &str) -> Result<Outbox, StoreError> {
        let table = &self.tables.players;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key(PLAYER_ID, s(player_id))
            .projection_expression("#outbox, #state")
            .expression_attribute_names("#outbox", OUTBOX)
            .expression_attribute_names("#state", STATE)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(format_args!("GetItem {player_id} on {table}"), e))?;
        match output.item {
            Some(item) => outbox_of(table, player_id, &item),
            None => Ok(Outbox::default()),
        }
    }

    /// `BatchGetItem` of the players, 100 distinct ids per call, `consistent` or not.
    async fn batch_get_players(
        &self,
        player_ids: &[String],
        consistent: bool,
    ) -> Result<Loaded, StoreError> {
        let table = &self.tables.players;
        let ids: BTreeSet<&String> = player_ids.iter().collect();
        let ids: Vec<&String> = ids.into_iter().collect();
        let mut loaded = Loaded {
            players: Vec::with_capacity(ids.len()),
            ..Loaded::default()
        };
        for chunk in ids.chunks(BATCH_GET_LIMIT) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| HashMap::from([(PLAYER_ID.to_owned(), s(id.as_str()))]))
                .collect();
            let mut request = built(
                "a BatchGetItem request",
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(consistent)
                    .build(),
            )?;
            let mut round = 0;
            loop {
                if round > 0 {
                    backoff(round).await;
                }
                round += 1;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(table, request)
                    .send()
                    .await
                    .map_err(|e| store_error(format_args!("BatchGetItem on {table}"), e))?;
                let items = output
                    .responses
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default();
                for item in items {
                    // The key of an item BatchGetItem returned is one we asked for.
                    let key = key_text(&item, PLAYER_ID);
                    let listed = listed_of(&item);
                    match player_state(table, item) {
                        Ok(Some(state)) => {
                            loaded.players.push(state);
                            if !listed.is_empty() {
                                loaded.connections.insert(key, listed);
                            }
                        }
                        // Only connections, no player yet: as if absent.
                        Ok(None) => {}
                        Err(error) => loaded.unreadable.push((key, error)),
                    }
                }
                match output.unprocessed_keys.and_then(|mut u| u.remove(table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        if round == UNPROCESSED_ROUNDS {
                            return Err(StoreError::Transient(format!(
                                "BatchGetItem on {table}: {} keys still unprocessed after {round} rounds",
                                rest.keys().len()
                            )));
                        }
                        request = rest;
                    }
                    _ => break,
                }
            }
        }
        Ok(loaded)
    }
}

#[async_trait]
impl GameStore for DynamoStore {
    /// `BatchGetItem` with consistent reads, 100 distinct ids per call (its limit, DynamoDB API
    /// Reference, "BatchGetItem"; duplicate keys in one call are refused); unprocessed keys are
    /// retried with backoff (a bounded number of rounds, then [`StoreError::Transient`]). Each
    /// item is decoded on its own: one that does not decode is in [`Loaded::unreadable`] with
    /// its [`StoreError::Permanent`] naming table and key, and the others are still returned.
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        self.batch_get_players(player_ids, true).await
    }

    /// As `load_players` with eventually consistent reads (half the read units; DynamoDB
    /// Developer Guide, "Read consistency"): a copy may lag the latest write by a moment.
    async fn load_players_relaxed(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        self.batch_get_players(player_ids, false).await
    }
    /// `UpdateItem` writing the player's attributes ([`DynamoStore::write_player`]) if the
    /// item holds no player (`attribute_not_exists(version)`: absent, or only the connections
    /// listed before the player's first write, which it keeps). A failed condition is
    /// `Ok(false)`.
    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError> {
        let item = player_item(state, self.layout())?;
        match self.write_player(&state.player.player_id, item, None).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// One conditional `UpdateItem` of the player's item ([`commit_item`](crate::items),
    /// written by [`DynamoStore::write_player`]): the player, its queue and the outbox packed
    /// in `state` (B), the wake index keys while it has a wake time, and the `outbox` marker
    /// only when the outbox is not empty, so the Players stream's filter skips writes with
    /// nothing to perform; the `connections` set is left as it is. The condition is `version =
    /// expected` (or `attribute_not_exists(version)` when the commit expects no player). No transaction:
    /// the history records ride in the outbox and are put by the stream processor
    /// ([`GameStore::put_history`]).
    ///
    /// Errors: a failed condition is [`StoreError::Conflict`] naming the player (nothing is
    /// written); an item over DynamoDB's 400 KB ([`limits::ITEM_BYTES`], measured with
    /// DynamoDB's own size rules) is [`StoreError::Permanent`] before any call; other failures
    /// as the crate documentation says.
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let table = &self.tables.players;
        let id = commit.player_id();
        let item = commit_item(commit, self.layout())?;
        let bytes = item_size(&item);
        if bytes > limits::ITEM_BYTES {
            return Err(StoreError::Permanent(format!(
                "the write breaks DynamoDB's limits: player {id} in {table} is {bytes} bytes, at most {}",
                limits::ITEM_BYTES
            )));
        }
        self.write_player(id, item, commit.expected_version).await
    }

    /// One `PutItem` per task, conditional on `attribute_not_exists(task_id)`, with
    /// `expires_at` (seconds) = when the task finished + the store's history TTL. A failed
    /// condition means the record is already stored (outcomes are deterministic, so it is the
    /// same record): that task is done, not an error. Tasks are put in order; the first other
    /// failure stops and is returned (the caller retries the whole outbox, which is safe).
    async fn put_history(&self, tasks: &[Task]) -> Result<(), StoreError> {
        for task in tasks {
            let item = history_item(task, self.history_ttl_secs)?;
            let what = format!("task {}/{}", task.player_id, task.task_id);
            if !self.put_history_item(item, &what).await? {
                tracing::debug!(
                    player_id = %task.player_id,
                    task_id = %task.task_id,
                    "history record already stored"
                );
            }
        }
        Ok(())
    }

    /// See [`DynamoStore::put_audit_records`]: a conditional `PutItem` each, in the Tasks table.
    async fn put_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        self.put_audit_records(records).await
    }

    /// `GetItem` with a consistent read.
    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError> {
        let table = &self.tables.tasks;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key(PLAYER_ID, s(player_id))
            .key(TASK_ID, s(task_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                store_error(format_args!("GetItem {player_id}/{task_id} on {table}"), e)
            })?;
        output
            .item
            .map(|item| task_from_item(table, item))
            .transpose()
    }

    /// A `Query` of the `wake` index: `wake_shard = :shard AND wake_bucket <= :now`, a page of
    /// at most the store's page size; the cursor is the `LastEvaluatedKey` as DynamoDB JSON.
    /// The index key is the wake time rounded UP to the store's bucket
    /// ([`DynamoStore::with_wake_bucket`]), so only buckets wholly in the past are read: every
    /// player returned is due, and one due later in the current bucket is not (it is found at
    /// the first sweep after its bucket ends, at most a bucket late; the wake queue wakes it on
    /// time unless its message was lost). Global secondary indexes support only eventually
    /// consistent reads (DynamoDB Developer Guide, "Using Global Secondary Indexes in
    /// DynamoDB"): a player may show up a moment late (or once more after its wake-up moved),
    /// which advancing tolerates.
    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        let table = &self.tables.players;
        let start = cursor
            .map(|c| decode_cursor(table, &c, &[PLAYER_ID, WAKE_SHARD, WAKE_BUCKET]))
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(table)
            .index_name(WAKE_INDEX)
            .key_condition_expression("#shard = :shard AND #bucket <= :now")
            .expression_attribute_names("#shard", WAKE_SHARD)
            .expression_attribute_names("#bucket", WAKE_BUCKET)
            .expression_attribute_values(":shard", n(shard))
            .expression_attribute_values(":now", n(now))
            .limit(self.page_size)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store_error(format_args!("Query {table} index {WAKE_INDEX}"), e))?;
        let items = output
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| string(table, item, PLAYER_ID).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key
            .map(|key| encode_cursor(table, key))
            .transpose()?;
        Ok(Page { items, next })
    }
}
