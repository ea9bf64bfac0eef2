//! The state machine, case by case: given a player and its queue, when a use case runs at a
//! time, then the plan holds exactly these writes and notifications.

use super::*;
use crate::catalog::Catalog;
use crate::model::{Millis, Player, Task, TaskRequest, TaskStatus};
use crate::xp::xp_for_level;

const T0: Millis = 1_800_000_000_000;
const SECRET: &[u8] = b"lifecycle-test-secret-lifecycle-test";

fn game() -> Game<'static> {
    Game::new(Catalog::shipped(), SECRET)
}

fn player() -> Player {
    Player::new("p1", T0, Catalog::shipped(), 10)
}

fn harvest(quantity: u32) -> TaskRequest {
    TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity,
        repeat: None,
    }
}

fn craft(recipe: &str, quantity: u32) -> TaskRequest {
    TaskRequest::Craft {
        recipe: recipe.into(),
        quantity,
        repeat: None,
    }
}

/// The world the tests drive: a player and its tasks, with plans applied as a store would.
struct World {
    game: Game<'static>,
    player: Player,
    tasks: Vec<Task>,
}

impl World {
    fn new() -> World {
        World {
            game: game(),
            player: player(),
            tasks: Vec::new(),
        }
    }

    fn apply(&mut self, plan: &Plan) {
        if let Some(write) = &plan.player {
            assert_eq!(
                write.expected_version,
                Some(self.player.version),
                "plan read the stored version"
            );
            assert_eq!(write.player.version, self.player.version + 1);
            self.player = write.player.clone();
        }
        plan.apply_to_tasks(&mut self.tasks);
    }

    fn enqueue(&mut self, request_id: &str, request: TaskRequest, now: Millis) -> String {
        self.enqueue_with_plan(request_id, request, now).0
    }

    /// Enqueues, applies the plan and returns it (empty for a duplicate).
    fn enqueue_with_plan(
        &mut self,
        request_id: &str,
        request: TaskRequest,
        now: Millis,
    ) -> (String, Plan) {
        match enqueue(
            &self.game,
            &self.player,
            &self.tasks,
            request_id,
            &request,
            false,
            false,
            now,
        )
        .unwrap()
        {
            Enqueued::New { task_id, plan } => {
                self.apply(&plan);
                (task_id, *plan)
            }
            Enqueued::Duplicate { task_id } => (task_id, Plan::default()),
        }
    }

    /// Queues a task without starting it, as a start whose write failed leaves it: what
    /// `fail_transient` works on (a plain `enqueue` starts the task of an idle player).
    fn enqueue_unstarted(&mut self, request_id: &str, request: TaskRequest, now: Millis) -> String {
        let mut session = session::Session::new(&self.game, &self.player, &self.tasks, now);
        let task_id = session.enqueue(request_id, &request, false).unwrap();
        let plan = session.finish();
        self.apply(&plan);
        task_id
    }

    fn advance(&mut self, now: Millis) -> Plan {
        let plan = advance(&self.game, &self.player, &self.tasks, now);
        self.apply(&plan);
        plan
    }

    fn task(&self, task_id: &str) -> &Task {
        self.tasks.iter().find(|t| t.task_id == task_id).unwrap()
    }
}

/// The plan's notifications by type, in `seq` order.
fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.notifications.iter().map(|n| n.event.kind()).collect()
}

#[test]
fn enqueue_to_an_idle_player_starts_the_task_in_the_same_write() {
    let w = World::new();
    let Enqueued::New { task_id, plan } = enqueue(
        &w.game,
        &w.player,
        &[],
        "req-1",
        &harvest(3),
        false,
        false,
        T0,
    )
    .unwrap() else {
        panic!("a first request is new");
    };
    assert_eq!(task_id, "000000000001");
    assert_eq!(plan.tasks.len(), 1);
    assert_eq!(plan.tasks[0].expected, Expected::Absent);
    assert_eq!(plan.tasks[0].task.status, TaskStatus::Running);
    let player = &plan.player.as_ref().unwrap().player;
    assert_eq!(player.version, 1);
    assert_eq!(player.next_task_seq, 2);
    assert_eq!(player.wake_at, Some(T0 + 9000), "its end");
    assert_eq!(
        plan.progress,
        [T0 + 3000, T0 + 6000],
        "one update per action"
    );
    assert_eq!(kinds(&plan), ["task_started", "queue_updated"]);

    // A task queued behind a running one waits: queued, announced, nothing due before it
    let w = World {
        player: plan.player.unwrap().player,
        tasks: plan.tasks.into_iter().map(|t| t.task).collect(),
        ..World::new()
    };
    let Enqueued::New { plan, .. } = enqueue(
        &w.game,
        &w.player,
        &w.tasks,
        "req-2",
        &harvest(1),
        false,
        false,
        T0,
    )
    .unwrap() else {
        panic!("a second request is new");
    };
    assert_eq!(plan.tasks[0].task.status, TaskStatus::Queued);
    assert_eq!(
        plan.player.as_ref().unwrap().player.wake_at,
        Some(T0 + 9000)
    );
    assert_eq!(kinds(&plan), ["queue_updated"]);
}

