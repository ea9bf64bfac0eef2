//! Cost accounting for the idle backend: the counting model of the DynamoDB adapter
//! ([`counting`]), the scripted workload ([`workload`]), the prices ([`money`]) and the capacity
//! plan scaled from a run ([`capacity`]). The `idle-cost` binary prints them; `tests/moto.rs`
//! checks the model against the adapter, `tests/capacity.rs` the plan's arithmetic.

pub mod capacity;
pub mod counting;
pub mod money;
pub mod size;
pub mod workload;
