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

/// The services `task-processor` runs with, over DynamoDB on moto, with an in-memory notifier
/// and waker (API Gateway and SQS are not what these tests are about) and a manual clock.
struct Processor {
    services: idle_app::services::Services,
    store: std::sync::Arc<DynamoStore>,
    clock: std::sync::Arc<idle_app::memory::ManualClock>,
    notifier: std::sync::Arc<idle_app::memory::MemoryNotifier>,
    waker: std::sync::Arc<idle_app::memory::MemoryWaker>,
    tables: Tables,
    sdk: aws_config::SdkConfig,
}

const T0: idle_core::model::Millis = 1_800_000_000_000;
/// T0 as the on-failure message writes arrival times.
const T0_RFC3339: &str = "2027-01-15T08:00:00Z";

async fn processor(test: &str) -> Processor {
    use std::sync::Arc;
    require_moto();
    let sdk = idle_aws::sdk_config().await;
    let client = dynamodb_client(&sdk);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let tables = Tables::with_prefix(&format!("{test}-{}-{nanos}-", std::process::id()));
    create_tables(&client, &tables).await.unwrap();
    let config = idle_app::config::AppConfig {
        token_secret: Some(
            idle_app::config::Secret::new(idle_app::auth::DEV_TOKEN_SECRET).unwrap(),
        ),
        seed_secret: Some(
            idle_app::config::Secret::new("admin-redrive-test-seed-secret-admin-redrive").unwrap(),
        ),
        ..idle_app::config::AppConfig::default()
    };
    let store = Arc::new(DynamoStore::new(client, tables.clone(), config.wake_shards));
    let clock = Arc::new(idle_app::memory::ManualClock::new(T0));
    let notifier = Arc::new(idle_app::memory::MemoryNotifier::new());
    let waker = Arc::new(idle_app::memory::MemoryWaker::new());
    let services = idle_app::services::Services::new(
        config,
        store.clone(),
        store.clone(),
        store.clone(),
        notifier.clone(),
        clock.clone(),
        waker.clone(),
    );
    Processor {
        services,
        store,
        clock,
        notifier,
        waker,
        tables,
        sdk,
    }
}

impl Processor {
    /// Connects `player_id` on `connection_id` and enqueues a short harvest (it starts in the
    /// enqueue's write); returns when the task ends.
    async fn play(&self, connection_id: &str, player_id: &str) -> idle_core::model::Millis {
        use idle_app::ports::Clock;
        let ttl = std::time::Duration::from_secs(3600);
        let token = idle_testing::tokens::dev_token(player_id, ttl, self.clock.now());
        self.notifier.open(connection_id, self.clock.now());
        idle_app::usecase::connect(&self.services, connection_id, Some(&token))
            .await
            .expect("connect");
        let body = serde_json::json!({"action": "enqueue", "request_id": "r1",
            "task": {"activity": "harvest", "resource": "guam_leaf", "location": "meadow", "quantity": 2}});
        idle_app::usecase::message(&self.services, connection_id, &body.to_string()).await;
        let state = self.state(player_id).await;
        state.queue[0].ends_at.expect("the task started")
    }

    async fn state(&self, player_id: &str) -> idle_app::state::PlayerState {
        use idle_app::ports::GameStore;
        self.store
            .load_players(&[player_id.to_owned()])
            .await
            .unwrap()
            .players
            .remove(0)
    }

    async fn history(&self, player_id: &str) -> Vec<idle_core::model::HistoryRecord> {
        self.store.history(player_id, None).await.unwrap().items
    }

    fn redrive<'a>(
        &'a self,
        ranges: &'a dyn idle_admin::redrive::StreamRanges,
        expired: idle_admin::redrive::Expired,
    ) -> idle_admin::redrive::Redrive<'a> {
        idle_admin::redrive::Redrive {
            services: &self.services,
            ranges,
            touched: self.store.as_ref(),
            expired,
            slack_ms: 300_000,
        }
    }
}