#[test]
fn a_repeated_request_id_answers_with_the_original_task() {
    let mut w = World::new();
    let first = w.enqueue("req-1", harvest(3), T0);
    let again = enqueue(
        &w.game,
        &w.player,
        &w.tasks,
        "req-1",
        &harvest(5),
        false,
        false,
        T0 + 5,
    )
    .unwrap();
    assert_eq!(again, Enqueued::Duplicate { task_id: first });
}

#[test]
fn bypass_validation_needs_an_admin() {
    let w = World::new();
    let err = enqueue(&w.game, &w.player, &[], "r", &harvest(1), true, false, T0).unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(enqueue(&w.game, &w.player, &[], "r", &harvest(1), true, true, T0).is_ok());
}

#[test]
fn static_checks_refuse_bad_requests_with_stable_codes() {
    let w = World::new();
    let check = |request: TaskRequest, request_id: &str| {
        enqueue(
            &w.game,
            &w.player,
            &[],
            request_id,
            &request,
            false,
            false,
            T0,
        )
        .unwrap_err()
        .code()
    };
    assert_eq!(check(harvest(0), "r"), "invalid_quantity");
    assert_eq!(check(harvest(1001), "r"), "invalid_quantity");
    assert_eq!(check(harvest(1), ""), "invalid_request");
    assert_eq!(check(harvest(1), "has space"), "invalid_request");
    assert_eq!(check(harvest(1), &"x".repeat(65)), "invalid_request");
    let wrong_place = TaskRequest::Harvest {
        resource: "yew_log".into(),
        location: "meadow".into(),
        quantity: 1,
        repeat: None,
    };
    assert_eq!(check(wrong_place, "r"), "not_at_location");
    assert_eq!(check(craft("philosophers_stone", 1), "r"), "unknown_target");
    assert_eq!(check(craft("furnace", 2), "r"), "invalid_quantity");
    let ghost = TaskRequest::Combat {
        enemy: "ghost".into(),
        quantity: 1,
        repeat: None,
    };
    assert_eq!(check(ghost, "r"), "unknown_target");
}

#[test]
fn the_queue_limit_is_enforced() {
    let mut w = World::new();
    w.game.limits.rate_capacity = 100;
    w.player.rate.milli_tokens = 100_000;
    for i in 0..w.game.limits.max_queue {
        w.enqueue(&format!("r{i}"), harvest(1), T0);
    }
    let err = enqueue(
        &w.game,
        &w.player,
        &w.tasks,
        "one-more",
        &harvest(1),
        false,
        false,
        T0,
    )
    .unwrap_err();
    assert_eq!(err.code(), "queue_full");
}

#[test]
fn a_burst_is_rate_limited_on_server_time_and_refills() {
    let mut w = World::new();
    w.game.limits.max_queue = 100;
    for i in 0..10 {
        w.enqueue(&format!("r{i}"), harvest(1), T0);
    }
    let err = enqueue(
        &w.game,
        &w.player,
        &w.tasks,
        "r10",
        &harvest(1),
        false,
        false,
        T0,
    )
    .unwrap_err();
    assert_eq!(err.code(), "rate_limited");
    assert_eq!(err.retry_after_ms(), Some(1000));
    let err = enqueue(
        &w.game,
        &w.player,
        &w.tasks,
        "r10",
        &harvest(1),
        false,
        false,
        T0 + 400,
    )
    .unwrap_err();
    assert_eq!(err.retry_after_ms(), Some(600));
    assert!(enqueue(
        &w.game,
        &w.player,
        &w.tasks,
        "r10",
        &harvest(1),
        false,
        false,
        T0 + 1000
    )
    .is_ok());
}

#[test]
fn a_started_task_has_its_snapshot_and_end_time() {
    let mut w = World::new();
    let (id, plan) = w.enqueue_with_plan("r", harvest(4), T0);
    assert_eq!(kinds(&plan), ["task_started", "queue_updated"]);
    let task = w.task(&id);
    assert_eq!(task.status, TaskStatus::Running);
    // It starts when it was enqueued: the player was idle.
    assert_eq!(task.started_at, Some(T0));
    let snapshot = task.snapshot.as_ref().unwrap();
    assert_eq!(snapshot.action_ms, 3000);
    assert_eq!(snapshot.gear["pickaxe"].item, "bronze_pickaxe");
    assert_eq!(task.ends_at, Some(T0 + 12_000));
    assert_eq!(plan.tasks[0].expected, Expected::Absent);
    // Its end is the player's next state change; progress after the first action.
    assert_eq!(w.player.wake_at, Some(T0 + 12_000));
    assert_eq!(plan.progress, [T0 + 3000, T0 + 6000, T0 + 9000]);
}

