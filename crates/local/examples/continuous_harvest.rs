//! A continuous harvest in idle-local for a minute of real time: starts the runtime in this
//! process (in-memory SQLite, a free loopback port), connects one player over the WebSocket
//! gateway, enqueues copper ore at the meadow with `repeat: "until_stopped"`, prints every
//! `chunk_settled` as it arrives, cancels, and prints the inventory from a `sync`.
//!
//!     cargo run -p idle-local --example continuous_harvest [SECONDS]      (default 60)
//!
//! Chunks are 10 s here (`CHUNK_MS=10000` unless the environment sets it; the deployment's
//! default is 15 min), so a minute shows several of them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_local::{app_config, start, Options};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(60);
    let config = app_config(|name| match name {
        "CHUNK_MS" => std::env::var(name).ok().or_else(|| Some("10000".into())),
        _ => std::env::var(name).ok(),
    })?;
    let chunk_ms = config.limits.chunk_ms;
    let options = Options {
        listen: ([127, 0, 0, 1], 0).into(),
        ..Options::default()
    };
    let running = start(options, config).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let token = mint(
        DEV_TOKEN_SECRET.as_bytes(),
        "demo-harvester",
        Duration::from_secs(3600),
        false,
        now,
    )?;
    let url = format!("{}?token={token}", running.ws_url());
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    println!(
        "idle-local at {}; chunks of at most {chunk_ms} ms; harvesting for {seconds} s",
        running.ws_url()
    );
    let enqueue = json!({
        "action": "enqueue",
        "request_id": "demo-1",
        "task": {"activity": "harvest", "resource": "copper_ore", "location": "meadow", "repeat": "until_stopped"}
    });
    socket.send(Message::text(enqueue.to_string())).await?;

    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut task_id = String::new();
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next()).await;
        let Ok(Some(frame)) = next else { break };
        let Some(message) = parse(frame?) else {
            continue;
        };
        let t = started.elapsed().as_secs_f64();
        match message["type"].as_str() {
            Some("ack") => {
                task_id = message["task_id"].as_str().unwrap_or_default().to_owned();
                println!("{t:6.1}s  ack: task {task_id}");
            }
            Some("task_started") => println!(
                "{t:6.1}s  task_started: first chunk of {} actions, ends at +{} ms",
                message["quantity"],
                message["ends_at"].as_i64().unwrap_or(0)
                    - message["started_at"].as_i64().unwrap_or(0)
            ),
            Some("chunk_settled") => {
                let outcome = &message["outcome"];
                println!(
                    "{t:6.1}s  chunk_settled #{} (actions {}..{}): {} actions, items {}, xp {}{}",
                    message["chunk"],
                    message["first_action"],
                    message["first_action"].as_u64().unwrap_or(0)
                        + outcome["actions"].as_u64().unwrap_or(0),
                    outcome["actions"],
                    outcome["items"],
                    outcome["xp"],
                    level_ups(&message["level_ups"]),
                );
            }
            Some("error") => println!("{t:6.1}s  error: {message}"),
            _ => {}
        }
    }

    socket
        .send(Message::text(
            json!({"action": "cancel", "request_id": "demo-stop", "task_id": task_id}).to_string(),
        ))
        .await?;
    let mut synced = false;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        let Some(message) = parse(frame?) else {
            continue;
        };
        let t = started.elapsed().as_secs_f64();
        match message["type"].as_str() {
            Some("task_cancelled") => {
                let settled = &message["settled"];
                println!(
                    "{t:6.1}s  task_cancelled ({}): last partial chunk {} actions, items {}, xp {}",
                    message["reason"].as_str().unwrap_or("-"),
                    settled["actions"],
                    settled["items"],
                    settled["xp"]
                );
                socket
                    .send(Message::text(
                        json!({"action": "sync", "request_id": "demo-sync"}).to_string(),
                    ))
                    .await?;
            }
            Some("snapshot") => {
                let player = &message["player"];
                println!(
                    "{t:6.1}s  inventory at cancel: {}; harvesting level {} ({} xp)",
                    player["inventory"],
                    player["skills"]["harvesting"]["level"],
                    player["skills"]["harvesting"]["xp"]
                );
                synced = true;
                break;
            }
            _ => {}
        }
    }
    socket.close(None).await.ok();
    running.shutdown().await?;
    if !synced {
        return Err("no snapshot after the cancel".into());
    }
    Ok(())
}

fn parse(frame: Message) -> Option<Value> {
    match frame {
        Message::Text(text) => serde_json::from_str(&text).ok(),
        _ => None,
    }
}

fn level_ups(value: &Value) -> String {
    match value.as_object() {
        Some(map) if !map.is_empty() => format!(", level-ups {value}"),
        _ => String::new(),
    }
}
