//! Fault injection around any store and the in-memory gateway.
//!
//! [`ChaosStore`] wraps a [`GameStore`] + [`ConnectionStore`] + [`Inbox`] (the in-memory store
//! or DynamoDB) and [`ChaosNotifier`] wraps the [`MemoryNotifier`]. Every call first yields to
//! the runtime, so handlers run with `tokio::join!` really interleave (a ticker and a stream
//! batch advancing the same player meet real conditional-write conflicts). Faults are drawn
//! from one seeded generator and counted by kind; the notifications they keep from being
//! announced are remembered, so the checks can tell an accounted loss from a lost message.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use idle_app::memory::MemoryNotifier;
use idle_app::ports::{
    Connection, ConnectionInfo, ConnectionStore, GameStore, Inbox, Kept, Loaded, Notifier, Page,
    PostError, StoreError,
};
use idle_app::state::PlayerState;
use idle_core::lifecycle::TransitionKind;
use idle_core::model::{Millis, Task};
use idle_core::protocol::Notification;
use idle_core::Plan;

/// Fault rates, each a probability in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRates {
    /// A store call fails with `Transient` (throttling, a 5xx).
    pub store_transient: f64,
    /// Of the failing writes, the share applied before the error (a timeout after the write).
    pub after_write: f64,
    /// A commit fails with an injected `Conflict` (besides the real ones from concurrency).
    pub conflict: f64,
    /// A post to a connection fails with a transient error.
    pub post_failure: f64,
    /// A commit is followed by a crash before its notifications are announced: they are never
    /// posted nor stored.
    pub crash: f64,
    /// Per round and online player: the client vanishes without `$disconnect` (posts to it are
    /// then 410 Gone) and comes back a few rounds later on a new connection.
    pub gone: f64,
    /// Per stream batch: an earlier batch is delivered again, out of order.
    pub replay: f64,
}

impl Default for FaultRates {
    fn default() -> Self {
        FaultRates {
            store_transient: 0.02,
            after_write: 0.3,
            conflict: 0.02,
            post_failure: 0.02,
            crash: 0.005,
            gone: 0.01,
            replay: 0.2,
        }
    }
}

impl FaultRates {
    /// No faults at all (the final drain).
    pub fn none() -> FaultRates {
        FaultRates {
            store_transient: 0.0,
            after_write: 0.0,
            conflict: 0.0,
            post_failure: 0.0,
            crash: 0.0,
            gone: 0.0,
            replay: 0.0,
        }
    }
}

/// Faults injected, by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FaultCounts {
    /// Store calls failed with `Transient` before writing, by operation.
    pub transient: BTreeMap<&'static str, u64>,
    /// Writes applied and then reported as failed (timeouts after the write), by operation.
    pub after_write: BTreeMap<&'static str, u64>,
    /// Commits refused with an injected `Conflict`.
    pub injected_conflicts: u64,
    /// Commits the store itself refused with `Conflict` (concurrent advances of one player).
    pub real_conflicts: u64,
    /// Posts failed with a transient error.
    pub post_failures: u64,
    /// Commits followed by a crash before the announcement.
    pub crashes: u64,
}

/// Notifications kept from being announced by an injected fault, as (player, seq).
#[derive(Debug, Default, Clone)]
pub struct Unannounced {
    /// Committed, then the process "crashed" before posting or storing them.
    pub crashed: BTreeSet<(String, u64)>,
    /// Committed by a write whose answer was lost (timeout after the write): the retry found
    /// nothing left to do, so nobody announced them.
    pub commit_timed_out: BTreeSet<(String, u64)>,
    /// Posts failed and then the inbox write failed too.
    pub inbox_failed: BTreeSet<(String, u64)>,
    /// A post of a notification failed (live, or a sync reply after the inbox was drained).
    pub post_failed: BTreeSet<(String, u64)>,
}

struct Inner {
    rng: u64,
    rates: FaultRates,
    counts: FaultCounts,
    notes: Unannounced,
    /// Task transitions of every plan the store applied, by kind.
    transitions: BTreeMap<TransitionKind, usize>,
}

/// The shared fault source: seeded, switchable, counted.
pub struct Chaos {
    inner: Mutex<Inner>,
}

