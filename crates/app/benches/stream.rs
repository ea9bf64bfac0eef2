//! A task-stream batch through the processor's handler against the in-memory adapters: 100 and
//! 1,000 records over 10 and 100 players, each player with a queue waiting to start. Run with
//! `cargo bench -p idle-app`; figures in `docs/performance.md`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use idle_app::handlers::task_stream_json;
use idle_app::memory::MemoryWorld;
use idle_app::state::PlayerState;
use idle_app::{AppConfig, Secret};
use idle_core::model::{Millis, Player, Task, TaskRequest};
use idle_core::{enqueue, Enqueued, Game};
use serde_json::{json, Value};

const T0: Millis = 1_800_000_000_000;
/// Dev-only seed secret for the benchmarks.
const BENCH_SEED_SECRET: &str = "bench-only-seed-secret-bench-only-seed";

fn config() -> AppConfig {
    AppConfig {
        seed_secret: Some(Secret::new(BENCH_SEED_SECRET).expect("long enough")),
        ..AppConfig::default()
    }
}

/// A player with `tasks` queued harvests (none started), built with the core directly.
fn queued_player(game: &Game, player_id: &str, tasks: usize) -> PlayerState {
    let mut player = Player::new(player_id, T0, game.catalog, game.limits.rate_capacity);
    let mut queue: Vec<Task> = Vec::new();
    for i in 0..tasks {
        let request = TaskRequest::Harvest {
            resource: "copper_ore".into(),
            location: "meadow".into(),
            quantity: 10,
        };
        match enqueue(
            game,
            &player,
            &queue,
            &format!("r{i}"),
            &request,
            false,
            false,
            T0,
        ) {
            Ok(Enqueued::New { plan, .. }) => {
                player = plan.player_after(&player).clone();
                plan.apply_to_tasks(&mut queue);
            }
            other => panic!("bench set-up: enqueue gave {other:?}"),
        }
    }
    PlayerState { player, queue }
}

/// `records` INSERT records spread round-robin over `players` players.
fn stream_event(records: usize, players: usize) -> Value {
    let records: Vec<Value> = (0..records)
        .map(|i| {
            let player = format!("player-{:04}", i % players);
            let task = format!("{:012}", i / players + 1);
            json!({
                "eventID": format!("e{i}"),
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-west-1",
                "dynamodb": {
                    "Keys": {"player_id": {"S": player}, "task_id": {"S": task}},
                    "SequenceNumber": format!("{:028}", i + 1),
                    "SizeBytes": 120,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

fn stream_batch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let config = config();
    let game = config.game();
    let mut group = c.benchmark_group("stream_batch");
    group.sample_size(20);
    for (records, players) in [(100, 10), (100, 100), (1_000, 10), (1_000, 100)] {
        let per_player = (records / players).min(game.limits.max_queue);
        let states: Vec<PlayerState> = (0..players)
            .map(|p| queued_player(&game, &format!("player-{p:04}"), per_player))
            .collect();
        let event = stream_event(records, players);
        group.throughput(Throughput::Elements(records as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("{players}_players"), records),
            &records,
            |b, _| {
                b.iter_batched(
                    || {
                        // A fresh world each time: a batch starts the tasks it finds.
                        let world = MemoryWorld::new(T0, config.wake_shards);
                        for state in &states {
                            world.store.put_player(state.clone());
                        }
                        (world.services(config.clone()), event.clone())
                    },
                    |(services, event)| {
                        let response = runtime.block_on(task_stream_json(&services, event));
                        black_box(response)
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, stream_batch);
criterion_main!(benches);
