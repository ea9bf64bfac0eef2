//! The WebSocket protocol: client messages in, notifications and replies out.
//!
//! Client → server messages carry `action`; server → client messages carry `type`. Durable
//! notifications (`task_started`, `task_completed`, `task_failed`, `task_cancelled`,
//! `queue_updated`) are per player, numbered by `seq`, and kept for `sync` when no connection
//! received them; `task_progress` is ephemeral (no `seq`, never kept); replies (`snapshot`,
//! `catalog`, `ack`, `pong`, `error`) answer one message. Protocol version 2 (DESIGN.md
//! section 6).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::model::{Activity, Millis, Player, Repeat, Skill, Task, TaskRequest, TaskStatus};
use crate::rules::Outcome;
use crate::validate::{max_durability, Rejection};
use crate::xp::xp_for_level;

/// A message from a client, chosen by its `action`.
///
/// Every message may carry `request_id` (1–64 printable ASCII characters, see
/// [`valid_request_id`]); every reply to it echoes it. For `enqueue` it is required and is the
/// idempotency key. The server is strict: an unknown field in any message is `invalid_request`
/// naming the field (DESIGN.md section 6).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    Enqueue {
        request_id: String,
        task: TaskRequest,
        #[serde(default)]
        bypass_validation: bool,
    },
    Cancel {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        task_id: String,
    },
    // Struct variants, not unit ones: serde ignores the other fields of an internally tagged
    // unit variant, which would let `{"action":"ping","x":1}` through.
    /// The snapshot, then the kept notifications with `seq > after_seq` (0 when absent).
    Sync {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_seq: Option<u64>,
    },
    Catalog {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
}

impl ClientMessage {
    /// The client's correlation id, if the message carried one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ClientMessage::Enqueue { request_id, .. } => Some(request_id),
            ClientMessage::Cancel { request_id, .. }
            | ClientMessage::Sync { request_id, .. }
            | ClientMessage::Catalog { request_id }
            | ClientMessage::Ping { request_id } => request_id.as_deref(),
        }
    }
}

/// The protocol version this server speaks (DESIGN.md section 6), sent in every `snapshot`.
pub const PROTOCOL_VERSION: u32 = 2;

/// The actions a client may send.
pub const ACTIONS: [&str; 5] = ["enqueue", "cancel", "sync", "catalog", "ping"];

/// Longest accepted `request_id`, in characters.
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// True for a usable `request_id`: 1 to [`MAX_REQUEST_ID_CHARS`] printable ASCII characters
/// (space to `~`), so it can be echoed, logged and stored as it is.
pub fn valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_CHARS
        && id.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// The closed list of error codes an `error` reply carries, one meaning each (DESIGN.md
/// section 6). On the wire, the snake_case name (`"invalid_request"`, …).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The message is not valid JSON, misses a field, has a field of the wrong type, or has an
    /// unknown field (named in the message).
    InvalidRequest,
    /// `action` is not one of the protocol's.
    UnknownAction,
    /// The message is larger than the server accepts.
    MessageTooLarge,
    /// The player's rate bucket is empty: try again after `retry_after_ms`.
    RateLimited,
    /// The player has as many unfinished tasks as allowed.
    QueueFull,
    /// No queued or running task with that id for this player.
    NotFound,
    /// An admin-only option (`bypass_validation`) without an admin token.
    Forbidden,
    /// The connection is not signed in, or its player no longer exists: reconnect.
    NotConnected,
    /// The connection's token has expired; the server closes it: reconnect with a fresh one.
    TokenExpired,
    /// The server could not complete the request now: try again after `retry_after_ms`.
    Unavailable,
    /// `quantity` is not a whole number from 1 to the deployment's limit.
    InvalidQuantity,
    /// No resource, location, recipe or enemy with that id.
    UnknownTarget,
    /// That resource is not found at that location.
    NotAtLocation,
    /// The task needs a tool the player does not have.
    MissingTool,
    /// The player's gear has too little durability left for the whole task.
    GearWorn,
    /// A skill or character level below what the target needs.
    LevelTooLow,
    /// Not enough of a crafting input.
    MissingMaterials,
    /// The recipe needs a crafting station the player has not built.
    MissingStation,
    /// The enemy is more levels above the player than allowed.
    EnemyTooStrong,
    /// The recipe builds a station the player already owns.
    AlreadyOwned,
    /// Only in `task_failed`: a queued task could not start because of a server-side problem
    /// (not the player's doing); it is tried again at `retry_at`.
    TransientFailure,
    /// Only in `task_failed`: the task failed transiently as many times as allowed and will not
    /// be tried again.
    RetriesExhausted,
}