#[test]
fn advancing_an_up_to_date_player_gives_an_empty_plan() {
    let mut w = World::new();
    w.enqueue("r", harvest(4), T0);
    w.advance(T0 + 100);
    assert!(w.advance(T0 + 100).is_empty());
    assert!(w.advance(T0 + 2999).is_empty());
}

#[test]
fn a_task_completes_at_its_end_time_and_never_before() {
    let mut w = World::new();
    let id = w.enqueue("r", harvest(2), T0);
    w.advance(T0);
    let ends_at = w.task(&id).ends_at.unwrap();
    w.advance(ends_at - 1);
    assert_eq!(w.task(&id).status, TaskStatus::Running);
    let plan = w.advance(ends_at);
    assert_eq!(w.task(&id).status, TaskStatus::Completed);
    assert_eq!(w.task(&id).finished_at, Some(ends_at));
    assert!(kinds(&plan).contains(&"task_completed"));
    let outcome = &w.task(&id).result.as_ref().unwrap().outcome;
    assert_eq!(w.player.count("copper_ore"), outcome.items["copper_ore"]);
    assert_eq!(
        w.player.skill_xp(crate::model::Skill::Harvesting),
        outcome.xp
    );
    assert_eq!(w.player.character_xp, outcome.xp);
    assert_eq!(w.player.equipment["pickaxe"].durability, 250 - 2);
    assert_eq!(w.player.wake_at, None, "nothing left to do");
}

#[test]
fn an_offline_player_catches_up_back_to_back_in_one_plan() {
    let mut w = World::new();
    let a = w.enqueue("a", harvest(2), T0);
    let b = w.enqueue("b", harvest(3), T0 + 10);
    let c = w.enqueue("c", craft("healing_tonic", 1), T0 + 20);
    // No wake-up ran; the ticker finds the player an hour later.
    let plan = w.advance(T0 + 3_600_000);
    let (a, b, c) = (w.task(&a), w.task(&b), w.task(&c));
    assert_eq!(a.started_at, Some(T0));
    assert_eq!(
        b.started_at, a.ends_at,
        "the next task starts when the previous ended"
    );
    assert_eq!(c.finished_at, b.ends_at);
    assert_eq!(
        c.status,
        TaskStatus::Rejected,
        "no guam leaves: the tonic can't start"
    );
    assert_eq!(c.failure.as_ref().unwrap().code, "missing_materials");
    assert_eq!(
        kinds(&plan),
        [
            "task_completed",
            "task_started",
            "task_completed",
            "task_failed",
            "queue_updated"
        ]
    );
    let seqs: Vec<u64> = plan.notifications.iter().map(|n| n.seq).collect();
    assert!(seqs.windows(2).all(|p| p[1] == p[0] + 1), "{seqs:?}");
}

#[test]
fn crafting_reserves_materials_at_start_and_refunds_preserved_ones() {
    let mut w = World::new();
    w.player.inventory.insert("guam_leaf".into(), 10);
    let id = w.enqueue("r", craft("healing_tonic", 5), T0);
    w.advance(T0);
    assert_eq!(w.player.count("guam_leaf"), 0, "2 per tonic × 5 reserved");
    assert_eq!(
        w.task(&id).snapshot.as_ref().unwrap().reserved["guam_leaf"],
        10
    );
    w.advance(T0 + 60_000);
    let result = w.task(&id).result.clone().unwrap();
    assert_eq!(
        w.player.count("guam_leaf"),
        result.refunded.get("guam_leaf").copied().unwrap_or(0)
    );
    assert_eq!(
        w.player.count("healing_tonic"),
        u64::from(result.outcome.successes)
    );
}

#[test]
fn cancelling_a_queued_task_refunds_nothing_and_keeps_the_rest() {
    let mut w = World::new();
    let a = w.enqueue("a", harvest(5), T0);
    let b = w.enqueue("b", harvest(5), T0);
    w.advance(T0);
    let plan = cancel(&w.game, &w.player, &w.tasks, &b, T0 + 10).unwrap();
    w.apply(&plan);
    assert_eq!(w.task(&b).status, TaskStatus::Cancelled);
    assert_eq!(w.task(&a).status, TaskStatus::Running);
    assert_eq!(kinds(&plan), ["task_cancelled", "queue_updated"]);
}

