//! The message routes through the `message` use case.

mod common;

use common::{config, harvest_message, Env};
use idle_app::memory::{Fault, StoreOp};
use idle_app::ports::StoreError;
use idle_app::usecase::{connect, ConnectError};
use idle_core::model::TaskStatus;
use serde_json::json;

#[tokio::test]
async fn connect_stores_the_connection_and_the_first_write_creates_the_player() {
    let env = Env::new();
    let token = env.token("gina", false);
    // A new player's connect writes no player: its first write will.
    let first = connect(&env.services, "c1", Some(&token)).await.unwrap();
    assert!(first.created);
    assert_eq!(env.world.store.player("gina"), None);
    let commits = env.world.faults.commits();
    let again = connect(&env.services, "c2", Some(&token)).await.unwrap();
    assert!(again.created, "still no item");
    assert_eq!(env.world.faults.commits(), commits, "no write");

    // The first message is the player's first write: the starter kit, version 1.
    env.advance_clock(5_000);
    let pong = env.send("c1", &json!({"action": "ping"})).await;
    assert_eq!(pong[0]["type"], "pong", "{pong:?}");
    let player = env.world.store.player("gina").unwrap().player;
    assert_eq!(player.version, 1);
    assert_eq!(player.created_at, env.now());
    assert_eq!(
        player.inventory,
        idle_core::model::Player::new("gina", 0, env.services.game.catalog, 10).inventory
    );

    // A returning player's connect records the activity (one write).
    env.advance_clock(5_000);
    let third = connect(&env.services, "c3", Some(&token)).await.unwrap();
    assert!(!third.created);
    assert_eq!(env.world.store.player("gina").unwrap().player.version, 2);
    let connections = env.world.store.connections();
    assert_eq!(connections.len(), 3);
    assert!(connections
        .iter()
        .all(|c| c.player_id == "gina" && !c.is_admin));
    assert_eq!(
        connections[0].expires_at,
        idle_core::model::EpochSecs((common::T0 + 2 * 3600 * 1000) / 1000)
    );
}

#[tokio::test]
async fn a_new_players_first_write_retries_after_a_conflict_and_creates_it_once() {
    // Given a new player whose first write meets a conflict (another first write won)
    let env = Env::new();
    env.connect("c1", "kim").await;
    env.world
        .faults
        .fail_next(StoreOp::Commit, StoreError::Conflict("injected".into()));
    let ack = env.harvest("c1", "r1", 1).await;
    // Then it reads again and writes once more, as for any conflict
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(env.world.faults.calls(StoreOp::Commit), 2);
    let state = env.world.store.player("kim").unwrap();
    assert_eq!(state.player.version, 1);
    assert_eq!(state.queue.len(), 1);
}

/// The token secret a deployment is moving away from (test-only).
const OLD_TOKEN_SECRET: &str = "old-token-secret-old-token-secret-old-token";

#[tokio::test]
async fn during_a_token_secret_rotation_old_tokens_connect_until_the_previous_secret_is_removed() {
    use idle_app::auth::{mint, AuthError, DEV_TOKEN_SECRET};
    use idle_app::{AppConfig, Secret};
    use std::time::Duration;

    // Given a deployment whose new TOKEN_SECRET is the dev one and whose previous is the old one
    let rotating = AppConfig {
        previous_token_secret: Some(Secret::new(OLD_TOKEN_SECRET).unwrap()),
        ..config()
    };
    let env = Env::with(rotating);
    let day = Duration::from_secs(24 * 3600);
    let old = mint(OLD_TOKEN_SECRET.as_bytes(), "olga", day, false, env.now()).unwrap();
    let new = mint(DEV_TOKEN_SECRET.as_bytes(), "nina", day, false, env.now()).unwrap();
    let stranger_secret = "stranger-secret-stranger-secret-stranger";
    let stranger = mint(stranger_secret.as_bytes(), "sam", day, false, env.now()).unwrap();
    // Then a token of either secret connects, and one of neither is refused (403)
    assert_eq!(
        connect(&env.services, "c-old", Some(&old))
            .await
            .unwrap()
            .player_id,
        "olga"
    );
    assert_eq!(
        connect(&env.services, "c-new", Some(&new))
            .await
            .unwrap()
            .player_id,
        "nina"
    );
    let err = connect(&env.services, "c-x", Some(&stranger))
        .await
        .unwrap_err();
    assert_eq!(err, ConnectError::Forbidden(AuthError::BadSignature));
    assert_eq!(err.status_code(), 403);

    // When the previous secret is removed (the rotation is over)
    let after = Env::with(config());
    // Then the old token is refused, the new one still connects
    let err = connect(&after.services, "c-old", Some(&old))
        .await
        .unwrap_err();
    assert_eq!(err, ConnectError::Forbidden(AuthError::BadSignature));
    assert!(connect(&after.services, "c-new", Some(&new)).await.is_ok());
    assert!(
        after.world.store.player_ids().is_empty(),
        "a connect writes no new player"
    );
}

