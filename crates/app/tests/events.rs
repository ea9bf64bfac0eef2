//! Every sample event in `events/` parses, survives a serialise→parse round trip, and does what
//! it says when run through its handler against the in-memory adapters.

mod common;

use std::path::PathBuf;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use idle_app::auth::{verify, DEV_TOKEN_SECRET};
use idle_app::handlers;
use idle_app::ports::Inbox;
use idle_core::model::{Millis, TaskStatus};
use idle_core::protocol::{Event, Notification, QueueEntry};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// What each sample event is for. A file in `events/` missing here fails the suite.
const COVERED: &[(&str, Kind)] = &[
    ("task-processor-batch.json", Kind::Stream),
    ("task-processor-wake.json", Kind::Queue),
    ("ws-connect-valid.json", Kind::WebSocket),
    ("ws-connect-invalid.json", Kind::WebSocket),
    ("ws-disconnect.json", Kind::WebSocket),
    ("ws-message-enqueue.json", Kind::WebSocket),
    ("ws-message-cancel.json", Kind::WebSocket),
    ("ws-message-sync.json", Kind::WebSocket),
    ("ws-message-catalog.json", Kind::WebSocket),
    ("ws-message-ping.json", Kind::WebSocket),
    ("task-ticker-schedule.json", Kind::Schedule),
    ("connection-cleaner-schedule.json", Kind::Schedule),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Stream,
    Queue,
    WebSocket,
    Schedule,
}

/// The connection id every WebSocket sample uses.
const CONNECTION: &str = "Zq3kHcQ2IAMCJgw=";
/// The samples' request time, 2025-11-28T14:26:40.123Z.
const EVENT_TIME: Millis = 1_764_340_000_123;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A processor sample as `lambda_runtime` hands it to the function: deserialised from the bytes
/// through `serde_path_to_error`, as its `deserializer::deserialize` does (the records are kept
/// as text: this is the path the binary takes, not a `serde_json::Value`'s).
fn as_delivered(text: &str) -> handlers::ProcessorEvent {
    let mut deserializer = serde_json::Deserializer::from_slice(text.as_bytes());
    serde_path_to_error::deserialize(&mut deserializer).unwrap_or_else(|e| panic!("{e}"))
}

/// Parses, serialises and parses again; both parses must agree.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str) -> T {
    let parsed: T = serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = serde_json::to_string(&parsed).unwrap();
    let again: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} again: {e}"));
    assert_eq!(parsed, again, "{name}: round trip changed the event");
    parsed
}

fn ws(name: &str) -> ApiGatewayWebsocketProxyRequest {
    round_trip(name)
}

fn env() -> common::Env {
    let env = common::Env::new();
    env.set_clock(EVENT_TIME);
    env
}

/// Runs the valid `$connect` sample with the gateway connection open.
async fn connected(env: &common::Env) {
    env.world.notifier.open(CONNECTION, env.now());
    let response = handlers::ws_connect(&env.services, ws("ws-connect-valid.json")).await;
    assert_eq!(response.status_code, 200);
}

/// Runs a message sample and returns what the gateway posted back to the sender.
async fn send(env: &common::Env, name: &str) -> Vec<Value> {
    let response: ApiGatewayProxyResponse = handlers::ws_message(&env.services, ws(name)).await;
    assert_eq!(response.status_code, 200, "{name}");
    env.posts(CONNECTION)
}

#[test]
fn every_file_in_events_is_covered_and_every_covered_file_exists() {
    let mut on_disk: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut covered: Vec<String> = COVERED.iter().map(|(n, _)| n.to_string()).collect();
    covered.sort();
    assert_eq!(on_disk, covered, "add the new event to COVERED and test it");
}

