//! Delivering notifications: to every live connection of the player, or else to the inbox.

use std::collections::BTreeSet;

use idle_core::model::EpochSecs;
use idle_core::protocol::{Notification, Progress};
use serde::Serialize;

use super::disconnect::forget_gone_id;
use crate::ports::PostError;
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

/// Posts each notification, in order, to every connection listed with the player
/// (`connections`: the ids the caller's read of the player carried, [`OutboxRecord::connections`]
/// or [`Loaded::connections`]; nothing is read to find them), then the ephemeral progress
/// updates (never kept: a client that misses one interpolates from `ends_at`). A connection that
/// answers 410 Gone is forgotten if it is past its handshake ([`forget_gone_id`]: its row read
/// and deleted, its id unlisted; one read and two writes, only on a 410); a notification that
/// reached no connection is stored in the inbox (with the configured TTL). Delivery never fails
/// the caller: the state change it announces is already written, and `sync` shows it.
///
/// [`OutboxRecord::connections`]: crate::outbox::OutboxRecord::connections
/// [`Loaded::connections`]: crate::ports::Loaded::connections
pub async fn deliver(
    services: &Services,
    player_id: &str,
    connections: &[String],
    notifications: &[Notification],
    progress: &[Progress],
) -> Delivery {
    let mut report = Delivery::default();
    if notifications.is_empty() && progress.is_empty() {
        return report;
    }
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
        let posts = post_to_all(services, player_id, connections, &mut gone, &payload).await;
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
        report.posts += post_to_all(services, player_id, connections, &mut gone, &payload).await;
    }
    for connection_id in &gone {
        forget_gone_id(services, connection_id, Some(player_id), now).await;
    }
    report.gone = gone.len();
    if !undelivered.is_empty() {
        let expires_at = EpochSecs::floor_millis(now.saturating_add(services.config.inbox_ttl_ms));
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
    // Every delivery is counted in the metrics; a line at INFO only for the ones an operator
    // looks into (kept for `sync`, a connection gone, a notification lost). One line per outbox
    // at INFO cost each stream batch's invocation about 0.05 ms a line, and a log ingestion.
    if report.stored + report.gone + report.lost == 0 {
        tracing::debug!(player_id, delivered = report.delivered, "notifications");
    } else {
        tracing::info!(
            player_id,
            delivered = report.delivered,
            stored = report.stored,
            gone = report.gone,
            lost = report.lost,
            "notifications"
        );
    }
    report
}

/// Posts `payload` to every connection not yet found gone, adding those that answer 410 to
/// `gone`; returns how many posts succeeded.
async fn post_to_all(
    services: &Services,
    player_id: &str,
    connections: &[String],
    gone: &mut BTreeSet<String>,
    payload: &[u8],
) -> usize {
    let mut posts = 0;
    for id in connections {
        let id = id.as_str();
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
