//! A catalog change that lands while a task runs (issue 15): the task completes under the
//! catalog it started with, found by hash in the catalog store by a process that never held
//! it, and replaying it under that catalog gives the stored outcome. And when a process stores
//! the catalog it plays: before its first write that names it, not before; and that it builds
//! its game (parses and hashes the catalog) only for an event that needs it (issue 19).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use common::{config, Env, SEED_SECRET};
use idle_app::config::GameCatalog;
use idle_app::memory::MemoryCatalogs;
use idle_app::ports::{CatalogStore, StoreError};
use idle_app::{AppConfig, Services};
use idle_core::catalog::Catalog;
use idle_core::model::{Task, TaskStatus};
use idle_core::rng::Seed;

const DAY_MS: idle_core::model::Millis = 24 * 3600 * 1000;

/// The shipped catalog with three times the copper per action: a change that alters outcomes.
fn richer_copper() -> &'static Catalog {
    let mut catalog = Catalog::shipped().clone();
    catalog.version += 1;
    catalog.resources.get_mut("copper_ore").unwrap().base_yield *= 3.0;
    Box::leak(Box::new(catalog))
}

fn config_with(catalog: &'static Catalog) -> AppConfig {
    AppConfig {
        catalog: GameCatalog::of(catalog),
        ..config()
    }
}

/// Alice's 20-copper harvest started by a process playing `first`; then a process playing
/// `second` (built by `deploy` over the same world) completes it a day later. The finished
/// task from the history.
async fn harvest_across(
    first: &'static Catalog,
    second: &'static Catalog,
    deploy: impl FnOnce(&Env, AppConfig) -> Services,
) -> Task {
    // Given a task running under `first`
    let env = Env::with(config_with(first));
    env.connect("c1", "alice").await;
    env.harvest("c1", "r1", 20).await;
    env.settle().await;
    let running = env.world.store.player("alice").unwrap().queue;
    assert_eq!(running[0].status, TaskStatus::Running);
    assert_eq!(running[0].catalog_hash, Some(first.content_hash()));
    // When the deployment moves to `second` and its process completes the task
    let next = deploy(&env, config_with(second));
    env.advance_clock(DAY_MS);
    env.world.settle(&next).await;
    let history = env.world.store.task_history("alice");
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].status, TaskStatus::Completed);
    history.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_task_running_across_a_catalog_change_completes_under_its_starting_catalog() {
    let (a, b) = (Catalog::shipped(), richer_copper());
    // The new process shares the world's catalog store, as every function shares the table.
    let across = harvest_across(a, b, |env, config| env.world.services(config)).await;
    // Then the outcome is the one the task would have had had nothing changed
    let unchanged = harvest_across(a, a, |env, config| env.world.services(config)).await;
    assert_eq!(across.task_id, unchanged.task_id);
    assert_eq!(across.result, unchanged.result);
    // and the task names the catalog it was computed with, for replay
    assert_eq!(across.catalog_hash, Some(a.content_hash()));
    assert_eq!(across.rules_version, a.version);
}

#[tokio::test]
async fn without_the_earlier_catalog_in_the_store_the_task_completes_under_the_new_one() {
    let (a, b) = (Catalog::shipped(), richer_copper());
    // A process with a store that never saw catalog A (as before the store existed)
    let forgetful = |env: &Env, config: AppConfig| {
        env.world
            .services(config)
            .with_catalog_store(Arc::new(MemoryCatalogs::new()))
    };
    let across = harvest_across(a, b, forgetful).await;
    let unchanged = harvest_across(a, a, |env, config| env.world.services(config)).await;
    // completes under B, says so, and so differs from the outcome under A
    assert_eq!(across.catalog_hash, Some(b.content_hash()));
    assert_eq!(across.rules_version, b.version);
    assert_ne!(across.result, unchanged.result);
}

#[tokio::test]
async fn replaying_the_task_under_the_catalog_its_hash_names_gives_the_stored_outcome() {
    let (a, b) = (Catalog::shipped(), richer_copper());
    let mut store = None;
    let task = harvest_across(a, b, |env, config| {
        store = Some(env.world.catalogs.clone());
        env.world.services(config)
    })
    .await;
    // Given the catalog found in the store by the hash the task recorded
    let hash = task.catalog_hash.clone().unwrap();
    let json = store.unwrap().load_catalog(&hash).await.unwrap().unwrap();
    let catalog = Catalog::from_json(&json).unwrap();
    assert_eq!(catalog.content_hash(), hash);
    // When the outcome is recomputed from the task's snapshot and seed
    let stored = &task.result.as_ref().unwrap().outcome;
    let recomputed = idle_core::rules::outcome(
        &task.request,
        task.snapshot.as_ref().unwrap(),
        &Seed::for_task(SEED_SECRET.as_bytes(), &task.player_id, &task.task_id),
        &catalog,
        stored.actions,
    )
    .unwrap();
    // Then it is the stored one, and under the new catalog it is not
    assert_eq!(&recomputed, stored);
    let under_b = idle_core::rules::outcome(
        &task.request,
        task.snapshot.as_ref().unwrap(),
        &Seed::for_task(SEED_SECRET.as_bytes(), &task.player_id, &task.task_id),
        b,
        stored.actions,
    )
    .unwrap();
    assert_ne!(&under_b, stored);
}

