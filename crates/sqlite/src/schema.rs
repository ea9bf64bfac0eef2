//! The database schema, versioned with `PRAGMA user_version`: migration `i` (0-based) takes a
//! database from version `i` to `i + 1`, in one transaction with the version bump, so a crash
//! leaves the database at one version or the next, never between.

use rusqlite::{Connection, TransactionBehavior};

use idle_app::ports::StoreError;

use crate::store::Sql;

/// The ordered migrations. Append only: a released migration never changes.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    -- One row per player: the item the state machine reads and writes with one conditional
    -- UPDATE on `version`. `player` and `queue` are the JSON of idle_core's Player and of its
    -- unfinished tasks; `version` and `wake_at` repeat the player's fields for the condition and
    -- the wake index; `wake_shard` is idle_app::ports::wake_shard(player_id, meta.wake_shards).
    CREATE TABLE players (
        player_id  TEXT PRIMARY KEY NOT NULL,
        version    INTEGER NOT NULL,
        wake_at    INTEGER,
        wake_shard INTEGER NOT NULL,
        player     TEXT NOT NULL,
        queue      TEXT NOT NULL
    );
    -- The sparse wake index: only players with a due time, by shard then due time.
    CREATE INDEX players_wake ON players (wake_shard, wake_at, player_id)
        WHERE wake_at IS NOT NULL;

    -- Committed non-empty outboxes not yet performed, in commit order (`seq`, also the feed's
    -- sequence number). Written in the commit's transaction, deleted by mark_performed.
    CREATE TABLE outboxes (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        player_id TEXT NOT NULL,
        version   INTEGER NOT NULL,
        outbox    TEXT NOT NULL
    );
    CREATE INDEX outboxes_player ON outboxes (player_id, version);

    -- Finished tasks, each put if absent. `expires_at`: seconds since the epoch.
    CREATE TABLE history (
        player_id  TEXT NOT NULL,
        task_id    TEXT NOT NULL,
        task       TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (player_id, task_id)
    );
    CREATE INDEX history_expiry ON history (expires_at);

    -- Open WebSocket connections. Times: `connected_at`, `token_expires_at` in ms,
    -- `expires_at` in seconds since the epoch.
    CREATE TABLE connections (
        connection_id    TEXT PRIMARY KEY NOT NULL,
        player_id        TEXT NOT NULL,
        is_admin         INTEGER NOT NULL,
        connected_at     INTEGER NOT NULL,
        token_expires_at INTEGER NOT NULL,
        expires_at       INTEGER NOT NULL
    );
    CREATE INDEX connections_player ON connections (player_id);
    CREATE INDEX connections_expiry ON connections (expires_at);

    -- Notifications kept for `sync`, one per (player, seq). `expires_at`: seconds since the epoch.
    CREATE TABLE kept (
        player_id    TEXT NOT NULL,
        seq          INTEGER NOT NULL,
        notification TEXT NOT NULL,
        expires_at   INTEGER NOT NULL,
        PRIMARY KEY (player_id, seq)
    );
    CREATE INDEX kept_expiry ON kept (expires_at);

    -- Settings the data depends on (`wake_shards`) and one-off events (`imported_store_json`).
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    );
    ",
    // 2: the catalog store.
    "
    -- Every catalog the runtime has served, by content hash (64 hex digits): `catalog` is its
    -- canonical JSON, `version` its label. Put if absent, never replaced or deleted.
    CREATE TABLE catalogs (
        catalog_hash TEXT PRIMARY KEY NOT NULL,
        version      INTEGER NOT NULL,
        catalog      TEXT NOT NULL
    );
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`]. A database of a newer version is refused
/// (this build does not know its tables), not opened.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .sql()?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Permanent(format!(
            "the database is at schema version {current}, newer than this build's \
             {SCHEMA_VERSION}: open it with a newer idle-sqlite"
        )));
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql()?;
        tx.execute_batch(migration).sql()?;
        tx.pragma_update(None, "user_version", i as u32 + 1).sql()?;
        tx.commit().sql()?;
    }
    Ok(())
}
