//! A task's life through the use cases: the enqueue starts it, its wake-up completes it (or the
//! ticker, when the wake-up is lost), and the player hears about every step once the write's
//! outbox is performed, live or through the kept notifications.

mod common;

use common::{types, Env};
use idle_app::memory::StoreOp;
use idle_app::ports::{PostError, StoreError, Waker};
use idle_app::usecase::tick;
use idle_core::model::TaskStatus;
use serde_json::{json, Value};

fn seqs(messages: &[Value]) -> Vec<u64> {
    messages.iter().filter_map(|m| m["seq"].as_u64()).collect()
}

#[tokio::test]
async fn a_task_starts_in_its_enqueue_and_completes_at_its_wake_up_in_seq_order() {
    // Given a connected player who queued a harvest
    let env = Env::new();
    env.connect("c1", "alice").await;
    let ack = env.harvest("c1", "r1", 3).await;
    assert_eq!(ack["type"], "ack");

    // Then the task is running at once, in the enqueue's own write, and nothing is posted
    // before the outbox is performed; but its wake-ups are armed as soon as the write
    // succeeded: its progress updates (one per action before the last) and its end (the
    // stored wake time)
    let state = env.world.store.player("alice").unwrap();
    let task = &state.queue[0];
    assert_eq!(task.status, TaskStatus::Running);
    let ends_at = task.ends_at.unwrap();
    assert!(env.posts("c1").is_empty());
    assert_eq!(state.player.wake_at, Some(ends_at));
    let armed = env.world.waker.armed();
    let action = (ends_at - task.started_at.unwrap()) / 3;
    assert_eq!(
        armed,
        [ends_at - 2 * action, ends_at - action, ends_at].map(|at| (at, "alice".to_owned()))
    );

    // When the outbox is performed, nothing more is armed
    let report = env.perform().await;
    assert_eq!(report.performed, 1, "{report:?}");
    assert_eq!(env.world.waker.armed(), armed);

    // When time reaches the progress update: it is posted, and nothing is written
    let version = state.player.version;
    env.set_clock(armed[0].0);
    env.settle().await;
    assert_eq!(
        env.world.store.player("alice").unwrap().player.version,
        version
    );

    // And when it reaches the end
    env.set_clock(ends_at);
    env.settle().await;

    // Then it completed, and granted ore
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
    let history = env.world.store.task_history("alice");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, TaskStatus::Completed);

    // And the connection got every durable notification, in seq order, and progress updates
    // without a seq (ephemeral)
    let posts = env.posts("c1");
    let (progress, durable): (Vec<_>, Vec<_>) = posts
        .into_iter()
        .partition(|p| p["type"] == "task_progress");
    // (the second update's wake-up came at the end, with the task due: it completed it)
    assert_eq!(progress.len(), 1, "{progress:?}");
    assert!(progress[0].get("seq").is_none(), "{progress:?}");
    assert_eq!(
        types(&durable),
        [
            "task_started",
            "queue_updated",
            "task_completed",
            "queue_updated"
        ]
    );
    let seqs = seqs(&durable);
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert!(env.world.store.inbox("alice").is_empty());
    assert!(env.world.waker.armed().is_empty(), "nothing left to wake");
}

#[tokio::test]
async fn the_ticker_completes_a_task_whose_wake_up_was_lost() {
    // Given a running task whose outbox was performed but whose wake-up never fires
    let env = Env::new();
    env.connect("c1", "gus").await;
    env.harvest("c1", "r1", 1).await;
    env.perform().await;
    let ends_at = env.world.store.player("gus").unwrap().queue[0]
        .ends_at
        .unwrap();
    env.world.waker.take_due(i64::MAX);

    // When the ticker sweeps the wake index before and at the task's end
    env.set_clock(ends_at - 1);
    assert_eq!(tick(&env.services).await.tasks_completed, 0);
    env.set_clock(ends_at);
    let report = tick(&env.services).await;

    // Then it completed, and its outbox announces it
    assert_eq!(report.tasks_completed, 1, "{report:?}");
    env.perform().await;
    assert_eq!(
        types(&env.posts("c1")),
        [
            "task_started",
            "queue_updated",
            "task_completed",
            "queue_updated"
        ]
    );
    assert_eq!(env.world.store.task_history("gus").len(), 1);
}

/// A wake queue that cannot be reached: what a process that dies between its write and the
/// arming looks like to the rest of the system.
struct Unreachable;

#[async_trait::async_trait]
impl Waker for Unreachable {
    async fn arm(&self, _: &str, _: idle_core::model::Millis) -> Result<(), StoreError> {
        Err(StoreError::Transient(
            "the wake queue is unreachable".into(),
        ))
    }
}

