//! The in-memory store: players with their queues, the task history, connections and the inbox,
//! with DynamoDB's semantics for everything the use cases rely on.
//!
//! - `commit` is one conditional write of the player's item (player, queue, outbox) on its
//!   `version`: a failed condition is a [`StoreError::Conflict`] and nothing is written; an item
//!   over DynamoDB's 400 KB is refused for good. Every committed non-empty outbox goes on the
//!   store's feed ([`MemoryStore::take_outboxes`]), in commit order: what the Players table's
//!   stream is to the DynamoDB store. Like a stream it keeps each outbox until its consumer
//!   reports it performed ([`MemoryStore::performed`]), so a restart can perform what a crash
//!   left undone ([`MemoryStore::unperformed_outboxes`]).
//! - The task history holds finished tasks, each put if absent.
//! - Paginated reads return `next` whenever a page is full, even if nothing follows (as
//!   DynamoDB's `LastEvaluatedKey` does), so callers meet the empty last page too.
//! - The wake index is sparse and sharded by [`wake_shard`], in `wake_at` order.
//! - A player can be made unreadable ([`MemoryStore::corrupt_player`]), as a DynamoDB item with
//!   a corrupt attribute is: `load_players` reports it in [`Loaded::unreadable`] and still
//!   returns the others.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use idle_core::model::{AuditRecord, EpochSecs, HistoryRecord, Millis, Player, Task};
use idle_core::protocol::Notification;
use serde::{Deserialize, Serialize};

use crate::outbox::{Commit, Outbox, OutboxRecord};
use crate::ports::{
    limits, wake_shard, Connection, ConnectionStore, GameStore, Inbox, Kept, Loaded, Page,
    PlayerRecords, PlayerRows, StoreError,
};
use crate::state::PlayerState;

/// Default page size of paginated reads.
pub const DEFAULT_PAGE_SIZE: usize = 100;

#[derive(Debug)]
struct State {
    players: BTreeMap<String, PlayerState>,
    /// Each player's last committed outbox (the item's `outbox` attribute on DynamoDB).
    outboxes: BTreeMap<String, Outbox>,
    /// Players whose item cannot be read, with what is wrong with it.
    corrupt: BTreeMap<String, String>,
    history: BTreeMap<(String, String), Task>,
    /// Admin changes' audit records, by the same key as the history (not in snapshots).
    audits: BTreeMap<(String, String), AuditRecord>,
    connections: BTreeMap<String, Connection>,
    /// `connections`' keys by player: (player id, connection id), so that a player's
    /// connections are found without walking every connection (a cost run holds 100,000).
    connections_of: BTreeSet<(String, String)>,
    /// The connection ids listed with each player, as (player id, connection id): DynamoDB's
    /// `connections` set on the Players item, kept apart from the rows as there (the row is
    /// written before the id is listed and deleted before it is unlisted).
    listed: BTreeSet<(String, String)>,
    inbox: BTreeMap<(String, u64), (Notification, EpochSecs)>,
    page_size: usize,
    wake_shards: u32,
    /// Committed non-empty outboxes not yet taken, in commit order.
    feed: Vec<OutboxRecord>,
    /// Committed non-empty outboxes not yet reported performed, by feed sequence (what a
    /// durable stream still holds for its consumer; the local runtime performs them again
    /// after a restart).
    unperformed: BTreeMap<u64, OutboxRecord>,
    /// `unperformed`'s sequence numbers by player, so that marking a player's outboxes
    /// performed does not walk every other player's.
    unperformed_of: HashMap<String, BTreeSet<u64>>,
    next_sequence: u64,
}

impl State {
    /// Rebuilds [`State::unperformed_of`] from `unperformed`.
    fn index_unperformed(&mut self) {
        self.unperformed_of.clear();
        for (sequence, record) in &self.unperformed {
            self.unperformed_of
                .entry(record.player_id.clone())
                .or_default()
                .insert(*sequence);
        }
    }

    /// Removes the row, returning it (its id stays listed).
    fn remove_connection(&mut self, connection_id: &str) -> Option<Connection> {
        let old = self.connections.remove(connection_id)?;
        self.connections_of
            .remove(&(old.player_id.clone(), connection_id.to_owned()));
        Some(old)
    }

