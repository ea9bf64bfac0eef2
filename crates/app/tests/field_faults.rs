//! Regression tests for faults found in the field (docs/reliability.md, "Faults from the
//! field"): each pins one reproduced instance of a kind of fault in the use cases and handlers.

mod common;

use std::time::Duration;

use common::{harvest_message, Env, T0};
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_app::handlers;
use idle_app::ports::HANDSHAKE_WINDOW_MS;
use idle_app::usecase;
use idle_core::protocol::{Event, Notification};
use serde_json::{json, Value};

fn queue_updated(seq: u64) -> Notification {
    Notification {
        seq,
        at: T0,
        event: Event::QueueUpdated { queue: Vec::new() },
    }
}

/// Runs `$connect` for a connection the gateway has not finished opening: API Gateway answers
/// 410 Gone for it until `$connect` returns.
async fn connect_mid_handshake(env: &Env, connection_id: &str, player_id: &str) {
    let token = env.token(player_id, false);
    usecase::connect(&env.services, connection_id, Some(&token))
        .await
        .unwrap();
}

// ---- kind 3: a single 410 Gone is taken as proof that the client left ----------------------

#[tokio::test]
async fn a_gone_answer_during_the_handshake_keeps_the_connection_row() {
    // Given a connection whose `$connect` has stored its row but not yet returned
    let env = Env::new();
    connect_mid_handshake(&env, "c1", "p1").await;

    // When a notification for the player is posted to it (the gateway answers 410)
    let delivery = usecase::deliver(
        &env.services,
        "p1",
        &listed(&env, "p1"),
        &[queue_updated(1)],
        &[],
    )
    .await;

    // Then the row stays, and the client's first message is answered, not refused
    assert_eq!(delivery.gone, 1, "{delivery:?}");
    assert!(env
        .world
        .store
        .connections()
        .iter()
        .any(|c| c.connection_id == "c1"));
    env.world.notifier.open("c1", env.now());
    let replies = env.send("c1", &json!({"action": "ping"})).await;
    assert_eq!(replies[0]["type"], "pong", "{replies:?}");
}

#[tokio::test]
async fn a_gone_answer_after_the_handshake_window_deletes_the_row() {
    // Given a connection made longer ago than the handshake window, then dropped unannounced
    let env = Env::new();
    env.connect("c1", "p1").await;
    env.advance_clock(HANDSHAKE_WINDOW_MS);
    env.world.notifier.drop_connection("c1");

    // When a notification is posted to it
    let delivery = usecase::deliver(
        &env.services,
        "p1",
        &listed(&env, "p1"),
        &[queue_updated(1)],
        &[],
    )
    .await;

    // Then the row is gone, its id unlisted, and the notification went to the inbox
    assert_eq!((delivery.gone, delivery.stored), (1, 1), "{delivery:?}");
    assert!(env.world.store.connections().is_empty());
    assert!(listed(&env, "p1").is_empty());
}

#[tokio::test]
async fn a_listed_connection_whose_row_is_gone_is_unlisted_on_its_410() {
    // Given a connection whose row was deleted but whose id stayed listed with the player (the
    // unlisting failed after the row's delete), its client gone
    let env = Env::new();
    env.connect("c1", "p1").await;
    env.advance_clock(HANDSHAKE_WINDOW_MS);
    env.world.notifier.drop_connection("c1");
    env.world.store.delete_row_only("c1");
    assert_eq!(listed(&env, "p1"), ["c1"]);

    // When a notification is posted to the listed id (410 Gone)
    let delivery = usecase::deliver(
        &env.services,
        "p1",
        &listed(&env, "p1"),
        &[queue_updated(1)],
        &[],
    )
    .await;

    // Then the id is unlisted and the notification kept
    assert_eq!((delivery.gone, delivery.stored), (1, 1), "{delivery:?}");
    assert!(listed(&env, "p1").is_empty());
}

/// The connection ids listed with a player, as the store keeps them.
fn listed(env: &Env, player_id: &str) -> Vec<String> {
    env.world.store.listed(player_id)
}