impl ErrorCode {
    /// Every code, in the order above.
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::InvalidRequest,
        ErrorCode::UnknownAction,
        ErrorCode::MessageTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::QueueFull,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::NotConnected,
        ErrorCode::TokenExpired,
        ErrorCode::Unavailable,
        ErrorCode::InvalidQuantity,
        ErrorCode::UnknownTarget,
        ErrorCode::NotAtLocation,
        ErrorCode::MissingTool,
        ErrorCode::GearWorn,
        ErrorCode::LevelTooLow,
        ErrorCode::MissingMaterials,
        ErrorCode::MissingStation,
        ErrorCode::EnemyTooStrong,
        ErrorCode::AlreadyOwned,
        ErrorCode::TransientFailure,
        ErrorCode::RetriesExhausted,
    ];

    /// The code as it is on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::UnknownAction => "unknown_action",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotConnected => "not_connected",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::InvalidQuantity => "invalid_quantity",
            ErrorCode::UnknownTarget => "unknown_target",
            ErrorCode::NotAtLocation => "not_at_location",
            ErrorCode::MissingTool => "missing_tool",
            ErrorCode::GearWorn => "gear_worn",
            ErrorCode::LevelTooLow => "level_too_low",
            ErrorCode::MissingMaterials => "missing_materials",
            ErrorCode::MissingStation => "missing_station",
            ErrorCode::EnemyTooStrong => "enemy_too_strong",
            ErrorCode::AlreadyOwned => "already_owned",
            ErrorCode::TransientFailure => "transient_failure",
            ErrorCode::RetriesExhausted => "retries_exhausted",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A message a client sent that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("unknown action `{0}`; use one of: enqueue, cancel, sync, catalog, ping")]
    UnknownAction(String),
    /// `task.quantity` is not a whole number of actions that fits the protocol (`u32`); a
    /// number in range but above the deployment's limit is the core's `invalid_quantity` too.
    #[error("`task.quantity` must be a whole number from 1 up; got {0}")]
    InvalidQuantity(String),
    #[error("invalid message: {0}")]
    Invalid(String),
}

impl ProtocolError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::TooLarge { .. } => ErrorCode::MessageTooLarge,
            ProtocolError::UnknownAction(_) => ErrorCode::UnknownAction,
            ProtocolError::InvalidQuantity(_) => ErrorCode::InvalidQuantity,
            ProtocolError::Invalid(_) => ErrorCode::InvalidRequest,
        }
    }
}

/// A message that was refused, with the client's `request_id` when one could be read from it
/// (so the error reply still correlates).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct BadMessage {
    pub error: ProtocolError,
    pub request_id: Option<String>,
}

impl BadMessage {
    pub fn code(&self) -> ErrorCode {
        self.error.code()
    }
}

