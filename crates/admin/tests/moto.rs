//! `idle-admin` (the real binary) against DynamoDB on moto: show, grant (audited in the
//! history), export, and erase followed by a scan of every table for the player's rows.
//!
//! Run through `scripts/with-moto.sh cargo test -p idle-admin --test moto` (or the workspace),
//! which starts moto and sets `DYNAMODB_ENDPOINT`; without it the test fails and says so, as
//! crates/aws/tests/moto.rs does.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use idle_app::ports::PlayerRecords;
use idle_aws::{create_tables, dynamodb_client, DynamoStore, Tables};
use support::{admin, audit_line, check_show, json_of, seed, stderr};

fn require_moto() {
    match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {}
        _ => panic!(
            "DYNAMODB_ENDPOINT is not set: the idle-admin moto tests need a moto server. \
             Run them as `scripts/with-moto.sh cargo test -p idle-admin --test moto`."
        ),
    }
}

/// The environment the Lambdas read the table names from.
fn table_env(tables: &Tables) -> Vec<(&'static str, String)> {
    vec![
        ("PLAYERS_TABLE", tables.players.clone()),
        ("TASKS_TABLE", tables.tasks.clone()),
        ("CONNECTIONS_TABLE", tables.connections.clone()),
        ("NOTIFICATIONS_TABLE", tables.notifications.clone()),
    ]
}

/// Items of `table` whose `player_id` is `player_id`, by a full scan (every page): what the
/// adapter's own queries could miss.
async fn scanned(client: &aws_sdk_dynamodb::Client, table: &str, player_id: &str) -> usize {
    let mut found = 0;
    let mut start = None;
    loop {
        let output = client
            .scan()
            .table_name(table)
            .filter_expression("player_id = :p")
            .expression_attribute_values(":p", AttributeValue::S(player_id.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        found += output.items.unwrap_or_default().len();
        start = output.last_evaluated_key;
        if start.is_none() {
            return found;
        }
    }
}

#[tokio::test]
async fn show_grant_export_and_erase_on_dynamodb() {
    require_moto();
    let prefix = format!(
        "admin-{}-{}-",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let config = idle_aws::sdk_config().await;
    let client = dynamodb_client(&config);
    let tables = Tables::with_prefix(&prefix);
    create_tables(&client, &tables).await.unwrap();
    let store = DynamoStore::new(client.clone(), tables.clone(), 8);
    seed(&store, "p1").await;
    seed(&store, "p2").await;
    let env = table_env(&tables);

    // show
    let shown = json_of(&admin(&["--json", "show", "p1"], &env, ""));
    check_show(&shown, "p1");
    let before = shown["player"]["inventory"]["copper_ore"]
        .as_u64()
        .unwrap_or(0);

    // grant: audited in the history and on stderr
    let granted = admin(
        &[
            "--yes",
            "--operator",
            "ops-ben",
            "grant",
            "p1",
            "copper_ore",
            "7",
            "--reason",
            "ticket 7",
        ],
        &env,
        "",
    );
    let audit = json_of(&granted);
    assert_eq!(audit["after"].as_u64(), Some(before + 7));
    assert_eq!(
        audit_line(&stderr(&granted), "grant")["fields"]["operator"],
        "ops-ben"
    );
    let tasks = json_of(&admin(&["--json", "tasks", "p1"], &env, ""));
    let record = tasks["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operator"] == "ops-ben")
        .expect("the audit record in the Tasks table")
        .clone();
    assert_eq!(
        (record["command"].as_str(), record["reason"].as_str()),
        (Some("grant"), Some("ticket 7"))
    );
    let shown = json_of(&admin(&["--json", "show", "p1"], &env, ""));
    assert_eq!(
        shown["player"]["inventory"]["copper_ore"].as_u64(),
        Some(before + 7)
    );
    // The grant's outbox rides in the player's item for the stream processor
    assert_eq!(store.stored_outbox("p1").await.unwrap().audit.len(), 1);

    // export
    let export = json_of(&admin(&["export", "p1"], &env, ""));
    assert_eq!(export["player"]["player_id"], "p1");
    assert_eq!(export["history"].as_array().unwrap().len(), 2);
    assert_eq!(export["kept_notifications"].as_array().unwrap().len(), 2);
    assert_eq!(export["connections"].as_array().unwrap().len(), 1);

    // erase, then no row of the player in any table (scanned, not only queried)
    let erased = json_of(&admin(&["--yes", "erase", "p1"], &env, ""));
    assert_eq!(erased["deleted"]["players"], 1);
    assert_eq!(erased["deleted"]["history"], 2);
    assert_eq!(erased["deleted"]["kept"], 2);
    assert_eq!(erased["deleted"]["connections"], 1);
    for table in [
        &tables.players,
        &tables.tasks,
        &tables.connections,
        &tables.notifications,
    ] {
        assert_eq!(
            scanned(&client, table, "p1").await,
            0,
            "rows of p1 left in {table}"
        );
    }
    assert_eq!(store.remaining("p1").await.unwrap().total(), 0);
    // The other player keeps every row
    let other = store.remaining("p2").await.unwrap();
    assert_eq!(
        (other.players, other.history, other.kept, other.connections),
        (1, 1, 2, 1)
    );
    let gone = admin(&["show", "p1"], &env, "");
    assert!(stderr(&gone).contains("no player"), "{}", stderr(&gone));
}

#[tokio::test]
async fn without_table_names_the_binary_says_which_variable_is_missing() {
    let out = admin(&["show", "p1"], &[("PLAYERS_TABLE", String::new())], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("PLAYERS_TABLE"), "{}", stderr(&out));
}