/// A catalog store over memory that refuses puts (transiently) while `refusing`, and counts
/// the puts it was asked for.
#[derive(Default)]
struct CountedCatalogs {
    inner: MemoryCatalogs,
    refusing: AtomicBool,
    puts: AtomicU32,
}

#[async_trait]
impl CatalogStore for CountedCatalogs {
    async fn put_catalog_if_absent(&self, hash: &str, json: &str) -> Result<bool, StoreError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        if self.refusing.load(Ordering::SeqCst) {
            return Err(StoreError::Transient("throttled".into()));
        }
        self.inner.put_catalog_if_absent(hash, json).await
    }
    async fn load_catalog(&self, hash: &str) -> Result<Option<String>, StoreError> {
        self.inner.load_catalog(hash).await
    }
}

/// An environment whose services keep their catalog in `catalogs` (empty: nothing is stored at
/// start, as in a Lambda), with alice connected on c1.
async fn env_over(catalogs: &Arc<CountedCatalogs>) -> Env {
    let mut env = Env::new();
    env.services = env
        .world
        .services(config())
        .with_catalog_store(catalogs.clone());
    env.connect("c1", "alice").await;
    env
}

#[tokio::test]
async fn a_process_stores_its_catalog_before_its_first_write_that_starts_a_task_and_not_before() {
    let catalogs = Arc::new(CountedCatalogs::default());
    let env = env_over(&catalogs).await;
    let hash = env.services.game.catalog_hash.clone();
    // A write that starts no task (a ping spends a token) stores nothing
    env.send("c1", &serde_json::json!({"action": "ping"})).await;
    assert!(
        env.world.store.player("alice").is_some(),
        "the ping wrote the player"
    );
    assert_eq!(catalogs.puts.load(Ordering::SeqCst), 0);
    // The first task started stores the catalog first, and only once per process
    assert_eq!(env.harvest("c1", "r1", 2).await["type"], "ack");
    assert_eq!(env.harvest("c1", "r2", 2).await["type"], "ack");
    assert_eq!(catalogs.puts.load(Ordering::SeqCst), 1);
    assert!(catalogs.load_catalog(&hash).await.unwrap().is_some());
    let queue = env.world.store.player("alice").unwrap().queue;
    assert_eq!(queue[0].catalog_hash, Some(hash));
}

#[tokio::test]
async fn a_task_whose_catalog_cannot_be_stored_is_not_written_and_the_next_try_stores_it() {
    let catalogs = Arc::new(CountedCatalogs::default());
    let env = env_over(&catalogs).await;
    catalogs.refusing.store(true, Ordering::SeqCst);
    // When the store refuses the catalog, the enqueue that would start a task under it fails
    // visibly and writes nothing
    let refused = env.harvest("c1", "r1", 2).await;
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert!(env
        .world
        .store
        .player("alice")
        .is_none_or(|p| p.queue.is_empty()));
    // and once the store takes it again, the same request goes through under the stored catalog
    catalogs.refusing.store(false, Ordering::SeqCst);
    assert_eq!(env.harvest("c1", "r1", 2).await["type"], "ack");
    let hash = env.services.game.catalog_hash.clone();
    assert!(catalogs.load_catalog(&hash).await.unwrap().is_some());
    let queue = env.world.store.player("alice").unwrap().queue;
    assert_eq!(queue[0].catalog_hash, Some(hash));
}

#[tokio::test]
async fn a_process_builds_its_game_only_for_an_event_that_needs_the_catalog() {
    // Given alice's harvest, acknowledged, its outbox not yet performed
    let env = Env::new();
    env.connect("c1", "alice").await;
    assert_eq!(env.harvest("c1", "r1", 2).await["type"], "ack");
    // When a new process (a cold start) performs the stream batch and ticks with nothing due
    let cold = env.world.services(config());
    let report = env.world.perform(&cold).await;
    assert_eq!(
        (report.performed, report.failures.len()),
        (1, 0),
        "{report:?}"
    );
    assert!(
        common::types(&env.posts("c1")).contains(&"task_started".to_owned()),
        "the batch was delivered"
    );
    idle_app::usecase::tick(&cold).await;
    // Then it has not parsed or hashed a catalog
    assert!(!cold.game.is_built());
    // and the first event that computes with it (another harvest) builds it
    let replies =
        idle_app::usecase::message(&cold, "c1", &common::harvest_message("r2", 2).to_string())
            .await;
    assert_eq!(replies.replies.len(), 1);
    assert!(cold.game.is_built());
}