#[test]
fn every_event_round_trips_through_its_type() {
    for (name, kind) in COVERED {
        match kind {
            Kind::Stream => {
                let event: StreamEvent = round_trip(name);
                assert!(!event.records.is_empty());
            }
            Kind::Queue => {
                let event: SqsEvent = round_trip(name);
                assert!(!event.records.is_empty());
            }
            Kind::WebSocket => {
                let event: ApiGatewayWebsocketProxyRequest = round_trip(name);
                assert_eq!(
                    event.request_context.connection_id.as_deref(),
                    Some(CONNECTION)
                );
            }
            Kind::Schedule => {
                let event: EventBridgeEvent<Value> = round_trip(name);
                assert_eq!(event.detail_type, "Scheduled Event");
            }
        }
    }
}

#[test]
fn the_valid_connect_token_verifies_with_the_dev_secret_until_2100() {
    let event = ws("ws-connect-valid.json");
    let token = event.query_string_parameters.first("token").unwrap();
    let identity = verify(DEV_TOKEN_SECRET.as_bytes(), token, EVENT_TIME).unwrap();
    assert_eq!(identity.player_id, "player-1");
    assert_eq!(identity.expires_at, 4_102_444_800);
    // 2099-12-31T23:59:59Z is still fine.
    assert!(verify(DEV_TOKEN_SECRET.as_bytes(), token, 4_102_444_799_000).is_ok());
}

#[tokio::test]
async fn ws_connect_valid_stores_the_connection_and_writes_no_new_player() {
    let env = env();
    let response = handlers::ws_connect(&env.services, ws("ws-connect-valid.json")).await;
    assert_eq!(response.status_code, 200);
    // A new player's item is created by its first write, not by the connect.
    assert!(env.world.store.player("player-1").is_none());
    let connections = env.world.store.connections();
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0].connection_id, CONNECTION);
    assert_eq!(connections[0].player_id, "player-1");
}

#[tokio::test]
async fn ws_connect_invalid_is_403_and_without_a_token_401() {
    let env = env();
    let response = handlers::ws_connect(&env.services, ws("ws-connect-invalid.json")).await;
    assert_eq!(response.status_code, 403);
    let mut no_token = ws("ws-connect-valid.json");
    no_token.query_string_parameters = Default::default();
    let response = handlers::ws_connect(&env.services, no_token).await;
    assert_eq!(response.status_code, 401);
    assert!(env.world.store.connections().is_empty());
    assert!(env.world.store.player_ids().is_empty());
}

#[tokio::test]
async fn ws_disconnect_deletes_the_connection() {
    let env = env();
    connected(&env).await;
    let response = handlers::ws_disconnect(&env.services, ws("ws-disconnect.json")).await;
    assert_eq!(response.status_code, 200);
    assert!(env.world.store.connections().is_empty());
    // A second disconnect is not an error.
    let again = handlers::ws_disconnect(&env.services, ws("ws-disconnect.json")).await;
    assert_eq!(again.status_code, 200);
}

#[tokio::test]
async fn ws_message_enqueue_queues_the_task_and_acks() {
    let env = env();
    connected(&env).await;
    let posts = send(&env, "ws-message-enqueue.json").await;
    assert_eq!(common::types(&posts), ["ack"]);
    let ack = &posts[0];
    assert_eq!(ack["request_id"], "sample-harvest-1");
    assert_eq!(ack["task_id"], "000000000001");
    let state = env.world.store.player("player-1").unwrap();
    assert_eq!(state.queue.len(), 1);
    assert_eq!(
        state.queue[0].status,
        TaskStatus::Running,
        "started in the enqueue"
    );
    env.perform().await;
    assert_eq!(
        common::types(&env.posts(CONNECTION)),
        ["task_started", "queue_updated"]
    );
}

#[tokio::test]
async fn ws_message_cancel_cancels_the_running_task() {
    let env = env();
    connected(&env).await;
    send(&env, "ws-message-enqueue.json").await;
    env.perform().await;
    env.posts(CONNECTION);
    let posts = send(&env, "ws-message-cancel.json").await;
    assert_eq!(common::types(&posts), ["ack"]);
    env.perform().await;
    let kinds = common::types(&env.posts(CONNECTION));
    assert_eq!(kinds, ["task_cancelled", "queue_updated"]);
    assert!(env.world.store.player("player-1").unwrap().queue.is_empty());
    let history = env.world.store.task_history("player-1");
    assert_eq!(history[0].status, TaskStatus::Cancelled);
}