impl Chaos {
    /// A fault source with these rates and seed.
    pub fn new(rates: FaultRates, seed: u64) -> Arc<Chaos> {
        Arc::new(Chaos {
            inner: Mutex::new(Inner {
                rng: seed ^ 0x5eed_cafe_f00d_d00d,
                rates,
                counts: FaultCounts::default(),
                notes: Unannounced::default(),
                transitions: BTreeMap::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the rates (e.g. [`FaultRates::none`] for the final drain).
    pub fn set_rates(&self, rates: FaultRates) {
        self.lock().rates = rates;
    }

    /// The current rates.
    pub fn rates(&self) -> FaultRates {
        self.lock().rates.clone()
    }

    /// A uniform draw in `[0, 1)` from the seeded generator.
    pub fn draw(&self) -> f64 {
        let mut inner = self.lock();
        unit(&mut inner.rng)
    }

    /// A uniform integer in `0..n` (`n > 0`).
    pub fn below(&self, n: u64) -> u64 {
        let mut inner = self.lock();
        splitmix(&mut inner.rng) % n.max(1)
    }

    /// True with probability `p`.
    pub fn chance(&self, p: f64) -> bool {
        p > 0.0 && self.draw() < p
    }

    /// Faults so far.
    pub fn counts(&self) -> FaultCounts {
        self.lock().counts.clone()
    }

    /// Task transitions of every plan the wrapped store applied (a commit whose answer was then
    /// lost included), by kind, as the core reported them in `Plan::transitions`.
    pub fn transitions(&self) -> BTreeMap<TransitionKind, usize> {
        self.lock().transitions.clone()
    }

    fn applied(&self, plan: &Plan) {
        let mut inner = self.lock();
        for transition in &plan.transitions {
            *inner.transitions.entry(transition.kind).or_insert(0) += 1;
        }
    }

    /// Notifications kept from being announced so far.
    pub fn unannounced(&self) -> Unannounced {
        self.lock().notes.clone()
    }

    /// Decides the fate of one store call: `Err` before it, `Ok(true)` to fail after it.
    fn store_fault(&self, op: &'static str, write: bool) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let rate = inner.rates.store_transient;
        if rate <= 0.0 || unit(&mut inner.rng) >= rate {
            return Ok(false);
        }
        let after = write && unit(&mut inner.rng) < inner.rates.after_write;
        let counter = if after {
            &mut inner.counts.after_write
        } else {
            &mut inner.counts.transient
        };
        *counter.entry(op).or_insert(0) += 1;
        if after {
            Ok(true)
        } else {
            Err(injected(op))
        }
    }
}

fn injected(op: &str) -> StoreError {
    StoreError::Transient(format!("injected fault on {op}"))
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(state: &mut u64) -> f64 {
    (splitmix(state) >> 11) as f64 / (1u64 << 53) as f64
}

fn seqs(player_id: &str, notifications: &[Notification]) -> Vec<(String, u64)> {
    notifications
        .iter()
        .map(|n| (player_id.to_owned(), n.seq))
        .collect()
}

/// A store with injected faults; see the module documentation.
pub struct ChaosStore<S> {
    inner: Arc<S>,
    chaos: Arc<Chaos>,
}

impl<S> ChaosStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<S>, chaos: Arc<Chaos>) -> ChaosStore<S> {
        ChaosStore { inner, chaos }
    }
}

/// Runs a write with a possible fault before or after it.
macro_rules! write_op {
    ($self:ident, $op:literal, $call:expr) => {{
        tokio::task::yield_now().await;
        let late = $self.chaos.store_fault($op, true)?;
        let result = $call;
        if late && result.is_ok() {
            return Err(injected($op));
        }
        result
    }};
}

/// Runs a read with a possible fault before it.
macro_rules! read_op {
    ($self:ident, $op:literal, $call:expr) => {{
        tokio::task::yield_now().await;
        $self.chaos.store_fault($op, false)?;
        $call
    }};
}

#[async_trait]
impl<S: GameStore + Send + Sync + 'static> GameStore for ChaosStore<S> {
    /// A fault fails the whole call (what throttling does); players the inner store cannot read
    /// are passed on as its `unreadable`.
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        read_op!(
            self,
            "load_players",
            self.inner.load_players(player_ids).await
        )
    }

    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError> {
        write_op!(self, "create_player", self.inner.create_player(state).await)
    }

    async fn commit(&self, plan: &Plan, after: &PlayerState) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        let player_id = after.player.player_id.as_str();
        if self.chaos.chance(self.chaos.rates().conflict) {
            self.chaos.lock().counts.injected_conflicts += 1;
            return Err(StoreError::Conflict("injected conflict".into()));
        }
        let late = self.chaos.store_fault("commit", true)?;
        let result = self.inner.commit(plan, after).await;
        if result.is_ok() {
            self.chaos.applied(plan);
        }
        match &result {
            Err(StoreError::Conflict(_)) => self.chaos.lock().counts.real_conflicts += 1,
            Err(_) => {}
            Ok(()) if late => {
                let mut inner = self.chaos.lock();
                inner
                    .notes
                    .commit_timed_out
                    .extend(seqs(player_id, &plan.notifications));
                return Err(injected("commit"));
            }
            Ok(()) => {
                let crash = self.chaos.chance(self.chaos.rates().crash);
                if crash && !plan.notifications.is_empty() {
                    let mut inner = self.chaos.lock();
                    inner.counts.crashes += 1;
                    inner
                        .notes
                        .crashed
                        .extend(seqs(player_id, &plan.notifications));
                }
            }
        }
        result
    }

    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError> {
        read_op!(
            self,
            "load_task",
            self.inner.load_task(player_id, task_id).await
        )
    }

    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        read_op!(
            self,
            "due_players",
            self.inner.due_players(shard, now, cursor).await
        )
    }
}

