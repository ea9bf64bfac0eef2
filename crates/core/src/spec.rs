//! The machine-readable protocol: an AsyncAPI 3.0 document of the WebSocket API, built from the
//! JSON Schemas that `schemars` derives from the protocol types. `docs/asyncapi.json` is its
//! output; `tests/asyncapi.rs` keeps the committed file equal to it, and the TypeScript client's
//! types are generated from that file, so the Rust types stay the one source of truth.
//!
//! The schemas are JSON Schema draft-07 (`SCHEMA_FORMAT`), the JSON Schema dialect AsyncAPI 3.0
//! names and its parser understands. Client messages are described as the server reads them
//! (serde's deserialize contract: a `#[serde(default)]` field is optional); replies and
//! notifications as the server writes them (the serialize contract: a field skipped when empty
//! is optional, and is then absent, never `null`).

use schemars::generate::{Contract, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::protocol::{
    ClientMessage, Notification, Progress, Reply, MAX_REQUEST_ID_CHARS, PROTOCOL_VERSION,
};

/// The `schemaFormat` of every message payload: JSON Schema draft-07.
pub const SCHEMA_FORMAT: &str = "application/schema+json;version=draft-07";

/// Where the shared schemas live in the document (and so what their `$ref`s point to).
const SCHEMAS: &str = "/components/schemas";

/// One message of the protocol: its wire name (`action` or `type`), the schema it gets in
/// `components/schemas`, its key in `components/messages`, and a line for people.
struct MessageDoc {
    wire: &'static str,
    schema: &'static str,
    key: &'static str,
    summary: &'static str,
}

const fn doc(
    wire: &'static str,
    schema: &'static str,
    key: &'static str,
    summary: &'static str,
) -> MessageDoc {
    MessageDoc {
        wire,
        schema,
        key,
        summary,
    }
}

const CLIENT_MESSAGES: [MessageDoc; 5] = [
    doc("enqueue", "EnqueueRequest", "enqueue", "Queue a task. `request_id` is required and is the idempotency key: sending the same one again (a retry) queues nothing and is answered with the original task (`duplicate: true`)."),
    doc("cancel", "CancelRequest", "cancel", "Cancel a queued or running task of this player; a running one is settled for the actions done."),
    doc("sync", "SyncRequest", "sync", "Ask for the snapshot, then the kept notifications with `seq > after_seq` (0 when absent), at most a page."),
    doc("catalog", "CatalogRequest", "catalog_request", "Ask for the game catalog (items, locations, resources, recipes, enemies, rules)."),
    doc("ping", "PingRequest", "ping", "Check the connection; answered with `pong`."),
];

const REPLIES: [MessageDoc; 5] = [
    doc("ack", "AckReply", "ack", "An `enqueue` or `cancel` was accepted: the task's id, and whether the `request_id` was seen before (nothing new queued)."),
    doc("snapshot", "SnapshotReply", "snapshot", "The `sync` reply: the player and the queue as they are now (always the truth), the player's current `seq` and the protocol version. The kept notifications after `after_seq` follow it as separate messages; `more: true` means sync again from the last one; `truncated: true` means some are no longer kept, so continue from this `seq`."),
    doc("catalog", "CatalogReply", "catalog", "The game catalog of the server's rules version."),
    doc("pong", "PongReply", "pong", "The answer to `ping`."),
    doc("error", "ErrorReply", "error", "The message was refused: `code` is one of the closed list `ErrorCode` (one meaning each), `message` is for a person, `retry_after_ms` comes with `rate_limited` and `unavailable`."),
];

const NOTIFICATIONS: [MessageDoc; 7] = [
    doc("queue_updated", "QueueUpdated", "queue_updated", "Durable: the player's unfinished tasks, in order, after any change to them."),
    doc("task_started", "TaskStarted", "task_started", "Durable: a task started; it ends at `ends_at` (server time)."),
    doc("task_completed", "TaskCompleted", "task_completed", "Durable: a task completed, with what it gave and the levels gained. For a continuous task (`repeat`), `reason: inputs_exhausted` and no actions: its grants came in its `chunk_settled` notifications."),
    doc("chunk_settled", "ChunkSettled", "chunk_settled", "Durable: one chunk of a continuous task (`repeat: until_stopped`) was settled: that chunk's actions, rewards and level-ups, which apply from the next chunk."),
    doc("task_paused", "TaskPaused", "task_paused", "Durable: the running task stopped accruing progress at the offline cap (catalog rule `offline_cap_ms` after the player's last connect or message); the next connect or message resumes it."),
    doc("task_failed", "TaskFailed", "task_failed", "Durable: a task could not start (a validation code, final), or failed transiently (`transient_failure`, retried at `retry_at`) or for good (`retries_exhausted`)."),
    doc("task_cancelled", "TaskCancelled", "task_cancelled", "Durable: a task was cancelled, with the outcome of the actions done and what was refunded; `reason: stopped` when it ended a continuous task."),
];

const PROGRESS: MessageDoc = doc(
    "task_progress",
    "TaskProgress",
    "task_progress",
    "Ephemeral: progress of a running task. No `seq`, never kept, never replayed by `sync`.",
);

const DESCRIPTION: &str = "\
The WebSocket API of the idle-game backend, protocol version 2 (docs/protocol.md; DESIGN.md \
section 6). This document describes the server: it receives the client messages (each with \
`action`) and sends replies and notifications (each with `type`). Every payload is JSON; its \
schema is JSON Schema draft-07, generated from the server's Rust types \
(`crates/core/src/protocol.rs`).

**Connecting.** Open the socket with `?token=<JWT>` (browsers cannot set headers): an HS256 JWT \
whose `sub` is the player id, with `exp` required and an optional `role: \"admin\"`. A missing \
token is refused with 401, a wrong or expired one with 403. After the token's `exp`, messages \
are answered `token_expired` and the server closes the socket: reconnect with a fresh token.

**Requests.** Every client message may carry `request_id` (1 to 64 printable ASCII characters); \
every reply to it echoes it, errors included. For `enqueue` it is required and is the \
idempotency key, so a client may resend an `enqueue` with the same `request_id` after a \
timeout or a reconnect. The server is strict: an unknown field is `invalid_request`. Every \
message spends one token of the player's rate bucket.

**Notifications and the seq contract.** The durable notifications (`queue_updated`, \
`task_started`, `task_completed`, `chunk_settled`, `task_paused`, `task_failed`, \
`task_cancelled`) carry `seq`, per player and \
strictly increasing, and are delivered at least once. A client drops a notification whose \
`seq` it has already seen; on a gap (a `seq` more than one past the last it saw) it sends \
`sync` with `after_seq` = the last `seq` it saw, and the missing ones follow the snapshot. A \
`snapshot` is always the truth and carries the player's current `seq`: when `truncated` is \
true, continue from that `seq`; when `more` is true, `sync` again from the last notification \
received. `task_progress` is ephemeral: no `seq`, never kept.

**Compatibility.** Clients ignore fields and message types they do not know; the server may add \
either within version 2. A change that removes or changes the meaning of anything here raises \
the protocol version, which every `snapshot` carries in `protocol`.";

/// The AsyncAPI 3.0 document of the WebSocket API (what `docs/asyncapi.json` holds).
pub fn asyncapi() -> Value {
    let mut schemas = Map::new();
    // Client messages as the server reads them; everything else as the server writes it.
    let client = definitions::<ClientMessage>(Contract::Deserialize, &mut schemas);
    let replies = definitions::<Reply>(Contract::Serialize, &mut schemas);
    let notifications = definitions::<Notification>(Contract::Serialize, &mut schemas);
    let mut progress = definitions::<Progress>(Contract::Serialize, &mut schemas);
    // schemars leaves out the tag of a struct with `#[serde(tag = "type")]`.
    insert_tag(&mut progress, "type", PROGRESS.wire);
    progress["required"]
        .as_array_mut()
        .expect("required")
        .insert(0, "type".into());

    for (doc, schema) in split(&client, "action", &CLIENT_MESSAGES) {
        schemas.insert(doc.schema.into(), schema);
    }
    for (doc, schema) in split(&replies, "type", &REPLIES) {
        schemas.insert(doc.schema.into(), schema);
    }
    // Each notification variant gets the envelope's `seq` and `at`.
    let envelope = &notifications["properties"];
    for (doc, mut schema) in split(&notifications, "type", &NOTIFICATIONS) {
        for field in ["seq", "at"] {
            schema["properties"][field] = envelope[field].clone();
        }
        let required = schema["required"].as_array_mut().expect("required");
        required.insert(1, "seq".into());
        required.insert(2, "at".into());
        schemas.insert(doc.schema.into(), schema);
    }
    schemas.insert(PROGRESS.schema.into(), progress);
    schemas.insert(
        "RequestId".into(),
        json!({
            "description": "The client's correlation id, echoed by every reply to the message that carried it; for `enqueue`, the idempotency key.",
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_REQUEST_ID_CHARS,
            "pattern": "^[ -~]+$",
        }),
    );
    for schema in schemas.values_mut() {
        refer_request_ids(schema);
    }

    let mut messages = Map::new();
    let mut channel_messages = Map::new();
    let mut operations = Map::new();
    let reply_for = |action: &str| match action {
        "enqueue" | "cancel" => ["ack", "error"],
        "sync" => ["snapshot", "error"],
        "catalog" => ["catalog", "error"],
        _ => ["pong", "error"],
    };
    let all = CLIENT_MESSAGES
        .iter()
        .chain(&REPLIES)
        .chain(&NOTIFICATIONS)
        .chain([&PROGRESS]);
    for doc in all {
        let correlated = CLIENT_MESSAGES
            .iter()
            .chain(&REPLIES)
            .any(|d| d.key == doc.key);
        let mut message = json!({
            "name": doc.wire,
            "title": doc.schema,
            "summary": doc.summary,
            "contentType": "application/json",
            "payload": {
                "schemaFormat": SCHEMA_FORMAT,
                "schema": { "$ref": format!("#{SCHEMAS}/{}", doc.schema) },
            },
        });
        if correlated {
            message["correlationId"] = json!({ "$ref": "#/components/correlationIds/requestId" });
        }
        messages.insert(doc.key.into(), message);
        channel_messages.insert(
            doc.key.into(),
            json!({ "$ref": format!("#/components/messages/{}", doc.key) }),
        );
    }
    let channel_message =
        |key: &str| json!({ "$ref": format!("#/channels/player/messages/{key}") });
    for doc in &CLIENT_MESSAGES {
        operations.insert(
            doc.wire.into(),
            json!({
                "action": "receive",
                "channel": { "$ref": "#/channels/player" },
                "summary": doc.summary,
                "messages": [channel_message(doc.key)],
                "reply": {
                    "channel": { "$ref": "#/channels/player" },
                    "messages": reply_for(doc.wire).map(channel_message),
                },
            }),
        );
    }
    operations.insert(
        "notify".into(),
        json!({
            "action": "send",
            "channel": { "$ref": "#/channels/player" },
            "summary": "Durable notifications: per player, numbered by `seq`, delivered at least once in `seq` order, kept for `sync` (see the seq contract in the description).",
            "messages": NOTIFICATIONS.iter().map(|d| channel_message(d.key)).collect::<Vec<_>>(),
        }),
    );
    operations.insert(
        "progress".into(),
        json!({
            "action": "send",
            "channel": { "$ref": "#/channels/player" },
            "summary": PROGRESS.summary,
            "messages": [channel_message(PROGRESS.key)],
        }),
    );

    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Idle game backend WebSocket API",
            "version": PROTOCOL_VERSION.to_string(),
            "description": DESCRIPTION,
            "license": { "name": "Apache-2.0" },
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:8787",
                "pathname": "/ws",
                "protocol": "ws",
                "description": "idle-local, the whole system in one process (dev tokens at http://127.0.0.1:8787/dev/token?player_id=NAME).",
                "security": [{ "$ref": "#/components/securitySchemes/token" }],
            },
            "aws": {
                "host": "{apiId}.execute-api.{region}.amazonaws.com",
                "pathname": "/{stage}",
                "protocol": "wss",
                "description": "API Gateway WebSocket API (the SAM stack's `WebSocketUrl` output).",
                "variables": {
                    "apiId": { "description": "The WebSocket API's id." },
                    "region": { "description": "The AWS region of the stack." },
                    "stage": { "default": "prod", "description": "The API stage." },
                },
                "security": [{ "$ref": "#/components/securitySchemes/token" }],
            },
        },
        "channels": {
            "player": {
                "address": null,
                "title": "A player's connection",
                "description": "One socket per connection, at the server's pathname. Every message in either direction is one JSON text frame (at most 32 KB per frame, 128 KB per message; the server refuses a message above its MAX_MESSAGE_BYTES, 8 KiB by default, with `message_too_large`).",
                "messages": channel_messages,
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {
                                "token": {
                                    "type": "string",
                                    "description": "The player's HS256 JWT (`sub` = player id, `exp` required, optional `role: \"admin\"`).",
                                },
                            },
                            "required": ["token"],
                        },
                        "bindingVersion": "0.1.0",
                    },
                },
            },
        },
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "token": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "The player's JWT in the `token` query parameter of the upgrade request.",
                },
            },
            "correlationIds": {
                "requestId": {
                    "description": "A reply echoes the `request_id` of the message it answers.",
                    "location": "$message.payload#/request_id",
                },
            },
        },
    })
}

