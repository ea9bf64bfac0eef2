//! docs/asyncapi.json is the AsyncAPI document `idle_core::spec::asyncapi()` builds from the
//! protocol types, and it describes what the server really sends and accepts.
//!
//! After a change to the protocol types, regenerate it (and then the TypeScript client, see
//! clients/typescript/README.md) with:
//!
//!     UPDATE_SPEC=1 cargo test -p idle-core --test asyncapi

use std::collections::BTreeMap;

use idle_core::protocol::{
    ClientMessage, ErrorCode, Event, Notification, Progress, QueueEntry, Reply,
};
use idle_core::spec::{asyncapi, SCHEMA_FORMAT};
use serde_json::{json, Value};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/asyncapi.json");

fn generated() -> String {
    serde_json::to_string_pretty(&asyncapi()).unwrap() + "\n"
}

#[test]
fn docs_asyncapi_json_is_the_generated_document() {
    let fresh = generated();
    if std::env::var_os("UPDATE_SPEC").is_some() {
        std::fs::write(PATH, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(PATH).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/asyncapi.json is not what the protocol types generate; regenerate it with \
         `UPDATE_SPEC=1 cargo test -p idle-core --test asyncapi`, then the TypeScript client \
         (`cd clients/typescript && npm run build`), and commit both"
    );
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]["schemas"]
        .get(name)
        .unwrap_or_else(|| panic!("no schema {name}"))
}

/// Follows a `$ref` (or a one-element `allOf` around one) to its schema.
fn resolve<'a>(doc: &'a Value, mut s: &'a Value) -> &'a Value {
    loop {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            s = schema(doc, r.rsplit('/').next().unwrap());
        } else if let Some([one]) = s.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            s = one;
        } else {
            return s;
        }
    }
}

