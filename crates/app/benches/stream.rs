//! A Players stream batch through the processor's handler against the in-memory adapters: 100
//! and 1,000 committed outboxes over 10 and 100 players, each player with one open connection.
//! The outboxes are real: each player queued tasks and had them completed, so the batch posts
//! task_started, task_completed and queue_updated notifications, puts history records and arms
//! wake-ups. Run with `cargo bench -p idle-app`; figures in `docs/performance.md`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use idle_app::auth::DEV_TOKEN_SECRET;
use idle_app::handlers::task_processor;
use idle_app::memory::{stream_event, MemoryWorld};
use idle_app::outbox::OutboxRecord;
use idle_app::usecase;
use idle_app::{AppConfig, Secret};
use idle_core::model::Millis;
use idle_testing::tokens::dev_token;
use idle_testing::world;

const T0: Millis = 1_800_000_000_000;
/// Dev-only seed secret for the benchmarks.
const BENCH_SEED_SECRET: &str = "bench-only-seed-secret-bench-only-seed";

fn config() -> AppConfig {
    AppConfig {
        token_secret: Some(Secret::new(DEV_TOKEN_SECRET).expect("long enough")),
        seed_secret: Some(Secret::new(BENCH_SEED_SECRET).expect("long enough")),
        ..AppConfig::default()
    }
}

/// Connects `players` players (connection `c-<player>`) in `world`.
async fn connect_all(world: &MemoryWorld, config: &AppConfig, players: usize) {
    let services = world.services(config.clone());
    for p in 0..players {
        let player = format!("player-{p:04}");
        let connection = format!("c-{player}");
        let token = dev_token(&player, std::time::Duration::from_secs(3600), T0);
        world::connect(world, &services, &connection, &token).await;
    }
}

/// The committed outboxes of `players` players who each queued tasks and had them completed
/// one wake-up at a time, `records` in all, in commit order, with the world they were made in.
async fn committed(config: &AppConfig, records: usize, players: usize) -> Vec<OutboxRecord> {
    let world = MemoryWorld::new(T0, config.wake_shards);
    connect_all(&world, config, players).await;
    let services = world.services(config.clone());
    let mut taken = Vec::new();
    let mut round = 0;
    while taken.len() < records {
        for p in 0..players {
            let body = world::harvest_message(&format!("r{round}"), 1);
            usecase::message(&services, &format!("c-player-{p:04}"), &body.to_string()).await;
        }
        world.clock.advance(60_000);
        for p in 0..players {
            usecase::wake(
                &services,
                &format!("player-{p:04}"),
                idle_app::ports::Clock::now(world.clock.as_ref()),
            )
            .await
            .expect("advanced");
        }
        taken.extend(world.store.take_outboxes());
        round += 1;
    }
    taken.truncate(records);
    taken
}

fn stream_batch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let config = config();
    let mut group = c.benchmark_group("stream_batch");
    group.sample_size(20);
    for (records, players) in [(100, 10), (100, 100), (1_000, 10), (1_000, 100)] {
        let outboxes = runtime.block_on(committed(&config, records, players));
        let event = stream_event(&outboxes);
        group.throughput(Throughput::Elements(records as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("{players}_players"), records),
            &records,
            |b, _| {
                b.iter_batched(
                    || {
                        // A fresh world each time, with the players connected: history puts
                        // and kept notifications start from nothing.
                        let world = MemoryWorld::new(T0, config.wake_shards);
                        runtime.block_on(connect_all(&world, &config, players));
                        (world.services(config.clone()), event.clone())
                    },
                    |(services, event)| {
                        let response = runtime.block_on(task_processor(&services, event));
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
