//! The task stream use case: grouping, one read, per-player failures, malformed records,
//! redelivery.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{record, Env};
use idle_app::memory::{Fault, StoreOp};
use idle_app::metrics::Invocation;
use idle_app::ports::StoreError;
use idle_app::usecase::{process_batch, BatchRecord, MalformedRecord, TaskRecord};
use idle_core::model::TaskStatus;
use serde_json::json;

/// Connects each player and queues one harvest; returns each player's task id.
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

#[tokio::test]
async fn a_batch_loads_all_its_players_in_one_read_and_advances_each_once() {
    let env = Env::new();
    let tasks = players_with_tasks(&env, &["a", "b", "c"], 1).await;
    let loads = env.world.store.calls(StoreOp::LoadPlayers);
    let records: Vec<BatchRecord> = vec![
        Ok(record("a", &tasks[0], "10")),
        Ok(record("b", &tasks[1], "11")),
        Ok(record("a", &tasks[0], "12")),
        Ok(record("c", &tasks[2], "13")),
    ];
    let report = process_batch(&env.services, records).await;
    assert_eq!(env.world.store.calls(StoreOp::LoadPlayers) - loads, 1);
    assert_eq!(report.records, 4);
    assert_eq!(report.players, 3);
    assert_eq!(report.players_advanced, 3);
    assert_eq!(report.tasks_started, 3);
    assert!(report.failures.is_empty());
}

#[tokio::test]
async fn a_player_that_cannot_be_written_reports_only_its_first_record() {
    // Given three players, and a store that refuses every write of b's
    let env = Env::new();
    let tasks = players_with_tasks(&env, &["a", "b", "c"], 1).await;
    env.world
        .store
        .inject(Fault::always(StoreOp::Commit, transient()).for_player("b"));
    let records = vec![
        Ok(record("a", &tasks[0], "100")),
        Ok(record("b", &tasks[1], "101")),
        Ok(record("c", &tasks[2], "102")),
        Ok(record("b", &tasks[1], "103")),
    ];

    // When the batch is processed
    let report = process_batch(&env.services, records).await;

    // Then only b's first record is a failure, and a and c advanced
    assert_eq!(report.failures, ["101"]);
    assert_eq!(report.failed_players, 1);
    assert_eq!(report.players_advanced, 2);
    for p in ["a", "c"] {
        assert_eq!(
            env.world.store.player(p).unwrap().queue[0].status,
            TaskStatus::Running
        );
    }
    assert_eq!(
        env.world.store.player("b").unwrap().queue[0].status,
        TaskStatus::Queued
    );

    // And redelivery after the store recovers starts b's task
    env.world.store.clear_faults();
    let retry = process_batch(
        &env.services,
        vec![
            Ok(record("b", &tasks[1], "101")),
            Ok(record("c", &tasks[2], "102")),
        ],
    )
    .await;
    assert!(retry.failures.is_empty());
    assert_eq!(retry.tasks_started, 1);
}

#[tokio::test]
async fn a_write_that_keeps_failing_is_recorded_as_a_retry_of_the_head_task() {
    // Given a store that fails b's next four writes (all the advance's attempts), then recovers
    let env = Env::new();
    let tasks = players_with_tasks(&env, &["b"], 1).await;
    env.world
        .store
        .inject(Fault::times(StoreOp::Commit, 4, transient()).for_player("b"));

    // When the batch is processed
    let report = process_batch(&env.services, vec![Ok(record("b", &tasks[0], "7"))]).await;

    // Then the head task is retrying with backoff (the ticker restarts it), not a batch failure
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.tasks_retried, 1);
    assert_eq!(report.tasks_failed, 0, "a retry is not a final failure");
    let b = env.world.store.player("b").unwrap();
    let task = &b.queue[0];
    assert_eq!(task.status, TaskStatus::Retrying);
    assert_eq!(task.attempts, 1);
    let retry_at = task.retry_at.unwrap();
    assert_eq!(b.player.wake_at, Some(retry_at));
    env.set_clock(retry_at);
    let tick = idle_app::usecase::tick(&env.services).await;
    assert_eq!(tick.tasks_started, 1);
}

#[tokio::test]
async fn a_failed_batch_read_reports_every_players_first_record() {
    let env = Env::new();
    let tasks = players_with_tasks(&env, &["a", "b"], 1).await;
    env.world
        .store
        .inject(Fault::always(StoreOp::LoadPlayers, transient()));
    let report = process_batch(
        &env.services,
        vec![
            Ok(record("a", &tasks[0], "5")),
            Ok(record("b", &tasks[1], "6")),
            Ok(record("a", &tasks[0], "7")),
        ],
    )
    .await;
    assert_eq!(report.failures, ["5", "6"]);
}

