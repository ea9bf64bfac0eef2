//! A counting adapter: the in-memory store behind the ports, counting the DynamoDB requests and
//! capacity units the DynamoDB adapter (`idle-aws`) would spend on each call, with item sizes
//! from its real item encoding.
//!
//! Mirrors `idle_aws::DynamoStore` call for call: `load_players` is one `BatchGetItem` per 100
//! ids (strongly consistent, 1 RCU per 4 KB per item); `commit` one conditional `PutItem` of the
//! player item with its outbox (DESIGN.md section 12; 1 WCU per KB); `put_history` one
//! conditional `PutItem` per finished task (billed whether or not the record was there);
//! `create_player` and `put_connection` a conditional `PutItem`;
//! `player_connections` and `due_players` a `Query` of an index (eventually consistent: half a
//! unit per 4 KB of the page); the inbox `Query` (consistent) and `BatchWriteItem`s of 25.
//! Index writes (the Players `wake` index, KEYS_ONLY; the Connections `by_player` index, ALL)
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
use idle_aws::{connection_item, notification_item, player_item, task_item};
use idle_core::lifecycle::TransitionKind;
use idle_core::model::{Millis, Task, TaskStatus};
use idle_core::protocol::Notification;

use crate::size::{item_size, read_units, write_units};

/// Requests and capacity of one request kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub requests: u64,
    pub wcu: u64,
    /// Read units (halves for eventually consistent reads).
    pub rcu: f64,
}

/// Everything counted so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Request kind (`BatchGetItem`, `TransactWriteItems`, …) → usage.
    pub by_kind: BTreeMap<&'static str, Usage>,
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
        })
    }

    /// Requests of one kind.
    pub fn requests(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).map_or(0, |u| u.requests)
    }

    /// Committed transitions of one kind.
    pub fn transitions(&self, kind: TransitionKind) -> u64 {
        self.transitions.get(&kind).copied().unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct State {
    counters: Counters,
}

/// The in-memory store, counted as DynamoDB.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<MemoryStore>,
    shards: u32,
    state: Mutex<State>,
}

const BATCH_GET_LIMIT: usize = 100;
const BATCH_WRITE_LIMIT: usize = 25;
/// Size of a KEYS_ONLY `wake` index entry: `player_id` (~12 B), `wake_shard`, `wake_at`.
const WAKE_ENTRY_BYTES: usize = 9 + 12 + 10 + 2 + 7 + 8;

