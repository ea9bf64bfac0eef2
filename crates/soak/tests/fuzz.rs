//! Fuzzing the inputs an attacker or a broken client controls, with bounded case counts: message
//! bodies, stream records, catalog files and tokens. Every input gets a clear error or a valid
//! answer, never a panic, and a refused input changes nothing in the store but the sender's
//! rate bucket.

use std::time::Duration;

use idle_app::auth::{mint, verify, DEV_TOKEN_SECRET};
use idle_app::handlers;
use idle_app::memory::{stream_event, MemoryWorld};
use idle_app::usecase;
use idle_app::Services;
use idle_core::catalog::{Catalog, SHIPPED_JSON};
use idle_core::protocol::parse_client_message;
use idle_soak::driver::{soak_app_config, START, WAKE_SHARDS};
use idle_testing::tokens::{b64url, dev_token};
use idle_testing::world::harvest_message;
use proptest::prelude::*;
use serde_json::{json, Value};

const CASES: u32 = 256;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

/// A world with one connected player `fuzz` on connection `c1` whose queue holds one task, and
/// whose outboxes are performed (so every notification has reached `c1`).
fn world(rt: &tokio::runtime::Runtime) -> (MemoryWorld, Services, Value) {
    let world = MemoryWorld::new(START, WAKE_SHARDS);
    let services = world.services(soak_app_config());
    let token = dev_token("fuzz", Duration::from_secs(3600), START);
    rt.block_on(async {
        idle_testing::world::connect(&world, &services, "c1", &token).await;
        let body = harvest_message("r1", 2);
        usecase::message(&services, "c1", &body.to_string()).await;
        let first = stream_event(&world.store.take_outboxes());
        handlers::task_processor(&services, first.clone()).await;
        world.store.take_outboxes();
        (world, services, first)
    })
}

/// Everything the store holds about the player.
fn state(world: &MemoryWorld) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}",
        world.store.player("fuzz").map(|mut state| {
            // Every message spends a token of the sender's rate bucket, refused ones too
            // (DESIGN.md section 6): that write is the one change a refusal may make.
            state.player.rate.milli_tokens = 0;
            state.player.rate.updated_at = 0;
            state.player.version = 0;
            state
        }),
        world.store.task_history("fuzz"),
        world.store.inbox("fuzz"),
        world.store.connections()
    )
}

