//! Golden tests: exact outcomes for fixed seeds, pinned in `tests/golden/*.json`.
//!
//! A change to the rules, the catalog, the random streams or the samplers that alters any
//! outcome fails here. If the change is intended, raise the catalog `version` (stored tasks must
//! replay under their own version) and regenerate with `UPDATE_GOLDEN=1 cargo test -p idle-core
//! --test golden`, then review the diff.

use std::collections::BTreeMap;
use std::path::PathBuf;

use idle_core::catalog::Catalog;
use idle_core::model::{Equipped, Player, Snapshot, TaskRequest};
use idle_core::rng::Seed;
use idle_core::{advance, enqueue, rules, Enqueued, Game};
use serde::Serialize;

const SECRET: &[u8] = b"golden-secret-golden-secret-golden";

fn check<T: Serialize>(name: &str, value: &T) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let actual = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert_eq!(actual, expected, "{name} changed; see the module docs");
}

#[path = "support/snapshot.rs"]
mod support;

/// Gear at full durability, and a sapphire pity counter part way.
fn snapshot(skill: u32, character: u32, gear: &[&str]) -> Snapshot {
    Snapshot {
        pity: BTreeMap::from([("copper_ore:sapphire".to_owned(), 100)]),
        ..support::snapshot(skill, character, gear, None)
    }
}

fn outcome(request: TaskRequest, snapshot: &Snapshot) -> rules::Outcome {
    let seed = Seed::for_task(SECRET, "golden-player", "000000000001");
    let quantity = request.quantity();
    rules::outcome(&request, snapshot, &seed, Catalog::shipped(), quantity).unwrap()
}

#[test]
fn harvest_outcome_is_pinned() {
    let request = TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "mine".into(),
        quantity: 25,
        repeat: None,
    };
    check(
        "harvest",
        &outcome(request, &snapshot(11, 10, &["iron_pickaxe"])),
    );
}

#[test]
fn craft_outcome_is_pinned() {
    let request = TaskRequest::Craft {
        recipe: "iron_sword".into(),
        quantity: 12,
        repeat: None,
    };
    check("craft", &outcome(request, &snapshot(35, 20, &[])));
}

#[test]
fn combat_outcome_is_pinned() {
    let request = TaskRequest::Combat {
        enemy: "bandit".into(),
        quantity: 12,
        repeat: None,
    };
    check(
        "combat",
        &outcome(
            request,
            &snapshot(18, 20, &["iron_sword", "bronze_platebody"]),
        ),
    );
}

#[test]
fn a_players_day_is_pinned() {
    let c = Catalog::shipped();
    let game = Game::new(c, SECRET);
    let t0 = 1_800_000_000_000;
    let mut player = Player::new("golden-player", t0, c, 10);
    let mut tasks = Vec::new();
    let requests = [
        TaskRequest::Harvest {
            resource: "guam_leaf".into(),
            location: "meadow".into(),
            quantity: 30,
            repeat: None,
        },
        TaskRequest::Craft {
            recipe: "healing_tonic".into(),
            quantity: 10,
            repeat: None,
        },
        TaskRequest::Combat {
            enemy: "cow".into(),
            quantity: 15,
            repeat: None,
        },
        TaskRequest::Craft {
            recipe: "leather_body".into(),
            quantity: 2,
            repeat: None,
        },
    ];
    for (i, request) in requests.iter().enumerate() {
        let Enqueued::New { plan, .. } = enqueue(
            &game,
            &player,
            &tasks,
            &format!("req-{i}"),
            request,
            false,
            false,
            t0 + i as i64,
        )
        .unwrap() else {
            panic!("new request")
        };
        player = plan.player_after(&player).clone();
        plan.apply_to_tasks(&mut tasks);
    }
    let plan = advance(&game, &player, &tasks, t0 + 86_400_000);
    check("day", &plan);
}