/// A structural check of `value` against `s`: every required field is there, every field is
/// described, and consts, enums and JSON types match. Enough to catch a schema that drifted
/// from serde's output (a missing tag, a `null` the server never writes).
fn check(doc: &Value, s: &Value, value: &Value, at: &str) -> Result<(), String> {
    let s = resolve(doc, s);
    if let Some(options) = s.get("oneOf").or(s.get("anyOf")).and_then(Value::as_array) {
        return match options.iter().any(|o| check(doc, o, value, at).is_ok()) {
            true => Ok(()),
            false => Err(format!("{at}: {value} fits none of {s}")),
        };
    }
    if let Some(c) = s.get("const") {
        if c != value {
            return Err(format!("{at}: {value} is not {c}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(value) {
            return Err(format!("{at}: {value} not in {e:?}"));
        }
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits = |t: &Value| t == kind || (t == "number" && kind == "integer");
    let typed = match s.get("type") {
        Some(Value::Array(ts)) => ts.iter().any(fits),
        Some(t) => fits(t),
        None => true,
    };
    if !typed {
        return Err(format!(
            "{at}: a {kind} where the schema says {}",
            s["type"]
        ));
    }
    if let Value::Object(fields) = value {
        let properties = s.get("properties").and_then(Value::as_object);
        for required in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let required = required.as_str().unwrap();
            if !fields.contains_key(required) {
                return Err(format!("{at}: `{required}` missing from {value}"));
            }
        }
        for (name, field) in fields {
            let path = format!("{at}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                s.get("additionalProperties"),
            ) {
                (Some(p), _) => check(doc, p, field, &path)?,
                (None, Some(extra @ Value::Object(_))) => check(doc, extra, field, &path)?,
                (None, _) if properties.is_none() => {}
                (None, _) => return Err(format!("{path}: not described by the schema")),
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, s.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check(doc, item, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn conforms(doc: &Value, s: &Value, value: &Value, at: &str) {
    if let Err(why) = check(doc, s, value, at) {
        panic!("{why}");
    }
}

fn message_schema<'a>(doc: &'a Value, key: &str) -> &'a Value {
    let message = &doc["components"]["messages"][key];
    assert_eq!(message["payload"]["schemaFormat"], SCHEMA_FORMAT);
    &message["payload"]["schema"]
}

fn queue_entry() -> QueueEntry {
    QueueEntry {
        task_id: "t1".into(),
        request_id: "r1".into(),
        task: serde_json::from_value(
            json!({"activity":"harvest","resource":"oak_log","location":"meadow","quantity":3,"repeat":"until_stopped"}),
        )
        .unwrap(),
        status: idle_core::model::TaskStatus::Running,
        enqueued_at: 1,
        started_at: Some(2),
        ends_at: Some(3),
        attempts: 0,
        retry_at: None,
        chunk: Some(4),
        settled_actions: Some(1200),
        paused_at: Some(3),
    }
}

#[test]
fn every_server_message_the_rust_types_write_fits_its_documented_schema() {
    let doc = asyncapi();
    let catalog = idle_core::catalog::Catalog::shipped();
    let player = idle_core::model::Player::new("p1", 0, catalog, 10);
    let view = idle_core::protocol::PlayerView::of(&player, catalog);
    let outcome = idle_core::rules::Outcome {
        actions: 2,
        successes: 2,
        xp: 10,
        items: BTreeMap::from([("oak_log".into(), 2)]),
        ..Default::default()
    };
    let replies = [
        (
            "ack",
            Reply::Ack {
                at: 1,
                request_id: Some("r".into()),
                task_id: "t".into(),
                duplicate: false,
            },
        ),
        (
            "snapshot",
            Reply::Snapshot {
                at: 1,
                request_id: None,
                protocol: 2,
                seq: 4,
                player: view,
                queue: vec![queue_entry()],
                more: false,
                truncated: true,
                catalog_hash: "ab".repeat(32),
            },
        ),
        (
            "catalog",
            Reply::Catalog {
                at: 1,
                request_id: Some("c".into()),
                catalog: Box::new(catalog.clone()),
                catalog_hash: "ab".repeat(32),
            },
        ),
        (
            "pong",
            Reply::Pong {
                at: 1,
                request_id: None,
            },
        ),
        (
            "error",
            Reply::Error {
                at: 1,
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
                retry_after_ms: Some(500),
                request_id: Some("r".into()),
            },
        ),
    ];
    for (key, reply) in replies {
        conforms(
            &doc,
            message_schema(&doc, key),
            &serde_json::to_value(reply).unwrap(),
            key,
        );
    }
    let events = [
        (
            "queue_updated",
            Event::QueueUpdated {
                queue: vec![queue_entry()],
            },
        ),
        (
            "task_started",
            Event::TaskStarted {
                task_id: "t".into(),
                activity: idle_core::model::Activity::Harvest,
                target: "oak_log".into(),
                quantity: 3,
                repeat: Some(idle_core::model::Repeat::UntilStopped),
                started_at: 1,
                ends_at: 2,
            },
        ),
        (
            "task_completed",
            Event::TaskCompleted {
                task_id: "t".into(),
                activity: idle_core::model::Activity::Harvest,
                outcome: outcome.clone(),
                refunded: BTreeMap::new(),
                level_ups: BTreeMap::from([("harvesting".into(), 2)]),
                reason: Some(idle_core::protocol::EndReason::InputsExhausted),
            },
        ),
        (
            "chunk_settled",
            Event::ChunkSettled {
                task_id: "t".into(),
                activity: idle_core::model::Activity::Harvest,
                chunk: 2,
                first_action: 600,
                outcome: outcome.clone(),
                refunded: BTreeMap::new(),
                level_ups: BTreeMap::new(),
            },
        ),
        (
            "task_paused",
            Event::TaskPaused {
                task_id: "t".into(),
                paused_at: 5,
                reason: idle_core::protocol::PauseReason::OfflineCap,
            },
        ),
        (
            "task_failed",
            Event::TaskFailed {
                task_id: "t".into(),
                code: ErrorCode::TransientFailure,
                message: "m".into(),
                attempts: 1,
                retry_at: None,
            },
        ),
        (
            "task_cancelled",
            Event::TaskCancelled {
                task_id: "t".into(),
                settled: Some(outcome),
                refunded: BTreeMap::new(),
                reason: Some(idle_core::protocol::EndReason::Stopped),
            },
        ),
    ];
    for (key, event) in events {
        let value = serde_json::to_value(Notification {
            seq: 3,
            at: 1,
            event,
        })
        .unwrap();
        conforms(&doc, message_schema(&doc, key), &value, key);
    }
    let progress = Progress {
        at: 1,
        task_id: "t".into(),
        done: 1,
        total: 3,
        ends_at: 9,
    };
    conforms(
        &doc,
        message_schema(&doc, "task_progress"),
        &serde_json::to_value(progress).unwrap(),
        "task_progress",
    );
}

#[test]
fn every_client_message_the_server_accepts_fits_its_documented_schema() {
    let doc = asyncapi();
    let messages = [
        (
            "enqueue",
            json!({"action":"enqueue","request_id":"r1","task":{"activity":"craft","recipe":"plank","quantity":2}}),
        ),
        ("cancel", json!({"action":"cancel","task_id":"t1"})),
        (
            "sync",
            json!({"action":"sync","request_id":"s","after_seq":4}),
        ),
        ("catalog_request", json!({"action":"catalog"})),
        ("ping", json!({"action":"ping","request_id":"p"})),
    ];
    for (key, message) in messages {
        let parsed: ClientMessage = serde_json::from_value(message.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(parsed).unwrap()["action"],
            message["action"]
        );
        conforms(&doc, message_schema(&doc, key), &message, key);
    }
}

#[test]
fn the_document_lists_every_error_code_with_its_meaning() {
    let doc = asyncapi();
    let codes = schema(&doc, "ErrorCode")["oneOf"].as_array().unwrap();
    let listed: Vec<&str> = codes.iter().map(|c| c["const"].as_str().unwrap()).collect();
    let expected: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, expected);
    assert!(codes
        .iter()
        .all(|c| c["description"].as_str().is_some_and(|d| !d.is_empty())));
}

#[test]
fn every_message_has_an_operation_and_every_request_a_reply() {
    let doc = asyncapi();
    let messages = doc["components"]["messages"].as_object().unwrap();
    let operations = doc["operations"].as_object().unwrap();
    for key in messages.keys() {
        let used = operations.values().any(|op| {
            let refs = op["messages"].as_array().unwrap().iter();
            let replies = op["reply"]["messages"].as_array().into_iter().flatten();
            refs.chain(replies)
                .any(|m| m["$ref"] == format!("#/channels/player/messages/{key}"))
        });
        assert!(used, "message {key} is in no operation");
    }
    for action in idle_core::protocol::ACTIONS {
        let op = &operations[action];
        assert_eq!(op["action"], "receive", "{action}");
        assert!(
            op["reply"]["messages"]
                .as_array()
                .is_some_and(|r| r.len() == 2),
            "{action}"
        );
    }
}
