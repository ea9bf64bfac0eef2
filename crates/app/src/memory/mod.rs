//! In-memory adapters with DynamoDB's and API Gateway's semantics, for tests, the soak test and
//! the local runtime. State lives behind `std::sync::Mutex`es that are never held across an
//! `.await`.

mod catalogs;
mod clock;
mod faults;
mod feed;
mod notifier;
mod store;
mod waker;

use std::sync::Arc;

use idle_core::model::Millis;

pub use catalogs::MemoryCatalogs;
pub use clock::ManualClock;
pub use faults::{Fault, FaultyStore, StoreOp};
pub use feed::stream_event;
pub use notifier::MemoryNotifier;
pub use store::{
    MemoryStore, SnapshotInboxRow, SnapshotOutbox, SnapshotPlayer, StoreSnapshot, DEFAULT_PAGE_SIZE,
};
pub use waker::MemoryWaker;

use crate::config::AppConfig;
use crate::handlers;
use crate::ports::Clock;
use crate::services::Services;
use crate::usecase::BatchReport;

/// One in-memory world: the store, the gateway and the clock, shared with the [`Services`] built
/// from it so a test can act through the use cases and look at the adapters. The services reach
/// the store through `faults`, where a test injects failures and counts calls.
#[derive(Debug, Clone)]
pub struct MemoryWorld {
    pub store: Arc<MemoryStore>,
    /// The store as the services see it: `store` behind the test's fault rules.
    pub faults: Arc<FaultyStore<MemoryStore>>,
    /// The catalogs every [`Services`] built from this world registers its own in.
    pub catalogs: Arc<MemoryCatalogs>,
    pub notifier: Arc<MemoryNotifier>,
    pub clock: Arc<ManualClock>,
    pub waker: Arc<MemoryWaker>,
}

impl MemoryWorld {
    /// An empty world at time `now` whose wake index has `wake_shards` shards.
    pub fn new(now: Millis, wake_shards: u32) -> MemoryWorld {
        let store = Arc::new(MemoryStore::new(wake_shards));
        MemoryWorld {
            faults: Arc::new(FaultyStore::new(store.clone())),
            store,
            catalogs: Arc::new(MemoryCatalogs::new()),
            notifier: Arc::new(MemoryNotifier::new()),
            clock: Arc::new(ManualClock::new(now)),
            waker: Arc::new(MemoryWaker::new()),
        }
    }

    /// Services over this world. The store's shard count should match `config.wake_shards`.
    /// Their catalog is stored in the world's catalog store at once, as the local runtime does
    /// at start (a Lambda stores it before its first write that names it,
    /// [`Services::register_catalog`]).
    pub fn services(&self, config: AppConfig) -> Services {
        let catalog = &config.catalog;
        match serde_json::to_string(catalog.catalog()) {
            Ok(json) => {
                if let Err(error) = self.catalogs.put_now(&catalog.hash(), &json) {
                    tracing::error!(%error, "the services' catalog could not be stored");
                }
            }
            Err(error) => tracing::error!(%error, "the services' catalog does not serialise"),
        }
        Services::new(
            config,
            self.faults.clone(),
            self.faults.clone(),
            self.faults.clone(),
            self.notifier.clone(),
            self.clock.clone(),
            self.waker.clone(),
        )
        .with_catalog_store(self.catalogs.clone())
    }

    /// Performs the outboxes committed so far, in commit order, through the stream handler (as
    /// the Players table's stream would): posts, kept notifications, history, wake-ups.
    pub async fn perform(&self, services: &Services) -> BatchReport {
        let records = self.store.take_outboxes();
        let event = stream_event(&records);
        let mut report = BatchReport::default();
        if !records.is_empty() {
            report = handlers::player_stream_report(services, event).await;
        }
        report
    }

    /// Performs outboxes and fires the wake-ups due at the clock's time until nothing is left
    /// to do: what the stream and the timer do between two steps of a test.
    pub async fn settle(&self, services: &Services) {
        for _ in 0..1000 {
            let performed = self.perform(services).await.records;
            let due = self.waker.take_due(self.clock.now());
            for (at, player_id) in &due {
                // A failed wake-up is dropped, as a lost SQS message would be: the ticker's
                // sweep is the safety net, and tests that inject faults tick by hand.
                let _ = crate::usecase::wake(services, player_id, *at).await;
            }
            if performed == 0 && due.is_empty() {
                return;
            }
        }
    }
}
