//! The store contract on the memory store, the reference every other store is held to.

use idle_app::memory::{MemoryCatalogs, MemoryStore};
use idle_app::outbox::Outbox;
use idle_core::model::Millis;
use idle_testing::contract;

const T0: Millis = 1_800_000_000_000;

/// Small pages, so every paginated read in the contract spans several.
fn store(shards: u32) -> MemoryStore {
    let store = MemoryStore::new(shards);
    store.set_page_size(3);
    store
}

#[tokio::test]
async fn the_memory_store_commits_on_version() {
    contract::commit_on_version(&store(4), T0).await;
}

#[tokio::test]
async fn the_memory_store_puts_history_if_absent() {
    contract::history_put_if_absent(&store(4), T0).await;
}

#[tokio::test]
async fn the_memory_store_pages_the_wake_index() {
    contract::wake_index_paging(&store(4), T0, 4).await;
    contract::wake_index_paging(&store(1), T0, 1).await;
}

#[tokio::test]
async fn the_memory_store_feeds_outboxes_in_commit_order() {
    let store = store(4);
    contract::outbox_feed_order(
        &store,
        T0,
        || store.take_outboxes(),
        || store.last_outboxes(),
    )
    .await;
}

#[tokio::test]
async fn the_memory_store_keeps_connections() {
    contract::connections_by_id_and_player(&store(4), T0).await;
}

#[tokio::test]
async fn the_memory_store_lists_connections_with_the_player() {
    let store = store(4);
    contract::connections_listed_with_the_player(&store, T0).await;
    contract::feed_carries_connections(&store, T0, || store.take_outboxes()).await;
}

#[tokio::test]
async fn the_memory_store_keeps_notifications() {
    contract::kept_notifications(&store(4), T0).await;
}

#[tokio::test]
async fn the_memory_store_refuses_what_dynamodb_refuses() {
    contract::conditional_commit(&store(4), T0).await;
}

#[tokio::test]
async fn the_memory_store_replaces_the_outbox_on_each_commit() {
    let store = store(4);
    let last_outbox = |id: String| {
        let outbox = store
            .last_outboxes()
            .into_iter()
            .find(|record| record.player_id == id)
            .map_or_else(Outbox::default, |record| record.outbox);
        async move { outbox }
    };
    contract::commit_replaces_outbox(&store, last_outbox, T0).await;
}

#[tokio::test]
async fn the_memory_store_keeps_catalogs_by_hash() {
    contract::catalogs_put_if_absent(&MemoryCatalogs::new()).await;
}

#[tokio::test]
async fn the_memory_store_erases_a_player_everywhere() {
    contract::erase_player_everywhere(&store(4), T0).await;
}
