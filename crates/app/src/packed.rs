//! The packed form of a player's stored state: the player, its queue and the outbox of its
//! last write as one deflated JSON document behind a format byte. The DynamoDB adapter stores
//! it as one Binary attribute of the Players item (`crates/aws/src/items.rs`), and the
//! task processor reads the outbox back from the Players stream's new image
//! ([`crate::handlers::read_record`]); both go through here, so the format has one definition.
//!
//! Format [`FORMAT_DEFLATE_JSON`] (1, still read, no longer written): byte 0 is the format, the
//! rest a raw DEFLATE stream (RFC 1951, best compression, the pure-Rust miniz_oxide backend of
//! `flate2`) of the JSON object `{"player": Player, "queue": [Task], "outbox": Outbox}`.
//! `queue` is left out when empty, `outbox` when there is nothing to perform. The outbox does
//! not repeat what the document holds: a `queue_updated` notification whose queue is the packed
//! queue carries `"queue_from_state": true` instead, and a `task_completed` whose outcome is its
//! history record's carries `"outcome_from_history": true`; unpacking puts them back, so the
//! outbox read is the one written.
//!
//! Format [`FORMAT_COMPACT_JSON`] (2, written): the same document, deflated the same way, with
//! what a reader can put back left out: every `null` member of an object (they are all
//! `Option`s, which read a missing member as `None`); in each task of the queue and of the
//! outbox's history, `player_id` (the packed player's), `bypass_validation: false`,
//! `attempts: 0`, and empty `snapshot.pity`, `snapshot.reserved` and `result.refunded`; a
//! `task_started` whose fields are its task's in the packed queue carries
//! `"started_from_queue": true`, and a `task_completed` whose outcome, activity and refunds
//! are its history record's `"completed_from_history": true`. Then every object key in
//! [`KEYS`] is swapped with its short form (and a short form with its long one: the swap is its
//! own inverse, so any key, a data key such as an item name included, reads back as written).
//! A later format takes a new first byte; readers refuse a byte they do not know.
//!
//! Why: a write is billed per started KB (1 write unit per KB, DynamoDB Developer Guide,
//! "Read/write capacity mode") and the JSON of a player with a queue repeats field names
//! and ids; deflated and compacted, the workload's items fit in one unit (docs/performance.md,
//! "The player's item per write").

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use flate2::write::DeflateEncoder;
use flate2::Compression;
use idle_core::model::{Player, Task};
use idle_core::protocol::{Event, QueueEntry};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::outbox::Outbox;
use crate::state::PlayerState;

/// The first byte of format 1: deflated JSON (read, no longer written).
pub const FORMAT_DEFLATE_JSON: u8 = 1;

/// The first byte of format 2, the one written: deflated compact JSON (module documentation).
pub const FORMAT_COMPACT_JSON: u8 = 2;

/// Most bytes a packed document may inflate to (16 MiB): far above any item DynamoDB can hold
/// (400 KB), so only a corrupt or hostile value reaches it, and it cannot exhaust memory.
pub const MAX_UNPACKED_BYTES: u64 = 16 * 1024 * 1024;

/// Why packed bytes could not be read (or, rarely, written).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackError {
    /// No bytes at all.
    #[error("empty packed value")]
    Empty,
    /// A first byte this build does not know.
    #[error(
        "unknown packed format {0} (this build reads formats {FORMAT_DEFLATE_JSON} and {FORMAT_COMPACT_JSON})"
    )]
    UnknownFormat(u8),
    /// The DEFLATE stream is broken, or inflates past [`MAX_UNPACKED_BYTES`].
    #[error("packed value does not inflate: {0}")]
    Inflate(String),
    /// The JSON inside is not a packed state.
    #[error("packed value is not a player's state: {0}")]
    Json(String),
    /// Encoding failed (a value serde_json cannot write).
    #[error("cannot pack: {0}")]
    Pack(String),
}

/// Replaces a `queue_updated` notification's `queue` when it is the packed queue itself.
const QUEUE_FROM_STATE: &str = "queue_from_state";
/// Replaces a `task_completed` notification's `outcome` when it is its history record's.
const OUTCOME_FROM_HISTORY: &str = "outcome_from_history";
/// Replaces a `task_started` notification's fields when they are its queued task's (format 2).
const STARTED_FROM_QUEUE: &str = "started_from_queue";
/// Replaces a `task_completed` notification's `outcome`, `activity` and `refunded` when they are
/// its history record's (format 2).
const COMPLETED_FROM_HISTORY: &str = "completed_from_history";