#[test]
fn cancelling_a_running_craft_settles_the_actions_done_and_refunds_the_rest() {
    let mut w = World::new();
    w.player.inventory.insert("guam_leaf".into(), 20);
    let id = w.enqueue("r", craft("healing_tonic", 10), T0);
    let next = w.enqueue("n", harvest(1), T0);
    w.advance(T0);
    // 2000 ms per tonic: at 7.5 s, three crafts are done.
    let plan = cancel(&w.game, &w.player, &w.tasks, &id, T0 + 7500).unwrap();
    w.apply(&plan);
    let task = w.task(&id);
    assert_eq!(task.status, TaskStatus::Cancelled);
    let result = task.result.as_ref().unwrap();
    assert_eq!(result.outcome.actions, 3);
    let preserved = result
        .outcome
        .preserved
        .get("guam_leaf")
        .copied()
        .unwrap_or(0);
    assert_eq!(result.refunded["guam_leaf"], 14 + preserved);
    assert_eq!(w.player.count("guam_leaf"), 14 + preserved);
    // The next task starts at the cancel.
    assert_eq!(w.task(&next).started_at, Some(T0 + 7500));
    // Progress is never part of a plan: the cancel announces only state changes.
    assert_eq!(
        kinds(&plan),
        ["task_cancelled", "task_started", "queue_updated"]
    );
}

#[test]
fn cancelling_a_finished_or_unknown_task_is_not_found() {
    let mut w = World::new();
    let id = w.enqueue("r", harvest(1), T0);
    w.advance(T0);
    let err = cancel(&w.game, &w.player, &w.tasks, &id, T0 + 3000).unwrap_err();
    assert_eq!(err.code(), "not_found");
    let err = cancel(&w.game, &w.player, &w.tasks, "999", T0).unwrap_err();
    assert_eq!(err.code(), "not_found");
}

#[test]
fn another_players_tasks_are_ignored() {
    let mut w = World::new();
    let id = w.enqueue("r", harvest(1), T0);
    let other = Player::new("p2", T0, Catalog::shipped(), 10);
    assert!(advance(&w.game, &other, &w.tasks, T0 + 10_000).is_empty());
    let err = cancel(&w.game, &other, &w.tasks, &id, T0).unwrap_err();
    assert_eq!(err.code(), "not_found");
}

#[test]
fn transient_failures_back_off_with_jitter_then_fail() {
    let mut w = World::new();
    let id = w.enqueue_unstarted("r", harvest(1), T0);
    let plan = fail_transient(&w.game, &w.player, &w.tasks, &id, "store throttled", T0);
    // Same inputs, same plan: the jitter comes from the task's seed.
    assert_eq!(
        plan,
        fail_transient(&w.game, &w.player, &w.tasks, &id, "store throttled", T0)
    );
    w.apply(&plan);
    let task = w.task(&id).clone();
    assert_eq!(task.status, TaskStatus::Retrying);
    assert_eq!(task.attempts, 1);
    let retry_at = task.retry_at.unwrap();
    assert!((T0 + 500..=T0 + 1000).contains(&retry_at), "{retry_at}");
    assert_eq!(w.player.wake_at, Some(retry_at));
    assert!(
        w.advance(retry_at - 1).is_empty(),
        "not before its retry time"
    );
    for attempt in 2..=5 {
        let plan = fail_transient(&w.game, &w.player, &w.tasks, &id, "store throttled", T0);
        w.apply(&plan);
        assert_eq!(w.task(&id).attempts, attempt);
    }
    let task = w.task(&id);
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(task.failure.as_ref().unwrap().code, "retries_exhausted");
}

#[test]
fn a_retrying_task_starts_once_its_time_comes() {
    let mut w = World::new();
    let id = w.enqueue_unstarted("r", harvest(1), T0);
    let plan = fail_transient(&w.game, &w.player, &w.tasks, &id, "timeout", T0);
    w.apply(&plan);
    let retry_at = w.task(&id).retry_at.unwrap();
    w.advance(retry_at + 5);
    assert_eq!(w.task(&id).status, TaskStatus::Running);
    assert_eq!(w.task(&id).started_at, Some(retry_at));
}

#[test]
fn a_running_task_is_not_affected_by_a_transient_failure() {
    let mut w = World::new();
    let id = w.enqueue("r", harvest(3), T0);
    w.advance(T0);
    assert!(fail_transient(&w.game, &w.player, &w.tasks, &id, "x", T0 + 1).is_empty());
}

#[test]
fn progress_updates_are_wake_ups_that_write_nothing() {
    let mut w = World::new();
    let (id, plan) = w.enqueue_with_plan("r", harvest(10), T0);
    // 10 actions of 3 s: an update every 2 actions (at most 4 updates), the first at 6 s; the
    // stored wake time is the task's end, the only state change to come
    assert_eq!(
        plan.progress,
        [T0 + 6000, T0 + 12_000, T0 + 18_000, T0 + 24_000],
        "all of them, armed with the write"
    );
    assert_eq!(w.player.wake_at, Some(T0 + 30_000));

    // When the first update's time comes, advancing changes nothing
    assert!(w.advance(T0 + 6000).is_empty());
    let (update, next) = progress(&w.game, &w.player, &w.tasks, T0 + 6000).unwrap();
    assert_eq!(
        (
            update.task_id.as_str(),
            update.done,
            update.total,
            update.ends_at
        ),
        (id.as_str(), 2, 10, T0 + 30_000)
    );
    assert_eq!(next, Some(T0 + 12_000));

    // The last update comes before completion, and none at or after it
    let (last, after) = progress(&w.game, &w.player, &w.tasks, T0 + 24_000).unwrap();
    assert_eq!((last.done, after), (8, None));
    assert!(progress(&w.game, &w.player, &w.tasks, T0 + 30_000).is_none());

    // And a plan that starts no task arms no progress
    let (_, behind) = w.enqueue_with_plan("r2", harvest(1), T0 + 7000);
    assert!(behind.progress.is_empty());
}

