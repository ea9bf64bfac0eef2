//! Pure game logic for the idle-game task backend.
//!
//! No I/O, no clock, no global randomness: time and seeds are arguments. The Lambda handlers,
//! the local runtime and the designer tools all call into this crate.

pub mod catalog;
pub mod game;
pub mod lifecycle;
pub mod model;
pub mod protocol;
pub mod rng;
pub mod rules;
pub mod spec;
pub mod validate;
pub mod xp;

pub use game::{Game, Limits, RetryPolicy};
pub use lifecycle::{
    advance, cancel, enqueue, fail_transient, progress, progress_for, spend_token, touch, Enqueued,
    Plan,
};