/// Object keys format 2 writes short: (long, short). No short form is a long one or another's
/// short form (a test checks), so swapping is its own inverse.
pub const KEYS: &[(&str, &str)] = &[
    // the document and the outbox
    ("player", "P"),
    ("queue", "Q"),
    ("outbox", "O"),
    ("notifications", "N"),
    ("history", "H"),
    ("audit", "U"),
    (QUEUE_FROM_STATE, "qs"),
    (OUTCOME_FROM_HISTORY, "oh"),
    (STARTED_FROM_QUEUE, "sq"),
    (COMPLETED_FROM_HISTORY, "ch"),
    // the player
    ("player_id", "p"),
    ("version", "v"),
    ("created_at", "ca"),
    ("character_xp", "cx"),
    ("skills", "sk"),
    ("equipment", "eq"),
    ("inventory", "in"),
    ("stations", "st"),
    ("pity", "pi"),
    ("rate", "ra"),
    ("milli_tokens", "mt"),
    ("updated_at", "ua"),
    ("next_task_seq", "nt"),
    ("next_seq", "ns"),
    ("recent_requests", "rr"),
    ("free_at", "fa"),
    ("wake_at", "wa"),
    ("last_active_at", "la"),
    ("harvesting", "Sh"),
    ("crafting", "Sc"),
    ("combat", "Sb"),
    ("item", "it"),
    ("quality", "ql"),
    ("durability", "du"),
    // a task
    ("task_id", "i"),
    ("request_id", "r"),
    ("request", "R"),
    ("bypass_validation", "bv"),
    ("status", "s"),
    ("enqueued_at", "ea"),
    ("started_at", "sa"),
    ("ends_at", "e"),
    ("finished_at", "fi"),
    ("attempts", "am"),
    ("retry_at", "ry"),
    ("rules_version", "rv"),
    ("catalog_hash", "h"),
    ("snapshot", "sn"),
    ("result", "re"),
    ("failure", "fl"),
    ("chunk", "ck"),
    ("paused_at", "pa"),
    ("activity", "a"),
    ("resource", "rs"),
    ("location", "lo"),
    ("quantity", "q"),
    ("repeat", "rp"),
    ("enemy", "en"),
    ("recipe", "rc"),
    ("character_level", "cl"),
    ("skill_level", "sl"),
    ("action_ms", "ms"),
    ("gear", "g"),
    ("reserved", "rz"),
    ("outcome", "o"),
    ("refunded", "rf"),
    ("actions", "ac"),
    ("successes", "su"),
    ("xp", "x"),
    ("items", "I"),
    ("preserved", "pr"),
    ("wear", "w"),
    ("pity_drops", "pd"),
    ("first_action", "f1"),
    ("index", "ix"),
    // a notification
    ("seq", "n"),
    ("at", "t"),
    ("type", "T"),
    ("target", "tg"),
    ("level_ups", "lu"),
    ("reason", "rn"),
    ("code", "co"),
    ("message", "me"),
    ("settled", "se"),
    ("settled_actions", "sd"),
];

#[derive(Serialize)]
struct PackedRef<'a> {
    player: &'a Player,
    #[serde(skip_serializing_if = "<[Task]>::is_empty")]
    queue: &'a [Task],
    #[serde(skip_serializing_if = "Option::is_none")]
    outbox: Option<Value>,
}

#[derive(Deserialize)]
struct Packed {
    player: Player,
    #[serde(default)]
    queue: Vec<Task>,
    #[serde(default)]
    outbox: Option<Value>,
}

/// The outbox and the queue it may refer to; the player is skipped without being built.
#[derive(Deserialize)]
struct OutboxOnly {
    #[serde(default)]
    queue: Vec<Task>,
    #[serde(default)]
    outbox: Option<Value>,
}

/// What reading the outbox needs of a packed document, under either format's keys: the
/// player's id (format 2's tasks leave it out), the queue and the outbox. The rest of the
/// player (most of the document) is skipped by the parser, never built as JSON.
#[derive(Deserialize)]
struct OutboxParts {
    #[serde(rename = "P", alias = "player")]
    player: Option<PlayerIdOnly>,
    #[serde(rename = "Q", alias = "queue")]
    queue: Option<Value>,
    #[serde(rename = "O", alias = "outbox")]
    outbox: Option<Value>,
}

