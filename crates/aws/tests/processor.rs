//! The task processor over the DynamoDB adapter: the Players stream read back through the
//! DynamoDB Streams API (filtered as the template's event source does) and the wake queue on
//! SQS, delivered to `handlers::task_processor` as Lambda would, redeliveries included.
//!
//! Needs a moto server: run as `scripts/with-moto.sh cargo test -p idle-aws` (the project's
//! `scripts/test.sh` does).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_app::config::{AppConfig, Secret};
use idle_app::handlers;
use idle_app::memory::{ManualClock, MemoryNotifier, MemoryWaker};
use idle_app::outbox::Outbox;
use idle_app::ports::{Clock, GameStore, WakeMessage, Waker};
use idle_app::services::Services;
use idle_app::state::PlayerState;
use idle_app::usecase;
use idle_aws::stream::{sqs_lambda_event, with_outbox, StreamTail};
use idle_aws::{create_tables, dynamodb_client, sqs_client_at, DynamoStore, SqsWaker, Tables};
use idle_core::model::{Millis, TaskStatus};
use serde_json::{json, Value};

const T0: Millis = 1_800_000_000_000;

fn require_moto() -> String {
    match std::env::var("MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint,
        _ => panic!(
            "MOTO_ENDPOINT is not set: these tests need a moto server. \
             Run them as `scripts/with-moto.sh cargo test -p idle-aws`."
        ),
    }
}

fn unique(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{test}-{}-{nanos}", std::process::id())
}

struct World {
    services: Services,
    store: Arc<DynamoStore>,
    clock: Arc<ManualClock>,
    notifier: Arc<MemoryNotifier>,
    tail: StreamTail,
    tables: Tables,
    client: aws_sdk_dynamodb::Client,
}

