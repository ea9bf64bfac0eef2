//! [`GameStore`] on DynamoDB: players (with their queues) and the task history.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem};
use idle_app::ports::{GameStore, Loaded, Page, StoreError};
use idle_app::state::PlayerState;
use idle_core::lifecycle::{Expected, Plan};
use idle_core::model::{Millis, Task, TaskStatus};

use crate::error::{built, store_error, transaction_cancelled};
use crate::items::{
    key_text, n, player_item, player_state, s, string, task_from_item, task_item, Item, EXPIRES_AT,
    PLAYER_ID, STATUS, TASK_ID, VERSION, WAKE_AT, WAKE_SHARD,
};
use crate::store::{
    backoff, decode_cursor, encode_cursor, DynamoStore, BATCH_GET_LIMIT, TRANSACTION_LIMIT,
    UNPROCESSED_ROUNDS,
};

/// The name of the Players index of due wake-ups.
pub const WAKE_INDEX: &str = "wake";

/// The final statuses, in the order of the `:final*` placeholders of [`NOT_FINAL`].
const FINAL: [TaskStatus; 4] = [
    TaskStatus::Completed,
    TaskStatus::Cancelled,
    TaskStatus::Rejected,
    TaskStatus::Failed,
];
/// The condition on a final-task write: the history has the task and it has not ended yet.
const NOT_FINAL: &str =
    "attribute_exists(task_id) AND NOT (#status IN (:final0, :final1, :final2, :final3))";

/// One history write of a plan, or none: see [`GameStore::commit`] on [`DynamoStore`].
/// The history record of `task`, kept `ttl_secs` after it finished (or was queued, for the
/// record written at enqueue, which its final record replaces): `expires_at` is the Tasks
/// table's TTL attribute.
fn history_put(
    table: &str,
    task: &Task,
    expected: Expected,
    ttl_secs: i64,
) -> Result<Option<Put>, StoreError> {
    let mut item = task_item(task)?;
    let since = task
        .finished_at
        .unwrap_or(task.enqueued_at)
        .div_euclid(1000);
    item.insert(EXPIRES_AT.to_owned(), n(since.saturating_add(ttl_secs)));
    let builder = Put::builder().table_name(table).set_item(Some(item));
    let builder = match expected {
        Expected::Absent => builder.condition_expression("attribute_not_exists(task_id)"),
        Expected::Status(_) if task.status.is_final() => {
            let builder = builder
                .condition_expression(NOT_FINAL)
                .expression_attribute_names("#status", STATUS);
            FINAL.iter().enumerate().fold(builder, |b, (i, status)| {
                b.expression_attribute_values(format!(":final{i}"), s(status.as_str()))
            })
        }
        // Queued → running → retrying changes live in the player's queue only.
        Expected::Status(_) => return Ok(None),
    };
    built("a task Put", builder.build()).map(Some)
}