/// Redrives with `--expired history` the on-failure message of a range the stream has trimmed
/// (see [`Trimmed`]): sequence numbers 100 to 200 of `shardId-1`, with these arrival times.
/// Returns the message and what the redrive did.
async fn redrive_trimmed(
    w: &Processor,
    arrivals: Option<(&str, &str)>,
) -> (
    idle_admin::redrive::FailureMessage,
    idle_admin::redrive::Redriven,
) {
    let message = failure(
        "arn:aws:dynamodb:us-east-1:123456789012:table/Players/stream/2027-01-15T07:00:00.000",
        "shardId-1",
        "100",
        "200",
        arrivals,
    );
    let redriven = w
        .redrive(&Trimmed, idle_admin::redrive::Expired::History)
        .batch(&message)
        .await
        .unwrap();
    (message, redriven)
}

/// An on-failure message for `shard_id`'s range from `first` to `last`, with arrival times.
fn failure(
    stream_arn: &str,
    shard_id: &str,
    first: &str,
    last: &str,
    arrivals: Option<(&str, &str)>,
) -> idle_admin::redrive::FailureMessage {
    let mut info = serde_json::json!({
        "shardId": shard_id,
        "startSequenceNumber": first,
        "endSequenceNumber": last,
        "streamArn": stream_arn,
        "batchSize": 1,
    });
    if let Some((from, to)) = arrivals {
        info["approximateArrivalOfFirstRecord"] = from.into();
        info["approximateArrivalOfLastRecord"] = to.into();
    }
    let body = serde_json::json!({
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "version": "1.0",
        "timestamp": T0_RFC3339,
        "DDBStreamBatchInfo": info,
    });
    idle_admin::redrive::parse_failure_message(&body.to_string()).unwrap()
}

#[tokio::test]
async fn redrive_of_a_live_range_reprocesses_its_players_from_the_stream() {
    let w = processor("redrive-live").await;
    // Given a player whose task started and then completed (on its wake-up), and a processor
    // that gave up on the completion's stream batch: no history record, no completion posted
    let ends_at = w.play("c1", "alice").await;
    let mut tail = idle_aws::stream::StreamTail::new(
        dynamodb_client(&w.sdk),
        idle_aws::stream::streams_client(&w.sdk),
        w.tables.players.clone(),
    );
    let started = idle_aws::stream::with_outbox(tail.poll().await.unwrap());
    idle_app::usecase::perform_batch(
        &w.services,
        started
            .records
            .iter()
            .map(idle_app::handlers::read_record)
            .collect(),
    )
    .await;
    w.clock.set(ends_at);
    assert_eq!(
        idle_app::usecase::wake(&w.services, "alice", ends_at).await,
        Ok(idle_app::usecase::Woken::Advanced)
    );
    assert!(w.state("alice").await.queue.is_empty(), "completed");
    let lost = idle_aws::stream::with_outbox(tail.poll().await.unwrap());
    assert_eq!(lost.records.len(), 1, "the completion's record");
    assert!(w.history("alice").await.is_empty(), "not performed");
    w.notifier.take_posts("c1");
    let sequence = lost.records[0].change.sequence_number.clone().unwrap();
    let stream_arn = lost.records[0].event_source_arn.clone().unwrap();
    let streams = idle_aws::stream::streams_client(&w.sdk);
    let shard_id = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap()
        .shards()[0]
        .shard_id()
        .unwrap()
        .to_owned();

    // When the on-failure message of that batch is redriven while the stream holds it
    let message = failure(&stream_arn, &shard_id, &sequence, &sequence, None);
    let ranges = idle_admin::redrive::StreamsApi(streams);
    let redriven = w
        .redrive(&ranges, idle_admin::redrive::Expired::Keep)
        .batch(&message)
        .await
        .unwrap();

    // Then the record was read back and performed: the history record put, the completion
    // posted to the player's connection, and the message may be deleted
    assert!(redriven.done, "{}", redriven.report);
    assert_eq!(
        redriven.report["report"]["records"], 1,
        "{}",
        redriven.report
    );
    assert_eq!(
        redriven.report["report"]["history"], 1,
        "{}",
        redriven.report
    );
    let history = w.history("alice").await;
    assert_eq!(history.len(), 1, "the completed task's record: {history:?}");
    let posts: Vec<serde_json::Value> = w
        .notifier
        .take_posts("c1")
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert!(
        posts.iter().any(|p| p["type"] == "task_completed"),
        "{posts:?}"
    );
}

