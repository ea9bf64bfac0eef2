//! Recomputes every worked example in `docs/game-rules.md` from the shipped catalog.

use idle_core::catalog::Catalog;
use idle_core::rules::{combat, craft, harvest};
use idle_core::xp::xp_for_level;
use serde_json::Value;

const DOC: &str = include_str!("../../../docs/game-rules.md");

/// The JSON blocks fenced as ```` ```json example ````.
fn examples() -> Vec<Value> {
    let mut blocks = Vec::new();
    let mut rest = DOC;
    while let Some(start) = rest.find("```json example\n") {
        let body = &rest[start + "```json example\n".len()..];
        let end = body.find("```").expect("example block is closed");
        blocks.push(serde_json::from_str(&body[..end]).expect("example block is JSON"));
        rest = &body[end + 3..];
    }
    blocks
}

fn u32_of(v: &Value, key: &str) -> u32 {
    v[key].as_u64().unwrap_or_else(|| panic!("`{key}` in {v}")) as u32
}

fn assert_float(what: &str, actual: f64, expected: &Value) {
    let expected = expected
        .as_f64()
        .unwrap_or_else(|| panic!("{what} expected"));
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: computed {actual}, doc says {expected}"
    );
}

fn assert_int(what: &str, actual: u64, expected: &Value) {
    assert_eq!(Some(actual), expected.as_u64(), "{what}");
}

#[test]
fn the_doc_has_an_example_per_activity() {
    let activities: Vec<String> = examples()
        .iter()
        .map(|e| e["activity"].as_str().unwrap().to_owned())
        .collect();
    for activity in ["harvest", "craft", "combat", "xp"] {
        assert!(
            activities.iter().any(|a| a == activity),
            "no {activity} example"
        );
    }
}

#[test]
fn every_worked_example_matches_the_code() {
    let c = Catalog::shipped();
    for example in examples() {
        let expect = &example["expect"];
        match example["activity"].as_str().unwrap() {
            "harvest" => {
                let resource = example["resource"].as_str().unwrap();
                let location = example["location"].as_str().unwrap();
                let tool = c.gear(example["tool"].as_str().unwrap());
                let stats = harvest::stats(
                    resource,
                    &c.resources[resource],
                    &c.locations[location],
                    u32_of(&example, "skill"),
                    u32_of(&example, "character"),
                    tool,
                    c,
                );
                assert_int("action_ms", stats.action_ms, &expect["action_ms"]);
                assert_float(
                    "expected_yield",
                    stats.expected_yield,
                    &expect["expected_yield"],
                );
                assert_int(
                    "xp_per_action",
                    stats.xp_per_action,
                    &expect["xp_per_action"],
                );
                assert_float("rare_chance", stats.rare[0].2, &expect["rare_chance"]);
                assert_int("pity", u64::from(stats.rare[0].3), &expect["pity"]);
            }
            "craft" => {
                let recipe = &c.recipes[example["recipe"].as_str().unwrap()];
                let stats = craft::stats(
                    recipe,
                    u32_of(&example, "skill"),
                    u32_of(&example, "character"),
                    c,
                );
                assert_float(
                    "success_chance",
                    stats.success_chance,
                    &expect["success_chance"],
                );
                assert_float(
                    "preserve_chance",
                    stats.preserve_chance,
                    &expect["preserve_chance"],
                );
                assert_int("xp_success", stats.xp_success, &expect["xp_success"]);
                assert_int("xp_failure", stats.xp_failure, &expect["xp_failure"]);
                let weights: Vec<u64> =
                    serde_json::from_value(expect["quality_weights"].clone()).unwrap();
                assert_eq!(stats.quality_weights, weights);
            }
            "combat" => {
                let enemy = &c.enemies[example["enemy"].as_str().unwrap()];
                let weapon = c.gear(example["weapon"].as_str().unwrap());
                let armour = c.gear(example["armour"].as_str().unwrap());
                let skill = u32_of(&example, "skill");
                let character = u32_of(&example, "character");
                let m = combat::matchup(skill, weapon, armour, enemy, c);
                assert_float("player_hit", m.player_hit, &expect["player_hit"]);
                assert_float("enemy_hit", m.enemy_hit, &expect["enemy_hit"]);
                assert_int(
                    "player_max_hit",
                    u64::from(m.player_max_hit),
                    &expect["player_max_hit"],
                );
                assert_int(
                    "player_hitpoints",
                    u64::from(m.player_hitpoints),
                    &expect["player_hitpoints"],
                );
                assert_int(
                    "enemy_hitpoints",
                    u64::from(m.enemy_hitpoints),
                    &expect["enemy_hitpoints"],
                );
                assert_float(
                    "loot_multiplier",
                    combat::loot_multiplier(enemy, character, c),
                    &expect["loot_multiplier"],
                );
                let level = idle_core::rules::level_multiplier(character, c);
                let win = idle_core::rules::scaled_xp(enemy.xp, enemy.difficulty, level, 1.0);
                let loss = idle_core::rules::scaled_xp(
                    enemy.xp,
                    enemy.difficulty,
                    level,
                    c.rules.combat.loss_xp_share,
                );
                assert_int("xp_win", win, &expect["xp_win"]);
                assert_int("xp_loss", loss, &expect["xp_loss"]);
            }
            "xp" => {
                for (level, xp) in expect.as_object().unwrap() {
                    assert_int(
                        &format!("level {level}"),
                        xp_for_level(level.parse().unwrap()),
                        xp,
                    );
                }
            }
            "offline_cap" => offline_cap(&example),
            other => panic!("unknown example activity {other}"),
        }
    }
}

