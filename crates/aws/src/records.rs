//! [`PlayerRecords`] on DynamoDB: a player's whole history, erasure from the four tables, and
//! the count that checks it; and the put of admin changes' audit records.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{DeleteRequest, Select, WriteRequest};
use idle_app::ports::{ConnectionStore, Page, PlayerRecords, PlayerRows, StoreError};
use idle_core::model::{AuditRecord, EpochSecs, HistoryRecord};

use crate::error::{built, store_error};
use crate::game::is_condition_failure;
use crate::items::{key_text, known, n, s, Item, EXPIRES_AT, PLAYER_ID, SEQ, TASK_ID};
use crate::store::{decode_cursor, encode_cursor, DynamoStore};

impl DynamoStore {
    /// `PutItem` of each record into the Tasks table with `attribute_not_exists(task_id)`, kept
    /// the store's history TTL after it was made; an existing record is the same one (its key
    /// is the version the change wrote), so a failed condition is success.
    pub(crate) async fn put_audit_records(
        &self,
        records: &[AuditRecord],
    ) -> Result<(), StoreError> {
        for record in records {
            let key = format!("{}/{}", record.player_id, record.task_id);
            let mut item: Item = serde_dynamo::to_item(record).map_err(|e| {
                StoreError::Permanent(format!("cannot encode audit record {key}: {e}"))
            })?;
            let expires_at = EpochSecs::floor_millis(record.at).plus_secs(self.history_ttl_secs);
            item.insert(EXPIRES_AT.to_owned(), n(expires_at.0));
            self.put_history_item(item, &format!("audit {key}")).await?;
        }
        Ok(())
    }

    /// `PutItem` of a Tasks-table item (a history or audit record) with
    /// `attribute_not_exists(task_id)`: `true` when it was put, `false` when an item with its
    /// key was there already (its key says which change made it, so it is the same record).
    /// `what` names the record in an error (`PutItem {what} on {table}`).
    pub(crate) async fn put_history_item(
        &self,
        item: Item,
        what: &str,
    ) -> Result<bool, StoreError> {
        let table = &self.tables.tasks;
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(task_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(store_error(format_args!("PutItem {what} on {table}"), err)),
        }
    }

    /// The keys (`player_id` and `range`) of every item of the player in `table`, from
    /// consistent `Query`s projecting the keys only, every page.
    async fn player_keys(
        &self,
        table: &str,
        range: &str,
        player_id: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(table)
            .consistent_read(true)
            .key_condition_expression("#player = :player")
            .projection_expression("#player, #range")
            .expression_attribute_names("#player", PLAYER_ID)
            .expression_attribute_names("#range", range)
            .expression_attribute_values(":player", s(player_id))
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output = output
                .map_err(|e| store_error(format_args!("Query {table} for {player_id}"), e))?;
            keys.extend(output.items.unwrap_or_default());
        }
        Ok(keys)
    }

    /// Deletes every item of the player in `table` (keys `player_id` and `range`) with
    /// `BatchWriteItem`, 25 per call, unprocessed ones retried. Returns how many.
    async fn delete_player_items(
        &self,
        table: &str,
        range: &str,
        player_id: &str,
    ) -> Result<u64, StoreError> {
        let keys = self.player_keys(table, range, player_id).await?;
        let count = keys.len() as u64;
        let requests = keys
            .into_iter()
            .map(|key| {
                let delete = built(
                    "a DeleteRequest",
                    DeleteRequest::builder().set_key(Some(key)).build(),
                )?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(table, requests).await?;
        Ok(count)
    }

    /// How many items of the player `table` holds: consistent `Query`s with `Select=COUNT`.
    async fn count_player_items(&self, table: &str, player_id: &str) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut pages = self
            .client
            .query()
            .table_name(table)
            .consistent_read(true)
            .select(Select::Count)
            .key_condition_expression("#player = :player")
            .expression_attribute_names("#player", PLAYER_ID)
            .expression_attribute_values(":player", s(player_id))
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output = output
                .map_err(|e| store_error(format_args!("Query {table} for {player_id}"), e))?;
            total += u64::try_from(output.count).unwrap_or(0);
        }
        Ok(total)
    }

    async fn player_item_exists(&self, player_id: &str) -> Result<bool, StoreError> {
        let table = &self.tables.players;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key(PLAYER_ID, s(player_id))
            .projection_expression("#player")
            .expression_attribute_names("#player", PLAYER_ID)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(format_args!("GetItem {player_id} on {table}"), e))?;
        Ok(output.item.is_some())
    }

    /// The players with a history record (a finished task by `finished_at`, an audit record by
    /// `at`) from `from` to `to` inclusive (ms since the epoch): what `idle-admin redrive` asks
    /// when the stream no longer holds a failed batch, to name the players the batch touched.
    ///
    /// A `Scan` of the whole Tasks table (no index is keyed by time) with a filter, projecting
    /// `player_id` only, page after page: it reads, and is billed, every history item (0.5 read
    /// units per 4 KB, eventually consistent; DynamoDB Developer Guide, "Read consistency"), so
    /// its cost grows with the table, not the window. Returns the ids sorted, each once.
    ///
    /// Errors: call failures as the crate documentation says.
    pub async fn players_with_history_between(
        &self,
        from: idle_core::model::Millis,
        to: idle_core::model::Millis,
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let table = &self.tables.tasks;
        let mut players = std::collections::BTreeSet::new();
        let mut pages = self
            .client
            .scan()
            .table_name(table)
            .filter_expression("#finished BETWEEN :from AND :to OR #at BETWEEN :from AND :to")
            .projection_expression("#player")
            .expression_attribute_names("#finished", "finished_at")
            .expression_attribute_names("#at", "at")
            .expression_attribute_names("#player", PLAYER_ID)
            .expression_attribute_values(":from", n(from))
            .expression_attribute_values(":to", n(to))
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output =
                output.map_err(|e| store_error(format_args!("Scan {table} by time"), e))?;
            players.extend(
                output
                    .items
                    .unwrap_or_default()
                    .iter()
                    .map(|item| key_text(item, PLAYER_ID)),
            );
        }
        Ok(players)
    }
}

