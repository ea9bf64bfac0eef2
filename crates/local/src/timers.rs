//! The scheduled functions on timers: the ticker (EventBridge's `rate(1 minute)` in AWS; much
//! more often here, so tasks complete close to their end) and the connection cleaner.

use std::sync::Arc;
use std::time::Duration;

use idle_app::handlers;
use idle_app::Services;
use tokio::sync::watch;

use crate::events::schedule_event;

/// Runs `handlers::task_tick` at once and then every `every` until `shutdown` turns true.
pub async fn ticker(services: Arc<Services>, every: Duration, shutdown: watch::Receiver<bool>) {
    repeat(Duration::ZERO, every, shutdown, || {
        let services = services.clone();
        async move {
            let event = schedule_event("task-ticker", services.clock.now());
            let report = handlers::task_tick(&services, event).await;
            if report.errors > 0 {
                tracing::warn!(?report, "tick had errors");
            } else if report.advanced > 0 {
                tracing::debug!(?report, "tick");
            }
        }
    })
    .await;
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