/// Parses a client message body, refusing bodies above `limit` bytes before parsing them.
pub fn parse_client_message(body: &str, limit: usize) -> Result<ClientMessage, BadMessage> {
    let refuse = |error, request_id| BadMessage { error, request_id };
    if body.len() > limit {
        let error = ProtocolError::TooLarge {
            size: body.len(),
            limit,
        };
        return Err(refuse(error, None));
    }
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| refuse(ProtocolError::Invalid(e.to_string()), None))?;
    let request_id = match value.get("request_id") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(id)) if valid_request_id(id) => Some(id.clone()),
        Some(_) => {
            let error = ProtocolError::Invalid(format!(
                "`request_id` must be a string of 1 to {MAX_REQUEST_ID_CHARS} printable ASCII characters"
            ));
            return Err(refuse(error, None));
        }
    };
    let action = match value.get("action") {
        Some(serde_json::Value::String(action)) => action.clone(),
        Some(_) => {
            let error = ProtocolError::Invalid("`action` must be a string".into());
            return Err(refuse(error, request_id));
        }
        None => {
            return Err(refuse(
                ProtocolError::Invalid("missing `action`".into()),
                request_id,
            ))
        }
    };
    if !ACTIONS.contains(&action.as_str()) {
        let shown: String = action.chars().take(40).collect();
        return Err(refuse(ProtocolError::UnknownAction(shown), request_id));
    }
    if let (Some("enqueue"), Some(task)) = (
        value.get("action").and_then(|a| a.as_str()),
        value.get("task").and_then(|t| t.as_object()),
    ) {
        // `quantity | repeat`: exactly one of them (DESIGN.md section 6).
        let problem = match (task.contains_key("quantity"), task.contains_key("repeat")) {
            (true, true) => Some("give `task.quantity` or `task.repeat`, not both"),
            (false, false) => {
                Some("missing field `quantity` (or `repeat: \"until_stopped\"`) in `task`")
            }
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(refuse(ProtocolError::Invalid(problem.into()), request_id));
        }
    }
    if let Some(quantity) = value.get("task").and_then(|task| task.get("quantity")) {
        if quantity.as_u64().is_none_or(|q| u32::try_from(q).is_err()) {
            let shown: String = quantity.to_string().chars().take(40).collect();
            return Err(refuse(ProtocolError::InvalidQuantity(shown), request_id));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| refuse(ProtocolError::Invalid(e.to_string()), request_id))
}

/// A per-player notification: numbered, timestamped, stored when the player is offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    pub seq: u64,
    pub at: Millis,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened to a player's tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    TaskStarted {
        task_id: String,
        activity: Activity,
        target: String,
        /// Actions in the task; for a continuous task, in its first chunk.
        quantity: u32,
        /// `until_stopped` for a continuous task; absent for a fixed one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repeat: Option<Repeat>,
        started_at: Millis,
        /// When the task ends; for a continuous task, when its first chunk is settled.
        ends_at: Millis,
    },
    TaskCompleted {
        task_id: String,
        activity: Activity,
        outcome: Outcome,
        refunded: BTreeMap<String, u64>,
        /// Tracks that gained a level, with the new level.
        level_ups: BTreeMap<String, u32>,
        /// Why a continuous task ended (`inputs_exhausted`); its grants were announced in its
        /// `chunk_settled` notifications and `outcome` has no actions. Absent for fixed tasks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<EndReason>,
    },
    /// One chunk of a continuous task was settled: its actions' rewards are granted (one
    /// conditional write of the player, with its own history record `<task_id>.<chunk>`), and
    /// the next chunk began with the player as they are now.
    ChunkSettled {
        task_id: String,
        activity: Activity,
        /// The chunk's index: 0, 1, 2, …
        chunk: u32,
        /// Actions of the task settled before this chunk.
        first_action: u32,
        /// What this chunk's actions gave (`outcome.actions` of them).
        outcome: Outcome,
        refunded: BTreeMap<String, u64>,
        /// Tracks that gained a level, with the new level: they apply from the next chunk.
        level_ups: BTreeMap<String, u32>,
    },
    /// The player's running task stopped accruing progress at `paused_at`: the offline cap
    /// (catalog rule `offline_cap_ms`) after the player's last activity. The player's next
    /// connect or message resumes it from then on.
    TaskPaused {
        task_id: String,
        paused_at: Millis,
        reason: PauseReason,
    },
    TaskFailed {
        task_id: String,
        /// A validation code when the task cannot start for the player as they are (final),
        /// `transient_failure` (retried at `retry_at`) or `retries_exhausted` (final).
        code: ErrorCode,
        message: String,
        attempts: u32,
        /// When it will be tried again; absent when the failure is final.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_at: Option<Millis>,
    },
    TaskCancelled {
        task_id: String,
        /// What the actions done before the cancel gave (absent if it had not started).
        #[serde(skip_serializing_if = "Option::is_none")]
        settled: Option<Outcome>,
        refunded: BTreeMap<String, u64>,
        /// `stopped` when a continuous task ended by this cancel (`settled` is then its last,
        /// partial chunk). Absent for fixed tasks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<EndReason>,
    },
    QueueUpdated {
        queue: Vec<QueueEntry>,
    },
}