    /// The connection ids listed with `player_id`, in id order.
    fn listed_of(&self, player_id: &str) -> Vec<String> {
        self.listed
            .range((player_id.to_owned(), String::new())..)
            .take_while(|(p, _)| p == player_id)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

/// An in-memory [`GameStore`], [`ConnectionStore`] and [`Inbox`]. Share it through an `Arc`.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(8)
    }
}

impl MemoryStore {
    /// An empty store whose wake index has `wake_shards` shards (use the config's value).
    pub fn new(wake_shards: u32) -> MemoryStore {
        MemoryStore {
            state: Mutex::new(State {
                players: BTreeMap::new(),
                outboxes: BTreeMap::new(),
                corrupt: BTreeMap::new(),
                history: BTreeMap::new(),
                audits: BTreeMap::new(),
                connections: BTreeMap::new(),
                connections_of: BTreeSet::new(),
                listed: BTreeSet::new(),
                inbox: BTreeMap::new(),
                page_size: DEFAULT_PAGE_SIZE,
                wake_shards: wake_shards.max(1),
                feed: Vec::new(),
                unperformed: BTreeMap::new(),
                unperformed_of: HashMap::new(),
                next_sequence: 1,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent maps (every change is made
        // after all checks), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- the outbox feed ----------------------------------------------------------------------

    /// The non-empty outboxes committed since the last call, in commit order, with rising
    /// sequence numbers (what the Players table's stream, filtered on a non-empty outbox, is to
    /// the DynamoDB store).
    pub fn take_outboxes(&self) -> Vec<OutboxRecord> {
        std::mem::take(&mut self.lock().feed)
    }

    /// Every player's last committed outbox that is not empty, as feed records (what a runtime
    /// performs again after a restart: performing is idempotent).
    pub fn last_outboxes(&self) -> Vec<OutboxRecord> {
        let state = self.lock();
        state
            .outboxes
            .iter()
            .filter(|(_, outbox)| !outbox.is_empty())
            .map(|(id, outbox)| OutboxRecord {
                player_id: id.clone(),
                version: state.players.get(id).map_or(0, |s| s.player.version),
                sequence_number: "0".to_owned(),
                outbox: outbox.clone(),
                connections: state.listed_of(id),
            })
            .collect()
    }

    /// Every committed non-empty outbox not yet reported [`performed`](Self::performed), in
    /// commit order, taken or not: what a restart must perform (again) so that a crash between
    /// a commit and performing its outbox loses nothing. Performing is idempotent.
    pub fn unperformed_outboxes(&self) -> Vec<OutboxRecord> {
        self.lock().unperformed.values().cloned().collect()
    }

    /// Reports a player's outboxes up to `version` performed: they leave
    /// [`unperformed_outboxes`](Self::unperformed_outboxes).
    pub fn performed(&self, player_id: &str, version: u64) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(sequences) = state.unperformed_of.get_mut(player_id) else {
            return;
        };
        sequences.retain(|sequence| match state.unperformed.get(sequence) {
            Some(record) if record.version <= version => {
                state.unperformed.remove(sequence);
                false
            }
            Some(_) => true,
            None => false,
        });
        if sequences.is_empty() {
            state.unperformed_of.remove(player_id);
        }
    }

    // ---- inspection ---------------------------------------------------------------------------

    /// Sets the page size of paginated reads (small pages exercise pagination in tests).
    pub fn set_page_size(&self, size: usize) {
        self.lock().page_size = size.max(1);
    }

    /// A player as stored.
    pub fn player(&self, player_id: &str) -> Option<PlayerState> {
        self.lock().players.get(player_id).cloned()
    }

    /// The connection ids listed with a player ([`ConnectionStore::put_connection`]), in id
    /// order, read without counting as a call (for tools that model the store).
    pub fn listed(&self, player_id: &str) -> Vec<String> {
        self.lock().listed_of(player_id)
    }

    /// Deletes a connection's row but leaves its id listed with its player: what DynamoDB
    /// keeps when the unlisting after a row's delete failed (test set-up; no call counted).
    pub fn delete_row_only(&self, connection_id: &str) {
        self.lock().remove_connection(connection_id);
    }

    /// Every stored player id, sorted.
    pub fn player_ids(&self) -> Vec<String> {
        self.lock().players.keys().cloned().collect()
    }

    /// Stores a player as given, replacing any (test set-up; no conditions). A corrupt item is
    /// replaced too: the player reads again.
    pub fn put_player(&self, state: PlayerState) {
        let mut store = self.lock();
        store.corrupt.remove(&state.player.player_id);
        store.players.insert(state.player.player_id.clone(), state);
    }

    /// Makes a player's stored item unreadable, as a DynamoDB item whose attribute no longer
    /// decodes (`what` says what is wrong): from now on `load_players` reports the player in
    /// [`Loaded::unreadable`] with a permanent error, until [`put_player`](Self::put_player) or
    /// [`restore`](Self::restore) replaces the item. Other calls see the player as stored (its
    /// wake-up stays in the index, as the index keeps the item's key attributes).
    pub fn corrupt_player(&self, player_id: &str, what: &str) {
        self.lock()
            .corrupt
            .insert(player_id.to_owned(), what.to_owned());
    }

    /// A player's task history, in task order (the finished tasks alone; the paginated
    /// [`PlayerRecords::history`] has the audit records too).
    pub fn task_history(&self, player_id: &str) -> Vec<Task> {
        self.lock()
            .history
            .range((player_id.to_owned(), String::new())..)
            .take_while(|((p, _), _)| p == player_id)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Every stored connection, by id.
    pub fn connections(&self) -> Vec<Connection> {
        self.lock().connections.values().cloned().collect()
    }

    /// A player's inbox in `seq` order, expired rows included (TTL deletion lags).
    pub fn inbox(&self, player_id: &str) -> Vec<Notification> {
        self.lock()
            .inbox
            .range((player_id.to_owned(), 0)..=(player_id.to_owned(), u64::MAX))
            .map(|(_, (n, _))| n.clone())
            .collect()
    }
}

/// The durable part of a [`MemoryStore`]: players with their queues, the task history and the
/// inbox (connections are not kept: they die with the process, as sockets do). The local
/// runtime writes it to its data directory and reads it back at start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreSnapshot {
    /// Each player with its unfinished tasks, by player id.
    pub players: Vec<SnapshotPlayer>,
    /// Every task of the history, in (player, task) order.
    pub history: Vec<Task>,
    /// Undelivered notifications, in (player, seq) order.
    pub inbox: Vec<SnapshotInboxRow>,
    /// Outboxes committed and not yet reported performed, in commit order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unperformed: Vec<SnapshotOutbox>,
}

/// An outbox not yet performed, as kept in a [`StoreSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotOutbox {
    pub player_id: String,
    pub version: u64,
    pub outbox: Outbox,
}

/// A player, its queue and its last outbox, as kept in a [`StoreSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotPlayer {
    pub player: Player,
    pub queue: Vec<Task>,
    /// Snapshots written before outboxes existed read as an empty one.
    #[serde(default, skip_serializing_if = "Outbox::is_empty")]
    pub outbox: Outbox,
}

/// One undelivered notification, as kept in a [`StoreSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInboxRow {
    pub player_id: String,
    pub notification: Notification,
    /// When it expires, in seconds since the epoch (the inbox's TTL attribute).
    pub expires_at: EpochSecs,
}

impl MemoryStore {
    /// A copy of the durable state (players, history, inbox), taken under one lock.
    pub fn snapshot(&self) -> StoreSnapshot {
        let state = self.lock();
        StoreSnapshot {
            players: state
                .players
                .values()
                .map(|s| SnapshotPlayer {
                    player: s.player.clone(),
                    queue: s.queue.clone(),
                    outbox: state
                        .outboxes
                        .get(&s.player.player_id)
                        .cloned()
                        .unwrap_or_default(),
                })
                .collect(),
            history: state.history.values().cloned().collect(),
            inbox: state
                .inbox
                .iter()
                .map(
                    |((player_id, _), (notification, expires_at))| SnapshotInboxRow {
                        player_id: player_id.clone(),
                        notification: notification.clone(),
                        expires_at: *expires_at,
                    },
                )
                .collect(),
            unperformed: state
                .unperformed
                .values()
                .map(|r| SnapshotOutbox {
                    player_id: r.player_id.clone(),
                    version: r.version,
                    outbox: r.outbox.clone(),
                })
                .collect(),
        }
    }

