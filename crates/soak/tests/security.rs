//! Security tests the app's own suites do not already cover (see docs/reliability.md for the
//! ones they do): `$connect` through its handler refuses every kind of bad token and stores
//! nothing, and `bypass_validation` is audited in the log whether it is honoured or refused.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::query_map::QueryMap;
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_app::handlers;
use idle_app::memory::MemoryWorld;
use idle_app::Services;
use idle_soak::driver::{soak_app_config, START, WAKE_SHARDS};
use idle_testing::tokens::{b64url, signed};
use serde_json::{json, Value};
use tracing::field::{Field, Visit};
use tracing::{span, Event, Metadata};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn env() -> (MemoryWorld, Services) {
    let world = MemoryWorld::new(START, WAKE_SHARDS);
    let services = world.services(soak_app_config());
    (world, services)
}

fn ws(connection_id: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut event = ApiGatewayWebsocketProxyRequest::default();
    event.request_context.connection_id = Some(connection_id.to_owned());
    event
}

async fn connect(
    world: &MemoryWorld,
    services: &Services,
    connection_id: &str,
    token: &str,
) -> i64 {
    world.notifier.open(connection_id, START);
    let mut event = ws(connection_id);
    event.query_string_parameters =
        serde_json::from_value::<QueryMap>(json!({ "token": token })).unwrap();
    handlers::ws_connect(services, event).await.status_code
}

async fn send(
    world: &MemoryWorld,
    services: &Services,
    connection_id: &str,
    body: &Value,
) -> Value {
    let mut event = ws(connection_id);
    event.body = Some(body.to_string());
    handlers::ws_message(services, event).await;
    let posts = world.notifier.take_posts(connection_id);
    posts
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .find(|v| v.get("seq").is_none())
        .expect("a reply")
}

#[test]
fn connect_refuses_forged_wrong_algorithm_expired_and_subjectless_tokens_and_stores_nothing() {
    let rt = runtime();
    let (world, services) = env();
    let secret = DEV_TOKEN_SECRET.as_bytes();
    let exp = START / 1000 + 3600;
    let claims = format!(r#"{{"sub":"mallory","exp":{exp}}}"#);
    let forged = mint(
        b"someone-elses-secret-someone-elses-secret",
        "mallory",
        Duration::from_secs(3600),
        true,
        START,
    )
    .unwrap();
    let expired = mint(
        secret,
        "mallory",
        Duration::from_secs(60),
        false,
        START - 120_000,
    )
    .unwrap();
    let valid = mint(secret, "mallory", Duration::from_secs(3600), false, START).unwrap();
    let (head, rest) = valid.split_once('.').unwrap();
    let tampered_claims = format!(
        "{head}.{}.{}",
        b64url(br#"{"sub":"admin","exp":4102444800,"role":"admin"}"#),
        rest.split_once('.').unwrap().1
    );
    let cases = [
        ("signed with another secret", forged),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64url(br#"{"alg":"none","typ":"JWT"}"#),
                b64url(claims.as_bytes())
            ),
        ),
        (
            "alg HS512",
            signed(r#"{"alg":"HS512","typ":"JWT"}"#, &claims, secret),
        ),
        (
            "alg RS256",
            signed(r#"{"alg":"RS256","typ":"JWT"}"#, &claims, secret),
        ),
        ("expired", expired),
        (
            "no sub",
            signed(
                r#"{"alg":"HS256","typ":"JWT"}"#,
                &format!(r#"{{"exp":{exp}}}"#),
                secret,
            ),
        ),
        ("claims swapped under a valid signature", tampered_claims),
    ];
    for (i, (what, token)) in cases.iter().enumerate() {
        // Given a bad token; When $connect runs; Then 403 and nothing is stored
        let status = rt.block_on(connect(&world, &services, &format!("c{i}"), token));
        assert_eq!(status, 403, "{what}");
    }
    assert!(world.store.player_ids().is_empty());
    assert!(world.store.connections().is_empty());
    // And without any token: 401
    let mut event = ws("c-none");
    event.query_string_parameters = QueryMap::default();
    assert_eq!(
        rt.block_on(handlers::ws_connect(&services, event))
            .status_code,
        401
    );
}

/// Captures log events as (target, "field=value …").
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(String, String)>>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = String::new();
        event.record(&mut Fields(&mut fields));
        self.0
            .lock()
            .unwrap()
            .push((event.metadata().target().to_owned(), fields));
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

#[test]
fn bypass_validation_is_refused_for_players_honoured_for_admins_and_audited_both_times() {
    let rt = runtime();
    let (world, services) = env();
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let secret = DEV_TOKEN_SECRET.as_bytes();
    let player = mint(secret, "oli", Duration::from_secs(3600), false, START).unwrap();
    let admin = mint(secret, "root", Duration::from_secs(3600), true, START).unwrap();
    let body = json!({"action": "enqueue", "request_id": "r1", "bypass_validation": true,
        "task": {"activity": "combat", "enemy": "dragon", "quantity": 1}});
    rt.block_on(async {
        assert_eq!(connect(&world, &services, "c1", &player).await, 200);
        assert_eq!(connect(&world, &services, "c2", &admin).await, 200);

        // When a player asks to bypass validation: forbidden, nothing queued
        let refused = send(&world, &services, "c1", &body).await;
        assert_eq!(refused["code"], "forbidden", "{refused}");
        assert!(
            world.store.player("oli").is_none(),
            "nothing written: the new player still has no item"
        );

        // When an admin does: accepted, queued with the flag
        let accepted = send(&world, &services, "c2", &body).await;
        assert_eq!(accepted["type"], "ack", "{accepted}");
        assert!(world.store.player("root").unwrap().queue[0].bypass_validation);
    });

    // Then both attempts are in the audit log, with who asked and whether they were admin
    let audit: Vec<String> = capture
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(target, _)| target == "audit")
        .map(|(_, fields)| fields.clone())
        .collect();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(
        audit[0].contains("player_id=\"oli\"") && audit[0].contains("is_admin=false"),
        "{audit:?}"
    );
    assert!(
        audit[1].contains("player_id=\"root\"") && audit[1].contains("is_admin=true"),
        "{audit:?}"
    );
    assert!(audit.iter().all(|a| a.contains("target_id=\"dragon\"")));
}