#[tokio::test]
async fn connect_refuses_missing_and_bad_tokens() {
    let env = Env::new();
    assert_eq!(
        connect(&env.services, "c1", None).await,
        Err(ConnectError::Unauthorized)
    );
    assert_eq!(
        connect(&env.services, "c1", Some(""))
            .await
            .unwrap_err()
            .status_code(),
        401
    );
    let err = connect(&env.services, "c1", Some("not.a.jwt"))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 403);
    let expired = env.token("gina", false);
    env.advance_clock(25 * 3600 * 1000);
    let err = connect(&env.services, "c1", Some(&expired))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 403);
    assert!(env.world.store.connections().is_empty());
    assert!(env.world.store.player_ids().is_empty());
}

#[tokio::test]
async fn enqueue_acks_and_a_repeated_request_id_is_the_same_task_with_no_write() {
    let env = Env::new();
    env.connect("c1", "hal").await;
    let ack = env.harvest("c1", "req-1", 2).await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["duplicate"], false);
    assert_eq!(ack["request_id"], "req-1");
    let commits = env.world.faults.commits();
    let again = env.harvest("c1", "req-1", 2).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["task_id"], ack["task_id"]);
    assert_eq!(
        env.world.faults.commits(),
        commits,
        "a duplicate writes nothing"
    );
    assert_eq!(env.world.store.player("hal").unwrap().queue.len(), 1);
    assert_eq!(
        env.world.store.take_outboxes().len(),
        1,
        "one outbox: the duplicate announces nothing"
    );
}

#[tokio::test]
async fn a_conflict_on_commit_is_retried_with_a_fresh_read() {
    let env = Env::new();
    env.connect("c1", "ivy").await;
    env.world
        .faults
        .fail_next(StoreOp::Commit, StoreError::Conflict("injected".into()));
    let loads = env.world.faults.calls(StoreOp::LoadPlayers);
    let ack = env.harvest("c1", "r1", 1).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(env.world.faults.calls(StoreOp::Commit), 2);
    assert_eq!(env.world.faults.calls(StoreOp::LoadPlayers), loads + 2);
    assert_eq!(env.world.store.player("ivy").unwrap().queue.len(), 1);
}

#[tokio::test]
async fn endless_conflicts_end_in_an_unavailable_error_and_no_write() {
    let env = Env::new();
    env.connect("c1", "jay").await;
    env.world.faults.inject(Fault::always(
        StoreOp::Commit,
        StoreError::Conflict("injected".into()),
    ));
    let reply = env.harvest("c1", "r1", 1).await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "unavailable");
    assert_eq!(reply["request_id"], "r1");
    assert!(reply["retry_after_ms"].as_u64().is_some());
    assert_eq!(env.world.faults.calls(StoreOp::Commit), 4);
    assert_eq!(env.world.store.player("jay"), None, "no write");
}

#[tokio::test]
async fn a_player_cannot_cancel_another_players_task() {
    // Given two players, B with a running task
    let env = Env::new();
    env.connect("ca", "amy").await;
    env.connect("cb", "ben").await;
    let ack = env.harvest("cb", "r1", 1).await;
    let task_id = ack["task_id"].as_str().unwrap();

    // When A cancels B's task id (the connection decides the player, not the message)
    let replies = env
        .send("ca", &json!({"action": "cancel", "task_id": task_id}))
        .await;

    // Then A is told there is no such task, and B's task is untouched
    assert_eq!(replies[0]["code"], "not_found");
    let ben = env.world.store.player("ben").unwrap();
    assert_eq!(ben.queue[0].status, TaskStatus::Running);

    // And B can cancel it
    let replies = env
        .send("cb", &json!({"action": "cancel", "task_id": task_id}))
        .await;
    assert_eq!(replies[0]["type"], "ack");
    assert!(env.world.store.player("ben").unwrap().queue.is_empty());
    env.perform().await;
    let history = env.world.store.task_history("ben");
    assert_eq!(history[0].status, TaskStatus::Cancelled);
}

#[tokio::test]
async fn a_message_cannot_name_its_player() {
    let env = Env::new();
    env.connect("ca", "amy").await;
    let mut body = harvest_message("r1", 1);
    body["player_id"] = json!("ben");
    let replies = env.send("ca", &body).await;
    assert_eq!(replies[0]["code"], "invalid_request", "{replies:?}");
}

