//! Wake-up latency on DynamoDB + SQS (moto): runs tasks through the real handlers with the
//! precise timer and prints, per task, how late its completion committed after its `ends_at`
//! and how much later `task_completed` was posted.
//!
//! ```text
//! scripts/with-moto.sh cargo run -p idle-aws --features streams --example wake-latency -- [PLAYERS] [TASKS_PER_PLAYER]
//! ```
//!
//! (default 50 players × 4 tasks = 200 tasks). What runs, on the wall clock:
//!
//! - each player connects and enqueues its tasks (harvests of 1–3 actions) through
//!   `usecase::message`, as `ws-message` would, the players spread over the first 5 s;
//! - every write that sets a wake-up (the enqueue that starts a task, the wake-up that completes
//!   it and starts the next) arms it on the SQS queue with `SqsWaker` as soon as the write
//!   returned (`SendMessageBatch`, `DelaySeconds` = whole seconds until due);
//! - a stream poller follows the Players stream (filtered as the template's event source is)
//!   and hands each batch to `handlers::task_processor`, which puts history and posts;
//! - five SQS pollers (Lambda's SQS event source starts with five) receive from the wake queue
//!   (`ReceiveMessage`, up to 10 messages, short polls 50 ms apart when it is empty) and hand
//!   each batch, as Lambda's SQS event, to its own concurrent `handlers::task_processor`
//!   invocation (at most 50 at once), which then deletes the messages it did not report as
//!   failures, as Lambda does. A poller receives again as soon as it has handed a batch off: an
//!   invocation waiting out its batch's sub-second rest holds only itself.
//!
//! No ticker runs: every completion comes from a wake message. The commit time of a completion
//! is the wall time its conditional write returned (a wrapper around the store); the post time
//! is the wall time its `task_completed` first reached the player's connection.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_app::config::{AppConfig, Secret};
use idle_app::handlers;
use idle_app::memory::MemoryNotifier;
use idle_app::outbox::Commit;
use idle_app::ports::{
    Clock, ConnectionInfo, GameStore, Loaded, Notifier, Page, PostError, StoreError, SystemClock,
    WakeMessage, Waker,
};
use idle_app::services::Services;
use idle_app::state::PlayerState;
use idle_app::usecase;
use idle_aws::stream::{sqs_lambda_event, streams_client, with_outbox, StreamTail};
use idle_aws::{create_tables, dynamodb_client, sqs_client_at, DynamoStore, SqsWaker, Tables};
use idle_core::model::{Millis, Task};
use serde_json::{json, Value};

/// How long the poller waits after an empty receive. Short polling: moto's long poll is a
/// loop in the server that holds up its other requests, where Lambda's pollers long-poll.
const POLL_MS: u64 = 50;
/// Concurrent receivers of the wake queue: the pollers Lambda's SQS event source starts with.
const RECEIVERS: usize = 5;
/// Wake batches handled at once. Lambda's SQS event source scales its concurrent invocations
/// with the backlog (up to 1,250 for a standard queue); an invocation spends up to a second
/// waiting out its batch's rest, so this bounds the example's throughput, not Lambda's.
const INVOCATIONS: usize = 50;

/// Wall time, ms since the epoch.
fn now() -> Millis {
    SystemClock.now()
}

/// The store, remembering when each finished task's completion committed.
struct TimedStore {
    inner: Arc<DynamoStore>,
    /// task id → (ends_at, finished_at, wall time the commit returned).
    committed: Mutex<HashMap<String, (Millis, Millis, Millis)>>,
}

#[async_trait]
impl GameStore for TimedStore {
    async fn load_players(&self, ids: &[String]) -> Result<Loaded, StoreError> {
        self.inner.load_players(ids).await
    }
    async fn load_players_relaxed(&self, ids: &[String]) -> Result<Loaded, StoreError> {
        self.inner.load_players_relaxed(ids).await
    }
    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError> {
        self.inner.create_player(state).await
    }
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.inner.commit(commit).await?;
        let at = now();
        let mut committed = self.committed.lock().unwrap();
        for task in &commit.outbox.history {
            if let (Some(ends_at), Some(finished_at)) = (task.ends_at, task.finished_at) {
                committed
                    .entry(task.task_id_key())
                    .or_insert((ends_at, finished_at, at));
            }
        }
        Ok(())
    }
    async fn put_history(&self, tasks: &[Task]) -> Result<(), StoreError> {
        self.inner.put_history(tasks).await
    }
    async fn put_audit(&self, records: &[idle_core::model::AuditRecord]) -> Result<(), StoreError> {
        self.inner.put_audit(records).await
    }
    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError> {
        self.inner.load_task(player_id, task_id).await
    }
    async fn due_players(
        &self,
        shard: u32,
        at: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        self.inner.due_players(shard, at, cursor).await
    }
}