#[async_trait]
impl<S: ConnectionStore + Send + Sync + 'static> ConnectionStore for ChaosStore<S> {
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        write_op!(
            self,
            "put_connection",
            self.inner.put_connection(connection).await
        )
    }

    async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        read_op!(
            self,
            "get_connection",
            self.inner.get_connection(connection_id).await
        )
    }

    async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        write_op!(
            self,
            "delete_connection",
            self.inner.delete_connection(connection_id).await
        )
    }

    async fn delete_connection_if(&self, connection: &Connection) -> Result<bool, StoreError> {
        write_op!(
            self,
            "delete_connection_if",
            self.inner.delete_connection_if(connection).await
        )
    }

    async fn player_connections(&self, player_id: &str) -> Result<Vec<Connection>, StoreError> {
        read_op!(
            self,
            "player_connections",
            self.inner.player_connections(player_id).await
        )
    }

    async fn scan_connections(
        &self,
        cursor: Option<String>,
    ) -> Result<Page<Connection>, StoreError> {
        read_op!(
            self,
            "scan_connections",
            self.inner.scan_connections(cursor).await
        )
    }
}

#[async_trait]
impl<S: Inbox + Send + Sync + 'static> Inbox for ChaosStore<S> {
    async fn store(
        &self,
        player_id: &str,
        notifications: &[Notification],
        expires_at: i64,
    ) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        let keys = seqs(player_id, notifications);
        let kept: Vec<Notification> = {
            let inner = self.chaos.lock();
            notifications
                .iter()
                .filter(|n| !inner.notes.crashed.contains(&(player_id.to_owned(), n.seq)))
                .cloned()
                .collect()
        };
        if kept.len() < notifications.len() {
            // A crashed commit never reaches its delivery; store only the others.
            if !kept.is_empty() {
                self.inner.store(player_id, &kept, expires_at).await?;
            }
            return Err(StoreError::Transient(
                "crashed before the announcement".into(),
            ));
        }
        match self.chaos.store_fault("inbox_store", true) {
            Err(e) => {
                self.chaos.lock().notes.inbox_failed.extend(keys);
                Err(e)
            }
            Ok(late) => {
                self.inner
                    .store(player_id, notifications, expires_at)
                    .await?;
                if late {
                    return Err(injected("inbox_store"));
                }
                Ok(())
            }
        }
    }

    async fn kept_after(
        &self,
        player_id: &str,
        after_seq: u64,
        now: Millis,
        limit: usize,
    ) -> Result<Kept, StoreError> {
        read_op!(
            self,
            "inbox_kept_after",
            self.inner
                .kept_after(player_id, after_seq, now, limit)
                .await
        )
    }
}

/// The player a harness connection id belongs to: ids are `player~n`.
pub fn connection_player(connection_id: &str) -> &str {
    connection_id
        .rsplit_once('~')
        .map_or(connection_id, |(p, _)| p)
}

/// The gateway with injected post failures; crashed notifications are never posted.
pub struct ChaosNotifier {
    inner: Arc<MemoryNotifier>,
    chaos: Arc<Chaos>,
}

impl ChaosNotifier {
    /// Wraps `inner`.
    pub fn new(inner: Arc<MemoryNotifier>, chaos: Arc<Chaos>) -> ChaosNotifier {
        ChaosNotifier { inner, chaos }
    }
}

#[async_trait]
impl Notifier for ChaosNotifier {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PostError> {
        tokio::task::yield_now().await;
        // Durable notifications only: a `snapshot` carries the player's `seq` too.
        let seq = serde_json::from_slice::<Notification>(payload)
            .ok()
            .map(|n| n.seq);
        let key = seq.map(|s| (connection_player(connection_id).to_owned(), s));
        if let Some(key) = &key {
            if self.chaos.lock().notes.crashed.contains(key) {
                return Err(PostError::Transient(
                    "crashed before the announcement".into(),
                ));
            }
        }
        if self.chaos.chance(self.chaos.rates().post_failure) {
            let mut inner = self.chaos.lock();
            inner.counts.post_failures += 1;
            if let Some(key) = key {
                inner.notes.post_failed.insert(key);
            }
            return Err(PostError::Transient("injected post failure".into()));
        }
        self.inner.post(connection_id, payload).await
    }

    async fn connection_info(&self, connection_id: &str) -> Result<ConnectionInfo, PostError> {
        self.inner.connection_info(connection_id).await
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        self.inner.close(connection_id).await
    }
}
