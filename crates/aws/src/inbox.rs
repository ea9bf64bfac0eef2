//! [`Inbox`] on DynamoDB: the Notifications table, one item per (player, seq), kept until
//! its TTL; reads never delete.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use idle_app::ports::{Inbox, Kept, StoreError};
use idle_core::model::{EpochSecs, Millis};
use idle_core::protocol::Notification;

use crate::error::{built, store_error};
use crate::items::{n, notification_from_item, notification_item, s, PLAYER_ID, SEQ};
use crate::store::DynamoStore;

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
        expires_at: EpochSecs,
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

    /// Consistent `Query`s of the player's items with `seq > after_seq`, ascending, a page
    /// at a time until `limit` unexpired ones and one more are found or the items run out.
    /// Items whose `expires_at` (seconds) has passed at `now` are left out: TTL deletion lags
    /// (typically within a few days of expiry: DynamoDB Developer Guide, "Time to Live (TTL)").
    async fn kept_after(
        &self,
        player_id: &str,
        after_seq: u64,
        now: Millis,
        limit: usize,
    ) -> Result<Kept, StoreError> {
        let table = &self.tables.notifications;
        let mut kept = Kept::default();
        let mut pages = self
            .client
            .query()
            .table_name(table)
            .consistent_read(true)
            .scan_index_forward(true)
            .key_condition_expression("#player = :player AND #seq > :after")
            .expression_attribute_names("#player", PLAYER_ID)
            .expression_attribute_names("#seq", SEQ)
            .expression_attribute_values(":player", s(player_id))
            .expression_attribute_values(":after", n(after_seq))
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output = output
                .map_err(|e| store_error(format_args!("Query {table} for {player_id}"), e))?;
            for item in output.items.unwrap_or_default() {
                let (notification, expires_at) = notification_from_item(table, &item)?;
                if expires_at.has_passed(now) {
                    continue;
                }
                if kept.notifications.len() == limit {
                    kept.more = true;
                    return Ok(kept);
                }
                kept.notifications.push(notification);
            }
        }
        Ok(kept)
    }
}
