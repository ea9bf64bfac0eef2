//! Advancing players when their time comes (the wake-up, and the ticker as its safety net):
//! redelivery, store faults, contention, and failures that belong to one player.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Env, T0};
use idle_app::memory::{Fault, StoreOp};
use idle_app::metrics::Invocation;
use idle_app::ports::StoreError;
use idle_app::usecase::{tick, wake, Woken};
use idle_core::model::TaskStatus;
use serde_json::json;

/// Connects each player and queues one harvest (started at once); returns each player's task id.
async fn players_with_tasks(env: &Env, players: &[&str], quantity: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, p) in players.iter().enumerate() {
        let connection = format!("conn-{i}");
        env.connect(&connection, p).await;
        let ack = env.harvest(&connection, "r1", quantity).await;
        ids.push(ack["task_id"].as_str().unwrap().to_owned());
    }
    ids
}

fn transient() -> StoreError {
    StoreError::Transient("throttled".into())
}

/// Puts a player's head task back to `queued`, as a start whose write failed leaves it
/// (test set-up: a plain enqueue starts the task of an idle player in its own write).
fn unstart(env: &Env, player_id: &str) {
    let mut state = env.world.store.player(player_id).unwrap();
    let task = &mut state.queue[0];
    task.status = TaskStatus::Queued;
    task.started_at = None;
    task.ends_at = None;
    task.snapshot = None;
    state.player.wake_at = Some(env.now());
    env.world.store.put_player(state);
}

#[tokio::test]
async fn a_write_that_keeps_failing_is_recorded_as_a_retry_of_the_head_task() {
    // Given a task waiting to start, and a store that fails b's next four writes (all the
    // advance's attempts), then recovers
    let env = Env::new();
    players_with_tasks(&env, &["b"], 1).await;
    unstart(&env, "b");
    env.world
        .faults
        .inject(Fault::times(StoreOp::Commit, 4, transient()).for_player("b"));

    // When its wake-up comes
    let woken = wake(&env.services, "b", env.now()).await;

    // Then the head task is retrying with backoff, and its retry time is armed
    assert_eq!(woken, Ok(Woken::Advanced));
    let b = env.world.store.player("b").unwrap();
    let task = &b.queue[0];
    assert_eq!(task.status, TaskStatus::Retrying);
    assert_eq!(task.attempts, 1);
    let retry_at = task.retry_at.unwrap();
    assert_eq!(b.player.wake_at, Some(retry_at));
    env.perform().await;
    assert!(env
        .world
        .waker
        .armed()
        .contains(&(retry_at, "b".to_owned())));
    env.set_clock(retry_at);
    env.settle().await;
    assert_eq!(
        env.world.store.player("b").unwrap().queue[0].status,
        TaskStatus::Running
    );
}

#[tokio::test]
async fn a_wake_up_before_the_next_state_change_writes_nothing() {
    // An unknown player, or one with nothing running: nothing to do
    let env = Env::new();
    assert_eq!(
        wake(&env.services, "ghost", env.now()).await,
        Ok(Woken::Unknown)
    );
    env.connect("conn-9", "idle").await;
    // A connected player has no item until its first write: a wake-up knows nothing of it.
    assert_eq!(
        wake(&env.services, "idle", env.now()).await,
        Ok(Woken::Unknown)
    );
    env.send("conn-9", &serde_json::json!({"action": "ping"}))
        .await;
    assert_eq!(
        wake(&env.services, "idle", env.now()).await,
        Ok(Woken::Nothing)
    );

    // A running task before its end: its wake-ups (each progress update, then its end) were
    // armed with the enqueue's write
    players_with_tasks(&env, &["a"], 3).await;
    let armed = env.world.waker.armed();
    assert_eq!(
        armed,
        [T0 + 3_000, T0 + 6_000, T0 + 9_000].map(|at| (at, "a".to_owned()))
    );
    env.perform().await;
    env.posts("conn-0");
    let version = env.world.store.player("a").unwrap().player.version;

    // When the first update's wake-up comes, it is posted, nothing more is armed, and the
    // player is not written
    env.advance_clock(3_000);
    assert_eq!(
        wake(&env.services, "a", T0 + 3_000).await,
        Ok(Woken::Progress)
    );
    assert_eq!(env.world.store.player("a").unwrap().player.version, version);
    let posts = env.posts("conn-0");
    assert_eq!(common::types(&posts), ["task_progress"]);
    assert_eq!(
        (posts[0]["done"].as_u64(), posts[0].get("seq")),
        (Some(1), None)
    );
    assert_eq!(env.world.waker.armed(), armed, "no chain: nothing armed");

    // And the same wake-up again (SQS delivers at least once) posts the same update again but
    // arms nothing, and a wake-up for a time that is no update of the running task (a stale
    // one) posts nothing
    assert_eq!(
        wake(&env.services, "a", T0 + 3_000).await,
        Ok(Woken::Progress)
    );
    assert_eq!(common::types(&env.posts("conn-0")), ["task_progress"]);
    assert_eq!(
        wake(&env.services, "a", T0 + 2_000).await,
        Ok(Woken::Nothing)
    );
    assert!(env.posts("conn-0").is_empty());
    assert_eq!(env.world.waker.armed(), armed);
}

