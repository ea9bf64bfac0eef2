//! [`Inbox`] on DynamoDB: the Notifications table, one item per (player, seq).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use idle_app::ports::{Inbox, StoreError};
use idle_core::model::Millis;
use idle_core::protocol::Notification;

use crate::error::{built, store_error};
use crate::items::{
    key_text, n, notification_from_item, notification_item, number_u64, s, Item, PLAYER_ID, SEQ,
};
use crate::store::DynamoStore;

impl DynamoStore {
    /// Every item of a player's inbox with `seq <= through` (all of them when `None`), in
    /// `seq` order, reading every page consistently. `keys_only` projects the key attributes.
    async fn inbox_items(
        &self,
        player_id: &str,
        through: Option<u64>,
        keys_only: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let table = &self.tables.notifications;
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(table)
                .consistent_read(true)
                .scan_index_forward(true)
                .expression_attribute_names("#player", PLAYER_ID)
                .expression_attribute_values(":player", s(player_id))
                .set_exclusive_start_key(start);
            query = match through {
                Some(seq) => query
                    .key_condition_expression("#player = :player AND #seq <= :seq")
                    .expression_attribute_names("#seq", SEQ)
                    .expression_attribute_values(":seq", n(seq)),
                None => query.key_condition_expression("#player = :player"),
            };
            if keys_only {
                query = query
                    .projection_expression("#player, #seq")
                    .expression_attribute_names("#seq", SEQ);
            }
            let output = query
                .send()
                .await
                .map_err(|e| store_error(format_args!("Query {table} for {player_id}"), e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

#[async_trait]
impl Inbox for DynamoStore {
    /// `BatchWriteItem` puts, 25 per call (its limit), unprocessed ones retried. A put replaces
    /// the item with the same key, so storing a (player, seq) twice keeps one; within one call
    /// the last notification with a given `seq` wins (`BatchWriteItem` refuses two requests for
    /// one key: DynamoDB API Reference, "BatchWriteItem").
    async fn store(
        &self,
        player_id: &str,
        notifications: &[Notification],
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let by_seq: BTreeMap<u64, &Notification> =
            notifications.iter().map(|note| (note.seq, note)).collect();
        let mut requests = Vec::with_capacity(by_seq.len());
        for notification in by_seq.values() {
            let item = notification_item(player_id, notification, expires_at)?;
            let put = built(
                "a notification PutRequest",
                PutRequest::builder().set_item(Some(item)).build(),
            )?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        self.batch_write(&self.tables.notifications, requests).await
    }

    /// A consistent `Query` of the player's items in ascending `seq`, leaving out those whose
    /// `expires_at` (seconds) has passed at `now` (`expires_at * 1000 <= now`): TTL deletes
    /// expired items in the background, typically within a few days of expiry, and until then
    /// reads return them (DynamoDB Developer Guide, "Time to Live (TTL)").
    async fn pending(&self, player_id: &str, now: Millis) -> Result<Vec<Notification>, StoreError> {
        let table = &self.tables.notifications;
        let mut pending = Vec::new();
        for item in self.inbox_items(player_id, None, false).await? {
            let (notification, expires_at) = notification_from_item(table, &item)?;
            if expires_at.saturating_mul(1000) > now {
                pending.push(notification);
            }
        }
        Ok(pending)
    }

    /// A consistent `Query` of the keys with `seq <= through`, then `BatchWriteItem` deletes.
    async fn remove_through(&self, player_id: &str, seq: u64) -> Result<(), StoreError> {
        let table = &self.tables.notifications;
        let mut requests = Vec::new();
        for item in self.inbox_items(player_id, Some(seq), true).await? {
            let key = format!("{player_id}/{}", key_text(&item, SEQ));
            let seq = number_u64(table, &item, SEQ, &key)?;
            let delete = built(
                "a notification DeleteRequest",
                DeleteRequest::builder()
                    .key(PLAYER_ID, s(player_id))
                    .key(SEQ, n(seq))
                    .build(),
            )?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        self.batch_write(table, requests).await
    }
}