impl Event {
    /// The `type` string, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::TaskStarted { .. } => "task_started",
            Event::TaskCompleted { .. } => "task_completed",
            Event::ChunkSettled { .. } => "chunk_settled",
            Event::TaskPaused { .. } => "task_paused",
            Event::TaskFailed { .. } => "task_failed",
            Event::TaskCancelled { .. } => "task_cancelled",
            Event::QueueUpdated { .. } => "queue_updated",
        }
    }
}

/// Why a continuous task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The player cancelled it.
    Stopped,
    /// Its next chunk could not start: materials or tool durability ran out (or any other
    /// start check failed).
    InputsExhausted,
}

/// Why a task stopped accruing progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// `offline_cap_ms` passed since the player's last activity.
    OfflineCap,
}

/// Progress of a running task: ephemeral, so it has no `seq`, is never kept and never replayed
/// by `sync` (DESIGN.md section 6). A client may also interpolate progress from the task's
/// `started_at` and `ends_at`. On the wire: `{"type":"task_progress", "at", "task_id", "done",
/// "total", "ends_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename = "task_progress")]
pub struct Progress {
    pub at: Millis,
    pub task_id: String,
    /// Actions done so far.
    pub done: u32,
    /// Actions in the task.
    pub total: u32,
    pub ends_at: Millis,
}

/// One task as the client sees it in its queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueueEntry {
    pub task_id: String,
    pub request_id: String,
    pub task: TaskRequest,
    pub status: TaskStatus,
    pub enqueued_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Millis>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Millis>,
    /// A continuous task's current chunk (0, 1, …); `started_at`/`ends_at` are that chunk's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u32>,
    /// A continuous task's actions settled so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_actions: Option<u32>,
    /// Paused at the offline cap since then; the next activity resumes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<Millis>,
}

impl From<&Task> for QueueEntry {
    fn from(task: &Task) -> Self {
        QueueEntry {
            task_id: task.task_id.clone(),
            request_id: task.request_id.clone(),
            task: task.request.clone(),
            status: task.status,
            enqueued_at: task.enqueued_at,
            started_at: task.started_at,
            ends_at: task.ends_at,
            attempts: task.attempts,
            retry_at: task.retry_at,
            chunk: task.chunk.as_ref().map(|c| c.index),
            settled_actions: task.chunk.as_ref().map(|c| c.first_action),
            paused_at: task.paused_at,
        }
    }
}

/// What the server sends the sender of one message: a reply, or a kept notification that
/// `sync` returns after its snapshot. On the wire each is its own JSON message (untagged: the
/// inner value's `type` says which).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Outgoing {
    Reply(Reply),
    Notification(Notification),
}

