//! The persistence seam (DESIGN.md section 12): every change of a player is one conditional
//! write of its item, and that write carries an *outbox* of what must happen because of it.
//!
//! This module is the one place the storage rule is decided from the core's [`Plan`]: what the
//! player's item holds after the plan, on which condition it is written, and what rides with it.
//! Stores only translate a [`Commit`]; the outbox is performed afterwards, in commit order per
//! player, by [`crate::usecase::perform_batch`] (fed by the Players table's stream on AWS, by
//! the store's own feed in the local runtime), which may run it more than once: everything in it
//! is idempotent (notifications keep their `seq`, history records are put if absent).
//!
//! Wake-ups are not in the outbox: the writer arms them as soon as its write succeeded
//! ([`wake_ups`]), so a completion is not late by the stream's delay, and each is armed once.

use idle_core::model::{AuditRecord, Millis, Player, Task};
use idle_core::protocol::Notification;
use idle_core::Plan;
use serde::{Deserialize, Serialize};

use crate::state::PlayerState;

/// What must happen because a player's write committed. It replaces the previous outbox, so the
/// item stays small; a write with nothing to perform has an empty one (and the stream filter
/// skips it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    /// Durable notifications, in `seq` order: posted to every open connection of the player, and
    /// kept for `sync` where no connection received them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Notification>,
    /// The tasks the plan finished, as history records: each put if absent (outcomes are
    /// deterministic, so a repeat writes the same record or nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Task>,
    /// The audit record of an operator's change (`idle-admin grant`/`revoke`), put in the
    /// history if absent, like `history`: riding in the same write as the change, it cannot be
    /// lost while the change stays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<AuditRecord>,
}

impl Outbox {
    /// True when there is nothing to perform.
    pub fn is_empty(&self) -> bool {
        self.notifications.is_empty() && self.history.is_empty() && self.audit.is_empty()
    }
}

/// One player's write: the item as it will be stored (the player, its queue and the outbox),
/// written only if the stored `version` is still `expected_version` (or, when that is `None`,
/// only if no player with this id exists).
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The player after the plan, with its new `version`, and its unfinished tasks.
    pub state: PlayerState,
    pub expected_version: Option<u64>,
    pub outbox: Outbox,
}

impl Commit {
    /// The write of `plan` over `before`, or `None` when the plan changes nothing to write.
    pub fn of(before: &PlayerState, plan: &Plan) -> Option<Commit> {
        let write = plan.player.as_ref()?;
        let state = before.after(plan);
        let outbox = Outbox {
            notifications: plan.notifications.clone(),
            history: plan
                .tasks
                .iter()
                .filter(|w| w.task.status.is_final())
                .map(|w| w.task.clone())
                .collect(),
            audit: Vec::new(),
        };
        Some(Commit {
            state,
            expected_version: write.expected_version,
            outbox,
        })
    }

    /// An operator's change of `before`'s player into `player` (one `version` later, as
    /// [`idle_core::model::change_inventory`] returns it), with its audit record in the outbox;
    /// the queue is kept as it is and nothing is announced or armed.
    pub fn admin(before: &PlayerState, player: Player, audit: AuditRecord) -> Commit {
        Commit {
            expected_version: Some(before.player.version),
            state: PlayerState {
                player,
                queue: before.queue.clone(),
            },
            outbox: Outbox {
                audit: vec![audit],
                ..Outbox::default()
            },
        }
    }

    /// The player's id.
    pub fn player_id(&self) -> &str {
        &self.state.player.player_id
    }
}

/// The wake-ups to arm once `commit`, the write of `plan` over `before`, has succeeded (ms since
/// the epoch, ascending): every progress update of a task the plan started
/// ([`Plan::progress`]), and the player's new wake time when the plan moved it. The writer
/// arms them right after its conditional write returned (`usecase::update`), never when the
/// outbox is performed: each is armed once, and a completion is not late by the stream's
/// delay. A crash between the write and the arming loses them; the ticker's sweep of the wake
/// index finds the player's wake time (a progress update, which is no state change, is lost).
pub fn wake_ups(before: &PlayerState, commit: &Commit, plan: &Plan) -> Vec<Millis> {
    let mut at = plan.progress.clone();
    if commit.state.player.wake_at != before.player.wake_at {
        at.extend(commit.state.player.wake_at);
    }
    at.sort_unstable();
    at.dedup();
    at
}

