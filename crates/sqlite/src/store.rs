//! [`SqliteStore`]: the ports over one SQLite connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use idle_app::outbox::{Commit, Outbox, OutboxRecord};
use idle_app::ports::{
    catalog_too_large, wake_shard, CatalogStore, Connection, ConnectionStore, GameStore, Inbox,
    Kept, Loaded, Page, StoreError, CATALOG_BYTES,
};
use idle_app::state::PlayerState;
use idle_core::model::{AuditRecord, EpochSecs, Millis, Player, Task};
use idle_core::protocol::Notification;
use rusqlite::{params, ErrorCode, OptionalExtension, TransactionBehavior};
use tokio::sync::Notify;

use crate::schema;

/// Default page size of `due_players` and `scan_connections` (DynamoDB's store uses the same).
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Default time a history record is kept after its task finished, in seconds (90 days: the
/// deployment's default `HISTORY_TTL_SECS`).
pub const DEFAULT_HISTORY_TTL_SECS: i64 = 90 * 24 * 3600;
/// Default shard count of the wake index (the memory store's default; use the config's
/// `wake_shards`).
pub const DEFAULT_WAKE_SHARDS: u32 = 8;

/// When a committed transaction is on disk (SQLite's `PRAGMA synchronous` in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `NORMAL`: a commit is in the write-ahead log when `commit` returns, so it survives a crash
    /// of the process; the log is synced to disk at checkpoints, so a power loss or an OS crash
    /// may roll back the last commits (never corrupt the database). No fsync per commit.
    #[default]
    Normal,
    /// `FULL`: the log is synced at every commit, so a commit also survives a power loss, at the
    /// cost of one fsync per commit.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// How a [`SqliteStore`] is opened. `Default` gives the values documented on each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Shards of the wake index (default [`DEFAULT_WAKE_SHARDS`]); must be the config's
    /// `wake_shards`, which the ticker sweeps. The count is stored: opening with another count
    /// recomputes every player's shard once, in one transaction.
    pub wake_shards: u32,
    /// Durability of a commit (default [`Synchronous::Normal`]).
    pub synchronous: Synchronous,
    /// How long a statement waits for a lock another connection holds (an `sqlite3` shell
    /// writing, a backup) before failing with [`StoreError::Transient`] (default 5 s).
    pub busy_timeout: Duration,
    /// Rows per page of `due_players` and `scan_connections` (default [`DEFAULT_PAGE_SIZE`];
    /// at least 1).
    pub page_size: usize,
    /// Seconds a history record is kept after its task finished (or was queued, if it never
    /// finished); then [`SqliteStore::purge_expired`] deletes it. Default
    /// [`DEFAULT_HISTORY_TTL_SECS`].
    pub history_ttl_secs: i64,
    /// How a file's write-ahead log is folded into the database file (no effect in memory):
    /// `Some(interval)` by a background thread with its own connection every `interval`
    /// (default [`CHECKPOINT_INTERVAL`]), `None` by SQLite itself inside the commit that grows
    /// the log past 1000 pages (4 MB), on the caller's thread.
    pub checkpoint_interval: Option<Duration>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            wake_shards: DEFAULT_WAKE_SHARDS,
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            page_size: DEFAULT_PAGE_SIZE,
            history_ttl_secs: DEFAULT_HISTORY_TTL_SECS,
            checkpoint_interval: Some(CHECKPOINT_INTERVAL),
        }
    }
}

pub(crate) struct Db {
    pub(crate) conn: rusqlite::Connection,
    /// Committed non-empty outboxes not yet taken, in commit order. Pushed under the same lock
    /// as the commit, so the order here is the order of the commits.
    feed: Vec<OutboxRecord>,
}

/// The embedded store: [`GameStore`], [`ConnectionStore`] and [`Inbox`] over one SQLite
/// database (a file in WAL mode, or in memory), with the same semantics as
/// `idle_app::memory::MemoryStore` (see the crate docs for the differences). Share it through an
/// `Arc`.
///
/// Every call runs inline on the calling thread, under one `std::sync::Mutex` around one
/// connection (the crate docs say why); a call never holds it across an `.await`.
pub struct SqliteStore {
    /// Declared first, so it stops before the connection closes (the last connection to close
    /// checkpoints the log and removes it).
    checkpointer: Option<Checkpointer>,
    /// Held for a checkpoint round, so an explicit checkpoint never meets the background one.
    checkpoint_lock: Arc<Mutex<()>>,
    db: Mutex<Db>,
    notify: Arc<Notify>,
    pub(crate) options: SqliteOptions,
    /// The database file, or `None` in memory.
    pub(crate) path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Turns a rusqlite error into a [`StoreError`]: a lock held too long or a full disk may pass
/// ([`StoreError::Transient`]); everything else (a corrupt file, a read-only one, a bug) is
/// [`StoreError::Permanent`].
pub(crate) fn store_error(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::DiskFull) => {
            StoreError::Transient(format!("sqlite: {error}"))
        }
        _ => StoreError::Permanent(format!("sqlite: {error}")),
    }
}

