//! The outbox feed: what the Players table's stream and its event source mapping are to the
//! deployed processor. Every committed non-empty outbox is taken from the store in commit order
//! ([`OutboxSource::take_outboxes`]) and handed to `handlers::task_processor` as a stream event
//! of at most [`BATCH_SIZE`] records ([`stream_event`]), one batch at a time, so one player's
//! outboxes are performed strictly in order (within a batch `perform_batch` keeps each player's
//! records in order) and its notifications reach every connection in `seq` order. Records
//! reported in `batchItemFailures` are delivered again from the lowest one, as Lambda does, up
//! to [`MAX_ATTEMPTS`] times.
//!
//! The feed does not poll: the store the services write through ([`CommitSignal`]) wakes it on
//! every commit, so an outbox is performed as soon as it is committed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use idle_app::handlers;
use idle_app::memory::{stream_event, MemoryStore};
use idle_app::outbox::{Commit, OutboxRecord};
use idle_app::ports::{GameStore, Loaded, Page, StoreError};
use idle_app::state::PlayerState;
use idle_app::Services;
use idle_core::model::{Millis, Task};
use idle_sqlite::SqliteStore;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Records per invocation (the event source mapping's `BatchSize`).
pub const BATCH_SIZE: usize = 100;
/// Deliveries of a failing batch before its records are dropped (`MaximumRetryAttempts`).
pub const MAX_ATTEMPTS: u32 = 5;
/// Wait before a failed batch is delivered again.
pub const RETRY_DELAY: Duration = Duration::from_millis(500);

/// A store whose committed outboxes the runtime performs, as a stream keeps records until they
/// are processed: taken in commit order, reported performed, and those never reported given
/// back after a restart (performing is idempotent).
pub trait OutboxSource: Send + Sync {
    /// The non-empty outboxes committed since the last call, in commit order.
    fn take_outboxes(&self) -> Vec<OutboxRecord>;
    /// Every committed outbox not reported performed, in commit order.
    fn unperformed_outboxes(&self) -> Vec<OutboxRecord>;
    /// Reports outboxes performed: a restart need not perform them again.
    fn performed(&self, records: &[OutboxRecord]);
}

impl OutboxSource for SqliteStore {
    fn take_outboxes(&self) -> Vec<OutboxRecord> {
        SqliteStore::take_outboxes(self)
    }

    fn unperformed_outboxes(&self) -> Vec<OutboxRecord> {
        self.last_outboxes().unwrap_or_else(|error| {
            tracing::error!(%error, "could not read the outboxes not yet performed");
            Vec::new()
        })
    }

    fn performed(&self, records: &[OutboxRecord]) {
        let done: Vec<(String, u64)> = records
            .iter()
            .map(|r| (r.player_id.clone(), r.version))
            .collect();
        if let Err(error) = self.mark_performed(&done) {
            // Not fatal: the next start performs them again (idempotent).
            tracing::warn!(%error, "could not mark outboxes performed");
        }
    }
}

impl OutboxSource for MemoryStore {
    fn take_outboxes(&self) -> Vec<OutboxRecord> {
        MemoryStore::take_outboxes(self)
    }

    fn unperformed_outboxes(&self) -> Vec<OutboxRecord> {
        MemoryStore::unperformed_outboxes(self)
    }

    fn performed(&self, records: &[OutboxRecord]) {
        for record in records {
            MemoryStore::performed(self, &record.player_id, record.version);
        }
    }
}

/// The feed's state between deliveries: records not yet performed successfully, in commit
/// order.
#[derive(Debug, Default)]
pub struct Feed {
    pending: Vec<OutboxRecord>,
    attempts: u32,
    retry_at: Option<Instant>,
}

impl Feed {
    /// A feed that first performs `records` (at start: the outboxes committed and not reported
    /// performed before the process stopped; performing is idempotent).
    pub(crate) fn resuming(records: Vec<OutboxRecord>) -> Feed {
        Feed {
            pending: records,
            ..Feed::default()
        }
    }

    /// Records taken and not yet performed.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// When a failed batch is due again, if one is waiting.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Takes newly committed outboxes from `store` and delivers one batch if one is due.
    /// Returns how many records were handed to the processor.
    pub async fn poll(&mut self, services: &Services, store: &dyn OutboxSource) -> usize {
        self.pending.extend(store.take_outboxes());
        if self.pending.is_empty() || self.retry_at.is_some_and(|at| Instant::now() < at) {
            return 0;
        }
        let count = self.pending.len().min(BATCH_SIZE);
        let batch = &self.pending[..count];
        let response = handlers::task_processor(services, stream_event(batch)).await;
        let lowest_failure = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref()?.parse::<u64>().ok())
            .min();
        match lowest_failure {
            None => {
                store.performed(&self.pending[..count]);
                self.pending.drain(..count);
                self.attempts = 0;
                self.retry_at = None;
            }
            Some(lowest) => {
                self.attempts += 1;
                if self.attempts >= MAX_ATTEMPTS {
                    tracing::error!(
                        records = count,
                        attempts = self.attempts,
                        "outbox batch still failing; dropping it (the ticker still advances \
                         due players, and sync shows their state)"
                    );
                    self.pending.drain(..count);
                    self.attempts = 0;
                    self.retry_at = None;
                } else {
                    // Lambda resumes at the lowest failed record; everything after it is redone.
                    let done = batch.iter().take_while(|r| sequence(r) < lowest).count();
                    store.performed(&self.pending[..done]);
                    self.pending.drain(..done);
                    self.retry_at = Some(Instant::now() + RETRY_DELAY);
                    tracing::warn!(
                        from_sequence = lowest,
                        attempt = self.attempts,
                        "outbox batch reported failures; delivering again"
                    );
                }
            }
        }
        count
    }

    /// Delivers batches until nothing is left or a failed batch must wait for its retry.
    pub async fn drain(&mut self, services: &Services, store: &dyn OutboxSource) {
        while self.poll(services, store).await > 0 {}
    }
}

