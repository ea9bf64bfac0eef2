//! Ports: what the use cases need from the world. Each has a DynamoDB or API Gateway adapter
//! (crate `idle-aws`) and an in-memory adapter (`crate::memory`) with the same semantics.

use async_trait::async_trait;
use idle_core::model::{AuditRecord, EpochSecs, HistoryRecord, Millis, Task};
use idle_core::protocol::Notification;
use serde::{Deserialize, Serialize};

use crate::outbox::Commit;
use crate::state::PlayerState;

/// A store failure, by whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A condition failed: someone else changed the item first. Reload and recompute.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Throttling, a timeout, a 5xx: the same call may succeed later.
    #[error("transient store failure: {0}")]
    Transient(String),
    /// Bad data, missing permissions, a missing table: retrying will not help.
    #[error("store failure: {0}")]
    Permanent(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, StoreError::Permanent(_))
    }
}

/// DynamoDB's hard limits, which every store enforces so that a plan that would break them fails
/// in tests, not in production (DynamoDB Developer Guide, "Quotas in Amazon DynamoDB").
pub mod limits {
    /// Bytes in one item: the player's item with its queue and outbox, one history record.
    pub const ITEM_BYTES: usize = 400 * 1024;
    /// Bytes in one `@connections` post ("Quotas for configuring and running a WebSocket in API
    /// Gateway": message payload size, 128 KB).
    pub const POST_BYTES: usize = 128 * 1024;
}

/// What one [`GameStore::load_players`] call read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The players read, with their queues. Unknown ids are left out; order is not kept.
    pub players: Vec<PlayerState>,
    /// Players whose stored item exists but cannot be read (a corrupt item): the id and a
    /// [`StoreError::Permanent`] naming the table and the key. Such a player belongs to no
    /// other list and does not keep the others from being read; retrying cannot help until the
    /// item is repaired.
    pub unreadable: Vec<(String, StoreError)>,
    /// The connection ids listed with each player read ([`ConnectionStore::put_connection`]
    /// lists them, the deletes unlist them), by player id, in id order; a player with none is
    /// left out. Read in the same request as the player (DynamoDB: the `connections` string set
    /// of the Players item), so posting to a player's connections needs no query of its own.
    pub connections: std::collections::HashMap<String, Vec<String>>,
}

impl Loaded {
    /// The connection ids listed with `player_id` (empty when it has none or was not read).
    pub fn connections_of(&self, player_id: &str) -> Vec<String> {
        self.connections.get(player_id).cloned().unwrap_or_default()
    }

    /// The players read, by id.
    pub fn players_by_id(&mut self) -> std::collections::HashMap<String, PlayerState> {
        std::mem::take(&mut self.players)
            .into_iter()
            .map(|s| (s.player.player_id.clone(), s))
            .collect()
    }
}

/// One page of a paginated read; `next` is the cursor for the following page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Players (each item holding its queue and its last outbox) and the history of finished tasks.
#[async_trait]
pub trait GameStore: Send + Sync {
    /// Loads players with their queues, in as few batched reads as the store allows
    /// (DynamoDB: one BatchGetItem per 100 ids). Unknown ids are left out; order is not kept.
    ///
    /// A failure that belongs to one player (its item cannot be decoded) is reported for that
    /// player in [`Loaded::unreadable`], and the others are still returned; `Err` is for the
    /// call as a whole (throttling, a timeout, a missing table or permission).
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError>;

    /// As [`GameStore::load_players`], but the store may answer from a copy that lags the
    /// latest writes by a moment (DynamoDB: an eventually consistent read, half the read units
    /// of a strongly consistent one; DynamoDB Developer Guide, "Read consistency"). For reads
    /// whose staleness costs at most a retry: a decision written with the conditional commit
    /// fails on a stale `version` and is re-read consistently. The default is the consistent
    /// read (the embedded and in-memory stores have nothing cheaper).
    async fn load_players_relaxed(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        self.load_players(player_ids).await
    }

    /// Creates a player if none exists with its id. Returns false (and changes nothing) if one
    /// already does.
    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError>;

    /// Writes the player's item (player, queue and outbox, replacing the previous outbox) if the
    /// stored `version` is still `commit.expected_version` (or no player exists when that is
    /// `None`): one conditional write, never a transaction. A failed condition is a
    /// [`StoreError::Conflict`] and nothing is written; an item over [`limits::ITEM_BYTES`] is a
    /// [`StoreError::Permanent`].
    ///
    /// A store with a feed hands every committed non-empty outbox to it, in commit order per
    /// player (DynamoDB: the Players table's stream).
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError>;

