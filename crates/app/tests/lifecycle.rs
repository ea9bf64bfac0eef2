//! A task's life through the use cases: enqueue, the stream starts it, the ticker completes it,
//! and the player hears about every step, live or through the inbox.

mod common;

use common::{record, types, Env};
use idle_app::memory::StoreOp;
use idle_app::ports::PostError;
use idle_app::usecase::{process_batch, tick};
use idle_core::model::TaskStatus;
use serde_json::{json, Value};

fn seqs(messages: &[Value]) -> Vec<u64> {
    messages.iter().filter_map(|m| m["seq"].as_u64()).collect()
}

#[tokio::test]
async fn a_task_is_started_by_the_stream_and_completed_by_the_ticker_in_seq_order() {
    // Given a connected player who queued a harvest
    let env = Env::new();
    env.connect("c1", "alice").await;
    let ack = env.harvest("c1", "r1", 3).await;
    assert_eq!(ack["type"], "ack");
    let task_id = ack["task_id"].as_str().unwrap().to_owned();

    // When the stream delivers the task's INSERT
    let report = process_batch(&env.services, vec![Ok(record("alice", &task_id, "100"))]).await;

    // Then the task is running and its end is the player's wake time
    assert_eq!(report.tasks_started, 1);
    assert!(report.failures.is_empty());
    let state = env.world.store.player("alice").unwrap();
    let task = &state.queue[0];
    assert_eq!(task.status, TaskStatus::Running);
    let ends_at = task.ends_at.unwrap();
    assert!(state.player.wake_at.unwrap() <= ends_at);

    // When the ticker runs at ends_at (after any progress wake-ups before it)
    env.set_clock(ends_at - 1);
    let early = tick(&env.services).await;
    assert_eq!(early.tasks_completed, 0);
    env.set_clock(ends_at);
    let report = tick(&env.services).await;

    // Then it completed within that tick, and granted ore
    assert_eq!(report.tasks_completed, 1, "{report:?}");
    let state = env.world.store.player("alice").unwrap();
    assert!(state.queue.is_empty());
    assert!(state.player.wake_at.is_none());
    assert!(
        state
            .player
            .inventory
            .get("copper_ore")
            .copied()
            .unwrap_or(0)
            >= 1
    );
    let history = env.world.store.history("alice");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, TaskStatus::Completed);

    // And the connection got every durable notification, in seq order, and progress updates
    // without a seq (ephemeral)
    let posts = env.posts("c1");
    let (progress, durable): (Vec<_>, Vec<_>) = posts
        .into_iter()
        .partition(|p| p["type"] == "task_progress");
    assert!(
        progress.iter().all(|p| p.get("seq").is_none()),
        "{progress:?}"
    );
    let kinds = types(&durable);
    assert_eq!(kinds.first().map(String::as_str), Some("queue_updated"));
    assert!(kinds.contains(&"task_started".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"task_completed".to_owned()), "{kinds:?}");
    let seqs = seqs(&durable);
    assert_eq!(seqs.len(), durable.len());
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert!(env.world.store.inbox("alice").is_empty());
}

#[tokio::test]
async fn an_offline_player_gets_the_kept_notifications_in_order_on_sync_and_can_resume() {
    // Given a player who queued a task and then disconnected
    let env = Env::new();
    env.connect("c1", "bob").await;
    let ack = env.harvest("c1", "r1", 2).await;
    let task_id = ack["task_id"].as_str().unwrap().to_owned();
    let seen = *seqs(&env.posts("c1")).last().unwrap();
    env.world.notifier.drop_connection("c1");
    idle_app::usecase::disconnect(&env.services, "c1")
        .await
        .unwrap();

    // When the task starts and completes while nobody listens
    process_batch(&env.services, vec![Ok(record("bob", &task_id, "1"))]).await;
    env.advance_clock(60_000);
    tick(&env.services).await;

    // Then the notifications wait in the inbox
    let stored = env.world.store.inbox("bob");
    assert!(stored.len() >= 3, "{stored:?}");

    // When the player reconnects and syncs from the last seq it saw
    env.connect("c2", "bob").await;
    let replies = env
        .send("c2", &json!({"action": "sync", "after_seq": seen}))
        .await;

    // Then the snapshot comes first, then the kept notifications in seq order, complete
    assert_eq!(replies[0]["type"], "snapshot");
    assert_eq!(replies[0]["truncated"], false);
    assert_eq!(replies[0]["more"], false);
    assert_eq!(replies[0]["player"]["player_id"], "bob");
    let inbox = &replies[1..];
    assert_eq!(inbox.len(), stored.len());
    let seqs = seqs(inbox);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(
        seqs,
        stored.iter().map(|n| n.seq).collect::<Vec<_>>(),
        "delivered exactly what was stored"
    );
    assert!(types(inbox).contains(&"task_completed".to_owned()));
    assert_eq!(
        replies[0]["seq"],
        *seqs.last().unwrap(),
        "the snapshot's seq is the last issued"
    );

    // And a sync after the last seq it saw gets the snapshot alone; nothing was deleted
    let last = seqs.last().unwrap();
    let again = env
        .send("c2", &json!({"action": "sync", "after_seq": last}))
        .await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["truncated"], false);
    assert_eq!(env.world.store.inbox("bob").len(), stored.len());
}

