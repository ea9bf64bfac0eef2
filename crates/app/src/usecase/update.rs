//! Read, compute, conditionally write, and on a conflict read again: the loop every change to a
//! player goes through.

use idle_core::model::Millis;
use idle_core::validate::Rejection;
use idle_core::{Game, Plan};

use crate::outbox::{wake_ups, Commit};
use crate::ports::StoreError;
use crate::services::Services;
use crate::state::PlayerState;

/// What a computation over the current state decided.
pub(crate) enum Decision<T> {
    /// Write this plan, then answer with the value.
    Write(Box<Plan>, T),
    /// Nothing to write.
    Done(T),
}

/// Why a change could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum UpdateError {
    #[error("no such player")]
    NoPlayer,
    #[error("rejected: {0}")]
    Rejected(Rejection),
    #[error("still conflicting after {0} attempts")]
    Contended(u32),
    #[error(transparent)]
    Store(StoreError),
}

impl UpdateError {
    /// True when trying the same change again later may succeed: the player was contended or
    /// the store failed transiently. A permanent store error (an unreadable item, a write the
    /// store refuses for good) belongs to the player and stays until someone repairs it.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            UpdateError::Contended(_) => true,
            UpdateError::Store(e) => e.is_retryable(),
            UpdateError::NoPlayer | UpdateError::Rejected(_) => false,
        }
    }
}

/// Logs in full and counts a player whose stored item cannot be read. Retrying cannot help
/// until the item is repaired; the player stays in the wake index, so every tick meets it again
/// (and counts it again) until then.
pub(crate) fn note_unreadable(services: &Services, player_id: &str, error: &StoreError) {
    services.metrics.player_unreadable();
    tracing::error!(
        player_id,
        %error,
        outcome = "unreadable",
        "the player's stored item cannot be read; it is skipped until repaired"
    );
}

/// A change that went through.
pub(crate) struct Updated<T> {
    pub value: T,
    /// The plan written, if anything was.
    pub plan: Option<Plan>,
}

/// Loads one player with its queue. An unreadable item is logged, counted and returned as its
/// permanent error.
pub(crate) async fn load_player(
    services: &Services,
    player_id: &str,
) -> Result<Option<PlayerState>, StoreError> {
    let ids = std::slice::from_ref(&player_id.to_owned()).to_vec();
    let loaded = services
        .game
        .build_while(services.store.load_players(&ids))
        .await?;
    loaded_one(services, player_id, loaded)
}

/// Loads one player with the connection ids listed with it (the same read: [`Loaded::connections`]),
/// relaxed ([`GameStore::load_players_relaxed`]) or consistent.
///
/// [`Loaded::connections`]: crate::ports::Loaded::connections
/// [`GameStore::load_players_relaxed`]: crate::ports::GameStore::load_players_relaxed
pub(crate) async fn load_player_listed(
    services: &Services,
    player_id: &str,
    relaxed: bool,
) -> Result<Option<(PlayerState, Vec<String>)>, StoreError> {
    let ids = std::slice::from_ref(&player_id.to_owned()).to_vec();
    let mut loaded = if relaxed {
        services.store.load_players_relaxed(&ids).await?
    } else {
        services.store.load_players(&ids).await?
    };
    let connections = loaded.connections.remove(player_id).unwrap_or_default();
    Ok(loaded_one(services, player_id, loaded)?.map(|state| (state, connections)))
}

fn loaded_one(
    services: &Services,
    player_id: &str,
    loaded: crate::ports::Loaded,
) -> Result<Option<PlayerState>, StoreError> {
    if let Some((_, error)) = loaded
        .unreadable
        .into_iter()
        .find(|(id, _)| id == player_id)
    {
        note_unreadable(services, player_id, &error);
        return Err(error);
    }
    Ok(loaded
        .players
        .into_iter()
        .find(|s| s.player.player_id == player_id))
}

