//! Replay of stored tasks made by the core's own lifecycle, through the library and the CLI.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use idle_balance::replay::{replay, ReplayError};
use idle_core::catalog::Catalog;
use idle_core::model::{Millis, Player, Task, TaskRequest, TaskStatus};
use idle_core::{advance, cancel, enqueue, Enqueued, Game};

const SECRET: &[u8] = b"replay-test-secret-0123456789abcdef";
const NOW: Millis = 1_700_000_000_000;

/// A player's state and tasks as the store would hold them after each plan.
struct World<'c> {
    game: Game<'c>,
    player: Player,
    tasks: Vec<Task>,
}

impl World<'_> {
    fn new() -> World<'static> {
        let catalog = Catalog::shipped();
        let game = Game::new(catalog, SECRET);
        let player = Player::new("player-7", NOW, catalog, game.limits.rate_capacity);
        World {
            game,
            player,
            tasks: Vec::new(),
        }
    }

    fn apply(&mut self, plan: &idle_core::Plan) {
        self.player = plan.player_after(&self.player).clone();
        plan.apply_to_tasks(&mut self.tasks);
    }

    fn enqueue(&mut self, request: &TaskRequest, at: Millis) -> String {
        let request_id = format!("req-{}", self.tasks.len() + 1);
        let answer = enqueue(
            &self.game,
            &self.player,
            &self.tasks,
            &request_id,
            request,
            false,
            false,
            at,
        )
        .expect("the request is valid");
        let Enqueued::New { task_id, plan } = answer else {
            panic!("a first request is never a duplicate");
        };
        self.apply(&plan);
        task_id
    }

    fn advance(&mut self, at: Millis) {
        let plan = advance(&self.game, &self.player, &self.tasks, at);
        self.apply(&plan);
    }

    fn task(&self, task_id: &str) -> Task {
        self.tasks
            .iter()
            .find(|t| t.task_id == task_id)
            .cloned()
            .expect("the task exists")
    }
}

/// Given a new player, when a task is enqueued and the player is advanced far past its end,
/// then it is the completed task as stored.
fn completed(request: TaskRequest) -> Task {
    let mut world = World::new();
    let task_id = world.enqueue(&request, NOW);
    for day in 1..=3 {
        world.advance(NOW + day * 86_400_000);
        let task = world.task(&task_id);
        if task.status == TaskStatus::Completed {
            return task;
        }
    }
    panic!("the task never completed: {:?}", world.task(&task_id));
}

fn cow_fights() -> Task {
    completed(TaskRequest::Combat {
        enemy: "cow".into(),
        quantity: 60,
        repeat: None,
    })
}

fn copper_harvest() -> Task {
    completed(TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 40,
        repeat: None,
    })
}

#[test]
fn a_completed_task_replays_exactly() {
    for task in [copper_harvest(), cow_fights()] {
        let report = replay(&task, SECRET, Catalog::shipped()).unwrap();
        assert!(report.matches(), "{:?}", report.differences);
        assert_eq!(report.recomputed, task.result.as_ref().unwrap().outcome);
        assert!(report.actions > 0);
    }
}

#[test]
fn a_cancelled_task_replays_the_actions_it_settled() {
    let mut world = World::new();
    let request = TaskRequest::Harvest {
        resource: "oak_log".into(),
        location: "meadow".into(),
        quantity: 50,
        repeat: None,
    };
    let task_id = world.enqueue(&request, NOW);
    world.advance(NOW);
    let started = world.task(&task_id);
    let action_ms = started.snapshot.as_ref().unwrap().action_ms as Millis;
    let plan = cancel(
        &world.game,
        &world.player,
        &world.tasks,
        &task_id,
        NOW + 7 * action_ms + 5,
    )
    .unwrap();
    world.apply(&plan);
    let task = world.task(&task_id);
    assert_eq!(task.status, TaskStatus::Cancelled);
    let report = replay(&task, SECRET, Catalog::shipped()).unwrap();
    assert_eq!(report.actions, 7);
    assert!(report.matches(), "{:?}", report.differences);
}

#[test]
fn a_tampered_item_count_is_detected_field_by_field() {
    let mut task = copper_harvest();
    let outcome = &mut task.result.as_mut().unwrap().outcome;
    *outcome.items.get_mut("copper_ore").unwrap() += 1;
    let report = replay(&task, SECRET, Catalog::shipped()).unwrap();
    assert!(!report.matches());
    assert_eq!(report.differences.len(), 1);
    let difference = &report.differences[0];
    assert_eq!(difference.field, "items.copper_ore");
    assert_eq!(
        difference.stored.as_u64().unwrap(),
        difference.recomputed.as_u64().unwrap() + 1
    );
}

#[test]
fn a_wrong_secret_is_detected() {
    let task = cow_fights();
    let report = replay(&task, b"not-the-server-secret", Catalog::shipped()).unwrap();
    assert!(!report.matches());
    assert!(!report.differences.is_empty());
}

#[test]
fn a_task_of_another_rules_version_is_refused() {
    let mut task = copper_harvest();
    task.rules_version += 1;
    let error = replay(&task, SECRET, Catalog::shipped()).unwrap_err();
    assert!(matches!(error, ReplayError::RulesVersion { .. }));
    assert!(error.to_string().contains("--catalog"), "{error}");
}

