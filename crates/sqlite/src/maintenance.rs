//! Retention, backup and the one-off import of the old JSON data file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use idle_app::memory::StoreSnapshot;
use idle_app::ports::StoreError;
use idle_app::state::PlayerState;
use idle_core::model::Millis;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use crate::store::{
    expiry_cutoff, insert_history, insert_kept, insert_outbox, insert_player, int, to_json,
    PlayerRow, Sql, SqliteOptions, SqliteStore,
};

/// Rows [`SqliteStore::purge_expired`] deletes per table and call, so one call holds the store
/// for milliseconds, not seconds, however much has expired.
pub const PURGE_BATCH: usize = 1000;

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// History records past their `expires_at`.
    pub history: usize,
    /// Kept notifications past their `expires_at`.
    pub kept: usize,
    /// Connection rows past their `expires_at`.
    pub connections: usize,
    /// True when some table reached the call's limit: more may have expired; call again.
    pub more: bool,
}

/// What [`SqliteStore::import_store_json`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Import {
    /// No file at the path: nothing to do.
    NoFile,
    /// The file was imported and renamed; the rows written.
    Imported {
        players: usize,
        history: usize,
        kept: usize,
        /// Players' non-empty outboxes, now returned by `last_outboxes` to be performed again.
        outboxes: usize,
    },
    /// The database had already imported it (a crash came between the import and the rename):
    /// it was only renamed.
    AlreadyImported,
}

/// The database file's name in a data directory ([`SqliteStore::start_in`]).
pub const DATABASE_FILE: &str = "idle.db";
/// The old JSON data file's name in a data directory, imported once by
/// [`SqliteStore::start_in`].
pub const JSON_DATA_FILE: &str = "store.json";

/// The meta key recording that `store.json` was imported.
const IMPORTED: &str = "imported_store_json";

