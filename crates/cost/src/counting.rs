//! A counting adapter: the in-memory store behind the ports, counting the DynamoDB requests and
//! capacity units the DynamoDB adapter (`idle-aws`) would spend on each call, with item sizes
//! from its real item encoding.
//!
//! Mirrors `idle_aws::DynamoStore` call for call: `load_players` is one `BatchGetItem` per 100
//! ids (strongly consistent, 1 RCU per 4 KB per item, the item with its `connections` set);
//! `commit` and `create_player` one conditional `UpdateItem` of the player item with its outbox
//! (DESIGN.md section 12; 1 WCU per KB of the larger of the item before and after, billed also
//! when the condition fails); `put_history` one conditional `PutItem` per finished task (billed
//! whether or not the record was there); `put_connection` a `PutItem` of the row and an
//! `UpdateItem ADD` of its id to the player's set; the deletes a `DeleteItem` of the row and, when
//! one was deleted, an `UpdateItem DELETE` of its id; `unlist_connection` that `UpdateItem`;
//! `due_players` a `Query` of the `wake` index (eventually consistent: half a unit per 4 KB of the
//! page); `player_connections` a consistent `Scan` of the Connections table; the inbox `Query`
//! (consistent) and `BatchWriteItem`s of 25. Index writes (the Players `wake` index, KEYS_ONLY)
//! are counted apart, as `index_wcu`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use idle_app::memory::MemoryStore;
use idle_app::outbox::{Commit, Outbox};
use idle_app::ports::{
    Connection, ConnectionStore, GameStore, Inbox, Kept, Loaded, Page, StoreError,
};
use idle_app::state::PlayerState;
use idle_aws::{connection_item, notification_item, packed_item, task_item, wake_bucket, Layout};
use idle_core::lifecycle::TransitionKind;
use idle_core::model::{EpochSecs, Millis, Task, TaskStatus};
use idle_core::protocol::Notification;

use idle_aws::item_size;

use crate::size::{read_units, write_units};

/// Requests and capacity of one request kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub requests: u64,
    pub wcu: u64,
    /// Read units (halves for eventually consistent reads).
    pub rcu: f64,
    /// Requests that read with `ConsistentRead` (the rest of a read kind's are eventually
    /// consistent).
    pub consistent: u64,
}

/// What a write unit was spent on: every cause the workload is billed for.
pub const CAUSES: [&str; 7] = [
    PLAYER_WRITES,
    FAILED_CONDITIONAL,
    HISTORY,
    KEPT,
    CONNECTIONS,
    CONNECTION_LISTS,
    WAKE_INDEX,
];
/// Committed writes of the player item (commits and created players).
pub const PLAYER_WRITES: &str = "player writes";
/// Conditional writes whose condition failed (billed all the same).
pub const FAILED_CONDITIONAL: &str = "failed conditional";
/// History records put in Tasks.
pub const HISTORY: &str = "history";
/// Notifications kept in the Notifications table.
pub const KEPT: &str = "kept notifications";
/// Connection rows put and deleted.
pub const CONNECTIONS: &str = "connections";
/// The Players `wake` index (KEYS_ONLY): an entry put or deleted when the key moves.
pub const WAKE_INDEX: &str = "index: wake";
/// A connection's id added to or deleted from its player's `connections` set (an `UpdateItem` of
/// the Players item, billed by the item's size).
pub const CONNECTION_LISTS: &str = "connection lists";

/// How the modelled adapter stores things: the adapter's own layout, with the variants a flag
/// can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    /// The `wake` index keyed by the wake time rounded up to this many ms (the adapter's
    /// default, [`idle_aws::DEFAULT_WAKE_BUCKET_MS`]; 1: the exact wake time).
    pub wake_bucket_ms: Millis,
    /// Keep every durable notification, delivered or not (the workload counts them with
    /// [`CountingStore::count_kept_too`]); otherwise only those no connection received.
    pub keep_all: bool,
}

impl Default for Model {
    /// What the adapter does with its defaults.
    fn default() -> Self {
        Model {
            wake_bucket_ms: idle_aws::DEFAULT_WAKE_BUCKET_MS,
            keep_all: false,
        }
    }
}

