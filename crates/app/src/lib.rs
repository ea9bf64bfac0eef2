//! The application layer: ports (what the use cases need from the world), the use cases as plain
//! async functions over them, in-memory adapters with the same semantics as DynamoDB, and the
//! thin Lambda handlers that map `aws_lambda_events` values to the use cases.

pub mod auth;
pub mod catalogs;
pub mod config;
pub mod handlers;
pub mod memory;
pub mod metrics;
pub mod outbox;
pub mod packed;
pub mod ports;
pub mod services;
pub mod state;
pub mod usecase;

pub use config::{AppConfig, ConfigError, Function, Secret};
pub use services::Services;
