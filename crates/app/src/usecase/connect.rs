//! `$connect`: verify the token, record a returning player's activity, store the connection.

use idle_core::model::EpochSecs;

use super::update::{load_player_listed, update_player, Decision, UpdateError};
use crate::auth::{self, AuthError};
use crate::metrics::record_plan;
use crate::ports::{Connection, StoreError};
use crate::services::Services;

/// A connection that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub player_id: String,
    pub is_admin: bool,
    /// True when the player has no item yet (a new player: its first write creates it).
    pub created: bool,
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// No token: 401.
    #[error("no token; connect with ?token=<JWT>")]
    Unauthorized,
    /// A token that does not verify: 403.
    #[error("token refused: {0}")]
    Forbidden(AuthError),
    /// This function has no token secret: 500.
    #[error("TOKEN_SECRET is not configured")]
    NotConfigured,
    /// The store failed: 500 (the client reconnects).
    #[error(transparent)]
    Store(StoreError),
}

impl ConnectError {
    /// The HTTP status `$connect` answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            ConnectError::Unauthorized => 401,
            ConnectError::Forbidden(_) => 403,
            ConnectError::NotConfigured | ConnectError::Store(_) => 500,
        }
    }
}

/// Verifies `token` and registers the connection for its player. A returning player's connect
/// is recorded as activity (one conditional write); a new player's writes nothing to the
/// players: its first message's write creates it with the starter kit.
pub async fn connect(
    services: &Services,
    connection_id: &str,
    token: Option<&str>,
) -> Result<Connected, ConnectError> {
    let now = services.clock.now();
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        tracing::info!(
            connection_id,
            outcome = "unauthorized",
            "connect refused: no token"
        );
        return Err(ConnectError::Unauthorized);
    };
    let Some(secret) = services.config.token_secret.as_ref() else {
        tracing::error!(
            connection_id,
            "connect refused: TOKEN_SECRET is not configured"
        );
        return Err(ConnectError::NotConfigured);
    };
    // During a token secret rotation the previous secret verifies too (docs/operations.md).
    let previous = services
        .config
        .previous_token_secret
        .as_ref()
        .map(|s| s.expose());
    let (identity, token_key) = auth::verify_rotating(secret.expose(), previous, token, now)
        .map_err(|error| {
            tracing::info!(connection_id, outcome = "forbidden", %error, "connect refused");
            ConnectError::Forbidden(error)
        })?;
    let player_id = identity.player_id;
    // A new player's item is created by its first write (an enqueue, a sync, ...), not here:
    // a connect that created it would be overwritten by that write at once.
    let created = !record_activity(services, &player_id, now).await;
    let mut connection = Connection {
        connection_id: connection_id.to_owned(),
        player_id: player_id.clone(),
        is_admin: identity.is_admin,
        connected_at: now,
        // `exp` is in seconds (RFC 7519); an absurd one saturates instead of wrapping.
        token_expires_at: i64::try_from(identity.expires_at)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000),
        expires_at: EpochSecs(0),
    };
    // The row lives until the token expires or the connection lifetime ends, whichever is
    // first; the cleaner removes it then (DynamoDB's TTL deletion is only a backstop).
    connection.expires_at =
        EpochSecs::floor_millis(connection.ends_at(services.config.connection_ttl_ms));
    services
        .connections
        .put_connection(&connection)
        .await
        .map_err(|error| {
            tracing::error!(connection_id, player_id, %error, "connect failed: connection");
            ConnectError::Store(error)
        })?;
    tracing::info!(
        connection_id,
        player_id,
        is_admin = identity.is_admin,
        created,
        token_key = token_key.as_str(),
        outcome = "connected",
        "connect"
    );
    Ok(Connected {
        player_id,
        is_admin: identity.is_admin,
        created,
    })
}

/// Records a returning player's connect as activity (the offline cap counts from it, and
/// tasks paused at the cap resume): one conditional write through the usual commit path. The
/// time is the server's clock; nothing the client sends is an input. Returns `false` when the
/// player has no item (a new player, left without one), else `true`. Best effort: a failure is
/// logged and the connection still opens (its first message records the activity too).
async fn record_activity(
    services: &Services,
    player_id: &str,
    now: idle_core::model::Millis,
) -> bool {
    // Read relaxed (half the read units on DynamoDB): a stale copy of a returning player
    // costs a failed conditional write and a consistent re-read (the commit path's), and a
    // copy that lags a player created a moment ago leaves its activity to its next message.
    let loaded = match load_player_listed(services, player_id, true).await {
        Ok(Some((state, _))) => Some(state),
        Ok(None) => return false,
        Err(_) => None,
    };
    let result = update_player(services, player_id, loaded, |game, state| {
        let plan = idle_core::touch(game, &state.player, &state.queue, now);
        Ok(Decision::Write(Box::new(plan), ()))
    })
    .await;
    match result {
        Ok(updated) => {
            if let Some(plan) = updated.plan {
                record_plan(&services.metrics, player_id, &plan);
            }
            true
        }
        Err(UpdateError::NoPlayer) => false,
        Err(error) => {
            tracing::warn!(player_id, %error, "connect: could not record activity");
            true
        }
    }
}
