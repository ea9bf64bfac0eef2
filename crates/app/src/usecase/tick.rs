//! The ticker: advance every player whose wake-up time has come (a running task's end, a
//! progress update, a retry's backoff), shard by shard, page by page.
//!
//! Trouble stays with the player it belongs to: a player whose item cannot be read, or whose
//! advance fails, is logged and counted and the rest of the page goes on; it stays due, so the
//! next tick tries it again.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::advance::{advance_player, Advanced};
use super::update::{note_unreadable, UpdateError};
use super::{concurrently, pages, PageError};
use crate::services::Services;

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct TickReport {
    pub shards: u32,
    pub pages: usize,
    /// Player ids the wake index returned.
    pub due: usize,
    /// Players whose advance wrote something.
    pub advanced: usize,
    /// Task transitions of the plans written, by kind (counted from `Plan::transitions`, as the
    /// `Tasks*` metrics are).
    pub tasks_started: usize,
    pub tasks_completed: usize,
    /// Transient failures with a retry scheduled.
    pub tasks_retried: usize,
    /// Transient failures with the retries used up (final).
    pub tasks_failed: usize,
    /// Refused at start by dynamic validation (final).
    pub tasks_rejected: usize,
    /// Failed reads and players that could not be committed for a transient reason (they stay
    /// due for the next tick).
    pub errors: usize,
    /// Due players whose stored item cannot be read (corrupt): logged, counted as
    /// `PlayersUnreadable`, skipped; they stay due until repaired.
    pub unreadable_players: usize,
    /// Due players whose advance failed for a reason retrying cannot fix (a write the store
    /// refuses for good): logged, skipped; they stay due.
    pub permanent_failures: usize,
}

/// Advances every due player once, with at most `config.player_concurrency` at a time. Every
/// player whose `wake_at` is at or before the tick's start is visited, so a task completes
/// within one tick of its `ends_at`. The shards are read at the same time (one `Query` each in
/// flight, [`pages`]), and their pages advanced one after the other as they arrive.
pub async fn tick(services: &Services) -> TickReport {
    let now = services.clock.now();
    let shards = services.config.wake_shards.max(1);
    let mut report = TickReport {
        shards,
        ..TickReport::default()
    };
    let mut due = stream::select_all((0..shards).map(|shard| {
        pages(move |cursor| services.store.due_players(shard, now, cursor))
            .map(move |page| (shard, page))
            .boxed()
    }));
    while let Some((shard, page)) = due.next().await {
        match page {
            Ok(ids) => {
                report.pages += 1;
                report.due += ids.len();
                if !ids.is_empty() {
                    advance_page(services, &ids, now, &mut report).await;
                }
            }
            Err(PageError::Read(error)) => {
                tracing::error!(shard, %error, "tick: could not read the wake index");
                report.errors += 1;
            }
            Err(PageError::RepeatedCursor) => {
                tracing::error!(shard, "tick: the wake index returned the same cursor twice");
                report.errors += 1;
            }
        }
    }
    tracing::info!(
        shards = report.shards,
        due = report.due,
        advanced = report.advanced,
        started = report.tasks_started,
        completed = report.tasks_completed,
        retried = report.tasks_retried,
        failed = report.tasks_failed,
        rejected = report.tasks_rejected,
        errors = report.errors,
        unreadable = report.unreadable_players,
        permanent_failures = report.permanent_failures,
        "tick"
    );
    report
}

async fn advance_page(
    services: &Services,
    ids: &[String],
    now: idle_core::model::Millis,
    report: &mut TickReport,
) {
    // One batched read per page; a player the read missed is loaded on its own, one it could not
    // decode is skipped (reading it again would only fail again).
    let (mut loaded, unreadable): (HashMap<String, _>, _) =
        match services.store.load_players(ids).await {
            Ok(mut found) => {
                let unreadable = std::mem::take(&mut found.unreadable);
                (found.players_by_id(), unreadable)
            }
            Err(error) => {
                tracing::warn!(%error, "tick: batched read failed; loading players one by one");
                (HashMap::new(), Vec::new())
            }
        };
    for (player_id, error) in &unreadable {
        note_unreadable(services, player_id, error);
        report.unreadable_players += 1;
    }
    let work: Vec<_> = ids
        .iter()
        .filter(|id| !unreadable.iter().any(|(bad, _)| bad == *id))
        .map(|id| (id.clone(), loaded.remove(id)))
        .collect();
    let results = concurrently(services, work, |(id, state)| async move {
        let result = advance_player(services, &id, state, now).await;
        (id, result)
    })
    .await;
    for (player_id, result) in results {
        report.count(&player_id, result);
    }
}

impl TickReport {
    /// Folds one player's advance into the report; a failure is logged here (a transient one
    /// is an error the next tick retries, a permanent one leaves the player due).
    fn count(&mut self, player_id: &str, result: Result<Advanced, UpdateError>) {
        match result {
            Ok(a) => {
                self.advanced += usize::from(a.committed || a.recorded_failure);
                self.tasks_started += a.started;
                self.tasks_completed += a.completed;
                self.tasks_retried += a.retried;
                self.tasks_failed += a.failed;
                self.tasks_rejected += a.rejected;
            }
            Err(error) if error.is_transient() => {
                tracing::error!(player_id, %error, outcome = "retry", "tick: could not advance");
                self.errors += 1;
            }
            Err(error) => {
                tracing::error!(
                    player_id,
                    %error,
                    outcome = "skipped",
                    "tick: could not advance for good; the player stays due"
                );
                self.permanent_failures += 1;
            }
        }
    }
}