/// Applies `decide` to the game and the player's current state and commits the plan it returns
/// (one conditional write, [`Commit::of`]; its outbox is performed later, from the store's
/// feed), arms the wake-ups the write set as soon as it succeeded ([`wake_ups`]), reloading
/// and deciding again after a conflict (or a transient failure, whose write may have
/// happened), up to `config.commit_attempts` tries in all. `loaded` skips the first read.
///
/// A plan that names the current catalog ([`Plan::records_catalog`]) is written only once
/// that catalog is kept in the catalog store ([`Services::register_catalog`], once per
/// process); a failure to store it fails the attempt like a failed write.
///
/// The game `decide` gets is the services' with the earlier catalogs the player's tasks
/// recorded ([`Catalogs::needed`](crate::catalogs::Catalogs::needed)), so a task that started
/// under another catalog settles under it. A failure to read one counts as a failed read of
/// the player.
pub(crate) async fn update_player<T>(
    services: &Services,
    player_id: &str,
    loaded: Option<PlayerState>,
    decide: impl FnMut(&Game<'_>, &PlayerState) -> Result<Decision<T>, Rejection>,
) -> Result<Updated<T>, UpdateError> {
    update(services, player_id, loaded, None, decide).await
}

/// As [`update_player`], for a player who may have no item yet: one that has none is
/// [`PlayerState::starter`] at `now`, and the write that creates it is conditional on no item existing
/// (two first writes at once: one wins, the other reloads and decides again over it). A
/// decision that writes nothing leaves the player without an item.
pub(crate) async fn update_or_create_player<T>(
    services: &Services,
    player_id: &str,
    now: Millis,
    decide: impl FnMut(&Game<'_>, &PlayerState) -> Result<Decision<T>, Rejection>,
) -> Result<Updated<T>, UpdateError> {
    update(services, player_id, None, Some(now), decide).await
}

async fn update<T>(
    services: &Services,
    player_id: &str,
    loaded: Option<PlayerState>,
    create_at: Option<Millis>,
    mut decide: impl FnMut(&Game<'_>, &PlayerState) -> Result<Decision<T>, Rejection>,
) -> Result<Updated<T>, UpdateError> {
    let attempts = services.config.commit_attempts.max(1);
    let mut state = loaded;
    let mut last = UpdateError::Contended(0);
    let mut conflicts = 0;
    for _ in 0..attempts {
        let mut creating = false;
        let current = match state.take() {
            Some(current) => current,
            None => match load_player(services, player_id).await {
                Ok(Some(current)) => current,
                Ok(None) => match create_at {
                    Some(now) => {
                        creating = true;
                        PlayerState::starter(player_id, now, &services.game)
                    }
                    None => return Err(UpdateError::NoPlayer),
                },
                Err(e) if e.is_retryable() => {
                    last = UpdateError::Store(e);
                    continue;
                }
                Err(e) => return Err(UpdateError::Store(e)),
            },
        };
        let held = match services
            .catalogs
            .needed(&services.game, &current.queue)
            .await
        {
            Ok(held) => held,
            Err(e) if e.is_retryable() => {
                tracing::warn!(player_id, error = %e, "transient failure reading a catalog; retrying");
                last = UpdateError::Store(e);
                continue;
            }
            Err(e) => return Err(UpdateError::Store(e)),
        };
        let game = held.game(&services.game);
        let (plan, value) = match decide(&game, &current).map_err(UpdateError::Rejected)? {
            Decision::Done(value) => return Ok(Updated { value, plan: None }),
            Decision::Write(plan, value) if plan.is_empty() => {
                return Ok(Updated { value, plan: None })
            }
            Decision::Write(plan, value) => (*plan, value),
        };
        let Some(mut commit) = Commit::of(&current, &plan) else {
            return Ok(Updated { value, plan: None });
        };
        if creating {
            commit.expected_version = None;
        }
        // A write that names the current catalog (a task started or settled under it) waits
        // until the catalog is kept in the store: once per process.
        let registered = if plan.records_catalog(&services.game.catalog_hash) {
            services.register_catalog().await.map(drop)
        } else {
            Ok(())
        };
        if let Err(e) = registered {
            tracing::error!(
                player_id,
                catalog_hash = %services.game.catalog_hash,
                error = %e,
                "cannot store the catalog in the catalog store; the write that names it waits"
            );
            if e.is_retryable() {
                last = UpdateError::Store(e);
                continue;
            }
            return Err(UpdateError::Store(e));
        }
        match services.store.commit(&commit).await {
            Ok(()) => {
                arm(services, player_id, &wake_ups(&current, &commit, &plan)).await;
                return Ok(Updated {
                    value,
                    plan: Some(plan),
                });
            }
            Err(StoreError::Conflict(reason)) => {
                conflicts += 1;
                tracing::debug!(player_id, %reason, "conflict; reloading the player");
                last = UpdateError::Contended(conflicts);
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(player_id, error = %e, "transient store failure; retrying");
                last = UpdateError::Store(e);
            }
            Err(e) => {
                services.metrics.player_unwritable();
                tracing::error!(
                    player_id,
                    error = %e,
                    outcome = "unwritable",
                    "the store refused the player's write for good"
                );
                return Err(UpdateError::Store(e));
            }
        }
    }
    Err(last)
}

/// Arms the wake-ups of a write that succeeded. A failure is logged, not returned: the write
/// stands, and the ticker's sweep of the wake index advances the player at its next tick (a
/// progress update, which changes nothing, is lost).
async fn arm(services: &Services, player_id: &str, at: &[idle_core::model::Millis]) {
    if at.is_empty() {
        return;
    }
    if let Err(error) = services.waker.arm_all(player_id, at).await {
        tracing::warn!(
            player_id,
            ?at,
            %error,
            outcome = "unarmed",
            "could not arm the wake-ups of a committed write; the ticker's sweep will find it"
        );
    }
}
