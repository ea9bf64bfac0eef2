//! `$disconnect`: forget the connection. Best effort: the cleaner catches what this misses.

use idle_core::model::Millis;

use crate::ports::{Connection, StoreError};
use crate::services::Services;

/// Deletes the connection. A failure is logged and returned; the caller need not act on it.
pub async fn disconnect(services: &Services, connection_id: &str) -> Result<(), StoreError> {
    match services.connections.delete_connection(connection_id).await {
        Ok(()) => {
            tracing::info!(connection_id, outcome = "disconnected", "disconnect");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(connection_id, %error, "disconnect: delete failed; the cleaner will retry");
            Err(error)
        }
    }
}

/// What to do with a connection the gateway answered 410 Gone for. A single Gone is not proof
/// that the client left: during its `$connect` (up to
/// [`HANDSHAKE_WINDOW_MS`](crate::ports::HANDSHAKE_WINDOW_MS)) the gateway
/// answers Gone for a connection it is still opening. So the row is deleted only if it is
/// older than that window, and only if it is still the very record read before the post (a
/// conditional delete). Returns whether it was deleted; younger rows are left to
/// `$disconnect` and the cleaner.
pub(crate) async fn forget_gone(services: &Services, connection: &Connection, now: Millis) -> bool {
    let id = connection.connection_id.as_str();
    if !connection.gone_is_final(now) {
        tracing::info!(
            connection_id = id,
            "410 Gone during the handshake window; keeping the connection"
        );
        return false;
    }
    match services.connections.delete_connection_if(connection).await {
        Ok(deleted) => deleted,
        Err(error) => {
            tracing::warn!(connection_id = id, %error, "could not delete a gone connection");
            false
        }
    }
}

/// [`forget_gone`] for a connection known only by id: reads its row first. With
/// `listed_with`, the id is listed with that player, and one whose row is gone already (its
/// unlisting failed after the row's delete) is unlisted. Returns whether the connection was
/// forgotten.
pub(crate) async fn forget_gone_id(
    services: &Services,
    connection_id: &str,
    listed_with: Option<&str>,
    now: Millis,
) -> bool {
    let connection = match services.connections.get_connection(connection_id).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(connection_id, %error, "could not read a gone connection");
            return false;
        }
    };
    if let Some(connection) = connection {
        return forget_gone(services, &connection, now).await;
    }
    let Some(player_id) = listed_with else {
        return false;
    };
    match services
        .connections
        .unlist_connection(player_id, connection_id)
        .await
    {
        Ok(()) => {
            tracing::info!(
                player_id,
                connection_id,
                "unlisted a connection without a row"
            );
            true
        }
        Err(error) => {
            tracing::warn!(player_id, connection_id, %error, "could not unlist a gone connection");
            false
        }
    }
}
