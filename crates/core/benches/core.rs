//! Benchmarks of the pure core: the outcome of one action per activity, and advancing a player
//! with a full queue. Run with `cargo bench -p idle-core`; figures in `docs/performance.md`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use idle_core::catalog::Catalog;
use idle_core::model::{Equipped, Millis, Player, Snapshot, Task, TaskRequest};
use idle_core::rng::Seed;
use idle_core::{advance, enqueue, rules, Enqueued, Game};

/// Actions per measured outcome: long enough that the per-call set-up is amortised.
const ACTIONS: u32 = 1_000;
/// Dev-only seed secret for the benchmarks.
const BENCH_SEED_SECRET: &[u8] = b"bench-only-seed-secret-bench-only-seed";
const T0: Millis = 1_800_000_000_000;

fn worn(catalog: &Catalog, item: &str) -> (String, Equipped) {
    let gear = catalog.gear(item).expect("starter gear is in the catalog");
    (
        gear.slot.clone(),
        Equipped {
            item: item.to_owned(),
            quality: 0,
            durability: 1_000_000,
        },
    )
}

fn snapshot(catalog: &Catalog, reserved: &[(&str, u64)]) -> Snapshot {
    Snapshot {
        character_level: 20,
        skill_level: 20,
        action_ms: 2_000,
        gear: catalog
            .starter
            .equipment
            .iter()
            .map(|g| worn(catalog, g))
            .collect(),
        pity: BTreeMap::new(),
        reserved: reserved
            .iter()
            .map(|(k, n)| ((*k).to_owned(), *n))
            .collect(),
    }
}

/// `rules::outcome` of `ACTIONS` actions, reported per action (criterion's throughput).
fn outcome_per_action(c: &mut Criterion) {
    let catalog = Catalog::shipped();
    let seed = Seed::for_task(BENCH_SEED_SECRET, "bench-player", "000000000001");
    let cases = [
        (
            "harvest",
            TaskRequest::Harvest {
                resource: "copper_ore".into(),
                location: "meadow".into(),
                quantity: ACTIONS,
                repeat: None,
            },
            snapshot(catalog, &[]),
        ),
        (
            "craft",
            TaskRequest::Craft {
                recipe: "oak_plank".into(),
                quantity: ACTIONS,
                repeat: None,
            },
            snapshot(catalog, &[("oak_log", u64::from(ACTIONS))]),
        ),
        (
            "combat",
            TaskRequest::Combat {
                enemy: "cow".into(),
                quantity: ACTIONS,
                repeat: None,
            },
            snapshot(catalog, &[]),
        ),
    ];
    let mut group = c.benchmark_group("outcome");
    group.throughput(Throughput::Elements(u64::from(ACTIONS)));
    for (name, request, snapshot) in &cases {
        // Fail loudly here rather than benchmark an error path.
        rules::outcome(request, snapshot, &seed, catalog, ACTIONS).expect("a valid task");
        group.bench_with_input(BenchmarkId::new(*name, ACTIONS), &ACTIONS, |b, &n| {
            b.iter(|| rules::outcome(black_box(request), snapshot, &seed, catalog, black_box(n)))
        });
    }
    group.finish();
}

/// A player with ten queued harvest tasks, the head one started at `T0`.
fn full_queue(game: &Game) -> (Player, Vec<Task>) {
    let mut player = Player::new("bench-player", T0, game.catalog, game.limits.rate_capacity);
    let mut tasks = Vec::new();
    for i in 0..game.limits.max_queue {
        let request = TaskRequest::Harvest {
            resource: "copper_ore".into(),
            location: "meadow".into(),
            quantity: 5,
            repeat: None,
        };
        match enqueue(
            game,
            &player,
            &tasks,
            &format!("r{i}"),
            &request,
            false,
            false,
            T0,
        ) {
            Ok(Enqueued::New { plan, .. }) => {
                player = plan.player_after(&player).clone();
                plan.apply_to_tasks(&mut tasks);
            }
            other => panic!("bench set-up: enqueue {i} gave {other:?}"),
        }
    }
    let plan = advance(game, &player, &tasks, T0);
    let player = plan.player_after(&player).clone();
    plan.apply_to_tasks(&mut tasks);
    tasks.retain(|t| !t.status.is_final());
    (player, tasks)
}

/// `advance` over a full queue: nothing due, the head task due, and everything due.
fn advance_full_queue(c: &mut Criterion) {
    let game = Game::new(Catalog::shipped(), BENCH_SEED_SECRET);
    let (player, tasks) = full_queue(&game);
    let head_ends = tasks
        .iter()
        .find_map(|t| t.ends_at)
        .expect("the head task is running");
    let mut group = c.benchmark_group("advance_10_tasks");
    for (name, now) in [
        ("up_to_date", T0),
        ("head_due", head_ends),
        ("all_due", T0 + 24 * 3_600_000),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| advance(&game, black_box(&player), black_box(&tasks), now))
        });
    }
    group.finish();
}

criterion_group!(benches, outcome_per_action, advance_full_queue);
criterion_main!(benches);
