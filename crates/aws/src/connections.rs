//! [`ConnectionStore`] on DynamoDB: the Connections table (a row per connection, by id) and
//! each player's list of connection ids, the `connections` string set of its Players item.
//!
//! The list is changed by `UpdateItem ADD`/`DELETE` naming only that set and the `outbox`
//! marker: it never reads or sets `version`, so it neither fails a player's conditional write
//! nor is failed by one. It removes the marker because the update makes a stream record too,
//! whose new image would otherwise still carry the last commit's marker and pass the stream's
//! filter, performing that outbox again; the outbox itself stays in `state` (the repair tools
//! read it from there).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use idle_app::ports::{Connection, ConnectionStore, Page, StoreError};

use crate::error::store_error;
use crate::game::is_condition_failure;
use crate::items::{
    connection_from_item, connection_item, key_text, n, s, CONNECTED_AT, CONNECTIONS,
    CONNECTION_ID, OUTBOX, PLAYER_ID,
};
use crate::store::{decode_cursor, encode_cursor, DynamoStore};

impl DynamoStore {
    /// `UpdateItem ADD connections :id REMOVE outbox` on the player's item: creates an item
    /// holding only the key and the set when there is none (no player yet).
    async fn list_connection(
        &self,
        player_id: &str,
        connection_id: &str,
    ) -> Result<(), StoreError> {
        let table = &self.tables.players;
        self.client
            .update_item()
            .table_name(table)
            .key(PLAYER_ID, s(player_id))
            .update_expression("ADD #connections :id REMOVE #outbox")
            .expression_attribute_names("#connections", CONNECTIONS)
            .expression_attribute_names("#outbox", OUTBOX)
            .expression_attribute_values(":id", AttributeValue::Ss(vec![connection_id.to_owned()]))
            .send()
            .await
            .map_err(|e| {
                store_error(
                    format_args!("UpdateItem ADD {connection_id} to {player_id} on {table}"),
                    e,
                )
            })?;
        Ok(())
    }
}

impl DynamoStore {
    /// `GetItem` of a connection, `consistent` or not.
    async fn read_connection(
        &self,
        connection_id: &str,
        consistent: bool,
    ) -> Result<Option<Connection>, StoreError> {
        let table = &self.tables.connections;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key(CONNECTION_ID, s(connection_id))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| store_error(format_args!("GetItem {connection_id} on {table}"), e))?;
        output
            .item
            .map(|item| connection_from_item(table, item))
            .transpose()
    }
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    /// `PutItem` of the row (replaces a connection with the same id), then `UpdateItem ADD` of
    /// its id to the player's `connections` set.
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
        self.list_connection(&connection.player_id, &connection.connection_id)
            .await
    }

    /// `GetItem` with a consistent read.
    async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        self.read_connection(connection_id, true).await
    }

    /// `GetItem` with an eventually consistent read (half a read unit per 4 KB).
    async fn get_connection_relaxed(
        &self,
        connection_id: &str,
    ) -> Result<Option<Connection>, StoreError> {
        self.read_connection(connection_id, false).await
    }

    /// `DeleteItem` returning the old row; when there was one, `UpdateItem DELETE` of its id
    /// from its player's set ([`ConnectionStore::unlist_connection`]). Deleting a connection
    /// that is not there succeeds (one request).
    async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        let table = &self.tables.connections;
        let output = self
            .client
            .delete_item()
            .table_name(table)
            .key(CONNECTION_ID, s(connection_id))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| store_error(format_args!("DeleteItem {connection_id} on {table}"), e))?;
        match output.attributes {
            Some(old) => {
                let player_id = key_text(&old, PLAYER_ID);
                self.unlist_connection(&player_id, connection_id).await
            }
            None => Ok(()),
        }
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
            Ok(_) => {
                self.unlist_connection(&connection.player_id, id).await?;
                Ok(true)
            }
            Err(e) => match store_error(format_args!("DeleteItem {id} on {table}"), e) {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    /// `UpdateItem DELETE connections :id REMOVE outbox` on the player's item, on the condition
    /// that the item exists (an update would otherwise create it); a failed condition (no such
    /// player) is success.
    async fn unlist_connection(
        &self,
        player_id: &str,
        connection_id: &str,
    ) -> Result<(), StoreError> {
        let table = &self.tables.players;
        let result = self
            .client
            .update_item()
            .table_name(table)
            .key(PLAYER_ID, s(player_id))
            .update_expression("DELETE #connections :id REMOVE #outbox")
            .condition_expression("attribute_exists(#player_id)")
            .expression_attribute_names("#connections", CONNECTIONS)
            .expression_attribute_names("#outbox", OUTBOX)
            .expression_attribute_names("#player_id", PLAYER_ID)
            .expression_attribute_values(":id", AttributeValue::Ss(vec![connection_id.to_owned()]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Ok(()),
            Err(err) => Err(store_error(
                format_args!("UpdateItem DELETE {connection_id} from {player_id} on {table}"),
                err,
            )),
        }
    }

    /// A consistent `Scan` of the Connections table filtered on `player_id`, every page: an
    /// operator's read (`idle-admin show`, `export`, `erase`), never on a game path (the
    /// delivery reads the ids listed with the player). It reads the whole table, which holds
    /// only open connections (each row goes by `$disconnect`, the cleaner or its TTL), and it
    /// finds rows whatever the player's list says.
    async fn player_connections(&self, player_id: &str) -> Result<Vec<Connection>, StoreError> {
        let table = &self.tables.connections;
        let mut connections = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(table)
            .filter_expression("#player = :player")
            .expression_attribute_names("#player", PLAYER_ID)
            .expression_attribute_values(":player", s(player_id))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output = output
                .map_err(|e| store_error(format_args!("Scan {table} for player {player_id}"), e))?;
            for item in output.items.unwrap_or_default() {
                connections.push(connection_from_item(table, item)?);
            }
        }
        connections.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
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
