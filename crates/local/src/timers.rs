//! Time in the local runtime: the precise wake-up timer (what the wake queue, SQS with
//! `DelaySeconds`, is to the deployed processor), and the scheduled functions on timers: the
//! ticker (EventBridge's `rate(1 minute)` in AWS, here only the safety net over the wake index)
//! and the connection cleaner.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use idle_app::handlers;
use idle_app::memory::MemoryWaker;
use idle_app::ports::{StoreError, Waker};
use idle_app::usecase;
use idle_app::Services;
use idle_core::model::Millis;
use tokio::sync::{watch, Notify};

use crate::events::schedule_event;

/// How long after a failed wake-up (trouble a later try may fix) it is tried again.
pub const WAKE_RETRY: Duration = Duration::from_secs(1);

/// How long the timer sleeps when nothing is armed (it is woken as soon as something is).
const IDLE_SLEEP: Duration = Duration::from_secs(3600);

/// The local runtime's [`Waker`]: the armed wake-ups ([`MemoryWaker`]) and a signal that wakes
/// the [`timer`] whenever one is armed, so it never sleeps past an earlier one.
#[derive(Debug, Default)]
pub struct LocalWaker {
    armed: MemoryWaker,
    armed_signal: Notify,
}

impl LocalWaker {
    pub fn new() -> LocalWaker {
        LocalWaker::default()
    }

    /// Every armed wake-up, earliest first.
    pub fn armed(&self) -> Vec<(Millis, String)> {
        self.armed.armed()
    }

    /// The earliest armed wake-up, if any.
    pub fn next_at(&self) -> Option<Millis> {
        self.armed.next_at()
    }

    /// Takes the wake-ups due at `now`, earliest first.
    pub fn take_due(&self, now: Millis) -> Vec<(Millis, String)> {
        self.armed.take_due(now)
    }
}

#[async_trait]
impl Waker for LocalWaker {
    async fn arm(&self, player_id: &str, at: Millis) -> Result<(), StoreError> {
        self.armed.arm(player_id, at).await?;
        // Always, not only when it is the earliest: checking that and inserting are not one
        // step, and a spurious wake only makes the timer look at the set and sleep again.
        self.armed_signal.notify_one();
        Ok(())
    }
}

/// The precise timer: sleeps until the earliest armed wake-up (woken early when one is armed),
/// then advances every player whose time has come with `usecase::wake`, at most
/// `config.player_concurrency` at a time, never before its time. A wake-up that fails for a
/// reason a later try may fix is armed again [`WAKE_RETRY`] later (the ticker's sweep is the
/// safety net behind it). Runs until `shutdown` turns true.
pub async fn timer(
    services: Arc<Services>,
    waker: Arc<LocalWaker>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let now = services.clock.now();
        let due = waker.take_due(now);
        if !due.is_empty() {
            wake_all(&services, &waker, due).await;
            continue;
        }
        // At least a millisecond, so the loop never spins; after waking it looks again, so a
        // wake-up is taken only once the clock has reached it.
        let sleep = waker.next_at().map_or(IDLE_SLEEP, |at| {
            Duration::from_millis(at.saturating_sub(now).max(1).unsigned_abs())
        });
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = waker.armed_signal.notified() => {}
            _ = shutdown.changed() => break,
        }
    }
}

/// Wakes each player once (a player armed for two times that are both due is advanced once,
/// to now, for the later of them), concurrently, bounded.
async fn wake_all(services: &Services, waker: &LocalWaker, due: Vec<(Millis, String)>) {
    let mut players: BTreeMap<String, Millis> = BTreeMap::new();
    for (at, player_id) in due {
        let latest = players.entry(player_id).or_insert(at);
        *latest = (*latest).max(at);
    }
    let failed = usecase::concurrently(services, players, |(player_id, at)| async move {
        match usecase::wake(services, &player_id, at).await {
            Ok(_) => None,
            Err(reason) => {
                tracing::warn!(%player_id, %reason, "wake-up failed; trying again shortly");
                Some(player_id)
            }
        }
    })
    .await;
    let retry_at = services
        .clock
        .now()
        .saturating_add(WAKE_RETRY.as_millis() as Millis);
    for player_id in failed.into_iter().flatten() {
        let _ = waker.arm(&player_id, retry_at).await;
    }
}

