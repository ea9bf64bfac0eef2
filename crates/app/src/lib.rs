//! The application layer: ports (what the use cases need from the world), the use cases as plain
//! async functions over them, and in-memory adapters with the same semantics as DynamoDB.

pub mod auth;
pub mod config;
pub mod memory;
pub mod ports;
pub mod services;
pub mod state;
pub mod usecase;

pub use config::{AppConfig, ConfigError, Function, Secret};
pub use services::Services;
