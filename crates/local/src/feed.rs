//! The change feed: what the Tasks table's stream and its event source mapping are to the
//! deployed processor. History changes are taken from the store every poll, filtered as the
//! template's `FilterCriteria` filters them (INSERT records only), and handed to
//! `handlers::task_stream_json` as a stream event of at most [`BATCH_SIZE`] records. Records
//! reported in `batchItemFailures` are delivered again from the lowest one, as Lambda does,
//! up to [`MAX_ATTEMPTS`] times.

use std::sync::Arc;
use std::time::Duration;

use idle_app::handlers;
use idle_app::memory::{stream_event, HistoryChange, MemoryStore};
use idle_app::Services;
use tokio::sync::watch;
use tokio::time::Instant;

/// Records per invocation (the event source mapping's `BatchSize`).
pub const BATCH_SIZE: usize = 100;
/// Deliveries of a failing batch before its records are dropped (`MaximumRetryAttempts`).
pub const MAX_ATTEMPTS: u32 = 5;
/// Wait before a failed batch is delivered again.
pub const RETRY_DELAY: Duration = Duration::from_millis(500);

/// True for the records the processor's `FilterCriteria` lets through: inserts.
pub fn passes_filter(change: &HistoryChange) -> bool {
    change.old.is_none()
}

/// The feed's state between polls: records not yet delivered successfully.
#[derive(Debug, Default)]
pub struct Feed {
    pending: Vec<HistoryChange>,
    attempts: u32,
    retry_at: Option<Instant>,
}

impl Feed {
    /// Takes new changes from `store` and delivers what is due. Returns how many records were
    /// handed to the processor.
    pub async fn poll(&mut self, services: &Services, store: &MemoryStore) -> usize {
        self.pending
            .extend(store.take_changes().into_iter().filter(passes_filter));
        if self.pending.is_empty() || self.retry_at.is_some_and(|at| Instant::now() < at) {
            return 0;
        }
        let count = self.pending.len().min(BATCH_SIZE);
        let batch = &self.pending[..count];
        let response = handlers::task_stream_json(services, stream_event(batch)).await;
        let lowest_failure = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref()?.parse::<u64>().ok())
            .min();
        match lowest_failure {
            None => {
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
                        "stream batch still failing; dropping it (the ticker still wakes due players)"
                    );
                    self.pending.drain(..count);
                    self.attempts = 0;
                    self.retry_at = None;
                } else {
                    // Lambda resumes at the lowest failed record; everything after it is redone.
                    let done = batch.iter().take_while(|c| c.sequence < lowest).count();
                    self.pending.drain(..done);
                    self.retry_at = Some(Instant::now() + RETRY_DELAY);
                    tracing::warn!(
                        from_sequence = lowest,
                        attempt = self.attempts,
                        "stream batch reported failures; delivering again"
                    );
                }
            }
        }
        count
    }
}

/// Polls the feed every `every` until `shutdown` turns true.
pub async fn run(
    services: Arc<Services>,
    store: Arc<MemoryStore>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut feed = Feed::default();
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => break,
        }
        feed.poll(&services, &store).await;
    }
}

#[cfg(test)]
mod tests {
    use idle_app::auth::{mint, DEV_TOKEN_SECRET};
    use idle_app::memory::{Fault, MemoryWorld, StoreOp};
    use idle_app::ports::StoreError;
    use idle_app::usecase;
    use idle_core::model::TaskStatus;

    use super::*;
    use crate::settings::app_config;

    const T0: i64 = 1_800_000_000_000;

    #[tokio::test]
    async fn a_batch_reported_failed_is_delivered_again_and_then_starts_the_task() {
        // Given a player who queued a task, with the feed on
        let config = app_config(|_| None).unwrap();
        let world = MemoryWorld::new(T0, config.wake_shards);
        world.store.enable_change_feed();
        let services = world.services(config);
        let token = mint(
            DEV_TOKEN_SECRET.as_bytes(),
            "feed-player",
            Duration::from_secs(600),
            false,
            T0,
        )
        .unwrap();
        usecase::connect(&services, "c1", Some(&token))
            .await
            .unwrap();
        let body = r#"{"action":"enqueue","request_id":"r1","task":{"activity":"combat","enemy":"chicken","quantity":1}}"#;
        usecase::message(&services, "c1", body).await;
        let mut feed = Feed::default();

        // When the processor's reads keep failing transiently through its own retries
        world.store.inject(Fault::always(
            StoreOp::LoadPlayers,
            StoreError::Transient("throttled".into()),
        ));
        assert_eq!(feed.poll(&services, &world.store).await, 1);
        let queued = world.store.player("feed-player").unwrap();
        assert_eq!(queued.queue[0].status, TaskStatus::Queued);

        // Then the record waits out the retry delay and is delivered again, starting the task
        assert_eq!(
            feed.poll(&services, &world.store).await,
            0,
            "not before the delay"
        );
        world.store.clear_faults();
        tokio::time::sleep(RETRY_DELAY + Duration::from_millis(50)).await;
        assert_eq!(feed.poll(&services, &world.store).await, 1);
        let started = world.store.player("feed-player").unwrap();
        assert_eq!(started.queue[0].status, TaskStatus::Running);
        assert_eq!(feed.poll(&services, &world.store).await, 0, "nothing left");
    }
}