#[derive(Deserialize)]
struct PlayerIdOnly {
    #[serde(rename = "p", alias = "player_id")]
    player_id: String,
}

fn entries(queue: &[Task]) -> Vec<QueueEntry> {
    queue.iter().map(QueueEntry::from).collect()
}

/// The `task_started` notification of a task that has started, as the core announces it.
fn started(task: &Task) -> Option<Event> {
    Some(Event::TaskStarted {
        task_id: task.task_id.clone(),
        activity: task.request.activity(),
        target: task.request.target().to_owned(),
        quantity: task.request.quantity(),
        repeat: task.request.repeat(),
        started_at: task.started_at?,
        ends_at: task.ends_at?,
    })
}

/// The outbox as JSON without what the packed document already holds: a `queue_updated`
/// whose queue is the packed queue, and a `task_completed` outcome that is the one of the
/// finished task's history record, each replaced by a marker [`expand`] resolves; with
/// `more` (format 2), a `task_started` that is its queued task's, and a `task_completed`
/// whose activity and refunds are its record's too.
fn compact(queue: &[Task], outbox: &Outbox, more: bool) -> Result<Value, PackError> {
    let mut value = serde_json::to_value(outbox).map_err(|e| PackError::Pack(e.to_string()))?;
    let Some(list) = value.get_mut("notifications").and_then(Value::as_array_mut) else {
        return Ok(value);
    };
    let current = entries(queue);
    for (notification, json) in outbox.notifications.iter().zip(list.iter_mut()) {
        let Some(object) = json.as_object_mut() else {
            continue;
        };
        match &notification.event {
            Event::QueueUpdated { queue: announced } if *announced == current => {
                object.remove("queue");
                object.insert(QUEUE_FROM_STATE.to_owned(), Value::Bool(true));
            }
            event @ Event::TaskStarted { task_id, .. }
                if more
                    && queue
                        .iter()
                        .find(|t| t.task_id == *task_id)
                        .and_then(started)
                        .is_some_and(|e| e == *event) =>
            {
                for field in [
                    "activity",
                    "target",
                    "quantity",
                    "repeat",
                    "started_at",
                    "ends_at",
                ] {
                    object.remove(field);
                }
                object.insert(STARTED_FROM_QUEUE.to_owned(), Value::Bool(true));
            }
            Event::TaskCompleted {
                task_id,
                outcome,
                activity,
                refunded,
                ..
            } => {
                let record = outbox.history.iter().find(|task| {
                    task.task_id == *task_id
                        && task.result.as_ref().is_some_and(|r| r.outcome == *outcome)
                });
                let Some(record) = record else {
                    continue;
                };
                object.remove("outcome");
                let whole = record.request.activity() == *activity
                    && record
                        .result
                        .as_ref()
                        .is_some_and(|r| r.refunded == *refunded);
                if more && whole {
                    object.remove("activity");
                    object.remove("refunded");
                    object.insert(COMPLETED_FROM_HISTORY.to_owned(), Value::Bool(true));
                } else {
                    object.insert(OUTCOME_FROM_HISTORY.to_owned(), Value::Bool(true));
                }
            }
            _ => {}
        }
    }
    Ok(value)
}