    /// Puts finished tasks into the history, each only if no record with its key exists
    /// (outcomes are deterministic, so an existing one is the same record). Idempotent.
    async fn put_history(&self, tasks: &[Task]) -> Result<(), StoreError>;

    /// Puts admin changes' audit records into the history beside the tasks, each only if no
    /// record with its key (`player_id`, `task_id`) exists. Idempotent, as `put_history`.
    async fn put_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError>;

    /// One finished task from the history (for replay and audit).
    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError>;

    /// Ids of players due for advancing (`wake_at <= now`) in one shard of the wake index, a
    /// page at a time. A player's shard is `wake_shard(player_id, shards)`.
    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError>;
}

/// What [`PlayerRecords::erase_player`] deleted, or what [`PlayerRecords::remaining`] found,
/// in rows (items) per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerRows {
    /// The player's item (0 or 1).
    pub players: u64,
    /// History records: finished tasks and audit records.
    pub history: u64,
    /// Kept notifications, expired ones included.
    pub kept: u64,
    pub connections: u64,
    /// Outboxes committed and not yet performed (the embedded store keeps them in a table of
    /// their own; on DynamoDB the outbox is part of the player's item).
    pub outboxes: u64,
}

impl PlayerRows {
    /// Rows in every table together.
    pub fn total(&self) -> u64 {
        self.players + self.history + self.kept + self.connections + self.outboxes
    }
}

/// Everything a store holds about one player, for an operator: the whole history, and erasure
/// (a player's right to have their data deleted). Not used by the game's use cases.
#[async_trait]
pub trait PlayerRecords: Send + Sync {
    /// The player's history (finished tasks and audit records), in `task_id` order, a page at
    /// a time; expired records not yet removed are included.
    async fn history(
        &self,
        player_id: &str,
        cursor: Option<String>,
    ) -> Result<Page<HistoryRecord>, StoreError>;

    /// Deletes every row of the player in every table: its item (with queue and outbox), its
    /// history, kept notifications (expired or not), connections, and unperformed outboxes.
    /// Idempotent; a player who later connects starts fresh. Returns what was deleted.
    async fn erase_player(&self, player_id: &str) -> Result<PlayerRows, StoreError>;

    /// Counts the player's rows in every table (after an erase: all zero), reading strongly
    /// consistently where the store allows.
    async fn remaining(&self, player_id: &str) -> Result<PlayerRows, StoreError>;
}

/// The shard of a player in the wake index: FNV-1a of the id, modulo the shard count. Stable
/// across releases (it is stored).
pub fn wake_shard(player_id: &str, shards: u32) -> u32 {
    let hash = player_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash % u64::from(shards.max(1))) as u32
}

/// Most bytes of one stored catalog's JSON: DynamoDB's 400 KB item limit less 2 KB for the key
/// and the other attributes of the Catalogs item. Every [`CatalogStore`] refuses more, so the
/// stores agree. A catalog the functions serve is far smaller: its `catalog` reply must fit one
/// 128 KB `@connections` post ([`limits::POST_BYTES`]; `GameCatalog::from_file` refuses more),
/// so catalogs are stored as plain JSON, never compressed.
pub const CATALOG_BYTES: usize = limits::ITEM_BYTES - 2 * 1024;

/// Every catalog a deployment has served, by [content hash](idle_core::catalog::Catalog::content_hash)
/// (DynamoDB: the Catalogs table; SQLite: the `catalogs` table). Written once per catalog when a
/// process starts with it, read when a task recorded a hash the process does not hold (a task
/// that started before a deploy and completes after it) and by replay. Nothing is ever replaced
/// or deleted: a hash names one content forever.
///
/// The store keeps text; parsing and checking it (and that it hashes to its key) is the
/// caller's (`crate::catalogs::Catalogs`).
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Stores `json` (the catalog's canonical JSON) under `hash` unless a catalog is stored
    /// under it already. Returns true when this call stored it, false when one was there (and
    /// is kept as it is). JSON longer than [`CATALOG_BYTES`] is a [`StoreError::Permanent`]
    /// saying so, and nothing is stored.
    async fn put_catalog_if_absent(&self, hash: &str, json: &str) -> Result<bool, StoreError>;

    /// The JSON stored under `hash`, or `None` when none is (DynamoDB: a consistent read, so a
    /// catalog stored by another process a moment ago is found).
    async fn load_catalog(&self, hash: &str) -> Result<Option<String>, StoreError>;
}