/// Everything counted so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Request kind (`BatchGetItem`, `PutItem`, …) → usage, index writes not included.
    pub by_kind: BTreeMap<&'static str, Usage>,
    /// Write units by cause ([`CAUSES`]), index writes included.
    pub wcu_by_cause: BTreeMap<&'static str, u64>,
    /// Write units of index updates.
    pub index_wcu: u64,
    /// Task transitions of the writes committed, by kind: `Enqueued` for task ids new to the
    /// player's item, and the final kinds from the outbox's history records (what the
    /// per-task figures divide by).
    pub transitions: BTreeMap<TransitionKind, u64>,
}

impl Counters {
    /// Totals over every kind.
    pub fn total(&self) -> Usage {
        self.by_kind.values().fold(Usage::default(), |a, u| Usage {
            requests: a.requests + u.requests,
            wcu: a.wcu + u.wcu,
            rcu: a.rcu + u.rcu,
            consistent: a.consistent + u.consistent,
        })
    }

    /// Write units of every cause, index writes included.
    pub fn all_wcu(&self) -> u64 {
        self.wcu_by_cause.values().sum()
    }

    /// Write units of one cause.
    pub fn wcu(&self, cause: &str) -> u64 {
        self.wcu_by_cause.get(cause).copied().unwrap_or(0)
    }

    /// Requests of one kind.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn requests(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).map_or(0, |u| u.requests)
    }

    /// Committed transitions of one kind.
    pub fn transitions(&self, kind: TransitionKind) -> u64 {
        self.transitions.get(&kind).copied().unwrap_or(0)
    }
}

/// A port call as the counting store saw it, to replay against the real adapter
/// (the model-vs-moto check).
#[derive(Debug, Clone)]
pub enum Call {
    LoadPlayers(Vec<String>),
    LoadPlayersRelaxed(Vec<String>),
    CreatePlayer(Box<PlayerState>),
    Commit(Box<Commit>),
    PutHistory(Vec<Task>),
    LoadTask(String, String),
    DuePlayers(u32, Millis, Option<String>),
    PutConnection(Connection),
    GetConnection(String),
    GetConnectionRelaxed(String),
    DeleteConnection(String),
    DeleteConnectionIf(Connection),
    UnlistConnection(String, String),
    PlayerConnections(String),
    ScanConnections(Option<String>),
    Store(String, Vec<Notification>, EpochSecs),
    KeptAfter(String, u64, Millis, usize),
}

impl Call {
    /// Makes the same call on `store`.
    pub async fn replay<S>(&self, store: &S) -> Result<(), StoreError>
    where
        S: GameStore + ConnectionStore + Inbox,
    {
        match self {
            Call::LoadPlayers(ids) => store.load_players(ids).await.map(drop),
            Call::LoadPlayersRelaxed(ids) => store.load_players_relaxed(ids).await.map(drop),
            Call::CreatePlayer(state) => store.create_player(state).await.map(drop),
            Call::Commit(commit) => store.commit(commit).await,
            Call::PutHistory(tasks) => store.put_history(tasks).await,
            Call::LoadTask(p, t) => store.load_task(p, t).await.map(drop),
            Call::DuePlayers(shard, now, cursor) => store
                .due_players(*shard, *now, cursor.clone())
                .await
                .map(drop),
            Call::PutConnection(c) => store.put_connection(c).await,
            Call::GetConnection(id) => store.get_connection(id).await.map(drop),
            Call::GetConnectionRelaxed(id) => store.get_connection_relaxed(id).await.map(drop),
            Call::DeleteConnection(id) => store.delete_connection(id).await,
            Call::DeleteConnectionIf(c) => store.delete_connection_if(c).await.map(drop),
            Call::UnlistConnection(p, c) => store.unlist_connection(p, c).await,
            Call::PlayerConnections(p) => store.player_connections(p).await.map(drop),
            Call::ScanConnections(cursor) => store.scan_connections(cursor.clone()).await.map(drop),
            Call::Store(p, n, at) => Inbox::store(store, p, n, *at).await,
            Call::KeptAfter(p, after, now, limit) => {
                store.kept_after(p, *after, *now, *limit).await.map(drop)
            }
        }
    }
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<Call>,
    counters: Counters,
    /// Bytes of each player's stored item as last written by a player write (its outbox
    /// included: a read returns it too; its `connections` set not included, see
    /// [`CountingStore::stored_bytes`]).
    stored: std::collections::HashMap<String, usize>,
    /// Players whose stored item carries the `outbox` marker.
    marked: std::collections::HashSet<String>,
}