#[tokio::test]
async fn a_conditional_delete_leaves_a_row_that_was_replaced_since_it_was_read() {
    // Given the row of c1 as read, then replaced by a newer record with the same id
    let env = Env::new();
    env.connect("c1", "p1").await;
    let read = env.world.store.connections()[0].clone();
    env.advance_clock(1_000);
    env.connect("c1", "p1").await;

    // When the stale record is deleted conditionally
    let deleted = env
        .services
        .connections
        .delete_connection_if(&read)
        .await
        .unwrap();

    // Then nothing is deleted; the very record is
    assert!(!deleted);
    let current = env.world.store.connections()[0].clone();
    assert_ne!(current.connected_at, read.connected_at);
    assert!(env
        .services
        .connections
        .delete_connection_if(&current)
        .await
        .unwrap());
    assert!(env.world.store.connections().is_empty());
}

#[tokio::test]
async fn the_cleaner_keeps_a_connection_that_is_gone_only_because_its_handshake_is_running() {
    // Given a connection row whose handshake is still running (the gateway answers 410)
    let env = Env::new();
    connect_mid_handshake(&env, "c1", "p1").await;

    // When the cleaner sweeps
    let report = usecase::clean(&env.services).await;

    // Then it is kept; once past the window and still unknown to the gateway, it goes
    assert_eq!((report.gone, report.kept), (0, 1), "{report:?}");
    env.advance_clock(HANDSHAKE_WINDOW_MS);
    let report = usecase::clean(&env.services).await;
    assert_eq!(report.gone, 1, "{report:?}");
    assert!(env.world.store.connections().is_empty());
}

