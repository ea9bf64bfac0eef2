//! The scripted workload: players connect and queue their tasks (an idle player's first task
//! starts in its enqueue's write), the Players stream's batches perform the committed outboxes,
//! and wake-ups (SQS messages, one per armed wake time, consumed ten per invocation) run the
//! tasks to completion; the ticker sweeps as the safety net — all through the real handlers
//! over the counting store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_app::handlers;
use idle_app::memory::{stream_event, MemoryWaker, MemoryWorld};
use idle_app::ports::{Clock, StoreError, Waker};
use idle_app::usecase;
use idle_app::{AppConfig, Secret, Services};
use idle_core::lifecycle::TransitionKind;
use idle_core::model::Millis;
use serde_json::{json, Value};

use crate::counting::{Counters, CountingStore};

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
    /// Worst processor batch: (players, BatchGetItem requests, TransactWriteItems requests).
    pub worst_reads: (usize, u64, u64),
    pub worst_commits: (usize, u64, u64),
    /// Batches that broke the budget (⌈P/100⌉ reads, P commits).
    pub over_budget: usize,
    /// Wake-up messages sent (SQS `SendMessage`, one per wake-up armed).
    pub wake_messages: u64,
}

/// SQS messages a wake-up consumer receives per invocation (the event source's default
/// `BatchSize`, AWS Lambda Developer Guide, "Using Lambda with Amazon SQS").
const WAKE_BATCH: usize = 10;

/// The wake queue: counts the messages sent, keeps them in a [`MemoryWaker`].
#[derive(Debug, Default)]
struct CountingWaker {
    armed: MemoryWaker,
    sent: AtomicU64,
}

#[async_trait]
impl Waker for CountingWaker {
    async fn arm(&self, player_id: &str, at: Millis) -> Result<(), StoreError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.armed.arm(player_id, at).await
    }
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
    let store = Arc::new(CountingStore::new(world.store.clone(), config.wake_shards));
    let waker = Arc::new(CountingWaker::default());
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
        for i in 0..params.tasks_per_player {
            let body = json!({"action": "enqueue", "request_id": format!("r{i}"), "task": task(i, params.quantity)});
            handlers::ws_message(
                &services,
                ws_event(message_template, &connection, None, Some(&body)),
            )
            .await;
            *report.invocations.entry("ws-message").or_default() += 1;
        }
    }
    report.tasks = params.players * params.tasks_per_player;

    let mut ticks = 0;
    let mut next_tick = T0 + params.tick_ms;
    loop {
        // The stream: every outbox committed since, in batches.
        let records = world.store.take_outboxes();
        for batch in records.chunks(params.batch_size.max(1)) {
            let players: BTreeSet<&String> = batch.iter().map(|r| &r.player_id).collect();
            let before = store.counters();
            handlers::task_processor(&services, stream_event(batch)).await;
            for record in batch {
                world.store.performed(&record.player_id, record.version);
            }
            let after = store.counters();
            *report.invocations.entry("task-processor").or_default() += 1;
            report.batches += 1;
            let reads = after.requests("BatchGetItem") - before.requests("BatchGetItem");
            // Performing an outbox commits nothing: its writes are history puts and kept
            // notifications, counted in `processor` below.
            let commits = 0;
            let p = players.len();
            if reads > p.div_ceil(100) as u64 {
                report.over_budget += 1;
            }
            if reads * 1000 / p.div_ceil(100) as u64
                > report.worst_reads.1 * 1000 / report.worst_reads.0.div_ceil(100).max(1) as u64
            {
                report.worst_reads = (p, reads, commits);
            }
            for (kind, usage) in &after.by_kind {
                let old = before.by_kind.get(kind).copied().unwrap_or_default();
                let entry = report.processor.by_kind.entry(kind).or_default();
                entry.requests += usage.requests - old.requests;
                entry.wcu += usage.wcu - old.wcu;
                entry.rcu += usage.rcu - old.rcu;
            }
        }
        let finished: usize = players
            .iter()
            .map(|p| {
                world
                    .store
                    .history(p)
                    .iter()
                    .filter(|t| t.status.is_final())
                    .count()
            })
            .sum();
        if finished >= report.tasks || ticks >= 10_000 {
            break;
        }
        if !records.is_empty() {
            // Performing armed wake-ups or changed nothing to wait for: look again first.
            continue;
        }
        // Time moves to the next wake-up or tick, whichever comes first.
        let now = world.clock.now();
        let next = waker
            .armed
            .next_at()
            .map_or(next_tick, |at| at.min(next_tick));
        world.clock.advance((next - now).max(0));
        let due: Vec<String> = waker
            .armed
            .take_due(world.clock.now())
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        for messages in due.chunks(WAKE_BATCH) {
            for player_id in messages {
                let _ = usecase::wake(&services, player_id).await;
            }
            *report.invocations.entry("task-processor").or_default() += 1;
        }
        if world.clock.now() >= next_tick {
            handlers::task_tick(&services, schedule.clone()).await;
            *report.invocations.entry("task-ticker").or_default() += 1;
            next_tick += params.tick_ms;
            ticks += 1;
        }
    }
    report.wake_messages = waker.sent.load(Ordering::Relaxed);
    report.counters = store.counters();
    // Counted from the committed writes' history records.
    report.completed = report.counters.transitions(TransitionKind::Completed) as usize;
    report.not_completed = report.tasks.saturating_sub(report.completed);
    report
}