impl SqliteStore {
    /// Opens the store of a data directory the way the local runtime starts: the database
    /// `dir/`[`DATABASE_FILE`] (created with `dir` if missing), the old `dir/`[`JSON_DATA_FILE`]
    /// imported if there ([`import_store_json`](Self::import_store_json)), and connection rows
    /// left by the previous process cleared (their sockets died with it). The caller holds the
    /// directory's lock first. Then perform [`last_outboxes`](Self::last_outboxes) again.
    ///
    /// # Errors
    /// As [`open_with`](Self::open_with) and [`import_store_json`](Self::import_store_json);
    /// [`StoreError::Permanent`] naming `dir` when it cannot be created.
    pub fn start_in(
        dir: &Path,
        options: SqliteOptions,
    ) -> Result<(SqliteStore, Import), StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Permanent(format!("{}: {e}", dir.display())))?;
        let store = SqliteStore::open_with(dir.join(DATABASE_FILE), options)?;
        let import = store.import_store_json(dir.join(JSON_DATA_FILE))?;
        store.clear_connections()?;
        Ok((store, import))
    }

    /// Deletes history records, kept notifications and connection rows whose `expires_at`
    /// (seconds since the epoch) has passed at `now` (ms since the epoch), at most
    /// [`PURGE_BATCH`] of each, in one transaction. Reads already leave expired kept
    /// notifications out; this only frees the space. Call it on a timer (every minute is
    /// plenty), again at once while [`Purged::more`].
    pub fn purge_expired(&self, now: Millis) -> Result<Purged, StoreError> {
        self.purge_expired_at_most(now, PURGE_BATCH)
    }

    /// [`purge_expired`](Self::purge_expired) with at most `limit` rows per table.
    pub fn purge_expired_at_most(&self, now: Millis, limit: usize) -> Result<Purged, StoreError> {
        let cutoff = expiry_cutoff(now);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut db = self.db();
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql()?;
        let purge = |table: &str| -> Result<usize, StoreError> {
            tx.prepare_cached(&format!(
                "DELETE FROM {table} WHERE rowid IN
                 (SELECT rowid FROM {table} WHERE expires_at <= ?1 LIMIT ?2)"
            ))
            .sql()?
            .execute(params![cutoff, limit])
            .sql()
        };
        let purged = Purged {
            history: purge("history")?,
            kept: purge("kept")?,
            connections: purge("connections")?,
            more: false,
        };
        tx.commit().sql()?;
        let full = |n: usize| n as i64 >= limit;
        Ok(Purged {
            more: full(purged.history) || full(purged.kept) || full(purged.connections),
            ..purged
        })
    }

    /// Writes a consistent copy of the whole database to `path` (replacing what a database
    /// there holds) with SQLite's online backup API, in one step: the copy is the database as of
    /// one instant, and opens as an ordinary database (`SqliteStore::open`, `sqlite3`).
    ///
    /// For a file, the copy is read through a second connection in one read transaction, so
    /// commits go on meanwhile (WAL readers do not block the writer) and are not in the copy. An
    /// in-memory store is copied through its own connection, holding the store for the copy.
    /// Blocking file I/O: from async code, call it in `spawn_blocking`.
    ///
    /// # Errors
    /// [`StoreError::Permanent`] naming `path` when it cannot be written; [`StoreError::Transient`]
    /// when the source stayed locked (a checkpoint, an `sqlite3` shell writing).
    pub fn backup_to(&self, path: impl AsRef<Path>) -> Result<(), StoreError> {
        let path = path.as_ref();
        let named = |e: StoreError| match e {
            StoreError::Permanent(m) => {
                StoreError::Permanent(format!("backup to {}: {m}", path.display()))
            }
            StoreError::Transient(m) => {
                StoreError::Transient(format!("backup to {}: {m}", path.display()))
            }
            other => other,
        };
        let mut dst = rusqlite::Connection::open(path).sql().map_err(named)?;
        match &self.path {
            Some(source) => {
                let src = rusqlite::Connection::open(source).sql().map_err(named)?;
                src.busy_timeout(self.options.busy_timeout)
                    .sql()
                    .map_err(named)?;
                copy(&src, &mut dst).map_err(named)
            }
            None => {
                let db = self.db();
                copy(&db.conn, &mut dst).map_err(named)
            }
        }
    }

    /// Imports the old data directory's JSON file (`DIR/store.json`: the local runtime's
    /// `{"format": 1, "store": StoreSnapshot}`, or a bare `idle_app::memory::StoreSnapshot`)
    /// into this database, once, then renames it to `store.json.imported` (the path with
    /// `.imported` appended) so the next start does not import it again.
    ///
    /// Players keep their versions and queues; a player's non-empty outbox goes to the
    /// `outboxes` table (so [`last_outboxes`](Self::last_outboxes) performs it again, as the
    /// JSON runtime did at start); history records get `expires_at` from the history TTL; kept
    /// notifications keep theirs. One transaction, recorded in the `meta` table, and
    /// checkpointed before the rename: a crash before the rename leaves the file to be renamed
    /// at the next call ([`Import::AlreadyImported`]), never imported twice.
    ///
    /// # Errors
    /// [`StoreError::Permanent`] naming the file when it cannot be read or parsed or has another
    /// format, and when the database already holds players, history or kept notifications that
    /// did not come from it (importing would mix two states): move one of them away first.
    pub fn import_store_json(&self, path: impl AsRef<Path>) -> Result<Import, StoreError> {
        let path = path.as_ref();
        let bad = |m: String| StoreError::Permanent(format!("{}: {m}", path.display()));
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Import::NoFile),
            Err(e) => return Err(bad(e.to_string())),
        };
        let outcome = if self.imported()? {
            Import::AlreadyImported
        } else {
            let snapshot = parse_store_json(&text).map_err(bad)?;
            self.import(snapshot, path).map_err(|e| match e {
                StoreError::Permanent(m) => bad(m),
                other => other,
            })?
        };
        // On disk before the file goes: with synchronous=NORMAL a commit is synced only at a
        // checkpoint.
        self.checkpoint()?;
        std::fs::rename(path, imported_path(path))
            .map_err(|e| bad(format!("imported, but cannot rename it: {e}")))?;
        Ok(outcome)
    }

    fn imported(&self) -> Result<bool, StoreError> {
        let db = self.db();
        let found: Option<String> = db
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [IMPORTED], |row| {
                row.get(0)
            })
            .optional()
            .sql()?;
        Ok(found.is_some())
    }

    fn import(&self, snapshot: StoreSnapshot, path: &Path) -> Result<Import, StoreError> {
        let mut db = self.db();
        let tx = db
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql()?;
        let holds: i64 = tx
            .query_row(
                "SELECT (SELECT count(*) FROM players) + (SELECT count(*) FROM history)
                      + (SELECT count(*) FROM kept)",
                [],
                |row| row.get(0),
            )
            .sql()?;
        if holds > 0 {
            return Err(StoreError::Permanent(format!(
                "not imported: the database already holds {holds} rows of players, history \
                 or kept notifications"
            )));
        }
        let (mut players, mut history, mut kept, mut outboxes) = (0, 0, 0, 0);
        for p in snapshot.players {
            let state = PlayerState {
                player: p.player,
                queue: p.queue,
            };
            let row = PlayerRow::of(&state, self.options.wake_shards)?;
            if insert_player(&tx, &row)? {
                players += 1;
                if !p.outbox.is_empty() {
                    let version = int(state.player.version, "version")?;
                    let json = to_json(&p.outbox, "an outbox")?;
                    insert_outbox(&tx, &state.player.player_id, version, &json)?;
                    outboxes += 1;
                }
            }
        }
        for task in &snapshot.history {
            history += usize::from(insert_history(&tx, task, self.options.history_ttl_secs)?);
        }
        for row in &snapshot.inbox {
            kept += usize::from(insert_kept(
                &tx,
                &row.player_id,
                &row.notification,
                row.expires_at,
            )?);
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![IMPORTED, path.display().to_string()],
        )
        .sql()?;
        tx.commit().sql()?;
        Ok(Import::Imported {
            players,
            history,
            kept,
            outboxes,
        })
    }
}

/// `path` with `.imported` appended: `store.json` → `store.json.imported`.
pub fn imported_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".imported");
    PathBuf::from(name)
}

/// The JSON runtime's data file (`{"format": 1, "store": ...}`) or a bare snapshot.
fn parse_store_json(text: &str) -> Result<StoreSnapshot, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let store = match value.get("format") {
        Some(format) => {
            if format.as_u64() != Some(1) {
                return Err(format!("data file format {format} is not 1"));
            }
            value
                .get("store")
                .cloned()
                .ok_or("a data file without `store`")?
        }
        None => value,
    };
    serde_json::from_value(store).map_err(|e| format!("not a store snapshot: {e}"))
}

/// Copies `src` into `dst` in one backup step (one read transaction on the source), retrying
/// a while if the source is locked.
fn copy(src: &rusqlite::Connection, dst: &mut rusqlite::Connection) -> Result<(), StoreError> {
    let backup = Backup::new(src, dst).sql()?;
    for _ in 0..250 {
        match backup.step(-1).sql()? {
            StepResult::Done => return Ok(()),
            // -1 copies every page in this step, so `More` does not come; looping is harmless.
            StepResult::More => {}
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    Err(StoreError::Transient(
        "the source database stayed locked for 5 s".to_owned(),
    ))
}