/// Bytes of the `outbox` marker (`outbox`, N 1), which a connection's update removes.
const MARKER_BYTES: usize = "outbox".len() + 2;
/// Bytes of an item that holds only the key (`player_id`, ~12 B): what a connection's `ADD`
/// makes before the player's first write.
const KEY_ONLY_BYTES: usize = "player_id".len() + 12;

/// The in-memory store, counted as DynamoDB.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<MemoryStore>,
    shards: u32,
    model: Model,
    /// Whether [`CountingStore::calls`] keeps every call (the model-vs-moto check); off for
    /// large runs, where the log would hold a copy of every write.
    log_calls: bool,
    state: Mutex<State>,
}

const BATCH_GET_LIMIT: usize = 100;
const BATCH_WRITE_LIMIT: usize = 25;
/// Size of a KEYS_ONLY `wake` index entry: `player_id` (~12 B), `wake_shard`, `wake_bucket`.
const WAKE_ENTRY_BYTES: usize = 9 + 12 + 10 + 2 + 11 + 8;

impl CountingStore {
    /// Counts calls to `inner`, whose wake index has `shards` shards.
    pub fn new(inner: Arc<MemoryStore>, shards: u32, model: Model) -> CountingStore {
        CountingStore {
            inner,
            shards,
            model,
            log_calls: true,
            state: Mutex::new(State::default()),
        }
    }