impl CountingStore {
    /// Counts calls to `inner`, whose wake index has `shards` shards.
    pub fn new(inner: Arc<MemoryStore>, shards: u32) -> CountingStore {
        CountingStore {
            inner,
            shards,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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

    fn index(&self, wcu: u64) {
        self.lock().counters.index_wcu += wcu;
    }

    fn player_bytes(&self, state: &PlayerState) -> usize {
        player_item(state, self.shards).map_or(0, |i| item_size(&i))
    }

    /// The player item with its outbox, stored as a JSON string attribute `outbox`.
    fn item_bytes(&self, state: &PlayerState, outbox: &Outbox) -> usize {
        let outbox = if outbox.is_empty() {
            0
        } else {
            "outbox".len() + serde_json::to_string(outbox).map_or(0, |json| json.len())
        };
        self.player_bytes(state) + outbox
    }

    /// Index writes of a player put: the sparse `wake` index changes when `wake_at` does.
    fn wake_index_writes(before: Option<Millis>, after: Option<Millis>) -> u64 {
        match (before, after) {
            (None, None) => 0,
            (Some(a), Some(b)) if a == b => 0,
            (Some(_), Some(_)) => 2, // delete the old entry, put the new one
            _ => 1,
        }
    }
}

/// Read units of a Query page: the page's bytes together, rounded up per 4 KB (halved when
/// eventually consistent).
fn query_units(bytes: usize, consistent: bool) -> f64 {
    let units = read_units(bytes) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

#[async_trait]
impl GameStore for CountingStore {
    /// An unreadable item is read (and billed) like any other: DynamoDB returns it, the
    /// adapter fails to decode it. Its size is the stored player's, as the memory store keeps it.
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        let found = self.inner.load_players(player_ids).await?;
        let mut distinct = player_ids.to_vec();
        distinct.sort();
        distinct.dedup();
        for chunk in distinct.chunks(BATCH_GET_LIMIT) {
            let readable: u64 = found
                .players
                .iter()
                .filter(|s| chunk.contains(&s.player.player_id))
                .map(|s| read_units(self.player_bytes(s)))
                .sum();
            let unreadable: u64 = found
                .unreadable
                .iter()
                .filter(|(id, _)| chunk.contains(id))
                .filter_map(|(id, _)| self.inner.player(id))
                .map(|s| read_units(self.player_bytes(&s)))
                .sum();
            self.count("BatchGetItem", 0, (readable + unreadable) as f64);
        }
        Ok(found)
    }

    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError> {
        let created = self.inner.create_player(state).await?;
        self.count("PutItem", write_units(self.player_bytes(state)), 0.0);
        Ok(created)
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let before = self.inner.player(commit.player_id());
        let result = self.inner.commit(commit).await;
        // A conditional PutItem is billed whether or not its condition holds.
        self.count(
            "PutItem",
            write_units(self.item_bytes(&commit.state, &commit.outbox)),
            0.0,
        );
        let before_wake = before.as_ref().and_then(|s| s.player.wake_at);
        if result.is_ok() {
            self.index(Self::wake_index_writes(
                before_wake,
                commit.state.player.wake_at,
            ));
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
        self.inner.put_history(tasks).await?;
        for task in tasks {
            let units = write_units(task_item(task).map_or(0, |i| item_size(&i)));
            self.count("PutItem", units, 0.0);
        }
        Ok(())
    }

    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError> {
        let task = self.inner.load_task(player_id, task_id).await?;
        let bytes = task
            .as_ref()
            .and_then(|t| task_item(t).ok())
            .map_or(0, |i| item_size(&i));
        self.count("GetItem", 0, read_units(bytes) as f64);
        Ok(task)
    }

    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        let page = self.inner.due_players(shard, now, cursor).await?;
        let bytes = page.items.len() * WAKE_ENTRY_BYTES;
        self.count("Query", 0, query_units(bytes, false));
        Ok(page)
    }
}

fn connection_bytes(connection: &Connection) -> usize {
    connection_item(connection).map_or(0, |i| item_size(&i))
}

#[async_trait]
impl ConnectionStore for CountingStore {
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        self.inner.put_connection(connection).await?;
        let units = write_units(connection_bytes(connection));
        self.count("PutItem", units, 0.0);
        self.index(units);
        Ok(())
    }

    async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let found = self.inner.get_connection(connection_id).await?;
        let bytes = found.as_ref().map_or(0, connection_bytes);
        self.count("GetItem", 0, read_units(bytes) as f64);
        Ok(found)
    }

    async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        let found = self.inner.get_connection(connection_id).await?;
        self.inner.delete_connection(connection_id).await?;
        let units = write_units(found.as_ref().map_or(0, connection_bytes));
        self.count("DeleteItem", units, 0.0);
        if found.is_some() {
            self.index(units);
        }
        Ok(())
    }

    /// A conditional `DeleteItem`: a failed condition is still billed (at least one unit).
    async fn delete_connection_if(&self, connection: &Connection) -> Result<bool, StoreError> {
        let found = self.inner.get_connection(&connection.connection_id).await?;
        let deleted = self.inner.delete_connection_if(connection).await?;
        let units = write_units(found.as_ref().map_or(0, connection_bytes));
        self.count("DeleteItem", units, 0.0);
        if deleted {
            self.index(units);
        }
        Ok(deleted)
    }

    async fn player_connections(&self, player_id: &str) -> Result<Vec<Connection>, StoreError> {
        let found = self.inner.player_connections(player_id).await?;
        let bytes = found.iter().map(connection_bytes).sum();
        self.count("Query", 0, query_units(bytes, false));
        Ok(found)
    }

    async fn scan_connections(
        &self,
        cursor: Option<String>,
    ) -> Result<Page<Connection>, StoreError> {
        let page = self.inner.scan_connections(cursor).await?;
        let bytes = page.items.iter().map(connection_bytes).sum();
        self.count("Scan", 0, query_units(bytes, false));
        Ok(page)
    }
}

#[async_trait]
impl Inbox for CountingStore {
    async fn store(
        &self,
        player_id: &str,
        notifications: &[Notification],
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .store(player_id, notifications, expires_at)
            .await?;
        for chunk in notifications.chunks(BATCH_WRITE_LIMIT) {
            let units = chunk
                .iter()
                .map(|n| {
                    write_units(
                        notification_item(player_id, n, expires_at).map_or(0, |i| item_size(&i)),
                    )
                })
                .sum();
            self.count("BatchWriteItem", units, 0.0);
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
        let found = self
            .inner
            .kept_after(player_id, after_seq, now, limit)
            .await?;
        let bytes = found
            .notifications
            .iter()
            .map(|n| notification_item(player_id, n, 0).map_or(0, |i| item_size(&i)))
            .sum();
        self.count("Query", 0, query_units(bytes, true));
        Ok(found)
    }
}