#[tokio::test]
async fn ws_message_sync_sends_the_snapshot_then_the_inbox() {
    let env = env();
    connected(&env).await;
    let waiting: Vec<Notification> = (1..=3)
        .map(|seq| Notification {
            seq,
            at: EVENT_TIME - 1000,
            event: Event::QueueUpdated {
                queue: Vec::<QueueEntry>::new(),
            },
        })
        .collect();
    env.world
        .store
        .store(
            "player-1",
            &waiting,
            idle_core::model::EpochSecs(EVENT_TIME / 1000 + 3600),
        )
        .await
        .unwrap();
    let posts = send(&env, "ws-message-sync.json").await;
    assert_eq!(
        common::types(&posts),
        [
            "snapshot",
            "queue_updated",
            "queue_updated",
            "queue_updated"
        ]
    );
    assert_eq!(posts[0]["player"]["player_id"], "player-1");
    let seqs: Vec<u64> = posts[1..]
        .iter()
        .map(|p| p["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(
        env.world.store.inbox("player-1").len(),
        3,
        "sync deletes nothing: another device may still need them"
    );
}

#[tokio::test]
async fn ws_message_catalog_sends_the_catalog() {
    let env = env();
    connected(&env).await;
    let posts = send(&env, "ws-message-catalog.json").await;
    assert_eq!(common::types(&posts), ["catalog"]);
    assert!(posts[0]["catalog"]["enemies"]["chicken"].is_object());
}

#[tokio::test]
async fn ws_message_ping_pongs() {
    let env = env();
    connected(&env).await;
    let posts = send(&env, "ws-message-ping.json").await;
    assert_eq!(posts, [json!({"type": "pong", "at": EVENT_TIME})]);
}

/// The players and tasks the stream sample names: player-1 and player-2 with one task running
/// each, player-3 with task 1 cancelled while running and task 2 running. Their committed
/// outboxes are what `task-processor-batch.json` holds (regenerate it with
/// `UPDATE_EVENTS=1 cargo test -p idle-app --test events`); they are taken from the world's
/// feed here, so the sample is what performs them.
async fn stream_sample_world() -> common::Env {
    let env = env();
    let setup: [(&str, Vec<Value>); 3] = [
        (
            "player-1",
            vec![json!({"action": "enqueue", "request_id": "p1-copper-1",
                "task": {"activity": "harvest", "resource": "copper_ore", "location": "meadow", "quantity": 5}})],
        ),
        (
            "player-2",
            vec![json!({"action": "enqueue", "request_id": "p2-chicken-1",
                "task": {"activity": "combat", "enemy": "chicken", "quantity": 3}})],
        ),
        (
            "player-3",
            vec![
                json!({"action": "enqueue", "request_id": "p3-oak-1",
                    "task": {"activity": "harvest", "resource": "oak_log", "location": "meadow", "quantity": 2}}),
                json!({"action": "cancel", "task_id": "000000000001"}),
                json!({"action": "enqueue", "request_id": "p3-guam-1",
                    "task": {"activity": "harvest", "resource": "guam_leaf", "location": "meadow", "quantity": 4}}),
            ],
        ),
    ];
    for (player, messages) in setup {
        let connection = format!("conn-{player}");
        env.connect(&connection, player).await;
        for message in messages {
            let replies = env.send(&connection, &message).await;
            assert_eq!(replies[0]["type"], "ack", "{replies:?}");
        }
    }
    env
}

/// The sample world's committed outboxes as a Players stream event, taken off the feed.
fn committed_sample(env: &common::Env) -> Value {
    idle_app::memory::stream_event(&env.world.store.take_outboxes())
}

#[tokio::test]
async fn task_processor_batch_is_what_the_sample_world_commits() {
    let env = stream_sample_world().await;
    let committed = committed_sample(&env);
    let path = events_dir().join("task-processor-batch.json");
    if std::env::var_os("UPDATE_EVENTS").is_some() {
        let text = serde_json::to_string_pretty(&committed).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let sample: Value = serde_json::from_str(&read("task-processor-batch.json")).unwrap();
    // Compared without printing both (each is a few kilobytes).
    assert!(
        sample == committed,
        "events/task-processor-batch.json is stale; regenerate with UPDATE_EVENTS=1"
    );
}

#[tokio::test]
async fn task_processor_batch_performs_every_outbox_in_order_without_failures() {
    // Given the sample world, with player-1's connection open and its outboxes not performed
    let env = stream_sample_world().await;
    committed_sample(&env);
    let event: StreamEvent = round_trip("task-processor-batch.json");
    assert_eq!(event.records.len(), 5);

    // When the sample batch is performed, as Lambda delivers it
    let delivered = as_delivered(&read("task-processor-batch.json"));
    let response = handlers::task_processor(&env.services, delivered).await;

    // Then nothing failed, each player's connection got its notifications in seq order, the
    // cancelled task is a history record, and every running task's end is armed (by the
    // write that started it)
    assert!(response.batch_item_failures.is_empty());
    for player in ["player-1", "player-2", "player-3"] {
        let posts = env.posts(&format!("conn-{player}"));
        let seqs: Vec<u64> = posts.iter().filter_map(|p| p["seq"].as_u64()).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "{player}"
        );
        let state = env.world.store.player(player).unwrap();
        assert_eq!(state.queue[0].status, TaskStatus::Running, "{player}");
        let armed = (state.player.wake_at.unwrap(), player.to_owned());
        assert!(env.world.waker.armed().contains(&armed), "{player}");
    }
    let cancelled = env.world.store.task_history("player-3");
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].status, TaskStatus::Cancelled);
}