#[tokio::test]
async fn a_transient_failure_of_a_wake_up_is_an_error_to_retry() {
    let env = Env::new();
    players_with_tasks(&env, &["a"], 1).await;
    env.advance_clock(3_600_000);
    env.world
        .faults
        .inject(Fault::always(StoreOp::LoadPlayers, transient()));
    assert!(wake(&env.services, "a", env.now()).await.is_err());
    env.world.faults.clear_faults();
    assert_eq!(
        wake(&env.services, "a", env.now()).await,
        Ok(Woken::Advanced)
    );
}

#[tokio::test]
async fn a_wake_up_delivered_twice_grants_nothing_twice() {
    // Given tasks whose whole duration has passed by the time their wake-ups come
    async fn world_after(deliveries: usize) -> (Vec<(String, u64)>, u64, usize) {
        let env = Env::new();
        players_with_tasks(&env, &["a", "b"], 3).await;
        env.advance_clock(3_600_000);
        let mut completed = 0;
        for _ in 0..deliveries {
            for p in ["a", "b"] {
                let before = env.world.store.player(p).unwrap().queue.len();
                wake(&env.services, p, env.now()).await.unwrap();
                completed += before - env.world.store.player(p).unwrap().queue.len();
            }
        }
        let mut inventory: Vec<(String, u64)> = Vec::new();
        let mut xp = 0;
        for p in ["a", "b"] {
            let state = env.world.store.player(p).unwrap();
            inventory.extend(state.player.inventory.clone());
            xp += state.player.character_xp;
            assert!(state.queue.is_empty());
        }
        (inventory, xp, completed)
    }

    // When the wake-ups come once, and (in another world) twice
    let once = world_after(1).await;
    let twice = world_after(2).await;

    // Then the grants are the same and each task completed once
    assert_eq!(once.2, 2);
    assert_eq!(twice.2, 2, "the second wake-up completes nothing");
    assert_eq!(once.0, twice.0);
    assert_eq!(once.1, twice.1);
    assert!(once
        .0
        .iter()
        .any(|(item, n)| item == "copper_ore" && *n > 0));
}

#[tokio::test]
async fn a_commit_that_timed_out_after_writing_is_not_applied_twice() {
    // Given a store that writes a's advance but reports a timeout
    let env = Env::new();
    players_with_tasks(&env, &["a"], 2).await;
    env.advance_clock(3_600_000);
    env.world.faults.inject(
        Fault::once(StoreOp::Commit, transient())
            .for_player("a")
            .after_write(),
    );

    // When its wake-up comes, and the outboxes are performed
    wake(&env.services, "a", env.now()).await.unwrap();
    let report = env.perform().await;

    // Then the retry saw the written state and did nothing more: one completion, one record
    assert!(report.failures.is_empty());
    let history = env.world.store.task_history("a");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, TaskStatus::Completed);
    let state = env.world.store.player("a").unwrap();
    assert!(state.queue.is_empty());
    let granted = state
        .player
        .inventory
        .get("copper_ore")
        .copied()
        .unwrap_or(0);
    assert!(granted >= 1);
    let completed_ore = match &history[0].result {
        Some(result) => result.outcome.items.get("copper_ore").copied().unwrap_or(0),
        None => 0,
    };
    assert_eq!(granted, completed_ore);
}

/// Sums each EMF metric over the lines of one flush (the per-activity lines carry the task
/// counts).
fn emf_totals(env: &Env) -> BTreeMap<String, i64> {
    let lines = env.services.metrics.flush(&Invocation {
        function: "task-processor",
        at: env.now(),
        duration: Duration::ZERO,
        batch_size: None,
        connections_cleaned: None,
    });
    let mut totals = BTreeMap::new();
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        for definition in value["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            let name = definition["Name"].as_str().unwrap();
            *totals.entry(name.to_owned()).or_insert(0) += value[name].as_i64().unwrap_or(0);
        }
    }
    totals
}