#[async_trait]
impl PlayerRecords for DynamoStore {
    /// A consistent `Query` of the Tasks table, ascending by `task_id`, a page of the store's
    /// page size; the cursor is the `LastEvaluatedKey` as DynamoDB JSON.
    async fn history(
        &self,
        player_id: &str,
        cursor: Option<String>,
    ) -> Result<Page<HistoryRecord>, StoreError> {
        let table = &self.tables.tasks;
        let start = cursor
            .map(|c| decode_cursor(table, &c, &[PLAYER_ID, TASK_ID]))
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(table)
            .consistent_read(true)
            .key_condition_expression("#player = :player")
            .expression_attribute_names("#player", PLAYER_ID)
            .expression_attribute_values(":player", s(player_id))
            .limit(self.page_size)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store_error(format_args!("Query {table} for {player_id}"), e))?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let key = format!("{player_id}/{}", key_text(&item, TASK_ID));
                known(table, &key, &item)?;
                serde_dynamo::from_item(item).map_err(|e| {
                    StoreError::Permanent(format!("corrupt item in {table}, key {key}: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key
            .map(|key| encode_cursor(table, key))
            .transpose()?;
        Ok(Page { items, next })
    }

    /// `DeleteItem` of each connection row of the player (found by a filtered `Scan`,
    /// [`ConnectionStore::player_connections`]; each delete also unlists it), then `DeleteItem`
    /// of the player's item (its `connections` set with it), then `Query` + `BatchWriteItem`
    /// deletes of its Tasks and Notifications items. No transaction: an erase that fails
    /// part-way is run again (every step is idempotent).
    async fn erase_player(&self, player_id: &str) -> Result<PlayerRows, StoreError> {
        let connections = self.player_connections(player_id).await?;
        for connection in &connections {
            self.delete_connection(&connection.connection_id).await?;
        }
        let table = &self.tables.players;
        let output = self
            .client
            .delete_item()
            .table_name(table)
            .key(PLAYER_ID, s(player_id))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| store_error(format_args!("DeleteItem {player_id} on {table}"), e))?;
        let players = u64::from(output.attributes.is_some());
        let history = self
            .delete_player_items(&self.tables.tasks, TASK_ID, player_id)
            .await?;
        let kept = self
            .delete_player_items(&self.tables.notifications, SEQ, player_id)
            .await?;
        Ok(PlayerRows {
            players,
            history,
            kept,
            connections: connections.len() as u64,
            outboxes: 0,
        })
    }

    /// A consistent `GetItem` of the player, consistent `Select=COUNT` queries of Tasks and
    /// Notifications, and a consistent filtered `Scan` of Connections.
    async fn remaining(&self, player_id: &str) -> Result<PlayerRows, StoreError> {
        Ok(PlayerRows {
            players: u64::from(self.player_item_exists(player_id).await?),
            history: self
                .count_player_items(&self.tables.tasks, player_id)
                .await?,
            kept: self
                .count_player_items(&self.tables.notifications, player_id)
                .await?,
            connections: self.player_connections(player_id).await?.len() as u64,
            outboxes: 0,
        })
    }
}
