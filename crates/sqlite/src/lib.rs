//! The embedded store of the idle-game backend (DESIGN.md sections 9 and 12): the ports
//! [`GameStore`](idle_app::ports::GameStore), [`ConnectionStore`](idle_app::ports::ConnectionStore),
//! [`Inbox`](idle_app::ports::Inbox) and [`CatalogStore`](idle_app::ports::CatalogStore) over SQLite, and the outbox feed the local runtime
//! performs, with the memory store's semantics.
//!
//! ```no_run
//! # async fn run() -> Result<(), idle_app::ports::StoreError> {
//! use idle_sqlite::SqliteStore;
//! // With the data directory's lock held: DIR/idle.db, DIR/store.json imported once, stale
//! // connection rows cleared. Without a data directory: SqliteStore::in_memory()?.
//! let (store, _import) = SqliteStore::start_in("data".as_ref(), Default::default())?;
//! for record in store.last_outboxes()? { /* perform again after a restart, then mark */ }
//! let feed = store.feed_notify();
//! loop {
//!     feed.notified().await;
//!     let records = store.take_outboxes(); // perform in order, then:
//!     let done: Vec<(String, u64)> =
//!         records.iter().map(|r| (r.player_id.clone(), r.version)).collect();
//!     store.mark_performed(&done)?;
//! }
//! # }
//! ```
//!
//! # The database
//!
//! One file (plus its `-wal` and `-shm` while open), readable with the `sqlite3` shell at any
//! time (WAL: readers never block the writer). Schema version in `PRAGMA user_version`
//! ([`SCHEMA_VERSION`]), raised by ordered migrations at open. Tables (see `schema.rs`):
//!
//! | table | key | holds |
//! | --- | --- | --- |
//! | `players` | `player_id` | `version`, `wake_at` (ms), `wake_shard`, `player` and `queue` as JSON |
//! | `outboxes` | `seq` (commit order) | `player_id`, `version`, `outbox` JSON: committed, not yet performed |
//! | `history` | (`player_id`, `task_id`) | `task` JSON, `expires_at` (s) |
//! | `connections` | `connection_id` | `player_id`, `is_admin`, `connected_at` (ms), `token_expires_at` (ms), `expires_at` (s) |
//! | `kept` | (`player_id`, `seq`) | `notification` JSON, `expires_at` (s) |
//! | `catalogs` | `catalog_hash` | `version` (the label), `catalog` (canonical JSON): every catalog served, put if absent |
//! | `meta` | `key` | `wake_shards`, `imported_store_json` |
//!
//! Indexes: `players_wake (wake_shard, wake_at, player_id) WHERE wake_at IS NOT NULL` (the sparse
//! wake index), `outboxes_player`, `connections_player`, and `expires_at` on `history`, `kept` and
//! `connections` for [`SqliteStore::purge_expired`].
//!
//! # Semantics, and where they differ from the memory store
//!
//! - `commit` is one `IMMEDIATE` transaction: a conditional `UPDATE ... WHERE version = ?` (or an
//!   insert if absent), plus the outbox row when the outbox is not empty. A failed condition is
//!   [`StoreError::Conflict`](idle_app::ports::StoreError::Conflict) and nothing is written.
//!   DynamoDB's item size limit is not emulated (DESIGN.md section 12 allows it).
//! - The outbox is not a column of `players` but a row of `outboxes`, deleted when performed. So
//!   an outbox a later commit replaced before it was performed is not lost at a crash (the memory
//!   store and the DynamoDB item keep only the last; DynamoDB's stream keeps the rest), and
//!   [`SqliteStore::last_outboxes`] reads a table of unperformed rows only, cheap at any size.
//! - Connections are rows like the rest; sockets die with the process, so the runtime clears
//!   them at start ([`SqliteStore::clear_connections`]).
//!
//! # Durability
//!
//! WAL journal. [`Synchronous::Normal`] (the default): a committed change survives a crash of the
//! process; a power loss may roll back the last commits before a checkpoint. [`Synchronous::Full`]
//! syncs every commit (power-loss durable, one fsync per commit).
//!
//! # Why calls run inline, under one mutex, on one connection
//!
//! rusqlite is blocking. Measured with 100,000 players on disk (docs/performance.md, "The
//! embedded store at 100,000 players"): a commit takes 0.05-0.08 ms and a whole enqueue-like write
//! (load, commit, history) 0.10-0.15 ms at the median. Handing each call to
//! `tokio::task::spawn_blocking` would add 5-7 µs and force every call's data into a `'static`
//! closure, so calls run inline on the async caller's thread. One connection serialises writers
//! as SQLite does anyway (one writer at a time) and keeps the in-memory database and the file on
//! one code path (an in-memory database is private to its connection). The one thing SQLite
//! would do on the caller's thread beyond the write, the automatic checkpoint (syncing log and
//! file inside the commit that crosses 1000 pages), runs on a background connection instead
//! ([`SqliteOptions::checkpoint_interval`]), which also doubled sustained write throughput.
//! With [`Synchronous::Full`] every commit waits for an fsync (0.5 ms and up on the machine
//! measured): the case where offloading would pay. Blocking by nature, and documented so:
//! [`SqliteStore::backup_to`], [`SqliteStore::import_store_json`], [`SqliteStore::checkpoint`],
//! [`SqliteStore::close`], [`SqliteStore::start_in`] — call them from `spawn_blocking` or before
//! the runtime serves.

mod maintenance;
mod records;
mod schema;
mod store;

pub use maintenance::{imported_path, Import, Purged, PURGE_BATCH};
pub use maintenance::{DATABASE_FILE, JSON_DATA_FILE};
pub use schema::SCHEMA_VERSION;
pub use store::{
    Counts, SqliteOptions, SqliteStore, Synchronous, CHECKPOINT_INTERVAL, DEFAULT_HISTORY_TTL_SECS,
    DEFAULT_PAGE_SIZE, DEFAULT_WAKE_SHARDS,
};