#[tokio::test]
async fn a_full_queue_and_an_empty_rate_bucket_have_their_codes() {
    let mut cfg = config();
    cfg.limits.max_queue = 2;
    let env = Env::with(cfg);
    env.connect("c1", "kim").await;
    env.harvest("c1", "r1", 1).await;
    env.harvest("c1", "r2", 1).await;
    let full = env.harvest("c1", "r3", 1).await;
    assert_eq!(full["code"], "queue_full");

    let mut cfg = config();
    cfg.limits.max_queue = 100;
    let env = Env::with(cfg);
    env.connect("c1", "lea").await;
    let capacity = env.services.game.limits.rate_capacity;
    for i in 0..capacity {
        assert_eq!(env.harvest("c1", &format!("r{i}"), 1).await["type"], "ack");
    }
    let limited = env.harvest("c1", "one-more", 1).await;
    assert_eq!(limited["code"], "rate_limited");
    assert!(limited["retry_after_ms"].as_u64().unwrap() > 0);
    env.advance_clock(limited["retry_after_ms"].as_i64().unwrap());
    assert_eq!(env.harvest("c1", "one-more", 1).await["type"], "ack");
}

#[tokio::test]
async fn unknown_actions_oversize_bodies_and_bad_json_get_error_codes() {
    let env = Env::new();
    env.connect("c1", "max").await;
    let unknown = env.send("c1", &json!({"action": "teleport"})).await;
    assert_eq!(unknown[0]["code"], "unknown_action");
    let big = format!(r#"{{"action":"ping","pad":"{}"}}"#, "x".repeat(9000));
    let oversize = env.send_raw("c1", &big).await;
    assert_eq!(oversize[0]["code"], "message_too_large");
    let bad = env.send_raw("c1", "{not json").await;
    assert_eq!(bad[0]["code"], "invalid_request");
    let empty = env.send_raw("c1", "").await;
    assert_eq!(empty[0]["code"], "invalid_request");
    let quantity = env.harvest("c1", "r1", 0).await;
    assert_eq!(quantity["code"], "invalid_quantity");
}

#[tokio::test]
async fn an_unknown_connection_is_not_connected() {
    // `not_connected` (no signed-in connection), not `forbidden` (an admin-only option):
    // one meaning per code (DESIGN.md section 6).
    let env = Env::new();
    let replies = env.send("nobody", &json!({"action": "ping"})).await;
    assert_eq!(replies[0]["type"], "error");
    assert_eq!(replies[0]["code"], "not_connected");
    let replies = env.send("nobody", &harvest_message("r1", 1)).await;
    assert_eq!(replies[0]["code"], "not_connected");
}

#[tokio::test]
async fn ping_and_catalog_answer_and_the_snapshot_names_the_catalog() {
    let env = Env::new();
    env.connect("c1", "ned").await;
    let pong = env.send("c1", &json!({"action": "ping"})).await;
    assert_eq!(pong[0]["type"], "pong");
    assert_eq!(pong[0]["at"], common::T0);
    let catalog = env.send("c1", &json!({"action": "catalog"})).await;
    assert_eq!(catalog[0]["type"], "catalog");
    assert!(catalog[0]["catalog"]["resources"]["copper_ore"].is_object());
    assert_eq!(
        catalog[0]["catalog_hash"],
        idle_core::catalog::Catalog::shipped().content_hash()
    );
    assert!(catalog[0]["catalog"].get("$schema").is_none());
    // sync's snapshot names the same catalog, so a reconnecting client knows whether its cached
    // catalog is current.
    let snapshot = env.send("c1", &json!({"action": "sync"})).await;
    assert_eq!(snapshot[0]["type"], "snapshot");
    assert_eq!(snapshot[0]["catalog_hash"], catalog[0]["catalog_hash"]);
}

#[tokio::test]
async fn bypass_validation_is_for_admins_only() {
    let env = Env::new();
    env.connect("c1", "oli").await;
    env.connect_as("c2", "root", true).await;
    let mut body = harvest_message("r1", 1);
    body["bypass_validation"] = json!(true);
    let refused = env.send("c1", &body).await;
    assert_eq!(refused[0]["code"], "forbidden");
    assert_eq!(env.world.store.player("oli"), None, "no write");
    let accepted = env.send("c2", &body).await;
    assert_eq!(accepted[0]["type"], "ack");
    assert!(env.world.store.player("root").unwrap().queue[0].bypass_validation);
}

#[tokio::test]
async fn cancelling_a_running_task_settles_it() {
    let env = Env::new();
    env.connect("c1", "pat").await;
    let ack = env.harvest("c1", "r1", 10).await;
    let task_id = ack["task_id"].as_str().unwrap().to_owned();
    env.advance_clock(1000);
    let replies = env
        .send("c1", &json!({"action": "cancel", "task_id": task_id}))
        .await;
    assert_eq!(replies[0]["type"], "ack");
    env.perform().await;
    let posts = env.posts("c1");
    assert!(common::types(&posts).contains(&"task_cancelled".to_owned()));
    assert_eq!(
        env.world.store.task_history("pat")[0].status,
        TaskStatus::Cancelled
    );
}
