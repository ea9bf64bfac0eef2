//! The scripted workload: players connect and queue their tasks (an idle player's first task
//! starts in its enqueue's write), the Players stream's batches perform the committed outboxes,
//! and wake-ups (SQS messages, one per armed wake time, consumed ten per invocation) run the
//! tasks to completion; the ticker sweeps as the safety net — all through the real handlers
//! over the counting store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_app::handlers;
use idle_app::memory::{stream_event, MemoryWorld};
use idle_app::ports::{Clock, StoreError, Waker};
use idle_app::{AppConfig, Secret, Services};
use idle_core::lifecycle::TransitionKind;
use idle_core::model::{EpochSecs, Millis};
use serde_json::{json, Value};

use crate::counting::{Call, Counters, CountingStore, Model};

/// 2027-01-15T08:00:00Z.
const T0: Millis = 1_800_000_000_000;
/// Dev-only seed secret: this tool never touches a deployment.
const DEV_SEED_SECRET: &str = "dev-only-cost-seed-secret-dev-only-cost";

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub players: usize,
    pub tasks_per_player: usize,
    /// Actions per task.
    pub quantity: u32,
    /// Stream records per processor invocation (Lambda's default `BatchSize` for DynamoDB streams
    /// is 100, AWS Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB"; 1 is the naive
    /// baseline).
    pub batch_size: usize,
    /// The ticker's period.
    pub tick_ms: Millis,
    /// How the adapter stores things.
    pub model: Model,
    /// Players (the first ones) whose connection goes away right after they queued their tasks,
    /// without a `$disconnect`: posts to them fail, their notifications are kept.
    pub offline: usize,
    /// Deliver one message per (player, time) however often it was armed (a variant: SQS
    /// standard queues deliver every copy).
    pub dedupe_wakes: bool,
    /// Keep every store call in [`Report::calls`] (the model-vs-moto check needs them; a run of
    /// 100,000 players would hold gigabytes of them).
    pub record_calls: bool,
    /// The continuous workload instead: each player runs one continuous task (combat against
    /// chickens, `repeat: until_stopped`: combat may go on unarmed, so its inputs never run
    /// out) for this many hours of server time, settled in chunks.
    pub continuous_hours: Option<u32>,
}

/// What a run counted.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub counters: Counters,
    /// Counters of the processor's invocations only.
    pub processor: Counters,
    pub invocations: BTreeMap<&'static str, u64>,
    pub tasks: usize,
    pub completed: usize,
    /// Tasks that ended otherwise (rejected, failed, cancelled) or never ended.
    pub not_completed: usize,
    pub batches: usize,
    /// Chunks of continuous tasks settled (the continuous workload).
    pub chunks: usize,
    /// Actions settled in those chunks.
    pub actions: u64,
    /// Hours of continuous tasks running: players × the run's hours (the continuous workload).
    pub task_hours: f64,
    /// Wake-up messages sent (one per wake-up armed).
    pub wake_messages: u64,
    /// SQS requests in all: the writers' sends (a `SendMessageBatch` of what one write arms,
    /// a `SendMessage` per wake-up armed again), and per wake batch the poller's
    /// `ReceiveMessage` and `DeleteMessageBatch` (idle polling left out: it does not grow with
    /// the load).
    pub sqs_requests: u64,
    /// API Gateway messages: each client message and each post, in 32 KB units.
    pub api_messages: u64,
    /// Connection minutes: every connection open from its `$connect` to the end of the run.
    pub connection_minutes: f64,
    /// Player-hours of the run (players × the run's server time).
    pub player_hours: f64,
    /// Every store call of the run, in order (for the model-vs-moto check), when
    /// [`Params::record_calls`].
    pub calls: Vec<Call>,
}

/// SQS messages a wake-up consumer receives per invocation (the event source's default
/// `BatchSize`, AWS Lambda Developer Guide, "Using Lambda with Amazon SQS").
const WAKE_BATCH: usize = 10;