/// Arbitrary JSON, nested a few levels, with extreme numbers.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::from),
        prop_oneof![
            Just("enqueue"),
            Just("cancel"),
            Just("sync"),
            Just("harvest"),
            Just("craft"),
            Just("combat"),
            Just("copper_ore"),
            Just("meadow")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("action".to_owned()),
                    Just("task".to_owned()),
                    Just("request_id".to_owned()),
                    Just("task_id".to_owned()),
                    Just("quantity".to_owned()),
                    Just("activity".to_owned()),
                    Just("bypass_validation".to_owned()),
                    "[a-z_]{1,10}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Message bodies: raw text, arbitrary JSON, near-valid messages, huge numbers, deep nesting.
fn any_body() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        any_json().prop_map(|v| v.to_string()),
        (any_json(), any_json()).prop_map(|(task, id)| {
            json!({"action": "enqueue", "request_id": id, "task": task}).to_string()
        }),
        prop_oneof![
            Just("1e400"),
            Just("18446744073709551616"),
            Just("-1"),
            Just("1.5"),
            Just("4294967296"),
            Just("\"3\"")
        ]
        .prop_map(|q| format!(
            r#"{{"action":"enqueue","request_id":"big","task":{{"activity":"combat","enemy":"cow","quantity":{q}}}}}"#
        )),
        (1usize..4000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        (1usize..2000).prop_map(|n| format!("{}1{}", r#"{"action":"#.repeat(n), "}".repeat(n))),
        (8000usize..20_000).prop_map(|n| format!(r#"{{"action":"ping","pad":"{}"}}"#, "x".repeat(n))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_message_body_gets_json_replies_and_a_refused_one_changes_nothing(body in any_body()) {
        let rt = runtime();
        let (world, services, _) = world(&rt);
        let before = state(&world);
        let replies = rt.block_on(usecase::message(&services, "c1", &body)).replies;
        prop_assert!(!replies.is_empty());
        let replies: Vec<Value> = replies
            .iter()
            .map(|r| serde_json::to_value(r).expect("every reply serialises to JSON"))
            .collect();
        let refused = replies.iter().all(|r| r["type"] == "error");
        for reply in &replies {
            if reply["type"] == "error" {
                let code = reply["code"].as_str().unwrap_or_default();
                prop_assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{reply}");
                prop_assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
            }
        }
        if refused {
            prop_assert_eq!(before, state(&world), "a refused message changed the store");
        }
        if body.len() > services.config.max_message_bytes {
            prop_assert_eq!(&replies[0]["code"], "message_too_large");
        }
    }

    #[test]
    fn any_stream_record_is_processed_or_counted_malformed_without_a_change(
        mutations in prop::collection::vec((0usize..12, any_json()), 1..4),
        extra in prop::collection::vec(any_json(), 0..3),
    ) {
        let rt = runtime();
        let (world, services, first) = world(&rt);
        // Its outbox is performed: performing it again (or any mutation of it that reads as an
        // outbox) only repeats posts to c1; nothing else may change.
        let before = state(&world);
        let mut record = first["Records"][0].clone();
        for (at, value) in mutations {
            let path: &[&str] = match at {
                0 => &["dynamodb", "Keys"],
                1 => &["dynamodb", "Keys", "player_id"],
                2 => &["dynamodb", "Keys", "player_id", "S"],
                3 => &["dynamodb", "SequenceNumber"],
                4 => &["dynamodb", "NewImage"],
                5 => &["dynamodb", "NewImage", "version"],
                6 => &["eventName"],
                7 => &["dynamodb"],
                8 => &["dynamodb", "NewImage", "outbox"],
                9 => &["dynamodb", "NewImage", "state", "B"],
                10 => &["dynamodb", "garbage"],
                _ => &[],
            };
            set(&mut record, path, value);
        }
        let mut records = vec![record];
        records.extend(extra);
        let event = json!({ "Records": records });
        let parsed = handlers::records_from_json(&event);
        prop_assert_eq!(parsed.len(), event["Records"].as_array().map_or(0, Vec::len));
        let response = rt.block_on(handlers::task_processor(&services, event));
        prop_assert!(response.batch_item_failures.is_empty(), "no transient failure here");
        prop_assert_eq!(before, state(&world));
    }

    #[test]
    fn a_mutated_catalog_loads_or_names_what_is_wrong(
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any_json()), 1..4)
    ) {
        let mut catalog: Value = serde_json::from_str(SHIPPED_JSON).unwrap();
        for (section, entry, value) in mutations {
            mutate(&mut catalog, &section, &entry, value);
        }
        match Catalog::from_json(&catalog.to_string()) {
            Ok(loaded) => prop_assert!(loaded.version > 0),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn arbitrary_and_tampered_tokens_never_verify(
        text in ".{0,300}",
        header in any_json(),
        claims in any_json(),
        position in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9_-]",
    ) {
        let secret = DEV_TOKEN_SECRET.as_bytes();
        prop_assert!(verify(secret, &text, START).is_err());
        let forged = format!("{}.{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()), b64url(b"signature"));
        prop_assert!(verify(secret, &forged, START).is_err());
        // One character of a valid token's header or claims changed: refused.
        let token = mint(secret, "fuzz", Duration::from_secs(3600), false, START).unwrap();
        let signed = token.rfind('.').unwrap();
        let i = position.index(signed);
        let mut bytes = token.clone().into_bytes();
        if bytes[i] != b'.' && bytes[i] != replacement.as_bytes()[0] {
            bytes[i] = replacement.as_bytes()[0];
            let tampered = String::from_utf8(bytes).unwrap();
            prop_assert!(verify(secret, &tampered, START).is_err(), "{tampered}");
        }
    }
}

/// Sets the value at `path` (creating objects on the way); an empty path replaces the record.
fn set(target: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        *target = value;
        return;
    };
    let mut at = target;
    for key in parents {
        if !at.is_object() {
            *at = json!({});
        }
        at = at
            .as_object_mut()
            .expect("an object")
            .entry(key.to_string())
            .or_insert(json!({}));
    }
    if let Some(object) = at.as_object_mut() {
        object.insert(last.to_string(), value);
    }
}

/// Replaces one field of one catalog entry (or a whole entry, or a section) with `value`.
fn mutate(
    catalog: &mut Value,
    section: &prop::sample::Index,
    entry: &prop::sample::Index,
    value: Value,
) {
    let Some(sections) = catalog.as_object_mut() else {
        return;
    };
    let keys: Vec<String> = sections.keys().cloned().collect();
    let key = &keys[section.index(keys.len())];
    let target = sections.get_mut(key).expect("a key it listed");
    match target {
        Value::Object(entries) if !entries.is_empty() => {
            let names: Vec<String> = entries.keys().cloned().collect();
            let name = &names[entry.index(names.len())];
            let chosen = entries.get_mut(name).expect("a key it listed");
            match chosen {
                Value::Object(fields) if !fields.is_empty() => {
                    let fields_names: Vec<String> = fields.keys().cloned().collect();
                    let field = &fields_names[entry.index(fields_names.len())];
                    fields.insert(field.clone(), value);
                }
                other => *other = value,
            }
        }
        other => *other = value,
    }
}

#[test]
fn nesting_far_past_serde_jsons_recursion_limit_is_an_error_not_a_stack_overflow() {
    // Given bodies nested 100,000 deep, parsed with no size limit in the way
    for body in [
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000)),
    ] {
        // When parsed; Then a clear invalid_request, not a crash
        let error = parse_client_message(&body, usize::MAX).unwrap_err();
        assert_eq!(error.code(), "invalid_request");
        assert!(error.to_string().contains("recursion limit"), "{error}");
    }
}