/// Runs `handlers::task_tick` every `every`, the first time `first` after the start, until
/// `shutdown` turns true. With the precise timer doing the work, the ticker is the safety net
/// (a wake-up lost with an outbox that was never performed), as it is on AWS.
pub async fn ticker(
    services: Arc<Services>,
    first: Duration,
    every: Duration,
    shutdown: watch::Receiver<bool>,
) {
    repeat(first, every, shutdown, || {
        let services = services.clone();
        async move { tick(&services).await }
    })
    .await;
}

/// One run of the ticker.
pub async fn tick(services: &Services) {
    let event = schedule_event("task-ticker", services.clock.now());
    let report = handlers::task_tick(services, event).await;
    if report.errors > 0 {
        tracing::warn!(?report, "tick had errors");
    } else if report.advanced > 0 {
        tracing::info!(?report, "the ticker advanced players the timer had not");
    }
}

/// Runs `handlers::connection_clean` every `every`, the first time `every` after the start,
/// until `shutdown` turns true.
pub async fn cleaner(services: Arc<Services>, every: Duration, shutdown: watch::Receiver<bool>) {
    // Connections do not survive a restart: a sweep at the start could only meet clients in
    // their first handshake, whose connections GetConnection answers Gone until it is done.
    repeat(every, every, shutdown, || {
        let services = services.clone();
        async move {
            let event = schedule_event("connection-cleaner", services.clock.now());
            let report = handlers::connection_clean(&services, event).await;
            if report.errors > 0 {
                tracing::warn!(?report, "sweep had errors");
            } else if report.expired + report.idle + report.gone > 0 {
                tracing::info!(?report, "connections cleaned");
            }
        }
    })
    .await;
}

/// Runs `run` after `first` and then every `every`.
async fn repeat<F, Fut>(
    first: Duration,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut run: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + first, every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => break,
        }
        run().await;
    }
}

#[cfg(test)]
mod tests {
    use idle_app::memory::MemoryWorld;
    use idle_testing::tokens::dev_token;

    use super::*;
    use crate::settings::app_config;

    const T0: Millis = 1_800_000_000_000;

    /// Waits until `done` holds (the timer runs on its own task), at most 10 s.
    async fn until(done: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "never happened");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn the_timer_fires_due_wake_ups_and_a_later_one_only_once_the_clock_reaches_it() {
        // Given a player running a task, its end armed on the timer, on a manual clock
        let config = app_config(|_| None).unwrap();
        let world = MemoryWorld::new(T0, config.wake_shards);
        let waker = Arc::new(LocalWaker::new());
        let services = Arc::new(Services::new(
            config,
            world.store.clone(),
            world.store.clone(),
            world.store.clone(),
            world.notifier.clone(),
            world.clock.clone(),
            waker.clone(),
        ));
        let token = dev_token("timer-player", Duration::from_secs(600), T0);
        usecase::connect(&services, "c1", Some(&token))
            .await
            .unwrap();
        let body = r#"{"action":"enqueue","request_id":"r1","task":{"activity":"combat","enemy":"chicken","quantity":1}}"#;
        usecase::message(&services, "c1", body).await;
        let running =
            |world: &MemoryWorld| !world.store.player("timer-player").unwrap().queue.is_empty();
        let ends_at = world.store.player("timer-player").unwrap().queue[0]
            .ends_at
            .unwrap();
        // (the enqueue armed its end with its write)
        assert_eq!(waker.armed(), [(ends_at, "timer-player".to_owned())]);
        let (stop, signal) = watch::channel(false);
        let task = tokio::spawn(timer(services.clone(), waker.clone(), signal));

        // When a due wake-up is armed for someone else
        waker.arm("someone-else", T0).await.unwrap();

        // Then that one is taken, and the task, not yet at its end, still runs
        until(|| waker.armed() == [(ends_at, "timer-player".to_owned())]).await;
        assert!(running(&world));

        // When the clock reaches the end (and anything arms, so the sleeping timer looks again)
        world.clock.set(ends_at);
        waker.arm("another", ends_at + 60_000).await.unwrap();

        // Then the player is advanced: the task is done
        until(|| !running(&world)).await;
        assert_eq!(waker.armed(), [(ends_at + 60_000, "another".to_owned())]);
        stop.send(true).unwrap();
        task.await.unwrap();
    }
}