/// The [`StoreError::Permanent`] of a catalog over [`CATALOG_BYTES`], the same in every store.
pub fn catalog_too_large(hash: &str, bytes: usize) -> StoreError {
    StoreError::Permanent(format!(
        "catalog {hash} is {bytes} bytes of JSON, more than the {CATALOG_BYTES} bytes a stored \
         catalog may have (DynamoDB's 400 KB item limit); a catalog that large cannot be served \
         either (its reply must fit one 128 KB WebSocket message)"
    ))
}

/// A WebSocket connection of a player.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub connection_id: String,
    pub player_id: String,
    /// From the verified token's `role` claim.
    pub is_admin: bool,
    pub connected_at: Millis,
    /// When the token it connected with expires (the JWT's `exp`, in ms): messages after it are
    /// refused `token_expired` and the connection is closed. Rows written before this field
    /// existed read as never expiring; the connection lifetime still bounds them.
    #[serde(default = "never")]
    pub token_expires_at: Millis,
    /// When the store may drop it (DynamoDB TTL, in seconds since the epoch as TTL requires):
    /// the earlier of the token's expiry and the connection lifetime.
    pub expires_at: EpochSecs,
}

fn never() -> Millis {
    Millis::MAX
}

/// How long API Gateway lets a `$connect` integration run (29 s, "Amazon API Gateway quotas
/// for configuring and running a WebSocket API"). Until `$connect` returns, a post to the new
/// connection answers 410 Gone although the client is there, so a Gone answer proves nothing
/// about a connection row younger than this.
pub const HANDSHAKE_WINDOW_MS: Millis = 29_000;

impl Connection {
    /// True when a 410 Gone for this very row means the client has left: the row is older than
    /// [`HANDSHAKE_WINDOW_MS`], so its `$connect` has finished one way or the other.
    pub fn gone_is_final(&self, now: Millis) -> bool {
        now.saturating_sub(self.connected_at) >= HANDSHAKE_WINDOW_MS
    }

    /// When the connection must go: the token's expiry or the end of its lifetime
    /// (`connection_ttl_ms` after it connected), whichever is first.
    pub fn ends_at(&self, connection_ttl_ms: Millis) -> Millis {
        self.token_expires_at
            .min(self.connected_at.saturating_add(connection_ttl_ms))
    }
}

/// Open connections: a row per connection (by id: who it is, since when, until when), and each
/// player's connection ids *listed with the player* (DynamoDB: a string set `connections` on
/// the Players item, outside the packed state and never touched by a commit), so that the
/// reads that deliver to a player — the stream's image of a commit, a wake-up's read of the
/// player — carry its connections and need no query ([`Loaded::connections`],
/// [`OutboxRecord::connections`](crate::outbox::OutboxRecord::connections)).
///
/// The row is written before the id is listed and deleted before it is unlisted, so a listed
/// id always had a row; a listed id whose row is gone (an unlist that failed) is found by the
/// 410 Gone of a post to it and unlisted then ([`ConnectionStore::unlist_connection`]).
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Puts the row (replacing one with the same id), then lists its id with its player (on
    /// DynamoDB an `UpdateItem ADD` on the Players item, which does not touch `version`, so it
    /// never fails a commit nor is failed by one; it creates an item holding only the list when
    /// the player has none yet, which every reader takes for "no player").
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError>;
    async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError>;
    /// As [`get_connection`](Self::get_connection), from a read that may lag the latest writes
    /// by a moment (DynamoDB: an eventually consistent `GetItem`, half the read units, DynamoDB
    /// Developer Guide, "Read consistency"). A row never changes once put (a connection id is
    /// new at every `$connect`), so a lagging copy is either the row or missing: callers that
    /// find nothing read again with [`get_connection`](Self::get_connection), since a row just
    /// put by `$connect` may not be in the copy yet. The default is the consistent read.
    async fn get_connection_relaxed(
        &self,
        connection_id: &str,
    ) -> Result<Option<Connection>, StoreError> {
        self.get_connection(connection_id).await
    }
    /// Deletes the row and unlists its id from its player. Deleting a connection that is not
    /// there is not an error.
    async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError>;
    /// Deletes the row only if it is still this very record (same id and `connected_at`), as
    /// read before the caller decided, and then unlists its id. Returns whether a row was
    /// deleted; a row that is gone or was replaced is left alone (and its id listed) and is not
    /// an error.
    async fn delete_connection_if(&self, connection: &Connection) -> Result<bool, StoreError>;
    /// Unlists `connection_id` from `player_id`'s connections, leaving rows alone: for a listed
    /// id whose row is gone. Unlisting an id that is not listed, or from a player that does not
    /// exist, is not an error and creates nothing.
    async fn unlist_connection(
        &self,
        player_id: &str,
        connection_id: &str,
    ) -> Result<(), StoreError>;
    /// The player's connection rows, for an operator (`idle-admin show` and `erase`); no use
    /// case calls it. DynamoDB: a `Scan` of the Connections table filtered on `player_id`
    /// (consistent; it reads the whole table, which holds only open connections).
    async fn player_connections(&self, player_id: &str) -> Result<Vec<Connection>, StoreError>;
    /// Every connection, a page at a time (for the cleaner).
    async fn scan_connections(
        &self,
        cursor: Option<String>,
    ) -> Result<Page<Connection>, StoreError>;
}

