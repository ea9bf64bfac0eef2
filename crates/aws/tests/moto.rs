//! The DynamoDB adapter against moto (a local DynamoDB stand-in).
//!
//! Run through `scripts/with-moto.sh cargo test -p idle-aws` (or `--test moto`), which starts
//! moto and sets `DYNAMODB_ENDPOINT`. Without it every test here fails and says so. Each test
//! creates its own tables under a unique prefix, so they run in parallel.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::types::{AttributeValue, ProjectionType, StreamViewType, TimeToLiveStatus};
use idle_app::outbox::{Commit, Outbox};
use idle_app::ports::{Connection, ConnectionStore, GameStore, StoreError};
use idle_app::state::PlayerState;
use idle_aws::{
    create_catalogs_table, create_tables, dynamodb_client, DynamoCatalogs, DynamoStore, Tables,
};
use idle_core::catalog::Catalog;
use idle_core::model::{EpochSecs, Millis, TaskRequest, TaskStatus};
use idle_core::{Game, Plan};
use idle_testing::contract;

const NOW: Millis = 1_700_000_000_000;
const SHARDS: u32 = 4;

/// The moto endpoint, or a failure telling how to run these tests.
fn require_moto() {
    match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {}
        _ => panic!(
            "DYNAMODB_ENDPOINT is not set: the idle-aws moto tests need a moto server. \
             Run them as `scripts/with-moto.sh cargo test -p idle-aws`."
        ),
    }
}

/// A unique table prefix per test (and per run: moto outlives nothing, but be safe).
fn prefix(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{test}-{}-{}-{nanos}-",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

struct Fixture {
    store: DynamoStore,
    client: aws_sdk_dynamodb::Client,
    tables: Tables,
    config: aws_config::SdkConfig,
}

/// Fresh tables for one test.
async fn fresh(test: &str) -> Fixture {
    require_moto();
    let config = idle_aws::sdk_config().await;
    let client = dynamodb_client(&config);
    let tables = Tables::with_prefix(&prefix(test));
    create_tables(&client, &tables)
        .await
        .expect("create tables");
    let store = DynamoStore::new(client.clone(), tables.clone(), SHARDS);
    Fixture {
        store,
        client,
        tables,
        config,
    }
}

fn game() -> Game<'static> {
    Game::new(
        Catalog::shipped(),
        b"test-seed-secret-of-at-least-32-bytes".to_vec(),
    )
}

fn new_state(player_id: &str) -> PlayerState {
    idle_testing::contract::new_player(player_id, NOW)
}

fn harvest() -> TaskRequest {
    TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 2,
        repeat: None,
    }
}

/// The plan of a real enqueue from `state`.
fn enqueue_plan(state: &PlayerState, request_id: &str) -> (String, Plan) {
    idle_testing::world::enqueue_plan(&game(), state, request_id, &harvest(), NOW)
}

/// The raw Players item of a player.
async fn raw_player(f: &Fixture, player_id: &str) -> HashMap<String, AttributeValue> {
    f.client
        .get_item()
        .table_name(&f.tables.players)
        .key("player_id", AttributeValue::S(player_id.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the player's item")
}

async fn load_one(store: &DynamoStore, player_id: &str) -> PlayerState {
    let mut loaded = store.load_players(&[player_id.to_owned()]).await.unwrap();
    assert_eq!(
        loaded.players.len(),
        1,
        "player {player_id} loads: {loaded:?}"
    );
    loaded.players.remove(0)
}

#[tokio::test]
async fn create_tables_is_idempotent_and_matches_the_template() {
    let f = fresh("tables").await;
    create_tables(&f.client, &f.tables)
        .await
        .expect("a second create keeps the tables");

    let players = f
        .client
        .describe_table()
        .table_name(&f.tables.players)
        .send()
        .await
        .unwrap();
    let stream = players
        .table()
        .and_then(|t| t.stream_specification())
        .expect("the Players table has a stream");
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewImage));
    let tasks = f
        .client
        .describe_table()
        .table_name(&f.tables.tasks)
        .send()
        .await
        .unwrap();
    assert!(
        tasks
            .table()
            .and_then(|t| t.stream_specification())
            .is_none_or(|s| !s.stream_enabled()),
        "the history has no stream"
    );

    let index = &players.table().unwrap().global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some("wake"));
    let keys: Vec<_> = index
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["wake_shard", "wake_bucket"]);
    assert_eq!(
        index.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::KeysOnly)
    );

    for table in [
        &f.tables.tasks,
        &f.tables.connections,
        &f.tables.notifications,
    ] {
        let ttl = f
            .client
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(ttl.attribute_name(), Some("expires_at"), "{table}");
        assert_eq!(
            ttl.time_to_live_status(),
            Some(&TimeToLiveStatus::Enabled),
            "{table}"
        );
    }
}

