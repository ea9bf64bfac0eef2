//! [`PlayerRecords`] on SQLite: a player's whole history, erasure, and the count that checks it;
//! and opening a database read-only beside a running writer.

use std::path::Path;

use async_trait::async_trait;
use idle_app::ports::{Page, PlayerRecords, PlayerRows, StoreError};
use idle_core::model::{AuditRecord, EpochSecs, HistoryRecord};
use rusqlite::{params, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::schema::SCHEMA_VERSION;
use crate::store::{insert_if_absent, to_json, Sql, SqliteOptions, SqliteStore, INSERT_HISTORY};

/// The tables that hold rows of a player, by `player_id`.
const PLAYER_TABLES: [&str; 5] = ["players", "history", "kept", "connections", "outboxes"];

impl SqliteStore {
    /// Opens the database file at `path` read-only, beside a process that may be writing it
    /// (WAL lets readers in while one writer writes): no migration, no resharding, no
    /// checkpointer, and every write fails. The wake-shard count is the stored one.
    ///
    /// # Errors
    /// [`StoreError::Permanent`] naming the path when the file is missing or not a database, or
    /// when its schema version is not this build's (a writer must migrate it first).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let named = |e: StoreError| StoreError::Permanent(format!("{}: {e}", path.display()));
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .sql()
        .map_err(named)?;
        let mut options = SqliteOptions {
            checkpoint_interval: None,
            ..SqliteOptions::default()
        };
        conn.busy_timeout(options.busy_timeout)
            .sql()
            .map_err(named)?;
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .sql()
            .map_err(named)?;
        if version != SCHEMA_VERSION {
            return Err(named(StoreError::Permanent(format!(
                "schema version {version}, this build reads {SCHEMA_VERSION}: \
                 open it once with a writer of this version"
            ))));
        }
        let shards: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'wake_shards'",
                [],
                |row| row.get(0),
            )
            .optional()
            .sql()
            .map_err(named)?;
        if let Some(shards) = shards.and_then(|s| s.parse().ok()) {
            options.wake_shards = shards;
        }
        SqliteStore::from_connection(conn, options, Some(path.to_owned()))
    }
}

fn count(conn: &rusqlite::Connection, table: &str, player_id: &str) -> Result<u64, StoreError> {
    conn.query_row(
        &format!("SELECT count(*) FROM {table} WHERE player_id = ?1"),
        [player_id],
        |row| row.get::<_, i64>(0),
    )
    .sql()
    .map(|n| n as u64)
}

fn rows(counts: [u64; 5]) -> PlayerRows {
    let [players, history, kept, connections, outboxes] = counts;
    PlayerRows {
        players,
        history,
        kept,
        connections,
        outboxes,
    }
}

#[async_trait]
impl PlayerRecords for SqliteStore {
    /// The `history` table's rows of the player after the cursor (a `task_id`), in `task_id`
    /// order, a page of the store's page size.
    async fn history(
        &self,
        player_id: &str,
        cursor: Option<String>,
    ) -> Result<Page<HistoryRecord>, StoreError> {
        let db = self.db();
        let mut select = db
            .conn
            .prepare_cached(
                "SELECT task_id, task FROM history WHERE player_id = ?1 AND task_id > ?2
                 ORDER BY task_id LIMIT ?3",
            )
            .sql()?;
        let size = self.options.page_size;
        let rows = select
            .query_map(
                params![player_id, cursor.unwrap_or_default(), size as i64],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .sql()?;
        let mut items = Vec::new();
        for row in rows {
            let (task_id, json) = row.sql()?;
            let record = serde_json::from_str(&json).map_err(|e| {
                StoreError::Permanent(format!(
                    "corrupt row in the history table, key ({player_id}, {task_id}): {e}"
                ))
            })?;
            items.push((task_id, record));
        }
        let next = (items.len() >= size)
            .then(|| items.last().map(|(id, _)| id.clone()))
            .flatten();
        Ok(Page {
            items: items.into_iter().map(|(_, r)| r).collect(),
            next,
        })
    }

    /// One transaction deleting the player's rows from every table.
    async fn erase_player(&self, player_id: &str) -> Result<PlayerRows, StoreError> {
        let mut db = self.db();
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql()?;
        let mut deleted = [0u64; 5];
        for (table, n) in PLAYER_TABLES.iter().zip(deleted.iter_mut()) {
            *n = tx
                .execute(
                    &format!("DELETE FROM {table} WHERE player_id = ?1"),
                    [player_id],
                )
                .sql()? as u64;
        }
        tx.commit().sql()?;
        Ok(rows(deleted))
    }

    async fn remaining(&self, player_id: &str) -> Result<PlayerRows, StoreError> {
        let db = self.db();
        let mut counts = [0u64; 5];
        for (table, n) in PLAYER_TABLES.iter().zip(counts.iter_mut()) {
            *n = count(&db.conn, table, player_id)?;
        }
        Ok(rows(counts))
    }
}

/// Puts an audit record into the history if absent, kept `ttl_secs` after it was made.
pub(crate) fn insert_audit(
    conn: &rusqlite::Connection,
    record: &AuditRecord,
    ttl_secs: i64,
) -> Result<bool, StoreError> {
    insert_if_absent(
        conn,
        INSERT_HISTORY,
        params![
            record.player_id,
            record.task_id,
            to_json(record, "an audit record")?,
            EpochSecs::floor_millis(record.at).plus_secs(ttl_secs).0,
        ],
    )
}
