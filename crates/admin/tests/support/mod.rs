//! Running the real `idle-admin` binary, and seeding a player through the ports.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use idle_app::ports::{Connection, ConnectionStore, GameStore, Inbox};
use idle_core::model::{EpochSecs, Millis};
use idle_core::protocol::{Event, Notification};
use idle_testing::contract;

pub const NOW: Millis = 1_800_000_000_000;

/// The binary with `args`, its environment plus `env`, `stdin` written to it.
pub fn admin(args: &[&str], env: &[(&str, String)], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idle-admin"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the idle-admin binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Its stdout as JSON, after checking that it succeeded.
pub fn json_of(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "idle-admin failed ({:?}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A player with a finished task in the history, two kept notifications and a connection:
/// a row in every table.
pub async fn seed<S: GameStore + Inbox + ConnectionStore>(store: &S, player_id: &str) {
    assert!(store
        .create_player(&contract::new_player(player_id, NOW))
        .await
        .unwrap());
    store
        .put_history(&[contract::finished_task(player_id, 1, NOW)])
        .await
        .unwrap();
    let notes: Vec<Notification> = (1..=2)
        .map(|seq| Notification {
            seq,
            at: NOW,
            event: Event::QueueUpdated { queue: Vec::new() },
        })
        .collect();
    // Kept far into the future, so that "now" in the binary (the real clock) leaves them live.
    store
        .store(player_id, &notes, EpochSecs(4_000_000_000))
        .await
        .unwrap();
    store
        .put_connection(&Connection {
            connection_id: format!("{player_id}-conn"),
            player_id: player_id.to_owned(),
            is_admin: false,
            connected_at: NOW,
            token_expires_at: i64::MAX,
            expires_at: EpochSecs(4_000_000_000),
        })
        .await
        .unwrap();
}

/// Checks a finished `show --json` report of a seeded player.
pub fn check_show(report: &serde_json::Value, player_id: &str) {
    assert_eq!(report["player"]["player_id"], player_id);
    assert!(report["player"]["character"]["level"].as_u64().is_some());
    assert!(report["player"]["skills"].as_object().unwrap().len() == 3);
    assert!(report["player"]["inventory"].is_object());
    assert!(report["player"]["equipment"].is_object());
    assert_eq!(report["history"].as_array().unwrap().len(), 1);
    assert_eq!(report["history"][0]["task_id"], "t000001");
    assert_eq!(report["connections"].as_array().unwrap().len(), 1);
    assert_eq!(report["inbox"].as_array().unwrap().len(), 2);
}

/// The audit line a mutating command wrote to stderr.
pub fn audit_line(stderr: &str, command: &str) -> serde_json::Value {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["audit"] == true && v["fields"]["command"] == command)
        .unwrap_or_else(|| panic!("no audit line for {command} in: {stderr}"))
}