#[test]
fn dynamic_checks_reject_at_start_with_actionable_codes() {
    let cases: Vec<(TaskRequest, &str)> = vec![
        (
            TaskRequest::Harvest {
                resource: "iron_ore".into(),
                location: "mine".into(),
                quantity: 1,
                repeat: None,
            },
            "level_too_low",
        ),
        (craft("anvil", 1), "level_too_low"),
        (craft("bronze_bar", 1), "missing_station"),
        (craft("oak_plank", 1), "missing_materials"),
        (
            TaskRequest::Combat {
                enemy: "troll".into(),
                quantity: 1,
                repeat: None,
            },
            "enemy_too_strong",
        ),
        (harvest(251), "gear_worn"),
    ];
    for (request, code) in cases {
        let mut w = World::new();
        let id = w.enqueue("r", request.clone(), T0);
        w.advance(T0);
        let task = w.task(&id);
        assert_eq!(task.status, TaskStatus::Rejected, "{request:?}");
        assert_eq!(task.failure.as_ref().unwrap().code, code, "{request:?}");
    }
}

#[test]
fn a_missing_tool_is_taken_from_the_inventory_or_rejected() {
    let mut w = World::new();
    w.player.equipment.remove("pickaxe");
    let id = w.enqueue("r", harvest(1), T0);
    w.advance(T0);
    assert_eq!(w.task(&id).failure.as_ref().unwrap().code, "missing_tool");

    let mut w = World::new();
    w.player.equipment.remove("pickaxe");
    w.player.inventory.insert("bronze_pickaxe".into(), 1);
    w.player.inventory.insert("iron_pickaxe@fine".into(), 1);
    w.player
        .skills
        .insert(crate::model::Skill::Harvesting, xp_for_level(10));
    let (id, plan) = w.enqueue_with_plan("r", harvest(1), T0);
    assert_eq!(w.task(&id).status, TaskStatus::Running);
    let worn = &w.player.equipment["pickaxe"];
    assert_eq!(
        (worn.item.as_str(), worn.quality, worn.durability),
        ("iron_pickaxe", 1, 550)
    );
    assert_eq!(w.player.count("iron_pickaxe@fine"), 0);
    assert_eq!(plan.ledger[0].reason, LedgerReason::Equip);
}

#[test]
fn an_admin_bypass_skips_dynamic_checks() {
    let mut w = World::new();
    let request = TaskRequest::Combat {
        enemy: "dragon".into(),
        quantity: 1,
        repeat: None,
    };
    let Enqueued::New { task_id, plan } =
        enqueue(&w.game, &w.player, &w.tasks, "r", &request, true, true, T0).unwrap()
    else {
        panic!()
    };
    w.apply(&plan);
    w.advance(T0);
    assert_eq!(w.task(&task_id).status, TaskStatus::Running);
}

#[test]
fn broken_gear_leaves_its_slot() {
    let mut w = World::new();
    w.player.equipment.get_mut("pickaxe").unwrap().durability = 2;
    w.enqueue("r", harvest(2), T0);
    w.advance(T0 + 60_000);
    assert!(!w.player.equipment.contains_key("pickaxe"));
}

#[test]
fn crafting_a_station_adds_it_to_the_players_stations() {
    let mut w = World::new();
    w.player.inventory.insert("copper_ore".into(), 20);
    w.player.inventory.insert("oak_log".into(), 10);
    w.player
        .skills
        .insert(crate::model::Skill::Crafting, xp_for_level(40));
    let id = w.enqueue("r", craft("furnace", 1), T0);
    w.advance(T0 + 60_000);
    let outcome = &w.task(&id).result.as_ref().unwrap().outcome;
    assert_eq!(
        w.player.stations.contains("furnace"),
        outcome.successes == 1
    );
    // A second furnace is refused at start if the first was built.
    if outcome.successes == 1 {
        w.player.inventory.insert("copper_ore".into(), 20);
        w.player.inventory.insert("oak_log".into(), 10);
        let again = w.enqueue("r2", craft("furnace", 1), T0 + 60_000);
        w.advance(T0 + 60_001);
        assert_eq!(
            w.task(&again).failure.as_ref().unwrap().code,
            "already_owned"
        );
    }
}