/// `.sql()?` on a rusqlite result.
pub(crate) trait Sql<T> {
    fn sql(self) -> Result<T, StoreError>;
}

impl<T> Sql<T> for rusqlite::Result<T> {
    fn sql(self) -> Result<T, StoreError> {
        self.map_err(store_error)
    }
}

pub(crate) fn to_json(value: &impl serde::Serialize, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Permanent(format!("cannot encode {what}: {e}")))
}

/// A `u64` as SQLite's signed 64-bit integer.
pub(crate) fn int(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Permanent(format!("{what} {value} is over SQLite's i64")))
}

/// Seconds since the epoch that `now` (ms) is in: a row with `expires_at` (seconds) at or below
/// it has expired (`expires_at * 1000 <= now`, as the memory store compares).
pub(crate) fn expiry_cutoff(now: Millis) -> i64 {
    EpochSecs::floor_millis(now).0
}

impl SqliteStore {
    /// Opens (creating it if missing) the database file at `path` with default
    /// [`SqliteOptions`]. See [`open_with`](Self::open_with).
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// Opens (creating it if missing) the database file at `path`: WAL journal, the chosen
    /// `synchronous`, the busy timeout, and the schema migrated to
    /// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION).
    ///
    /// The caller keeps other writers out (the local runtime holds its data directory's lock
    /// first); readers such as the `sqlite3` shell are fine at any time.
    ///
    /// # Errors
    /// [`StoreError::Permanent`] naming the path when the file cannot be opened or is not a
    /// database, when WAL cannot be turned on, or when its schema is newer than this build's;
    /// [`StoreError::Transient`] when another connection holds a lock longer than the busy
    /// timeout.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let named = |e: StoreError| name_path(e, path);
        let conn = rusqlite::Connection::open(path).sql().map_err(named)?;
        conn.busy_timeout(options.busy_timeout)
            .sql()
            .map_err(named)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .sql()
            .map_err(named)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(named(StoreError::Permanent(format!(
                "cannot turn on WAL (journal_mode is {mode})"
            ))));
        }
        SqliteStore::set_up(conn, options, Some(path.to_owned())).map_err(named)
    }

    /// An empty database in memory, with default [`SqliteOptions`]: the same code and SQL as a
    /// file (the local runtime without `--data-dir`), gone when the store is dropped.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::in_memory_with(SqliteOptions::default())
    }

    /// An empty database in memory with `options` (`synchronous` has no effect there).
    pub fn in_memory_with(options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let conn = rusqlite::Connection::open_in_memory().sql()?;
        SqliteStore::set_up(conn, options, None)
    }

    fn set_up(
        mut conn: rusqlite::Connection,
        mut options: SqliteOptions,
        path: Option<PathBuf>,
    ) -> Result<SqliteStore, StoreError> {
        options.wake_shards = options.wake_shards.max(1);
        options.page_size = options.page_size.max(1);
        conn.pragma_update(None, "synchronous", options.synchronous.pragma())
            .sql()?;
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut conn)?;
        reshard(&mut conn, options.wake_shards)?;
        SqliteStore::from_connection(conn, options, path)
    }

    /// Wraps an open, migrated connection: the log's size limit and the checkpointer for a
    /// file (when `options` asks for one).
    pub(crate) fn from_connection(
        conn: rusqlite::Connection,
        options: SqliteOptions,
        path: Option<PathBuf>,
    ) -> Result<SqliteStore, StoreError> {
        let checkpoint_lock = Arc::new(Mutex::new(()));
        if path.is_some() && !conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            // After a checkpoint the log is reused from its start; this bounds the file.
            conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
                .sql()?;
        }
        let checkpointer = match (&path, options.checkpoint_interval) {
            (Some(path), Some(interval)) => {
                // Commits only append to the log; the checkpointer folds it into the file.
                conn.pragma_update(None, "wal_autocheckpoint", 0).sql()?;
                Some(Checkpointer::start(
                    path,
                    &options,
                    interval,
                    checkpoint_lock.clone(),
                )?)
            }
            _ => None,
        };
        Ok(SqliteStore {
            checkpointer,
            checkpoint_lock,
            db: Mutex::new(Db {
                conn,
                feed: Vec::new(),
            }),
            notify: Arc::new(Notify::new()),
            options,
            path,
        })
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        // Every change is one transaction, rolled back if a panic unwinds through it, so a
        // poisoned lock still guards a consistent database.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The database file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The options in force (with `wake_shards` and `page_size` at least 1).
    pub fn options(&self) -> &SqliteOptions {
        &self.options
    }

    // ---- the outbox feed ----------------------------------------------------------------------

    /// The non-empty outboxes committed since the last call, in commit order, with rising
    /// sequence numbers (decimal strings, the `outboxes` table's `seq`): what
    /// `MemoryStore::take_outboxes` is, and what the Players table's stream is on AWS. Perform
    /// them in this order, then [`mark_performed`](Self::mark_performed).
    pub fn take_outboxes(&self) -> Vec<OutboxRecord> {
        std::mem::take(&mut self.db().feed)
    }

    /// Signalled (`notify_one`, so a signal sent while nobody waits is kept for the next
    /// waiter) after every commit that put an outbox on the feed: the runtime's feed task loops
    /// on `notified().await` then [`take_outboxes`](Self::take_outboxes).
    pub fn feed_notify(&self) -> Arc<Notify> {
        self.notify.clone()
    }

    /// Every committed non-empty outbox not yet marked performed, in commit order: what a
    /// restart performs again (performing is idempotent). Normally each player's last one; an
    /// outbox that a later commit replaced before it was performed is still here, so a crash
    /// loses no history record. Reads only the `outboxes` table, which holds nothing but
    /// unperformed rows, so it stays cheap however many players there are.
    ///
    /// # Errors
    /// [`StoreError::Permanent`] when a row no longer decodes.
    pub fn last_outboxes(&self) -> Result<Vec<OutboxRecord>, StoreError> {
        let db = self.db();
        let mut statement = db
            .conn
            .prepare_cached("SELECT seq, player_id, version, outbox FROM outboxes ORDER BY seq")
            .sql()?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .sql()?;
        let mut records = Vec::new();
        for row in rows {
            let (seq, player_id, version, outbox) = row.sql()?;
            let outbox: Outbox = serde_json::from_str(&outbox).map_err(|e| {
                StoreError::Permanent(format!(
                    "corrupt row in the outboxes table, seq {seq} (player {player_id}): {e}"
                ))
            })?;
            records.push(OutboxRecord {
                connections: listed_ids(&db.conn, &player_id)?,
                player_id,
                version: version as u64,
                sequence_number: seq.to_string(),
                outbox,
            });
        }
        Ok(records)
    }

    /// Marks outboxes performed, by (player id, the version they were committed with): their
    /// rows leave the `outboxes` table, so [`last_outboxes`](Self::last_outboxes) no longer
    /// returns them. A pair that matches nothing (already marked, never committed) is ignored.
    /// Returns how many outboxes were marked. One transaction.
    pub fn mark_performed(&self, performed: &[(String, u64)]) -> Result<usize, StoreError> {
        let mut db = self.db();
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql()?;
        let mut marked = 0;
        {
            let mut delete = tx
                .prepare_cached("DELETE FROM outboxes WHERE player_id = ?1 AND version = ?2")
                .sql()?;
            for (player_id, version) in performed {
                let Ok(version) = i64::try_from(*version) else {
                    continue;
                };
                marked += delete.execute(params![player_id, version]).sql()?;
            }
        }
        tx.commit().sql()?;
        Ok(marked)
    }

    // ---- maintenance and inspection -----------------------------------------------------------

    /// Deletes every connection row. Sockets die with the process, so the local runtime calls
    /// this once at start, before its gateway accepts a connection. Returns how many went.
    pub fn clear_connections(&self) -> Result<usize, StoreError> {
        self.db().conn.execute("DELETE FROM connections", []).sql()
    }

    /// Moves the write-ahead log into the database file and truncates it (`PRAGMA
    /// wal_checkpoint(TRUNCATE)`), syncing both: after it, the database file alone holds every
    /// commit. Useful before measuring the file, and at a graceful stop. A no-op in memory.
    /// Blocking: it waits for the background checkpointer's round, and holds the store while it
    /// copies.
    ///
    /// # Errors
    /// [`StoreError::Transient`] when another connection (an `sqlite3` shell in a transaction)
    /// kept it from finishing for about a second.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        if self.path.is_none() {
            return Ok(());
        }
        let _round = self
            .checkpoint_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for _ in 0..50 {
            let busy: i64 = self
                .db()
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
                .sql()?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(StoreError::Transient(
            "checkpoint kept from finishing by another connection; try again".to_owned(),
        ))
    }

    /// Checkpoints ([`checkpoint`](Self::checkpoint)) and closes the connection, reporting what
    /// a plain drop would swallow. Feed entries not yet taken are dropped; their outboxes stay in
    /// the database until marked performed.
    pub fn close(mut self) -> Result<(), StoreError> {
        drop(self.checkpointer.take());
        self.checkpoint()?;
        let db = self.db.into_inner().unwrap_or_else(|e| e.into_inner());
        db.conn.close().map_err(|(_, e)| store_error(e))
    }

    /// Row counts of the tables, for inspection and measurements.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let db = self.db();
        let count = |table: &str| -> Result<u64, StoreError> {
            db.conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                    row.get::<_, i64>(0)
                })
                .sql()
                .map(|n| n as u64)
        };
        Ok(Counts {
            players: count("players")?,
            outboxes: count("outboxes")?,
            history: count("history")?,
            connections: count("connections")?,
            kept: count("kept")?,
        })
    }
}

