//! The connection cleaner: drop connections past their lifetime, idle ones, and ones the
//! gateway no longer knows. Reads every page of the connection table.

use futures::StreamExt;
use serde::Serialize;

use super::{concurrently, pages, PageError};
use crate::ports::{Connection, PostError};
use crate::services::Services;

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    pub pages: usize,
    pub scanned: usize,
    /// Past the connection lifetime (2 h after connecting) or the expiry of its token.
    pub expired: usize,
    /// Idle past the idle timeout by the gateway's `last_active_at`.
    pub idle: usize,
    /// Unknown to the gateway (410 Gone) and past the handshake window.
    pub gone: usize,
    pub kept: usize,
    /// Failed reads or deletes (retried by the next sweep).
    pub errors: usize,
}

enum Verdict {
    Expired,
    Idle,
    Gone,
    Keep,
    Unknown,
}

/// Sweeps every connection once.
pub async fn clean(services: &Services) -> CleanReport {
    let now = services.clock.now();
    let mut report = CleanReport::default();
    let mut scan = std::pin::pin!(pages(|cursor| services
        .connections
        .scan_connections(cursor)));
    while let Some(page) = scan.next().await {
        let items = match page {
            Ok(items) => items,
            Err(PageError::Read(error)) => {
                tracing::error!(%error, "clean: could not scan connections");
                report.errors += 1;
                continue;
            }
            Err(PageError::RepeatedCursor) => {
                tracing::error!("clean: the scan returned the same cursor twice");
                report.errors += 1;
                continue;
            }
        };
        report.pages += 1;
        report.scanned += items.len();
        let verdicts = concurrently(services, items, |connection| async move {
            sweep(services, connection, now).await
        })
        .await;
        for (verdict, deleted) in verdicts {
            match verdict {
                Verdict::Expired => report.expired += 1,
                Verdict::Idle => report.idle += 1,
                Verdict::Gone => report.gone += 1,
                Verdict::Keep => report.kept += 1,
                Verdict::Unknown => {
                    report.kept += 1;
                    report.errors += 1;
                }
            }
            if !deleted {
                report.errors += 1;
            }
        }
    }
    tracing::info!(
        scanned = report.scanned,
        expired = report.expired,
        idle = report.idle,
        gone = report.gone,
        kept = report.kept,
        errors = report.errors,
        "connections cleaned"
    );
    report
}

/// Decides about one connection and deletes it if it must go; the bool is false when a needed
/// delete failed.
async fn sweep(services: &Services, connection: Connection, now: i64) -> (Verdict, bool) {
    let config = &services.config;
    let id = connection.connection_id.as_str();
    let verdict = if now >= connection.ends_at(config.connection_ttl_ms) {
        Verdict::Expired
    } else {
        match services.notifier.connection_info(id).await {
            Ok(info) if now.saturating_sub(info.last_active_at) >= config.idle_timeout_ms => {
                Verdict::Idle
            }
            Ok(_) => Verdict::Keep,
            // A connection still in its `$connect` is Gone to the gateway too.
            Err(PostError::Gone) if connection.gone_is_final(now) => Verdict::Gone,
            Err(PostError::Gone) => Verdict::Keep,
            Err(error) => {
                tracing::warn!(connection_id = id, %error, "clean: could not ask the gateway");
                Verdict::Unknown
            }
        }
    };
    if matches!(verdict, Verdict::Keep | Verdict::Unknown) {
        return (verdict, true);
    }
    if matches!(verdict, Verdict::Expired | Verdict::Idle) {
        // Close it at the gateway first, so the client reconnects instead of waiting on a
        // socket nobody posts to. Best effort: the row goes either way.
        if let Err(error) = services.notifier.close(id).await {
            tracing::warn!(connection_id = id, %error, "clean: could not close");
        }
    }
    // Conditional on the row read by the scan: a row replaced since then is not this one.
    match services.connections.delete_connection_if(&connection).await {
        Ok(deleted) => {
            if deleted {
                tracing::info!(connection_id = id, player_id = %connection.player_id, "clean: removed");
            }
            (verdict, true)
        }
        Err(error) => {
            tracing::warn!(connection_id = id, %error, "clean: could not delete");
            (verdict, false)
        }
    }
}