/// The outbox from its packed JSON, markers resolved against the packed `queue` and the
/// outbox's own history records.
fn expand(queue: &[Task], value: Option<Value>) -> Result<Outbox, PackError> {
    let Some(mut value) = value else {
        return Ok(Outbox::default());
    };
    // task id → (outcome, activity, refunded) of its history record, as JSON.
    let records: Vec<(String, Value, Value, Value)> = value
        .get("history")
        .and_then(Value::as_array)
        .map(|tasks| {
            tasks
                .iter()
                .filter_map(|task| {
                    let id = task.get("task_id")?.as_str()?.to_owned();
                    let result = task.get("result")?;
                    let outcome = result.get("outcome")?.clone();
                    let refunded = result
                        .get("refunded")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Map::new()));
                    let activity = task
                        .get("request")
                        .and_then(|r| r.get("activity"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    Some((id, outcome, activity, refunded))
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(list) = value.get_mut("notifications").and_then(Value::as_array_mut) {
        for json in list.iter_mut() {
            let Some(object) = json.as_object_mut() else {
                continue;
            };
            if object.remove(QUEUE_FROM_STATE).is_some() {
                let queue = serde_json::to_value(entries(queue))
                    .map_err(|e| PackError::Json(e.to_string()))?;
                object.insert("queue".to_owned(), queue);
            }
            let id = object
                .get("task_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if object.remove(STARTED_FROM_QUEUE).is_some() {
                let event = queue
                    .iter()
                    .find(|t| Some(t.task_id.as_str()) == id.as_deref())
                    .and_then(started)
                    .ok_or_else(|| {
                        PackError::Json("outbox: a task_started refers to no started task".into())
                    })?;
                let Value::Object(fields) =
                    serde_json::to_value(event).map_err(|e| PackError::Json(e.to_string()))?
                else {
                    return Err(PackError::Json("task_started is not an object".into()));
                };
                object.extend(fields);
            }
            let whole = object.remove(COMPLETED_FROM_HISTORY).is_some();
            if whole || object.remove(OUTCOME_FROM_HISTORY).is_some() {
                let (_, outcome, activity, refunded) = records
                    .iter()
                    .find(|(task, ..)| Some(task.as_str()) == id.as_deref())
                    .ok_or_else(|| {
                        PackError::Json("outbox: an outcome refers to no history record".into())
                    })?;
                object.insert("outcome".to_owned(), outcome.clone());
                if whole {
                    object.insert("activity".to_owned(), activity.clone());
                    object.insert("refunded".to_owned(), refunded.clone());
                }
            }
        }
    }
    serde_json::from_value(value).map_err(|e| PackError::Json(e.to_string()))
}

/// The long ↔ short key swap of format 2 ([`KEYS`]), both ways.
fn swaps() -> &'static HashMap<&'static str, &'static str> {
    static SWAPS: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    SWAPS.get_or_init(|| {
        KEYS.iter()
            .flat_map(|&(long, short)| [(long, short), (short, long)])
            .collect()
    })
}

/// Swaps every object key found in [`KEYS`] (its own inverse), and with `drop_nulls` leaves
/// out the `null` members of objects.
fn swap_keys(value: Value, drop_nulls: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !(drop_nulls && v.is_null()))
                .map(|(k, v)| {
                    let key = swaps().get(k.as_str()).map_or(k, |s| (*s).to_owned());
                    (key, swap_keys(v, drop_nulls))
                })
                .collect(),
        ),
        Value::Array(list) => {
            Value::Array(list.into_iter().map(|v| swap_keys(v, drop_nulls)).collect())
        }
        other => other,
    }
}

fn is_empty_object(value: Option<&Value>) -> bool {
    value.and_then(Value::as_object).is_some_and(Map::is_empty)
}

/// Leaves out of a task's JSON what [`restore_task`] puts back or serde defaults: the
/// `player_id` when it is `player_id`, `bypass_validation: false`, `attempts: 0`, and empty
/// `snapshot.pity`, `snapshot.reserved` and `result.refunded`.
fn strip_task(task: &mut Value, player_id: &str) {
    let Some(object) = task.as_object_mut() else {
        return;
    };
    if object.get("player_id").and_then(Value::as_str) == Some(player_id) {
        object.remove("player_id");
    }
    if object.get("bypass_validation") == Some(&Value::Bool(false)) {
        object.remove("bypass_validation");
    }
    if object.get("attempts").and_then(Value::as_u64) == Some(0) {
        object.remove("attempts");
    }
    if let Some(snapshot) = object.get_mut("snapshot").and_then(Value::as_object_mut) {
        for field in ["pity", "reserved"] {
            if is_empty_object(snapshot.get(field)) {
                snapshot.remove(field);
            }
        }
    }
    if let Some(result) = object.get_mut("result").and_then(Value::as_object_mut) {
        if is_empty_object(result.get("refunded")) {
            result.remove("refunded");
        }
    }
}

/// Puts back what [`strip_task`] left out and serde does not default.
fn restore_task(task: &mut Value, player_id: &str) {
    let Some(object) = task.as_object_mut() else {
        return;
    };
    object
        .entry("player_id")
        .or_insert_with(|| Value::String(player_id.to_owned()));
    object.entry("attempts").or_insert_with(|| Value::from(0));
}

