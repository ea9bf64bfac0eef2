//! The audit trail in the log format the functions are deployed with: `template.yaml` sets
//! `LogFormat: JSON`, so Lambda runs them with `AWS_LAMBDA_LOG_FORMAT=JSON`, and
//! `idle_lambdas::init_logging` (what `bootstrap` calls) builds `lambda_runtime`'s default
//! subscriber from it. That format leaves out an event's target, so the audit records must carry
//! their own marker (`"fields":{"audit":true,…}`) to be found.
//!
//! Alone in its binary: it installs the process's global subscriber and sets the environment
//! that subscriber reads, before any other thread runs.

use idle_testing::logs::Captured;
use idle_testing::{tokens, world};
use std::time::Duration;

use idle_app::auth::DEV_TOKEN_SECRET;
use idle_app::memory::MemoryWorld;
use idle_app::{usecase, AppConfig, Secret, Services};
use serde_json::{json, Value};

/// 2027-01-15T08:00:00Z.
const T0: i64 = 1_800_000_000_000;
const SEED_SECRET: &str = "test-seed-secret-test-seed-secret-test";

async fn connect(world: &MemoryWorld, services: &Services, connection_id: &str, admin: bool) {
    let player_id = if admin { "root" } else { "oli" };
    let ttl = Duration::from_secs(3600);
    let token = match admin {
        true => tokens::dev_admin_token(player_id, ttl, T0),
        false => tokens::dev_token(player_id, ttl, T0),
    };
    world::connect(world, services, connection_id, &token).await;
}

#[test]
fn a_bypass_attempt_is_an_audit_record_in_the_functions_json_logs() {
    // Given the functions' logging as deployed: the template's LogFormat JSON and its default
    // LogLevel INFO, which Lambda passes as these two variables
    std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "JSON");
    std::env::set_var("AWS_LAMBDA_LOG_LEVEL", "INFO");
    std::env::remove_var("RUST_LOG");
    let captured = Captured::default();
    let writer = captured.clone();
    idle_lambdas::init_logging(move || writer.clone());

    let world = MemoryWorld::new(T0, 8);
    let services = world.services(AppConfig {
        token_secret: Some(Secret::new(DEV_TOKEN_SECRET).unwrap()),
        seed_secret: Some(Secret::new(SEED_SECRET).unwrap()),
        ..AppConfig::default()
    });
    let body = json!({"action": "enqueue", "request_id": "r1", "bypass_validation": true,
        "task": {"activity": "combat", "enemy": "dragon", "quantity": 1}})
    .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        connect(&world, &services, "c1", false).await;
        connect(&world, &services, "c2", true).await;
        // When a player asks to bypass validation (refused), then an admin does (honoured)
        let refused = usecase::message(&services, "c1", &body).await;
        let refused = serde_json::to_value(&refused.replies[0]).unwrap();
        assert_eq!(refused["code"], "forbidden", "{refused}");
        let accepted = usecase::message(&services, "c2", &body).await;
        let accepted = serde_json::to_value(&accepted.replies[0]).unwrap();
        assert_eq!(accepted["type"], "ack", "{accepted}");
    });

    // Then each attempt is one JSON line marked as an audit record, saying who asked
    let lines = captured.lines();
    let audit: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["audit"] == json!(true))
        .collect();
    assert_eq!(audit.len(), 2, "audit records in {lines:#?}");
    for (record, (player_id, is_admin)) in audit.iter().zip([("oli", false), ("root", true)]) {
        let fields = &record["fields"];
        assert_eq!(fields["player_id"], player_id, "{record}");
        assert_eq!(fields["is_admin"], is_admin, "{record}");
        assert_eq!(fields["target_id"], "dragon", "{record}");
        assert_eq!(fields["request_id"], "r1", "{record}");
        assert_eq!(record["level"], "WARN", "{record}");
    }
}
