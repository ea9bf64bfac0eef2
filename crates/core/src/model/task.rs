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
    /// A continuous task's current chunk (while it runs), or, on a chunk's history record, which
    /// chunk of which task it is. Absent for fixed tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<Chunk>,
    /// When the task stopped accruing progress at the player's offline cap (server time, ms
    /// since the epoch); the player's next activity resumes it. Absent while it accrues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<Millis>,
}

/// One chunk of a continuous task (docs/game-rules.md, "Continuous tasks"): the actions
/// `first_action .. first_action + quantity` of the task, rolled from the task's own seed, so a
/// chunk's outcome is the same slice of the task whatever the split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// 0 for the first chunk, then 1, 2, …
    pub index: u32,
    /// Actions of the task settled before this chunk (the roll index of its first action).
    pub first_action: u32,
    /// On a chunk's history record: the id of the continuous task it belongs to (whose seed it
    /// uses). Absent on the task itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
}

impl Chunk {
    /// The history record id of chunk `index` of task `task_id`: `<task_id>.<index, 6 digits>`,
    /// which sorts right after the task and in chunk order, and is the same on every retry, so
    /// a duplicate delivery puts the same record once.
    pub fn record_id(task_id: &str, index: u32) -> String {
        format!("{task_id}.{index:06}")
    }
}

impl Task {
    /// The id of the task whose seed rolls this record's actions: the continuous task for a
    /// chunk record, else the task itself.
    pub fn seed_task_id(&self) -> &str {
        self.chunk
            .as_ref()
            .and_then(|c| c.of.as_deref())
            .unwrap_or(&self.task_id)
    }

    /// The roll index of this record's first action: a chunk's offset in its task, else 0.
    pub fn first_action(&self) -> u32 {
        self.chunk.as_ref().map_or(0, |c| c.first_action)
    }
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
