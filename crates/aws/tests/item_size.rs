//! How big the player's item is, as DynamoDB counts it (`idle_aws::item_size`), for a typical
//! player: the item of every write (player + queue + outbox) while a queue runs to the end: 1
//! and 5 harvests of 5 actions, and the cost workload's queue (`crates/cost`, 5 tasks: harvest,
//! combat, craft, harvest, combat, 10 actions each but the craft). Every write costs
//! ⌈size / 1 KB⌉ write units, so this is the cost floor of the seam (docs/architecture.md, "The
//! persistence seam"). Each write is measured in the packed format written
//! ([`idle_app::packed::FORMAT_COMPACT_JSON`]) and in the one before it (format 1).
//!
//! `cargo test --workspace --test item_size -- --nocapture` prints the tables.

use idle_app::outbox::Commit;
use idle_app::packed;
use idle_app::state::PlayerState;
use idle_aws::{commit_item, item_size, player_item, Layout, DEFAULT_WAKE_BUCKET_MS};
use idle_core::catalog::Catalog;
use idle_core::model::{Millis, TaskRequest};
use idle_core::{advance, enqueue, Enqueued, Game};

const T0: Millis = 1_800_000_000_000;
const LAYOUT: Layout = Layout {
    wake_shards: 8,
    wake_bucket_ms: DEFAULT_WAKE_BUCKET_MS,
};
/// An id as long as the cost workload's (`player-000001`).
const PLAYER: &str = "player-000001";

fn game() -> Game<'static> {
    Game::new(
        Catalog::shipped(),
        b"item-size-seed-secret-item-size-seed".to_vec(),
    )
}

/// Sizes of one write: what, the whole item, the item with the `state` of format 1, the JSON
/// the state packs (format 1's).
#[derive(Debug)]
struct Write {
    what: String,
    item: usize,
    item_format_1: usize,
    json: usize,
}

fn measure(what: String, commit: &Commit) -> Write {
    let item = commit_item(commit, LAYOUT).unwrap();
    let state = match item.get("state") {
        Some(aws_sdk_dynamodb::types::AttributeValue::B(b)) => b.as_ref().len(),
        _ => panic!("no state"),
    };
    let format_1 = packed::pack_format_1(&commit.state, &commit.outbox)
        .unwrap()
        .len();
    let json = serde_json::to_vec(&serde_json::json!({
        "player": commit.state.player,
        "queue": commit.state.queue,
        "outbox": commit.outbox,
    }))
    .unwrap()
    .len();
    Write {
        what,
        item: item_size(&item),
        item_format_1: item_size(&item) - state + format_1,
        json,
    }
}

fn harvest(quantity: u32) -> TaskRequest {
    TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity,
        repeat: None,
    }
}

/// The cost workload's five tasks (`crates/cost/src/workload.rs`).
fn workload() -> Vec<TaskRequest> {
    let json = serde_json::json!([
        {"activity": "harvest", "resource": "oak_log", "location": "meadow", "quantity": 10},
        {"activity": "combat", "enemy": "chicken", "quantity": 10},
        {"activity": "craft", "recipe": "oak_plank", "quantity": 1},
        {"activity": "harvest", "resource": "copper_ore", "location": "meadow", "quantity": 10},
        {"activity": "combat", "enemy": "cow", "quantity": 10},
    ]);
    serde_json::from_value(json).unwrap()
}

/// Every write of a new player that enqueues `requests` at once (its first write creates it),
/// then lets them run to the end (advanced at each wake-up).
fn writes(requests: &[TaskRequest]) -> Vec<Write> {
    let game = game();
    let mut state = PlayerState::starter(PLAYER, T0, &game);
    let mut out = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        let request_id = format!("r{i}");
        let Ok(Enqueued::New { plan, .. }) = enqueue(
            &game,
            &state.player,
            &state.queue,
            &request_id,
            request,
            false,
            false,
            T0,
        ) else {
            panic!("enqueue {i}");
        };
        let commit = Commit::of(&state, &plan).unwrap();
        out.push(measure(format!("enqueue {}", i + 1), &commit));
        state = commit.state;
    }
    let mut steps = 0;
    while let Some(at) = state.player.wake_at {
        steps += 1;
        assert!(steps < 1000, "the queue runs out");
        let plan = advance(&game, &state.player, &state.queue, at);
        if let Some(commit) = Commit::of(&state, &plan) {
            let finished = commit.outbox.history.len();
            let left = commit.state.queue.len();
            out.push(measure(
                format!(
                    "advance at +{} s ({finished} done, {left} left)",
                    (at - T0) / 1000
                ),
                &commit,
            ));
            state = commit.state;
        }
    }
    assert!(state.queue.is_empty());
    out
}

