//! A wake-up: the precise timer's way of advancing one player when its next task ends, its
//! retry comes or a progress update is due (DESIGN.md section 12).

use idle_core::model::Millis;

use super::advance::advance_player;
use super::deliver::deliver;
use super::update::{load_player_listed, UpdateError};
use crate::services::Services;
use crate::state::PlayerState;

/// Longest a wake-up handler waits out before advancing. SQS delays in whole seconds, so a
/// message armed with the whole seconds until its time arrives up to 1 s early; the consumer
/// waits the rest. A message further from its time than this was re-armed for a long wait
/// (more than SQS's 900 s) and is armed again instead.
pub const MAX_WAIT_MS: Millis = 1_500;

/// What to do with a wake-up for time `at` that arrives at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeStep {
    /// Its time has come: advance the player.
    Advance,
    /// Wait this many ms, then advance (never early).
    Wait(Millis),
    /// Too early to wait for: arm it again.
    Rearm,
}

impl WakeStep {
    pub fn of(at: Millis, now: Millis) -> WakeStep {
        match at.saturating_sub(now) {
            ms if ms <= 0 => WakeStep::Advance,
            ms if ms <= MAX_WAIT_MS => WakeStep::Wait(ms),
            _ => WakeStep::Rearm,
        }
    }
}

/// What one wake-up did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// A plan was written (the writer armed the next wake-ups with it).
    Advanced,
    /// A progress update was posted; nothing was written or armed.
    Progress,
    /// Nothing was due: an early, repeated or stale wake-up.
    Nothing,
    /// No such player.
    Unknown,
}

/// A wake-up armed for `at` (ms since the epoch; the caller has waited until then). Advances
/// the player to now if its stored wake time has come, whatever `at` is (a late wake-up of any
/// kind catches the player up). Otherwise, if `at` is one of the progress updates of the
/// player's running task ([`idle_core::progress_for`]), posts it to the player's connections,
/// writing and arming nothing (progress is not a state change: a client that misses one
/// interpolates from `ends_at`). Anything else (a repeated completion the state has moved past,
/// the update of a task since cancelled) is a stale wake-up and does nothing, so SQS's
/// at-least-once delivery can repeat a message but never start a second chain of wake-ups.
/// `Err` only for trouble a later try may fix (the caller retries the wake-up; the ticker's
/// sweep is the safety net); a permanent failure of the player is logged and counted and
/// answered as [`Woken::Nothing`].
///
/// Reads: the player is first read relaxed ([`GameStore::load_players_relaxed`], half price on
/// DynamoDB), since a stale copy costs at most a retry: an advance is a conditional write on
/// `version`, which fails on a stale copy and is decided again from a consistent read; a
/// progress update from a copy a moment old is as good an estimate. Only when that copy shows
/// nothing to do is the player read again consistently before the wake-up is dropped, so a
/// due completion is never missed because a read lagged.
///
/// [`GameStore::load_players_relaxed`]: crate::ports::GameStore::load_players_relaxed
pub async fn wake(services: &Services, player_id: &str, at: Millis) -> Result<Woken, String> {
    let now = services.clock.now();
    let (mut state, mut connections) = match read(services, player_id, true).await {
        Ok(read) => read,
        Err(woken) => return woken,
    };
    if nothing_due(services, &state, at, now) {
        (state, connections) = match read(services, player_id, false).await {
            Ok(read) => read,
            Err(woken) => return woken,
        };
    }
    if state.player.wake_at.is_none_or(|due| due > now) {
        let Some(update) =
            idle_core::progress_for(&services.game, &state.player, &state.queue, at, now)
        else {
            return Ok(Woken::Nothing);
        };
        deliver(
            services,
            player_id,
            &connections,
            &[],
            std::slice::from_ref(&update),
        )
        .await;
        return Ok(Woken::Progress);
    }
    match advance_player(services, player_id, Some(state), now).await {
        Ok(advanced) if advanced.committed || advanced.recorded_failure => Ok(Woken::Advanced),
        Ok(_) => Ok(Woken::Nothing),
        Err(UpdateError::NoPlayer) => Ok(Woken::Unknown),
        Err(error) if error.is_transient() => Err(error.to_string()),
        Err(error) => {
            tracing::error!(player_id, %error, outcome = "skipped", "could not advance for good");
            Ok(Woken::Nothing)
        }
    }
}

/// The player and the connection ids listed with it (where a progress update is posted: the
/// same read, no query), read relaxed or consistently; `Err` is what [`wake`] answers when it
/// cannot be.
async fn read(
    services: &Services,
    player_id: &str,
    relaxed: bool,
) -> Result<(PlayerState, Vec<String>), Result<Woken, String>> {
    let read = load_player_listed(services, player_id, relaxed);
    match services.game.build_while(read).await {
        Ok(Some(read)) => Ok(read),
        Ok(None) => Err(Ok(Woken::Unknown)),
        Err(error) if error.is_retryable() => Err(Err(error.to_string())),
        Err(_) => Err(Ok(Woken::Nothing)),
    }
}

/// True when `state` has neither a due wake time nor the progress update armed for `at`.
fn nothing_due(services: &Services, state: &PlayerState, at: Millis, now: Millis) -> bool {
    state.player.wake_at.is_none_or(|due| due > now)
        && idle_core::progress_for(&services.game, &state.player, &state.queue, at, now).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_up_is_never_early_and_a_far_one_is_armed_again() {
        assert_eq!(WakeStep::of(1_000, 1_000), WakeStep::Advance);
        assert_eq!(WakeStep::of(1_000, 1_200), WakeStep::Advance);
        assert_eq!(WakeStep::of(1_000, 999), WakeStep::Wait(1));
        assert_eq!(WakeStep::of(2_500, 1_000), WakeStep::Wait(1_500));
        assert_eq!(WakeStep::of(2_501, 1_000), WakeStep::Rearm);
    }
}