/// A direct answer to one client message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// The `sync` reply: the player's state, which is always the truth, then (as separate
    /// messages) the kept notifications after the client's `after_seq`, at most a page.
    Snapshot {
        at: Millis,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// The player's current `seq`: the last notification issued (0 before the first).
        seq: u64,
        /// The content hash of the catalog the server plays (as in the `catalog` reply): a
        /// client whose cached catalog has another hash asks for the catalog again.
        #[serde(default)]
        catalog_hash: String,
        player: PlayerView,
        queue: Vec<QueueEntry>,
        /// Kept notifications follow the last one sent: `sync` again from it.
        more: bool,
        /// Some notifications after `after_seq` are not kept (expired, or delivered live to
        /// another connection and not kept), or `after_seq` is ahead of `seq`: the snapshot is
        /// the truth, and the client continues from `seq`.
        truncated: bool,
    },
    /// The catalog the server runs, and its identity.
    Catalog {
        at: Millis,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// The catalog's content hash ([`Catalog::content_hash`]): 64 hex digits that change
        /// with any change to it, so a client can cache the catalog under it.
        #[serde(default)]
        catalog_hash: String,
        catalog: Box<Catalog>,
    },
    Ack {
        at: Millis,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        task_id: String,
        /// True when the request id was seen before and nothing new was queued.
        duplicate: bool,
    },
    Pong {
        at: Millis,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    Error {
        at: Millis,
        code: ErrorCode,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
}

impl Reply {
    /// The error reply for a rejection.
    pub fn rejection(at: Millis, rejection: &Rejection, request_id: Option<String>) -> Reply {
        Reply::Error {
            at,
            code: rejection.code(),
            message: rejection.to_string(),
            retry_after_ms: rejection.retry_after_ms(),
            request_id,
        }
    }

    /// The error reply for a message that could not be parsed.
    pub fn protocol_error(at: Millis, bad: &BadMessage) -> Reply {
        Reply::Error {
            at,
            code: bad.code(),
            message: bad.error.to_string(),
            retry_after_ms: None,
            request_id: bad.request_id.clone(),
        }
    }
}

/// Progress on one level track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrackView {
    pub level: u32,
    pub xp: u64,
    /// XP at which the next level is reached (absent at the cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_level_xp: Option<u64>,
}

/// Worn gear as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GearView {
    pub item: String,
    pub quality: u8,
    pub durability: u32,
    pub max_durability: u32,
}

/// The player as the client sees it: levels are derived from XP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlayerView {
    pub player_id: String,
    pub character: TrackView,
    pub skills: BTreeMap<Skill, TrackView>,
    pub equipment: BTreeMap<String, GearView>,
    pub inventory: BTreeMap<String, u64>,
    pub stations: Vec<String>,
    /// The keys of `inventory` that the catalog the server plays does not define: items a
    /// catalog change removed (docs/catalog.md). They keep their count but cannot be equipped
    /// or used in a recipe; a client shows them as such. Omitted when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unusable: Vec<String>,
}

fn track(xp: u64, catalog: &Catalog) -> TrackView {
    let max = catalog.rules.max_level;
    let level = crate::xp::level_for_xp(xp, max);
    TrackView {
        level,
        xp,
        next_level_xp: (level < max).then(|| xp_for_level(level + 1)),
    }
}

impl PlayerView {
    pub fn of(player: &Player, catalog: &Catalog) -> PlayerView {
        PlayerView {
            player_id: player.player_id.clone(),
            character: track(player.character_xp, catalog),
            skills: Skill::ALL
                .iter()
                .map(|s| (*s, track(player.skill_xp(*s), catalog)))
                .collect(),
            equipment: player
                .equipment
                .iter()
                .map(|(slot, worn)| {
                    let max = catalog.gear(&worn.item).map_or(worn.durability, |g| {
                        max_durability(g, worn.quality, catalog)
                    });
                    (
                        slot.clone(),
                        GearView {
                            item: worn.item.clone(),
                            quality: worn.quality,
                            durability: worn.durability,
                            max_durability: max,
                        },
                    )
                })
                .collect(),
            inventory: player.inventory.clone(),
            stations: player.stations.iter().cloned().collect(),
            unusable: player
                .inventory
                .keys()
                .filter(|key| !crate::model::is_inventory_key(catalog, key))
                .cloned()
                .collect(),
        }
    }
}
