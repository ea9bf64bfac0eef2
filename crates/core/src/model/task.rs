//! A task: one queued request and everything that happened to it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Equipped, Millis, TaskRequest};
use crate::rules::Outcome;

/// A task in the player's queue. Final states are never left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub player_id: String,
    /// Unique per player and sorts in enqueue order.
    pub task_id: String,
    /// The client's idempotency key.
    pub request_id: String,
    pub request: TaskRequest,
    /// Set only for admin tokens: skips dynamic validation (audited by the caller).
    #[serde(default)]
    pub bypass_validation: bool,
    pub status: TaskStatus,
    pub enqueued_at: Millis,
    pub started_at: Option<Millis>,
    pub ends_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// Transient failures so far.
    pub attempts: u32,
    /// When a `retrying` task may start again.
    pub retry_at: Option<Millis>,
    /// The `version` label of the catalog its outcome is computed with.
    pub rules_version: u32,
    /// The [content hash](crate::catalog::Catalog::content_hash) of the catalog the task started
    /// under, set at start, and then of the one its outcome was computed with (the same, unless
    /// the game no longer holds it). `None` while queued (a queued task is checked against the
    /// current catalog when it starts; not storing the hash on queued tasks saves item bytes,
    /// about 0.8 write units per completed task in the cost workload) and on tasks stored before
    /// hashes were recorded, which complete under the current catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_hash: Option<String>,
    /// What the outcome depends on, frozen at start.
    pub snapshot: Option<Snapshot>,
    pub result: Option<TaskResult>,
    pub failure: Option<Failure>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Queued,
    Running,
    Retrying,
    Completed,
    Cancelled,
    Rejected,
    Failed,
}

impl TaskStatus {
    /// Completed, cancelled, rejected and failed tasks never change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed
                | TaskStatus::Cancelled
                | TaskStatus::Rejected
                | TaskStatus::Failed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Retrying => "retrying",
            TaskStatus::Completed => "completed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Rejected => "rejected",
            TaskStatus::Failed => "failed",
        }
    }
}

/// The inputs of a task's outcome, frozen when it starts. With the seed and the rules version it
/// determines the outcome exactly, which makes any stored task replayable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub character_level: u32,
    /// Level of the skill the activity trains.
    pub skill_level: u32,
    /// Time of one action with the player's bonuses.
    pub action_ms: u64,
    /// Gear in use at start, by slot.
    pub gear: BTreeMap<String, Equipped>,
    /// Pity counters of the target's rare drops at start.
    #[serde(default)]
    pub pity: BTreeMap<String, u32>,
    /// Materials taken from the inventory at start (crafting inputs for every craft).
    #[serde(default)]
    pub reserved: BTreeMap<String, u64>,
}

/// What a finished task gave and gave back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub outcome: Outcome,
    /// Reserved materials returned: preserved in crafting, or the unused part of a cancelled task.
    #[serde(default)]
    pub refunded: BTreeMap<String, u64>,
}

/// Why a task was rejected or failed, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: String,
    pub message: String,
}