/// The tasks of a document: its queue's and its outbox's history records.
fn tasks_of(document: &mut Value) -> Vec<&mut Value> {
    let Some(object) = document.as_object_mut() else {
        return Vec::new();
    };
    let mut tasks = Vec::new();
    for (key, value) in object.iter_mut() {
        let list = match key.as_str() {
            "queue" => Some(value),
            "outbox" => value.get_mut("history"),
            _ => None,
        };
        if let Some(list) = list.and_then(Value::as_array_mut) {
            tasks.extend(list.iter_mut());
        }
    }
    tasks
}

/// The packed player's id in a document, if it has a player.
fn player_id_of(document: &Value) -> Option<String> {
    document
        .get("player")?
        .get("player_id")?
        .as_str()
        .map(str::to_owned)
}

/// Which of format 2's cuts to make ([`pack`] makes all of them): for measuring what each
/// saves ([`packed_len_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cuts {
    /// `task_started` and `task_completed` markers (the `queue_updated` and outcome markers of
    /// format 1 are always made).
    pub markers: bool,
    /// The tasks' `player_id`, `attempts: 0`, `bypass_validation: false` and empty maps.
    pub tasks: bool,
    /// `null` members of objects.
    pub nulls: bool,
    /// Field names swapped for short ones.
    pub short_keys: bool,
}

impl Cuts {
    /// Every cut: format 2.
    pub const ALL: Cuts = Cuts {
        markers: true,
        tasks: true,
        nulls: true,
        short_keys: true,
    };
}

/// The document of a state and outbox with `cuts` made, as JSON.
fn compact_document(state: &PlayerState, outbox: &Outbox, cuts: Cuts) -> Result<Value, PackError> {
    let outbox = if outbox.is_empty() {
        None
    } else {
        Some(compact(&state.queue, outbox, cuts.markers)?)
    };
    let mut document = serde_json::to_value(PackedRef {
        player: &state.player,
        queue: &state.queue,
        outbox,
    })
    .map_err(|e| PackError::Pack(e.to_string()))?;
    if cuts.tasks {
        let player_id = state.player.player_id.as_str();
        for task in tasks_of(&mut document) {
            strip_task(task, player_id);
        }
    }
    Ok(document)
}

/// Packs a player's state and the outbox of its write (empty: none), in the format written
/// ([`FORMAT_COMPACT_JSON`]).
pub fn pack(state: &PlayerState, outbox: &Outbox) -> Result<Vec<u8>, PackError> {
    write_compact(compact_document(state, outbox, Cuts::ALL)?)
}

/// Bytes [`pack`] would take with only `cuts` made (format byte included): a measure of what
/// each cut saves, not a format (a document without all of them is not read back).
pub fn packed_len_with(
    state: &PlayerState,
    outbox: &Outbox,
    cuts: Cuts,
) -> Result<usize, PackError> {
    let document = compact_document(state, outbox, cuts)?;
    let document = if cuts.short_keys {
        swap_keys(document, cuts.nulls)
    } else if cuts.nulls {
        drop_nulls(document)
    } else {
        document
    };
    let json = serde_json::to_vec(&document).map_err(|e| PackError::Pack(e.to_string()))?;
    Ok(deflate(FORMAT_COMPACT_JSON, &json)?.len())
}

/// The document without its `null` object members.
fn drop_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, drop_nulls(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.into_iter().map(drop_nulls).collect()),
        other => other,
    }
}

/// Packs a player's state and outbox in format 1 ([`FORMAT_DEFLATE_JSON`]), as builds before
/// format 2 wrote it: for tests of reading it, and to measure what format 2 saves.
pub fn pack_format_1(state: &PlayerState, outbox: &Outbox) -> Result<Vec<u8>, PackError> {
    let outbox = if outbox.is_empty() {
        None
    } else {
        Some(compact(&state.queue, outbox, false)?)
    };
    let json = serde_json::to_vec(&PackedRef {
        player: &state.player,
        queue: &state.queue,
        outbox,
    })
    .map_err(|e| PackError::Pack(e.to_string()))?;
    deflate(FORMAT_DEFLATE_JSON, &json)
}

