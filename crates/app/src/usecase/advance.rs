//! Advancing one player to now: the step the stream processor and the ticker share.

use idle_core::lifecycle::TransitionKind;
use idle_core::model::Millis;
use idle_core::{advance, fail_transient, Plan};

use super::update::{update_player, Decision, UpdateError};
use crate::metrics::record_plan;
use crate::ports::StoreError;
use crate::services::Services;
use crate::state::PlayerState;

/// What advancing one player did. The task counts come from the written plans' transitions,
/// the same list [`record_plan`] counts into the metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Advanced {
    /// A plan was written.
    pub committed: bool,
    pub started: usize,
    pub completed: usize,
    /// Transient failures with a retry scheduled.
    pub retried: usize,
    /// Transient failures with the retries used up (final).
    pub failed: usize,
    /// Refused at start by dynamic validation (final).
    pub rejected: usize,
    /// The advance could not be written, but the head task's transient failure was recorded
    /// (it is `retrying` or `failed` now).
    pub recorded_failure: bool,
    /// The plan written was capped ([`Plan::continues`]): more is due now.
    pub continues: bool,
}

impl Advanced {
    /// This advance followed by `next`.
    fn then(self, next: Advanced) -> Advanced {
        Advanced {
            committed: self.committed || next.committed,
            started: self.started + next.started,
            completed: self.completed + next.completed,
            retried: self.retried + next.retried,
            failed: self.failed + next.failed,
            rejected: self.rejected + next.rejected,
            recorded_failure: self.recorded_failure || next.recorded_failure,
            continues: next.continues,
        }
    }

    fn count(&mut self, plan: &Plan) {
        self.started += plan.count(TransitionKind::Started);
        self.completed += plan.count(TransitionKind::Completed);
        self.retried += plan.count(TransitionKind::Retried);
        self.failed += plan.count(TransitionKind::Failed);
        self.rejected += plan.count(TransitionKind::Rejected);
    }
}

/// Advances a player to `now` and commits; the write's outbox announces it.
///
/// When the store keeps failing (transient errors after the retries), records a transient
/// failure of the head task with the core's `fail_transient` if that applies (a queued or
/// retrying head; a running task is completed again by redelivery instead): a real store fault
/// spends the task's retry budget. Contention never does: conflicts mean other writers changed
/// the player, so the advance is recomputed from fresh state, and if it keeps losing the race
/// the player is left as it is — still due in the wake index — and
/// [`UpdateError::Contended`] is returned for the caller to retry later. The error is returned
/// whenever the player could not be brought to a consistent state; redoing the advance later
/// is safe.
pub(crate) async fn advance_player(
    services: &Services,
    player_id: &str,
    loaded: Option<PlayerState>,
    now: Millis,
) -> Result<Advanced, UpdateError> {
    let mut report = advance_once(services, player_id, loaded, now).await?;
    // A plan capped at the store's limits leaves more due: carry on with fresh state, a
    // bounded number of times (the player stays due for the ticker either way).
    for _ in 0..MAX_CONTINUATIONS {
        if !report.continues {
            break;
        }
        let next = advance_once(services, player_id, None, now).await?;
        report = report.then(next);
    }
    Ok(report)
}

/// Most follow-up plans one advance writes after a capped one (40 × 25 tasks).
const MAX_CONTINUATIONS: usize = 40;

async fn advance_once(
    services: &Services,
    player_id: &str,
    loaded: Option<PlayerState>,
    now: Millis,
) -> Result<Advanced, UpdateError> {
    let mut report = Advanced::default();
    let result = update_player(services, player_id, loaded, |game, state| {
        Ok(Decision::Write(
            Box::new(advance(game, &state.player, &state.queue, now)),
            (),
        ))
    })
    .await;
    let error = match result {
        Ok(updated) => {
            if let Some(plan) = updated.plan {
                report.committed = true;
                report.continues = plan.continues;
                report.count(&plan);
                record_plan(&services.metrics, player_id, &plan);
            }
            return Ok(report);
        }
        // Only a store fault is charged to the head task. A conflict is not a failure of the
        // task: someone else wrote the player (another advance, a message), and charging it
        // would fail healthy tasks under load (`retries_exhausted` after five busy rounds).
        Err(UpdateError::Store(e @ StoreError::Transient(_))) => UpdateError::Store(e),
        Err(e) => return Err(e),
    };
    let reason = error.to_string();
    let recorded = update_player(services, player_id, None, |game, state| {
        let head = state.queue.iter().find(|t| !t.status.is_final());
        Ok(match head {
            Some(task) => Decision::Write(
                Box::new(fail_transient(
                    game,
                    &state.player,
                    &state.queue,
                    &task.task_id,
                    &reason,
                    now,
                )),
                (),
            ),
            None => Decision::Done(()),
        })
    })
    .await;
    match recorded {
        Ok(updated) => match updated.plan {
            Some(plan) => {
                tracing::warn!(player_id, error = %error, "advance failed; recorded a transient failure of the head task");
                report.recorded_failure = true;
                report.count(&plan);
                record_plan(&services.metrics, player_id, &plan);
                Ok(report)
            }
            None => Err(error),
        },
        Err(_) => Err(error),
    }
}
