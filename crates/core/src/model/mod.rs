//! The game's state: players, tasks, and what a task asks for.

mod audit;
mod player;
mod request;
mod task;

pub use audit::*;
pub use player::*;
pub use request::*;
pub use task::*;

/// Server time: milliseconds since the Unix epoch. The core never reads a clock; callers pass it.
pub type Millis = i64;