    /// Replaces the players, history, inbox and unperformed outboxes with a snapshot's
    /// (connections and the feed are left as they are; nothing restored
    /// appears on the feed: a restart takes [`unperformed_outboxes`](Self::unperformed_outboxes)).
    pub fn restore(&self, snapshot: StoreSnapshot) {
        let mut state = self.lock();
        state.corrupt.clear();
        let mut unperformed = BTreeMap::new();
        for pending in snapshot.unperformed {
            let sequence = state.next_sequence;
            state.next_sequence += 1;
            unperformed.insert(
                sequence,
                OutboxRecord {
                    connections: state.listed_of(&pending.player_id),
                    player_id: pending.player_id,
                    version: pending.version,
                    sequence_number: sequence.to_string(),
                    outbox: pending.outbox,
                },
            );
        }
        state.unperformed = unperformed;
        state.index_unperformed();
        state.outboxes = snapshot
            .players
            .iter()
            .filter(|p| !p.outbox.is_empty())
            .map(|p| (p.player.player_id.clone(), p.outbox.clone()))
            .collect();
        state.players = snapshot
            .players
            .into_iter()
            .map(|p| {
                (
                    p.player.player_id.clone(),
                    PlayerState {
                        player: p.player,
                        queue: p.queue,
                    },
                )
            })
            .collect();
        state.history = snapshot
            .history
            .into_iter()
            .map(|t| ((t.player_id.clone(), t.task_id.clone()), t))
            .collect();
        state.inbox = snapshot
            .inbox
            .into_iter()
            .map(|row| {
                (
                    (row.player_id, row.notification.seq),
                    (row.notification, row.expires_at),
                )
            })
            .collect();
    }
}

fn page<T: Clone>(items: Vec<(String, T)>, size: usize) -> Page<T> {
    let next = (items.len() >= size)
        .then(|| items.get(size - 1).map(|(key, _)| key.clone()))
        .flatten();
    Page {
        items: items.into_iter().take(size).map(|(_, t)| t).collect(),
        next,
    }
}

/// DynamoDB's item size limit ([`limits::ITEM_BYTES`]) on the player's item as `commit` writes
/// it, measured as JSON, which is never smaller than DynamoDB's own size of it. Breaking it is a
/// permanent error, as DynamoDB's `ValidationException` is.
fn check_item_size(commit: &Commit) -> Result<(), StoreError> {
    fn size(value: &impl serde::Serialize) -> usize {
        serde_json::to_vec(value).map_or(usize::MAX, |json| json.len())
    }
    let bytes = size(&commit.state.player)
        .saturating_add(size(&commit.state.queue))
        .saturating_add(size(&commit.outbox));
    if bytes > limits::ITEM_BYTES {
        return Err(StoreError::Permanent(format!(
            "the write breaks DynamoDB's limits: player {} is {bytes} bytes, at most {}",
            commit.player_id(),
            limits::ITEM_BYTES
        )));
    }
    Ok(())
}

#[async_trait]
impl GameStore for MemoryStore {
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        let state = self.lock();
        let ids: Vec<&str> = player_ids.iter().map(String::as_str).collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut loaded = Loaded::default();
        for id in ids.into_iter().filter(|id| seen.insert(*id)) {
            if let Some(what) = state.corrupt.get(id) {
                loaded.unreadable.push((
                    id.to_owned(),
                    StoreError::Permanent(format!(
                        "corrupt item in the players store, key {id}: {what}"
                    )),
                ));
            } else if let Some(player) = state.players.get(id) {
                loaded.players.push(player.clone());
                let listed = state.listed_of(id);
                if !listed.is_empty() {
                    loaded.connections.insert(id.to_owned(), listed);
                }
            }
        }
        Ok(loaded)
    }

