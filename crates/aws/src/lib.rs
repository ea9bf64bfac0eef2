//! The AWS adapters of the idle-game backend's ports: DynamoDB for
//! [`GameStore`](idle_app::ports::GameStore), [`ConnectionStore`](idle_app::ports::ConnectionStore)
//! and [`Inbox`](idle_app::ports::Inbox) ([`DynamoStore`]), and API Gateway's `@connections`
//! API for [`Notifier`](idle_app::ports::Notifier) ([`ApiGatewayNotifier`]), and SQS for
//! [`Waker`](idle_app::ports::Waker) ([`SqsWaker`]).
//!
//! A Lambda main builds them once, from the SDK settings of the variables Lambda sets
//! ([`lambda_sdk_config`]: environment region and credentials, one shared HTTPS client trusting
//! Amazon's roots; tools on an operator's machine use [`sdk_config`], the whole discovery chain):
//!
//! ```no_run
//! # async fn main_() -> Result<(), Box<dyn std::error::Error>> {
//! let config = idle_aws::lambda_sdk_config().await?;
//! let store = idle_aws::DynamoStore::new(
//!     idle_aws::dynamodb_client(&config),
//!     idle_aws::Tables::from_env()?,
//!     8, // WAKE_SHARDS
//! );
//! let notifier = idle_aws::ApiGatewayNotifier::new(&config, "https://example.invalid/prod");
//! # let _ = (store, notifier); Ok(()) }
//! ```
//!
//! # Item layout
//!
//! - **Players** (key `player_id`): `player_id` (S) and `version` (N) plain; `state` (B): the
//!   [`Player`](idle_core::model::Player), its queue
//!   ([`PlayerState::queue`](idle_app::state::PlayerState)) and the write's
//!   [`Outbox`](idle_app::outbox::Outbox) as one deflated JSON document behind a format byte
//!   ([`idle_app::packed`]); `outbox` (N, 1), only when that outbox is not empty: the marker the
//!   Players stream's filter passes; and, only while the player has a wake time, `wake_shard`
//!   (N, [`wake_shard`](idle_app::ports::wake_shard)`(player_id, WAKE_SHARDS)`) and
//!   `wake_bucket` (N, ms: the wake time rounded up to `WAKE_BUCKET_SECS`, [`wake_bucket`]):
//!   the keys of the sparse `wake` index (KEYS_ONLY). A player without a wake-up carries
//!   neither, not even as NULL, so the index holds only players that need waking, and a wake
//!   time moving within its bucket writes no index entry. Every change of a player is one
//!   conditional `UpdateItem` of this item on `version` (naming every attribute but
//!   `connections`, the string set of the player's open connection ids, which only the
//!   connection store changes, by `ADD`/`DELETE`); the table's stream (`NEW_IMAGE`,
//!   filtered to images with the `outbox` marker) drives the task processor, which unpacks
//!   and performs the outbox. Why one packed attribute: docs/architecture.md, "The Players
//!   item".
//! - **Tasks** (the history of finished tasks; keys `player_id`, `task_id`): each
//!   [`Task`](idle_core::model::Task) through `serde_dynamo`, put if absent by the processor
//!   from an outbox, with `expires_at` (N, seconds) as the TTL attribute.
//! - **Connections** (key `connection_id`, no index: a player's ids are listed on its Players item as the `connections` string set): the
//!   [`Connection`](idle_app::ports::Connection) through `serde_dynamo`; `expires_at` (N,
//!   seconds) is the TTL attribute.
//! - **Catalogs** (key `catalog_hash`; [`DynamoCatalogs`], the
//!   [`CatalogStore`](idle_app::ports::CatalogStore)): `catalog` (S, the catalog's canonical
//!   JSON) and `version` (N, its label), put if absent by each function that computes outcomes
//!   at its cold start, read when a task recorded a hash the process does not hold.
//! - **Notifications** (keys `player_id`, `seq` (N)): `body` (S: the
//!   [`Notification`](idle_core::protocol::Notification) as the JSON the client is sent) and
//!   `expires_at` (N, seconds; the TTL attribute).
//!
//! # Semantics
//!
//! The in-memory adapters behave the same; each trait method's documentation on
//! [`DynamoStore`] says how it maps onto DynamoDB. Errors: a failed condition is
//! [`StoreError::Conflict`](idle_app::ports::StoreError); throttling,
//! `InternalServerError`, 5xx, timeouts and connection failures are `Transient`; anything else
//! (validation, permissions, a missing table, a corrupt item, a bad cursor) is `Permanent`.
//! A corrupt item names its table and key and never panics.
//!
//! # Timeouts and retries of every outbound call
//!
//! Without them, a peer that accepts the connection and never answers (a stuck load balancer,
//! a half-open connection) holds a call for as long as the Lambda lives: the SDK's only default
//! is a 3.1 s *connect* timeout. So every client this crate builds ([`dynamodb_client`],
//! [`ApiGatewayNotifier`], [`sqs_client`], the streams reader) sets the SDK's own
//! [`TimeoutConfig`](aws_config::timeout::TimeoutConfig) and retry config, whatever
//! [`SdkConfig`](aws_config::SdkConfig) it is built from (the Lambdas', the local runtime's,
//! the balance tool's, a test's):
//!
//! | setting | value | why |
//! | --- | --- | --- |
//! | connect | [`CONNECT_TIMEOUT`] 1 s | a connect inside a region takes milliseconds; a lost SYN is better retried on a fresh attempt than waited for |
//! | attempt | [`ATTEMPT_TIMEOUT`] 2 s | one request and its whole response; DynamoDB and `@connections` answer in milliseconds, so an attempt this slow is hung |
//! | operation | [`OPERATION_TIMEOUT`] 5 s | every attempt and backoff together: half the shortest function timeout (10 s, `Globals` in `template.yaml`), so a function whose store hangs still answers (`unavailable`, a batch item failure) before Lambda kills it |
//! | stalled streams | off ([`stalled_stream_protection`]) | the SDK's check fails a body idle for 5 s; the attempt timeout ends every call first |
//!
//! A call that runs out of time fails with the SDK's timeout error, which the adapters map to
//! `StoreError::Transient` / `PostError::Transient`. Retries are the SDK's standard mode with its
//! default of 3 attempts (the SDK's own `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE` still apply) and
//! backoff capped at [`MAX_BACKOFF`]; the operation timeout bounds them all. The values are
//! constants, not settings: a test checks them against every function's `Timeout` in
//! `template.yaml`.
//!
//! # Cursors
//!
//! `due_players` and `scan_connections` return the query's `LastEvaluatedKey` as DynamoDB JSON
//! (`{"player_id":{"S":"…"},…}`); a cursor that does not parse or names other attributes is
//! a permanent error.

