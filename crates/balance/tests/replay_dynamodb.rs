//! `idle-balance replay --dynamodb PLAYER TASK` reads a completed task from the Tasks table and
//! confirms it, and detects a tampered result. Needs a moto server: run as
//! `scripts/with-moto.sh cargo test -p idle-balance` (the project's `scripts/test.sh` does).

use std::process::Command;

use idle_app::outbox::Commit;
use idle_app::ports::{CatalogStore, GameStore};
use idle_app::state::PlayerState;
use idle_aws::{
    create_catalogs_table, create_tables, dynamodb_client, DynamoCatalogs, DynamoStore, Tables,
};
use idle_core::catalog::Catalog;
use idle_core::model::{Player, TaskRequest, TaskStatus};
use idle_core::{advance, enqueue, Enqueued, Game};

const SECRET: &str = "replay-dynamodb-test-seed-secret-replay";

fn require_moto() {
    match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {}
        _ => panic!(
            "DYNAMODB_ENDPOINT is not set: this test needs a moto server. \
             Run it as `scripts/with-moto.sh cargo test -p idle-balance`."
        ),
    }
}

fn replay(tables: &Tables, player: &str, task: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_idle-balance"))
        .args(["replay", "--dynamodb", player, task])
        .env("TASKS_TABLE", &tables.tasks)
        .env("SEED_SECRET", SECRET)
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn a_task_read_from_dynamodb_replays_and_a_tampered_one_is_caught() {
    require_moto();
    let sdk = idle_aws::sdk_config().await;
    let client = dynamodb_client(&sdk);
    let tables = Tables::with_prefix(&format!("replay-{}-", std::process::id()));
    create_tables(&client, &tables).await.unwrap();
    let store = DynamoStore::new(client.clone(), tables.clone(), 4);

    // Given a player whose harvest was queued, started and completed through the store.
    let c = Catalog::shipped();
    let game = Game::new(c, SECRET.as_bytes().to_vec());
    let t0 = 1_800_000_000_000;
    let mut state = PlayerState {
        player: Player::new("replayer", t0, c, 10),
        queue: vec![],
    };
    assert!(store.create_player(&state).await.unwrap());
    let request = TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 3,
        repeat: None,
    };
    let Ok(Enqueued::New { task_id, plan }) =
        enqueue(&game, &state.player, &[], "r1", &request, false, false, t0)
    else {
        panic!("enqueue")
    };
    // Each change is one conditional write of the player; the finished task's history record
    // rides in the write's outbox, which the processor puts (here, by hand).
    let commit = Commit::of(&state, &plan).expect("an enqueue writes");
    store.commit(&commit).await.unwrap();
    state = commit.state;
    for now in [t0, t0 + 60_000] {
        let plan = advance(&game, &state.player, &state.queue, now);
        if let Some(commit) = Commit::of(&state, &plan) {
            store.commit(&commit).await.unwrap();
            store.put_history(&commit.outbox.history).await.unwrap();
            state = commit.state;
        }
    }
    let stored = store
        .load_task("replayer", &task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, TaskStatus::Completed);

    // When it is replayed from the table, then it matches.
    let out = replay(&tables, "replayer", &task_id);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("MATCHES"));

    // When its stored result is tampered with, then the replay says so and exits 1.
    let mut tampered = stored.clone();
    let ore = tampered
        .result
        .as_mut()
        .unwrap()
        .outcome
        .items
        .get_mut("copper_ore")
        .unwrap();
    *ore += 5;
    client
        .put_item()
        .table_name(&tables.tasks)
        .set_item(Some(serde_dynamo::to_item(&tampered).unwrap()))
        .send()
        .await
        .unwrap();
    let out = replay(&tables, "replayer", &task_id);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("copper_ore"));

    // An unknown task is an error with exit 2, not a panic.
    let out = replay(&tables, "replayer", "999999999999");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no task"));
}

/// Runs a 3-copper harvest of a new `player_id` under `game` through the store to completion,
/// its history record put as the processor would; the task id.
async fn harvest_through(store: &DynamoStore, game: &Game<'_>, player_id: &str) -> String {
    let t0 = 1_800_000_000_000;
    let mut state = PlayerState {
        player: Player::new(player_id, t0, game.catalog, 10),
        queue: vec![],
    };
    assert!(store.create_player(&state).await.unwrap());
    let request = TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 3,
        repeat: None,
    };
    let Ok(Enqueued::New { task_id, plan }) =
        enqueue(game, &state.player, &[], "r1", &request, false, false, t0)
    else {
        panic!("enqueue")
    };
    let commit = Commit::of(&state, &plan).expect("an enqueue writes");
    store.commit(&commit).await.unwrap();
    state = commit.state;
    for now in [t0, t0 + 60_000] {
        let plan = advance(game, &state.player, &state.queue, now);
        if let Some(commit) = Commit::of(&state, &plan) {
            store.commit(&commit).await.unwrap();
            store.put_history(&commit.outbox.history).await.unwrap();
            state = commit.state;
        }
    }
    task_id
}

#[tokio::test]
async fn a_task_replays_with_the_catalog_its_hash_names_from_the_catalogs_table() {
    require_moto();
    let sdk = idle_aws::sdk_config().await;
    let client = dynamodb_client(&sdk);
    let prefix = format!("replay-by-hash-{}-", std::process::id());
    let tables = Tables::with_prefix(&prefix);
    create_tables(&client, &tables).await.unwrap();
    let catalogs_table = format!("{prefix}Catalogs");
    create_catalogs_table(&client, &catalogs_table)
        .await
        .unwrap();
    let store = DynamoStore::new(client.clone(), tables.clone(), 4);
    let catalogs = DynamoCatalogs::new(client.clone(), catalogs_table.clone());

    // Given a task computed under a catalog that is not the shipped one, which its function
    // kept in the Catalogs table (as every function does at cold start)
    let mut studio = Catalog::shipped().clone();
    studio.version += 1;
    studio.resources.get_mut("copper_ore").unwrap().base_yield *= 3.0;
    let game = Game::new(&studio, SECRET.as_bytes().to_vec());
    catalogs
        .put_catalog_if_absent(&game.catalog_hash, &serde_json::to_string(&studio).unwrap())
        .await
        .unwrap();
    let task_id = harvest_through(&store, &game, "studio-player").await;

    // When it is replayed from the tables without --catalog, then it matches under that catalog
    let out = Command::new(env!("CARGO_BIN_EXE_idle-balance"))
        .args(["replay", "--dynamodb", "studio-player", &task_id])
        .env("TASKS_TABLE", &tables.tasks)
        .env("CATALOGS_TABLE", &catalogs_table)
        .env("SEED_SECRET", SECRET)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("MATCHES") && stdout.contains("rules version 2"),
        "{stdout}"
    );

    // and without the table it says what it needs instead of replaying under another catalog
    let out = replay(&tables, "studio-player", &task_id);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CATALOGS_TABLE") && stderr.contains(&game.catalog_hash),
        "{stderr}"
    );
}