#[tokio::test]
async fn a_gone_sender_is_forgotten_only_past_the_handshake_window() {
    // Given a signed-in connection whose replies the gateway answers 410 Gone
    let env = Env::new();
    env.connect("c1", "p1").await;
    env.world
        .notifier
        .fail_next_post(Some("c1"), idle_app::ports::PostError::Gone);

    // When a message is handled inside the window, the row stays
    handlers::ws_message(
        &env.services,
        ws_message_event("c1", r#"{"action":"ping"}"#),
    )
    .await;
    assert_eq!(env.world.store.connections().len(), 1);

    // When it happens past the window, the row goes
    env.advance_clock(HANDSHAKE_WINDOW_MS);
    env.world
        .notifier
        .fail_next_post(Some("c1"), idle_app::ports::PostError::Gone);
    handlers::ws_message(
        &env.services,
        ws_message_event("c1", r#"{"action":"ping"}"#),
    )
    .await;
    assert!(env.world.store.connections().is_empty());
}

/// A message event with only what the handler uses, read as the function reads its event.
fn ws_message_event(
    connection_id: &str,
    body: &str,
) -> aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest {
    let event: handlers::WsEvent = serde_json::from_value(json!({
        "requestContext": {"connectionId": connection_id},
        "body": body
    }))
    .unwrap();
    event.0
}

// ---- kind 6: a credential checked when the session opens, its lifetime then forgotten -----

async fn connect_with_token_ttl(env: &Env, connection_id: &str, ttl: Duration) {
    env.world.notifier.open(connection_id, env.now());
    let token = mint(DEV_TOKEN_SECRET.as_bytes(), "p1", ttl, false, env.now()).unwrap();
    usecase::connect(&env.services, connection_id, Some(&token))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_message_after_the_token_expires_is_refused_token_expired_and_the_connection_closed() {
    // Given a connection opened with a token that expires 60 s later
    let env = Env::new();
    connect_with_token_ttl(&env, "c1", Duration::from_secs(60)).await;

    // When the client enqueues 5 minutes later
    env.advance_clock(5 * 60 * 1000);
    let body = harvest_message("late", 1).to_string();
    handlers::ws_message(&env.services, ws_message_event("c1", &body)).await;

    // Then it is refused with token_expired (echoing its request id), nothing is queued, and
    // the server closes the connection
    let posts = env.posts("c1");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["code"], "token_expired");
    assert_eq!(posts[0]["request_id"], "late");
    assert!(
        env.world.store.player("p1").is_none(),
        "nothing written: the new player still has no item"
    );
    assert_eq!(env.world.notifier.closed_by_server(), ["c1"]);
}

#[tokio::test]
async fn the_cleaner_removes_a_connection_when_its_token_expires() {
    // Given a live connection whose token expires after 60 s (its lifetime is 2 h)
    let env = Env::new();
    connect_with_token_ttl(&env, "c1", Duration::from_secs(60)).await;
    let row = env.world.store.connections()[0].clone();
    assert_eq!(
        row.expires_at,
        idle_core::model::EpochSecs((T0 + 60_000) / 1000),
        "the TTL is the token's expiry"
    );

    // When the cleaner sweeps before and after the expiry
    env.advance_clock(59_000);
    assert_eq!(usecase::clean(&env.services).await.expired, 0);
    env.advance_clock(1_000);
    let report = usecase::clean(&env.services).await;

    // Then it is removed and closed at the expiry, not after 2 h
    assert_eq!(report.expired, 1, "{report:?}");
    assert!(env.world.store.connections().is_empty());
    assert_eq!(env.world.notifier.closed_by_server(), ["c1"]);
}

// ---- kind 7: entry points demand fields the handler never uses ----------------------------

#[tokio::test]
async fn the_ticker_and_the_cleaner_run_on_a_manual_or_custom_payload() {
    for payload in ["{}", r#"{"reason":"manual"}"#, "null", "[]"] {
        // Given a running task that is due, and a payload as a manual invoke sends it
        let env = Env::new();
        env.connect("c1", "p1").await;
        env.harvest("c1", "r1", 1).await;
        env.advance_clock(3_600_000);

        // When it is read as the functions read their event, and handed to them
        let event: handlers::ScheduleEvent = serde_json::from_str(payload).unwrap();
        let tick = handlers::task_tick(&env.services, event.clone()).await;
        let clean = handlers::connection_clean(&env.services, event).await;

        // Then both did their work
        assert_eq!(tick.tasks_completed, 1, "{payload}: {tick:?}");
        assert_eq!(clean.scanned, 1, "{payload}: {clean:?}");
    }
}

#[tokio::test]
async fn websocket_events_need_only_what_the_handlers_use_and_say_what_is_missing() {
    // Given a connection, and a trimmed event with only the connection id and the body
    let env = Env::new();
    env.connect("c1", "p1").await;
    let event = ws_message_event("c1", r#"{"action":"ping","request_id":"p"}"#);

    // When it is handled, Then it is answered
    let response = handlers::ws_message(&env.services, event).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(env.posts("c1")[0]["type"], "pong");

    // And an event without a request context is refused by name, without a connection id
    // the handler answers 400
    let error = serde_json::from_value::<handlers::WsEvent>(json!({"body": "{}"})).unwrap_err();
    assert!(error.to_string().contains("requestContext"), "{error}");
    let event: handlers::WsEvent = serde_json::from_value(json!({"requestContext": {}})).unwrap();
    assert_eq!(
        handlers::ws_message(&env.services, event.0)
            .await
            .status_code,
        400
    );
}

// ---- kind 12: errors lose the client's correlation; one mistake, one code -----------------

#[tokio::test]
async fn a_quantity_that_is_not_a_whole_number_in_range_is_invalid_quantity_with_the_request_id() {
    let env = Env::new();
    env.connect("c1", "p1").await;
    for quantity in [
        json!(-1),
        json!(0),
        json!(1.5),
        json!(4_294_967_296_u64),
        json!("3"),
    ] {
        env.advance_clock(1_000);
        let body = json!({"action": "enqueue", "request_id": "q",
            "task": {"activity": "combat", "enemy": "chicken", "quantity": quantity}});
        let replies = env.send("c1", &body).await;
        assert_eq!(
            replies[0]["code"], "invalid_quantity",
            "{quantity}: {replies:?}"
        );
        assert_eq!(replies[0]["request_id"], "q", "{quantity}: {replies:?}");
    }
}

#[tokio::test]
async fn every_reply_echoes_the_request_id_of_the_message_it_answers() {
    let env = Env::new();
    env.connect("c1", "p1").await;
    let messages = [
        json!({"action": "ping", "request_id": "a"}),
        json!({"action": "catalog", "request_id": "b"}),
        json!({"action": "sync", "request_id": "c"}),
        json!({"action": "cancel", "request_id": "d", "task_id": "000000000009"}),
        json!({"action": "dance", "request_id": "e"}),
        json!({"action": "cancel", "request_id": "f"}),
        json!({"action": "enqueue", "request_id": "g",
            "task": {"activity": "combat", "enemy": "no_such_enemy", "quantity": 1}}),
    ];
    for message in &messages {
        env.advance_clock(1_000);
        let replies = env.send("c1", message).await;
        assert_eq!(
            replies[0]["request_id"], message["request_id"],
            "{message}: {replies:?}"
        );
    }
    // And on a connection that is not signed in
    let replies = env
        .send("nobody", &json!({"action": "ping", "request_id": "h"}))
        .await;
    assert_eq!(
        (
            replies[0]["code"].as_str(),
            replies[0]["request_id"].as_str()
        ),
        (Some("not_connected"), Some("h"))
    );
}

// ---- kind 16: one kind of mistake, two answers ---------------------------------------------

#[tokio::test]
async fn an_unknown_field_is_refused_in_every_message_naming_the_field() {
    let env = Env::new();
    env.connect("c1", "p1").await;
    let messages = [
        json!({"action": "ping", "x": 1}),
        json!({"action": "sync", "x": 1}),
        json!({"action": "catalog", "x": 1}),
        json!({"action": "cancel", "task_id": "000000000001", "x": 1}),
        json!({"action": "enqueue", "request_id": "r", "x": 1,
            "task": {"activity": "combat", "enemy": "chicken", "quantity": 1}}),
    ];
    for message in &messages {
        env.advance_clock(1_000);
        let replies = env.send("c1", message).await;
        assert_eq!(replies.len(), 1, "{message}: {replies:?}");
        assert_eq!(
            replies[0]["code"], "invalid_request",
            "{message}: {replies:?}"
        );
        let text = replies[0]["message"].as_str().unwrap();
        assert!(text.contains("unknown field `x`"), "{message}: {text}");
    }
}

// ---- kind 17: only some messages cost the sender ------------------------------------------

#[tokio::test]
async fn every_message_spends_the_rate_bucket_refused_ones_too() {
    for spender in [
        json!({"action": "ping"}),
        json!({"action": "sync"}),
        json!({"action": "catalog"}),
        json!({"action": "ping", "x": 1}),
        json!({"action": "dance"}),
        Value::String("not json".into()),
    ] {
        // Given a full bucket (10 tokens, one back per second), on a frozen clock
        let env = Env::new();
        env.connect("c1", "p1").await;
        let capacity = env.services.game.limits.rate_capacity;

        // When the bucket's worth of one kind of message is sent
        for _ in 0..capacity {
            let body = match &spender {
                Value::String(raw) => raw.clone(),
                other => other.to_string(),
            };
            env.send_raw("c1", &body).await;
        }

        // Then the next message of any kind is rate_limited, with a time to retry
        let replies = env
            .send("c1", &json!({"action": "ping", "request_id": "z"}))
            .await;
        assert_eq!(
            replies[0]["code"], "rate_limited",
            "after {spender}: {replies:?}"
        );
        assert_eq!(replies[0]["request_id"], "z");
        assert!(replies[0]["retry_after_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 0));
    }
}

// ---- kind 2: the size of one atomic write unbounded while the store has hard limits -------

/// A config whose queue holds `max_queue` tasks.
fn with_queue(max_queue: usize) -> Env {
    let mut config = common::config();
    config.limits.max_queue = max_queue;
    Env::with(config)
}

/// Enqueues `count` combat tasks, a second apart (the rate bucket refills): a first one long
/// enough (450 s, within its weapon's durability) to hold the others in the queue behind it,
/// then one-action ones.
async fn enqueue_many(env: &Env, count: usize, request_id: impl Fn(usize) -> String) {
    for i in 0..count {
        env.advance_clock(1_000);
        let quantity = if i == 0 { 150 } else { 1 };
        let body = json!({"action": "enqueue", "request_id": request_id(i),
            "task": {"activity": "combat", "enemy": "chicken", "quantity": quantity}});
        let replies = env.send("c1", &body).await;
        assert_eq!(replies[0]["type"], "ack", "task {i}: {replies:?}");
    }
}

#[tokio::test]
async fn a_hundred_and_twenty_due_tasks_complete_in_plans_within_the_stores_limits() {
    // Given 120 queued tasks (MAX_QUEUE 120), none processed yet, all long due
    let env = with_queue(120);
    env.connect("c1", "p1").await;
    enqueue_many(&env, 120, |i| format!("r{i}")).await;
    env.advance_clock(24 * 3_600_000);

    // When the ticker advances the player (the memory store refuses any plan past
    // DynamoDB's 100 items, 4 MB or 400 KB per item, as DynamoDB does)
    let report = idle_app::usecase::tick(&env.services).await;

    // Then every task completed, in capped plans, and nothing failed
    assert_eq!(report.tasks_completed, 120, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    let state = env.world.store.player("p1").unwrap();
    assert!(state.queue.is_empty());
    let performed = env.perform().await;
    assert!(performed.failures.is_empty(), "{performed:?}");
    assert_eq!(env.world.store.task_history("p1").len(), 120);
}

#[tokio::test]
async fn a_full_queue_at_the_largest_max_queue_fits_one_post_and_one_item() {
    // Given the largest queue the configuration accepts, each task with the longest request id
    let max = idle_app::config::MAX_QUEUE.max as usize;
    let env = with_queue(max);
    env.connect("c1", "p1").await;
    enqueue_many(&env, max, |i| format!("{i:0>64}")).await;
    env.perform().await;

    // Then the last queue_updated, which lists all of them, fits one @connections post (the
    // memory notifier refuses a larger one), and the player's item fits DynamoDB's 400 KB
    let posts = env.world.notifier.posts("c1");
    let listing = posts
        .iter()
        .rfind(|p| p.contains("\"queue_updated\""))
        .unwrap();
    let listed: Value = serde_json::from_str(listing).unwrap();
    assert_eq!(listed["queue"].as_array().unwrap().len(), max);
    assert!(
        listing.len() <= idle_app::ports::limits::POST_BYTES,
        "{} bytes",
        listing.len()
    );
    let state = env.world.store.player("p1").unwrap();
    let outbox = env.world.store.last_outboxes();
    let item = serde_json::to_vec(&state.player).unwrap().len()
        + serde_json::to_vec(&state.queue).unwrap().len()
        + serde_json::to_vec(&outbox[0].outbox).unwrap().len();
    assert!(item <= idle_app::ports::limits::ITEM_BYTES, "{item} bytes");
}

#[tokio::test]
async fn the_memory_store_refuses_a_player_item_past_dynamodbs_item_limit() {
    use idle_app::outbox::Commit;
    use idle_app::ports::{GameStore, StoreError};

    // Given a player, and a write whose outbox carries 2,000 history records (over 400 KB)
    let env = Env::new();
    env.connect("c1", "p1").await;
    env.harvest("c1", "r1", 1).await;
    let state = env.world.store.player("p1").unwrap();
    let plan = idle_core::advance(
        &env.services.game,
        &state.player,
        &state.queue,
        env.now() + 3_600_000,
    );
    let mut commit = Commit::of(&state, &plan).unwrap();
    let task = commit.outbox.history[0].clone();
    commit.outbox.history = vec![task; 2_000];

    // When it is committed, Then it is refused as DynamoDB would, and nothing is written
    let refused = env.world.store.commit(&commit).await;
    assert!(
        matches!(&refused, Err(StoreError::Permanent(m)) if m.contains("at most 409600")),
        "{refused:?}"
    );
    assert_eq!(env.world.store.player("p1").unwrap(), state);
}
