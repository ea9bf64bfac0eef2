//! The packed form of a player's stored state: the player, its queue and the outbox of its
//! last write as one deflated JSON document behind a format byte. The DynamoDB adapter stores
//! it as one Binary attribute of the Players item (`crates/aws/src/items.rs`), and the
//! task processor reads the outbox back from the Players stream's new image
//! ([`crate::handlers::read_record`]); both go through here, so the format has one definition.
//!
//! Format (version [`FORMAT_DEFLATE_JSON`]): byte 0 is the format, the rest a raw DEFLATE
//! stream (RFC 1951, best compression, the pure-Rust miniz_oxide backend of `flate2`) of the
//! JSON object `{"player": Player, "queue": [Task], "outbox": Outbox}`. `queue` is left out
//! when empty, `outbox` when there is nothing to perform. The outbox does not repeat what the
//! document holds: a `queue_updated` notification whose queue is the packed queue carries
//! `"queue_from_state": true` instead, and a `task_completed` whose outcome is its history
//! record's carries `"outcome_from_history": true`; unpacking puts them back, so the outbox
//! read is the one written. A later format takes a new first byte; readers refuse a byte they
//! do not know.
//!
//! Why: a write is billed per started KB (1 write unit per KB, DynamoDB Developer Guide,
//! "Read/write capacity mode") and the JSON of a player with a queue repeats field names
//! and ids; deflated, a typical item fits in one unit (docs/performance.md, "Cost per
//! completed task").

use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use idle_core::model::{Player, Task};
use idle_core::protocol::{Event, QueueEntry};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outbox::Outbox;
use crate::state::PlayerState;

/// The first byte of the only format so far: deflated JSON.
pub const FORMAT_DEFLATE_JSON: u8 = 1;

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
    #[error("unknown packed format {0} (this build reads format {FORMAT_DEFLATE_JSON})")]
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

fn entries(queue: &[Task]) -> Vec<QueueEntry> {
    queue.iter().map(QueueEntry::from).collect()
}