#[tokio::test]
async fn creating_a_player_twice_keeps_the_first() {
    let f = fresh("create").await;
    let first = new_state("p1");
    assert!(f.store.create_player(&first).await.unwrap());

    let mut second = new_state("p1");
    second.player.character_xp = 999;
    assert!(!f.store.create_player(&second).await.unwrap());

    assert_eq!(load_one(&f.store, "p1").await, first);
}

#[tokio::test]
async fn a_commit_writes_the_player_with_its_outbox_only_when_there_is_one() {
    // Given a stored player
    let f = fresh("commit").await;
    let before = new_state("p1");
    assert!(f.store.create_player(&before).await.unwrap());
    assert!(!raw_player(&f, "p1").await.contains_key("outbox"));

    // When an enqueue (which starts the task) is committed
    let (task_id, plan) = enqueue_plan(&before, "r1");
    let commit = Commit::of(&before, &plan).expect("an enqueue writes");
    assert!(!commit.outbox.is_empty());
    f.store.commit(&commit).await.expect("commit");

    // Then the player and its queue read back as committed, the outbox packed with them and
    // marked by a numeric `outbox`
    let loaded = load_one(&f.store, "p1").await;
    assert_eq!(loaded, commit.state);
    assert_eq!(loaded.queue[0].task_id, task_id);
    assert_eq!(loaded.queue[0].status, TaskStatus::Running);
    let raw = raw_player(&f, "p1").await;
    assert_eq!(raw.get("outbox"), Some(&AttributeValue::N("1".into())));
    match raw.get("state") {
        Some(AttributeValue::B(bytes)) => assert_eq!(
            idle_app::packed::unpack(bytes.as_ref()).unwrap(),
            (commit.state.clone(), commit.outbox.clone())
        ),
        other => panic!("state is not binary: {other:?}"),
    }
    let mut names: Vec<&String> = raw.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "outbox",
            "player_id",
            "state",
            "version",
            "wake_bucket",
            "wake_shard"
        ]
    );
    assert_eq!(f.store.stored_outbox("p1").await.unwrap(), commit.outbox);
    // And the relaxed (eventually consistent) read decodes the same item
    let relaxed = f
        .store
        .load_players_relaxed(&["p1".to_owned()])
        .await
        .unwrap();
    assert_eq!(relaxed.players, vec![commit.state.clone()]);
    // And nothing was written to the history: it holds finished tasks only
    assert_eq!(f.store.load_task("p1", &task_id).await.unwrap(), None);

    // When a write with nothing to perform follows, the item has no outbox at all
    let quiet = contract::commit_over(&commit.state, Some(1), Outbox::default());
    f.store.commit(&quiet).await.unwrap();
    assert!(!raw_player(&f, "p1").await.contains_key("outbox"));
    assert_eq!(
        f.store.stored_outbox("p1").await.unwrap(),
        Outbox::default()
    );
    assert_eq!(
        f.store.stored_outbox("nobody").await.unwrap(),
        Outbox::default()
    );
}

