//! A fault-injection soak of the idle-game backend.
//!
//! Thousands of players' tasks go through the real Lambda handlers (`ws_connect`, `ws_message`
//! with JSON bodies, `task_stream_json` fed from the store's change feed, `task_tick`) on a
//! [`ManualClock`](idle_app::memory::ManualClock), while [`chaos`] injects store failures,
//! timeouts after writes, conditional conflicts, failed and gone posts and crashes between a
//! commit and its announcement, and the stream delivers every batch twice and replays some out
//! of order. When time has run far past the last task, [`check`] verifies the invariants: every
//! task in exactly one final state, every grant equal to its replayed outcome and applied once,
//! inventories equal to the starter kit plus the tasks' ledgers, every notification delivered,
//! stored or accounted to an injected fault, nothing stuck.
//!
//! The driver is generic over the store, so the same soak runs against the in-memory store
//! ([`run_memory`]) and, in `crates/aws/tests`, against DynamoDB on moto.

pub mod chaos;
pub mod check;
pub mod driver;
pub mod report;

use std::sync::Arc;

use idle_app::memory::{stream_event, MemoryNotifier, MemoryStore};
use serde_json::Value;

pub use chaos::{Chaos, FaultRates};
pub use driver::{Feed, Soak, SoakConfig};
pub use report::Report;

/// The in-memory store's change feed, as the records of a Lambda stream event.
pub struct MemoryFeed {
    store: Arc<MemoryStore>,
}

impl MemoryFeed {
    /// Turns the store's change feed on and reads it.
    pub fn new(store: Arc<MemoryStore>) -> MemoryFeed {
        store.enable_change_feed();
        MemoryFeed { store }
    }
}

#[async_trait::async_trait]
impl Feed for MemoryFeed {
    async fn take(&mut self) -> Vec<Value> {
        let changes = self.store.take_changes();
        match stream_event(&changes).get_mut("Records").map(Value::take) {
            Some(Value::Array(records)) => records,
            _ => Vec::new(),
        }
    }
}

/// Runs the soak against the in-memory store and returns its report.
pub async fn run_memory(config: SoakConfig) -> Report {
    let store = Arc::new(MemoryStore::new(driver::WAKE_SHARDS));
    let feed = MemoryFeed::new(store.clone());
    let notifier = Arc::new(MemoryNotifier::new());
    Soak::new(config, store, notifier).run(feed).await
}