mod amazon_roots;
mod catalogs;
mod config;
mod connections;
mod error;
mod game;
mod inbox;
mod items;
mod notifier;
mod records;
mod store;
#[cfg(feature = "streams")]
pub mod stream;
mod tables;
mod waker;

pub use catalogs::{DynamoCatalogs, CATALOGS_TABLE_VAR};
pub use config::{
    amazon_root_certificates, dynamodb_client, dynamodb_client_at, https_client, lambda_sdk_config,
    retry_config, sdk_config, stalled_stream_protection, timeout_config, ConfigError, Tables,
    TrustedRoots, AMAZON_ROOTS, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, DYNAMODB_ENDPOINT_VAR,
    MAX_BACKOFF, OPERATION_TIMEOUT, TLS_ROOTS_VAR,
};
pub use game::WAKE_INDEX;
/// The item encodings, public for tools that size or inspect items (the cost accounting).
pub use items::{
    commit_item, connection_item, connections_size, item_size, notification_item, packed_item,
    player_item, task_item, wake_bucket, Item, Layout,
};
pub use notifier::ApiGatewayNotifier;
pub use store::{DynamoStore, DEFAULT_PAGE_SIZE, DEFAULT_WAKE_BUCKET_MS};
pub use tables::{create_catalogs_table, create_tables};
pub use waker::{
    delay_seconds, sqs_client, sqs_client_at, SqsWaker, MAX_BATCH, MAX_DELAY_SECS, SQS_ENDPOINT_VAR,
};