/// Kept notifications read by `sync` after a `seq`: a page, and whether more follow it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Kept {
    /// In `seq` order.
    pub notifications: Vec<Notification>,
    /// True when unexpired notifications follow the last one returned.
    pub more: bool,
}

/// Notifications kept for `sync`, by player and `seq`, until they expire. Nothing is ever
/// deleted by a read: `sync` returns what is kept after the client's `after_seq`, so two
/// devices syncing at once both get everything, and expiry (DynamoDB TTL, with readers
/// filtering expired rows) is the only way out.
#[async_trait]
pub trait Inbox: Send + Sync {
    /// Keeps notifications until `expires_at` (seconds since the epoch, as DynamoDB's TTL
    /// requires); keeping the same (player, seq) twice keeps one.
    async fn store(
        &self,
        player_id: &str,
        notifications: &[Notification],
        expires_at: EpochSecs,
    ) -> Result<(), StoreError>;
    /// Kept notifications with `seq > after_seq`, in `seq` order, at most `limit` of them,
    /// leaving out expired ones (`expires_at` compared with `now`: TTL deletion lags by up to
    /// a few days, so readers filter).
    async fn kept_after(
        &self,
        player_id: &str,
        after_seq: u64,
        now: Millis,
        limit: usize,
    ) -> Result<Kept, StoreError>;
}

/// Arms wake-ups: a precise timer that advances a player at a time (SQS with `DelaySeconds` on
/// AWS, an in-process timer in the local runtime). A wake-up may come more than once and is
/// never the only way a player is advanced: the ticker's sweep of the wake index is the safety
/// net, so a lost one costs latency, not correctness.
#[async_trait]
pub trait Waker: Send + Sync {
    /// Wakes `player_id` at `at` (ms since the epoch), not before.
    async fn arm(&self, player_id: &str, at: Millis) -> Result<(), StoreError>;

    /// Wakes `player_id` at each of `at` (ms since the epoch), none before its time: what one
    /// write arms (its task's progress updates and the next state change). The default arms
    /// them one by one, stopping at the first error; the SQS waker sends them in batches of 10
    /// (`SendMessageBatch`, one request).
    async fn arm_all(&self, player_id: &str, at: &[Millis]) -> Result<(), StoreError> {
        for &at in at {
            self.arm(player_id, at).await?;
        }
        Ok(())
    }
}

/// A wake-up as the wake queue carries it (an SQS message body, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeMessage {
    pub player_id: String,
    /// When to wake the player, in ms since the epoch.
    pub at: Millis,
}

/// Why a post to a connection failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// 410: the connection is closed; forget it.
    #[error("connection is gone")]
    Gone,
    #[error("transient delivery failure: {0}")]
    Transient(String),
    #[error("delivery failure: {0}")]
    Permanent(String),
}

/// What the gateway knows about a live connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub connected_at: Millis,
    pub last_active_at: Millis,
}

/// Pushes messages to WebSocket connections (API Gateway's `@connections` API).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PostError>;
    /// The gateway's view of a connection; `Err(PostError::Gone)` if it is closed.
    async fn connection_info(&self, connection_id: &str) -> Result<ConnectionInfo, PostError>;
    /// Closes a connection; a gone one is not an error.
    async fn close(&self, connection_id: &str) -> Result<(), PostError>;
}

/// Server time. The only clock the use cases read.
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_shards_are_stable_and_in_range() {
        assert_eq!(wake_shard("player-1", 8), wake_shard("player-1", 8));
        assert!((0..100).all(|i| wake_shard(&format!("p{i}"), 8) < 8));
        assert_eq!(wake_shard("anything", 0), 0);
        // Pinned: the shard is stored, so the hash must never change. Checked independently
        // with a Python FNV-1a: 2390882504191154866 % 1000003 = 160171.
        assert_eq!(wake_shard("player-1", 1_000_003), 160_171);
    }
}
