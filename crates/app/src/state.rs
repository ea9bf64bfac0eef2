//! A player with its queue: the unit the state machine reads and writes.

use idle_core::model::{Millis, Player, Task};
use idle_core::{Game, Plan};

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
    /// A player who has no item yet, as the game starts it: the catalog's starter kit at `now`
    /// (ms), a full rate bucket (`game.limits.rate_capacity`), version 0, no queue. The item is
    /// created by the player's first write (conditional on no item existing), not at connect.
    pub fn starter(player_id: &str, now: Millis, game: &Game<'_>) -> PlayerState {
        PlayerState {
            player: Player::new(player_id, now, game.catalog, game.limits.rate_capacity),
            queue: Vec::new(),
        }
    }

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