    async fn create_player(&self, player: &PlayerState) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let id = player.player.player_id.clone();
        let created = !state.players.contains_key(&id);
        if created {
            state.players.insert(id, player.clone());
        }
        Ok(created)
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let mut state = self.lock();
        let id = commit.player_id().to_owned();
        check_item_size(commit)?;
        let stored = state.players.get(&id).map(|s| s.player.version);
        if stored != commit.expected_version {
            return Err(StoreError::Conflict(format!(
                "player {id}: version is {stored:?}, expected {:?}",
                commit.expected_version
            )));
        }
        state.players.insert(id.clone(), commit.state.clone());
        state.outboxes.insert(id.clone(), commit.outbox.clone());
        if !commit.outbox.is_empty() {
            let sequence = state.next_sequence;
            state.next_sequence += 1;
            let record = OutboxRecord {
                connections: state.listed_of(&id),
                player_id: id,
                version: commit.state.player.version,
                sequence_number: sequence.to_string(),
                outbox: commit.outbox.clone(),
            };
            state.unperformed.insert(sequence, record.clone());
            state
                .unperformed_of
                .entry(record.player_id.clone())
                .or_default()
                .insert(sequence);
            state.feed.push(record);
        }
        Ok(())
    }

    async fn put_history(&self, tasks: &[Task]) -> Result<(), StoreError> {
        let mut state = self.lock();
        for task in tasks {
            state
                .history
                .entry((task.player_id.clone(), task.task_id.clone()))
                .or_insert_with(|| task.clone());
        }
        Ok(())
    }

    async fn put_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        let mut state = self.lock();
        for record in records {
            let key = (record.player_id.clone(), record.task_id.clone());
            if !state.history.contains_key(&key) {
                state.audits.entry(key).or_insert_with(|| record.clone());
            }
        }
        Ok(())
    }

    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError> {
        let state = self.lock();
        Ok(state
            .history
            .get(&(player_id.to_owned(), task_id.to_owned()))
            .cloned())
    }

    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        let state = self.lock();
        let after = cursor.as_deref().and_then(parse_wake_cursor);
        let shards = state.wake_shards;
        let mut due: Vec<(Millis, &String)> = state
            .players
            .iter()
            .filter_map(|(id, s)| s.player.wake_at.map(|at| (at, id)))
            .filter(|(at, id)| *at <= now && wake_shard(id, shards) == shard)
            .filter(|(at, id)| {
                after
                    .as_ref()
                    .is_none_or(|(a, i)| (*at, id.as_str()) > (*a, i.as_str()))
            })
            .collect();
        due.sort();
        let items = due
            .into_iter()
            .map(|(at, id)| (format!("{at}|{id}"), id.clone()))
            .collect();
        Ok(page(items, state.page_size))
    }
}