    /// The same store, counting without keeping the calls ([`CountingStore::calls`] is empty).
    pub fn without_call_log(mut self) -> CountingStore {
        self.log_calls = false;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every port call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    fn log(&self, call: Call) {
        if self.log_calls {
            self.lock().calls.push(call);
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.lock().counters.clone()
    }

    fn count(&self, kind: &'static str, wcu: u64, rcu: f64) {
        let mut state = self.lock();
        let usage = state.counters.by_kind.entry(kind).or_default();
        usage.requests += 1;
        usage.wcu += wcu;
        usage.rcu += rcu;
    }

    /// One read request of `kind`: `units` read units, halved unless `consistent`.
    fn read(&self, kind: &'static str, units: f64, consistent: bool) {
        self.count(kind, 0, if consistent { units } else { units / 2.0 });
        if consistent {
            let mut state = self.lock();
            state.counters.by_kind.entry(kind).or_default().consistent += 1;
        }
    }

    /// One write request of `kind`, its units spent on `cause`.
    fn write(&self, kind: &'static str, cause: &'static str, wcu: u64) {
        self.count(kind, wcu, 0.0);
        *self.lock().counters.wcu_by_cause.entry(cause).or_insert(0) += wcu;
    }

    fn index(&self, cause: &'static str, wcu: u64) {
        let mut state = self.lock();
        state.counters.index_wcu += wcu;
        *state.counters.wcu_by_cause.entry(cause).or_insert(0) += wcu;
    }

    fn layout(&self) -> Layout {
        Layout {
            wake_shards: self.shards,
            wake_bucket_ms: self.model.wake_bucket_ms,
        }
    }

    /// Bytes of the player's item as the adapter writes it ([`packed_item`]: the packed state
    /// and outbox, the keys, the marker and the index attributes).
    fn item_bytes(&self, state: &PlayerState, outbox: &Outbox) -> usize {
        packed_item(state, outbox, self.layout()).map_or(0, |i| item_size(&i))
    }

    fn player_bytes(&self, state: &PlayerState) -> usize {
        self.item_bytes(state, &Outbox::default())
    }

    /// Bytes of the player's item as stored: as last written through this store, else the
    /// item without an outbox; plus its `connections` set.
    fn stored_bytes(&self, state: &PlayerState) -> usize {
        let id = &state.player.player_id;
        let known = self.lock().stored.get(id).copied();
        known.unwrap_or_else(|| self.player_bytes(state)) + self.listed_bytes(id)
    }

    /// Bytes of the player's `connections` set as stored.
    fn listed_bytes(&self, player_id: &str) -> usize {
        idle_aws::connections_size(&self.inner.listed(player_id))
    }

    /// Bytes of the player's item without its `connections` set: as last written, or the stored
    /// player's item, or only the key when there is no player (yet).
    fn bare_bytes(&self, player_id: &str) -> usize {
        let known = self.lock().stored.get(player_id).copied();
        known.unwrap_or_else(|| {
            self.inner
                .player(player_id)
                .map_or(KEY_ONLY_BYTES, |s| self.player_bytes(&s))
        })
    }

    /// One `UpdateItem` of the player's `connections` set (ADD or DELETE, removing the
    /// `outbox` marker), its units on `cause`: billed by the larger of the item before and after
    /// (`listed_before` and the set now), at least one unit.
    fn count_list_update(&self, player_id: &str, listed_before: usize, cause: &'static str) {
        let bare = self.bare_bytes(player_id);
        let before = bare + listed_before;
        let after = bare + self.listed_bytes(player_id);
        self.write("UpdateItem", cause, write_units(before.max(after)));
        // The update removed the marker of the last write, if it had one.
        let mut state = self.lock();
        if state.marked.remove(player_id) {
            if let Some(bytes) = state.stored.get_mut(player_id) {
                *bytes = bytes.saturating_sub(MARKER_BYTES);
            }
        }
    }

    fn remember(&self, player_id: &str, bytes: usize, marked: bool) {
        let mut state = self.lock();
        state.stored.insert(player_id.to_owned(), bytes);
        if marked {
            state.marked.insert(player_id.to_owned());
        } else {
            state.marked.remove(player_id);
        }
    }

    /// The `wake` index key of a wake time, as the adapter writes it.
    fn wake_key(&self, at: Option<Millis>) -> Option<Millis> {
        at.map(|at| wake_bucket(at, self.model.wake_bucket_ms))
    }

    /// Index writes of a player put: the sparse KEYS_ONLY `wake` index changes only when its
    /// key does (appears, disappears: one write; moves: a delete and a put).
    fn wake_index_writes(&self, before: Option<Millis>, after: Option<Millis>) -> u64 {
        match (self.wake_key(before), self.wake_key(after)) {
            (None, None) => 0,
            (Some(a), Some(b)) if a == b => 0,
            (Some(_), Some(_)) => 2,
            _ => 1,
        }
    }

    /// `BatchGetItem`s of 100 distinct ids, each item billed by its stored size (an unreadable
    /// one too: DynamoDB returns it, the adapter fails to decode it), a key without an item the
    /// minimum.
    async fn count_load(
        &self,
        player_ids: &[String],
        consistent: bool,
    ) -> Result<Loaded, StoreError> {
        let found = self.inner.load_players(player_ids).await?;
        let mut distinct = player_ids.to_vec();
        distinct.sort();
        distinct.dedup();
        for chunk in distinct.chunks(BATCH_GET_LIMIT) {
            let readable: u64 = found
                .players
                .iter()
                .filter(|s| chunk.contains(&s.player.player_id))
                .map(|s| read_units(self.stored_bytes(s)))
                .sum();
            let unreadable: u64 = found
                .unreadable
                .iter()
                .filter(|(id, _)| chunk.contains(id))
                .filter_map(|(id, _)| self.inner.player(id))
                .map(|s| read_units(self.stored_bytes(&s)))
                .sum();
            // A key with no item is billed the minimum read all the same (DynamoDB API
            // Reference, "BatchGetItem": requests for nonexistent items consume the minimum
            // read capacity units for the type of read).
            let missing = chunk
                .iter()
                .filter(|id| {
                    !found.players.iter().any(|s| s.player.player_id == **id)
                        && !found.unreadable.iter().any(|(u, _)| u == *id)
                })
                .count() as u64;
            let units = (readable + unreadable + missing) as f64;
            self.read("BatchGetItem", units, consistent);
        }
        Ok(found)
    }

    /// Notifications kept under keep-all delivery: every durable one, delivered or not (a
    /// variant: the delivery stores only those no connection received).
    pub fn count_kept_too(
        &self,
        player_id: &str,
        notifications: &[Notification],
        expires_at: EpochSecs,
    ) {
        self.count_store(player_id, notifications, expires_at);
    }

    fn count_store(&self, player_id: &str, notifications: &[Notification], expires_at: EpochSecs) {
        for chunk in notifications.chunks(BATCH_WRITE_LIMIT) {
            let units = chunk
                .iter()
                .map(|n| {
                    write_units(
                        notification_item(player_id, n, expires_at).map_or(0, |i| item_size(&i)),
                    )
                })
                .sum();
            self.write("BatchWriteItem", KEPT, units);
        }
    }
}

#[async_trait]
impl GameStore for CountingStore {
    /// An unreadable item is read (and billed) like any other: DynamoDB returns it, the
    /// adapter fails to decode it. Its size is the stored player's, as the memory store keeps it.
    /// Consistent: 1 unit per 4 KB per item.
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        self.log(Call::LoadPlayers(player_ids.to_vec()));
        self.count_load(player_ids, true).await
    }

    /// Eventually consistent: half a unit per 4 KB per item.
    async fn load_players_relaxed(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        self.log(Call::LoadPlayersRelaxed(player_ids.to_vec()));
        self.count_load(player_ids, false).await
    }

    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError> {
        self.log(Call::CreatePlayer(Box::new(state.clone())));
        let id = &state.player.player_id;
        let before = self.inner.player(id).map_or_else(
            || KEY_ONLY_BYTES + self.listed_bytes(id),
            |s| self.stored_bytes(&s),
        );
        let created = self.inner.create_player(state).await?;
        let bytes = self.player_bytes(state);
        let units = write_units(before.max(bytes + self.listed_bytes(id)));
        if created {
            self.remember(id, bytes, false);
            self.write("UpdateItem", PLAYER_WRITES, units);
            self.index(
                WAKE_INDEX,
                self.wake_index_writes(None, state.player.wake_at),
            );
        } else {
            self.write("UpdateItem", FAILED_CONDITIONAL, units);
        }
        Ok(created)
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.log(Call::Commit(Box::new(commit.clone())));
        let before = self.inner.player(commit.player_id());
        let before_bytes = match &before {
            Some(state) => self.stored_bytes(state),
            None => KEY_ONLY_BYTES + self.listed_bytes(commit.player_id()),
        };
        let result = self.inner.commit(commit).await;
        // A conditional UpdateItem is billed whether or not its condition holds (an item too
        // large is refused before any call), by the larger of the item before and after, its
        // `connections` set (which the write leaves) included.
        let bytes = self.item_bytes(&commit.state, &commit.outbox);
        let after_bytes = bytes + self.listed_bytes(commit.player_id());
        let units = write_units(before_bytes.max(after_bytes));
        match &result {
            Ok(()) => {
                self.remember(commit.player_id(), bytes, !commit.outbox.is_empty());
                self.write("UpdateItem", PLAYER_WRITES, units)
            }
            Err(StoreError::Conflict(_)) => self.write("UpdateItem", FAILED_CONDITIONAL, units),
            Err(_) => {}
        }
        let before_wake = before.as_ref().and_then(|s| s.player.wake_at);
        if result.is_ok() {
            self.index(
                WAKE_INDEX,
                self.wake_index_writes(before_wake, commit.state.player.wake_at),
            );
            let known: Vec<&str> = before
                .as_ref()
                .map(|s| s.queue.iter().map(|t| t.task_id.as_str()).collect())
                .unwrap_or_default();
            let mut state = self.lock();
            let transitions = &mut state.counters.transitions;
            for task in commit.state.queue.iter().chain(&commit.outbox.history) {
                if !known.contains(&task.task_id.as_str()) {
                    *transitions.entry(TransitionKind::Enqueued).or_insert(0) += 1;
                }
            }
            for task in &commit.outbox.history {
                let kind = match task.status {
                    TaskStatus::Completed => TransitionKind::Completed,
                    TaskStatus::Cancelled => TransitionKind::Cancelled,
                    TaskStatus::Rejected => TransitionKind::Rejected,
                    _ => TransitionKind::Failed,
                };
                *transitions.entry(kind).or_insert(0) += 1;
            }
        }
        result
    }

    async fn put_history(&self, tasks: &[Task]) -> Result<(), StoreError> {
        self.log(Call::PutHistory(tasks.to_vec()));
        self.inner.put_history(tasks).await?;
        for task in tasks {
            // The adapter adds `expires_at` (N, seconds: 1 + 5 bytes) to the task's item.
            let bytes = task_item(task).map_or(0, |i| item_size(&i)) + "expires_at".len() + 6;
            self.write("PutItem", HISTORY, write_units(bytes));
        }
        Ok(())
    }

    async fn put_audit(&self, records: &[idle_core::model::AuditRecord]) -> Result<(), StoreError> {
        self.inner.put_audit(records).await
    }

    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError> {
        self.log(Call::LoadTask(player_id.to_owned(), task_id.to_owned()));
        let task = self.inner.load_task(player_id, task_id).await?;
        let bytes = task
            .as_ref()
            .and_then(|t| task_item(t).ok())
            .map_or(0, |i| item_size(&i));
        self.read("GetItem", read_units(bytes) as f64, true);
        Ok(task)
    }

    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        self.log(Call::DuePlayers(shard, now, cursor.clone()));
        let page = self.inner.due_players(shard, now, cursor).await?;
        let bytes = page.items.len() * WAKE_ENTRY_BYTES;
        self.read("Query", read_units(bytes) as f64, false);
        Ok(page)
    }
}