/// A record's sequence number as a number.
fn sequence(record: &OutboxRecord) -> u64 {
    record.sequence_number.parse().unwrap_or(0)
}

/// Performs outboxes as they are committed (woken by `commits`), until `shutdown` turns true;
/// then performs what is left (a failed batch waiting for its retry is left to the restart,
/// which performs the outboxes not reported performed).
pub async fn run(
    services: Arc<Services>,
    store: Arc<dyn OutboxSource>,
    mut feed: Feed,
    commits: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        feed.drain(&services, store.as_ref()).await;
        // A commit between the drain and this wait leaves a permit: `notified` returns at once.
        let retry = feed.retry_at();
        tokio::select! {
            _ = commits.notified() => {}
            _ = async { tokio::time::sleep_until(retry?).await; Some(()) }, if retry.is_some() => {}
            _ = shutdown.changed() => break,
        }
    }
    feed.drain(&services, store.as_ref()).await;
}

/// The store as the services see it, with a signal after every commit so
/// the feed performs the outbox at once (the local runtime's version of the stream's trigger).
/// Everything else goes straight through.
pub struct CommitSignal {
    store: Arc<dyn GameStore>,
    commits: Arc<Notify>,
}

impl std::fmt::Debug for CommitSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitSignal").finish_non_exhaustive()
    }
}

impl CommitSignal {
    /// Wraps `store`; every commit notifies `commits`.
    pub fn new(store: Arc<dyn GameStore>, commits: Arc<Notify>) -> CommitSignal {
        CommitSignal { store, commits }
    }
}

#[async_trait]
impl GameStore for CommitSignal {
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        self.store.load_players(player_ids).await
    }

    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError> {
        self.store.create_player(state).await
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let result = self.store.commit(commit).await;
        // Also after an error: a write that failed after being applied is on the feed too.
        self.commits.notify_one();
        result
    }

    async fn put_history(&self, tasks: &[Task]) -> Result<(), StoreError> {
        self.store.put_history(tasks).await
    }

    async fn put_audit(&self, records: &[idle_core::model::AuditRecord]) -> Result<(), StoreError> {
        self.store.put_audit(records).await
    }

    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError> {
        self.store.load_task(player_id, task_id).await
    }

    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        self.store.due_players(shard, now, cursor).await
    }
}

#[cfg(test)]
mod tests {
    use idle_app::memory::{Fault, MemoryWorld, StoreOp};
    use idle_app::ports::Inbox;
    use idle_app::usecase;
    use idle_core::protocol::Notification;
    use idle_testing::tokens::dev_token;

    use super::*;
    use crate::settings::app_config;

    const T0: i64 = 1_800_000_000_000;

    fn seqs(posts: &[String]) -> Vec<u64> {
        posts
            .iter()
            .filter_map(|p| serde_json::from_str::<Notification>(p).ok())
            .map(|n| n.seq)
            .collect()
    }