fn parse_wake_cursor(cursor: &str) -> Option<(Millis, String)> {
    let (at, id) = cursor.split_once('|')?;
    Some((at.parse().ok()?, id.to_owned()))
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.remove_connection(&connection.connection_id);
        state
            .connections
            .insert(connection.connection_id.clone(), connection.clone());
        state.connections_of.insert((
            connection.player_id.clone(),
            connection.connection_id.clone(),
        ));
        state.listed.insert((
            connection.player_id.clone(),
            connection.connection_id.clone(),
        ));
        Ok(())
    }

    async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let state = self.lock();
        Ok(state.connections.get(connection_id).cloned())
    }

    async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Some(old) = state.remove_connection(connection_id) {
            state
                .listed
                .remove(&(old.player_id, connection_id.to_owned()));
        }
        Ok(())
    }

    async fn delete_connection_if(&self, connection: &Connection) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let id = connection.connection_id.as_str();
        let same = state
            .connections
            .get(id)
            .is_some_and(|stored| stored.connected_at == connection.connected_at);
        if same {
            state.remove_connection(id);
            state
                .listed
                .remove(&(connection.player_id.clone(), id.to_owned()));
        }
        Ok(same)
    }

    async fn unlist_connection(
        &self,
        player_id: &str,
        connection_id: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .listed
            .remove(&(player_id.to_owned(), connection_id.to_owned()));
        Ok(())
    }

    async fn player_connections(&self, player_id: &str) -> Result<Vec<Connection>, StoreError> {
        let state = self.lock();
        Ok(state
            .connections_of
            .range((player_id.to_owned(), String::new())..)
            .take_while(|(p, _)| p == player_id)
            .filter_map(|(_, id)| state.connections.get(id).cloned())
            .collect())
    }

    async fn scan_connections(
        &self,
        cursor: Option<String>,
    ) -> Result<Page<Connection>, StoreError> {
        let state = self.lock();
        let items = state
            .connections
            .iter()
            .filter(|(id, _)| cursor.as_ref().is_none_or(|c| *id > c))
            .map(|(id, c)| (id.clone(), c.clone()))
            .collect();
        Ok(page(items, state.page_size))
    }
}