/// The schema of `T` under `contract`, with every type it uses added to `schemas` (a type both
/// contracts use must come out the same in both).
fn definitions<T: JsonSchema>(contract: Contract, schemas: &mut Map<String, Value>) -> Value {
    let mut settings = SchemaSettings::draft07();
    settings.definitions_path = SCHEMAS.into();
    settings.contract = contract.clone();
    let mut generator = settings.into_generator();
    generator.subschema_for::<T>();
    let mut defs = generator.take_definitions(true);
    let root = defs.remove(&*T::schema_name()).expect("the root's schema");
    for (name, mut schema) in defs {
        if matches!(contract, Contract::Serialize) {
            absent_not_null(&mut schema);
        }
        if let Some(other) = schemas.get(&name) {
            assert_eq!(other, &schema, "`{name}` differs between the contracts");
        }
        schemas.insert(name, schema);
    }
    let mut root = root;
    if matches!(contract, Contract::Serialize) {
        absent_not_null(&mut root);
    }
    root
}

/// One schema per variant of a tagged enum's schema, in the order of `docs`, each with the
/// variant's documentation; panics on a variant `docs` does not name (or the reverse), so a new
/// message cannot be left out of the document.
fn split<'a>(
    schema: &Value,
    tag: &str,
    docs: &'a [MessageDoc],
) -> impl Iterator<Item = (&'a MessageDoc, Value)> {
    let variants = schema["oneOf"].as_array().expect("a tagged enum");
    let mut by_name: Map<String, Value> = variants
        .iter()
        .map(|v| {
            let name = v["properties"][tag]["const"]
                .as_str()
                .expect("a tag const")
                .to_owned();
            (name, v.clone())
        })
        .collect();
    let picked: Vec<_> = docs
        .iter()
        .map(|doc| {
            let mut schema = by_name
                .remove(doc.wire)
                .unwrap_or_else(|| panic!("no variant `{}`", doc.wire));
            schema["title"] = doc.schema.into();
            if schema.get("description").is_none() {
                schema["description"] = doc.summary.into();
            }
            (doc, schema)
        })
        .collect();
    assert!(by_name.is_empty(), "undocumented: {:?}", by_name.keys());
    picked.into_iter()
}

