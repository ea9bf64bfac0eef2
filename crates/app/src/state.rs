//! A player with its queue: the unit the state machine reads and writes.

use idle_core::model::{Player, Task};
use idle_core::Plan;

/// A player and its unfinished tasks (queued, running, retrying) in task order.
///
/// Stored together (the queue lives in the player's item), so one read gives the state machine
/// everything and one conditional write on the player's `version` guards every change.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerState {
    pub player: Player,
    pub queue: Vec<Task>,
}

impl PlayerState {
    /// The state after a plan's writes.
    pub fn after(&self, plan: &Plan) -> PlayerState {
        let mut tasks = self.queue.clone();
        plan.apply_to_tasks(&mut tasks);
        tasks.retain(|t| !t.status.is_final());
        PlayerState {
            player: plan.player_after(&self.player).clone(),
            queue: tasks,
        }
    }
}