#[tokio::test]
async fn a_write_whose_wake_ups_could_not_be_armed_stands_and_the_ticker_completes_it() {
    // Given a player whose enqueue committed but whose wake-ups could not be armed
    let mut env = Env::new();
    env.services.waker = std::sync::Arc::new(Unreachable);
    env.connect("c1", "hal").await;
    let ack = env.harvest("c1", "r1", 1).await;

    // Then the enqueue still succeeded: the write stands, and its outbox is performed
    assert_eq!(ack["type"], "ack", "{ack}");
    let ends_at = env.world.store.player("hal").unwrap().queue[0]
        .ends_at
        .unwrap();
    env.perform().await;
    assert!(env.world.waker.armed().is_empty());

    // And the ticker's sweep of the wake index completes the task at its first tick after
    // the end
    env.set_clock(ends_at);
    assert_eq!(tick(&env.services).await.tasks_completed, 1);
    assert!(env.world.store.player("hal").unwrap().queue.is_empty());
}

#[tokio::test]
async fn an_offline_player_gets_the_kept_notifications_in_order_on_sync_and_can_resume() {
    // Given a player who queued a task and then disconnected
    let env = Env::new();
    env.connect("c1", "bob").await;
    env.harvest("c1", "r1", 2).await;
    env.perform().await;
    let seen = *seqs(&env.posts("c1")).last().unwrap();
    env.world.notifier.drop_connection("c1");
    idle_app::usecase::disconnect(&env.services, "c1")
        .await
        .unwrap();

    // When a second task queues behind the first and both complete while nobody listens
    idle_app::usecase::connect(&env.services, "c9", Some(&env.token("bob", false)))
        .await
        .unwrap();
    env.harvest("c9", "r2", 1).await;
    idle_app::usecase::disconnect(&env.services, "c9")
        .await
        .unwrap();
    env.advance_clock(60_000);
    env.settle().await;

    // Then the notifications wait, kept for sync
    let stored = env.world.store.inbox("bob");
    assert!(stored.len() >= 4, "{stored:?}");

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

    // When notifications are produced
    let replies = env.send("c1", &common::harvest_message("r1", 1)).await;
    assert_eq!(replies[0]["type"], "ack");
    env.perform().await;

    // Then the connection row is gone and the notifications are kept
    assert!(env.world.store.connections().is_empty());
    let inbox = env.world.store.inbox("carol");
    let kinds: Vec<&str> = inbox.iter().map(|n| n.event.kind()).collect();
    assert_eq!(kinds, ["task_started", "queue_updated"]);
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
    env.perform().await;
    assert_eq!(types(&env.posts("c1")), ["queue_updated"]);
    assert_eq!(types(&env.posts("c2")), ["task_started", "queue_updated"]);
    assert!(env.world.store.inbox("dave").is_empty());
    assert_eq!(
        env.world.store.connections().len(),
        2,
        "a transient failure keeps the row"
    );
}

#[tokio::test]
async fn a_failed_inbox_write_does_not_fail_the_enqueue_and_its_redelivery_keeps_them() {
    // Given a player nobody listens to, and an inbox write that fails once
    let env = Env::new();
    env.connect("c1", "erin").await;
    env.world.notifier.drop_connection("c1");
    env.world.faults.fail_next(
        StoreOp::StoreInbox,
        idle_app::ports::StoreError::Transient("throttled".into()),
    );

    // When a task is enqueued: the enqueue is acknowledged, it is written
    let replies = env.send("c1", &common::harvest_message("r1", 1)).await;
    assert_eq!(replies[0]["type"], "ack");
    assert_eq!(env.world.store.player("erin").unwrap().queue.len(), 1);

    // And performing its outbox fails, reporting the record for redelivery
    let records = env.world.store.take_outboxes();
    let event = idle_app::memory::stream_event(&records);
    let failed = idle_app::handlers::player_stream_report(&env.services, event.clone()).await;
    assert_eq!(failed.failures.len(), 1, "{failed:?}");
    assert!(env.world.store.inbox("erin").is_empty());

    // Then the redelivery keeps them
    let retried = idle_app::handlers::player_stream_report(&env.services, event).await;
    assert!(retried.failures.is_empty());
    assert_eq!(env.world.store.inbox("erin").len(), 2);
}

#[tokio::test]
async fn the_ticker_reads_every_page_of_every_shard() {
    // Given many players with running tasks spread over the shards, and pages of two
    let env = Env::new();
    env.world.store.set_page_size(2);
    let players: Vec<String> = (0..12).map(|i| format!("p{i}")).collect();
    for (i, p) in players.iter().enumerate() {
        let connection = format!("c{i}");
        env.connect(&connection, p).await;
        let ack = env.harvest(&connection, "r1", 1).await;
        assert_eq!(ack["type"], "ack");
    }

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
    env.harvest("c1", "r1", 1).await;
    env.advance_clock(600_000);
    env.world.faults.inject(idle_app::memory::Fault::always(
        StoreOp::Commit,
        idle_app::ports::StoreError::Transient("down".into()),
    ));
    let failed = tick(&env.services).await;
    assert_eq!(failed.errors, 1);
    assert_eq!(env.world.store.player("fay").unwrap().queue.len(), 1);
    env.world.faults.clear_faults();
    let report = tick(&env.services).await;
    assert_eq!(report.tasks_completed, 1);
}