/// Packs an outbox alone, without the player: the document the in-memory feed's stream images
/// carry (they hold no player, as before the packing). [`unpack_outbox`] reads it;
/// [`unpack`] refuses it.
pub fn pack_outbox(outbox: &Outbox) -> Result<Vec<u8>, PackError> {
    #[derive(Serialize)]
    struct OutboxRef<'a> {
        outbox: &'a Outbox,
    }
    write_compact(
        serde_json::to_value(OutboxRef { outbox }).map_err(|e| PackError::Pack(e.to_string()))?,
    )
}

/// A document in format 2: keys swapped, nulls left out, deflated.
fn write_compact(document: Value) -> Result<Vec<u8>, PackError> {
    let json = serde_json::to_vec(&swap_keys(document, true))
        .map_err(|e| PackError::Pack(e.to_string()))?;
    deflate(FORMAT_COMPACT_JSON, &json)
}

fn deflate(format: u8, json: &[u8]) -> Result<Vec<u8>, PackError> {
    let mut encoder = DeflateEncoder::new(vec![format], Compression::best());
    encoder
        .write_all(json)
        .map_err(|e| PackError::Pack(e.to_string()))?;
    encoder.finish().map_err(|e| PackError::Pack(e.to_string()))
}

/// The format byte and the inflated JSON.
fn inflate(bytes: &[u8]) -> Result<(u8, Vec<u8>), PackError> {
    let (&format, deflated) = bytes.split_first().ok_or(PackError::Empty)?;
    if format != FORMAT_DEFLATE_JSON && format != FORMAT_COMPACT_JSON {
        return Err(PackError::UnknownFormat(format));
    }
    // One call of flate2's own backend: a stream decoder would allocate and zero a 32 KB
    // window and its tables for every record, more than the inflating of a small item costs.
    let limit = usize::try_from(MAX_UNPACKED_BYTES).unwrap_or(usize::MAX);
    match miniz_oxide::inflate::decompress_to_vec_with_limit(deflated, limit) {
        Ok(json) => Ok((format, json)),
        Err(error) if error.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput => Err(
            PackError::Inflate(format!("more than {MAX_UNPACKED_BYTES} bytes")),
        ),
        Err(error) => Err(PackError::Inflate(error.to_string())),
    }
}

/// The document of packed bytes as format 1 writes it (format 2's keys swapped back and its
/// tasks restored).
fn document(bytes: &[u8]) -> Result<Value, PackError> {
    let (format, json) = inflate(bytes)?;
    let value: Value = serde_json::from_slice(&json).map_err(|e| PackError::Json(e.to_string()))?;
    Ok(as_format_1(format, value))
}

/// A document of `format` as format 1 writes it.
fn as_format_1(format: u8, value: Value) -> Value {
    if format == FORMAT_DEFLATE_JSON {
        return value;
    }
    let mut document = swap_keys(value, false);
    if let Some(player_id) = player_id_of(&document) {
        for task in tasks_of(&mut document) {
            restore_task(task, &player_id);
        }
    }
    document
}

/// [`document`] with the player cut down to its id: what [`unpack_outbox`] reads.
fn outbox_document(bytes: &[u8]) -> Result<Value, PackError> {
    let (format, json) = inflate(bytes)?;
    let parts: OutboxParts =
        serde_json::from_slice(&json).map_err(|e| PackError::Json(e.to_string()))?;
    // Rebuilt under the format's own keys, so that it is read back as any document of it.
    let key = |long: &str| match format {
        FORMAT_COMPACT_JSON => swaps().get(long).copied().unwrap_or(long).to_owned(),
        _ => long.to_owned(),
    };
    let mut document = Map::new();
    if let Some(player) = parts.player {
        let id = Map::from_iter([(key("player_id"), Value::String(player.player_id))]);
        document.insert(key("player"), Value::Object(id));
    }
    for (name, part) in [("queue", parts.queue), ("outbox", parts.outbox)] {
        if let Some(part) = part {
            document.insert(key(name), part);
        }
    }
    Ok(as_format_1(format, Value::Object(document)))
}

/// The player's state and its outbox from packed bytes (either format).
///
/// Errors: see [`PackError`]; never panics on any input.
pub fn unpack(bytes: &[u8]) -> Result<(PlayerState, Outbox), PackError> {
    let packed: Packed =
        serde_json::from_value(document(bytes)?).map_err(|e| PackError::Json(e.to_string()))?;
    let outbox = expand(&packed.queue, packed.outbox)?;
    Ok((
        PlayerState {
            player: packed.player,
            queue: packed.queue,
        },
        outbox,
    ))
}