#[test]
fn notifications_serialise_with_type_seq_and_at() {
    let mut w = World::new();
    let (_, plan) = w.enqueue_with_plan("r", harvest(1), T0);
    let json = serde_json::to_value(&plan.notifications[0]).unwrap();
    assert_eq!(json["type"], "task_started");
    assert_eq!(json["seq"], 1);
    assert_eq!(json["at"], T0);
    assert_eq!(json["task_id"], "000000000001");
    assert_eq!(json["activity"], "harvest");
}

fn transitions(plan: &Plan) -> Vec<(String, TransitionKind, u32, Option<String>)> {
    plan.transitions
        .iter()
        .map(|t| (t.task_id.clone(), t.kind, t.attempts, t.code.clone()))
        .collect()
}

fn moved(
    task_id: &str,
    kind: TransitionKind,
    attempts: u32,
    code: Option<&str>,
) -> (String, TransitionKind, u32, Option<String>) {
    (task_id.to_owned(), kind, attempts, code.map(str::to_owned))
}

#[test]
fn each_change_of_a_tasks_state_is_reported_once_in_order_with_its_code() {
    use TransitionKind::{Cancelled, Completed, Failed, Rejected, Retried, Started};
    let mut w = World::new();

    // Given an enqueue to an idle player: the new task is reported as enqueued, then started
    let (first, plan) = w.enqueue_with_plan("first", harvest(1), T0);
    assert_eq!(
        transitions(&plan),
        [
            moved(&first, TransitionKind::Enqueued, 0, None),
            moved(&first, Started, 0, None)
        ]
    );
    assert_eq!(
        plan.transitions[0].activity,
        crate::model::Activity::Harvest
    );
    let plan = w.advance(T0 + 10_000);
    assert_eq!(transitions(&plan), [moved(&first, Completed, 0, None)]);

    // And a task whose start could not be written, then one queued behind it
    let a = w.enqueue_unstarted("a", harvest(1), T0 + 10_000);
    let b = w.enqueue_unstarted("b", craft("oak_plank", 1), T0 + 10_000);

    // When its start fails transiently: retried, with the code the notification carries
    let plan = fail_transient(&w.game, &w.player, &w.tasks, &a, "throttled", T0 + 10_000);
    assert_eq!(
        transitions(&plan),
        [moved(&a, Retried, 1, Some("transient_failure"))]
    );
    w.apply(&plan);

    // When time runs past its retry: started and completed, then the next one rejected at
    // start (no planks without logs)
    let plan = w.advance(T0 + 3_600_000);
    assert_eq!(
        transitions(&plan),
        [
            moved(&a, Started, 1, None),
            moved(&a, Completed, 1, None),
            moved(&b, Rejected, 0, Some("missing_materials")),
        ]
    );
    assert_eq!(plan.count(Completed), 1);

    // A task whose retries run out is failed once; a queued one cancelled is cancelled
    let now = T0 + 3_600_000;
    let c = w.enqueue_unstarted("c", harvest(1), now);
    for attempt in 1..5 {
        let plan = fail_transient(&w.game, &w.player, &w.tasks, &c, "throttled", now);
        assert_eq!(plan.count(Retried), 1, "attempt {attempt}");
        w.apply(&plan);
    }
    let plan = fail_transient(&w.game, &w.player, &w.tasks, &c, "throttled", now);
    assert_eq!(
        transitions(&plan),
        [moved(&c, Failed, 5, Some("retries_exhausted"))]
    );
    w.apply(&plan);
    let d = w.enqueue_unstarted("d", harvest(5), now);
    let e = w.enqueue_unstarted("e", harvest(5), now);
    let plan = cancel(&w.game, &w.player, &w.tasks, &e, now).unwrap();
    assert_eq!(
        transitions(&plan),
        [moved(&d, Started, 0, None), moved(&e, Cancelled, 0, None)]
    );

    // And advancing an up-to-date player reports nothing
    w.apply(&plan);
    assert!(w.advance(now).transitions.is_empty());
}

#[test]
fn a_plan_stored_before_transitions_existed_reads_as_having_none() {
    let mut w = World::new();
    w.enqueue("a", harvest(1), T0);
    let plan = w.advance(T0);
    let mut value = serde_json::to_value(&plan).unwrap();
    value.as_object_mut().unwrap().remove("transitions");
    let old: Plan = serde_json::from_value(value).unwrap();
    assert!(old.transitions.is_empty());
    assert_eq!(old.notifications, plan.notifications);
}

// ---- catalog changes -------------------------------------------------------------------