#[tokio::test]
async fn the_emf_counts_and_the_tick_report_agree_on_retries_failures_and_completions() {
    // Given a running task that is due (a), a queued task whose start will keep failing (b), a
    // retrying task on its last attempt that will fail the same way (c), and a craft that
    // dynamic validation refuses at start (d, rejected in its own enqueue)
    let env = Env::new();
    players_with_tasks(&env, &["a", "b", "c"], 1).await;
    env.advance_clock(3_600_000);
    unstart(&env, "b");
    unstart(&env, "c");
    emf_totals(&env);
    env.connect("conn-d", "d").await;
    let craft = json!({"action": "enqueue", "request_id": "r1",
        "task": {"activity": "craft", "recipe": "oak_plank", "quantity": 1}});
    let ack = env.send("conn-d", &craft).await;
    assert_eq!(ack[0]["type"], "ack");
    let mut c = env.world.store.player("c").unwrap();
    c.queue[0].status = TaskStatus::Retrying;
    c.queue[0].attempts = env.services.game.retry.max_attempts - 1;
    c.queue[0].retry_at = Some(env.now());
    env.world.store.put_player(c);
    let attempts = env.services.config.commit_attempts;
    for p in ["b", "c"] {
        env.world
            .faults
            .inject(Fault::times(StoreOp::Commit, attempts, transient()).for_player(p));
    }

    // When one tick advances a, b and c
    let report = tick(&env.services).await;

    // Then the report counts one of each, and the EMF lines of the invocations the same (d's
    // rejection was counted by its enqueue)
    assert_eq!(report.errors, 0, "{report:?}");
    let counted = [
        ("TasksStarted", report.tasks_started, 0),
        ("TasksCompleted", report.tasks_completed, 1),
        ("TasksRetried", report.tasks_retried, 1),
        ("TasksFailed", report.tasks_failed, 1),
        ("TasksRejected", report.tasks_rejected + 1, 1),
    ];
    let emf = emf_totals(&env);
    for (metric, in_report, expected) in counted {
        assert_eq!(in_report, expected, "{metric} in {report:?}");
        assert_eq!(
            emf.get(metric).copied().unwrap_or(0),
            in_report as i64,
            "{metric}: {emf:?}"
        );
    }
    env.perform().await;
    assert_eq!(
        env.world.store.task_history("c")[0].status,
        TaskStatus::Failed,
        "c's retries ran out"
    );
}

// ---- contention is not a failure of the task ------------------------------------------------

fn conflict() -> StoreError {
    StoreError::Conflict("version changed".into())
}

/// The `type`s of the notifications a connection received since the last call.
fn posted_types(env: &Env, connection_id: &str) -> Vec<String> {
    common::types(&env.posts(connection_id))
}

#[tokio::test]
async fn conflicts_in_a_row_never_charge_the_head_task_and_it_starts_once_they_stop() {
    // Given a queued task, and more conflicting writes in a row than one advance tries
    let env = Env::new();
    players_with_tasks(&env, &["b"], 1).await;
    unstart(&env, "b");
    env.perform().await;
    posted_types(&env, "conn-0");
    let conflicts = env.services.config.commit_attempts + 2;
    env.world
        .faults
        .inject(Fault::times(StoreOp::Commit, conflicts, conflict()).for_player("b"));

    // When its wake-up comes
    let woken = wake(&env.services, "b", env.now()).await;

    // Then the task is untouched: still queued, no attempt spent, no failure announced; the
    // wake-up is handed back for a later try
    let task = &env.world.store.player("b").unwrap().queue[0];
    assert_eq!(task.status, TaskStatus::Queued, "{task:?}");
    assert_eq!(task.attempts, 0);
    assert!(task.failure.is_none());
    assert!(woken.is_err());
    env.perform().await;
    assert!(!posted_types(&env, "conn-0").contains(&"task_failed".to_owned()));

    // And tried again once the conflicts stop, it starts
    assert_eq!(
        wake(&env.services, "b", env.now()).await,
        Ok(Woken::Advanced)
    );
    let task = &env.world.store.player("b").unwrap().queue[0];
    assert_eq!((task.status, task.attempts), (TaskStatus::Running, 0));
}

