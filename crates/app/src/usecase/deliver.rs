//! Delivering notifications: to every live connection of the player, or else to the inbox.

use std::collections::BTreeSet;

use idle_core::protocol::{Notification, Progress};
use serde::Serialize;

use super::disconnect::forget_gone;
use crate::ports::{Connection, PostError};
use crate::services::Services;

/// What happened to a batch of notifications.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Notifications that reached at least one connection.
    pub delivered: usize,
    /// Successful posts (a notification to two connections is two).
    pub posts: usize,
    /// Notifications that reached no connection and went to the inbox.
    pub stored: usize,
    /// Connections the gateway answered 410 Gone for (deleted when past the handshake window).
    pub gone: usize,
    /// Notifications neither delivered nor stored (the inbox write failed).
    pub lost: usize,
}

/// Posts each notification, in order, to every connection of the player, then the ephemeral
/// progress updates (never kept: a client that misses one interpolates from `ends_at`). A connection that is
/// gone is deleted if it is past its handshake ([`forget_gone`]); a notification that reached no connection is stored in the inbox (with the
/// configured TTL). Delivery never fails the caller: the state change it announces is already
/// written, and `sync` shows it.
pub async fn deliver(
    services: &Services,
    player_id: &str,
    notifications: &[Notification],
    progress: &[Progress],
) -> Delivery {
    deliver_to(
        services,
        player_id,
        &mut Recipients::default(),
        notifications,
        progress,
    )
    .await
}

/// One player's connections, listed at the first [`deliver_to`] that has something to post and
/// kept for the next ones: a stream batch performs several outboxes of one player in a row,
/// and one `Query` of the connections serves them all. A connection deleted as gone is dropped
/// from the list; one kept (a 410 during its handshake window) stays in it, as a new listing
/// would return it. A listing that failed is not kept: the next delivery lists again.
#[derive(Debug, Default)]
pub struct Recipients(Option<Vec<Connection>>);

/// [`deliver`] to the connections `recipients` holds, listing them first if it holds none.
pub async fn deliver_to(
    services: &Services,
    player_id: &str,
    recipients: &mut Recipients,
    notifications: &[Notification],
    progress: &[Progress],
) -> Delivery {
    let mut report = Delivery::default();
    if notifications.is_empty() && progress.is_empty() {
        return report;
    }
    let (connections, listed) = match recipients.0.take() {
        Some(connections) => (connections, true),
        None => match services.connections.player_connections(player_id).await {
            Ok(connections) => (connections, true),
            Err(error) => {
                tracing::warn!(player_id, %error, "could not list connections; storing notifications");
                (Vec::new(), false)
            }
        },
    };
    let now = services.clock.now();
    let mut gone = BTreeSet::new();
    let mut undelivered = Vec::new();
    for notification in notifications {
        let payload = match serde_json::to_vec(notification) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(player_id, seq = notification.seq, %error, "unserialisable notification");
                report.lost += 1;
                continue;
            }
        };
        let posts = post_to_all(services, player_id, &connections, &mut gone, &payload).await;
        report.posts += posts;
        if posts > 0 {
            report.delivered += 1;
        } else {
            undelivered.push(notification.clone());
        }
    }
    for update in progress {
        let Ok(payload) = serde_json::to_vec(update) else {
            continue;
        };
        report.posts += post_to_all(services, player_id, &connections, &mut gone, &payload).await;
    }
    let mut deleted = BTreeSet::new();
    for connection in connections
        .iter()
        .filter(|c| gone.contains(&c.connection_id))
    {
        if forget_gone(services, connection, now).await {
            deleted.insert(connection.connection_id.clone());
        }
    }
    report.gone = gone.len();
    if listed {
        recipients.0 = Some(
            connections
                .into_iter()
                .filter(|c| !deleted.contains(&c.connection_id))
                .collect(),
        );
    }
    if !undelivered.is_empty() {
        let expires_at = now
            .saturating_add(services.config.inbox_ttl_ms)
            .div_euclid(1000);
        match services
            .inbox
            .store(player_id, &undelivered, expires_at)
            .await
        {
            Ok(()) => report.stored = undelivered.len(),
            Err(error) => {
                tracing::error!(player_id, %error, count = undelivered.len(), "could not store notifications in the inbox");
                report.lost += undelivered.len();
            }
        }
    }
    services.metrics.delivery(&report);
    tracing::info!(
        player_id,
        delivered = report.delivered,
        stored = report.stored,
        gone = report.gone,
        lost = report.lost,
        "notifications"
    );
    report
}

/// Posts `payload` to every connection not yet found gone, adding those that answer 410 to
/// `gone`; returns how many posts succeeded.
async fn post_to_all(
    services: &Services,
    player_id: &str,
    connections: &[Connection],
    gone: &mut BTreeSet<String>,
    payload: &[u8],
) -> usize {
    let mut posts = 0;
    for connection in connections {
        let id = connection.connection_id.as_str();
        if gone.contains(id) {
            continue;
        }
        match services.notifier.post(id, payload).await {
            Ok(()) => posts += 1,
            Err(PostError::Gone) => {
                gone.insert(id.to_owned());
            }
            Err(error) => {
                tracing::warn!(player_id, connection_id = id, %error, "post failed");
            }
        }
    }
    posts
}
