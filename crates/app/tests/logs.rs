//! Logs: every task transition is one JSON log line with the Lambda request id (from the
//! runtime's invocation span), the player, the task, the activity and the outcome. Alone in its
//! binary: tracing caches per call site whether anyone listens, so a parallel test without a
//! subscriber would silence the call sites this one checks.

mod common;

use idle_testing::logs::Captured;

use common::{config, harvest_message, schedule_event, token, T0};
use idle_app::handlers;
use idle_app::memory::stream_event;
use idle_app::memory::MemoryWorld;
use idle_app::usecase;
use serde_json::{json, Value};
use tracing::Instrument;

/// Given a player who enqueues (one good task, one refused, one cancelled), when the stream
/// and the ticker run it to completion inside Lambda's invocation span, then every transition
/// is one JSON line naming the request, player, task, activity and outcome.
#[tokio::test]
async fn every_task_transition_is_a_json_line_with_request_player_task_activity_and_outcome() {
    let world = MemoryWorld::new(T0, config().wake_shards);
    let services = world.services(config());
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let span = |id: &str| tracing::info_span!("Lambda runtime invoke", requestId = id);
    async {
        idle_testing::world::connect(&world, &services, "c1", &token("p1")).await;
        usecase::message(&services, "c1", &harvest_message("r1", 2).to_string()).await;
        let unknown = json!({"action": "enqueue", "request_id": "r2",
            "task": {"activity": "harvest", "resource": "no_such_ore", "location": "meadow", "quantity": 1}});
        usecase::message(&services, "c1", &unknown.to_string()).await;
        usecase::message(&services, "c1", &harvest_message("r3", 2).to_string()).await;
    }
    .instrument(span("req-message"))
    .await;
    handlers::task_processor(&services, stream_event(&world.store.take_outboxes()))
        .instrument(span("req-stream"))
        .await;
    let cancel = json!({"action": "cancel", "task_id": "000000000002"});
    usecase::message(&services, "c1", &cancel.to_string())
        .instrument(span("req-cancel"))
        .await;
    world.clock.advance(3_600_000);
    handlers::task_tick(&services, schedule_event())
        .instrument(span("req-tick"))
        .await;

    let transitions: Vec<Value> = captured
        .lines()
        .into_iter()
        .filter(|l| l["fields"]["message"] == "task")
        .collect();
    let seen: Vec<(String, String)> = transitions
        .iter()
        .map(|l| {
            let fields = &l["fields"];
            assert_eq!(fields["player_id"], "p1", "{l}");
            assert_eq!(fields["activity"], "harvest", "{l}");
            assert!(fields["task_id"].is_string(), "{l}");
            assert!(
                l["span"]["requestId"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("req-")),
                "{l}"
            );
            (
                l["span"]["requestId"].as_str().unwrap().to_owned(),
                fields["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |request: &str, outcome: &str| {
        assert!(
            seen.contains(&(request.to_owned(), outcome.to_owned())),
            "no {outcome} in {request}: {seen:?}"
        )
    };
    expect("req-message", "enqueued");
    expect("req-message", "rejected");
    expect("req-message", "started");
    expect("req-cancel", "cancelled");
    expect("req-tick", "completed");
    let enqueued = transitions
        .iter()
        .find(|l| l["fields"]["outcome"] == "enqueued")
        .unwrap();
    assert_eq!(enqueued["fields"]["task_id"], "000000000001");

    // The stream batch is one summary line; its deliveries, which all reached c1, are counted
    // in the metrics and not logged at INFO (a line per outbox cost every batch).
    let lines = captured.lines();
    let in_stream = |message: &str| {
        lines
            .iter()
            .any(|l| l["fields"]["message"] == message && l["span"]["requestId"] == "req-stream")
    };
    assert!(in_stream("batch"), "{lines:?}");
    assert!(!in_stream("notifications"), "{lines:?}");
}