#[tokio::test]
async fn five_ticks_that_each_lose_every_write_race_do_not_fail_the_task() {
    // Given a queued task whose player is due, and a ticker that meets a conflict on every
    // write of each of its next five runs (the field case: retrying after one, failed with
    // `retries_exhausted` after five)
    let env = Env::new();
    players_with_tasks(&env, &["b"], 1).await;
    unstart(&env, "b");
    env.perform().await;
    posted_types(&env, "conn-0");
    let attempts = env.services.config.commit_attempts;
    for _ in 0..5 {
        env.world
            .faults
            .inject(Fault::times(StoreOp::Commit, attempts, conflict()).for_player("b"));
        let tick = idle_app::usecase::tick(&env.services).await;
        assert_eq!(tick.errors, 1, "{tick:?}");
        env.advance_clock(60_000);
    }

    // Then the task was never charged, and the player is still due
    let b = env.world.store.player("b").unwrap();
    let task = &b.queue[0];
    assert_eq!((task.status, task.attempts), (TaskStatus::Queued, 0));
    assert!(b.player.wake_at.is_some_and(|at| at <= env.now()));
    env.perform().await;
    assert!(!posted_types(&env, "conn-0").contains(&"task_failed".to_owned()));

    // And the next tick without contention starts it
    let tick = idle_app::usecase::tick(&env.services).await;
    assert_eq!((tick.tasks_started, tick.errors), (1, 0), "{tick:?}");
}

// ---- a failure that belongs to one player stays with that player ---------------------------

#[tokio::test]
async fn an_unreadable_player_is_skipped_and_counted_and_the_healthy_one_still_advances() {
    // Given two players with queued tasks, one of whose stored item no longer decodes
    let env = Env::new();
    players_with_tasks(&env, &["bad", "good"], 1).await;
    unstart(&env, "bad");
    unstart(&env, "good");
    env.world
        .store
        .corrupt_player("bad", "attribute `version` is not a number");
    let unreadable_before = env.services.metrics.snapshot().players_unreadable;

    // When the ticker finds both due
    let report = tick(&env.services).await;

    // Then the healthy player is advanced, the unreadable one is counted and left (its task
    // untouched, still due), and it is not an error the tick retries
    assert_eq!(
        (report.unreadable_players, report.errors),
        (1, 0),
        "{report:?}"
    );
    assert_eq!((report.advanced, report.tasks_started), (1, 1));
    assert_eq!(
        env.world.store.player("good").unwrap().queue[0].status,
        TaskStatus::Running
    );
    let bad = env.world.store.player("bad").unwrap();
    assert_eq!(bad.queue[0].status, TaskStatus::Queued);
    assert!(bad.player.wake_at.is_some_and(|at| at <= env.now()));
    assert_eq!(
        env.services.metrics.snapshot().players_unreadable - unreadable_before,
        1
    );
    // A wake-up meets it too, and leaves it as it is
    assert_eq!(
        wake(&env.services, "bad", env.now()).await,
        Ok(Woken::Nothing)
    );

    // And the ticker meets it again, counts it, and starts it once the item is repaired
    let again = tick(&env.services).await;
    assert_eq!(
        (again.unreadable_players, again.errors),
        (1, 0),
        "{again:?}"
    );
    env.world.store.put_player(bad);
    let repaired = tick(&env.services).await;
    assert_eq!(repaired.tasks_started, 1, "{repaired:?}");
}

#[tokio::test]
async fn a_write_the_store_refuses_for_good_leaves_the_player_and_is_counted() {
    // Given two players due, and a store that refuses every write of b's for a reason retrying
    // cannot fix (an item over the size limit, say)
    let env = Env::new();
    players_with_tasks(&env, &["a", "b"], 1).await;
    unstart(&env, "a");
    unstart(&env, "b");
    env.world.faults.inject(
        Fault::always(
            StoreOp::Commit,
            StoreError::Permanent("item size has exceeded the maximum allowed size".into()),
        )
        .for_player("b"),
    );

    // When the ticker advances both
    let report = tick(&env.services).await;

    // Then a advanced, b is counted and left due, and it is not an error to retry
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(report.permanent_failures, 1);
    assert_eq!(report.tasks_started, 1);
    assert_eq!(env.services.metrics.snapshot().players_unwritable, 1);
    let b = env.world.store.player("b").unwrap();
    assert_eq!(
        (b.queue[0].status, b.queue[0].attempts),
        (TaskStatus::Queued, 0)
    );
}
