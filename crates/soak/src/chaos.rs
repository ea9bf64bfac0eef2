//! Fault injection around any store, the waker and the in-memory gateway.
//!
//! [`ChaosStore`] wraps a [`GameStore`] + [`ConnectionStore`] + [`Inbox`] (the in-memory store
//! or DynamoDB), [`ChaosWaker`] wraps a [`Waker`] and [`ChaosNotifier`] wraps the
//! [`MemoryNotifier`]. Every call first yields to the runtime, so handlers run with
//! `tokio::join!` really interleave (a wake-up, the ticker and a message for the same player
//! meet real conditional-write conflicts). Faults are drawn from one seeded generator and
//! counted by kind. Crashes (a commit written, then the process gone before its outbox is
//! performed) are injected by the driver's stream pump, which owns the outbox feed.
//!
//! The notifier given to the outbox processor is marked *live*: its posts of durable
//! notifications are logged in the global order of the attempts, with whether each reached the
//! connection ([`Chaos::live_posts`]), so the checks can tell two plans crossing on the wire
//! from a notification delivered again (at least once) after a failed post, or replayed by a
//! `sync` reply.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use idle_app::memory::MemoryNotifier;
use idle_app::outbox::Commit;
use idle_app::ports::{
    Connection, ConnectionInfo, ConnectionStore, GameStore, Inbox, Kept, Loaded, Notifier, Page,
    PostError, StoreError, Waker,
};
use idle_app::state::PlayerState;
use idle_core::model::{Millis, Task};
use idle_core::protocol::Notification;

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
    /// Per stream batch: the process dies after the batch's commits and before performing it.
    /// Every outbox record it had taken and not yet performed is dropped; the restart performs
    /// the store's unperformed outboxes ([`crate::Feed::restart`]), re-arms the stored wake
    /// times and runs one tick.
    pub crash: f64,
    /// Per round and online player: the client vanishes without `$disconnect` (posts to it are
    /// then 410 Gone) and comes back a few rounds later on a new connection.
    pub gone: f64,
    /// Per stream batch: after it succeeded, the stream goes back to its start and delivers it
    /// again with everything after it, in order (at least once, as a retried invocation whose
    /// first try was performed). DynamoDB Streams keep order per item, so an earlier batch is
    /// never delivered after a later one.
    pub replay: f64,
}

impl Default for FaultRates {
    fn default() -> Self {
        FaultRates {
            store_transient: 0.02,
            after_write: 0.3,
            conflict: 0.02,
            post_failure: 0.02,
            crash: 0.02,
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
    /// Crashes between commits and their outboxes being performed (injected by the pump).
    pub crashes: u64,
    /// Outbox records taken and not performed when a crash dropped them.
    pub crash_dropped_records: u64,
    /// Wake-ups that could not be armed (failed before or after arming).
    pub arm_failures: u64,
}

/// What the outbox processor did with a durable notification, in the global order of the
/// attempts: a post to a connection (and whether it reached it), or keeping it for `sync`
/// (`connection_id` `None`: no connection received it, or the connections could not be
/// listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePost {
    pub player_id: String,
    pub connection_id: Option<String>,
    pub seq: u64,
    pub delivered: bool,
}

struct Inner {
    rng: u64,
    rates: FaultRates,
    counts: FaultCounts,
    /// Every task id a committed write held (queued, running or finished), by player.
    tasks_seen: BTreeSet<(String, String)>,
    /// Finished tasks in committed outboxes' history records, by final status: a task finished
    /// by two writes counts twice.
    finished: BTreeMap<String, usize>,
    live_posts: Vec<LivePost>,
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
                tasks_seen: BTreeSet::new(),
                finished: BTreeMap::new(),
                live_posts: Vec::new(),
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

    /// What the committed writes did to tasks (a write whose answer was then lost included):
    /// `enqueued` is every distinct task id they held, and each final status counts the history
    /// records of the outboxes that finished a task with it.
    pub fn transitions(&self) -> BTreeMap<String, usize> {
        let inner = self.lock();
        let mut kinds = inner.finished.clone();
        kinds.insert("enqueued".to_owned(), inner.tasks_seen.len());
        kinds
    }

    fn applied(&self, commit: &Commit) {
        let mut inner = self.lock();
        let player = commit.player_id().to_owned();
        for task in commit.state.queue.iter().chain(&commit.outbox.history) {
            inner
                .tasks_seen
                .insert((player.clone(), task.task_id.clone()));
        }
        for task in &commit.outbox.history {
            *inner
                .finished
                .entry(task.status.as_str().to_owned())
                .or_insert(0) += 1;
        }
    }

    /// Counts a crash that dropped `records` taken outbox records.
    pub fn crashed(&self, records: usize) {
        let mut inner = self.lock();
        inner.counts.crashes += 1;
        inner.counts.crash_dropped_records += records as u64;
    }

