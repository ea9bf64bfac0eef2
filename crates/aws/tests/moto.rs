//! The DynamoDB adapter against moto (a local DynamoDB stand-in).
//!
//! Run through `scripts/with-moto.sh cargo test -p idle-aws` (or `--test moto`), which starts
//! moto and sets `DYNAMODB_ENDPOINT`. Without it every test here fails and says so. Each test
//! creates its own tables under a unique prefix, so they run in parallel.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::types::{ProjectionType, StreamViewType, TimeToLiveStatus};
use idle_app::ports::{wake_shard, Connection, ConnectionStore, GameStore, Page, StoreError};
use idle_app::state::PlayerState;
use idle_aws::{create_tables, dynamodb_client, DynamoStore, Tables};
use idle_core::catalog::Catalog;
use idle_core::lifecycle::{Expected, Plan, PlayerWrite, TaskWrite};
use idle_core::model::{Millis, Player, Task, TaskRequest, TaskStatus};
use idle_core::{enqueue, Enqueued, Game};

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
    PlayerState {
        player: Player::new(player_id, NOW, Catalog::shipped(), 10),
        queue: Vec::new(),
    }
}

fn harvest() -> TaskRequest {
    TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 2,
    }
}

/// The plan of a real enqueue from `state`.
fn enqueue_plan(state: &PlayerState, request_id: &str) -> (String, Plan) {
    match enqueue(
        &game(),
        &state.player,
        &state.queue,
        request_id,
        &harvest(),
        false,
        false,
        NOW,
    )
    .expect("enqueue is valid")
    {
        Enqueued::New { task_id, plan } => (task_id, *plan),
        Enqueued::Duplicate { .. } => panic!("not a duplicate"),
    }
}

fn task(player_id: &str, task_id: &str, status: TaskStatus) -> Task {
    Task {
        player_id: player_id.into(),
        task_id: task_id.into(),
        request_id: format!("req-{task_id}"),
        request: harvest(),
        bypass_validation: false,
        status,
        enqueued_at: NOW,
        started_at: None,
        ends_at: None,
        finished_at: status.is_final().then_some(NOW + 10),
        attempts: 0,
        retry_at: None,
        rules_version: 1,
        catalog_hash: None,
        snapshot: None,
        result: None,
        failure: None,
    }
}