/// Messages one `SendMessageBatch` carries ("Amazon SQS batch actions").
const SEND_BATCH: usize = 10;

/// The wake queue as SQS keeps it: every message sent is delivered, duplicates included (a
/// standard queue does not deduplicate).
#[derive(Debug, Default)]
struct CountingWaker {
    /// (when, player) → messages.
    armed: Mutex<BTreeMap<(Millis, String), u64>>,
    /// Messages sent.
    sent: AtomicU64,
    /// Requests that sent them: a `SendMessage` per single wake-up, a `SendMessageBatch` per
    /// ten of what one write arms (as `idle_aws::SqsWaker` sends them).
    requests: AtomicU64,
    dedupe: bool,
}

impl CountingWaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(Millis, String), u64>> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_at(&self) -> Option<Millis> {
        self.lock().keys().next().map(|(at, _)| *at)
    }

    /// One message sent.
    fn put(&self, player_id: &str, at: Millis) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let mut armed = self.lock();
        let copies = armed.entry((at, player_id.to_owned())).or_insert(0);
        *copies = if self.dedupe { 1 } else { *copies + 1 };
    }

    /// The messages due at `now`, in time order, each copy once.
    fn take_due(&self, now: Millis) -> Vec<(Millis, String)> {
        let mut armed = self.lock();
        let later = armed.split_off(&(now.saturating_add(1), String::new()));
        let due = std::mem::replace(&mut *armed, later);
        due.into_iter()
            .flat_map(|(key, n)| std::iter::repeat_n(key, n as usize))
            .collect()
    }
}

#[async_trait]
impl Waker for CountingWaker {
    async fn arm(&self, player_id: &str, at: Millis) -> Result<(), StoreError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.put(player_id, at);
        Ok(())
    }

    async fn arm_all(&self, player_id: &str, at: &[Millis]) -> Result<(), StoreError> {
        self.requests
            .fetch_add(at.len().div_ceil(SEND_BATCH) as u64, Ordering::Relaxed);
        for &at in at {
            self.put(player_id, at);
        }
        Ok(())
    }
}

/// The wake queue's Lambda event for some messages.
fn sqs_event(messages: &[(Millis, String)], first_id: usize) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (at, player_id))| {
            json!({
                "eventSource": "aws:sqs",
                "messageId": format!("m{}", first_id + i),
                "body": json!({"player_id": player_id, "at": at}).to_string(),
            })
        })
        .collect();
    json!({ "Records": records })
}

/// API Gateway bills a message per 32 KB (Amazon API Gateway pricing).
fn message_units(bytes: usize) -> u64 {
    bytes.div_ceil(32 * 1024).max(1) as u64
}

/// The tasks each player queues, cycling through every activity. A new player can do all of
/// them: the crafts use the logs harvested first.
fn task(i: usize, quantity: u32) -> Value {
    match i % 5 {
        0 => {
            json!({"activity": "harvest", "resource": "oak_log", "location": "meadow", "quantity": quantity})
        }
        1 => json!({"activity": "combat", "enemy": "chicken", "quantity": quantity}),
        2 => json!({"activity": "craft", "recipe": "oak_plank", "quantity": 1}),
        3 => {
            json!({"activity": "harvest", "resource": "copper_ore", "location": "meadow", "quantity": quantity})
        }
        _ => json!({"activity": "combat", "enemy": "cow", "quantity": quantity}),
    }
}

fn ws_event(
    template: &str,
    connection_id: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event: Value = serde_json::from_str(template).unwrap_or(Value::Null);
    event["requestContext"]["connectionId"] = json!(connection_id);
    if let Some(token) = token {
        event["queryStringParameters"] = json!({ "token": token });
        event["multiValueQueryStringParameters"] = json!({ "token": [token] });
    }
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    serde_json::from_value(event).unwrap_or_default()
}

