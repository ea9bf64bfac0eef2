//! In-memory adapters with DynamoDB's and API Gateway's semantics, for tests, the soak test and
//! the local runtime. State lives behind `std::sync::Mutex`es that are never held across an
//! `.await`.

mod clock;
mod faults;
mod feed;
mod notifier;
mod store;

use std::sync::Arc;

use idle_core::model::Millis;

pub use clock::ManualClock;
pub use faults::{Fault, RandomFaults, StoreOp};
pub use feed::stream_event;
pub use notifier::MemoryNotifier;
pub use store::{
    HistoryChange, MemoryStore, SnapshotInboxRow, SnapshotPlayer, StoreSnapshot, DEFAULT_PAGE_SIZE,
};

use crate::config::AppConfig;
use crate::services::Services;

/// One in-memory world: the store, the gateway and the clock, shared with the [`Services`] built
/// from it so a test can act through the use cases and look at the adapters.
#[derive(Debug, Clone)]
pub struct MemoryWorld {
    pub store: Arc<MemoryStore>,
    pub notifier: Arc<MemoryNotifier>,
    pub clock: Arc<ManualClock>,
}

impl MemoryWorld {
    /// An empty world at time `now` whose wake index has `wake_shards` shards.
    pub fn new(now: Millis, wake_shards: u32) -> MemoryWorld {
        MemoryWorld {
            store: Arc::new(MemoryStore::new(wake_shards)),
            notifier: Arc::new(MemoryNotifier::new()),
            clock: Arc::new(ManualClock::new(now)),
        }
    }

    /// Services over this world. The store's shard count should match `config.wake_shards`.
    pub fn services(&self, config: AppConfig) -> Services {
        Services::new(
            config,
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.notifier.clone(),
            self.clock.clone(),
        )
    }
}