fn units(bytes: usize) -> usize {
    bytes.div_ceil(1024).max(1)
}

fn print(name: &str, writes: &[Write]) {
    println!("\n{name}: item bytes per write, format 1 -> format 2 (format 1's JSON)");
    for w in writes {
        println!(
            "  {:<36} {:>6} -> {:>5}  ({:>5})",
            w.what, w.item_format_1, w.item, w.json
        );
    }
    let before: usize = writes.iter().map(|w| units(w.item_format_1)).sum();
    let after: usize = writes.iter().map(|w| units(w.item)).sum();
    let largest = writes.iter().map(|w| w.item).max().unwrap();
    println!(
        "  {} writes: {before} -> {after} write units; largest item {largest} bytes",
        writes.len()
    );
}

#[test]
fn a_typical_players_item_stays_a_few_write_units() {
    let idle = player_item(&PlayerState::starter(PLAYER, T0, &game()), LAYOUT).unwrap();
    println!("idle new player: {} bytes", item_size(&idle));
    for tasks in [1, 5] {
        let writes = writes(&vec![harvest(5); tasks]);
        print(&format!("{tasks} harvest(s) of 5 actions"), &writes);
        // Far inside DynamoDB's 400 KB, and a write unit each (a guard against the item
        // growing unnoticed; the figures are in docs/performance.md).
        for w in &writes {
            assert!(w.item <= 1024, "{w:?}");
            assert!(w.item < w.item_format_1, "{w:?}");
        }
    }
}

/// Issue 12: the cost workload's player items stay under 1 KB, every write one write unit.
#[test]
fn the_cost_workloads_writes_are_one_write_unit_each() {
    let writes = writes(&workload());
    print("the cost workload's 5 tasks", &writes);
    assert_eq!(writes.len(), 10, "5 enqueues and 5 completions");
    for w in &writes {
        assert!(w.item <= 1024, "{w:?}");
    }
}

/// What each of format 2's cuts saves on the workload's largest write (printed; the test
/// asserts only that every cut saves something).
#[test]
fn what_each_cut_of_format_2_saves() {
    use idle_app::packed::{packed_len_with, Cuts};
    let game = game();
    let mut state = PlayerState::starter(PLAYER, T0, &game);
    let mut commits = Vec::new();
    for (i, request) in workload().iter().enumerate() {
        let Ok(Enqueued::New { plan, .. }) = enqueue(
            &game,
            &state.player,
            &state.queue,
            &format!("r{i}"),
            request,
            false,
            false,
            T0,
        ) else {
            panic!("enqueue {i}");
        };
        let commit = Commit::of(&state, &plan).unwrap();
        state = commit.state.clone();
        commits.push(commit);
    }
    while let Some(at) = state.player.wake_at {
        let plan = advance(&game, &state.player, &state.queue, at);
        if let Some(commit) = Commit::of(&state, &plan) {
            state = commit.state.clone();
            commits.push(commit);
        }
    }
    let largest = commits
        .iter()
        .max_by_key(|c| packed::pack(&c.state, &c.outbox).unwrap().len())
        .unwrap();
    let len = |cuts: Cuts| packed_len_with(&largest.state, &largest.outbox, cuts).unwrap();
    let none = Cuts {
        markers: false,
        tasks: false,
        nulls: false,
        short_keys: false,
    };
    let format_1 = packed::pack_format_1(&largest.state, &largest.outbox)
        .unwrap()
        .len();
    println!(
        "largest write's packed state: format 1 {format_1} bytes, format 2 without a cut {} bytes, with all {} bytes",
        len(none),
        len(Cuts::ALL)
    );
    // (what, only this cut, every cut but this one)
    let cuts = [
        (
            "task_started/task_completed markers",
            Cuts {
                markers: true,
                ..none
            },
            Cuts {
                markers: false,
                ..Cuts::ALL
            },
        ),
        (
            "tasks' player_id and defaults",
            Cuts {
                tasks: true,
                ..none
            },
            Cuts {
                tasks: false,
                ..Cuts::ALL
            },
        ),
        (
            "null members",
            Cuts {
                nulls: true,
                ..none
            },
            Cuts {
                nulls: false,
                ..Cuts::ALL
            },
        ),
        (
            "short field names",
            Cuts {
                short_keys: true,
                ..none
            },
            Cuts {
                short_keys: false,
                ..Cuts::ALL
            },
        ),
    ];
    for (name, alone, all_but) in cuts {
        let saved_alone = len(none) as i64 - len(alone) as i64;
        let saved_last = len(all_but) as i64 - len(Cuts::ALL) as i64;
        println!(
            "  {name:<40} saves {saved_alone:>4} bytes alone, {saved_last:>4} with all the others"
        );
        assert!(saved_alone > 0, "{name}");
    }
}