/// A plan writing `player` at `version` (expecting `version - 1`) and the given task writes.
fn plan_for(player: &Player, version: u64, tasks: Vec<TaskWrite>) -> (Plan, PlayerState) {
    let mut written = player.clone();
    written.version = version;
    let plan = Plan {
        player: Some(PlayerWrite {
            player: written.clone(),
            expected_version: Some(version - 1),
        }),
        tasks,
        ..Plan::default()
    };
    let after = PlayerState {
        player: written,
        queue: Vec::new(),
    };
    (plan, after)
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

    let tasks = f
        .client
        .describe_table()
        .table_name(&f.tables.tasks)
        .send()
        .await
        .unwrap();
    let stream = tasks
        .table()
        .and_then(|t| t.stream_specification())
        .unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(
        stream.stream_view_type(),
        Some(&StreamViewType::NewAndOldImages)
    );

    let players = f
        .client
        .describe_table()
        .table_name(&f.tables.players)
        .send()
        .await
        .unwrap();
    let index = &players.table().unwrap().global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some("wake"));
    let keys: Vec<_> = index
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["wake_shard", "wake_at"]);
    assert_eq!(
        index.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::KeysOnly)
    );

    for table in [&f.tables.connections, &f.tables.notifications] {
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
async fn an_enqueue_commit_writes_the_player_queue_and_history() {
    let f = fresh("commit").await;
    let before = new_state("p1");
    assert!(f.store.create_player(&before).await.unwrap());

    let (task_id, plan) = enqueue_plan(&before, "r1");
    let after = before.after(&plan);
    f.store.commit(&plan, &after).await.expect("commit");

    let loaded = load_one(&f.store, "p1").await;
    assert_eq!(loaded, after);
    assert_eq!(loaded.queue.len(), 1);
    assert_eq!(loaded.player.version, 1);
    let history = f
        .store
        .load_task("p1", &task_id)
        .await
        .unwrap()
        .expect("in the history");
    assert_eq!(history, after.queue[0]);
    assert_eq!(f.store.load_task("p1", "no-such-task").await.unwrap(), None);
}

#[tokio::test]
async fn history_records_expire_the_configured_time_after_their_task() {
    // Given a store keeping history for one day
    let f = fresh("history-ttl").await;
    let store = f.store.clone().with_history_ttl(24 * 3_600_000);
    let before = new_state("p1");
    assert!(store.create_player(&before).await.unwrap());

    // When a task is queued, and when it ends
    let (task_id, plan) = enqueue_plan(&before, "r1");
    let after = before.after(&plan);
    store.commit(&plan, &after).await.expect("commit");
    let expires_at = || async {
        let item = f
            .client
            .get_item()
            .table_name(&f.tables.tasks)
            .key(
                "player_id",
                aws_sdk_dynamodb::types::AttributeValue::S("p1".into()),
            )
            .key(
                "task_id",
                aws_sdk_dynamodb::types::AttributeValue::S(task_id.clone()),
            )
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        match item.get("expires_at") {
            Some(aws_sdk_dynamodb::types::AttributeValue::N(n)) => n.parse::<i64>().unwrap(),
            other => panic!("no expires_at: {other:?}"),
        }
    };

    // Then its record's TTL attribute is a day after it was queued, then after it finished
    assert_eq!(expires_at().await, NOW / 1000 + 86_400);
    let mut done = after.queue[0].clone();
    done.status = TaskStatus::Cancelled;
    done.finished_at = Some(NOW + 5_000);
    let (plan, after) = plan_for(
        &after.player,
        after.player.version + 1,
        vec![TaskWrite {
            task: done,
            expected: Expected::Status(TaskStatus::Queued),
        }],
    );
    store.commit(&plan, &after).await.expect("commit");
    assert_eq!(expires_at().await, (NOW + 5_000) / 1000 + 86_400);
}

#[tokio::test]
async fn a_stale_version_conflicts_and_writes_nothing_at_all() {
    let f = fresh("stale").await;
    let before = new_state("p1");
    f.store.create_player(&before).await.unwrap();
    let (current, after) = plan_for(&before.player, 1, vec![]);
    f.store.commit(&current, &after).await.unwrap();

    // Given a plan computed from version 0 while version 1 is stored, with a history write
    // that would succeed on its own,
    let mut stale_player = before.player.clone();
    stale_player.character_xp = 12345;
    let (stale, stale_after) = plan_for(
        &stale_player,
        1,
        vec![TaskWrite {
            task: task("p1", "t-new", TaskStatus::Queued),
            expected: Expected::Absent,
        }],
    );
    // when it is committed,
    let result = f.store.commit(&stale, &stale_after).await;
    // then it conflicts, naming the player,
    match result {
        Err(StoreError::Conflict(message)) => assert!(message.contains("player p1"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // and the transaction wrote neither the player nor the task.
    assert_eq!(load_one(&f.store, "p1").await, after);
    assert_eq!(f.store.load_task("p1", "t-new").await.unwrap(), None);
}

#[tokio::test]
async fn a_task_ends_in_the_history_only_once() {
    let f = fresh("final").await;
    let state = new_state("p1");
    f.store.create_player(&state).await.unwrap();
    let p = &state.player;

    let queued = task("p1", "t1", TaskStatus::Queued);
    let (plan, after) = plan_for(
        p,
        1,
        vec![TaskWrite {
            task: queued.clone(),
            expected: Expected::Absent,
        }],
    );
    f.store.commit(&plan, &after).await.unwrap();

    // A running task is not written to the history (it lives in the queue).
    let mut running = queued.clone();
    running.status = TaskStatus::Running;
    running.started_at = Some(NOW + 1);
    let (plan, after) = plan_for(
        p,
        2,
        vec![TaskWrite {
            task: running,
            expected: Expected::Status(TaskStatus::Queued),
        }],
    );
    f.store.commit(&plan, &after).await.unwrap();
    assert_eq!(
        f.store.load_task("p1", "t1").await.unwrap(),
        Some(queued.clone())
    );

    // Completing it writes the history.
    let completed = task("p1", "t1", TaskStatus::Completed);
    let (plan, after) = plan_for(
        p,
        3,
        vec![TaskWrite {
            task: completed.clone(),
            expected: Expected::Status(TaskStatus::Running),
        }],
    );
    f.store.commit(&plan, &after).await.unwrap();
    assert_eq!(
        f.store.load_task("p1", "t1").await.unwrap(),
        Some(completed.clone())
    );

    // Ending it again (a replay computed before the completion was seen) conflicts, even
    // with the current player version, and changes nothing.
    let cancelled = task("p1", "t1", TaskStatus::Cancelled);
    let (plan, again) = plan_for(
        p,
        4,
        vec![TaskWrite {
            task: cancelled,
            expected: Expected::Status(TaskStatus::Running),
        }],
    );
    match f.store.commit(&plan, &again).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("task p1/t1"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        f.store.load_task("p1", "t1").await.unwrap(),
        Some(completed)
    );
    assert_eq!(load_one(&f.store, "p1").await, after);

    // A final write for a task the history never had conflicts too.
    let (plan, after4) = plan_for(
        p,
        4,
        vec![TaskWrite {
            task: task("p1", "t9", TaskStatus::Failed),
            expected: Expected::Status(TaskStatus::Retrying),
        }],
    );
    assert!(matches!(
        f.store.commit(&plan, &after4).await,
        Err(StoreError::Conflict(_))
    ));

    // An empty plan writes nothing and succeeds.
    f.store.commit(&Plan::default(), &after).await.unwrap();
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

#[tokio::test]
async fn due_players_pages_through_every_shard_once() {
    let f = fresh("due").await;
    let store = f.store.clone().with_page_size(3);
    let mut due = BTreeSet::new();
    let mut creating = tokio::task::JoinSet::new();
    for i in 0..30 {
        let id = format!("p{i:02}");
        let mut state = new_state(&id);
        state.player.wake_at = match i % 3 {
            0 => None,                  // nothing pending: not in the index
            1 => Some(NOW + 60_000),    // later
            _ => Some(NOW - 1_000 * i), // due
        };
        if i % 3 == 2 {
            due.insert(id.clone());
        }
        let store = store.clone();
        creating.spawn(async move { store.create_player(&state).await });
    }
    // One exactly at `now` counts as due.
    let mut edge = new_state("edge");
    edge.player.wake_at = Some(NOW);
    store.create_player(&edge).await.unwrap();
    due.insert("edge".into());
    while let Some(created) = creating.join_next().await {
        assert!(created.unwrap().unwrap());
    }

    let mut seen = Vec::new();
    let mut pages = 0;
    for shard in 0..SHARDS {
        let mut cursor = None;
        loop {
            let Page { items, next } = store.due_players(shard, NOW, cursor).await.unwrap();
            pages += 1;
            assert!(items.len() <= 3);
            for id in &items {
                assert_eq!(wake_shard(id, SHARDS), shard, "{id} is in its own shard");
            }
            seen.extend(items);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), unique.len(), "no player twice: {seen:?}");
    assert_eq!(unique, due);
    assert!(
        pages > SHARDS as usize,
        "more than one page per shard on average"
    );

    // A player whose wake-up is cleared leaves the index.
    let mut state = load_one(&store, "edge").await;
    let mut cleared = state.player.clone();
    cleared.wake_at = None;
    let (plan, after) = plan_for(&cleared, state.player.version + 1, vec![]);
    state = after;
    store.commit(&plan, &state).await.unwrap();
    let shard = wake_shard("edge", SHARDS);
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.due_players(shard, NOW, cursor).await.unwrap();
        ids.extend(page.items);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert!(!ids.contains(&"edge".to_owned()));

    for bad in ["garbage", r#"{"connection_id":{"S":"x"}}"#] {
        assert!(matches!(
            store.due_players(0, NOW, Some(bad.into())).await,
            Err(StoreError::Permanent(_))
        ));
    }
}

fn connection(id: &str, player: &str) -> Connection {
    Connection {
        connection_id: id.into(),
        player_id: player.into(),
        is_admin: id.ends_with('a'),
        connected_at: NOW,
        token_expires_at: NOW + 3_600_000,
        expires_at: NOW / 1000 + 3600,
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
    let mut bad_queue = idle_aws::player_item(&new_state("bad-queue"), SHARDS).unwrap();
    bad_queue.insert("queue".into(), AttributeValue::S("oops".into()));
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
async fn the_task_stream_reads_back_as_a_lambda_event() {
    let f = fresh("stream").await;
    let before = new_state("p1");
    f.store.create_player(&before).await.unwrap();
    let (task_id, plan) = enqueue_plan(&before, "r1");
    let after = before.after(&plan);
    f.store.commit(&plan, &after).await.unwrap();
    // Cancel it: the history's task moves to a final state (a MODIFY record).
    let cancel =
        idle_core::cancel(&game(), &after.player, &after.queue, &task_id, NOW + 1).unwrap();
    let cancelled = after.after(&cancel);
    f.store.commit(&cancel, &cancelled).await.unwrap();

    let streams = idle_aws::stream::streams_client(&f.config);
    let event = idle_aws::stream::read_stream_as_lambda_event(&f.client, &streams, &f.tables.tasks)
        .await
        .unwrap();

    let names: Vec<&str> = event
        .records
        .iter()
        .map(|r| r.event_name.as_str())
        .collect();
    assert_eq!(names, ["INSERT", "MODIFY"]);
    let insert = &event.records[0];
    let keys: HashMap<String, serde_json::Value> =
        serde_dynamo::from_item(insert.change.keys.clone()).unwrap();
    assert_eq!(keys["player_id"], "p1");
    assert_eq!(keys["task_id"], task_id.as_str());
    let task: Task = serde_dynamo::from_item(insert.change.new_image.clone()).unwrap();
    assert_eq!(task, after.queue[0]);
    assert_eq!(task.status, TaskStatus::Queued);
    assert!(insert.change.old_image.is_empty());
    assert!(insert
        .event_source_arn
        .as_deref()
        .unwrap_or_default()
        .contains(&f.tables.tasks));

    let modify = &event.records[1];
    let old: Task = serde_dynamo::from_item(modify.change.old_image.clone()).unwrap();
    let new: Task = serde_dynamo::from_item(modify.change.new_image.clone()).unwrap();
    assert_eq!(old.status, TaskStatus::Queued);
    assert_eq!(new.status, TaskStatus::Cancelled);

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
    assert!(
        sequence[0] < sequence[1],
        "real, increasing sequence numbers: {sequence:?}"
    );

    let json = serde_json::to_string(&event).unwrap();
    let parsed: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, event);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["Records"][0]["eventName"], "INSERT");
    assert_eq!(
        value["Records"][0]["dynamodb"]["Keys"]["task_id"]["S"],
        task_id.as_str()
    );
}