    /// A world with `player` connected on `c1`, who enqueued `tasks` one-action combats; their
    /// outboxes are committed and not yet performed.
    async fn enqueued(player: &str, tasks: usize) -> (MemoryWorld, Services) {
        let config = app_config(|_| None).unwrap();
        let world = MemoryWorld::new(T0, config.wake_shards);
        let services = world.services(config);
        let token = dev_token(player, Duration::from_secs(600), T0);
        usecase::connect(&services, "c1", Some(&token))
            .await
            .unwrap();
        world.notifier.open("c1", T0);
        for i in 0..tasks {
            let body = format!(
                r#"{{"action":"enqueue","request_id":"r{i}","task":{{"activity":"combat","enemy":"chicken","quantity":1}}}}"#
            );
            usecase::message(&services, "c1", &body).await;
        }
        (world, services)
    }

    #[tokio::test]
    async fn committed_outboxes_are_performed_in_commit_order_once() {
        // Given three enqueues whose outboxes wait on the feed
        let (world, services) = enqueued("feed-order", 3).await;
        assert!(
            seqs(&world.notifier.posts("c1")).is_empty(),
            "not before the feed"
        );
        let mut feed = Feed::default();

        // When the feed delivers
        assert_eq!(feed.poll(&services, world.store.as_ref()).await, 3);

        // Then the connection has every seq of the three plans, in order, once
        let posted = seqs(&world.notifier.posts("c1"));
        let next_seq = world.store.player("feed-order").unwrap().player.next_seq;
        assert_eq!(posted, (1..next_seq).collect::<Vec<_>>());
        assert_eq!(
            feed.poll(&services, world.store.as_ref()).await,
            0,
            "nothing left"
        );
    }

    #[tokio::test]
    async fn a_batch_reported_failed_is_delivered_again_from_the_failure_in_order() {
        // Given an offline player with two enqueues on the feed, and an inbox that refuses the
        // first write (so the first outbox cannot be kept)
        let (world, services) = enqueued("feed-retry", 2).await;
        world.notifier.drop_connection("c1");
        usecase::disconnect(&services, "c1").await.unwrap();
        world.faults.inject(Fault::once(
            StoreOp::StoreInbox,
            StoreError::Transient("throttled".into()),
        ));
        let mut feed = Feed::default();

        // When the feed delivers: the first record fails, so the player's second waits too
        assert_eq!(feed.poll(&services, world.store.as_ref()).await, 2);
        assert_eq!(feed.pending(), 2, "both wait for the redelivery");
        let retry_at = feed.retry_at().expect("a retry is due");
        assert_eq!(
            feed.poll(&services, world.store.as_ref()).await,
            0,
            "not before the delay"
        );

        assert_eq!(
            world.store.unperformed_outboxes().len(),
            2,
            "none reported performed"
        );

        // Then, once the delay is over, both are performed in order and kept for sync
        tokio::time::sleep_until(retry_at).await;
        assert_eq!(feed.poll(&services, world.store.as_ref()).await, 2);
        assert_eq!(feed.pending(), 0);
        assert!(world.store.unperformed_outboxes().is_empty());
        let next_seq = world.store.player("feed-retry").unwrap().player.next_seq;
        let kept = world
            .store
            .kept_after("feed-retry", 0, T0, 100)
            .await
            .unwrap();
        let kept: Vec<u64> = kept.notifications.iter().map(|n| n.seq).collect();
        assert_eq!(kept, (1..next_seq).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn every_commit_through_the_signal_wakes_the_feed() {
        // Given the store behind a commit signal, and a player (created by its first write)
        let (world, services) = enqueued("feed-signal", 0).await;
        usecase::message(&services, "c1", r#"{"action":"ping"}"#).await;
        let commits = Arc::new(Notify::new());
        let store = CommitSignal::new(world.store.clone(), commits.clone());
        let state = world.store.player("feed-signal").unwrap();

        // When a commit goes through it
        let mut after = state.clone();
        after.player.version += 1;
        let commit = Commit {
            state: after,
            expected_version: Some(state.player.version),
            outbox: Default::default(),
        };
        store.commit(&commit).await.unwrap();

        // Then the feed's wait returns (the permit was left for it)
        commits.notified().await;
        assert_eq!(
            world.store.player("feed-signal").unwrap().player.version,
            state.player.version + 1
        );
    }
}
