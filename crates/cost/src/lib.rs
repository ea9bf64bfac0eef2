//! Cost accounting for the idle backend: the counting model of the DynamoDB adapter
//! ([`counting`]), the scripted workload ([`workload`]) and the prices ([`money`]). The
//! `idle-cost` binary prints them; `tests/moto.rs` checks the model against the adapter.

pub mod counting;
pub mod money;
pub mod size;
pub mod workload;