#[async_trait]
impl Inbox for MemoryStore {
    async fn store(
        &self,
        player_id: &str,
        notifications: &[Notification],
        expires_at: EpochSecs,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        for n in notifications {
            state
                .inbox
                .entry((player_id.to_owned(), n.seq))
                .or_insert_with(|| (n.clone(), expires_at));
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
        let state = self.lock();
        let mut live = state
            .inbox
            .range(
                (player_id.to_owned(), after_seq.saturating_add(1))
                    ..=(player_id.to_owned(), u64::MAX),
            )
            .filter(|(_, (_, expires_at))| !expires_at.has_passed(now))
            .map(|(_, (n, _))| n.clone());
        let notifications: Vec<Notification> = live.by_ref().take(limit).collect();
        let more = live.next().is_some();
        Ok(Kept {
            notifications,
            more,
        })
    }
}

fn player_range<'m, V>(
    map: &'m BTreeMap<(String, String), V>,
    player_id: &'m str,
) -> impl Iterator<Item = (&'m (String, String), &'m V)> {
    map.range((player_id.to_owned(), String::new())..)
        .take_while(move |((p, _), _)| p == player_id)
}

#[async_trait]
impl PlayerRecords for MemoryStore {
    async fn history(
        &self,
        player_id: &str,
        cursor: Option<String>,
    ) -> Result<Page<HistoryRecord>, StoreError> {
        let state = self.lock();
        let mut records: Vec<(String, HistoryRecord)> = player_range(&state.history, player_id)
            .map(|((_, id), t)| (id.clone(), HistoryRecord::Task(Box::new(t.clone()))))
            .chain(
                player_range(&state.audits, player_id)
                    .map(|((_, id), a)| (id.clone(), HistoryRecord::Audit(a.clone()))),
            )
            .filter(|(id, _)| cursor.as_ref().is_none_or(|c| id > c))
            .collect();
        records.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page(records, state.page_size))
    }

    async fn erase_player(&self, player_id: &str) -> Result<PlayerRows, StoreError> {
        let mut state = self.lock();
        let found = rows_of(&state, player_id);
        state.players.remove(player_id);
        state.outboxes.remove(player_id);
        state.corrupt.remove(player_id);
        state.history.retain(|(p, _), _| p != player_id);
        state.audits.retain(|(p, _), _| p != player_id);
        state.inbox.retain(|(p, _), _| p != player_id);
        state.connections.retain(|_, c| c.player_id != player_id);
        state.connections_of.retain(|(p, _)| p != player_id);
        state.listed.retain(|(p, _)| p != player_id);
        state.unperformed.retain(|_, r| r.player_id != player_id);
        state.unperformed_of.remove(player_id);
        state.feed.retain(|r| r.player_id != player_id);
        Ok(found)
    }

    async fn remaining(&self, player_id: &str) -> Result<PlayerRows, StoreError> {
        Ok(rows_of(&self.lock(), player_id))
    }
}

fn rows_of(state: &State, player_id: &str) -> PlayerRows {
    let count = |n: usize| n as u64;
    PlayerRows {
        players: count(usize::from(
            state.players.contains_key(player_id) || state.corrupt.contains_key(player_id),
        )),
        history: count(
            player_range(&state.history, player_id).count()
                + player_range(&state.audits, player_id).count(),
        ),
        kept: count(state.inbox.keys().filter(|(p, _)| p == player_id).count()),
        connections: count(
            state
                .connections
                .values()
                .filter(|c| c.player_id == player_id)
                .count(),
        ),
        outboxes: count(
            state
                .unperformed
                .values()
                .filter(|r| r.player_id == player_id)
                .count(),
        ),
    }
}