/// Runs the workload and counts it.
pub async fn run(params: Params) -> Report {
    let config = AppConfig {
        token_secret: Secret::new(DEV_TOKEN_SECRET).ok(),
        seed_secret: Secret::new(DEV_SEED_SECRET).ok(),
        ..AppConfig::default()
    };
    let world = MemoryWorld::new(T0, config.wake_shards);
    let inbox_ttl_ms = config.inbox_ttl_ms;
    let store = CountingStore::new(world.store.clone(), config.wake_shards, params.model);
    let store = Arc::new(if params.record_calls {
        store
    } else {
        store.without_call_log()
    });
    let waker = Arc::new(CountingWaker {
        dedupe: params.dedupe_wakes,
        ..CountingWaker::default()
    });
    let services = Services::new(
        config,
        store.clone(),
        store.clone(),
        store.clone(),
        world.notifier.clone(),
        world.clock.clone(),
        waker.clone(),
    );
    let connect_template = include_str!("../../../events/ws-connect-valid.json");
    let message_template = include_str!("../../../events/ws-message-enqueue.json");
    let schedule: Value =
        serde_json::from_str(include_str!("../../../events/task-ticker-schedule.json"))
            .unwrap_or_default();
    let mut report = Report::default();
    let players: Vec<String> = (0..params.players)
        .map(|p| format!("player-{p:06}"))
        .collect();

    for (p, player) in players.iter().enumerate() {
        let connection = format!("conn-{p:06}");
        world.notifier.open(&connection, T0);
        let token = mint(
            DEV_TOKEN_SECRET.as_bytes(),
            player,
            std::time::Duration::from_secs(86_400),
            false,
            T0,
        )
        .unwrap_or_default();
        handlers::ws_connect(
            &services,
            ws_event(connect_template, &connection, Some(&token), None),
        )
        .await;
        *report.invocations.entry("ws-connect").or_default() += 1;
        let tasks = if params.continuous_hours.is_some() {
            1
        } else {
            params.tasks_per_player
        };
        for i in 0..tasks {
            let task = match params.continuous_hours {
                Some(_) => {
                    json!({"activity": "combat", "enemy": "chicken", "repeat": "until_stopped"})
                }
                None => task(i, params.quantity),
            };
            let body = json!({"action": "enqueue", "request_id": format!("r{i}"), "task": task});
            handlers::ws_message(
                &services,
                ws_event(message_template, &connection, None, Some(&body)),
            )
            .await;
            *report.invocations.entry("ws-message").or_default() += 1;
        }
    }
    for p in 0..params.offline.min(params.players) {
        world.notifier.drop_connection(&format!("conn-{p:06}"));
    }
    report.tasks = params.players * params.tasks_per_player;

    // Posts are counted as they are drained (every so many rounds and at the end), so a large
    // run does not hold every message it ever posted.
    let connections: Vec<String> = (0..params.players)
        .map(|p| format!("conn-{p:06}"))
        .collect();
    let drain_posts = |outbound: &mut u64| {
        for connection in &connections {
            *outbound += world
                .notifier
                .take_posts(connection)
                .iter()
                .map(|post| message_units(post.len()))
                .sum::<u64>();
        }
    };
    let mut outbound: u64 = 0;
    let mut rounds: u64 = 0;
    let mut ticks = 0;
    let mut sqs_ids = 0;
    let mut next_tick = T0 + params.tick_ms;
    loop {
        rounds += 1;
        if rounds % 64 == 0 {
            drain_posts(&mut outbound);
        }
        // The stream: every outbox committed since, in batches.
        let records = world.store.take_outboxes();
        for batch in records.chunks(params.batch_size.max(1)) {
            let before = store.counters();
            handlers::task_processor(&services, stream_event(batch)).await;
            for record in batch {
                world.store.performed(&record.player_id, record.version);
                if params.model.keep_all && !record.outbox.notifications.is_empty() {
                    let expires_at =
                        EpochSecs::floor_millis(world.clock.now().saturating_add(inbox_ttl_ms));
                    store.count_kept_too(
                        &record.player_id,
                        &record.outbox.notifications,
                        expires_at,
                    );
                }
            }
            let after = store.counters();
            *report
                .invocations
                .entry("task-processor (stream)")
                .or_default() += 1;
            report.batches += 1;
            for (kind, usage) in &after.by_kind {
                let old = before.by_kind.get(kind).copied().unwrap_or_default();
                let entry = report.processor.by_kind.entry(kind).or_default();
                entry.requests += usage.requests - old.requests;
                entry.wcu += usage.wcu - old.wcu;
                entry.rcu += usage.rcu - old.rcu;
            }
        }
        // Every history record put is a final transition committed before, so the history
        // (a walk over every player) is only read once the commits say it may be complete.
        let committed_final: u64 = [
            TransitionKind::Completed,
            TransitionKind::Failed,
            TransitionKind::Rejected,
            TransitionKind::Cancelled,
        ]
        .into_iter()
        .map(|kind| store.counters().transitions(kind))
        .sum();
        let over = match params.continuous_hours {
            Some(hours) => world.clock.now() >= T0 + Millis::from(hours) * 3_600_000,
            None => {
                committed_final as usize >= report.tasks
                    && players
                        .iter()
                        .map(|p| {
                            world
                                .store
                                .task_history(p)
                                .iter()
                                .filter(|t| t.status.is_final())
                                .count()
                        })
                        .sum::<usize>()
                        >= report.tasks
            }
        };
        if over || ticks >= 10_000 {
            break;
        }
        if !records.is_empty() {
            // Performing armed wake-ups or changed nothing to wait for: look again first.
            continue;
        }
        // Time moves to the next wake-up or tick, whichever comes first.
        let now = world.clock.now();
        let mut next = waker.next_at().map_or(next_tick, |at| at.min(next_tick));
        if let Some(hours) = params.continuous_hours {
            next = next.min(T0 + Millis::from(hours) * 3_600_000);
        }
        world.clock.advance((next - now).max(0));
        let due = waker.take_due(world.clock.now());
        for messages in due.chunks(WAKE_BATCH) {
            handlers::task_processor(&services, sqs_event(messages, sqs_ids)).await;
            sqs_ids += messages.len();
            *report
                .invocations
                .entry("task-processor (wake)")
                .or_default() += 1;
            // The poller's ReceiveMessage and DeleteMessageBatch for this batch.
            report.sqs_requests += 2;
        }
        if world.clock.now() >= next_tick {
            handlers::task_tick(&services, schedule.clone()).await;
            *report.invocations.entry("task-ticker").or_default() += 1;
            next_tick += params.tick_ms;
            ticks += 1;
        }
    }
    report.wake_messages = waker.sent.load(Ordering::Relaxed);
    report.sqs_requests += waker.requests.load(Ordering::Relaxed);
    let inbound = report.invocations.get("ws-message").copied().unwrap_or(0);
    drain_posts(&mut outbound);
    report.api_messages = inbound + outbound;
    let minutes = (world.clock.now() - T0) as f64 / 60_000.0;
    report.connection_minutes = params.players as f64 * minutes;
    report.player_hours = report.connection_minutes / 60.0;
    report.counters = store.counters();
    report.calls = store.calls();
    // Counted from the committed writes' history records.
    report.completed = report.counters.transitions(TransitionKind::Completed) as usize;
    report.not_completed = report.tasks.saturating_sub(report.completed);
    for player in &players {
        for record in world.store.task_history(player) {
            if record.chunk.as_ref().is_some_and(|c| c.of.is_some()) {
                report.chunks += 1;
                report.actions += record
                    .result
                    .as_ref()
                    .map_or(0, |r| u64::from(r.outcome.actions));
            }
        }
    }
    if let Some(hours) = params.continuous_hours {
        report.task_hours = params.players as f64 * f64::from(hours);
    }
    report
}