#[tokio::test]
async fn history_records_expire_the_configured_time_after_their_task_finished() {
    // Given a store keeping history for one day
    let f = fresh("history-ttl").await;
    let store = f.store.clone().with_history_ttl(24 * 3_600_000);

    // When a finished task is put
    let mut done = contract::task("p1", "t1", TaskStatus::Cancelled, NOW);
    done.finished_at = Some(NOW + 5_000);
    store.put_history(&[done.clone()]).await.unwrap();

    // Then its record's TTL attribute is a day after it finished, and it reads back as put
    let item = f
        .client
        .get_item()
        .table_name(&f.tables.tasks)
        .key("player_id", AttributeValue::S("p1".into()))
        .key("task_id", AttributeValue::S("t1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    match item.get("expires_at") {
        Some(AttributeValue::N(n)) => {
            assert_eq!(n.parse::<i64>().unwrap(), (NOW + 5_000) / 1000 + 86_400)
        }
        other => panic!("no expires_at: {other:?}"),
    }
    assert_eq!(store.load_task("p1", "t1").await.unwrap(), Some(done));
}

#[tokio::test]
async fn dynamodb_keeps_the_conditional_commit_contract() {
    let f = fresh("contract-commit").await;
    contract::conditional_commit(&f.store, NOW).await;
}

#[tokio::test]
async fn dynamodb_keeps_the_outbox_contract() {
    let f = fresh("contract-outbox").await;
    let store = &f.store;
    contract::commit_replaces_outbox(
        store,
        |id| async move { store.stored_outbox(&id).await.unwrap() },
        NOW,
    )
    .await;
}

#[tokio::test]
async fn dynamodb_keeps_the_commit_and_connections_contracts() {
    let f = fresh("contract-version").await;
    contract::commit_on_version(&f.store, NOW).await;
    contract::connections_by_id_and_player(&f.store, NOW).await;
    contract::connections_listed_with_the_player(&f.store, NOW).await;
}

#[tokio::test]
async fn dynamodb_keeps_the_catalog_contract() {
    let f = fresh("contract-catalogs").await;
    let table = format!("{}Catalogs", prefix("catalogs"));
    create_catalogs_table(&f.client, &table)
        .await
        .expect("create the Catalogs table");
    // Idempotent, as create_tables is.
    create_catalogs_table(&f.client, &table).await.unwrap();
    contract::catalogs_put_if_absent(&DynamoCatalogs::new(f.client.clone(), table)).await;
}

#[tokio::test]
async fn dynamodb_erases_a_player_everywhere() {
    let f = fresh("contract-erase").await;
    // Pages of 3, so the history is read in several
    let store = f.store.clone().with_page_size(3);
    contract::erase_player_everywhere(&store, NOW).await;
}

#[tokio::test]
async fn dynamodb_keeps_the_history_contract() {
    let f = fresh("contract-history").await;
    contract::history_put_if_absent(&f.store, NOW).await;
}

#[tokio::test]
async fn dynamodb_keeps_the_wake_index_contract() {
    // The contract's due times are milliseconds apart: an exact key (a bucket of 1 ms).
    let f = fresh("contract-wake").await;
    let store = f.store.clone().with_page_size(3).with_wake_bucket(1);
    contract::wake_index_paging(&store, NOW, SHARDS).await;
    for bad in ["garbage", r#"{"connection_id":{"S":"x"}}"#] {
        assert!(matches!(
            store.due_players(0, NOW, Some(bad.into())).await,
            Err(StoreError::Permanent(_))
        ));
    }
}

#[tokio::test]
async fn the_sweep_reads_only_buckets_wholly_in_the_past() {
    // Given a store with 60 s buckets and players due at various times around `now`, which is
    // 10 s into its bucket
    let f = fresh("wake-bucket").await;
    let store = f.store.clone().with_wake_bucket(60_000);
    let bucket_start = NOW.div_euclid(60_000) * 60_000;
    let now = bucket_start + 10_000;
    let due_at = [
        ("long-ago", bucket_start - 3_600_000),
        ("last-bucket", bucket_start - 1),
        ("bucket-edge", bucket_start),
        ("earlier-this-bucket", bucket_start + 5_000),
        ("later-this-bucket", bucket_start + 50_000),
        ("next-bucket", bucket_start + 70_000),
    ];
    for (id, at) in due_at {
        let mut state = new_state(id);
        state.player.wake_at = Some(at);
        store.create_player(&state).await.unwrap();
        assert_eq!(
            raw_player(&f, id).await.get("wake_bucket"),
            Some(&AttributeValue::N(
                idle_aws::wake_bucket(at, 60_000).to_string()
            ))
        );
    }

    // When the ticker sweeps every shard at `now`
    let mut found = Vec::new();
    for shard in 0..SHARDS {
        found.extend(store.due_players(shard, now, None).await.unwrap().items);
    }
    found.sort();

    // Then it reads only players whose whole bucket has passed: each is overdue, and those
    // due earlier in the current bucket wait for the next sweep after it ends
    assert_eq!(found, ["bucket-edge", "last-bucket", "long-ago"]);
    let mut later = Vec::new();
    for shard in 0..SHARDS {
        later.extend(
            store
                .due_players(shard, bucket_start + 60_000, None)
                .await
                .unwrap()
                .items,
        );
    }
    later.sort();
    assert_eq!(
        later,
        [
            "bucket-edge",
            "earlier-this-bucket",
            "last-bucket",
            "later-this-bucket",
            "long-ago"
        ]
    );
}

#[tokio::test]
async fn loading_150_players_reads_them_all_in_chunks() {
    let f = fresh("load").await;
    let ids: Vec<String> = (0..150).map(|i| format!("player-{i:03}")).collect();
    let mut creating = tokio::task::JoinSet::new();
    for id in ids.clone() {
        let store = f.store.clone();
        creating.spawn(async move { store.create_player(&new_state(&id)).await });
    }
    while let Some(created) = creating.join_next().await {
        assert!(created.unwrap().unwrap());
    }

    let mut asked = ids.clone();
    asked.push("nobody".into());
    asked.push(ids[7].clone()); // a duplicate id is read once
    let loaded = f.store.load_players(&asked).await.unwrap();
    let got: BTreeSet<String> = loaded
        .players
        .iter()
        .map(|s| s.player.player_id.clone())
        .collect();
    assert_eq!(loaded.players.len(), 150);
    assert!(loaded.unreadable.is_empty());
    assert_eq!(got, ids.into_iter().collect());
    assert_eq!(
        f.store.load_players(&[]).await.unwrap(),
        idle_app::ports::Loaded::default()
    );
}

fn connection(id: &str, player: &str) -> Connection {
    Connection {
        connection_id: id.into(),
        player_id: player.into(),
        is_admin: id.ends_with('a'),
        connected_at: NOW,
        token_expires_at: NOW + 3_600_000,
        expires_at: EpochSecs(NOW / 1000 + 3600),
    }
}

#[tokio::test]
async fn a_conditional_connection_delete_removes_only_the_record_that_was_read() {
    let store = fresh("conn-delete-if").await.store;
    // Given the row of c9 as read, then replaced by a newer record with the same id
    let read = connection("c9", "p9");
    store.put_connection(&read).await.unwrap();
    let newer = Connection {
        connected_at: NOW + 1_000,
        ..read.clone()
    };
    store.put_connection(&newer).await.unwrap();

    // When the record read first is deleted conditionally, nothing goes
    assert!(!store.delete_connection_if(&read).await.unwrap());
    assert_eq!(
        store.get_connection("c9").await.unwrap(),
        Some(newer.clone())
    );

    // When the current one is, it goes; and a missing one is no error
    assert!(store.delete_connection_if(&newer).await.unwrap());
    assert_eq!(store.get_connection("c9").await.unwrap(), None);
    assert!(!store.delete_connection_if(&newer).await.unwrap());
}

#[tokio::test]
async fn connections_by_id_by_player_and_by_scan() {
    let f = fresh("conns").await;
    let store = f.store.clone().with_page_size(2);
    let mut all = BTreeSet::new();
    for i in 0..7 {
        let player = if i < 3 { "alice" } else { "bob" };
        let c = connection(&format!("c{i}{}", if i == 0 { "a" } else { "" }), player);
        store.put_connection(&c).await.unwrap();
        all.insert(c.connection_id.clone());
    }
    assert_eq!(
        store.get_connection("c0a").await.unwrap(),
        Some(connection("c0a", "alice"))
    );
    assert_eq!(store.get_connection("nope").await.unwrap(), None);

    let mut alice: Vec<String> = store
        .player_connections("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.connection_id)
        .collect();
    alice.sort();
    assert_eq!(alice, ["c0a", "c1", "c2"]);
    assert!(store.player_connections("carol").await.unwrap().is_empty());

    store.delete_connection("c1").await.unwrap();
    store
        .delete_connection("c1")
        .await
        .expect("deleting a missing connection is fine");
    all.remove("c1");
    assert_eq!(store.get_connection("c1").await.unwrap(), None);
    assert_eq!(store.player_connections("alice").await.unwrap().len(), 2);

    let mut scanned = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.scan_connections(cursor).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        scanned.extend(page.items.into_iter().map(|c| c.connection_id));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert!(pages >= 3, "6 connections in pages of 2");
    let unique: BTreeSet<String> = scanned.iter().cloned().collect();
    assert_eq!(scanned.len(), unique.len());
    assert_eq!(unique, all);
    assert!(matches!(
        store.scan_connections(Some("{}".into())).await,
        Err(StoreError::Permanent(_))
    ));
}

#[tokio::test]
async fn dynamodb_keeps_the_kept_notifications_contract() {
    let f = fresh("kept").await;
    idle_testing::contract::kept_notifications(&f.store, NOW).await;
}

#[tokio::test]
async fn a_corrupt_item_is_reported_for_its_player_and_the_others_still_load() {
    // Given a healthy player and two corrupt items written behind the adapter's back: a
    // version that is not a number, and a queue that is not a list
    use aws_sdk_dynamodb::types::AttributeValue;
    let f = fresh("corrupt").await;
    f.store.create_player(&new_state("healthy")).await.unwrap();
    f.client
        .put_item()
        .table_name(&f.tables.players)
        .item("player_id", AttributeValue::S("broken".into()))
        .item("version", AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap();
    let mut bad_queue = idle_aws::player_item(&new_state("bad-queue"), f.store.layout()).unwrap();
    bad_queue.insert(
        "state".into(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![1, 0xff, 0xfe])),
    );
    f.client
        .put_item()
        .table_name(&f.tables.players)
        .set_item(Some(bad_queue))
        .send()
        .await
        .unwrap();

    // When all three are loaded in one call
    let ids = ["broken", "healthy", "bad-queue"].map(String::from);
    let loaded = f.store.load_players(&ids).await.unwrap();

    // Then the healthy one is read, and each corrupt one is reported for its own player with
    // a permanent error naming table and key
    let read: Vec<&str> = loaded
        .players
        .iter()
        .map(|s| s.player.player_id.as_str())
        .collect();
    assert_eq!(read, ["healthy"]);
    let mut unreadable: Vec<&str> = loaded
        .unreadable
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    unreadable.sort();
    assert_eq!(unreadable, ["bad-queue", "broken"]);
    for (id, error) in &loaded.unreadable {
        match error {
            StoreError::Permanent(message) => assert!(
                message.contains(&f.tables.players) && message.contains(id.as_str()),
                "{message}"
            ),
            other => panic!("{id}: expected a permanent error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_players_stream_reads_back_as_lambda_records_the_processor_reads() {
    // Given a created player, an enqueue, and a cancel of the task it started
    let f = fresh("stream").await;
    let before = new_state("p1");
    f.store.create_player(&before).await.unwrap();
    let (task_id, plan) = enqueue_plan(&before, "r1");
    let enqueued = Commit::of(&before, &plan).unwrap();
    f.store.commit(&enqueued).await.unwrap();
    let cancel = idle_core::cancel(
        &game(),
        &enqueued.state.player,
        &enqueued.state.queue,
        &task_id,
        NOW + 1,
    )
    .unwrap();
    let cancelled = Commit::of(&enqueued.state, &cancel).unwrap();
    f.store.commit(&cancelled).await.unwrap();

    // When the stream is read back as Lambda would deliver it
    let streams = idle_aws::stream::streams_client(&f.config);
    let mut event =
        idle_aws::stream::read_stream_as_lambda_event(&f.client, &streams, &f.tables.players)
            .await
            .unwrap();
    // moto's UpdateItem on a missing item (the player writes are UpdateItems) first puts the
    // key alone and records that too; DynamoDB records one INSERT per write. The key-only image
    // has no outbox marker, so the stream's filter would drop it anyway.
    event
        .records
        .retain(|r| r.change.new_image.get("version").is_some());

    // Then there is one record per write, in order, with real increasing sequence numbers
    let names: Vec<&str> = event
        .records
        .iter()
        .map(|r| r.event_name.as_str())
        .collect();
    assert_eq!(names, ["INSERT", "MODIFY", "MODIFY"]);
    let sequence: Vec<u128> = event
        .records
        .iter()
        .map(|r| {
            r.change
                .sequence_number
                .as_deref()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(sequence.windows(2).all(|w| w[0] < w[1]), "{sequence:?}");
    assert!(
        event.records[0].change.old_image.is_empty(),
        "NEW_IMAGE only"
    );

    // And the processor reads each: the creation has nothing to perform, the others their
    // committed outboxes (the cancel's with the cancelled task's history record)
    let read: Vec<_> = event
        .records
        .iter()
        .map(|r| idle_app::handlers::read_record(r).expect("a well-formed record"))
        .collect();
    assert!(read[0].outbox.is_empty());
    assert_eq!(read[1].outbox, enqueued.outbox);
    assert_eq!(read[1].version, 1);
    assert_eq!(read[2].outbox, cancelled.outbox);
    assert_eq!(read[2].outbox.history[0].status, TaskStatus::Cancelled);
    assert!(read.iter().all(|r| r.player_id == "p1"));

    // And the record survives the JSON Lambda hands the function
    let json = serde_json::to_string(&event).unwrap();
    let parsed: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, event);
}

#[tokio::test]
async fn a_corrupt_packed_state_is_a_permanent_error_naming_the_player() {
    let f = fresh("bad-outbox").await;
    let mut item = idle_aws::player_item(&new_state("p1"), f.store.layout()).unwrap();
    item.insert("outbox".into(), AttributeValue::N("1".into()));
    item.insert(
        "state".into(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
            b"\x01{not deflate".to_vec(),
        )),
    );
    f.client
        .put_item()
        .table_name(&f.tables.players)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    match f.store.stored_outbox("p1").await {
        Err(StoreError::Permanent(message)) => assert!(message.contains("p1"), "{message}"),
        other => panic!("expected a permanent error, got {other:?}"),
    }
    let loaded = f.store.load_players(&["p1".to_owned()]).await.unwrap();
    assert!(loaded.players.is_empty());
    assert!(matches!(
        &loaded.unreadable[..],
        [(id, StoreError::Permanent(m))] if id == "p1" && m.contains("p1") && m.contains(&f.tables.players)
    ));
}