/// The shipped catalog with copper ore yielding three times as much: a change that alters the
/// outcome of any copper harvest.
fn richer_copper() -> &'static Catalog {
    let mut catalog = Catalog::shipped().clone();
    catalog.version += 1;
    catalog.resources.get_mut("copper_ore").unwrap().base_yield *= 3.0;
    Box::leak(Box::new(catalog))
}

/// The shipped catalog without copper ore.
fn without_copper() -> &'static Catalog {
    let mut catalog = Catalog::shipped().clone();
    catalog.version += 1;
    catalog.resources.remove("copper_ore");
    for location in catalog.locations.values_mut() {
        location.resources.remove("copper_ore");
    }
    Box::leak(Box::new(catalog))
}

#[test]
fn a_task_records_the_catalog_hash_it_started_under() {
    let mut world = World::new();
    let id = world.enqueue_unstarted("r1", harvest(2), T0);
    let hash = Some(Catalog::shipped().content_hash());
    assert_eq!(world.task(&id).catalog_hash, None, "not while queued");
    world.advance(T0);
    assert_eq!(world.task(&id).status, TaskStatus::Running);
    assert_eq!(world.task(&id).catalog_hash, hash);
}

#[test]
fn a_plan_records_the_catalog_of_the_tasks_it_starts_and_completes_and_no_other() {
    let mut world = World::new();
    let hash = Catalog::shipped().content_hash();
    let id = world.enqueue_unstarted("r1", harvest(2), T0);
    let started = world.advance(T0);
    assert_eq!(world.task(&id).status, TaskStatus::Running);
    assert!(started.records_catalog(&hash));
    assert!(!started.records_catalog("another catalog"));
    let completed = world.advance(T0 + 24 * 3600 * 1000);
    assert_eq!(world.task(&id).status, TaskStatus::Completed);
    assert!(completed.records_catalog(&hash));
    // A plan that changes no task (a spent message token) names no catalog.
    assert!(!Plan::default().records_catalog(&hash));
}

#[test]
fn a_running_task_completes_under_the_catalog_it_started_with_when_that_is_kept() {
    // Given two worlds that start the same copper harvest under the shipped catalog
    let mut unchanged = World::new();
    let mut changed = World::new();
    let id = unchanged.enqueue("r1", harvest(20), T0);
    changed.enqueue("r1", harvest(20), T0);
    unchanged.advance(T0);
    changed.advance(T0);
    // When a catalog that changes copper's yield lands in one of them while the task runs,
    // keeping the catalog the task started with
    let richer = richer_copper();
    changed.game = Game::new(richer, SECRET).keep(Catalog::shipped());
    let end = T0 + 24 * 3600 * 1000;
    changed.advance(end);
    unchanged.advance(end);
    // Then the task completes exactly as it would have without the change
    let (a, b) = (changed.task(&id), unchanged.task(&id));
    assert_eq!(a.status, TaskStatus::Completed);
    assert_eq!(a.result, b.result);
    assert_eq!(changed.player.inventory, unchanged.player.inventory);
    // and records the catalog its outcome was computed with
    assert_eq!(a.catalog_hash, Some(Catalog::shipped().content_hash()));
    assert_eq!(a.rules_version, Catalog::shipped().version);
}

#[test]
fn a_running_task_whose_catalog_is_not_kept_completes_under_the_current_one_and_says_so() {
    let mut world = World::new();
    let id = world.enqueue("r1", harvest(20), T0);
    world.advance(T0);
    let richer = richer_copper();
    world.game = Game::new(richer, SECRET);
    world.advance(T0 + 24 * 3600 * 1000);
    let task = world.task(&id);
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.catalog_hash, Some(richer.content_hash()));
    assert_eq!(task.rules_version, richer.version);
    // The outcome is the current catalog's, which is what replay will find.
    let recomputed = crate::rules::outcome(
        &task.request,
        task.snapshot.as_ref().unwrap(),
        &crate::rng::Seed::for_task(SECRET, "p1", &id),
        richer,
        20,
    )
    .unwrap();
    assert_eq!(task.result.as_ref().unwrap().outcome, recomputed);
}

#[test]
fn a_task_queued_under_a_catalog_that_drops_its_target_is_rejected_at_start() {
    // Given a running copper harvest and a second one queued behind it
    let mut world = World::new();
    let first = world.enqueue("r1", harvest(2), T0);
    world.advance(T0);
    let second = world.enqueue("r2", harvest(2), T0 + 1);
    // When a catalog without copper ore lands (the old one kept for the running task)
    world.game = Game::new(without_copper(), SECRET).keep(Catalog::shipped());
    let plan = world.advance(T0 + 24 * 3600 * 1000);
    // Then the running task completes under its own catalog
    assert_eq!(world.task(&first).status, TaskStatus::Completed);
    assert!(world.task(&first).result.as_ref().unwrap().outcome.actions == 2);
    // and the queued one is rejected when it would start, with unknown_target and a reason
    let task = world.task(&second);
    assert_eq!(task.status, TaskStatus::Rejected);
    let failure = task.failure.as_ref().unwrap();
    assert_eq!(failure.code, "unknown_target");
    assert!(
        failure.message.contains("catalog changed") && failure.message.contains("copper_ore"),
        "{}",
        failure.message
    );
    assert!(plan.notifications.iter().any(|n| matches!(
        &n.event,
        crate::protocol::Event::TaskFailed { task_id, code, .. }
            if *task_id == second && *code == crate::protocol::ErrorCode::UnknownTarget
    )));
}