    /// The outbox processor's posts of durable notifications, in the global order of the
    /// attempts.
    pub fn live_posts(&self) -> Vec<LivePost> {
        self.lock().live_posts.clone()
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

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        if self.chaos.chance(self.chaos.rates().conflict) {
            self.chaos.lock().counts.injected_conflicts += 1;
            return Err(StoreError::Conflict("injected conflict".into()));
        }
        let late = self.chaos.store_fault("commit", true)?;
        let result = self.inner.commit(commit).await;
        match &result {
            Ok(()) => self.chaos.applied(commit),
            Err(StoreError::Conflict(_)) => self.chaos.lock().counts.real_conflicts += 1,
            Err(_) => {}
        }
        if late && result.is_ok() {
            // Written, and its outbox is on the feed; the caller sees a failure.
            return Err(injected("commit"));
        }
        result
    }

    async fn put_history(&self, tasks: &[Task]) -> Result<(), StoreError> {
        write_op!(self, "put_history", self.inner.put_history(tasks).await)
    }

    async fn put_audit(&self, records: &[idle_core::model::AuditRecord]) -> Result<(), StoreError> {
        write_op!(self, "put_audit", self.inner.put_audit(records).await)
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

    async fn unlist_connection(
        &self,
        player_id: &str,
        connection_id: &str,
    ) -> Result<(), StoreError> {
        write_op!(
            self,
            "unlist_connection",
            self.inner.unlist_connection(player_id, connection_id).await
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
        expires_at: idle_core::model::EpochSecs,
    ) -> Result<(), StoreError> {
        // Only the outbox processor keeps notifications: log it as their handling.
        {
            let mut inner = self.chaos.lock();
            for n in notifications {
                inner.live_posts.push(LivePost {
                    player_id: player_id.to_owned(),
                    connection_id: None,
                    seq: n.seq,
                    delivered: false,
                });
            }
        }
        write_op!(
            self,
            "inbox_store",
            self.inner.store(player_id, notifications, expires_at).await
        )
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

/// The gateway with injected post failures.
pub struct ChaosNotifier {
    inner: Arc<MemoryNotifier>,
    chaos: Arc<Chaos>,
    /// The outbox processor's notifier: its durable posts are logged as live deliveries.
    live: bool,
}

impl ChaosNotifier {
    /// Wraps `inner` for the message handlers (replies, and `sync`'s kept notifications).
    pub fn new(inner: Arc<MemoryNotifier>, chaos: Arc<Chaos>) -> ChaosNotifier {
        ChaosNotifier {
            inner,
            chaos,
            live: false,
        }
    }

    /// Wraps `inner` for the outbox processor, logging its durable posts as live deliveries.
    pub fn live(inner: Arc<MemoryNotifier>, chaos: Arc<Chaos>) -> ChaosNotifier {
        ChaosNotifier {
            inner,
            chaos,
            live: true,
        }
    }
}

/// The `seq` of a durable notification, told by its type (a `snapshot` carries a `seq` too).
pub fn durable_seq(payload: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let durable = matches!(
        value["type"].as_str(),
        Some(
            "queue_updated"
                | "task_started"
                | "task_completed"
                | "chunk_settled"
                | "task_paused"
                | "task_failed"
                | "task_cancelled"
        )
    );
    durable.then(|| value["seq"].as_u64()).flatten()
}

#[async_trait]
impl Notifier for ChaosNotifier {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PostError> {
        tokio::task::yield_now().await;
        let logged = durable_seq(payload).filter(|_| self.live).map(|seq| {
            let mut inner = self.chaos.lock();
            inner.live_posts.push(LivePost {
                player_id: connection_player(connection_id).to_owned(),
                connection_id: Some(connection_id.to_owned()),
                seq,
                delivered: false,
            });
            inner.live_posts.len() - 1
        });
        if self.chaos.chance(self.chaos.rates().post_failure) {
            self.chaos.lock().counts.post_failures += 1;
            return Err(PostError::Transient("injected post failure".into()));
        }
        self.inner.post(connection_id, payload).await?;
        if let Some(i) = logged {
            self.chaos.lock().live_posts[i].delivered = true;
        }
        Ok(())
    }

    async fn connection_info(&self, connection_id: &str) -> Result<ConnectionInfo, PostError> {
        self.inner.connection_info(connection_id).await
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        self.inner.close(connection_id).await
    }
}

/// A waker with injected failures (as an SQS `SendMessage` fails): before arming, or after.
pub struct ChaosWaker<W> {
    inner: Arc<W>,
    chaos: Arc<Chaos>,
}

impl<W> ChaosWaker<W> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<W>, chaos: Arc<Chaos>) -> ChaosWaker<W> {
        ChaosWaker { inner, chaos }
    }
}

#[async_trait]
impl<W: Waker + 'static> Waker for ChaosWaker<W> {
    async fn arm(&self, player_id: &str, at: Millis) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        let late = match self.chaos.store_fault("arm", true) {
            Ok(late) => late,
            Err(error) => {
                self.chaos.lock().counts.arm_failures += 1;
                return Err(error);
            }
        };
        self.inner.arm(player_id, at).await?;
        if late {
            self.chaos.lock().counts.arm_failures += 1;
            return Err(injected("arm"));
        }
        Ok(())
    }
}
