//! A graceful shutdown, in process: what was acknowledged is in the data directory's database
//! afterwards, and open sockets are told the server is going away (1001). The process-level side (SIGTERM, exit 0) is in `e2e.rs`.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use idle_app::ports::GameStore;
use idle_local::{app_config, start, Options};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_keeps_what_was_acknowledged_and_closes_sockets_with_1001() {
    // Given a runtime on a data directory, and an acknowledged enqueue of a new player
    let dir = std::env::temp_dir().join(format!("idle-local-shutdown-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: Some(dir.clone()),
        ..Options::default()
    };
    let running = start(options, app_config(|_| None).unwrap()).await.unwrap();
    let mut socket = support::connect(&running, "shutdown-player", Duration::from_secs(600)).await;
    socket
        .send(Message::Text(
            r#"{"action":"enqueue","request_id":"r1","task":{"activity":"harvest","resource":"guam_leaf","location":"meadow","quantity":1}}"#.into(),
        ))
        .await
        .unwrap();
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("no ack in time")
            .expect("the socket closed")
            .unwrap();
        if frame.to_text().unwrap_or("").contains(r#""type":"ack""#) {
            break;
        }
    }

    // When the runtime shuts down
    let lock = running.lock_file().unwrap().to_owned();
    let stopping = tokio::spawn(running.shutdown());

    // Then the socket gets 1001 with a reason
    let close = loop {
        match tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("no close frame in time")
        {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close code"),
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1001, "{}", close.reason);
    assert!(!close.reason.is_empty());
    tokio::time::timeout(WAIT, stopping)
        .await
        .expect("shutdown in time")
        .unwrap()
        .unwrap();

    // and the data directory holds the player, and is free for the next runtime
    let saved = idle_sqlite::SqliteStore::open(dir.join(idle_sqlite::DATABASE_FILE)).unwrap();
    let players = saved
        .load_players(&["shutdown-player".to_owned()])
        .await
        .unwrap()
        .players;
    assert_eq!(players.len(), 1, "the acknowledged player is stored");
    assert_eq!(players[0].player.recent_requests[0].request_id, "r1");
    drop(saved);
    drop(idle_local::lock::DirLock::acquire(&dir).expect("the lock is released"));
    assert!(lock.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