fn connection_bytes(connection: &Connection) -> usize {
    connection_item(connection).map_or(0, |i| item_size(&i))
}

#[async_trait]
impl ConnectionStore for CountingStore {
    /// `PutItem` of the row, then `UpdateItem ADD` of its id to the player's set.
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        self.log(Call::PutConnection(connection.clone()));
        let listed_before = self.listed_bytes(&connection.player_id);
        self.inner.put_connection(connection).await?;
        let units = write_units(connection_bytes(connection));
        self.write("PutItem", CONNECTIONS, units);
        self.count_list_update(&connection.player_id, listed_before, CONNECTION_LISTS);
        Ok(())
    }

    async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        self.log(Call::GetConnection(connection_id.to_owned()));
        let found = self.inner.get_connection(connection_id).await?;
        let bytes = found.as_ref().map_or(0, connection_bytes);
        self.read("GetItem", read_units(bytes) as f64, true);
        Ok(found)
    }

    /// Eventually consistent: half a unit per 4 KB.
    async fn get_connection_relaxed(
        &self,
        connection_id: &str,
    ) -> Result<Option<Connection>, StoreError> {
        self.log(Call::GetConnectionRelaxed(connection_id.to_owned()));
        let found = self.inner.get_connection(connection_id).await?;
        let bytes = found.as_ref().map_or(0, connection_bytes);
        self.read("GetItem", read_units(bytes) as f64, false);
        Ok(found)
    }

    /// `DeleteItem` of the row; when there was one, the unlisting `UpdateItem` of its id.
    async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        self.log(Call::DeleteConnection(connection_id.to_owned()));
        let found = self.inner.get_connection(connection_id).await?;
        let listed_before = found
            .as_ref()
            .map_or(0, |c| self.listed_bytes(&c.player_id));
        self.inner.delete_connection(connection_id).await?;
        let units = write_units(found.as_ref().map_or(0, connection_bytes));
        self.write("DeleteItem", CONNECTIONS, units);
        if let Some(found) = found {
            self.count_unlist(&found.player_id, listed_before);
        }
        Ok(())
    }

    /// A conditional `DeleteItem`: a failed condition is still billed (at least one unit); when
    /// it deleted, the unlisting `UpdateItem`.
    async fn delete_connection_if(&self, connection: &Connection) -> Result<bool, StoreError> {
        self.log(Call::DeleteConnectionIf(connection.clone()));
        let found = self.inner.get_connection(&connection.connection_id).await?;
        let listed_before = self.listed_bytes(&connection.player_id);
        let deleted = self.inner.delete_connection_if(connection).await?;
        let units = write_units(found.as_ref().map_or(0, connection_bytes));
        let cause = if deleted {
            CONNECTIONS
        } else {
            FAILED_CONDITIONAL
        };
        self.write("DeleteItem", cause, units);
        if deleted {
            self.count_unlist(&connection.player_id, listed_before);
        }
        Ok(deleted)
    }

    /// The conditional `UpdateItem DELETE` (a failed condition, no such player item, is
    /// billed too).
    async fn unlist_connection(
        &self,
        player_id: &str,
        connection_id: &str,
    ) -> Result<(), StoreError> {
        self.log(Call::UnlistConnection(
            player_id.to_owned(),
            connection_id.to_owned(),
        ));
        let listed_before = self.listed_bytes(player_id);
        self.inner
            .unlist_connection(player_id, connection_id)
            .await?;
        self.count_unlist(player_id, listed_before);
        Ok(())
    }

    /// A consistent `Scan` of the whole Connections table, filtered on the player: read units
    /// by every byte scanned (one request: the model's tables stay under the 1 MB a `Scan`
    /// page reads).
    async fn player_connections(&self, player_id: &str) -> Result<Vec<Connection>, StoreError> {
        self.log(Call::PlayerConnections(player_id.to_owned()));
        let found = self.inner.player_connections(player_id).await?;
        let mut bytes = 0;
        let mut cursor = None;
        loop {
            let page = self.inner.scan_connections(cursor).await?;
            bytes += page.items.iter().map(connection_bytes).sum::<usize>();
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        self.read("Scan", read_units(bytes) as f64, true);
        Ok(found)
    }

    async fn scan_connections(
        &self,
        cursor: Option<String>,
    ) -> Result<Page<Connection>, StoreError> {
        self.log(Call::ScanConnections(cursor.clone()));
        let page = self.inner.scan_connections(cursor).await?;
        let bytes = page.items.iter().map(connection_bytes).sum();
        self.read("Scan", read_units(bytes) as f64, false);
        Ok(page)
    }
}

