//! Performing committed outboxes: what the Players table's stream drives on AWS and the store's
//! feed drives in the local runtime (DESIGN.md section 12).
//!
//! Records are grouped by player in first-seen order. Each player's outboxes are performed one
//! after the other, in stream order, with one listing of its connections for all of them, so its notifications reach every connection in `seq`
//! order; different players are performed concurrently. Performing an outbox puts its history
//! records if absent and posts its notifications (keeping those no connection received): both
//! idempotent, so a redelivered record repeats nothing a client cannot recognise (a repeated
//! notification has the same `seq`). Wake-ups are not performed here: the writer armed them
//! when its write succeeded (`crate::outbox::wake_ups`).
//!
//! A record that cannot be performed for a transient reason (the history put or the inbox
//! write failed) is reported as a batch item failure, and the
//! player's later records in the batch are left for the redelivery, which starts at the lowest
//! reported sequence number (AWS Lambda Developer Guide, "Configuring partial batch response
//! with DynamoDB and Lambda"). Malformed records are logged in full, counted and skipped: they
//! can never succeed, so they must not block the shard.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::deliver::{deliver_to, Recipients};
use crate::outbox::OutboxRecord;
use crate::services::Services;

/// A record that can never be processed, with the record itself for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct MalformedRecord {
    pub reason: String,
    pub sequence_number: Option<String>,
    pub record: serde_json::Value,
}

/// A record of a batch: an outbox to perform, or malformed.
pub type BatchRecord = Result<OutboxRecord, MalformedRecord>;

/// What a batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub records: usize,
    /// Distinct players named by well-formed records.
    pub players: usize,
    /// Outboxes performed in full.
    pub performed: usize,
    /// Notifications that reached at least one connection.
    pub delivered: usize,
    /// Notifications kept for `sync` because no connection received them.
    pub kept: usize,
    /// History records put (or found already there).
    pub history: usize,
    pub malformed: usize,
    /// Players with a record that could not be performed; their first such record is in
    /// `failures`, and their later records wait for the redelivery.
    pub failed_players: usize,
    /// Sequence numbers to report as batch item failures, in batch order.
    pub failures: Vec<String>,
}

/// Why one outbox could not be performed.
#[derive(Debug)]
struct Unperformed(String);

/// What performing one player's records did.
#[derive(Debug, Default)]
struct PlayerReport {
    performed: usize,
    delivered: usize,
    kept: usize,
    history: usize,
    /// The sequence number of the record that failed, if one did.
    failed_at: Option<String>,
}

/// Performs one stream batch. Never fails as a whole: transient trouble is reported per player.
pub async fn perform_batch(services: &Services, records: Vec<BatchRecord>) -> BatchReport {
    let mut report = BatchReport {
        records: records.len(),
        ..BatchReport::default()
    };
    let mut groups: Vec<(String, Vec<OutboxRecord>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for record in records {
        match record {
            Ok(record) => {
                let i = *index.entry(record.player_id.clone()).or_insert_with(|| {
                    groups.push((record.player_id.clone(), Vec::new()));
                    groups.len() - 1
                });
                groups[i].1.push(record);
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
    let concurrency = services.config.ticker_concurrency.max(1);
    let mut done: Vec<(usize, PlayerReport)> = stream::iter(groups.into_iter().enumerate())
        .map(|(i, (player_id, records))| async move {
            (i, perform_player(services, &player_id, records).await)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    for (_, player) in done {
        report.performed += player.performed;
        report.delivered += player.delivered;
        report.kept += player.kept;
        report.history += player.history;
        if let Some(sequence_number) = player.failed_at {
            report.failed_players += 1;
            report.failures.push(sequence_number);
        }
    }
    tracing::info!(
        records = report.records,
        players = report.players,
        performed = report.performed,
        delivered = report.delivered,
        kept = report.kept,
        history = report.history,
        malformed = report.malformed,
        failures = report.failures.len(),
        "batch"
    );
    report
}

/// Performs one player's records in order, stopping at the first that fails.
async fn perform_player(
    services: &Services,
    player_id: &str,
    records: Vec<OutboxRecord>,
) -> PlayerReport {
    let mut report = PlayerReport::default();
    // The player's connections, listed once for all its records.
    let mut recipients = Recipients::default();
    for record in records {
        match perform(services, &record, &mut recipients, &mut report).await {
            Ok(()) => report.performed += 1,
            Err(Unperformed(reason)) => {
                tracing::error!(
                    player_id,
                    version = record.version,
                    sequence_number = %record.sequence_number,
                    %reason,
                    outcome = "retry",
                    "could not perform the outbox; reporting it for redelivery"
                );
                report.failed_at = Some(record.sequence_number);
                break;
            }
        }
    }
    report
}

/// Performs one outbox: history first (a client told of a completion can replay it), then the
/// notifications.
async fn perform(
    services: &Services,
    record: &OutboxRecord,
    recipients: &mut Recipients,
    report: &mut PlayerReport,
) -> Result<(), Unperformed> {
    let outbox = &record.outbox;
    if !outbox.history.is_empty() {
        services
            .store
            .put_history(&outbox.history)
            .await
            .map_err(|e| Unperformed(format!("history: {e}")))?;
        report.history += outbox.history.len();
    }
    if !outbox.audit.is_empty() {
        services
            .store
            .put_audit(&outbox.audit)
            .await
            .map_err(|e| Unperformed(format!("audit: {e}")))?;
        report.history += outbox.audit.len();
    }
    let delivery = deliver_to(
        services,
        &record.player_id,
        recipients,
        &outbox.notifications,
        &[],
    )
    .await;
    report.delivered += delivery.delivered;
    report.kept += delivery.stored;
    if delivery.lost > 0 {
        return Err(Unperformed(format!(
            "{} notifications neither delivered nor kept",
            delivery.lost
        )));
    }
    Ok(())
}