#[async_trait]
impl GameStore for DynamoStore {
    /// `BatchGetItem` with consistent reads, 100 distinct ids per call (its limit, DynamoDB API
    /// Reference, "BatchGetItem"; duplicate keys in one call are refused); unprocessed keys are
    /// retried with backoff (a bounded number of rounds, then [`StoreError::Transient`]). Each
    /// item is decoded on its own: one that does not decode is in [`Loaded::unreadable`] with
    /// its [`StoreError::Permanent`] naming table and key, and the others are still returned.
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        let table = &self.tables.players;
        let ids: BTreeSet<&String> = player_ids.iter().collect();
        let ids: Vec<&String> = ids.into_iter().collect();
        let mut loaded = Loaded {
            players: Vec::with_capacity(ids.len()),
            unreadable: Vec::new(),
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
                    .consistent_read(true)
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
                    match player_state(table, item) {
                        Ok(state) => loaded.players.push(state),
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

    /// `PutItem` if no item has the id (`attribute_not_exists(player_id)`).
    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError> {
        let table = &self.tables.players;
        let id = &state.player.player_id;
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(player_item(state, self.wake_shards)?))
            .condition_expression("attribute_not_exists(player_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(store_error(format_args!("PutItem {id} on {table}"), err)),
        }
    }

    /// One `TransactWriteItems`:
    /// - the player item from `after` (its queue included), conditional on
    ///   `version = expected_version`, or on `attribute_not_exists(player_id)` when the plan
    ///   expects no player;
    /// - per task write expecting [`Expected::Absent`]: a Put conditional on
    ///   `attribute_not_exists(task_id)`;
    /// - per task write whose new status is final: a Put conditional on the stored task
    ///   existing with a status that is not final (so a task ends once);
    /// - other task writes (queued → running → retrying) are not written to the history: they
    ///   live in the player's queue.
    ///
    /// A plan with nothing to write does nothing. More than 100 items is a permanent error
    /// (`TransactWriteItems` takes at most 100 actions, 4 MB together: DynamoDB API Reference,
    /// "TransactWriteItems"; the queue limit keeps plans far below it). A cancelled transaction
    /// with a failed condition or a conflicting transaction is a [`StoreError::Conflict`] naming
    /// the item; nothing is written then.
    async fn commit(&self, commit: &idle_app::outbox::Commit) -> Result<(), StoreError> {
        // Compile-only bridge for branch seam-local; the real write comes with seam-aws.
        Err(StoreError::Permanent(format!(
            "DynamoStore::commit of the seam is not in this branch (player {})",
            commit.player_id()
        )))
    }

    async fn put_history(&self, _tasks: &[Task]) -> Result<(), StoreError> {
        Err(StoreError::Permanent(
            "DynamoStore::put_history is not in this branch".into(),
        ))
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

    /// A `Query` of the `wake` index: `wake_shard = :shard AND wake_at <= :now`, a page of at
    /// most the store's page size; the cursor is the `LastEvaluatedKey` as DynamoDB JSON.
    /// Global secondary indexes support only eventually consistent reads (DynamoDB Developer
    /// Guide, "Using Global Secondary Indexes in DynamoDB"): a player may show up a moment late
    /// (or once more after its wake-up moved), which advancing tolerates.
    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        let table = &self.tables.players;
        let start = cursor
            .map(|c| decode_cursor(table, &c, &[PLAYER_ID, WAKE_SHARD, WAKE_AT]))
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(table)
            .index_name(WAKE_INDEX)
            .key_condition_expression("#shard = :shard AND #wake_at <= :now")
            .expression_attribute_names("#shard", WAKE_SHARD)
            .expression_attribute_names("#wake_at", WAKE_AT)
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

impl DynamoStore {
    #[allow(dead_code)]
    async fn commit_plan_old(&self, plan: &Plan, after: &PlayerState) -> Result<(), StoreError> {
        let players = &self.tables.players;
        let tasks = &self.tables.tasks;
        let mut items = Vec::new();
        let mut labels = Vec::new();
        if let Some(write) = &plan.player {
            let id = &write.player.player_id;
            if after.player.player_id != *id {
                return Err(StoreError::Permanent(format!(
                    "commit: the plan writes player {id} but the state after it is player {}",
                    after.player.player_id
                )));
            }
            let builder = Put::builder()
                .table_name(players)
                .set_item(Some(player_item(after, self.wake_shards)?));
            let builder = match write.expected_version {
                Some(version) => builder
                    .condition_expression("#version = :expected")
                    .expression_attribute_names("#version", VERSION)
                    .expression_attribute_values(":expected", n(version)),
                None => builder.condition_expression("attribute_not_exists(player_id)"),
            };
            let put = built("a player Put", builder.build())?;
            items.push(TransactWriteItem::builder().put(put).build());
            labels.push(format!("player {id} in {players}"));
        }
        for write in &plan.tasks {
            if let Some(put) =
                history_put(tasks, &write.task, write.expected, self.history_ttl_secs)?
            {
                items.push(TransactWriteItem::builder().put(put).build());
                labels.push(format!(
                    "task {}/{} in {tasks}",
                    write.task.player_id, write.task.task_id
                ));
            }
        }
        if items.is_empty() {
            return Ok(());
        }
        if items.len() > TRANSACTION_LIMIT {
            return Err(StoreError::Permanent(format!(
                "commit: {} writes exceed the {TRANSACTION_LIMIT} items of one transaction",
                items.len()
            )));
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let error = transaction_cancelled(cancelled, &labels);
                    tracing::debug!(%error, "commit cancelled");
                    Err(error)
                }
                _ => Err(store_error(
                    format_args!("TransactWriteItems ({})", labels.join(", ")),
                    err,
                )),
            },
        }
    }
}