#[tokio::test]
async fn task_processor_batch_as_raw_json_skips_malformed_records() {
    let env = stream_sample_world().await;
    committed_sample(&env);
    let mut raw: Value = serde_json::from_str(&read("task-processor-batch.json")).unwrap();
    let records = raw["Records"].as_array_mut().unwrap();
    // Not a stream record at all, a record without keys, and one whose player id is a number.
    records.push(json!({"eventName": 42}));
    let mut no_keys = records[0].clone();
    no_keys["dynamodb"]["Keys"] = json!({});
    records.push(no_keys);
    let mut numeric = records[0].clone();
    numeric["dynamodb"]["Keys"]["player_id"] = json!({"N": "7"});
    records.push(numeric);
    let read = handlers::records_from_json(&raw);
    assert_eq!(read.len(), 8);
    let malformed: Vec<_> = read.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(malformed.len(), 3, "{malformed:?}");
    assert!(malformed[0]
        .reason
        .starts_with("not a DynamoDB stream record"));
    assert_eq!(malformed[1].reason, "Keys has no string player_id");
    assert_eq!(malformed[2].reason, "Keys has no string player_id");
    assert_eq!(
        malformed[2].sequence_number.as_deref(),
        Some("000000000000000000001")
    );
    let response = handlers::task_processor(&env.services, raw).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(env.world.store.task_history("player-3").len(), 1);
}

#[tokio::test]
async fn task_processor_batch_reports_real_sequence_numbers_when_the_store_fails() {
    let env = stream_sample_world().await;
    committed_sample(&env);
    env.world.faults.inject(
        idle_app::memory::Fault::always(
            idle_app::memory::StoreOp::PutHistory,
            idle_app::ports::StoreError::Transient("throttled".into()),
        )
        .for_player("player-3"),
    );
    let raw = serde_json::to_value(round_trip::<StreamEvent>("task-processor-batch.json")).unwrap();
    let response = handlers::task_processor(&env.services, raw).await;
    let failures: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    // player-3's cancel, the first of its records with a history record.
    assert_eq!(failures, ["000000000000000000004"]);
    let serialised = serde_json::to_value(&response).unwrap();
    assert_eq!(
        serialised,
        json!({"batchItemFailures": [{"itemIdentifier": "000000000000000000004"}]})
    );
}