#[test]
fn a_catalog_with_the_same_version_but_other_content_is_refused() {
    let task = copper_harvest();
    let mut other = Catalog::shipped().clone();
    other.resources.get_mut("copper_ore").unwrap().xp += 1;
    let error = replay(&task, SECRET, &other).unwrap_err();
    assert!(matches!(error, ReplayError::CatalogHash { .. }), "{error}");
    assert!(error.to_string().contains(&other.content_hash()), "{error}");
}

/// A catalog change lands while a task runs: the task completes under the catalog it started
/// with (kept by the game), records that catalog's hash, and replays exactly under it — and not
/// under the new one.
#[test]
fn a_task_running_across_a_catalog_change_completes_and_replays_under_its_starting_catalog() {
    // Given a copper harvest started under the shipped catalog
    let mut world = World::new();
    let request = TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 40,
        repeat: None,
    };
    let task_id = world.enqueue(&request, NOW);
    world.advance(NOW);
    assert_eq!(world.task(&task_id).status, TaskStatus::Running);
    // When a new catalog that changes copper's yield and XP lands before it ends
    let mut next = Catalog::shipped().clone();
    next.version += 1;
    let copper = next.resources.get_mut("copper_ore").unwrap();
    copper.base_yield *= 2.0;
    copper.xp *= 2;
    let next: &'static Catalog = Box::leak(Box::new(next));
    world.game = Game::new(next, SECRET).keep(Catalog::shipped());
    world.advance(NOW + 86_400_000);
    // Then it completed under the catalog it started with
    let task = world.task(&task_id);
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.catalog_hash, Some(Catalog::shipped().content_hash()));
    assert_eq!(task.rules_version, Catalog::shipped().version);
    // and replays exactly under that catalog
    let report = replay(&task, SECRET, Catalog::shipped()).unwrap();
    assert!(report.matches(), "{:?}", report.differences);
    // while the new catalog is refused for it
    assert!(matches!(
        replay(&task, SECRET, next),
        Err(ReplayError::RulesVersion { .. })
    ));
    // And the next task starts under the new catalog and replays under it.
    let second = world.enqueue(&request, NOW + 86_400_000);
    world.advance(NOW + 86_400_000);
    world.advance(NOW + 3 * 86_400_000);
    let second = world.task(&second);
    assert_eq!(second.status, TaskStatus::Completed);
    assert_eq!(second.catalog_hash, Some(next.content_hash()));
    assert!(replay(&second, SECRET, next).unwrap().matches());
}

#[test]
fn a_task_that_never_started_cannot_be_replayed() {
    // Given a task queued behind a running one (a task for an idle player starts at once)
    let mut world = World::new();
    world.enqueue(
        &TaskRequest::Combat {
            enemy: "cow".into(),
            quantity: 3,
            repeat: None,
        },
        NOW,
    );
    let task_id = world.enqueue(
        &TaskRequest::Combat {
            enemy: "cow".into(),
            quantity: 3,
            repeat: None,
        },
        NOW,
    );
    let task = world.task(&task_id);
    assert_eq!(task.status, TaskStatus::Queued);
    let error = replay(&task, SECRET, Catalog::shipped()).unwrap_err();
    assert!(matches!(error, ReplayError::NotStarted { .. }), "{error}");
}

// ---- the command line -------------------------------------------------------------------

fn run_replay(input: &str, secret: Option<&str>, extra: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_idle-balance"));
    command
        .arg("replay")
        .args(extra)
        .env_remove("SEED_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(secret) = secret {
        command.env("SEED_SECRET", secret);
    }
    let mut child = command.spawn().expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn secret_text() -> &'static str {
    std::str::from_utf8(SECRET).unwrap()
}

#[test]
fn the_command_exits_0_on_a_match_and_1_with_the_differences_on_tampering() {
    let mut task = copper_harvest();
    let json = serde_json::to_string(&task).unwrap();
    let out = run_replay(&json, Some(secret_text()), &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("MATCHES"));

    task.result.as_mut().unwrap().outcome.xp += 5;
    let json = serde_json::to_string(&task).unwrap();
    let out = run_replay(&json, Some(secret_text()), &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("DIFFERS"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("xp ")), "{stdout}");
}

#[test]
fn the_command_reads_the_secret_from_the_named_variable() {
    let json = serde_json::to_string(&copper_harvest()).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_idle-balance"));
    let out = command
        .args([
            "replay",
            "--secret-env",
            "IDLE_TEST_SECRET",
            "--format",
            "json",
        ])
        .env_remove("SEED_SECRET")
        .env("IDLE_TEST_SECRET", secret_text())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(json.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["differences"], serde_json::json!([]));
}

#[test]
fn the_command_exits_2_on_bad_input() {
    let json = serde_json::to_string(&copper_harvest()).unwrap();
    // No secret.
    let out = run_replay(&json, None, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SEED_SECRET"));
    // Not a task.
    let out = run_replay("{\"player_id\": 3}", Some(secret_text()), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid task JSON"));
    // A missing file.
    let out = run_replay("", Some(secret_text()), &["/no/such/task.json"]);
    assert_eq!(out.status.code(), Some(2));
}
