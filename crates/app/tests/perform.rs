//! Performing committed outboxes (the Players stream's work): order per player, per-player
//! failures and redelivery, malformed records, repeats.

mod common;

use common::{types, Env};
use idle_app::handlers::player_stream_report;
use idle_app::memory::{stream_event, Fault, StoreOp};
use idle_app::ports::StoreError;
use idle_app::usecase::{perform_batch, MalformedRecord};
use serde_json::{json, Value};

fn seqs(messages: &[Value]) -> Vec<u64> {
    messages.iter().filter_map(|m| m["seq"].as_u64()).collect()
}

fn transient() -> StoreError {
    StoreError::Transient("throttled".into())
}

/// Players `a`, `b` and `c`, each connected once and with two tasks enqueued and the first
/// completed, whose outboxes are committed but not performed: `a`, `b`, `c`, `a`, `b`, `c`, …
async fn committed_outboxes(env: &Env) -> Value {
    for (i, p) in ["a", "b", "c"].iter().enumerate() {
        env.connect(&format!("conn-{i}"), p).await;
    }
    for round in 0..2 {
        for (i, _) in ["a", "b", "c"].iter().enumerate() {
            let request_id = format!("r{round}");
            env.harvest(&format!("conn-{i}"), &request_id, 1).await;
        }
    }
    env.advance_clock(3_600_000);
    for p in ["a", "b", "c"] {
        idle_app::usecase::wake(&env.services, p, env.now())
            .await
            .unwrap();
    }
    stream_event(&env.world.store.take_outboxes())
}

#[tokio::test]
async fn each_players_outboxes_are_performed_in_commit_order() {
    // Given interleaved commits of three players
    let env = Env::new();
    let event = committed_outboxes(&env).await;

    // When the batch is performed
    let report = player_stream_report(&env.services, event).await;

    // Then every record was performed, and each connection got its player's notifications
    // in strictly increasing seq, from 1, with nothing missing
    assert_eq!((report.records, report.players), (9, 3), "{report:?}");
    assert_eq!(report.performed, 9);
    assert!(report.failures.is_empty());
    for i in 0..3 {
        let posts = env.posts(&format!("conn-{i}"));
        let seqs = seqs(&posts);
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "{posts:?}"
        );
        assert!(types(&posts).contains(&"task_completed".to_owned()));
    }
    // And each finished task is a history record, and nothing was kept (all were delivered)
    for p in ["a", "b", "c"] {
        assert_eq!(env.world.store.history(p).len(), 2, "{p}");
        assert!(env.world.store.inbox(p).is_empty());
    }
}

#[tokio::test]
async fn each_players_connections_are_listed_once_per_batch() {
    // Given three records of each of three players, each player connected
    let env = Env::new();
    let event = committed_outboxes(&env).await;
    let before = env.world.store.calls(StoreOp::PlayerConnections);

    // When the batch is performed
    let report = player_stream_report(&env.services, event).await;

    // Then each player's connections were listed once, not once per record, and still every
    // notification reached its connection
    assert_eq!((report.records, report.performed), (9, 9), "{report:?}");
    assert_eq!(
        env.world.store.calls(StoreOp::PlayerConnections) - before,
        3
    );
    assert_eq!(report.kept, 0);
    for i in 0..3 {
        assert!(!env.posts(&format!("conn-{i}")).is_empty());
    }
}

#[tokio::test]
async fn a_connection_found_gone_in_a_batch_is_not_posted_to_for_the_players_later_records() {
    // Given interleaved commits, and player a's client gone before the batch (past the
    // handshake window: the clock moved an hour)
    let env = Env::new();
    let event = committed_outboxes(&env).await;
    env.world.notifier.drop_connection("conn-0");
    let before = env.world.store.calls(StoreOp::PlayerConnections);

    // When the batch is performed
    let report = player_stream_report(&env.services, event).await;

    // Then a's connection was deleted at its first 410, and the notifications of a's three
    // outboxes are all kept for sync, in order, from seq 1: the later records did not post to
    // the deleted connection and did not list the connections again
    assert!(report.failures.is_empty(), "{report:?}");
    assert!(env
        .world
        .store
        .connections()
        .iter()
        .all(|c| c.connection_id != "conn-0"));
    let kept: Vec<u64> = env.world.store.inbox("a").iter().map(|n| n.seq).collect();
    assert_eq!(kept, (1..=kept.len() as u64).collect::<Vec<_>>());
    assert!(kept.len() >= 3, "{kept:?}");
    assert_eq!(
        env.world.store.calls(StoreOp::PlayerConnections) - before,
        3
    );
    // b and c still got theirs
    assert!(!env.posts("conn-1").is_empty() && !env.posts("conn-2").is_empty());
}

