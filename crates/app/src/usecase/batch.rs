//! The task stream: advance every player a batch of records names.
//!
//! Records are grouped by player in first-seen order, every player of the batch is loaded with
//! one `load_players` call, and each is advanced and committed independently. A player that
//! could not be committed reports the sequence number of its *first* record in the batch: Lambda
//! resumes the shard at the lowest reported number, and redoing everything after it is safe
//! because advancing is idempotent. Only transient trouble (a store fault, contention) is
//! reported that way. Malformed records are logged in full, counted and skipped: they can never
//! succeed, so they must not block the shard. Neither must a player with a permanent error of
//! its own (an item that cannot be read, a write the store refuses for good): it is logged in
//! full, counted in the metrics and left to the ticker (it stays due), and the batch's other
//! players are advanced as usual.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::advance::advance_player;
use super::update::{note_unreadable, UpdateError};
use crate::ports::{Loaded, StoreError};
use crate::services::Services;
use crate::state::PlayerState;

/// One stream record of the task table, as the handler read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// From the record's keys.
    pub player_id: String,
    /// From the record's keys, when present.
    pub task_id: Option<String>,
    /// The stream sequence number (what a batch item failure names).
    pub sequence_number: String,
    /// `INSERT`, `MODIFY` or `REMOVE`: every kind advances the player (it is idempotent).
    pub event_name: String,
}

/// A record that can never be processed, with the record itself for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct MalformedRecord {
    pub reason: String,
    pub sequence_number: Option<String>,
    pub record: serde_json::Value,
}

/// A record of a batch: usable, or malformed.
pub type BatchRecord = Result<TaskRecord, MalformedRecord>;

/// What a batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub records: usize,
    /// Distinct players named by well-formed records.
    pub players: usize,
    /// Players whose advance wrote something.
    pub players_advanced: usize,
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
    /// Players named by a record but not stored (nothing to do; not a failure).
    pub unknown_players: usize,
    pub malformed: usize,
    /// Players whose stored item cannot be read (corrupt): logged, counted as
    /// `PlayersUnreadable`, never batch item failures.
    pub unreadable_players: usize,
    /// Players whose advance failed for a reason retrying cannot fix (a write the store refuses
    /// for good, an item found unreadable on a reload): logged, never batch item failures.
    pub permanent_failures: usize,
    /// Players that could not be committed for a transient reason (a store fault, contention);
    /// their first records are in `failures`.
    pub failed_players: usize,
    /// Sequence numbers to report as batch item failures, in batch order.
    pub failures: Vec<String>,
}

struct Group {
    player_id: String,
    first_sequence: String,
    records: usize,
}