trait Key {
    fn task_id_key(&self) -> String;
}

impl Key for Task {
    fn task_id_key(&self) -> String {
        format!("{}/{}", self.player_id, self.task_id)
    }
}

/// The gateway, remembering when each task's `task_completed` was first posted.
struct TimedNotifier {
    inner: MemoryNotifier,
    /// connection id → player id.
    players: Mutex<HashMap<String, String>>,
    posted: Mutex<HashMap<String, Millis>>,
}

#[async_trait]
impl Notifier for TimedNotifier {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PostError> {
        self.inner.post(connection_id, payload).await?;
        let at = now();
        if let Ok(value) = serde_json::from_slice::<Value>(payload) {
            if value["type"] == "task_completed" {
                let player = self.players.lock().unwrap().get(connection_id).cloned();
                if let (Some(player), Some(task)) = (player, value["task_id"].as_str()) {
                    self.posted
                        .lock()
                        .unwrap()
                        .entry(format!("{player}/{task}"))
                        .or_insert(at);
                }
            }
        }
        Ok(())
    }
    async fn connection_info(&self, connection_id: &str) -> Result<ConnectionInfo, PostError> {
        self.inner.connection_info(connection_id).await
    }
    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        self.inner.close(connection_id).await
    }
}

/// The SQS waker, remembering when each wake-up was armed and when it can become visible.
struct TimedWaker {
    inner: SqsWaker,
    /// (player, at) → wall time SendMessage returned, and when the message may be received
    /// (the send time plus its DelaySeconds).
    armed: Mutex<HashMap<(String, Millis), (Millis, Millis)>>,
    /// Messages sent, and SQS requests that sent them.
    messages: AtomicUsize,
    requests: AtomicUsize,
    /// Messages sent for a (player, time) that had one already.
    repeated: AtomicUsize,
}