#[test]
fn a_task_queued_under_another_catalog_whose_target_remains_starts_under_the_current_one() {
    let mut world = World::new();
    world.enqueue("r1", harvest(2), T0);
    world.advance(T0);
    let second = world.enqueue("r2", harvest(2), T0 + 1);
    let richer = richer_copper();
    world.game = Game::new(richer, SECRET).keep(Catalog::shipped());
    world.advance(T0 + 5_000_000);
    let task = world.task(&second);
    assert_ne!(task.status, TaskStatus::Rejected);
    assert!(task.started_at.is_some());
    assert_eq!(task.catalog_hash, Some(richer.content_hash()));
}

#[test]
fn an_admin_bypass_does_not_skip_the_recheck_of_a_removed_target() {
    let mut world = World::new();
    world.enqueue("r1", harvest(2), T0);
    world.advance(T0);
    let Enqueued::New { task_id, plan } = enqueue(
        &world.game,
        &world.player,
        &world.tasks,
        "r2",
        &harvest(2),
        true,
        true,
        T0 + 1,
    )
    .unwrap() else {
        panic!("a new task")
    };
    world.apply(&plan);
    world.game = Game::new(without_copper(), SECRET).keep(Catalog::shipped());
    world.advance(T0 + 24 * 3600 * 1000);
    assert_eq!(world.task(&task_id).status, TaskStatus::Rejected);
}

#[test]
fn items_a_new_catalog_no_longer_defines_stay_in_the_inventory() {
    // Given a player holding sapphires and a catalog that drops the item (and copper's rare drop)
    let mut world = World::new();
    world.player.add_items("sapphire", 3);
    let mut catalog = Catalog::shipped().clone();
    catalog.items.remove("sapphire");
    for resource in catalog.resources.values_mut() {
        resource.rare_drops.retain(|d| d.item != "sapphire");
    }
    world.game = Game::new(Box::leak(Box::new(catalog)), SECRET);
    // When the player harvests under it
    let id = world.enqueue("r1", harvest(3), T0);
    world.advance(T0);
    world.advance(T0 + 3_600_000);
    // Then the task completes and the sapphires are still there, untouched
    assert_eq!(world.task(&id).status, TaskStatus::Completed);
    assert_eq!(world.player.count("sapphire"), 3);
    // and the player's view still lists them, marked unusable, and nothing else.
    let view = crate::protocol::PlayerView::of(&world.player, world.game.catalog);
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["inventory"]["sapphire"], 3);
    assert_eq!(json["unusable"], serde_json::json!(["sapphire"]));
    // Under the shipped catalog, which defines them, nothing is marked and the field is omitted.
    let view = crate::protocol::PlayerView::of(&world.player, Catalog::shipped());
    assert!(view.unusable.is_empty());
    assert!(serde_json::to_value(&view)
        .unwrap()
        .get("unusable")
        .is_none());
}

#[test]
fn only_an_armed_milestone_posts_progress_and_a_stale_wake_up_posts_nothing() {
    let mut w = World::new();
    let (id, plan) = w.enqueue_with_plan("r", harvest(10), T0);
    let milestones = plan.progress.clone();
    assert_eq!(milestones.len(), 4);

    // Each milestone, when its wake-up comes (on time or late), posts the task's progress
    for (i, &at) in milestones.iter().enumerate() {
        let update = progress_for(&w.game, &w.player, &w.tasks, at, at + 400).unwrap();
        assert_eq!(
            (update.task_id.as_str(), update.done),
            (id.as_str(), 2 * (i as u32 + 1))
        );
    }
    // A time that is no milestone (the task's start, a stale completion, between two
    // milestones) posts nothing
    for at in [T0, T0 + 1, T0 + 7000] {
        assert_eq!(
            progress_for(&w.game, &w.player, &w.tasks, at, at),
            None,
            "{at}"
        );
    }
    // Nor does a milestone once the task has ended
    assert_eq!(
        progress_for(&w.game, &w.player, &w.tasks, milestones[3], T0 + 30_000),
        None
    );
    // Nor the milestones of a task cancelled since
    let plan = cancel(&w.game, &w.player, &w.tasks, &id, T0 + 1000).unwrap();
    w.apply(&plan);
    assert_eq!(
        progress_for(&w.game, &w.player, &w.tasks, milestones[0], milestones[0]),
        None
    );
}
