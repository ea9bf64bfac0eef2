//! A catalog change across a restart of the local runtime (issue 15): a task started under
//! catalog A, the runtime stopped and started again with catalog B over the same data
//! directory, and the task completes under A, found by hash in the data directory's catalog
//! store, with the outcome replay under A gives.

mod support;

use std::time::Duration;

use idle_app::config::GameCatalog;
use idle_core::catalog::Catalog;
use idle_core::model::Task;
use idle_core::rng::Seed;
use idle_local::{app_config, start, Options, DEV_SEED_SECRET};
use serde_json::{json, Value};
use support::{next, send};

const WAIT: Duration = Duration::from_secs(30);

/// The shipped catalog with three times the copper per action.
fn richer_copper() -> &'static Catalog {
    let mut catalog = Catalog::shipped().clone();
    catalog.version += 1;
    catalog.resources.get_mut("copper_ore").unwrap().base_yield *= 3.0;
    Box::leak(Box::new(catalog))
}

fn options(dir: &std::path::Path) -> Options {
    Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: Some(dir.to_owned()),
        tick: Duration::from_millis(50),
        ..Options::default()
    }
}

fn outcome_under(task: &Task, catalog: &Catalog) -> idle_core::rules::Outcome {
    let stored = &task.result.as_ref().unwrap().outcome;
    idle_core::rules::outcome(
        &task.request,
        task.snapshot.as_ref().unwrap(),
        &Seed::for_task(DEV_SEED_SECRET.as_bytes(), &task.player_id, &task.task_id),
        catalog,
        stored.actions,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_started_before_a_restart_with_another_catalog_completes_under_its_own() {
    let dir =
        std::env::temp_dir().join(format!("idle-local-catalog-change-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (Catalog::shipped(), richer_copper());

    // Given the runtime playing catalog A, and a copper harvest started under it
    let running = start(options(&dir), app_config(|_| None).unwrap())
        .await
        .unwrap();
    let mut socket = support::connect(&running, "miner", Duration::from_secs(600)).await;
    let enqueue = json!({"action": "enqueue", "request_id": "e1",
        "task": {"activity": "harvest", "resource": "copper_ore", "location": "meadow", "quantity": 2}});
    send(&mut socket, enqueue).await;
    // (the reply and the task's `task_started` come in either order: a reply is not a
    // notification, and the feed may post before the reply is sent)
    let (mut ack, mut started) = (None::<Value>, Vec::<Value>::new());
    while ack
        .as_ref()
        .is_none_or(|a| a["type"] == "ack" && !started.iter().any(|m| m["task_id"] == a["task_id"]))
    {
        let message = next(&mut socket).await;
        match message["type"].as_str() {
            Some("ack" | "error") => ack = Some(message),
            Some("task_started") => started.push(message),
            _ => {}
        }
    }
    let ack = ack.unwrap();
    assert_eq!(ack["type"], "ack", "{ack}");
    let task_id = ack["task_id"].as_str().unwrap().to_owned();
    drop(socket);
    running.shutdown().await.unwrap();

    // When the runtime starts again over the same data with catalog B
    let mut config = app_config(|_| None).unwrap();
    config.catalog = GameCatalog::of(b);
    let running = start(options(&dir), config).await.unwrap();

    // Then the task completes (by the timers, nobody connected) under A
    let store = running.services().store.clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    let task = loop {
        match store.load_task("miner", &task_id).await.unwrap() {
            Some(task) if task.status.is_final() => break task,
            _ if tokio::time::Instant::now() > deadline => panic!("the task did not finish"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(task.catalog_hash, Some(a.content_hash()), "{task:?}");
    assert_eq!(task.rules_version, a.version);
    // with A's outcome, which replay under A (found by the task's hash) reproduces
    let stored = &task.result.as_ref().unwrap().outcome;
    let json = running
        .services()
        .catalogs
        .store()
        .load_catalog(task.catalog_hash.as_deref().unwrap())
        .await
        .unwrap()
        .expect("catalog A is in the data directory");
    assert_eq!(
        &outcome_under(&task, &Catalog::from_json(&json).unwrap()),
        stored
    );
    assert_ne!(
        &outcome_under(&task, b),
        stored,
        "B would have given more copper"
    );
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
