//! The task processor over the DynamoDB adapter and a real stream, read back through the
//! DynamoDB Streams API and converted to the Lambda event shape — delivered twice, as Lambda may.
//!
//! Needs a moto server: run as `scripts/with-moto.sh cargo test -p idle-aws` (the project's
//! `scripts/test.sh` does).

use std::sync::Arc;
use std::time::Duration;

use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_app::config::{AppConfig, Secret};
use idle_app::handlers;
use idle_app::memory::{ManualClock, MemoryNotifier};
use idle_app::ports::{Clock, GameStore};
use idle_app::services::Services;
use idle_app::usecase;
use idle_aws::{create_tables, dynamodb_client, DynamoStore, Tables};
use idle_core::model::{Millis, TaskStatus};
use serde_json::{json, Value};

const T0: Millis = 1_800_000_000_000;

fn require_moto() {
    match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {}
        _ => panic!(
            "DYNAMODB_ENDPOINT is not set: these tests need a moto server. \
             Run them as `scripts/with-moto.sh cargo test -p idle-aws`."
        ),
    }
}

struct World {
    services: Services,
    store: Arc<DynamoStore>,
    clock: Arc<ManualClock>,
    notifier: Arc<MemoryNotifier>,
    client: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    tables: Tables,
}

async fn world(test: &str) -> World {
    require_moto();
    let sdk = idle_aws::sdk_config().await;
    let client = dynamodb_client(&sdk);
    let tables = Tables::with_prefix(&format!("{test}-{}-", std::process::id()));
    create_tables(&client, &tables)
        .await
        .expect("create tables");
    let config = AppConfig {
        token_secret: Some(Secret::new(DEV_TOKEN_SECRET).unwrap()),
        seed_secret: Some(Secret::new("processor-test-seed-secret-processor-test").unwrap()),
        ..AppConfig::default()
    };
    let store = Arc::new(DynamoStore::new(
        client.clone(),
        tables.clone(),
        config.wake_shards,
    ));
    let clock = Arc::new(ManualClock::new(T0));
    let notifier = Arc::new(MemoryNotifier::new());
    let services = Services::new(
        config,
        store.clone(),
        store.clone(),
        store.clone(),
        notifier.clone(),
        clock.clone(),
    );
    World {
        services,
        store,
        clock,
        notifier,
        streams: idle_aws::stream::streams_client(&sdk),
        client,
        tables,
    }
}

impl World {
    async fn connect(&self, connection_id: &str, player_id: &str) {
        let token = mint(
            DEV_TOKEN_SECRET.as_bytes(),
            player_id,
            Duration::from_secs(3600),
            false,
            self.clock.now(),
        )
        .unwrap();
        self.notifier.open(connection_id, self.clock.now());
        usecase::connect(&self.services, connection_id, Some(&token))
            .await
            .expect("connect");
    }

    async fn send(&self, connection_id: &str, body: Value) -> Vec<Value> {
        usecase::message(&self.services, connection_id, &body.to_string())
            .await
            .replies
            .iter()
            .map(|reply| serde_json::to_value(reply).unwrap())
            .collect()
    }

    async fn stream(&self) -> aws_lambda_events::event::dynamodb::Event {
        idle_aws::stream::read_stream_as_lambda_event(
            &self.client,
            &self.streams,
            &self.tables.tasks,
        )
        .await
        .expect("read the stream")
    }

    async fn player(&self, player_id: &str) -> idle_app::state::PlayerState {
        self.store
            .load_players(&[player_id.to_owned()])
            .await
            .unwrap()
            .players
            .remove(0)
    }
}

#[tokio::test]
async fn a_stream_batch_delivered_twice_starts_and_grants_once() {
    let w = world("processor-replay").await;
    for (conn, player) in [("c1", "alice"), ("c2", "bob")] {
        w.connect(conn, player).await;
    }
    for (conn, request_id) in [("c1", "a1"), ("c1", "a2"), ("c2", "b1")] {
        let replies = w
            .send(conn, json!({"action": "enqueue", "request_id": request_id,
                "task": {"activity": "harvest", "resource": "guam_leaf", "location": "meadow", "quantity": 2}}))
            .await;
        assert!(replies.iter().any(|r| r["type"] == "ack"), "{replies:?}");
    }

    // Given the stream as Lambda would deliver it: three INSERTs for two players.
    let event = w.stream().await;
    let names: Vec<&str> = event
        .records
        .iter()
        .map(|r| r.event_name.as_str())
        .collect();
    assert_eq!(names, ["INSERT", "INSERT", "INSERT"]);

    // When it is processed, then processed again (a redelivery).
    let first = handlers::task_stream(&w.services, event.clone()).await;
    assert!(first.batch_item_failures.is_empty());
    let alice = w.player("alice").await;
    let again = handlers::task_stream(&w.services, event.clone()).await;
    assert!(again.batch_item_failures.is_empty());

    // Then the first started each player's head task and the redelivery changed nothing.
    assert_eq!(
        w.player("alice").await,
        alice,
        "a duplicate batch is absorbed"
    );
    let statuses: Vec<TaskStatus> = alice.queue.iter().map(|t| t.status).collect();
    assert_eq!(statuses, [TaskStatus::Running, TaskStatus::Queued]);
    assert_eq!(w.player("bob").await.queue[0].status, TaskStatus::Running);

    // When time passes and the ticker completes everything, and the whole stream (INSERTs and
    // the MODIFYs of the completions) is delivered once more.
    for _ in 0..4 {
        w.clock.advance(5_000);
        handlers::task_tick(&w.services, json!({
            "version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "000000000000", "time": "2027-01-15T08:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {}
        })).await;
    }
    let done = w.player("alice").await;
    assert!(
        done.queue.is_empty(),
        "both of alice's tasks completed: {:?}",
        done.queue
    );
    let leaves = done.player.count("guam_leaf");
    assert!(
        leaves >= 4,
        "two tasks of two actions, at least 1.5 per action: {leaves}"
    );
    let full = w.stream().await;
    assert!(full.records.iter().any(|r| r.event_name == "MODIFY"));
    let replay = handlers::task_stream(&w.services, full).await;
    assert!(replay.batch_item_failures.is_empty());

    // Then nothing was granted twice.
    assert_eq!(w.player("alice").await, done);
    for task in ["000000000001", "000000000002"] {
        let stored = w.store.load_task("alice", task).await.unwrap().unwrap();
        assert_eq!(stored.status, TaskStatus::Completed);
    }
}