#[tokio::test]
async fn malformed_records_are_counted_and_never_fail_the_batch() {
    let env = Env::new();
    let tasks = players_with_tasks(&env, &["a"], 1).await;
    let bad = MalformedRecord {
        reason: "Keys has no string player_id".into(),
        sequence_number: Some("1".into()),
        record: json!({"dynamodb": {"Keys": {"player_id": {"N": "5"}}}}),
    };
    let report = process_batch(
        &env.services,
        vec![Err(bad), Ok(record("a", &tasks[0], "2"))],
    )
    .await;
    assert_eq!(report.malformed, 1);
    assert!(report.failures.is_empty());
    assert_eq!(report.tasks_started, 1);
}

#[tokio::test]
async fn a_record_for_an_unknown_player_is_not_a_failure() {
    let env = Env::new();
    let report = process_batch(
        &env.services,
        vec![Ok(TaskRecord {
            player_id: "ghost".into(),
            task_id: None,
            sequence_number: "9".into(),
            event_name: "REMOVE".into(),
        })],
    )
    .await;
    assert_eq!(report.unknown_players, 1);
    assert!(report.failures.is_empty());
}

#[tokio::test]
async fn a_batch_delivered_twice_grants_nothing_twice() {
    // Given a task whose whole duration has passed by the time the stream delivers it
    async fn world_after(deliveries: usize) -> (Vec<(String, u64)>, u64, usize) {
        let env = Env::new();
        let tasks = players_with_tasks(&env, &["a", "b"], 3).await;
        env.advance_clock(3_600_000);
        let batch = vec![
            Ok(record("a", &tasks[0], "1")),
            Ok(record("b", &tasks[1], "2")),
        ];
        let mut completed = 0;
        for _ in 0..deliveries {
            completed += process_batch(&env.services, batch.clone())
                .await
                .tasks_completed;
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

    // When the same batch is processed once, and (in another world) twice
    let once = world_after(1).await;
    let twice = world_after(2).await;

    // Then the grants are the same and each task completed once
    assert_eq!(once.2, 2);
    assert_eq!(twice.2, 2, "the second delivery completes nothing");
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
    let tasks = players_with_tasks(&env, &["a"], 2).await;
    env.advance_clock(3_600_000);
    env.world.store.inject(
        Fault::once(StoreOp::Commit, transient())
            .for_player("a")
            .after_write(),
    );

    // When the batch is processed
    let report = process_batch(&env.services, vec![Ok(record("a", &tasks[0], "1"))]).await;

    // Then the retry sees the written state and does nothing more
    assert!(report.failures.is_empty());
    let history = env.world.store.history("a");
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
async fn the_emf_counts_and_the_batch_report_agree_on_retries_failures_and_completions() {
    // Given a running task that is due (a), a queued task whose start will keep failing (b), a
    // retrying task on its last attempt that will fail the same way (c), and a craft that
    // dynamic validation refuses at start (d)
    let env = Env::new();
    let a = players_with_tasks(&env, &["a"], 1).await;
    process_batch(&env.services, vec![Ok(record("a", &a[0], "1"))]).await;
    let tasks = players_with_tasks(&env, &["b", "c"], 1).await;
    env.connect("conn-d", "d").await;
    let craft = json!({"action": "enqueue", "request_id": "r1",
        "task": {"activity": "craft", "recipe": "oak_plank", "quantity": 1}});
    let ack = env.send("conn-d", &craft).await;
    let d = ack[0]["task_id"].as_str().unwrap().to_owned();
    env.advance_clock(3_600_000);
    let mut c = env.world.store.player("c").unwrap();
    c.queue[0].status = TaskStatus::Retrying;
    c.queue[0].attempts = env.services.game.retry.max_attempts - 1;
    c.queue[0].retry_at = Some(env.now());
    env.world.store.put_player(c);
    let attempts = env.services.config.commit_attempts;
    for p in ["b", "c"] {
        env.world
            .store
            .inject(Fault::times(StoreOp::Commit, attempts, transient()).for_player(p));
    }
    emf_totals(&env);

    // When one batch advances all four
    let report = process_batch(
        &env.services,
        vec![
            Ok(record("a", &a[0], "2")),
            Ok(record("b", &tasks[0], "3")),
            Ok(record("c", &tasks[1], "4")),
            Ok(record("d", &d, "5")),
        ],
    )
    .await;

    // Then the report counts one of each, and the EMF lines of the invocation the same
    assert!(report.failures.is_empty(), "{report:?}");
    let counted = [
        ("TasksStarted", report.tasks_started, 0),
        ("TasksCompleted", report.tasks_completed, 1),
        ("TasksRetried", report.tasks_retried, 1),
        ("TasksFailed", report.tasks_failed, 1),
        ("TasksRejected", report.tasks_rejected, 1),
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
    assert_eq!(
        env.world.store.history("c")[0].status,
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
    let tasks = players_with_tasks(&env, &["b"], 1).await;
    posted_types(&env, "conn-0");
    let conflicts = env.services.config.commit_attempts + 2;
    env.world
        .store
        .inject(Fault::times(StoreOp::Commit, conflicts, conflict()).for_player("b"));

    // When the stream delivers its record
    let report = process_batch(&env.services, vec![Ok(record("b", &tasks[0], "7"))]).await;

    // Then the task is untouched: still queued, no attempt spent, no failure announced; the
    // record is handed back for a later try
    let task = &env.world.store.player("b").unwrap().queue[0];
    assert_eq!(task.status, TaskStatus::Queued, "{task:?}");
    assert_eq!(task.attempts, 0);
    assert!(task.failure.is_none());
    assert_eq!((report.tasks_retried, report.tasks_failed), (0, 0));
    assert!(!posted_types(&env, "conn-0").contains(&"task_failed".to_owned()));
    assert_eq!(report.failures, ["7"]);

    // And redelivered once the conflicts stop, it starts
    let again = process_batch(&env.services, vec![Ok(record("b", &tasks[0], "7"))]).await;
    assert!(again.failures.is_empty(), "{again:?}");
    assert_eq!(again.tasks_started, 1);
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
    posted_types(&env, "conn-0");
    let attempts = env.services.config.commit_attempts;
    for _ in 0..5 {
        env.world
            .store
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
    let tasks = players_with_tasks(&env, &["bad", "good"], 1).await;
    env.world
        .store
        .corrupt_player("bad", "attribute `version` is not a number");
    let unreadable_before = env.services.metrics.snapshot().players_unreadable;

    // When one batch names both
    let report = process_batch(
        &env.services,
        vec![
            Ok(record("bad", &tasks[0], "1")),
            Ok(record("good", &tasks[1], "2")),
            Ok(record("bad", &tasks[0], "3")),
        ],
    )
    .await;

    // Then the healthy player is advanced in this invocation, the unreadable one is counted
    // and left (its task untouched, still due for the ticker), and nothing is a batch item
    // failure: redelivering the batch cannot repair an item
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.unreadable_players, 1);
    assert_eq!((report.players_advanced, report.tasks_started), (1, 1));
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

    // And the ticker meets it again, counts it, and starts it once the item is repaired
    let tick = idle_app::usecase::tick(&env.services).await;
    assert_eq!((tick.unreadable_players, tick.errors), (1, 0), "{tick:?}");
    env.world.store.put_player(bad);
    let tick = idle_app::usecase::tick(&env.services).await;
    assert_eq!(tick.tasks_started, 1, "{tick:?}");
}

#[tokio::test]
async fn a_write_the_store_refuses_for_good_is_not_a_batch_item_failure() {
    // Given two players, and a store that refuses every write of b's for a reason retrying
    // cannot fix (an item over the size limit, say)
    let env = Env::new();
    let tasks = players_with_tasks(&env, &["a", "b"], 1).await;
    env.world.store.inject(
        Fault::always(
            StoreOp::Commit,
            StoreError::Permanent("item size has exceeded the maximum allowed size".into()),
        )
        .for_player("b"),
    );

    // When the batch is processed
    let report = process_batch(
        &env.services,
        vec![
            Ok(record("a", &tasks[0], "1")),
            Ok(record("b", &tasks[1], "2")),
        ],
    )
    .await;

    // Then a advanced, b is counted and left due, and the shard is not held up for it
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.permanent_failures, 1);
    assert_eq!(report.tasks_started, 1);
    assert_eq!(env.services.metrics.snapshot().players_unwritable, 1);
    let b = env.world.store.player("b").unwrap();
    assert_eq!(
        (b.queue[0].status, b.queue[0].attempts),
        (TaskStatus::Queued, 0)
    );
}
