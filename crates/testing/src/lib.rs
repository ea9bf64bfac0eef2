//! Test support shared by the crates' test suites. Nothing here ships in a binary.
//!
//! [`contract`] is the store contract (DESIGN.md section 12): one suite, written once, that
//! every store runs (the memory store in `idle-app`'s tests, DynamoDB on moto in `idle-aws`'s),
//! so the adapters cannot drift apart. [`logs`] captures log lines for the tests that check
//! them. [`tokens`] makes dev tokens and forges the ones the security tests need. [`world`] sets
//! up players with a queue in an in-memory world.

pub mod contract;
pub mod logs;
pub mod tokens;
pub mod world;