#[tokio::test]
async fn task_processor_wake_completes_the_task_that_is_due() {
    // Given player-1's task running, as the sample world leaves it
    let env = stream_sample_world().await;
    let event: SqsEvent = round_trip("task-processor-wake.json");
    let body: Value = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    let at = body["at"].as_i64().unwrap();
    let task = &env.world.store.player("player-1").unwrap().queue[0];
    assert_eq!(
        task.ends_at,
        Some(at),
        "the sample wakes player-1 at its task's end"
    );

    // When the wake-up arrives at its time, as Lambda delivers it
    env.set_clock(at);
    let delivered = as_delivered(&read("task-processor-wake.json"));
    let response = handlers::task_processor(&env.services, delivered).await;

    // Then the task completed, and the completion is on its way
    assert!(response.batch_item_failures.is_empty());
    assert!(env.world.store.player("player-1").unwrap().queue.is_empty());
    env.perform().await;
    assert!(common::types(&env.posts("conn-player-1")).contains(&"task_completed".to_owned()));
    assert_eq!(env.world.store.task_history("player-1").len(), 1);
}

#[tokio::test]
async fn task_processor_wake_arms_a_far_wake_up_again_and_drops_an_unreadable_one() {
    let env = stream_sample_world().await;
    let mut event: Value = serde_json::from_str(&read("task-processor-wake.json")).unwrap();
    let far = EVENT_TIME + 3_600_000;
    event["Records"][0]["body"] = json!(json!({"player_id": "player-1", "at": far}).to_string());
    let mut unreadable = event["Records"][0].clone();
    unreadable["body"] = json!("not a wake-up");
    event["Records"].as_array_mut().unwrap().push(unreadable);

    // (what the sample's enqueues armed with their writes is armed already)
    let mut armed = env.world.waker.armed();
    let response = handlers::task_processor(&env.services, as_delivered(&event.to_string())).await;

    assert!(response.batch_item_failures.is_empty());
    armed.push((far, "player-1".to_owned()));
    assert_eq!(env.world.waker.armed(), armed);
    assert_eq!(env.world.store.player("player-1").unwrap().queue.len(), 1);
}

#[tokio::test]
async fn task_ticker_schedule_completes_a_due_task() {
    let env = env();
    connected(&env).await;
    send(&env, "ws-message-enqueue.json").await;
    let ends_at = env.world.store.player("player-1").unwrap().queue[0]
        .ends_at
        .unwrap();
    env.set_clock(ends_at);
    let report = handlers::task_tick(&env.services, round_trip("task-ticker-schedule.json")).await;
    assert_eq!(report.tasks_completed, 1, "{report:?}");
    assert!(env.world.store.player("player-1").unwrap().queue.is_empty());
    env.perform().await;
    assert!(common::types(&env.posts(CONNECTION)).contains(&"task_completed".to_owned()));
}

#[tokio::test]
async fn connection_cleaner_schedule_removes_a_stale_connection() {
    let env = env();
    connected(&env).await;
    env.advance_clock(3 * 3600 * 1000);
    let report = handlers::connection_clean(
        &env.services,
        round_trip("connection-cleaner-schedule.json"),
    )
    .await;
    assert_eq!(report.expired, 1, "{report:?}");
    assert!(env.world.store.connections().is_empty());
}

#[test]
fn handler_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let env = env();
    let services = &env.services;
    assert_send(&handlers::ws_connect(services, ws("ws-connect-valid.json")));
    assert_send(&handlers::ws_disconnect(services, ws("ws-disconnect.json")));
    assert_send(&handlers::ws_message(services, ws("ws-message-ping.json")));
    assert_send(&handlers::task_processor(services, Value::Null));
    assert_send(&handlers::task_tick(
        services,
        round_trip("task-ticker-schedule.json"),
    ));
    assert_send(&handlers::connection_clean(
        services,
        round_trip("connection-cleaner-schedule.json"),
    ));
}