impl TimedWaker {
    fn sent(&self, player_id: &str, at: &[Millis], sent: Millis) {
        let mut armed = self.armed.lock().unwrap();
        for &at in at {
            let visible = sent + 1000 * Millis::from(idle_aws::delay_seconds(at, sent));
            if armed
                .insert((player_id.to_owned(), at), (now(), visible))
                .is_some()
            {
                self.repeated.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.messages.fetch_add(at.len(), Ordering::Relaxed);
    }
}

#[async_trait]
impl Waker for TimedWaker {
    async fn arm(&self, player_id: &str, at: Millis) -> Result<(), StoreError> {
        let sent = now();
        self.inner.arm(player_id, at).await?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.sent(player_id, &[at], sent);
        Ok(())
    }

    async fn arm_all(&self, player_id: &str, at: &[Millis]) -> Result<(), StoreError> {
        let sent = now();
        self.inner.arm_all(player_id, at).await?;
        self.requests
            .fetch_add(at.len().div_ceil(idle_aws::MAX_BATCH), Ordering::Relaxed);
        self.sent(player_id, at, sent);
        Ok(())
    }
}

#[derive(Default)]
struct Counters {
    stream_batches: AtomicUsize,
    stream_records: AtomicUsize,
    sqs_batches: AtomicUsize,
    sqs_messages: AtomicUsize,
    /// Messages received more than 1 s before their `at` (SQS delays in whole seconds, so a
    /// message that honours DelaySeconds is at most 1 s early, unless it was capped at 900 s).
    early_messages: AtomicUsize,
    failures: AtomicUsize,
    /// Wall ms: each stream read (GetRecords on moto), each stream batch handled, each wake
    /// batch handled, and each wake message's arrival after its `at` (receive time − at).
    stream_reads: Mutex<Vec<Millis>>,
    stream_handling: Mutex<Vec<Millis>>,
    wake_handling: Mutex<Vec<Millis>>,
    arrival: Mutex<Vec<Millis>>,
    /// Each wake message's receive time after it could first be received (send + delay).
    after_visible: Mutex<Vec<Millis>>,
    /// Wake-ups armed when their time had already come (the stream was behind).
    armed_late: AtomicUsize,
}

fn percentile(sorted: &[Millis], p: f64) -> Millis {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(name: &str, values: &mut [Millis]) {
    values.sort_unstable();
    println!(
        "{name:<34} p50 {:>5} ms   p99 {:>5} ms   max {:>5} ms   min {:>5} ms",
        percentile(values, 50.0),
        percentile(values, 99.0),
        values.last().copied().unwrap_or(0),
        values.first().copied().unwrap_or(0),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let players: usize = args.next().map_or(Ok(50), |a| a.parse())?;
    let per_player: usize = args.next().map_or(Ok(4), |a| a.parse())?;
    let endpoint = std::env::var("MOTO_ENDPOINT")
        .map_err(|_| "MOTO_ENDPOINT is not set: run through scripts/with-moto.sh")?;

    // The world: tables and a wake queue on moto, the real services on the wall clock.
    let sdk = idle_aws::sdk_config().await;
    let dynamodb = dynamodb_client(&sdk);
    let run = format!("wake-{}-{}", std::process::id(), now() % 100_000);
    let tables = Tables::with_prefix(&format!("{run}-"));
    create_tables(&dynamodb, &tables).await?;
    let sqs = sqs_client_at(&sdk, Some(&endpoint));
    let queue_url = sqs
        .create_queue()
        .queue_name(&run)
        .send()
        .await?
        .queue_url
        .ok_or("no queue URL")?;
    let queue_arn = format!("arn:aws:sqs:us-east-1:123456789012:{run}");
    let config = AppConfig {
        token_secret: Some(Secret::new(DEV_TOKEN_SECRET)?),
        seed_secret: Some(Secret::new("wake-latency-seed-secret-wake-latency")?),
        limits: idle_core::Limits {
            max_queue: per_player.max(1),
            ..idle_core::Limits::default()
        },
        ..AppConfig::default()
    };
    let dynamo = Arc::new(DynamoStore::new(
        dynamodb.clone(),
        tables.clone(),
        config.wake_shards,
    ));
    let store = Arc::new(TimedStore {
        inner: dynamo.clone(),
        committed: Mutex::new(HashMap::new()),
    });
    let notifier = Arc::new(TimedNotifier {
        inner: MemoryNotifier::new(),
        players: Mutex::new(HashMap::new()),
        posted: Mutex::new(HashMap::new()),
    });
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let waker = Arc::new(TimedWaker {
        inner: SqsWaker::new(sqs.clone(), &queue_url, clock.clone()),
        armed: Mutex::new(HashMap::new()),
        messages: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
        repeated: AtomicUsize::new(0),
    });
    let services = Arc::new(Services::new(
        config,
        store.clone(),
        dynamo.clone(),
        dynamo.clone(),
        notifier.clone(),
        clock,
        waker.clone(),
    ));
    let counters = Arc::new(Counters::default());
    let done = Arc::new(AtomicBool::new(false));

    // The stream poller: one shard, one batch at a time, as Lambda's poller per shard.
    let stream_loop = {
        let (services, counters, done) = (services.clone(), counters.clone(), done.clone());
        let mut tail = StreamTail::new(dynamodb.clone(), streams_client(&sdk), &tables.players);
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let read_at = now();
                let polled = tail.poll().await;
                counters.stream_reads.lock().unwrap().push(now() - read_at);
                let batch = match polled {
                    Ok(event) => with_outbox(event),
                    Err(error) => {
                        eprintln!("stream read failed: {error}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if batch.records.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                counters.stream_batches.fetch_add(1, Ordering::Relaxed);
                counters
                    .stream_records
                    .fetch_add(batch.records.len(), Ordering::Relaxed);
                let handled_at = now();
                let response =
                    handlers::task_processor(&services, serde_json::to_value(&batch).unwrap())
                        .await;
                counters
                    .stream_handling
                    .lock()
                    .unwrap()
                    .push(now() - handled_at);
                counters
                    .failures
                    .fetch_add(response.batch_item_failures.len(), Ordering::Relaxed);
            }
        })
    };

    // The SQS pollers: RECEIVERS receivers (short polls, POLL_MS apart when the queue is
    // empty), each batch handed to its own invocation, at most INVOCATIONS at once, as Lambda's
    // pollers invoke the function concurrently.
    let slots = Arc::new(tokio::sync::Semaphore::new(INVOCATIONS));
    let mut pollers = Vec::new();
    for _ in 0..RECEIVERS {
        let (services, counters, done) = (services.clone(), counters.clone(), done.clone());
        let (sqs, queue_url, queue_arn) = (sqs.clone(), queue_url.clone(), queue_arn.clone());
        let (waker, slots) = (waker.clone(), slots.clone());
        pollers.push(tokio::spawn(async move {
            let mut invocations = tokio::task::JoinSet::new();
            while !done.load(Ordering::Relaxed) {
                let slot = slots.clone().acquire_owned().await.expect("open");
                let received = sqs
                    .receive_message()
                    .queue_url(&queue_url)
                    .max_number_of_messages(10)
                    .send()
                    .await;
                let messages = match received {
                    Ok(output) => output.messages.unwrap_or_default(),
                    Err(error) => {
                        eprintln!("receive failed: {error}");
                        Vec::new()
                    }
                };
                if messages.is_empty() {
                    drop(slot);
                    tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
                    continue;
                }
                let received_at = now();
                for message in &messages {
                    let Some(Ok(wake)) = message.body().map(serde_json::from_str::<WakeMessage>)
                    else {
                        continue;
                    };
                    if wake.at - received_at > 1_000 {
                        counters.early_messages.fetch_add(1, Ordering::Relaxed);
                    }
                    counters.arrival.lock().unwrap().push(received_at - wake.at);
                    let armed = waker
                        .armed
                        .lock()
                        .unwrap()
                        .get(&(wake.player_id.clone(), wake.at))
                        .copied();
                    if let Some((sent, visible)) = armed {
                        if sent > wake.at {
                            counters.armed_late.fetch_add(1, Ordering::Relaxed);
                        }
                        counters
                            .after_visible
                            .lock()
                            .unwrap()
                            .push(received_at - visible);
                    }
                }
                counters.sqs_batches.fetch_add(1, Ordering::Relaxed);
                counters
                    .sqs_messages
                    .fetch_add(messages.len(), Ordering::Relaxed);
                let (services, counters) = (services.clone(), counters.clone());
                let (sqs, queue_url, queue_arn) =
                    (sqs.clone(), queue_url.clone(), queue_arn.clone());
                invocations.spawn(async move {
                    let event = sqs_lambda_event(&messages, &queue_arn, "us-east-1");
                    let handled_at = now();
                    let response = handlers::task_processor(&services, event).await;
                    counters
                        .wake_handling
                        .lock()
                        .unwrap()
                        .push(now() - handled_at);
                    let failed: Vec<String> = response
                        .batch_item_failures
                        .iter()
                        .filter_map(|f| f.item_identifier.clone())
                        .collect();
                    counters.failures.fetch_add(failed.len(), Ordering::Relaxed);
                    for message in &messages {
                        if failed
                            .iter()
                            .any(|id| Some(id.as_str()) == message.message_id())
                        {
                            continue;
                        }
                        if let Some(handle) = message.receipt_handle() {
                            let _ = sqs
                                .delete_message()
                                .queue_url(&queue_url)
                                .receipt_handle(handle)
                                .send()
                                .await;
                        }
                    }
                    drop(slot);
                });
                while invocations.try_join_next().is_some() {}
            }
            while invocations.join_next().await.is_some() {}
        }));
    }

    // The players: connect, then enqueue every task at once, spread over the first 5 s.
    let started = now();
    let mut enqueuers = Vec::new();
    for p in 0..players {
        let (services, notifier) = (services.clone(), notifier.clone());
        enqueuers.push(tokio::spawn(async move {
            let player = format!("player-{p:04}");
            let connection = format!("conn-{p:04}");
            tokio::time::sleep(Duration::from_millis((p as u64 * 5_000) / players as u64)).await;
            let token = mint(
                DEV_TOKEN_SECRET.as_bytes(),
                &player,
                Duration::from_secs(3600),
                false,
                now(),
            )
            .expect("a token");
            notifier.inner.open(&connection, now());
            notifier
                .players
                .lock()
                .unwrap()
                .insert(connection.clone(), player.clone());
            usecase::connect(&services, &connection, Some(&token))
                .await
                .expect("connect");
            for t in 0..per_player {
                let body = json!({"action": "enqueue", "request_id": format!("r{t}"),
                    "task": {"activity": "harvest", "resource": "copper_ore", "location": "meadow",
                             "quantity": 1 + (p + t) % 3}});
                // A player's rate bucket holds 10 messages: wait as told when it runs dry.
                loop {
                    let answer = usecase::message(&services, &connection, &body.to_string()).await;
                    let replies = serde_json::to_value(&answer.replies).unwrap();
                    if let Some(wait) = replies[0]["retry_after_ms"].as_u64() {
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                        continue;
                    }
                    assert!(
                        replies.to_string().contains("\"ack\""),
                        "enqueue refused: {replies}"
                    );
                    break;
                }
            }
        }));
    }
    for enqueuer in enqueuers {
        enqueuer.await?;
    }
    let total = players * per_player;
    println!(
        "{total} tasks enqueued by {players} players in {} ms",
        now() - started
    );

    // Wait until every task's task_completed is posted (or give up after 10 minutes).
    let deadline = now() + 600_000;
    loop {
        let posted = notifier.posted.lock().unwrap().len();
        if posted >= total || now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    done.store(true, Ordering::Relaxed);
    stream_loop.await?;
    for poller in pollers {
        poller.await?;
    }

    // Per task: due → commit → post.
    let committed = store.committed.lock().unwrap().clone();
    let posted = notifier.posted.lock().unwrap().clone();
    let rows: BTreeMap<String, (Millis, Millis, Millis)> = committed.into_iter().collect();
    println!("\ntask                          ends_at(+ms)  commit-ends_at  post-commit  finished_at-ends_at");
    let mut lateness = Vec::new();
    let mut post_delay = Vec::new();
    let mut due_to_post = Vec::new();
    let mut early = 0;
    for (task, (ends_at, finished_at, commit_at)) in &rows {
        let late = commit_at - ends_at;
        if late < 0 || finished_at < ends_at {
            early += 1;
        }
        lateness.push(late);
        let post = posted.get(task).map(|at| at - commit_at);
        if let Some(post) = post {
            post_delay.push(post);
            due_to_post.push(post + late);
        }
        println!(
            "{task:<30} {:>11} {:>15} {:>12} {:>20}",
            ends_at - started,
            late,
            post.map_or("-".to_owned(), |p| p.to_string()),
            finished_at - ends_at
        );
    }
    println!(
        "\n{} of {total} tasks completed, {} completions posted",
        rows.len(),
        posted.len()
    );
    println!("early completions (commit or finished_at before ends_at): {early}");
    summary("lateness (ends_at -> commit)", &mut lateness);
    summary("post delay (commit -> posted)", &mut post_delay);
    summary("ends_at -> task_completed posted", &mut due_to_post);
    summary(
        "wake message received - its at",
        &mut counters.arrival.lock().unwrap(),
    );
    summary(
        "wake received - could be received",
        &mut counters.after_visible.lock().unwrap(),
    );
    summary(
        "wake batch handled (incl. wait)",
        &mut counters.wake_handling.lock().unwrap(),
    );
    summary(
        "stream read (moto)",
        &mut counters.stream_reads.lock().unwrap(),
    );
    summary(
        "stream batch handled",
        &mut counters.stream_handling.lock().unwrap(),
    );
    println!(
        "stream: {} batches, {} records; wake queue: {} receives, {} messages, {} received more than 1 s early, {} armed after their time; {} batch item failures",
        counters.stream_batches.load(Ordering::Relaxed),
        counters.stream_records.load(Ordering::Relaxed),
        counters.sqs_batches.load(Ordering::Relaxed),
        counters.sqs_messages.load(Ordering::Relaxed),
        counters.early_messages.load(Ordering::Relaxed),
        counters.armed_late.load(Ordering::Relaxed),
        counters.failures.load(Ordering::Relaxed),
    );
    println!(
        "wake-ups armed: {} messages in {} SQS send requests, {} armed again for a (player, time) already armed",
        waker.messages.load(Ordering::Relaxed),
        waker.requests.load(Ordering::Relaxed),
        waker.repeated.load(Ordering::Relaxed),
    );
    if early > 0 {
        return Err(format!("{early} tasks completed early").into());
    }
    Ok(())
}
