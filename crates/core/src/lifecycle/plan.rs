//! A plan: the conditional writes and notifications one use case produced.

use serde::{Deserialize, Serialize};

use crate::model::{Activity, Millis, Player, Task, TaskStatus};
use crate::protocol::Notification;

/// Most tasks one plan moves to a final state. Each is a history record written with the plan,
/// so this keeps every plan far inside DynamoDB's transaction limits (100 items, 4 MB:
/// DynamoDB Developer Guide, "Amazon DynamoDB transactions") with the player's item beside
/// them, whatever the queue length; an advance with more to do stops here and says so in
/// [`Plan::continues`].
pub const MAX_TASKS_FINISHED_PER_PLAN: usize = 25;

/// What the caller must write, atomically, and then announce.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The player's new state; absent when the player did not change.
    pub player: Option<PlayerWrite>,
    /// The tasks that changed, in task order.
    pub tasks: Vec<TaskWrite>,
    /// Notifications to deliver (or store) once the writes succeeded, in `seq` order.
    pub notifications: Vec<Notification>,
    /// Every progress update of a task this plan started, in ms since the epoch, ascending,
    /// each strictly after the plan's `now` and before the task's end (at most
    /// `limits.progress_updates` of them): wake-ups that post `task_progress` and write
    /// nothing (see [`crate::progress`]). The writer arms them all with the write, so no
    /// update arms the next (a repeated wake-up cannot start a second chain of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub progress: Vec<Millis>,
    /// Every inventory change the plan makes, with its reason.
    pub ledger: Vec<LedgerEntry>,
    /// The advance stopped at [`MAX_TASKS_FINISHED_PER_PLAN`] with more due: once this plan
    /// is written, advance again (the player is left due, so the ticker would too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continues: bool,
    /// Every change of a task's state the plan makes, in the order the core made them. Metrics,
    /// logs and reports count these, so they agree by construction. Plans serialised before
    /// this field existed read as having none.
    #[serde(default)]
    pub transitions: Vec<TaskTransition>,
}

/// One change of a task's state, as the core made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTransition {
    pub task_id: String,
    pub activity: Activity,
    pub kind: TransitionKind,
    /// The task's `attempts` after the change (transient failures counted so far).
    pub attempts: u32,
    /// The failure code, for `retried` (`transient_failure`), `failed` (`retries_exhausted`)
    /// and `rejected` (the validation code); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// What happened to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// Queued by an enqueue.
    Enqueued,
    /// Queued or retrying → running.
    Started,
    /// Running → completed, with its outcome granted.
    Completed,
    /// A transient failure before it started: retrying, with backoff.
    Retried,
    /// A transient failure with the retries used up: failed for good.
    Failed,
    /// Dynamic validation refused it at start: rejected for good (never retried).
    Rejected,
    /// Cancelled, queued or running (then settled for the actions done).
    Cancelled,
}

impl TransitionKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [TransitionKind; 7] = [
        TransitionKind::Enqueued,
        TransitionKind::Started,
        TransitionKind::Completed,
        TransitionKind::Retried,
        TransitionKind::Failed,
        TransitionKind::Rejected,
        TransitionKind::Cancelled,
    ];

    /// Its name, as serialised (`enqueued`, `started`, `completed`, `retried`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Enqueued => "enqueued",
            TransitionKind::Started => "started",
            TransitionKind::Completed => "completed",
            TransitionKind::Retried => "retried",
            TransitionKind::Failed => "failed",
            TransitionKind::Rejected => "rejected",
            TransitionKind::Cancelled => "cancelled",
        }
    }
}

/// Write `player` if the stored version is still `expected_version` (absent: the player must not
/// exist yet). `player.version` is already the new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayerWrite {
    pub player: Player,
    pub expected_version: Option<u64>,
}

/// Write `task` if the stored task is as `expected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskWrite {
    pub task: Task,
    pub expected: Expected,
}

/// The condition on a task write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// No task with this id exists.
    Absent,
    /// The stored task has this status.
    Status(TaskStatus),
}

/// One inventory change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub task_id: String,
    /// Inventory key.
    pub item: String,
    /// Units added (positive) or removed (negative).
    pub delta: i64,
    pub reason: LedgerReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerReason {
    /// Materials taken at start.
    Reserve,
    /// Gear moved from the inventory into an empty slot.
    Equip,
    /// Rewards.
    Grant,
    /// Reserved materials given back (preserved, or unused by a cancel).
    Refund,
}

impl Plan {
    /// How many transitions of `kind` the plan makes.
    pub fn count(&self, kind: TransitionKind) -> usize {
        self.transitions.iter().filter(|t| t.kind == kind).count()
    }

    /// True when a task this plan writes names the catalog `hash` (a task started under it, or
    /// one whose outcome was computed with it): a writer keeps that catalog in the catalog
    /// store before it writes the plan, so the task can complete and replay under it later.
    pub fn records_catalog(&self, hash: &str) -> bool {
        self.tasks
            .iter()
            .any(|w| w.task.catalog_hash.as_deref() == Some(hash))
    }

    /// True when nothing needs writing or sending.
    pub fn is_empty(&self) -> bool {
        self.player.is_none() && self.tasks.is_empty() && self.notifications.is_empty()
    }

    /// The player as it will be after the plan (the given one if the plan leaves it alone).
    pub fn player_after<'p>(&'p self, before: &'p Player) -> &'p Player {
        self.player.as_ref().map_or(before, |w| &w.player)
    }

    /// Applies the task writes to a list of tasks (replacing by id, adding new ones, keeping order).
    pub fn apply_to_tasks(&self, tasks: &mut Vec<Task>) {
        for write in &self.tasks {
            match tasks.iter_mut().find(|t| t.task_id == write.task.task_id) {
                Some(task) => *task = write.task.clone(),
                None => tasks.push(write.task.clone()),
            }
        }
        tasks.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    }
}