/// A stream that no longer holds any range: what DynamoDB Streams answers 24 hours later
/// (`TrimmedDataAccessException`), which no emulator does.
struct Trimmed;

#[async_trait::async_trait]
impl idle_admin::redrive::StreamRanges for Trimmed {
    async fn read(
        &self,
        _: &idle_admin::redrive::BatchInfo,
    ) -> Result<idle_admin::redrive::Range, idle_admin::CliError> {
        Ok(idle_admin::redrive::Range::Gone(
            "TrimmedDataAccessException (fake)".into(),
        ))
    }
}

#[tokio::test]
async fn redrive_of_an_expired_range_advances_the_players_the_history_names() {
    use idle_app::ports::GameStore;
    let w = processor("redrive-expired").await;
    // Given two players whose running tasks are due and whose last outboxes were never
    // performed (the processor gave up on them, and the stream has since dropped the range):
    // alice finished a task in the range's window (T0), bob long before it
    let ends_at = w.play("ca", "alice").await;
    w.play("cb", "bob").await;
    w.store
        .put_history(&[idle_testing::contract::finished_task("alice", 1, T0)])
        .await
        .unwrap();
    w.store
        .put_history(&[idle_testing::contract::finished_task(
            "bob",
            1,
            T0 - 86_400_000,
        )])
        .await
        .unwrap();
    w.clock.set(ends_at);
    let (alice, bob) = (w.state("alice").await, w.state("bob").await);
    // (their tasks' ends were armed by the enqueues' writes, not by the outboxes)
    assert!(w.waker.armed().iter().any(|(_, p)| p == "alice"));

    // When the message of the expired range (arrivals at T0) is redriven
    let (_, redriven) = redrive_trimmed(&w, Some((T0_RFC3339, T0_RFC3339))).await;

    // Then alice, named by the history in the window, had her last outbox performed (her
    // task's start posted) and was advanced (the task completed); bob was
    // not touched
    let report = &redriven.report;
    assert!(redriven.done, "{report}");
    assert_eq!(report["found_by"], "history", "{report}");
    assert_eq!(report["players"], 1, "{report}");
    assert_eq!(report["advance"]["outboxes_performed"], 1, "{report}");
    assert_eq!(report["advance"]["advanced"], 1, "{report}");
    assert_eq!(
        report["window"]["from"].as_i64(),
        Some(T0 - 300_000),
        "{report}"
    );
    let posts = w.notifier.take_posts("ca");
    assert!(
        posts.iter().any(|p| p.contains("task_started")),
        "{posts:?}"
    );
    let advanced = w.state("alice").await;
    assert!(advanced.queue.is_empty(), "completed: {:?}", advanced.queue);
    assert!(advanced.player.version > alice.player.version);
    assert!(
        w.notifier.take_posts("cb").is_empty(),
        "bob: nothing posted"
    );
    assert_eq!(w.state("bob").await, bob, "bob: not advanced");

    // When a message without arrival times is redriven, the players come from the wake index
    // (which holds wake times rounded up to a bucket, so bob is found once his bucket has
    // passed): bob (due) is advanced now
    w.clock.set(ends_at + idle_aws::DEFAULT_WAKE_BUCKET_MS);
    let (message, redriven) = redrive_trimmed(&w, None).await;
    let report = &redriven.report;
    assert!(redriven.done, "{report}");
    assert_eq!(
        report["found_by"], "due (the message carries no arrival times)",
        "{report}"
    );
    assert_eq!(report["players"], 1, "only bob is due now: {report}");
    assert!(w.state("bob").await.queue.is_empty(), "bob completed");

    // And with --expired keep the range is only reported, its message kept
    let kept = w
        .redrive(&Trimmed, idle_admin::redrive::Expired::Keep)
        .batch(&message)
        .await
        .unwrap();
    assert!(!kept.done);
    assert_eq!(kept.report["gone"], "TrimmedDataAccessException (fake)");
}