/// Fresh tables on moto, the real services over DynamoStore, and `waker` (given the clock).
async fn world(test: &str, waker: impl FnOnce(Arc<ManualClock>) -> Arc<dyn Waker>) -> World {
    require_moto();
    let sdk = idle_aws::sdk_config().await;
    let client = dynamodb_client(&sdk);
    let tables = Tables::with_prefix(&format!("{}-", unique(test)));
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
        waker(clock.clone()),
    );
    World {
        services,
        store,
        clock,
        notifier,
        tail: StreamTail::new(
            client.clone(),
            idle_aws::stream::streams_client(&sdk),
            tables.players.clone(),
        ),
        tables,
        client,
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

    async fn enqueue(&self, connection_id: &str, request_id: &str) {
        let body = json!({"action": "enqueue", "request_id": request_id,
            "task": {"activity": "harvest", "resource": "guam_leaf", "location": "meadow", "quantity": 2}});
        let replies: Vec<Value> =
            usecase::message(&self.services, connection_id, &body.to_string())
                .await
                .replies
                .iter()
                .map(|reply| serde_json::to_value(reply).unwrap())
                .collect();
        assert!(replies.iter().any(|r| r["type"] == "ack"), "{replies:?}");
    }

    /// The Players stream records written since the last call that the template's filter
    /// lets through, as the Lambda event JSON.
    async fn stream_batch(&mut self) -> Value {
        let event = with_outbox(self.tail.poll().await.expect("read the stream"));
        serde_json::to_value(event).unwrap()
    }

    async fn player(&self, player_id: &str) -> PlayerState {
        self.store
            .load_players(&[player_id.to_owned()])
            .await
            .unwrap()
            .players
            .remove(0)
    }

    /// The durable notifications a connection was sent, as (seq, JSON), in the order posted.
    fn durable_posts(&self, connection_id: &str) -> Vec<(u64, String)> {
        self.notifier
            .posts(connection_id)
            .into_iter()
            .filter_map(|post| {
                let value: Value = serde_json::from_str(&post).unwrap();
                value["seq"].as_u64().map(|seq| (seq, post))
            })
            .collect()
    }

    /// How many history records the Tasks table holds for a player.
    async fn history_count(&self, player_id: &str) -> usize {
        self.client
            .query()
            .table_name(&self.tables.tasks)
            .key_condition_expression("player_id = :p")
            .expression_attribute_values(
                ":p",
                aws_sdk_dynamodb::types::AttributeValue::S(player_id.into()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items()
            .len()
    }
}

fn no_failures(response: &impl serde::Serialize) {
    let value = serde_json::to_value(response).unwrap();
    assert_eq!(
        value["batchItemFailures"],
        json!([]),
        "no batch item failures: {value}"
    );
}

/// The outboxes a stream batch carries, in order.
fn outboxes(batch: &Value) -> Vec<Outbox> {
    batch["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let record: aws_lambda_events::event::dynamodb::EventRecord =
                serde_json::from_value(r.clone()).unwrap();
            idle_app::handlers::read_record(&record).unwrap().outbox
        })
        .collect()
}

/// Checks the delivery contract (DESIGN.md section 7) on what a connection received: a client
/// that drops every notification whose seq it has seen sees exactly `expected`, in order with
/// no gap; and a repeat is always the same notification as the first with its seq.
fn assert_delivered_in_order(posts: &[(u64, String)], expected: &[u64]) {
    let mut by_seq: BTreeMap<u64, &str> = BTreeMap::new();
    let mut seen = Vec::new();
    for (seq, post) in posts {
        let first = by_seq.entry(*seq).or_insert(post);
        assert_eq!(
            *first,
            post.as_str(),
            "a repeat of seq {seq} is the same notification"
        );
        if seen.last().is_none_or(|last| seq > last) {
            seen.push(*seq);
        } else {
            assert!(
                seen.contains(seq),
                "seq {seq} arrived after a later one: {posts:?}"
            );
        }
    }
    assert_eq!(seen, expected, "what a client keeps, in order");
}

#[tokio::test]
async fn a_commit_whose_process_died_before_posting_is_performed_from_the_stream_redelivered() {
    // Given a connected player whose enqueue committed (the task started in the same write)
    // and armed its wake-ups, and a process that died right after: nothing was posted
    let waker = Arc::new(MemoryWaker::new());
    let armed = waker.clone();
    let mut w = world("crash", move |_| armed).await;
    w.connect("c1", "alice").await;
    w.enqueue("c1", "a1").await;
    assert!(
        w.durable_posts("c1").is_empty(),
        "the enqueue posts nothing itself"
    );
    let running = w.player("alice").await;
    assert_eq!(running.queue[0].status, TaskStatus::Running);
    let ends_at = running.queue[0].ends_at.unwrap();

    // When the Players stream's records (as the template's filter passes them) are handed to
    // the processor, and handed again (a redelivery)
    let batch = w.stream_batch().await;
    let committed = outboxes(&batch);
    assert_eq!(committed.len(), 1, "one write with an outbox: {batch}");
    for _ in 0..2 {
        no_failures(&handlers::task_processor(&w.services, batch.clone()).await);
    }

    // Then the connection got the plan's notifications in seq order (repeats the same), and
    // what the enqueue armed (its progress updates, then the task's end) is all that is
    // armed: performing the outbox arms nothing
    let started: Vec<u64> = committed[0].notifications.iter().map(|n| n.seq).collect();
    assert!(!started.is_empty());
    assert_delivered_in_order(&w.durable_posts("c1"), &started);
    let wake_at = running.player.wake_at.expect("the enqueue set a wake time");
    assert!(wake_at <= ends_at);
    let armed = armed_at(&waker, "alice");
    assert_eq!(armed.last(), Some(&wake_at), "{armed:?}");
    assert!(
        armed.iter().all(|&at| at > T0),
        "nothing due at once: {armed:?}"
    );
    assert_eq!(
        w.player("alice").await,
        running,
        "performing writes no player"
    );

    // When the wake-up comes, the completion commits, and the process dies again before
    // performing it; then its stream records are delivered twice
    w.clock.set(ends_at);
    for (at, player_id) in waker.take_due(ends_at) {
        usecase::wake(&w.services, &player_id, at).await.unwrap();
    }
    let done = w.player("alice").await;
    assert!(done.queue.is_empty(), "completed: {:?}", done.queue);
    let batch = w.stream_batch().await;
    let completion = outboxes(&batch);
    assert_eq!(completion.len(), 1);
    assert_eq!(completion[0].history.len(), 1);
    for _ in 0..2 {
        no_failures(&handlers::task_processor(&w.services, batch.clone()).await);
    }

    // Then every notification arrived in seq order, and the history record is there once
    let mut all = started;
    all.extend(completion[0].notifications.iter().map(|n| n.seq));
    assert_delivered_in_order(&w.durable_posts("c1"), &all);
    let posts: Vec<Value> = w
        .notifier
        .posts("c1")
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert!(posts.iter().any(|p| p["type"] == "task_completed"));
    let record = &completion[0].history[0];
    assert_eq!(record.status, TaskStatus::Completed);
    assert_eq!(
        w.store
            .load_task("alice", &record.task_id)
            .await
            .unwrap()
            .as_ref(),
        Some(record)
    );
    assert_eq!(w.history_count("alice").await, 1, "one record, put once");
    assert_eq!(w.player("alice").await, done, "nothing granted twice");
}

fn armed_at(waker: &MemoryWaker, player_id: &str) -> Vec<Millis> {
    waker
        .armed()
        .into_iter()
        .filter(|(_, p)| p == player_id)
        .map(|(at, _)| at)
        .collect()
}

struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
    arn: String,
}