impl CountingStore {
    /// The unlisting `UpdateItem DELETE`, conditional on the player's item existing: billed as
    /// a failed conditional write when there is none.
    fn count_unlist(&self, player_id: &str, listed_before: usize) {
        let exists = listed_before > 0
            || self.inner.player(player_id).is_some()
            || self.lock().stored.contains_key(player_id);
        if exists {
            self.count_list_update(player_id, listed_before, CONNECTION_LISTS);
        } else {
            self.write("UpdateItem", FAILED_CONDITIONAL, 1);
        }
    }
}

#[async_trait]
impl Inbox for CountingStore {
    async fn store(
        &self,
        player_id: &str,
        notifications: &[Notification],
        expires_at: EpochSecs,
    ) -> Result<(), StoreError> {
        self.log(Call::Store(
            player_id.to_owned(),
            notifications.to_vec(),
            expires_at,
        ));
        self.inner
            .store(player_id, notifications, expires_at)
            .await?;
        // The adapter keeps one request per `seq` (the last wins).
        let by_seq: BTreeMap<u64, Notification> =
            notifications.iter().map(|n| (n.seq, n.clone())).collect();
        let distinct: Vec<Notification> = by_seq.into_values().collect();
        if !self.model.keep_all {
            self.count_store(player_id, &distinct, expires_at);
        }
        Ok(())
    }

