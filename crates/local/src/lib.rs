//! The whole idle-game backend on one machine, with no AWS account and no external server.
//!
//! [`start`] hosts, in one process:
//! - the embedded store ([`idle_sqlite::SqliteStore`]): SQLite in WAL mode, in `DIR/idle.db`
//!   with a data directory that one process writes at a time ([`lock`]), else in memory;
//! - a WebSocket gateway ([`gateway`]) that turns connects, frames and closes into the same
//!   `aws_lambda_events` values API Gateway hands the Lambdas, and calls the same handlers;
//! - API Gateway's `@connections` management API on the same port, served for the real
//!   `aws-sdk-apigatewaymanagement` client ([`idle_aws::ApiGatewayNotifier`]); the runtime's
//!   own replies and notifications take the same path in process
//!   ([`gateway::InProcessNotifier`]: the same answers, no HTTP round trip per post), or
//!   through the SDK client with [`Options::posts_through_api`];
//! - the outbox feed ([`feed`]): every committed outbox, in commit order, handed to the task
//!   processor as a Players-stream batch, woken by each commit;
//! - the precise wake-up timer, the ticker (its safety net) and the connection cleaner
//!   ([`timers`]);
//! - the web console and dev tokens ([`console`]).

pub mod console;
pub mod error;
pub mod events;
pub mod feed;
pub mod gateway;
pub mod lock;
pub mod runtime;
pub mod settings;
pub mod timers;

pub use error::LocalError;
pub use runtime::{start, Running};
pub use settings::{app_config, Options, DEV_SEED_SECRET};
