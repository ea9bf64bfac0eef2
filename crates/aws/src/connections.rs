//! [`ConnectionStore`] on DynamoDB: the Connections table and its `by_player` index.

use async_trait::async_trait;
use idle_app::ports::{Connection, ConnectionStore, Page, StoreError};

use crate::error::store_error;
use crate::items::{
    connection_from_item, connection_item, n, s, CONNECTED_AT, CONNECTION_ID, PLAYER_ID,
};
use crate::store::{decode_cursor, encode_cursor, DynamoStore};

/// The name of the Connections index by player.
pub const BY_PLAYER_INDEX: &str = "by_player";

#[async_trait]
impl ConnectionStore for DynamoStore {
    /// `PutItem` (replaces a connection with the same id).
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let table = &self.tables.connections;
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(connection_item(connection)?))
            .send()
            .await
            .map_err(|e| {
                store_error(
                    format_args!("PutItem {} on {table}", connection.connection_id),
                    e,
                )
            })?;
        Ok(())
    }

    /// `GetItem` with a consistent read.
    async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let table = &self.tables.connections;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key(CONNECTION_ID, s(connection_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(format_args!("GetItem {connection_id} on {table}"), e))?;
        output
            .item
            .map(|item| connection_from_item(table, item))
            .transpose()
    }

    /// `DeleteItem`; deleting a connection that is not there succeeds.
    async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        let table = &self.tables.connections;
        self.client
            .delete_item()
            .table_name(table)
            .key(CONNECTION_ID, s(connection_id))
            .send()
            .await
            .map_err(|e| store_error(format_args!("DeleteItem {connection_id} on {table}"), e))?;
        Ok(())
    }

    /// `DeleteItem` on the condition that `connected_at` is still the one read; a failed
    /// condition (the row is gone or was replaced) is `Ok(false)`.
    async fn delete_connection_if(&self, connection: &Connection) -> Result<bool, StoreError> {
        let table = &self.tables.connections;
        let id = connection.connection_id.as_str();
        let result = self
            .client
            .delete_item()
            .table_name(table)
            .key(CONNECTION_ID, s(id))
            .condition_expression("#at = :at")
            .expression_attribute_names("#at", CONNECTED_AT)
            .expression_attribute_values(":at", n(connection.connected_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match store_error(format_args!("DeleteItem {id} on {table}"), e) {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    /// A `Query` of the `by_player` index, every page. The index is eventually consistent: a
    /// connection made a moment ago may be missing (the player's client then syncs on connect).
    async fn player_connections(&self, player_id: &str) -> Result<Vec<Connection>, StoreError> {
        let table = &self.tables.connections;
        let mut connections = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(table)
            .index_name(BY_PLAYER_INDEX)
            .key_condition_expression("#player = :player")
            .expression_attribute_names("#player", PLAYER_ID)
            .expression_attribute_values(":player", s(player_id))
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output = output.map_err(|e| {
                store_error(
                    format_args!("Query {table} index {BY_PLAYER_INDEX} for {player_id}"),
                    e,
                )
            })?;
            for item in output.items.unwrap_or_default() {
                connections.push(connection_from_item(table, item)?);
            }
        }
        Ok(connections)
    }

    /// A `Scan`, a page of at most the store's page size; the cursor is the `LastEvaluatedKey`
    /// as DynamoDB JSON.
    async fn scan_connections(
        &self,
        cursor: Option<String>,
    ) -> Result<Page<Connection>, StoreError> {
        let table = &self.tables.connections;
        let start = cursor
            .map(|c| decode_cursor(table, &c, &[CONNECTION_ID]))
            .transpose()?;
        let output = self
            .client
            .scan()
            .table_name(table)
            .limit(self.page_size)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store_error(format_args!("Scan {table}"), e))?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| connection_from_item(table, item))
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key
            .map(|key| encode_cursor(table, key))
            .transpose()?;
        Ok(Page { items, next })
    }
}
