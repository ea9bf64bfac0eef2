//! Shared set-up for the integration tests: an in-memory world, a config with the dev secrets,
//! and shortcuts for connecting and sending messages.

#![allow(dead_code)]

use std::time::Duration;

use idle_app::auth::DEV_TOKEN_SECRET;
use idle_app::memory::MemoryWorld;
use idle_app::outbox::OutboxRecord;
use idle_app::usecase::{self, BatchReport};
use idle_app::{AppConfig, Secret, Services};
use idle_core::model::Millis;
use idle_testing::{tokens, world};
use serde_json::Value;

pub use idle_testing::world::harvest_message;

/// 2027-01-15T08:00:00Z.
pub const T0: Millis = 1_800_000_000_000;
/// Test-only seed secret.
pub const SEED_SECRET: &str = "test-seed-secret-test-seed-secret-test";

pub fn config() -> AppConfig {
    AppConfig {
        token_secret: Some(Secret::new(DEV_TOKEN_SECRET).unwrap()),
        seed_secret: Some(Secret::new(SEED_SECRET).unwrap()),
        ..AppConfig::default()
    }
}

pub struct Env {
    pub world: MemoryWorld,
    pub services: Services,
}

impl Env {
    pub fn new() -> Env {
        Env::with(config())
    }

    pub fn with(config: AppConfig) -> Env {
        let world = MemoryWorld::new(T0, config.wake_shards);
        let services = world.services(config);
        Env { world, services }
    }

    pub fn now(&self) -> Millis {
        use idle_app::ports::Clock;
        self.world.clock.now()
    }

    pub fn token(&self, player_id: &str, admin: bool) -> String {
        let ttl = Duration::from_secs(24 * 3600);
        match admin {
            true => tokens::dev_admin_token(player_id, ttl, self.now()),
            false => tokens::dev_token(player_id, ttl, self.now()),
        }
    }

    /// Opens a gateway connection and runs `$connect` for the player.
    pub async fn connect(&self, connection_id: &str, player_id: &str) {
        self.connect_as(connection_id, player_id, false).await;
    }

    pub async fn connect_as(&self, connection_id: &str, player_id: &str, admin: bool) {
        let token = self.token(player_id, admin);
        world::connect(&self.world, &self.services, connection_id, &token).await;
    }

    /// Sends a message and parses the replies.
    pub async fn send(&self, connection_id: &str, body: &Value) -> Vec<Value> {
        self.send_raw(connection_id, &body.to_string()).await
    }

    pub async fn send_raw(&self, connection_id: &str, body: &str) -> Vec<Value> {
        usecase::message(&self.services, connection_id, body)
            .await
            .replies
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect()
    }

    /// Enqueues `quantity` copper ore at the meadow; returns the single reply.
    pub async fn harvest(&self, connection_id: &str, request_id: &str, quantity: u32) -> Value {
        let replies = self
            .send(connection_id, &harvest_message(request_id, quantity))
            .await;
        assert_eq!(replies.len(), 1, "{replies:?}");
        replies.into_iter().next().unwrap()
    }

    /// What the gateway received on a connection since the last call, parsed.
    pub fn posts(&self, connection_id: &str) -> Vec<Value> {
        self.world
            .notifier
            .take_posts(connection_id)
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect()
    }

    /// Performs the committed outboxes (the Players stream's work): posts, kept notifications,
    /// history records, wake-ups.
    pub async fn perform(&self) -> BatchReport {
        self.world.perform(&self.services).await
    }

    /// Performs outboxes and fires due wake-ups until nothing is left (the stream and the timer
    /// between two steps of a test).
    pub async fn settle(&self) {
        self.world.settle(&self.services).await
    }

    /// The player as stored, or, for a player with no item yet (a connect writes none), the
    /// starter state its first write would create.
    pub fn stored_or_new(&self, player_id: &str) -> idle_app::state::PlayerState {
        self.world.store.player(player_id).unwrap_or_else(|| {
            idle_app::state::PlayerState::starter(player_id, self.now(), &self.services.game)
        })
    }

    pub fn advance_clock(&self, ms: Millis) -> Millis {
        self.world.clock.advance(ms)
    }

    pub fn set_clock(&self, at: Millis) {
        self.world.clock.set(at)
    }
}

/// The `type` of each message.
pub fn types(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// A dev token for `player_id`, valid for an hour from `T0`.
pub fn token(player_id: &str) -> String {
    tokens::dev_token(player_id, Duration::from_secs(3600), T0)
}

/// A Players stream event with one record per (player, version, outbox JSON), sequence numbers
/// 1, 2, … in order, built by the one stream-event builder ([`idle_app::memory::stream_event`]).
pub fn stream_event(records: &[(&str, u64, Value)]) -> Value {
    let records: Vec<OutboxRecord> = records
        .iter()
        .enumerate()
        .map(|(i, (player, version, outbox))| OutboxRecord {
            player_id: (*player).to_owned(),
            version: *version,
            sequence_number: (i + 1).to_string(),
            outbox: serde_json::from_value(outbox.clone()).unwrap(),
            connections: Vec::new(),
        })
        .collect();
    idle_app::memory::stream_event(&records)
}

pub fn schedule_event() -> Value {
    serde_json::from_str(include_str!("../../../../events/task-ticker-schedule.json")).unwrap()
}