async fn queue(test: &str) -> Queue {
    let endpoint = require_moto();
    let sdk = idle_aws::sdk_config().await;
    let client = sqs_client_at(&sdk, Some(&endpoint));
    let url = client
        .create_queue()
        .queue_name(unique(test))
        .send()
        .await
        .expect("create a queue")
        .queue_url
        .unwrap();
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .unwrap();
    Queue { client, url, arn }
}

impl Queue {
    /// Receives at least `count` messages (long polls of 1 s, under the SDK's operation
    /// timeout; at most 60 s in all), deleting nothing: the handler's answer decides that in
    /// Lambda.
    async fn receive(&self, count: usize) -> Vec<aws_sdk_sqs::types::Message> {
        let mut messages = Vec::new();
        for _ in 0..60 {
            let output = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            messages.extend(output.messages.unwrap_or_default());
            if messages.len() >= count {
                return messages;
            }
        }
        panic!("only {} of {count} messages arrived", messages.len());
    }
}

#[tokio::test]
async fn an_sqs_wake_up_carries_the_player_and_time_and_advances_the_due_player() {
    // Given a wake queue on moto and the processor arming wake-ups on it
    let q = queue("wake").await;
    let (client, url) = (q.client.clone(), q.url.clone());
    let mut w = world("wake", move |clock| {
        Arc::new(SqsWaker::new(client, url, clock)) as Arc<dyn Waker>
    })
    .await;

    // When wake-ups are armed directly, one at a time and in a batch, then one message with
    // its JSON body arrives for each
    w.services.waker.arm("bob", T0 - 5).await.unwrap();
    w.services
        .waker
        .arm_all("bob", &[T0 - 4, T0 - 3])
        .await
        .unwrap();
    let messages = q.receive(3).await;
    let mut bodies: Vec<WakeMessage> = messages
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    bodies.sort_by_key(|b| b.at);
    let at: Vec<Millis> = bodies.iter().map(|b| b.at).collect();
    assert_eq!(at, [T0 - 5, T0 - 4, T0 - 3]);
    assert!(bodies.iter().all(|b| b.player_id == "bob"));
    for message in &messages {
        q.client
            .delete_message()
            .queue_url(&q.url)
            .receipt_handle(message.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }

    // Given a player whose enqueue committed and armed its wake-ups on the queue (delayed by
    // the whole seconds until each is due)
    w.connect("c1", "alice").await;
    w.enqueue("c1", "a1").await;
    let running = w.player("alice").await;
    let ends_at = running.queue[0].ends_at.unwrap();
    let wake_at = running.player.wake_at.expect("the enqueue set a wake time");

    // When its wake messages arrive (the task's end last: the queue delays it) and are handed
    // to the processor as Lambda's SQS event at the task's end
    let mut messages = Vec::new();
    let mut wakes: Vec<WakeMessage> = Vec::new();
    while !wakes.iter().any(|wake| wake.at == wake_at) {
        let more = q.receive(1).await;
        wakes.extend(
            more.iter()
                .map(|m| serde_json::from_str::<WakeMessage>(m.body().unwrap()).unwrap()),
        );
        messages.extend(more);
    }
    assert!(
        wakes
            .iter()
            .all(|wake| wake.player_id == "alice" && wake.at > T0 && wake.at <= wake_at),
        "{wakes:?}"
    );
    let mut times: Vec<Millis> = wakes.iter().map(|wake| wake.at).collect();
    times.sort_unstable();
    times.dedup();
    assert_eq!(times.len(), wakes.len(), "each armed once: {wakes:?}");
    w.clock.set(ends_at);
    let batch = w.stream_batch().await;
    no_failures(&handlers::task_processor(&w.services, batch).await);
    let event = sqs_lambda_event(&messages, &q.arn, "us-east-1");
    no_failures(&handlers::task_processor(&w.services, event.clone()).await);

    // Then the player's task completed, in one write
    let done = w.player("alice").await;
    assert!(done.queue.is_empty(), "{:?}", done.queue);
    assert!(done.player.count("guam_leaf") > 0);
    // And the same message again (SQS delivers at least once) changes nothing
    no_failures(&handlers::task_processor(&w.services, event).await);
    assert_eq!(w.player("alice").await, done);

    // And performing the completion's outbox stores its history record
    let batch = w.stream_batch().await;
    let completion = outboxes(&batch);
    assert_eq!(completion.len(), 1);
    no_failures(&handlers::task_processor(&w.services, batch).await);
    let record = &completion[0].history[0];
    assert_eq!(
        w.store
            .load_task("alice", &record.task_id)
            .await
            .unwrap()
            .as_ref(),
        Some(record)
    );
}

#[tokio::test]
async fn a_commits_stream_image_lists_the_connections_and_a_connection_update_performs_nothing() {
    // Given a player connected twice whose enqueue committed an outbox
    let mut w = world("listed", |_| -> Arc<dyn Waker> {
        Arc::new(MemoryWaker::new())
    })
    .await;
    w.connect("c1", "bea").await;
    w.connect("c2", "bea").await;
    w.enqueue("c1", "b1").await;
    let batch = w.stream_batch().await;
    let records: Vec<_> = batch["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let record: aws_lambda_events::event::dynamodb::EventRecord =
                serde_json::from_value(r.clone()).unwrap();
            idle_app::handlers::read_record(&record).unwrap()
        })
        .collect();

    // Then its one record carries the listed connections, where the processor posts
    assert_eq!(records.len(), 1, "{batch}");
    assert_eq!(records[0].connections, ["c1", "c2"]);
    no_failures(&handlers::task_processor(&w.services, batch).await);
    assert!(!w.durable_posts("c1").is_empty());
    assert_eq!(w.durable_posts("c1"), w.durable_posts("c2"));

    // When a third connection is listed and one leaves (updates of the same item, after the
    // commit whose marker it still carried)
    w.connect("c3", "bea").await;
    usecase::disconnect(&w.services, "c2").await.unwrap();

    // Then their stream records do not pass the filter (nothing is performed again), the
    // player is as the commit left it, and the list changed
    let again = w.stream_batch().await;
    assert_eq!(again["Records"], json!([]), "{again}");
    let mut loaded = w.store.load_players(&["bea".to_owned()]).await.unwrap();
    assert_eq!(loaded.connections.remove("bea").unwrap(), ["c1", "c3"]);
    assert_eq!(
        w.store.stored_outbox("bea").await.unwrap(),
        records[0].outbox,
        "the outbox stays in the item for the repair tools"
    );
}
