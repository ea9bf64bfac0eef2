//! The task state machine as pure functions over (player, tasks, now) returning a [`Plan`].
//!
//! `queued → running → completed`, with `rejected` (dynamic validation failed; never retried),
//! `retrying` (transient failure, exponential backoff with jitter) → `failed` after the maximum,
//! and `cancelled`. Every use case here reads the player and its unfinished tasks, and returns
//! the writes (each with its condition) and the notifications; callers execute plans.

mod plan;
mod session;

pub use plan::*;

use crate::game::Game;
use crate::model::{Millis, Player, Task, TaskRequest};
use crate::protocol::Progress;
use crate::validate::Rejection;
use session::Session;

/// Brings a player up to `now`: completes due tasks (never before `ends_at`), starts the next
/// queued ones back to back and retries due `retrying` tasks. A player already up to date gives
/// an empty plan. Progress updates are not state changes: see [`progress`].
///
/// `tasks` are the player's unfinished tasks (others are ignored), in any order.
pub fn advance(game: &Game, player: &Player, tasks: &[Task], now: Millis) -> Plan {
    let mut session = Session::new(game, player, tasks, now);
    session.advance();
    session.finish()
}

/// The progress of the player's running task at `now` (`task_progress`, ephemeral), and when
/// the next update is due: a task gets at most `progress_updates` updates, at least
/// `min_progress_ms` apart, none at or after its end. Nothing is written for them: the plan
/// that starts a task lists them all ([`Plan::progress`]) and a wake-up posts the update
/// ([`progress_for`]). `None` when no task is running (or it has
/// ended and needs an [`advance`]).
pub fn progress(
    game: &Game,
    player: &Player,
    tasks: &[Task],
    now: Millis,
) -> Option<(Progress, Option<Millis>)> {
    Session::new(game, player, tasks, now).progress_now()
}

/// The progress update a wake-up armed for `at` posts at `now` (`now >= at`): only when `at` is
/// one of the progress milestones of the player's running task (those [`Plan::progress`] armed
/// when it started) and the task is still running, unpaused, at `now`. A wake-up the state no
/// longer expects (a repeated completion, the milestone of a task since cancelled or ended)
/// gets `None` and posts nothing. Nothing is armed from it: every milestone was armed with the
/// write that started the task, so a repeated wake-up cannot start a second chain.
pub fn progress_for(
    game: &Game,
    player: &Player,
    tasks: &[Task],
    at: Millis,
    now: Millis,
) -> Option<Progress> {
    let (_, next) = progress(game, player, tasks, at.saturating_sub(1))?;
    if next != Some(at) {
        return None;
    }
    progress(game, player, tasks, now.max(at)).map(|(update, _)| update)
}

/// The answer to an enqueue.
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    /// A new task; write the plan.
    New { task_id: String, plan: Box<Plan> },
    /// The request id was seen before: nothing to write, answer with the original task.
    Duplicate { task_id: String },
}

/// Queues a task after the static checks (shape, bounds, catalog references, queue length, rate
/// limit), then advances the player to `now` in the same plan: a task queued for an idle
/// player starts in the enqueue's own write (DESIGN.md section 12), so starting needs no write
/// of its own. `is_admin` comes from the verified token, never from the message.
#[allow(clippy::too_many_arguments)]
pub fn enqueue(
    game: &Game,
    player: &Player,
    tasks: &[Task],
    request_id: &str,
    request: &TaskRequest,
    bypass_validation: bool,
    is_admin: bool,
    now: Millis,
) -> Result<Enqueued, Rejection> {
    if let Some(seen) = player
        .recent_requests
        .iter()
        .find(|r| r.request_id == request_id)
    {
        return Ok(Enqueued::Duplicate {
            task_id: seen.task_id.clone(),
        });
    }
    if bypass_validation && !is_admin {
        return Err(Rejection::Forbidden);
    }
    crate::validate::check_request(game, request_id, request)?;
    let mut session = Session::new(game, player, tasks, now);
    session.touch();
    let task_id = session.enqueue(request_id, request, bypass_validation)?;
    session.advance();
    Ok(Enqueued::New {
        task_id,
        plan: Box::new(session.finish()),
    })
}

/// Cancels a task: a queued one with nothing to refund, a running one settled for the actions
/// done and refunded for the rest. The player is advanced to `now` first, so a task that has
/// already ended completes instead and the cancel answers `not_found`.
pub fn cancel(
    game: &Game,
    player: &Player,
    tasks: &[Task],
    task_id: &str,
    now: Millis,
) -> Result<Plan, Rejection> {
    let mut session = Session::new(game, player, tasks, now);
    session.touch();
    session.advance();
    session.cancel(task_id)?;
    session.advance();
    Ok(session.finish())
}

/// Spends one token of the player's rate bucket for a message that changes nothing else
/// (`sync`, `catalog`, `ping`, or one that could not be understood): every message costs its
/// sender (DESIGN.md section 6). `enqueue` and `cancel` spend theirs in their own plan. The plan
/// writes the bucket and the player's activity ([`touch`]); `rate_limited` (with
/// `retry_after_ms`) when it is empty.
///
/// `tasks` are the player's unfinished tasks: a message after the offline cap resumes them.
pub fn spend_token(
    game: &Game,
    player: &Player,
    tasks: &[Task],
    now: Millis,
) -> Result<Plan, Rejection> {
    let mut session = Session::new(game, player, tasks, now);
    session.take_token()?;
    session.touch();
    Ok(session.finish())
}

/// Records the player's activity at `now` (a connect; messages do it in their own plan): the
/// offline cap counts from now, and tasks paused at the cap resume from now, shifted by the
/// time they were paused (docs/game-rules.md, "The offline cap"). A player whose tasks are
/// past the cap but not yet brought there is first advanced to the cap. Nothing a client sends
/// about time is an input: `now` is the server's clock.
pub fn touch(game: &Game, player: &Player, tasks: &[Task], now: Millis) -> Plan {
    let mut session = Session::new(game, player, tasks, now);
    session.touch();
    session.finish()
}

/// Records a transient failure (a store error, a timeout) of the task at the head of the queue
/// that was about to start: `retrying` with backoff, or `failed` after the maximum attempts.
/// Running tasks are not affected: their completion is retried by redelivery. Returns an empty
/// plan if the task is not waiting to start.
pub fn fail_transient(
    game: &Game,
    player: &Player,
    tasks: &[Task],
    task_id: &str,
    reason: &str,
    now: Millis,
) -> Plan {
    let mut session = Session::new(game, player, tasks, now);
    if session.fail_transient(task_id, reason) {
        session.advance();
    }
    session.finish()
}

#[cfg(test)]
mod tests;
