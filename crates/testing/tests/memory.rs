//! The store contract on the in-memory store (the DynamoDB store runs it in
//! `crates/aws/tests/moto.rs`).

use idle_app::memory::MemoryStore;
use idle_app::outbox::Outbox;
use idle_core::model::Millis;
use idle_testing::contract;

const NOW: Millis = 1_800_000_000_000;
const SHARDS: u32 = 4;

fn last_outbox(store: &MemoryStore, player_id: &str) -> Outbox {
    store
        .last_outboxes()
        .into_iter()
        .find(|record| record.player_id == player_id)
        .map(|record| record.outbox)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_commit_is_conditional_on_the_version() {
    contract::conditional_commit(&MemoryStore::new(SHARDS), NOW).await;
}

#[tokio::test]
async fn each_commit_replaces_the_outbox() {
    let store = MemoryStore::new(SHARDS);
    contract::commit_replaces_outbox(
        &store,
        |id| {
            let outbox = last_outbox(&store, &id);
            async move { outbox }
        },
        NOW,
    )
    .await;
}

#[tokio::test]
async fn history_is_put_if_absent() {
    contract::history_put_if_absent(&MemoryStore::new(SHARDS), NOW).await;
}

#[tokio::test]
async fn kept_notifications_are_read_after_a_seq() {
    contract::kept_notifications(&MemoryStore::new(SHARDS), NOW).await;
}

#[tokio::test]
async fn the_wake_index_pages_every_due_player_once() {
    let store = MemoryStore::new(SHARDS);
    store.set_page_size(3);
    contract::wake_index_paging(&store, SHARDS, 3, NOW).await;
}