    async fn kept_after(
        &self,
        player_id: &str,
        after_seq: u64,
        now: Millis,
        limit: usize,
    ) -> Result<Kept, StoreError> {
        self.log(Call::KeptAfter(player_id.to_owned(), after_seq, now, limit));
        let found = self
            .inner
            .kept_after(player_id, after_seq, now, limit)
            .await?;
        let bytes = found
            .notifications
            .iter()
            .map(|n| notification_item(player_id, n, EpochSecs(0)).map_or(0, |i| item_size(&i)))
            .sum();
        self.read("Query", read_units(bytes) as f64, true);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idle_core::catalog::Catalog;
    use idle_core::model::{Player, TaskRequest};

    fn queued(n: i64) -> Task {
        Task {
            player_id: "p1".into(),
            task_id: format!("{n:012}"),
            request_id: format!("request-{n}-{}", n * 7919),
            request: TaskRequest::Harvest {
                resource: "copper_ore".into(),
                location: "meadow".into(),
                quantity: 3,
                repeat: None,
            },
            bypass_validation: false,
            status: TaskStatus::Queued,
            enqueued_at: 1_000 + n * 37,
            started_at: None,
            ends_at: None,
            finished_at: None,
            attempts: 0,
            retry_at: None,
            rules_version: 1,
            catalog_hash: None,
            snapshot: None,
            result: None,
            failure: None,
            chunk: None,
            paused_at: None,
        }
    }

    fn write_of(state: &PlayerState, expected: Option<u64>) -> Commit {
        Commit {
            state: state.clone(),
            expected_version: expected,
            outbox: Outbox::default(),
        }
    }

    #[tokio::test]
    async fn a_player_write_is_billed_by_the_larger_item_and_a_connection_lists_itself() {
        // Given a connection made before the player's first write: its row, and its id added
        // to an item that holds only the key (one unit)
        let store = CountingStore::new(Arc::new(MemoryStore::new(4)), 4, Model::default());
        let connection = Connection {
            connection_id: "c1".into(),
            player_id: "p1".into(),
            is_admin: false,
            connected_at: 1_000,
            token_expires_at: Millis::MAX,
            expires_at: idle_core::model::EpochSecs(10),
        };
        store.put_connection(&connection).await.unwrap();
        let counted = store.counters();
        assert_eq!(
            (counted.requests("PutItem"), counted.requests("UpdateItem")),
            (1, 1)
        );
        assert_eq!(counted.wcu(CONNECTION_LISTS), 1);

        // When the player is written with a long queue (over 1 KB), then without it
        let mut big = PlayerState {
            player: Player::new("p1", 1_000, Catalog::shipped(), 10),
            queue: (0..80).map(queued).collect(),
        };
        big.player.version = 1;
        let listed = idle_aws::connections_size(&["c1".to_owned()]);
        let big_bytes = store.item_bytes(&big, &Outbox::default()) + listed;
        assert!(big_bytes > 1024, "{big_bytes} bytes");
        store.commit(&write_of(&big, None)).await.unwrap();
        let first = store.counters().wcu(PLAYER_WRITES);
        let mut small = big.clone();
        small.queue.clear();
        small.player.version = 2;
        let small_bytes = store.item_bytes(&small, &Outbox::default()) + listed;
        assert!(small_bytes <= 1024, "{small_bytes} bytes");
        store.commit(&write_of(&small, Some(1))).await.unwrap();
        let second = store.counters().wcu(PLAYER_WRITES) - first;
        small.player.version = 3;
        store.commit(&write_of(&small, Some(2))).await.unwrap();
        let third = store.counters().wcu(PLAYER_WRITES) - first - second;

        // Then each is one UpdateItem billed by the larger of the item before and after (the
        // `connections` set included): the shrinking write pays for the big item it replaced
        assert_eq!(first, write_units(big_bytes));
        assert_eq!(second, write_units(big_bytes), "billed by the item before");
        assert_eq!(third, 1, "billed by its own size again");
        assert_eq!(store.counters().requests("UpdateItem"), 4);
        assert_eq!(
            store.counters().requests("PutItem"),
            1,
            "no PutItem of a player"
        );
    }
}