/// An outbox to perform, as its feed delivered it: the Players table's stream record (on AWS)
/// or the local store's feed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    pub player_id: String,
    /// The player's `version` the outbox was committed with.
    pub version: u64,
    /// What a batch item failure names (the stream's sequence number).
    pub sequence_number: String,
    pub outbox: Outbox,
    /// The player's connection ids listed with it when the outbox was committed (DynamoDB: the
    /// `connections` string set of the stream's new image; the local stores: their list at
    /// commit), where its notifications are posted: no query at delivery.
    pub connections: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use idle_core::catalog::Catalog;
    use idle_core::model::{Player, TaskRequest};
    use idle_core::{advance, enqueue, Enqueued, Game};

    const T0: Millis = 1_800_000_000_000;

    fn game() -> Game<'static> {
        Game::new(Catalog::shipped(), b"outbox-test-secret-outbox-test-secret")
    }

    fn idle() -> PlayerState {
        PlayerState {
            player: Player::new("p1", T0, Catalog::shipped(), 10),
            queue: Vec::new(),
        }
    }

    fn enqueued(game: &Game, state: &PlayerState, request_id: &str) -> Plan {
        let request = TaskRequest::Harvest {
            resource: "copper_ore".into(),
            location: "meadow".into(),
            quantity: 1,
            repeat: None,
        };
        match enqueue(
            game,
            &state.player,
            &state.queue,
            request_id,
            &request,
            false,
            false,
            T0,
        ) {
            Ok(Enqueued::New { plan, .. }) => *plan,
            other => panic!("a new task: {other:?}"),
        }
    }

    #[test]
    fn an_enqueue_writes_the_running_task_in_the_queue_and_arms_its_end() {
        // Given an idle player
        let game = game();
        let before = idle();

        // When a task is enqueued
        let plan = enqueued(&game, &before, "r1");
        let commit = Commit::of(&before, &plan).unwrap();

        // Then one write holds the running task, conditioned on the loaded version
        assert_eq!(commit.expected_version, Some(0));
        assert_eq!(commit.state.player.version, 1);
        assert_eq!(commit.state.queue.len(), 1);
        // And the outbox announces it and writes no history yet; the writer arms its progress
        // updates and its end
        assert_eq!(commit.outbox.notifications, plan.notifications);
        assert!(commit.outbox.history.is_empty());
        let ends_at = commit.state.queue[0].ends_at.unwrap();
        let mut armed = plan.progress.clone();
        armed.push(ends_at);
        assert_eq!(wake_ups(&before, &commit, &plan), armed);
    }

    #[test]
    fn a_completion_moves_the_task_from_the_queue_to_the_history_records() {
        // Given a player running a task
        let game = game();
        let before = idle();
        let running = before.after(&enqueued(&game, &before, "r1"));
        let ends_at = running.queue[0].ends_at.unwrap();

        // When it is advanced past the end
        let plan = advance(&game, &running.player, &running.queue, ends_at);
        let commit = Commit::of(&running, &plan).unwrap();

        // Then the queue is empty, the finished task is a history record, and nothing is armed
        assert!(commit.state.queue.is_empty());
        assert_eq!(commit.outbox.history.len(), 1);
        assert!(commit.outbox.history[0].status.is_final());
        assert_eq!(wake_ups(&running, &commit, &plan), Vec::<Millis>::new());
        assert_eq!(commit.state.player.wake_at, None);
    }

    #[test]
    fn an_empty_plan_is_no_write_and_an_unmoved_wake_time_is_not_armed_again() {
        let game = game();
        let before = idle();
        let running = before.after(&enqueued(&game, &before, "r1"));
        let empty = advance(&game, &running.player, &running.queue, T0);
        assert!(Commit::of(&running, &empty).is_none());

        // A second enqueue behind the running task leaves its wake time alone
        let plan = enqueued(&game, &running, "r2");
        let commit = Commit::of(&running, &plan).unwrap();
        assert_eq!(commit.state.player.wake_at, running.player.wake_at);
        assert_eq!(wake_ups(&running, &commit, &plan), Vec::<Millis>::new());
        assert!(!commit.outbox.is_empty(), "it still announces the queue");
    }

    #[test]
    fn an_outbox_serialises_without_its_empty_parts() {
        assert_eq!(serde_json::to_string(&Outbox::default()).unwrap(), "{}");
        // An outbox written before wake-ups left it still reads (what it armed is ignored)
        let old = format!("{{\"wake_at\":{T0},\"progress_at\":{T0}}}");
        let outbox = serde_json::from_str::<Outbox>(&old).unwrap();
        assert!(outbox.is_empty());
    }
}
