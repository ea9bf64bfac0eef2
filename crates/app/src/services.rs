//! Everything a use case needs, built once per process (a Lambda's cold start).

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use idle_core::Game;

use crate::catalogs::Catalogs;
use crate::config::AppConfig;
use crate::memory::MemoryCatalogs;
use crate::metrics::{Metrics, MetricsSink};
use crate::ports::{
    CatalogStore, Clock, ConnectionStore, GameStore, Inbox, Notifier, StoreError, Waker,
};

/// The game rules, the ports and the settings. Cheap to share behind an `Arc`.
pub struct Services {
    /// The catalog with the configured limits, retry policy and seed secret, built on first
    /// use ([`LazyGame`]).
    pub game: LazyGame,
    /// Players, their queues and the task history.
    pub store: Arc<dyn GameStore>,
    /// Every catalog the deployment has served, by content hash, and those this process has
    /// loaded: tasks that started under an earlier catalog complete under it.
    pub catalogs: Catalogs,
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
    /// The catalog store is a private in-memory one until [`Services::with_catalog_store`]
    /// names the deployment's.
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
            game: LazyGame::new(&config),
            store,
            catalogs: Catalogs::new(Arc::new(MemoryCatalogs::new())),
            connections,
            inbox,
            notifier,
            clock,
            waker,
            config,
            metrics: Metrics::default(),
        }
    }

    /// The same services over the deployment's catalog store (DynamoDB's Catalogs table,
    /// SQLite's `catalogs`), nothing loaded from it yet.
    pub fn with_catalog_store(mut self, store: Arc<dyn CatalogStore>) -> Services {
        self.catalogs = Catalogs::new(store);
        self
    }

    /// Stores the current catalog in the catalog store under its content hash unless it is
    /// there, once per process ([`Catalogs::register`]: after a success, a call returns at
    /// once). A player write that names the catalog awaits it first (`update_player`), so
    /// nothing this process writes names a catalog the store lacks, and a process that starts
    /// and settles no task never writes it (the Lambdas: nothing at init). The local runtime
    /// calls it before it starts (an error stops the start). Returns true when this call
    /// stored it.
    ///
    /// # Errors
    /// The store's ([`Catalogs::register`]); the next call tries again.
    pub async fn register_catalog(&self) -> Result<bool, StoreError> {
        self.catalogs
            .register(self.game.catalog, &self.game.catalog_hash)
            .await
    }

    /// The same services with metrics flushed to `sink` (the Lambda mains use stdout).
    pub fn with_metrics(mut self, sink: MetricsSink) -> Services {
        self.metrics = Metrics::new(sink);
        self
    }
}

/// The game rules of a [`Services`] ([`AppConfig::game`]), built on first use and kept: a
/// process whose events never compute an outcome or name the catalog (a stream batch, an idle
/// tick, a disconnect, a message on an unknown connection) never parses or hashes the embedded
/// catalog, which was half of the processor's init otherwise (docs/performance.md, "Fourth
/// round"). Dereferences to the [`Game`].
pub struct LazyGame {
    game: OnceLock<Game<'static>>,
    config: AppConfig,
}

impl LazyGame {
    /// The game of `config`, not built yet.
    pub fn new(config: &AppConfig) -> LazyGame {
        LazyGame {
            game: OnceLock::new(),
            config: config.clone(),
        }
    }

    /// Whether it has been built (by a dereference).
    pub fn is_built(&self) -> bool {
        self.game.get().is_some()
    }

    /// Awaits `read` (a store read whose caller needs the game next) and, the first time, builds
    /// the game while the read waits for its answer instead of after it: a yield first lets the
    /// runtime's other tasks run (the HTTP connection's, which writes the request `read` handed
    /// it), then the game is built before `read` is polled again. On AWS the build hides behind
    /// DynamoDB's milliseconds; whatever the order the runtime picks, the result is the same.
    pub async fn build_while<T>(&self, read: impl Future<Output = T>) -> T {
        if self.is_built() {
            return read.await;
        }
        let build = async {
            tokio::task::yield_now().await;
            let _built: &Game<'static> = self;
        };
        futures::future::join(read, build).await.0
    }
}

impl Deref for LazyGame {
    type Target = Game<'static>;

    fn deref(&self) -> &Game<'static> {
        self.game.get_or_init(|| self.config.game())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_that_waits_finds_the_game_built_when_it_resumes() {
        let game = LazyGame::new(&AppConfig::default());
        // A read whose answer takes longer than one yield of the runtime.
        let read = async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            game.is_built()
        };
        assert!(game.build_while(read).await, "built while the read waited");

        // Once built, a read runs alone and nothing is built again.
        assert_eq!(game.build_while(async { 7 }).await, 7);
        assert!(game.is_built());
    }
}
