//! Observability: every handler invocation flushes CloudWatch EMF lines. (The JSON log lines are
//! checked in `logs.rs`, a binary of its own: tracing caches per call site whether anyone
//! listens, so a test without a subscriber running beside it would silence the call sites.)

mod common;

use std::sync::{Arc, Mutex};

use common::{config, harvest_message, schedule_event, token, T0};
use idle_app::handlers;
use idle_app::memory::stream_event;
use idle_app::memory::MemoryWorld;
use idle_app::metrics::{MetricsSink, NAMESPACE};
use idle_app::{usecase, Services};
use idle_testing::world;
use serde_json::{json, Value};

struct World {
    world: MemoryWorld,
    services: Services,
    emf: Arc<Mutex<Vec<String>>>,
}

fn world() -> World {
    let world = MemoryWorld::new(T0, config().wake_shards);
    let emf = Arc::new(Mutex::new(Vec::new()));
    let services = world
        .services(config())
        .with_metrics(MetricsSink::Buffer(emf.clone()));
    World {
        world,
        services,
        emf,
    }
}

fn emf_lines(w: &World) -> Vec<Value> {
    std::mem::take(&mut *w.emf.lock().unwrap())
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn check_emf_shape(line: &Value, dimensions: Value) {
    let aws = &line["_aws"];
    assert!(aws["Timestamp"].is_i64(), "{line}");
    let directive = &aws["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], NAMESPACE);
    assert_eq!(directive["Dimensions"], dimensions, "{line}");
    for dimension in dimensions[0].as_array().unwrap() {
        assert!(line[dimension.as_str().unwrap()].is_string(), "{line}");
    }
    for metric in directive["Metrics"].as_array().unwrap() {
        let name = metric["Name"].as_str().unwrap();
        assert!(line[name].is_number(), "{name} has no value in {line}");
        assert!(metric["Unit"].is_string());
    }
}

/// Given two players with queued tasks, when the stream batch and then the ticker run, then each
/// invocation writes EMF lines: the function's (duration, batch size, cold start, notifications)
/// and one per activity with the tasks started and completed.
#[tokio::test]
async fn each_invocation_flushes_emf_lines_with_per_activity_counts() {
    let w = world();
    for (connection, player) in [("c1", "p1"), ("c2", "p2")] {
        world::connect(&w.world, &w.services, connection, &token(player)).await;
        usecase::message(
            &w.services,
            connection,
            &harvest_message("r1", 2).to_string(),
        )
        .await;
    }
    w.emf.lock().unwrap().clear();

    handlers::task_processor(&w.services, stream_event(&w.world.store.take_outboxes())).await;
    let lines = emf_lines(&w);
    assert_eq!(lines.len(), 2, "{lines:?}");
    check_emf_shape(&lines[0], json!([["Function"]]));
    assert_eq!(lines[0]["Function"], "task-processor");
    assert_eq!(lines[0]["BatchSize"], 2);
    assert_eq!(lines[0]["ColdStart"], 1, "the first handler invocation");
    assert_eq!(lines[0]["NotificationsDelivered"], 4, "{lines:?}");
    // Tasks are counted where their plans are written: here by the enqueues, which started
    // them (a Lambda process runs one function, so ws-message flushes these)
    check_emf_shape(&lines[1], json!([["Function", "Activity"]]));
    assert_eq!(lines[1]["Activity"], "harvest");
    assert_eq!(lines[1]["TasksStarted"], 2);
    assert_eq!(lines[1]["TasksCompleted"], 0);

    w.world.clock.advance(3_600_000);
    handlers::task_tick(&w.services, schedule_event()).await;
    let lines = emf_lines(&w);
    assert_eq!(lines[0]["Function"], "task-ticker");
    assert!(lines[0].get("BatchSize").is_none());
    let harvest = lines.iter().find(|l| l["Activity"] == "harvest").unwrap();
    check_emf_shape(harvest, json!([["Function", "Activity"]]));
    assert_eq!(harvest["TasksCompleted"], 2);
    assert_eq!(harvest["TasksFailed"], 0);
}

/// The first invocation of a process reports a cold start, later ones do not.
#[tokio::test]
async fn only_the_first_invocation_reports_a_cold_start() {
    let w = world();
    handlers::task_tick(&w.services, schedule_event()).await;
    handlers::task_tick(&w.services, schedule_event()).await;
    let lines = emf_lines(&w);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["ColdStart"], 1);
    assert_eq!(lines[1]["ColdStart"], 0);
}
