//! How big the player's item is, as DynamoDB counts it (`idle_aws::item_size`), for a typical
//! player: the item of every write (player + queue + outbox) while a queue of 1 and of 5 tasks
//! runs to the end. Every write costs ⌈size / 1 KB⌉ write units, so this is the cost floor of
//! the seam (docs/architecture.md, "The persistence seam").
//!
//! `cargo test -p idle-aws --test item_size -- --nocapture` prints the table.

use idle_app::outbox::Commit;
use idle_app::state::PlayerState;
use idle_aws::{commit_item, item_size, player_item, Layout, DEFAULT_WAKE_BUCKET_MS};
use idle_core::catalog::Catalog;
use idle_core::model::{Millis, Player, TaskRequest};
use idle_core::{advance, enqueue, Enqueued, Game};

const T0: Millis = 1_800_000_000_000;
const LAYOUT: Layout = Layout {
    wake_shards: 8,
    wake_bucket_ms: DEFAULT_WAKE_BUCKET_MS,
};

fn game() -> Game<'static> {
    Game::new(
        Catalog::shipped(),
        b"item-size-seed-secret-item-size-seed".to_vec(),
    )
}

/// Sizes of one write: (what, whole item, the packed `state` attribute, the JSON it packs).
#[derive(Debug)]
struct Write {
    what: String,
    item: usize,
    state: usize,
    json: usize,
}

fn measure(what: String, commit: &Commit) -> Write {
    let item = commit_item(commit, LAYOUT).unwrap();
    let state = item.get("state").map_or(0, |value| {
        item_size(&[("state".to_owned(), value.clone())].into_iter().collect())
    });
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
        state,
        json,
    }
}

/// Every write of a player that enqueues `tasks` harvests of 5 actions at once, then lets
/// them run to the end (advanced at each wake-up).
fn writes(tasks: usize) -> Vec<Write> {
    let game = game();
    let mut state = PlayerState {
        player: Player::new("player-0001", T0, Catalog::shipped(), 10),
        queue: Vec::new(),
    };
    let mut out = Vec::new();
    for i in 0..tasks {
        let request = TaskRequest::Harvest {
            resource: "copper_ore".into(),
            location: "meadow".into(),
            quantity: 5,
            repeat: None,
        };
        let request_id = format!("req-{i:04}");
        let Ok(Enqueued::New { plan, .. }) = enqueue(
            &game,
            &state.player,
            &state.queue,
            &request_id,
            &request,
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
            out.push(measure(
                format!("advance at +{} ms ({finished} finished)", at - T0),
                &commit,
            ));
            state = commit.state;
        }
    }
    assert!(state.queue.is_empty());
    out
}

#[test]
fn a_typical_players_item_stays_a_few_write_units() {
    let idle = player_item(
        &PlayerState {
            player: Player::new("player-0001", T0, Catalog::shipped(), 10),
            queue: Vec::new(),
        },
        LAYOUT,
    )
    .unwrap();
    println!("idle new player: {} bytes", item_size(&idle));
    for tasks in [1, 5] {
        let writes = writes(tasks);
        println!("\n{tasks}-task queue: bytes of the item (packed state, its JSON) per write");
        for w in &writes {
            println!(
                "  {:<40} {:>6} ({:>5}, {:>5})",
                w.what, w.item, w.state, w.json
            );
        }
        let largest = writes.iter().map(|w| w.item).max().unwrap();
        let units: usize = writes.iter().map(|w| w.item.div_ceil(1024)).sum();
        println!(
            "  largest {largest} bytes; {units} write units for {} writes",
            writes.len()
        );
        // Far inside DynamoDB's 400 KB: at most 2 write units a write for one task, 5 for
        // five (a guard against the item growing unnoticed; the figures are in
        // docs/performance.md).
        let budget = if tasks == 1 { 2 * 1024 } else { 5 * 1024 };
        assert!(largest <= budget, "{writes:?}");
    }
}