/// The outbox alone from packed bytes (what the stream processor performs).
///
/// Errors: as [`unpack`].
pub fn unpack_outbox(bytes: &[u8]) -> Result<Outbox, PackError> {
    let packed: OutboxOnly = serde_json::from_value(outbox_document(bytes)?)
        .map_err(|e| PackError::Json(e.to_string()))?;
    expand(&packed.queue, packed.outbox)
}

#[cfg(test)]
mod tests {
    use idle_core::catalog::Catalog;

    use super::*;

    fn state() -> PlayerState {
        PlayerState {
            player: Player::new("p1", 1_000, Catalog::shipped(), 10),
            queue: Vec::new(),
        }
    }

    #[test]
    fn a_state_and_outbox_round_trip_behind_the_format_byte() {
        let outbox = Outbox {
            notifications: vec![idle_core::protocol::Notification {
                seq: 1,
                at: 5_000,
                event: Event::TaskCancelled {
                    task_id: "000000000001".to_owned(),
                    settled: None,
                    refunded: [("copper_ore".to_owned(), 2)].into(),
                    reason: None,
                },
            }],
            ..Outbox::default()
        };
        let bytes = pack(&state(), &outbox).unwrap();
        assert_eq!(bytes[0], FORMAT_COMPACT_JSON);
        assert_eq!(unpack(&bytes).unwrap(), (state(), outbox.clone()));
        assert_eq!(unpack_outbox(&bytes).unwrap(), outbox);
        let quiet = pack(&state(), &Outbox::default()).unwrap();
        assert_eq!(unpack(&quiet).unwrap(), (state(), Outbox::default()));
        assert!(quiet.len() < bytes.len());
    }

    /// Every commit of a player that queues three harvests and runs them to the end.
    fn commits() -> Vec<crate::outbox::Commit> {
        use idle_core::model::TaskRequest;
        use idle_core::{advance, enqueue, Enqueued, Game};
        let game = Game::new(Catalog::shipped(), b"packed-test-secret-packed-test-secret");
        let mut state = state();
        let mut out = Vec::new();
        for i in 0..3 {
            let request = TaskRequest::Harvest {
                resource: "copper_ore".into(),
                location: "meadow".into(),
                quantity: 2,
                repeat: None,
            };
            let Ok(Enqueued::New { plan, .. }) = enqueue(
                &game,
                &state.player,
                &state.queue,
                &format!("r{i}"),
                &request,
                false,
                false,
                1_000,
            ) else {
                panic!("enqueue {i}");
            };
            let commit = crate::outbox::Commit::of(&state, &plan).unwrap();
            state = commit.state.clone();
            out.push(commit);
        }
        while let Some(at) = state.player.wake_at {
            let plan = advance(&game, &state.player, &state.queue, at);
            let Some(commit) = crate::outbox::Commit::of(&state, &plan) else {
                break;
            };
            state = commit.state.clone();
            out.push(commit);
        }
        assert!(state.queue.is_empty());
        out
    }

    /// The document's JSON as format 1 spells it (format 2's keys swapped back).
    fn text(bytes: &[u8]) -> String {
        document(bytes).unwrap().to_string()
    }

    #[test]
    fn real_commits_round_trip_without_repeating_the_queue_or_the_outcome() {
        let mut queues_left_out = 0;
        let mut outcomes_left_out = 0;
        let mut starts_left_out = 0;
        for commit in commits() {
            let bytes = pack(&commit.state, &commit.outbox).unwrap();
            assert_eq!(bytes[0], FORMAT_COMPACT_JSON);
            assert_eq!(
                unpack(&bytes).unwrap(),
                (commit.state.clone(), commit.outbox.clone())
            );
            assert_eq!(unpack_outbox(&bytes).unwrap(), commit.outbox);
            let json = text(&bytes);
            queues_left_out += json.matches(QUEUE_FROM_STATE).count();
            outcomes_left_out += json.matches(COMPLETED_FROM_HISTORY).count();
            starts_left_out += json.matches(STARTED_FROM_QUEUE).count();
            assert!(!json.contains(OUTCOME_FROM_HISTORY), "{json}");
        }
        assert!(queues_left_out >= 6, "{queues_left_out}");
        assert_eq!(outcomes_left_out, 3);
        assert_eq!(starts_left_out, 3);
    }