#[tokio::test]
async fn a_gone_connection_is_deleted_and_its_notification_stored() {
    // Given a player whose only stored connection has gone away without $disconnect, past
    // the handshake window (within it a 410 proves nothing: field_faults.rs)
    let env = Env::new();
    env.connect("c1", "carol").await;
    env.world.notifier.drop_connection("c1");
    env.advance_clock(idle_app::ports::HANDSHAKE_WINDOW_MS);

    // When a notification is produced
    let replies = env.send("c1", &common::harvest_message("r1", 1)).await;
    assert_eq!(replies[0]["type"], "ack");

    // Then the connection row is gone and the notification is in the inbox
    assert!(env.world.store.connections().is_empty());
    let inbox = env.world.store.inbox("carol");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].event.kind(), "queue_updated");
}

#[tokio::test]
async fn a_notification_that_reached_one_of_two_connections_is_not_stored() {
    let env = Env::new();
    env.connect("c1", "dave").await;
    env.connect("c2", "dave").await;
    env.world
        .notifier
        .fail_next_post(Some("c1"), PostError::Transient("throttled".into()));
    env.harvest("c1", "r1", 1).await;
    assert!(env.posts("c1").is_empty());
    assert_eq!(types(&env.posts("c2")), ["queue_updated"]);
    assert!(env.world.store.inbox("dave").is_empty());
    assert_eq!(
        env.world.store.connections().len(),
        2,
        "a transient failure keeps the row"
    );
}

#[tokio::test]
async fn a_failed_inbox_write_does_not_fail_the_enqueue() {
    let env = Env::new();
    env.connect("c1", "erin").await;
    env.world.notifier.drop_connection("c1");
    env.world.store.fail_next(
        StoreOp::StoreInbox,
        idle_app::ports::StoreError::Transient("throttled".into()),
    );
    let replies = env.send("c1", &common::harvest_message("r1", 1)).await;
    assert_eq!(replies[0]["type"], "ack");
    assert_eq!(env.world.store.player("erin").unwrap().queue.len(), 1);
}

#[tokio::test]
async fn the_ticker_reads_every_page_of_every_shard() {
    // Given many players with running tasks spread over the shards, and pages of two
    let env = Env::new();
    env.world.store.set_page_size(2);
    let players: Vec<String> = (0..12).map(|i| format!("p{i}")).collect();
    let mut records = Vec::new();
    for (i, p) in players.iter().enumerate() {
        let connection = format!("c{i}");
        env.connect(&connection, p).await;
        let ack = env.harvest(&connection, "r1", 1).await;
        records.push(Ok(record(
            p,
            ack["task_id"].as_str().unwrap(),
            &format!("{i}"),
        )));
    }
    let started = process_batch(&env.services, records).await;
    assert_eq!(started.tasks_started, 12);

    // When a tick runs after every task's end
    env.advance_clock(3_600_000);
    let report = tick(&env.services).await;

    // Then every task completed
    assert_eq!(report.tasks_completed, 12, "{report:?}");
    assert!(report.pages > 8, "{report:?}");
    for p in &players {
        assert!(env.world.store.player(p).unwrap().queue.is_empty(), "{p}");
    }
    assert_eq!(tick(&env.services).await.due, 0);
}

#[tokio::test]
async fn a_tick_that_cannot_write_leaves_the_player_due_for_the_next() {
    let env = Env::new();
    env.connect("c1", "fay").await;
    let ack = env.harvest("c1", "r1", 1).await;
    process_batch(
        &env.services,
        vec![Ok(record("fay", ack["task_id"].as_str().unwrap(), "1"))],
    )
    .await;
    env.advance_clock(600_000);
    env.world.store.inject(idle_app::memory::Fault::always(
        StoreOp::Commit,
        idle_app::ports::StoreError::Transient("down".into()),
    ));
    let failed = tick(&env.services).await;
    assert_eq!(failed.errors, 1);
    assert_eq!(env.world.store.player("fay").unwrap().queue.len(), 1);
    env.world.store.clear_faults();
    let report = tick(&env.services).await;
    assert_eq!(report.tasks_completed, 1);
}