/// The offline cap's example: a continuous harvest started at t = 0 (the player's last
/// activity), the timer run until the player returns at `away_ms`, then a cancel right then.
fn offline_cap(example: &Value) {
    use idle_core::model::{Player, Repeat, TaskRequest};
    use idle_core::{advance, cancel, enqueue, Enqueued, Game};
    let c = Catalog::shipped();
    let expect = &example["expect"];
    let game = Game::new(c, b"doc-example".to_vec());
    let mut player = Player::new("doc", 0, c, 10);
    let spares = example["spare_pickaxes"].as_u64().unwrap();
    player.inventory.insert("bronze_pickaxe".into(), spares);
    let mut tasks = Vec::new();
    let mut records = Vec::new();
    type Task = idle_core::model::Task;
    fn apply(
        plan: &idle_core::Plan,
        player: &mut Player,
        tasks: &mut Vec<Task>,
        records: &mut Vec<Task>,
    ) {
        if let Some(w) = &plan.player {
            *player = w.player.clone();
        }
        for w in &plan.tasks {
            if w.task.status.is_final() {
                records.push(w.task.clone());
            }
        }
        plan.apply_to_tasks(tasks);
        tasks.retain(|t| !t.status.is_final());
    }
    let request = TaskRequest::Harvest {
        resource: example["resource"].as_str().unwrap().into(),
        location: example["location"].as_str().unwrap().into(),
        quantity: 0,
        repeat: Some(Repeat::UntilStopped),
    };
    let Ok(Enqueued::New { task_id, plan }) =
        enqueue(&game, &player, &tasks, "r1", &request, false, false, 0)
    else {
        panic!("the example task starts");
    };
    apply(&plan, &mut player, &mut tasks, &mut records);
    let away = example["away_ms"].as_i64().unwrap();
    while let Some(at) = player.wake_at.filter(|at| *at <= away) {
        let plan = advance(&game, &player, &tasks, at);
        apply(&plan, &mut player, &mut tasks, &mut records);
    }
    let paused = &tasks[0];
    assert_int(
        "paused_at",
        paused.paused_at.unwrap() as u64,
        &expect["paused_at"],
    );
    let chunks = records.len();
    assert_int(
        "chunks_before_cap",
        chunks as u64,
        &expect["chunks_before_cap"],
    );
    let settled: u64 = records
        .iter()
        .map(|r| u64::from(r.result.as_ref().unwrap().outcome.actions))
        .sum();
    assert_int("actions_in_chunks", settled, &expect["actions_in_chunks"]);
    let snapshot = paused.snapshot.as_ref().unwrap();
    assert_int(
        "last_action_ms",
        snapshot.action_ms,
        &expect["last_action_ms"],
    );
    let (started, ends_at) = (paused.started_at.unwrap(), paused.ends_at.unwrap());
    assert_int(
        "last_chunk_started_at",
        started as u64,
        &expect["last_chunk_started_at"],
    );
    assert_int(
        "last_chunk_ends_at",
        ends_at as u64,
        &expect["last_chunk_ends_at"],
    );
    // Coming back at `away_ms` and stopping at once: the paused chunk is settled for the
    // actions done by the cap.
    let plan = cancel(&game, &player, &tasks, &task_id, away).unwrap();
    apply(&plan, &mut player, &mut tasks, &mut records);
    let last = records.last().unwrap();
    assert_int(
        "actions_in_paused_chunk",
        u64::from(last.result.as_ref().unwrap().outcome.actions),
        &expect["actions_in_paused_chunk"],
    );
    let total = settled + u64::from(last.result.as_ref().unwrap().outcome.actions);
    assert_int("actions_total", total, &expect["actions_total"]);
}
