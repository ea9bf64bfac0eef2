//! The task stream: advance every player a batch of records names.
//!
//! Records are grouped by player in first-seen order, every player of the batch is loaded with
//! one `load_players` call, and each is advanced and committed independently. A player that
//! could not be committed reports the sequence number of its *first* record in the batch: Lambda
//! resumes the shard at the lowest reported number, and redoing everything after it is safe
//! because advancing is idempotent. Malformed records are logged in full, counted and skipped:
//! they can never succeed, so they must not block the shard.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::advance::advance_player;
use super::update::UpdateError;
use crate::ports::StoreError;
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
    /// Players that could not be committed; their first records are in `failures`.
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
    let mut loaded = match load_all(services, &ids).await {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::error!(%error, players = ids.len(), "could not load the batch's players");
            report.failed_players = groups.len();
            report.failures = groups.into_iter().map(|g| g.first_sequence).collect();
            return report;
        }
    };
    // Owned work items: a stream of borrowed ones makes the future lose `Send` (the closure's
    // lifetime is not general enough), and the Lambda runtime needs a `Send` handler.
    let work: Vec<(usize, String, String, usize, Option<PlayerState>)> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let state = loaded.remove(&g.player_id);
            (
                i,
                g.player_id.clone(),
                g.first_sequence.clone(),
                g.records,
                state,
            )
        })
        .collect();
    let concurrency = services.config.ticker_concurrency.max(1);
    let mut outcomes: Vec<(usize, Outcome)> = stream::iter(work)
        .map(
            |(i, player_id, first_sequence, records, state)| async move {
                let Some(state) = state else {
                    return (i, Outcome::Unknown);
                };
                match advance_player(services, &player_id, Some(state), now).await {
                    Ok(advanced) => (i, Outcome::Advanced(advanced)),
                    Err(UpdateError::NoPlayer) => (i, Outcome::Unknown),
                    Err(error) => {
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
                }
            },
        )
        .buffer_unordered(concurrency)
        .collect()
        .await;
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
        failures = report.failures.len(),
        "batch"
    );
    report
}

enum Outcome {
    Advanced(super::advance::Advanced),
    Unknown,
    Failed,
}

/// One `load_players` call for the whole batch (the adapter splits it into reads of 100),
/// retried on transient errors.
async fn load_all(
    services: &Services,
    ids: &[String],
) -> Result<HashMap<String, PlayerState>, StoreError> {
    let mut last = None;
    for _ in 0..services.config.commit_attempts.max(1) {
        match services.store.load_players(ids).await {
            Ok(states) => {
                return Ok(states
                    .into_iter()
                    .map(|s| (s.player.player_id.clone(), s))
                    .collect())
            }
            Err(e) if e.is_retryable() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| StoreError::Transient("no attempt made".into())))
}