/// Processes one stream batch. Never fails as a whole: transient trouble is reported per player.
pub async fn process_batch(services: &Services, records: Vec<BatchRecord>) -> BatchReport {
    let now = services.clock.now();
    let mut report = BatchReport {
        records: records.len(),
        ..BatchReport::default()
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for record in records {
        match record {
            Ok(record) => {
                if let Some(&i) = index.get(&record.player_id) {
                    groups[i].records += 1;
                    continue;
                }
                index.insert(record.player_id.clone(), groups.len());
                tracing::debug!(
                    player_id = %record.player_id,
                    task_id = record.task_id.as_deref().unwrap_or(""),
                    event = %record.event_name,
                    sequence_number = %record.sequence_number,
                    "stream record"
                );
                groups.push(Group {
                    player_id: record.player_id,
                    first_sequence: record.sequence_number,
                    records: 1,
                });
            }
            Err(bad) => {
                report.malformed += 1;
                tracing::error!(
                    reason = %bad.reason,
                    sequence_number = bad.sequence_number.as_deref().unwrap_or(""),
                    record = %bad.record,
                    outcome = "malformed",
                    "skipping a malformed stream record"
                );
            }
        }
    }
    report.players = groups.len();
    if groups.is_empty() {
        return report;
    }
    let ids: Vec<String> = groups.iter().map(|g| g.player_id.clone()).collect();
    let (mut players, mut unreadable) = match load_all(services, &ids).await {
        Ok(mut loaded) => {
            let unreadable = std::mem::take(&mut loaded.unreadable);
            (loaded.players_by_id(), unreadable)
        }
        Err(error) => {
            tracing::error!(%error, players = ids.len(), "could not load the batch's players");
            report.failed_players = groups.len();
            report.failures = groups.into_iter().map(|g| g.first_sequence).collect();
            return report;
        }
    };
    let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
    // Owned work items: a stream of borrowed ones makes the future lose `Send` (the closure's
    // lifetime is not general enough), and the Lambda runtime needs a `Send` handler.
    let mut work: Vec<(usize, String, String, usize, Option<PlayerState>)> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if let Some(at) = unreadable.iter().position(|(id, _)| *id == g.player_id) {
            let (_, error) = unreadable.swap_remove(at);
            note_unreadable(services, &g.player_id, &error);
            tracing::error!(
                player_id = %g.player_id,
                sequence_number = %g.first_sequence,
                records = g.records,
                %error,
                outcome = "skipped",
                "the player cannot be read; not a batch item failure, left to the ticker"
            );
            outcomes.push((i, Outcome::Unreadable));
            continue;
        }
        let state = players.remove(&g.player_id);
        work.push((
            i,
            g.player_id.clone(),
            g.first_sequence.clone(),
            g.records,
            state,
        ));
    }
    let concurrency = services.config.ticker_concurrency.max(1);
    let advanced: Vec<(usize, Outcome)> = stream::iter(work)
        .map(
            |(i, player_id, first_sequence, records, state)| async move {
                let Some(state) = state else {
                    return (i, Outcome::Unknown);
                };
                match advance_player(services, &player_id, Some(state), now).await {
                    Ok(advanced) => (i, Outcome::Advanced(advanced)),
                    Err(UpdateError::NoPlayer) => (i, Outcome::Unknown),
                    Err(error) if error.is_transient() => {
                        tracing::error!(
                            player_id = %player_id,
                            sequence_number = %first_sequence,
                            records,
                            %error,
                            outcome = "retry",
                            "could not advance; reporting the player's first record"
                        );
                        (i, Outcome::Failed)
                    }
                    // Redelivering the batch cannot fix this player, and reporting it would
                    // hold up every later record of the shard: skip it (it stays due).
                    Err(error) => {
                        tracing::error!(
                            player_id = %player_id,
                            sequence_number = %first_sequence,
                            records,
                            %error,
                            outcome = "skipped",
                            "could not advance for good; not a batch item failure, left to the ticker"
                        );
                        (i, Outcome::Permanent)
                    }
                }
            },
        )
        .buffer_unordered(concurrency)
        .collect()
        .await;
    outcomes.extend(advanced);
    outcomes.sort_by_key(|(i, _)| *i);
    for (i, outcome) in outcomes {
        match outcome {
            Outcome::Advanced(a) => {
                report.players_advanced += usize::from(a.committed || a.recorded_failure);
                report.tasks_started += a.started;
                report.tasks_completed += a.completed;
                report.tasks_retried += a.retried;
                report.tasks_failed += a.failed;
                report.tasks_rejected += a.rejected;
            }
            Outcome::Unknown => {
                tracing::warn!(player_id = %groups[i].player_id, "stream record for an unknown player");
                report.unknown_players += 1;
            }
            Outcome::Unreadable => report.unreadable_players += 1,
            Outcome::Permanent => report.permanent_failures += 1,
            Outcome::Failed => {
                report.failed_players += 1;
                report.failures.push(groups[i].first_sequence.clone());
            }
        }
    }
    tracing::info!(
        records = report.records,
        players = report.players,
        advanced = report.players_advanced,
        started = report.tasks_started,
        completed = report.tasks_completed,
        retried = report.tasks_retried,
        failed = report.tasks_failed,
        rejected = report.tasks_rejected,
        malformed = report.malformed,
        unreadable = report.unreadable_players,
        permanent_failures = report.permanent_failures,
        failures = report.failures.len(),
        "batch"
    );
    report
}

enum Outcome {
    Advanced(super::advance::Advanced),
    Unknown,
    /// Its item cannot be read: skipped, left to the ticker.
    Unreadable,
    /// A permanent error of its own: skipped, left to the ticker.
    Permanent,
    /// Transient trouble: its first record is a batch item failure.
    Failed,
}

/// One `load_players` call for the whole batch (the adapter splits it into reads of 100),
/// retried on transient errors. A player that cannot be read is in the answer's `unreadable`,
/// not an error of the call.
async fn load_all(services: &Services, ids: &[String]) -> Result<Loaded, StoreError> {
    let mut last = None;
    for _ in 0..services.config.commit_attempts.max(1) {
        match services.store.load_players(ids).await {
            Ok(loaded) => return Ok(loaded),
            Err(e) if e.is_retryable() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| StoreError::Transient("no attempt made".into())))
}
