//! `idle-admin`, the operator's CLI: look at a player, list their tasks, grant or revoke items
//! (audited in the history), replay a task, export everything stored about a player, erase a
//! player, and redrive outboxes the task processor gave up on. It runs over the same ports and
//! adapters as the game: the DynamoDB store (tables named by the Lambdas' environment
//! variables) or an `idle-local` data directory's SQLite store.
//!
//! The binary (`src/main.rs`) only parses arguments; each command is a function here over a
//! [`backend::Backend`], so the tests drive the real binary and the logic stays testable.

pub mod audit;
pub mod backend;
pub mod commands;
pub mod error;
pub mod redrive;

pub use error::CliError;
