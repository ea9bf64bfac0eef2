//! A studio's catalog in the local runtime: the runtime plays the file it is given, a new player
//! completes a task on an entry the embedded catalog does not have, and the `catalog` message
//! serves the file with its hash; `idle-local --catalog` refuses a bad file at start naming the
//! entry and the field, and announces a good one.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use idle_app::config::GameCatalog;
use idle_core::catalog::Catalog;
use idle_local::{app_config, start, Options};
use serde_json::{json, Value};
use support::{send, until};

const WAIT: Duration = Duration::from_secs(20);

fn studio_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/studio-catalog.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_on_an_entry_only_the_studio_catalog_has_completes_in_the_local_runtime() {
    // Given the runtime playing the studio's catalog, as `--catalog` loads it
    let mut config = app_config(|_| None).unwrap();
    config.catalog = GameCatalog::from_file(&studio_path()).unwrap();
    let hash = config.catalog.hash();
    assert!(!Catalog::shipped().resources.contains_key("clay"));
    let options = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        tick: Duration::from_millis(50),
        ..Options::default()
    };
    let running = start(options, config).await.unwrap();
    let mut socket = support::connect(&running, "potter", Duration::from_secs(600)).await;

    // When the client asks for the catalog, it gets the studio's, with its hash
    send(
        &mut socket,
        json!({"action": "catalog", "request_id": "c1"}),
    )
    .await;
    let catalog = until(&mut socket, |m| m["type"] == "catalog").await;
    assert_eq!(catalog["catalog_hash"], hash.as_str());
    assert!(catalog["catalog"]["enemies"]["giant_rat"].is_object());

    // and when a new player harvests clay at the riverbank (studio-only entries)
    send(
        &mut socket,
        json!({"action": "enqueue", "request_id": "e1",
               "task": {"activity": "harvest", "resource": "clay", "location": "riverbank", "quantity": 1}}),
    )
    .await;
    let ack = until(&mut socket, |m| m["type"] == "ack" || m["type"] == "error").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let task_id = ack["task_id"].as_str().unwrap().to_owned();

    // Then the task completes and gives clay
    let done = until(&mut socket, |m| {
        m["task_id"] == task_id.as_str()
            && matches!(m["type"].as_str(), Some("task_completed" | "task_failed"))
    })
    .await;
    assert_eq!(done["type"], "task_completed", "{done}");
    assert!(
        done["outcome"]["items"]["clay"].as_u64().unwrap() >= 1,
        "{done}"
    );
    // and its history record names the studio catalog's hash (written from the outbox, so
    // perhaps just after the notification).
    let store = &running.services().store;
    let deadline = tokio::time::Instant::now() + WAIT;
    let task = loop {
        match store.load_task("potter", &task_id).await.unwrap() {
            Some(task) if task.status.is_final() => break task,
            _ if tokio::time::Instant::now() > deadline => panic!("no history record"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert_eq!(task.catalog_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(task.rules_version, 2);
    running.shutdown().await.unwrap();
}

#[test]
fn idle_local_refuses_a_bad_catalog_file_naming_the_entry_and_the_field() {
    let dir = std::env::temp_dir().join(format!("idle-local-bad-catalog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(studio_path()).unwrap()).unwrap();
    value["recipes"]["clay_brick"]["inputs"]["clay_dust"] = 2.into();
    let file = dir.join("catalog.json");
    std::fs::write(&file, value.to_string()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_idle-local"))
        .args(["--listen", "127.0.0.1:0", "--catalog"])
        .arg(&file)
        .env_remove("CATALOG_FILE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
    assert!(
        stderr.contains("recipes.clay_brick") && stderr.contains("inputs.clay_dust"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn idle_local_announces_the_catalog_file_it_plays_and_the_flag_wins_over_the_variable() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idle-local"))
        .args(["--listen", "127.0.0.1:0", "--catalog"])
        .arg(studio_path())
        // The flag wins: the variable's file (missing here) is not even read.
        .env("CATALOG_FILE", "/no/such/catalog.json")
        .env_remove("TOKEN_SECRET")
        .env_remove("SEED_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .map(|l| l.unwrap())
        .find(|l| l.trim_start().starts_with("catalog "))
        .expect("a catalog line");
    let _ = child.kill();
    let _ = child.wait();
    let hash = GameCatalog::from_file(&studio_path()).unwrap().hash();
    assert!(line.contains("studio-catalog.json"), "{line}");
    assert!(
        line.contains("version 2") && line.contains(&hash[..12]),
        "{line}"
    );
}
