//! `$disconnect`: forget the connection. Best effort: the cleaner catches what this misses.

use crate::ports::StoreError;
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
