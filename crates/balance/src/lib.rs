//! Balance simulator, balance checks and task replay for the idle game's designers.
//!
//! Everything here is built on the core's pure rules: the closed forms in [`expect`] and
//! [`odds`] restate them, the Monte Carlo in [`simulate`] runs them, and [`replay`] recomputes a
//! stored task's outcome to prove it was granted as the rules say.

#![warn(missing_docs)]

pub mod chart;
pub mod check;
pub mod curve;
pub mod expect;
pub mod odds;
pub mod output;
pub mod pity;
pub mod profile;
pub mod replay;
pub mod report;
pub mod simulate;
pub mod worth;