    #[test]
    fn format_1_is_still_read_and_format_2_is_smaller() {
        for commit in commits() {
            let old = pack_format_1(&commit.state, &commit.outbox).unwrap();
            assert_eq!(old[0], FORMAT_DEFLATE_JSON);
            assert_eq!(
                unpack(&old).unwrap(),
                (commit.state.clone(), commit.outbox.clone())
            );
            assert_eq!(unpack_outbox(&old).unwrap(), commit.outbox);
            let new = pack(&commit.state, &commit.outbox).unwrap();
            assert!(new.len() < old.len(), "{} >= {}", new.len(), old.len());
        }
    }

    #[test]
    fn the_key_swap_is_its_own_inverse() {
        let mut seen = std::collections::BTreeSet::new();
        for (long, short) in KEYS {
            assert!(short.len() < long.len(), "{long} -> {short}");
            assert!(seen.insert(*long), "{long} twice");
            assert!(seen.insert(*short), "{short} twice, or a long key");
        }
        // Data keys that are a long or a short form read back as written.
        let mut state = state();
        for key in ["p", "player_id", "qs", "xp", "x", "~"] {
            state.player.inventory.insert(key.to_owned(), 3);
        }
        state.player.pity.insert("at".to_owned(), 2);
        let bytes = pack(&state, &Outbox::default()).unwrap();
        assert_eq!(unpack(&bytes).unwrap(), (state, Outbox::default()));
    }

    #[test]
    fn a_task_of_another_player_or_with_attempts_keeps_them() {
        let mut commit = commits().remove(0);
        commit.state.queue[0].player_id = "someone-else".to_owned();
        commit.state.queue[0].attempts = 2;
        commit.state.queue[0].bypass_validation = true;
        let bytes = pack(&commit.state, &commit.outbox).unwrap();
        assert_eq!(unpack(&bytes).unwrap(), (commit.state, commit.outbox));
    }

    #[test]
    fn a_queue_updated_that_is_not_the_packed_queue_is_kept_whole() {
        let commit = commits().remove(1);
        let mut state = commit.state.clone();
        state.queue.pop();
        let bytes = pack(&state, &commit.outbox).unwrap();
        let json = text(&bytes);
        assert!(!json.contains(QUEUE_FROM_STATE), "{json}");
        assert_eq!(unpack(&bytes).unwrap(), (state, commit.outbox));
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        let good = pack(&state(), &Outbox::default()).unwrap();
        assert_eq!(unpack(&[]), Err(PackError::Empty));
        assert_eq!(unpack(&[9, 1, 2]), Err(PackError::UnknownFormat(9)));
        for format in [FORMAT_DEFLATE_JSON, FORMAT_COMPACT_JSON] {
            assert!(matches!(
                unpack(&[format, 0xff, 0xff, 0xff]),
                Err(PackError::Inflate(_))
            ));
        }
        assert!(matches!(
            unpack(&good[..good.len() / 2]),
            Err(PackError::Inflate(_) | PackError::Json(_))
        ));
        let mut not_a_state = DeflateEncoder::new(vec![FORMAT_DEFLATE_JSON], Compression::fast());
        not_a_state.write_all(br#"{"player": 3}"#).unwrap();
        let not_a_state = not_a_state.finish().unwrap();
        assert!(matches!(unpack(&not_a_state), Err(PackError::Json(_))));
        assert!(matches!(
            unpack_outbox(&not_a_state),
            Err(PackError::Json(_))
        ));
    }

    #[test]
    fn a_deflate_bomb_stops_at_the_bound() {
        let mut bomb = DeflateEncoder::new(vec![FORMAT_DEFLATE_JSON], Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..(MAX_UNPACKED_BYTES >> 20) + 1 {
            bomb.write_all(&zeros).unwrap();
        }
        let bomb = bomb.finish().unwrap();
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        assert!(matches!(unpack(&bomb), Err(PackError::Inflate(m)) if m.contains("more than")));
        assert!(
            matches!(unpack_outbox(&bomb), Err(PackError::Inflate(m)) if m.contains("more than"))
        );
    }
}
