//! A wake-up: the precise timer's way of advancing one player when its next task ends, its
//! retry comes or a progress update is due (DESIGN.md section 12).

use idle_core::model::Millis;

use super::advance::advance_player;
use super::deliver::deliver;
use super::update::{load_player, load_player_relaxed, UpdateError};
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
    /// A plan was written (its outbox announces it and arms the next wake-up).
    Advanced,
    /// A progress update was posted and the next one armed; nothing was written.
    Progress,
    /// Nothing was due: an early or repeated wake-up.
    Nothing,
    /// No such player.
    Unknown,
}

/// Advances the player to now if its stored wake time has come (the caller has waited until the
/// wake-up's time); otherwise, if its running task is due a progress update, posts it to the
/// player's connections and arms the next one, writing nothing (progress is not a state
/// change: a client that misses one interpolates from `ends_at`). An early or repeated wake-up
/// does nothing. `Err` only for trouble a later try may fix (the caller retries the wake-up;
/// the ticker's sweep is the safety net); a permanent failure of the player is logged and
/// counted and answered as [`Woken::Nothing`].
///
/// Reads: the player is first read relaxed ([`GameStore::load_players_relaxed`], half price on
/// DynamoDB), since a stale copy costs at most a retry: an advance is a conditional write on
/// `version`, which fails on a stale copy and is decided again from a consistent read; a
/// progress update from a copy a moment old is as good an estimate. Only when that copy shows
/// nothing to do is the player read again consistently before the wake-up is dropped, so a
/// due completion is never missed because a read lagged.
///
/// [`GameStore::load_players_relaxed`]: crate::ports::GameStore::load_players_relaxed
pub async fn wake(services: &Services, player_id: &str) -> Result<Woken, String> {
    let now = services.clock.now();
    let mut state = match read(services, player_id, true).await {
        Ok(state) => state,
        Err(woken) => return woken,
    };
    if nothing_due(services, &state, now) {
        state = match read(services, player_id, false).await {
            Ok(state) => state,
            Err(woken) => return woken,
        };
    }
    if state.player.wake_at.is_none_or(|at| at > now) {
        let Some((update, next)) =
            idle_core::progress(&services.game, &state.player, &state.queue, now)
        else {
            return Ok(Woken::Nothing);
        };
        deliver(services, player_id, &[], std::slice::from_ref(&update)).await;
        if let Some(next) = next {
            services
                .waker
                .arm(player_id, next)
                .await
                .map_err(|e| e.to_string())?;
        }
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

/// The player, read relaxed or consistently; `Err` is what [`wake`] answers when it cannot be.
async fn read(
    services: &Services,
    player_id: &str,
    relaxed: bool,
) -> Result<PlayerState, Result<Woken, String>> {
    let loaded = if relaxed {
        load_player_relaxed(services, player_id).await
    } else {
        load_player(services, player_id).await
    };
    match loaded {
        Ok(Some(state)) => Ok(state),
        Ok(None) => Err(Ok(Woken::Unknown)),
        Err(error) if error.is_retryable() => Err(Err(error.to_string())),
        Err(_) => Err(Ok(Woken::Nothing)),
    }
}

/// True when `state` has neither a due wake time nor a progress update to post at `now`.
fn nothing_due(services: &Services, state: &PlayerState, now: Millis) -> bool {
    state.player.wake_at.is_none_or(|at| at > now)
        && idle_core::progress(&services.game, &state.player, &state.queue, now).is_none()
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
