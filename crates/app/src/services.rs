//! Everything a use case needs, built once per process (a Lambda's cold start).

use std::fmt;
use std::sync::Arc;

use idle_core::Game;

use crate::config::AppConfig;
use crate::metrics::{Metrics, MetricsSink};
use crate::ports::{Clock, ConnectionStore, GameStore, Inbox, Notifier, Waker};

/// The game rules, the ports and the settings. Cheap to share behind an `Arc`.
pub struct Services {
    /// The shipped catalog with the configured limits, retry policy and seed secret.
    pub game: Game<'static>,
    /// Players, their queues and the task history.
    pub store: Arc<dyn GameStore>,
    /// Open WebSocket connections.
    pub connections: Arc<dyn ConnectionStore>,
    /// Notifications waiting for offline players.
    pub inbox: Arc<dyn Inbox>,
    /// Posts to connections (API Gateway's `@connections`).
    pub notifier: Arc<dyn Notifier>,
    /// Server time; the only clock the use cases read.
    pub clock: Arc<dyn Clock>,
    /// Arms wake-ups (SQS on AWS, an in-process timer locally).
    pub waker: Arc<dyn Waker>,
    /// The deployment's settings.
    pub config: AppConfig,
    /// Counters of the current invocation, flushed as EMF by the handlers (off by default).
    pub metrics: Metrics,
}

impl Services {
    /// Builds the services; the game comes from the config (shipped catalog, limits, seed).
    pub fn new(
        config: AppConfig,
        store: Arc<dyn GameStore>,
        connections: Arc<dyn ConnectionStore>,
        inbox: Arc<dyn Inbox>,
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
        waker: Arc<dyn Waker>,
    ) -> Services {
        Services {
            game: config.game(),
            store,
            connections,
            inbox,
            notifier,
            clock,
            waker,
            config,
            metrics: Metrics::default(),
        }
    }

    /// The same services with metrics flushed to `sink` (the Lambda mains use stdout).
    pub fn with_metrics(mut self, sink: MetricsSink) -> Services {
        self.metrics = Metrics::new(sink);
        self
    }
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The game holds the seed secret: show only the config, whose secrets are redacted.
        f.debug_struct("Services")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