#[tokio::test]
async fn a_record_that_fails_holds_back_that_players_later_records_until_redelivered() {
    // Given interleaved commits, and a history put of b's that fails once
    let env = Env::new();
    let event = committed_outboxes(&env).await;
    env.world
        .store
        .inject(Fault::once(StoreOp::PutHistory, transient()).for_player("b"));

    // When the batch is performed
    let report = player_stream_report(&env.services, event.clone()).await;

    // Then only b's failing record is reported, and b's later records wait for the redelivery:
    // b's connection saw nothing after the failure, in order
    assert_eq!(report.failed_players, 1, "{report:?}");
    let failed = report.failures[0].clone();
    let b_before = seqs(&env.posts("conn-1"));
    assert_eq!(env.world.store.history("b").len(), 0);

    // When Lambda redelivers from the lowest reported record
    let records = event["Records"].as_array().unwrap();
    let from = records
        .iter()
        .position(|r| r["dynamodb"]["SequenceNumber"] == failed.as_str())
        .unwrap();
    let again = json!({ "Records": records[from..].to_vec() });
    let retry = player_stream_report(&env.services, again).await;

    // Then b is made whole, in order, with repeats of the a and c records carrying their seqs
    assert!(retry.failures.is_empty(), "{retry:?}");
    let b_after = seqs(&env.posts("conn-1"));
    let b_all: Vec<u64> = b_before.iter().chain(&b_after).copied().collect();
    assert!(b_all.windows(2).all(|w| w[0] < w[1]), "{b_all:?}");
    assert_eq!(b_all, (1..=b_all.len() as u64).collect::<Vec<_>>());
    assert_eq!(env.world.store.history("b").len(), 2);
}

#[tokio::test]
async fn an_outbox_performed_twice_repeats_its_seqs_and_writes_history_once() {
    let env = Env::new();
    env.connect("conn-0", "a").await;
    env.harvest("conn-0", "r1", 1).await;
    env.advance_clock(3_600_000);
    idle_app::usecase::wake(&env.services, "a", env.now())
        .await
        .unwrap();
    let event = stream_event(&env.world.store.take_outboxes());

    player_stream_report(&env.services, event.clone()).await;
    let first = seqs(&env.posts("conn-0"));
    player_stream_report(&env.services, event).await;
    let second = seqs(&env.posts("conn-0"));

    assert_eq!(first, second, "a repeat carries the same seqs");
    assert_eq!(env.world.store.history("a").len(), 1);
}

#[tokio::test]
async fn malformed_records_are_counted_and_never_fail_the_batch() {
    let env = Env::new();
    env.connect("conn-0", "a").await;
    env.harvest("conn-0", "r1", 1).await;
    let records = env.world.store.take_outboxes();
    let bad = MalformedRecord {
        reason: "Keys has no string player_id".into(),
        sequence_number: Some("1".into()),
        record: json!({"dynamodb": {"Keys": {"player_id": {"N": "5"}}}}),
    };
    let report = perform_batch(&env.services, vec![Err(bad), Ok(records[0].clone())]).await;
    assert_eq!((report.malformed, report.performed), (1, 1));
    assert!(report.failures.is_empty());
}

#[tokio::test]
async fn stream_records_without_an_outbox_or_with_a_corrupt_one_are_handled() {
    // Given a record whose image has no outbox (the template's filter keeps these away) and one
    // whose outbox does not parse
    let env = Env::new();
    let outbox =
        json!({"notifications": [{"seq": 1, "at": 5, "type": "queue_updated", "queue": []}]});
    let mut event = common::stream_event(&[("a", 3, outbox.clone()), ("b", 4, outbox)]);
    event["Records"][0]["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("outbox");
    event["Records"][1]["dynamodb"]["NewImage"]["state"]["B"] = json!("AXtub3QganNvbg==");

    // When they are performed
    let report = player_stream_report(&env.services, event).await;

    // Then the first does nothing and the second is malformed; neither fails the batch
    assert_eq!((report.performed, report.malformed), (1, 1), "{report:?}");
    assert!(report.failures.is_empty());
}
