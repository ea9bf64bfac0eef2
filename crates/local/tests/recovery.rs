//! Crash recovery: the process stopped after a commit and before its outbox was performed
//! (here, a data directory's database written through the use cases, with an outbox nobody
//! performed). At start the runtime
//! performs the outboxes not reported performed and re-arms every stored wake time, so the
//! notifications are kept for `sync` and the running task completes by the timer, at its end.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;

use idle_app::memory::{MemoryNotifier, MemoryWaker};
use idle_app::ports::{Clock, SystemClock};
use idle_app::{usecase, Services};
use idle_local::{app_config, start, Options};
use idle_sqlite::{SqliteOptions, SqliteStore};
use idle_testing::tokens::dev_token;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_performs_the_unperformed_outbox_and_the_timer_completes_the_task() {
    // Given a data directory whose player committed an enqueue (task running) and whose
    // outbox was never performed: nothing posted, nothing kept, no wake-up armed
    let dir = std::env::temp_dir().join(format!("idle-local-recovery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = app_config(|_| None).unwrap();
    let now = SystemClock.now();
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(
        SqliteStore::open_with(
            dir.join(idle_sqlite::DATABASE_FILE),
            SqliteOptions {
                wake_shards: config.wake_shards,
                ..SqliteOptions::default()
            },
        )
        .unwrap(),
    );
    let notifier = Arc::new(MemoryNotifier::new());
    let crashed = Services::new(
        config.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        notifier.clone(),
        Arc::new(SystemClock),
        Arc::new(MemoryWaker::new()),
    );
    notifier.open("c-before", now);
    let player = "recovery-player";
    let token = dev_token(player, Duration::from_secs(600), now);
    usecase::connect(&crashed, "c-before", Some(&token))
        .await
        .unwrap();
    let body = json!({"action": "enqueue", "request_id": "r1",
        "task": {"activity": "harvest", "resource": "guam_leaf", "location": "meadow", "quantity": 1}});
    usecase::message(&crashed, "c-before", &body.to_string()).await;
    let stored = {
        use idle_app::ports::GameStore;
        store
            .load_players(&[player.to_owned()])
            .await
            .unwrap()
            .players
            .remove(0)
    };
    let ends_at = stored.queue[0].ends_at.expect("the task is running");
    let issued = stored.player.next_seq - 1;
    assert!(issued >= 2);
    assert_eq!(
        store.last_outboxes().unwrap().len(),
        1,
        "committed, never performed"
    );
    // The process dies: nothing posted, the outbox never performed
    drop(crashed);
    drop(store);

    // When a runtime starts on it (its ticker far off: only the timer can complete the task)
    let options = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: Some(dir.clone()),
        tick: Duration::from_secs(3600),
        ..Options::default()
    };
    let running = start(options, config).await.unwrap();
    let services = running.services().clone();

    // Then the outbox is performed: with nobody connected, its notifications are kept
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let kept = services
            .inbox
            .kept_after(player, 0, services.clock.now(), 100)
            .await
            .unwrap();
        if kept.notifications.len() as u64 == issued {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never kept: {kept:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // and a device that syncs gets them all, then the completion live, at the task's end
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{}?token={token}", running.ws_url()))
            .await
            .unwrap();
    socket
        .send(Message::Text(json!({"action": "sync"}).to_string().into()))
        .await
        .unwrap();
    let mut messages: Vec<Value> = Vec::new();
    while !messages.iter().any(|m| m["type"] == "task_completed") {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("no completion in time")
            .expect("the socket closed")
            .unwrap();
        if let Message::Text(text) = frame {
            messages.push(serde_json::from_str(&text).unwrap());
        }
    }
    let seqs: Vec<u64> = messages
        .iter()
        .filter(|m| m["type"] != "snapshot" && m["type"] != "task_progress")
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs[..issued as usize],
        (1..=issued).collect::<Vec<_>>()[..]
    );
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let completed = messages.last().unwrap();
    assert!(completed["at"].as_i64().unwrap() >= ends_at, "{completed}");
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