fn insert_tag(schema: &mut Value, tag: &str, name: &str) {
    schema["properties"][tag] = json!({ "type": "string", "const": name });
}

/// The server skips an empty optional field rather than writing `null`: say so.
fn absent_not_null(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            let required: Vec<String> = object
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = object.get_mut("properties") {
                for (name, property) in properties.iter_mut() {
                    if !required.contains(name) {
                        drop_null(property);
                    }
                }
            }
            for value in object.values_mut() {
                absent_not_null(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(absent_not_null),
        _ => {}
    }
}

fn drop_null(property: &mut Value) {
    let null = json!({ "type": "null" });
    if let Some(Value::Array(types)) = property.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            property["type"] = types[0].clone();
        }
    } else if let Some(Value::Array(any)) = property.get("anyOf") {
        if any.len() == 2 && any.contains(&null) {
            let other = any.iter().find(|s| **s != null).cloned().expect("two");
            let object = property.as_object_mut().expect("an object");
            object.remove("anyOf");
            object.insert("allOf".into(), json!([other]));
        }
    }
}

/// Every `request_id` property refers to the one `RequestId` schema (its length and alphabet).
fn refer_request_ids(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get_mut("properties") {
                if let Some(id) = properties.get_mut("request_id") {
                    *id = json!({ "$ref": format!("#{SCHEMAS}/RequestId") });
                }
            }
            for value in object.values_mut() {
                refer_request_ids(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(refer_request_ids),
        _ => {}
    }
}