/// The outbox as JSON without what the packed document already holds: a `queue_updated`
/// whose queue is the packed queue, and a `task_completed` outcome that is the one of the
/// finished task's history record, each replaced by a marker [`expand`] resolves.
fn compact(queue: &[Task], outbox: &Outbox) -> Result<Value, PackError> {
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
            Event::TaskCompleted {
                task_id, outcome, ..
            } if outbox.history.iter().any(|task| {
                task.task_id == *task_id
                    && task.result.as_ref().is_some_and(|r| r.outcome == *outcome)
            }) =>
            {
                object.remove("outcome");
                object.insert(OUTCOME_FROM_HISTORY.to_owned(), Value::Bool(true));
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
    let outcomes: Vec<(String, Value)> = value
        .get("history")
        .and_then(Value::as_array)
        .map(|tasks| {
            tasks
                .iter()
                .filter_map(|task| {
                    let id = task.get("task_id")?.as_str()?.to_owned();
                    let outcome = task.get("result")?.get("outcome")?.clone();
                    Some((id, outcome))
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
            if object.remove(OUTCOME_FROM_HISTORY).is_some() {
                let id = object.get("task_id").and_then(Value::as_str);
                let outcome = outcomes
                    .iter()
                    .find(|(task, _)| Some(task.as_str()) == id)
                    .map(|(_, outcome)| outcome.clone())
                    .ok_or_else(|| {
                        PackError::Json("outbox: an outcome refers to no history record".into())
                    })?;
                object.insert("outcome".to_owned(), outcome);
            }
        }
    }
    serde_json::from_value(value).map_err(|e| PackError::Json(e.to_string()))
}

/// Packs a player's state and the outbox of its write (empty: none).
pub fn pack(state: &PlayerState, outbox: &Outbox) -> Result<Vec<u8>, PackError> {
    let outbox = if outbox.is_empty() {
        None
    } else {
        Some(compact(&state.queue, outbox)?)
    };
    let json = serde_json::to_vec(&PackedRef {
        player: &state.player,
        queue: &state.queue,
        outbox,
    })
    .map_err(|e| PackError::Pack(e.to_string()))?;
    deflate(&json)
}

/// Packs an outbox alone, without the player: the document the in-memory feed's stream images
/// carry (they hold no player, as before the packing). [`unpack_outbox`] reads it;
/// [`unpack`] refuses it.
pub fn pack_outbox(outbox: &Outbox) -> Result<Vec<u8>, PackError> {
    #[derive(Serialize)]
    struct OutboxRef<'a> {
        outbox: &'a Outbox,
    }
    deflate(&serde_json::to_vec(&OutboxRef { outbox }).map_err(|e| PackError::Pack(e.to_string()))?)
}

fn deflate(json: &[u8]) -> Result<Vec<u8>, PackError> {
    let mut encoder = DeflateEncoder::new(vec![FORMAT_DEFLATE_JSON], Compression::best());
    encoder
        .write_all(json)
        .map_err(|e| PackError::Pack(e.to_string()))?;
    encoder.finish().map_err(|e| PackError::Pack(e.to_string()))
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, PackError> {
    let (&format, deflated) = bytes.split_first().ok_or(PackError::Empty)?;
    if format != FORMAT_DEFLATE_JSON {
        return Err(PackError::UnknownFormat(format));
    }
    let mut json = Vec::with_capacity(deflated.len() * 4);
    DeflateDecoder::new(deflated)
        .take(MAX_UNPACKED_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| PackError::Inflate(e.to_string()))?;
    if json.len() as u64 > MAX_UNPACKED_BYTES {
        return Err(PackError::Inflate(format!(
            "more than {MAX_UNPACKED_BYTES} bytes"
        )));
    }
    Ok(json)
}

/// The player's state and its outbox from packed bytes.
///
/// Errors: see [`PackError`]; never panics on any input.
pub fn unpack(bytes: &[u8]) -> Result<(PlayerState, Outbox), PackError> {
    let packed: Packed =
        serde_json::from_slice(&inflate(bytes)?).map_err(|e| PackError::Json(e.to_string()))?;
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
    let packed: OutboxOnly =
        serde_json::from_slice(&inflate(bytes)?).map_err(|e| PackError::Json(e.to_string()))?;
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
        assert_eq!(bytes[0], FORMAT_DEFLATE_JSON);
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

    #[test]
    fn real_commits_round_trip_without_repeating_the_queue_or_the_outcome() {
        let mut queues_left_out = 0;
        let mut outcomes_left_out = 0;
        for commit in commits() {
            let bytes = pack(&commit.state, &commit.outbox).unwrap();
            assert_eq!(
                unpack(&bytes).unwrap(),
                (commit.state.clone(), commit.outbox.clone())
            );
            assert_eq!(unpack_outbox(&bytes).unwrap(), commit.outbox);
            let json = String::from_utf8(inflate(&bytes).unwrap()).unwrap();
            queues_left_out += json.matches(QUEUE_FROM_STATE).count();
            outcomes_left_out += json.matches(OUTCOME_FROM_HISTORY).count();
        }
        assert!(queues_left_out >= 6, "{queues_left_out}");
        assert_eq!(outcomes_left_out, 3);
    }

    #[test]
    fn a_queue_updated_that_is_not_the_packed_queue_is_kept_whole() {
        let commit = commits().remove(1);
        let mut state = commit.state.clone();
        state.queue.pop();
        let bytes = pack(&state, &commit.outbox).unwrap();
        let json = String::from_utf8(inflate(&bytes).unwrap()).unwrap();
        assert!(!json.contains(QUEUE_FROM_STATE), "{json}");
        assert_eq!(unpack(&bytes).unwrap(), (state, commit.outbox));
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        let good = pack(&state(), &Outbox::default()).unwrap();
        assert_eq!(unpack(&[]), Err(PackError::Empty));
        assert_eq!(unpack(&[9, 1, 2]), Err(PackError::UnknownFormat(9)));
        assert!(matches!(
            unpack(&[FORMAT_DEFLATE_JSON, 0xff, 0xff, 0xff]),
            Err(PackError::Inflate(_))
        ));
        assert!(matches!(
            unpack(&good[..good.len() / 2]),
            Err(PackError::Inflate(_) | PackError::Json(_))
        ));
        let mut not_a_state = DeflateEncoder::new(vec![FORMAT_DEFLATE_JSON], Compression::fast());
        not_a_state.write_all(br#"{"player": 3}"#).unwrap();
        assert!(matches!(
            unpack(&not_a_state.finish().unwrap()),
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
    }
}
