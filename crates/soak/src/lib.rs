//! A fault-injection soak of the idle-game backend.
//!
//! Thousands of players' tasks go through the real Lambda handlers (`ws_connect`, `ws_message`
//! with JSON bodies, `task_processor` fed from the store's outbox feed, `usecase::wake` for due
//! wake-ups, `task_tick` as the safety net) on a [`ManualClock`](idle_app::memory::ManualClock),
//! while [`chaos`] injects store and waker failures, timeouts after writes, conditional
//! conflicts, failed and gone posts, and the pump crashes between commits and their outboxes
//! being performed; the stream delivers every batch twice and redelivers some from their start.
//! When time has run far past the last task, [`check`] verifies the invariants: every task in
//! exactly one final state, every grant equal to its replayed outcome and applied once,
//! inventories equal to the starter kit plus the tasks' ledgers, every notification delivered
//! or kept (none lost), none out of order on any connection, nothing stuck.
//!
//! The driver is generic over the store, so the same soak runs against the in-memory store
//! ([`run_memory`]) and, in `crates/aws/tests`, against DynamoDB on moto.

pub mod chaos;
pub mod check;
pub mod driver;
pub mod report;
mod world;

use std::sync::Arc;

use idle_app::memory::{stream_event, MemoryNotifier, MemoryStore};
use serde_json::Value;

pub use chaos::{Chaos, FaultRates};
pub use driver::{Feed, Soak, SoakConfig};
pub use report::Report;

/// The in-memory store's outbox feed, as the records of a Players-stream Lambda event, read as
/// the local runtime reads it: after a crash, what was taken and not performed is gone, and the
/// restart performs the store's unperformed outboxes (those not reported performed).
pub struct MemoryFeed {
    store: Arc<MemoryStore>,
}

impl MemoryFeed {
    /// Reads `store`'s outbox feed.
    pub fn new(store: Arc<MemoryStore>) -> MemoryFeed {
        MemoryFeed { store }
    }
}

fn records(event: Value) -> Vec<Value> {
    match event.get("Records") {
        Some(Value::Array(records)) => records.clone(),
        _ => Vec::new(),
    }
}

#[async_trait::async_trait]
impl Feed for MemoryFeed {
    async fn take(&mut self) -> Vec<Value> {
        records(stream_event(&self.store.take_outboxes()))
    }

    async fn restart(&mut self, _dropped: Vec<Value>) -> Vec<Value> {
        // What the feed still holds is among the unperformed (a new process starts with an
        // empty feed): taking it too would only perform it twice more.
        self.store.take_outboxes();
        records(stream_event(&self.store.unperformed_outboxes()))
    }

    async fn performed(&mut self, records: &[Value]) {
        for record in records {
            let player_id = record.pointer("/dynamodb/Keys/player_id/S");
            let version = record.pointer("/dynamodb/NewImage/version/N");
            if let (Some(Value::String(player_id)), Some(Value::String(version))) =
                (player_id, version)
            {
                if let Ok(version) = version.parse() {
                    self.store.performed(player_id, version);
                }
            }
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