/// How often the checkpointer folds the write-ahead log into the database file.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Bytes the write-ahead log file is truncated to after a checkpoint, at most.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// A thread with a connection of its own that checkpoints the log every
/// [`SqliteOptions::checkpoint_interval`] (`PRAGMA wal_checkpoint(PASSIVE)`: it never waits for the writer, and
/// the writer never waits for it). SQLite's automatic checkpoint would instead run inside the
/// commit that crosses 1000 pages, syncing the log and the file on the caller's thread: the 10 to
/// 20 ms outliers docs/performance.md measured before this. Dropping it stops the thread and
/// waits for it.
struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(
        path: &Path,
        options: &SqliteOptions,
        interval: Duration,
        round: Arc<Mutex<()>>,
    ) -> Result<Checkpointer, StoreError> {
        let conn = rusqlite::Connection::open(path).sql()?;
        conn.busy_timeout(options.busy_timeout).sql()?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("idle-sqlite-checkpoint".to_owned())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(interval)
                {
                    // A failed checkpoint (the disk, a shell holding a lock) loses nothing: the
                    // log keeps the commits and the next round tries again.
                    let _round = round.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|e| StoreError::Permanent(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Row counts of the tables ([`SqliteStore::counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub players: u64,
    /// Outboxes committed and not yet marked performed.
    pub outboxes: u64,
    pub history: u64,
    pub connections: u64,
    pub kept: u64,
}

fn name_path(error: StoreError, path: &Path) -> StoreError {
    let path = path.display();
    match error {
        StoreError::Conflict(m) => StoreError::Conflict(format!("{path}: {m}")),
        StoreError::Transient(m) => StoreError::Transient(format!("{path}: {m}")),
        StoreError::Permanent(m) => StoreError::Permanent(format!("{path}: {m}")),
    }
}

/// Recomputes every player's wake shard when the stored shard count is not `shards`.
fn reshard(conn: &mut rusqlite::Connection, shards: u32) -> Result<(), StoreError> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'wake_shards'",
            [],
            |row| row.get(0),
        )
        .optional()
        .sql()?;
    if stored.as_deref() == Some(shards.to_string().as_str()) {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .sql()?;
    {
        let ids: Vec<String> = tx
            .prepare("SELECT player_id FROM players")
            .sql()?
            .query_map([], |row| row.get(0))
            .sql()?
            .collect::<rusqlite::Result<_>>()
            .sql()?;
        let mut update = tx
            .prepare("UPDATE players SET wake_shard = ?2 WHERE player_id = ?1")
            .sql()?;
        for id in ids {
            update.execute(params![id, wake_shard(&id, shards)]).sql()?;
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('wake_shards', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [shards.to_string()],
    )
    .sql()?;
    tx.commit().sql()
}

/// A player's row decoded, or the permanent error naming it.
fn decode_player(id: &str, player: &str, queue: &str) -> Result<PlayerState, StoreError> {
    let corrupt = |e: serde_json::Error| {
        StoreError::Permanent(format!("corrupt row in the players table, key {id}: {e}"))
    };
    Ok(PlayerState {
        player: serde_json::from_str::<Player>(player).map_err(corrupt)?,
        queue: serde_json::from_str::<Vec<Task>>(queue).map_err(corrupt)?,
    })
}

/// A player's row, encoded before the store is locked (JSON takes longer than the write).
pub(crate) struct PlayerRow<'a> {
    id: &'a str,
    version: i64,
    wake_at: Option<Millis>,
    shard: u32,
    player: String,
    queue: String,
}

impl<'a> PlayerRow<'a> {
    pub(crate) fn of(state: &'a PlayerState, shards: u32) -> Result<PlayerRow<'a>, StoreError> {
        let id = state.player.player_id.as_str();
        Ok(PlayerRow {
            id,
            version: int(state.player.version, "version")?,
            wake_at: state.player.wake_at,
            shard: wake_shard(id, shards),
            player: to_json(&state.player, "a player")?,
            queue: to_json(&state.queue, "a queue")?,
        })
    }
}

/// Inserts a player row if absent; returns whether it did.
pub(crate) fn insert_player(
    conn: &rusqlite::Connection,
    row: &PlayerRow<'_>,
) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO players (player_id, version, wake_at, wake_shard, player, queue)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (player_id) DO NOTHING",
        )
        .sql()?
        .execute(params![
            row.id,
            row.version,
            row.wake_at,
            row.shard,
            row.player,
            row.queue,
        ])
        .sql()?;
    Ok(inserted == 1)
}

/// Appends an outbox (its JSON) to the `outboxes` table; returns its `seq`.
pub(crate) fn insert_outbox(
    conn: &rusqlite::Connection,
    player_id: &str,
    version: i64,
    outbox: &str,
) -> Result<i64, StoreError> {
    conn.prepare_cached("INSERT INTO outboxes (player_id, version, outbox) VALUES (?1, ?2, ?3)")
        .sql()?
        .execute(params![player_id, version, outbox])
        .sql()?;
    Ok(conn.last_insert_rowid())
}

/// Puts a history record if absent, kept `ttl_secs` after its task finished.
pub(crate) fn insert_history(
    conn: &rusqlite::Connection,
    task: &Task,
    ttl_secs: i64,
) -> Result<bool, StoreError> {
    let since = EpochSecs::floor_millis(task.finished_at.unwrap_or(task.enqueued_at));
    insert_if_absent(
        conn,
        INSERT_HISTORY,
        params![
            task.player_id,
            task.task_id,
            to_json(task, "a task")?,
            since.plus_secs(ttl_secs).0,
        ],
    )
}

/// Puts a row of the history table (a task or an audit record, as JSON) unless its
/// (player, task id) is there: `?1` player id, `?2` task id, `?3` JSON, `?4` `expires_at`
/// (seconds since the epoch).
pub(crate) const INSERT_HISTORY: &str =
    "INSERT INTO history (player_id, task_id, task, expires_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (player_id, task_id) DO NOTHING";

/// Runs `sql`, an `INSERT … ON CONFLICT DO NOTHING` (a cached statement), with `params`; true
/// when it inserted the row, false when the row was there already.
pub(crate) fn insert_if_absent(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<bool, StoreError> {
    let inserted = conn.prepare_cached(sql).sql()?.execute(params).sql()?;
    Ok(inserted == 1)
}

/// Keeps a notification if its (player, seq) is not kept yet.
pub(crate) fn insert_kept(
    conn: &rusqlite::Connection,
    player_id: &str,
    notification: &Notification,
    expires_at: EpochSecs,
) -> Result<bool, StoreError> {
    insert_if_absent(
        conn,
        "INSERT INTO kept (player_id, seq, notification, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (player_id, seq) DO NOTHING",
        params![
            player_id,
            int(notification.seq, "seq")?,
            to_json(notification, "a notification")?,
            expires_at.0,
        ],
    )
}

/// One page of the wake index after a cursor: a range scan of `players_wake`.
const DUE_PLAYERS: &str = "SELECT player_id, wake_at FROM players
    WHERE wake_shard = ?1 AND wake_at IS NOT NULL AND wake_at <= ?2
      AND (wake_at, player_id) > (?3, ?4)
    ORDER BY wake_at, player_id LIMIT ?5";

fn parse_wake_cursor(cursor: &str) -> Result<(Millis, String), StoreError> {
    cursor
        .split_once('|')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
        .ok_or_else(|| StoreError::Permanent(format!("not a wake index cursor: {cursor:?}")))
}

fn page<T>(items: Vec<(String, T)>, size: usize) -> Page<T> {
    // A full page names its last key, even if nothing follows (as DynamoDB and the memory store
    // do).
    let next = (items.len() >= size)
        .then(|| items.last().map(|(key, _)| key.clone()))
        .flatten();
    Page {
        items: items.into_iter().map(|(_, t)| t).collect(),
        next,
    }
}

#[async_trait]
impl GameStore for SqliteStore {
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        let db = self.db();
        let mut select = db
            .conn
            .prepare_cached("SELECT player, queue FROM players WHERE player_id = ?1")
            .sql()?;
        let mut seen = std::collections::BTreeSet::new();
        let mut loaded = Loaded::default();
        for id in player_ids.iter().filter(|id| seen.insert(id.as_str())) {
            let row: Option<(String, String)> = select
                .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .sql()?;
            if let Some((player, queue)) = row {
                match decode_player(id, &player, &queue) {
                    Ok(state) => {
                        loaded.players.push(state);
                        let listed = listed_ids(&db.conn, id)?;
                        if !listed.is_empty() {
                            loaded.connections.insert(id.clone(), listed);
                        }
                    }
                    Err(error) => loaded.unreadable.push((id.clone(), error)),
                }
            }
        }
        Ok(loaded)
    }

    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError> {
        let row = PlayerRow::of(state, self.options.wake_shards)?;
        let db = self.db();
        insert_player(&db.conn, &row)
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let id = commit.player_id();
        let row = PlayerRow::of(&commit.state, self.options.wake_shards)?;
        let outbox = (!commit.outbox.is_empty())
            .then(|| to_json(&commit.outbox, "an outbox"))
            .transpose()?;
        let expected = commit
            .expected_version
            .map(|v| int(v, "expected version"))
            .transpose()?;
        let mut db = self.db();
        let Db { conn, feed } = &mut *db;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql()?;
        let written = match expected {
            None => insert_player(&tx, &row)?,
            Some(expected) => {
                let updated = tx
                    .prepare_cached(
                        "UPDATE players SET version = ?2, wake_at = ?3, player = ?4, queue = ?5
                         WHERE player_id = ?1 AND version = ?6",
                    )
                    .sql()?
                    .execute(params![
                        id,
                        row.version,
                        row.wake_at,
                        row.player,
                        row.queue,
                        expected
                    ])
                    .sql()?;
                updated == 1
            }
        };
        if !written {
            let stored: Option<i64> = tx
                .query_row(
                    "SELECT version FROM players WHERE player_id = ?1",
                    [id],
                    |row| row.get(0),
                )
                .optional()
                .sql()?;
            // Dropping the transaction rolls it back: nothing is written.
            return Err(StoreError::Conflict(format!(
                "player {id}: version is {stored:?}, expected {:?}",
                commit.expected_version
            )));
        }
        let sequence = match &outbox {
            Some(json) => Some((
                insert_outbox(&tx, id, row.version, json)?,
                listed_ids(&tx, id)?,
            )),
            None => None,
        };
        tx.commit().sql()?;
        if let Some((sequence, connections)) = sequence {
            feed.push(OutboxRecord {
                player_id: id.to_owned(),
                version: commit.state.player.version,
                sequence_number: sequence.to_string(),
                outbox: commit.outbox.clone(),
                connections,
            });
            drop(db);
            self.notify.notify_one();
        }
        Ok(())
    }

    async fn put_history(&self, tasks: &[Task]) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql()?;
        for task in tasks {
            insert_history(&tx, task, self.options.history_ttl_secs)?;
        }
        tx.commit().sql()
    }

    async fn put_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql()?;
        for record in records {
            crate::records::insert_audit(&tx, record, self.options.history_ttl_secs)?;
        }
        tx.commit().sql()
    }

    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError> {
        let db = self.db();
        let json: Option<String> = db
            .conn
            .prepare_cached("SELECT task FROM history WHERE player_id = ?1 AND task_id = ?2")
            .sql()?
            .query_row([player_id, task_id], |row| row.get(0))
            .optional()
            .sql()?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|e| {
                StoreError::Permanent(format!(
                    "corrupt row in the history table, key ({player_id}, {task_id}): {e}"
                ))
            })
        })
        .transpose()
    }

    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        let (after_at, after_id) = match cursor.as_deref() {
            Some(cursor) => parse_wake_cursor(cursor)?,
            None => (Millis::MIN, String::new()),
        };
        let size = self.options.page_size;
        let db = self.db();
        let mut select = db.conn.prepare_cached(DUE_PLAYERS).sql()?;
        let items = select
            .query_map(
                params![shard, now, after_at, after_id, size as i64],
                |row| {
                    let id: String = row.get(0)?;
                    let at: Millis = row.get(1)?;
                    Ok((format!("{at}|{id}"), id))
                },
            )
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()?;
        Ok(page(items, size))
    }
}

const CONNECTION_COLUMNS: &str =
    "connection_id, player_id, is_admin, connected_at, token_expires_at, expires_at";

/// The `version` label of catalog JSON, for the `catalogs` table's column (0 when the text has
/// none: the store keeps text and leaves checking it to the reader).
fn catalog_version(json: &str) -> i64 {
    #[derive(serde::Deserialize)]
    struct Label {
        version: i64,
    }
    serde_json::from_str::<Label>(json).map_or(0, |label| label.version)
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn put_catalog_if_absent(&self, hash: &str, json: &str) -> Result<bool, StoreError> {
        if json.len() > CATALOG_BYTES {
            return Err(catalog_too_large(hash, json.len()));
        }
        let db = self.db();
        let inserted = db
            .conn
            .prepare_cached(
                "INSERT INTO catalogs (catalog_hash, version, catalog) VALUES (?1, ?2, ?3)
                 ON CONFLICT (catalog_hash) DO NOTHING",
            )
            .sql()?
            .execute(params![hash, catalog_version(json), json])
            .sql()?;
        Ok(inserted == 1)
    }

    async fn load_catalog(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let db = self.db();
        let json: Option<String> = db
            .conn
            .prepare_cached("SELECT catalog FROM catalogs WHERE catalog_hash = ?1")
            .sql()?
            .query_row([hash], |row| row.get(0))
            .optional()
            .sql()?;
        Ok(json)
    }
}

fn connection_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Connection> {
    Ok(Connection {
        connection_id: row.get(0)?,
        player_id: row.get(1)?,
        is_admin: row.get(2)?,
        connected_at: row.get(3)?,
        token_expires_at: row.get(4)?,
        expires_at: EpochSecs(row.get(5)?),
    })
}

/// The connection ids listed with `player_id`: in this store, the ids of its rows (the
/// `connections_player` index), in id order. A row and its listing are one row here, written
/// and deleted in one statement, so they never part as DynamoDB's row and string set can.
fn listed_ids(conn: &rusqlite::Connection, player_id: &str) -> Result<Vec<String>, StoreError> {
    let mut select = conn
        .prepare_cached(
            "SELECT connection_id FROM connections WHERE player_id = ?1 ORDER BY connection_id",
        )
        .sql()?;
    let rows = select.query_map([player_id], |row| row.get(0)).sql()?;
    rows.collect::<rusqlite::Result<_>>().sql()
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let db = self.db();
        db.conn
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO connections ({CONNECTION_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))
            .sql()?
            .execute(params![
                connection.connection_id,
                connection.player_id,
                connection.is_admin,
                connection.connected_at,
                connection.token_expires_at,
                connection.expires_at.0,
            ])
            .sql()?;
        Ok(())
    }

    async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let db = self.db();
        let found = db
            .conn
            .prepare_cached(&format!(
                "SELECT {CONNECTION_COLUMNS} FROM connections WHERE connection_id = ?1"
            ))
            .sql()?
            .query_row([connection_id], connection_row)
            .optional()
            .sql();
        found
    }

    async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        let db = self.db();
        db.conn
            .prepare_cached("DELETE FROM connections WHERE connection_id = ?1")
            .sql()?
            .execute([connection_id])
            .sql()?;
        Ok(())
    }

    async fn delete_connection_if(&self, connection: &Connection) -> Result<bool, StoreError> {
        let db = self.db();
        let deleted = db
            .conn
            .prepare_cached(
                "DELETE FROM connections WHERE connection_id = ?1 AND connected_at = ?2",
            )
            .sql()?
            .execute(params![connection.connection_id, connection.connected_at])
            .sql()?;
        Ok(deleted > 0)
    }

    /// Nothing to do: the list is the rows ([`listed_ids`]), so an id whose row is gone is not
    /// listed.
    async fn unlist_connection(
        &self,
        _player_id: &str,
        _connection_id: &str,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn player_connections(&self, player_id: &str) -> Result<Vec<Connection>, StoreError> {
        let db = self.db();
        let mut select = db
            .conn
            .prepare_cached(&format!(
                "SELECT {CONNECTION_COLUMNS} FROM connections WHERE player_id = ?1
                 ORDER BY connection_id"
            ))
            .sql()?;
        let rows = select.query_map([player_id], connection_row).sql()?;
        rows.collect::<rusqlite::Result<_>>().sql()
    }

    async fn scan_connections(
        &self,
        cursor: Option<String>,
    ) -> Result<Page<Connection>, StoreError> {
        let size = self.options.page_size;
        let db = self.db();
        let mut select = db
            .conn
            .prepare_cached(&format!(
                "SELECT {CONNECTION_COLUMNS} FROM connections WHERE connection_id > ?1
                 ORDER BY connection_id LIMIT ?2"
            ))
            .sql()?;
        let items = select
            .query_map(params![cursor.unwrap_or_default(), size as i64], |row| {
                let connection = connection_row(row)?;
                Ok((connection.connection_id.clone(), connection))
            })
            .sql()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .sql()?;
        Ok(page(items, size))
    }
}

#[async_trait]
impl Inbox for SqliteStore {
    async fn store(
        &self,
        player_id: &str,
        notifications: &[Notification],
        expires_at: EpochSecs,
    ) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql()?;
        for notification in notifications {
            insert_kept(&tx, player_id, notification, expires_at)?;
        }
        tx.commit().sql()
    }

    async fn kept_after(
        &self,
        player_id: &str,
        after_seq: u64,
        now: Millis,
        limit: usize,
    ) -> Result<Kept, StoreError> {
        let Ok(after_seq) = i64::try_from(after_seq) else {
            return Ok(Kept::default());
        };
        let db = self.db();
        let mut select = db
            .conn
            .prepare_cached(
                "SELECT seq, notification FROM kept
                 WHERE player_id = ?1 AND seq > ?2 AND expires_at > ?3
                 ORDER BY seq LIMIT ?4",
            )
            .sql()?;
        // One more than asked: whether it exists is `more`.
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
        let rows = select
            .query_map(
                params![player_id, after_seq, expiry_cutoff(now), fetch],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
            )
            .sql()?;
        let mut notifications = Vec::new();
        let mut more = false;
        for row in rows {
            let (seq, json) = row.sql()?;
            if notifications.len() == limit {
                more = true;
                break;
            }
            notifications.push(serde_json::from_str(&json).map_err(|e| {
                StoreError::Permanent(format!(
                    "corrupt row in the kept table, key ({player_id}, {seq}): {e}"
                ))
            })?);
        }
        Ok(Kept {
            notifications,
            more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synchronous_of(store: &SqliteStore) -> i64 {
        store
            .db()
            .conn
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn synchronous_is_normal_by_default_and_full_on_request() {
        let dir = std::env::temp_dir().join(format!("idle-sqlite-sync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let normal = SqliteStore::open(dir.join("normal.db")).unwrap();
        assert_eq!(synchronous_of(&normal), 1, "NORMAL");
        let full = SqliteStore::open_with(
            dir.join("full.db"),
            SqliteOptions {
                synchronous: Synchronous::Full,
                ..SqliteOptions::default()
            },
        )
        .unwrap();
        assert_eq!(synchronous_of(&full), 2, "FULL");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn plan(store: &SqliteStore, sql: &str) -> String {
        let db = store.db();
        let mut statement = db
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let count = statement.parameter_count();
        let params: Vec<i64> = vec![0; count];
        let rows = statement
            .query_map(rusqlite::params_from_iter(params), |row| {
                row.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn the_wake_index_and_the_purges_search_their_indexes_not_the_tables() {
        let store = SqliteStore::in_memory().unwrap();
        let due = plan(&store, DUE_PLAYERS);
        assert!(due.contains("INDEX players_wake"), "{due}");
        assert!(!due.contains("TEMP B-TREE"), "no sort: {due}");
        for table in ["history", "kept", "connections"] {
            let purge = plan(
                &store,
                &format!("SELECT rowid FROM {table} WHERE expires_at <= ?1 LIMIT ?2"),
            );
            assert!(purge.contains(&format!("{table}_expiry")), "{purge}");
        }
    }

    #[test]
    fn busy_and_full_disks_may_pass_other_failures_do_not() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(store_error(busy), StoreError::Transient(_)));
        let corrupt = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            None,
        );
        assert!(matches!(store_error(corrupt), StoreError::Permanent(_)));
    }
}
