//! Items: how the game's values are laid out in the four tables.
//!
//! - **Players** (key `player_id`): `player_id` (S) and `version` (N, the condition of every
//!   write) plain; `state` (B): the [`Player`](idle_core::model::Player), its queue
//!   ([`PlayerState::queue`]) and the outbox of the write, [`packed`] as one deflated JSON
//!   document behind a format byte; `outbox` (N, 1) only when that outbox is not empty, so the
//!   Players stream's filter (`outbox` exists) skips writes with nothing to perform; and, only
//!   while the player has a wake time, `wake_shard` (N, [`wake_shard`]`(player_id, shards)`)
//!   and `wake_bucket` (N, [`wake_bucket`]: the wake time rounded up to `WAKE_BUCKET_SECS`),
//!   the keys of the sparse `wake` index. A player without a wake-up has neither index
//!   attribute (not even NULL: an index key attribute must be absent or a number). Beside
//!   them, `connections` (SS): the ids of the player's open connections, absent when it has
//!   none, changed only by the connection store's `ADD`/`DELETE` and never by a player write
//!   (an `UpdateItem` that names only its own attributes); an item holding nothing but the key
//!   and `connections` (a connection before the player's first write) is no player.
//! - **Tasks** (the history of finished tasks; keys `player_id`, `task_id`): each [`Task`]
//!   through `serde_dynamo`, `Option` fields as NULL, and `expires_at` (N, seconds, the TTL
//!   attribute).
//! - **Connections** (key `connection_id`, no index): the [`Connection`] through
//!   `serde_dynamo`; `expires_at` (N, seconds) is the TTL attribute.
//! - **Notifications** (keys `player_id`, `seq` (N)): `body` (S, the [`Notification`] as JSON,
//!   exactly what the client is sent) and `expires_at` (N, seconds, the TTL attribute).
//!
//! Reading an item that does not have this shape is a [`StoreError::Permanent`] naming the
//! table and the key, never a panic.

use std::collections::HashMap;
use std::fmt::Display;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use idle_app::outbox::{Commit, Outbox};
use idle_app::packed;
use idle_app::ports::{wake_shard, Connection, StoreError};
use idle_app::state::PlayerState;
use idle_core::model::{EpochSecs, Millis, Task};
use idle_core::protocol::Notification;

/// An item as the SDK sends and receives it.
pub type Item = HashMap<String, AttributeValue>;

pub(crate) const PLAYER_ID: &str = "player_id";
pub(crate) const TASK_ID: &str = "task_id";
pub(crate) const CONNECTION_ID: &str = "connection_id";
pub(crate) const STATE: &str = idle_app::handlers::PACKED_STATE;
pub(crate) const WAKE_BUCKET: &str = "wake_bucket";
pub(crate) const WAKE_SHARD: &str = "wake_shard";
pub(crate) const SEQ: &str = "seq";
pub(crate) const BODY: &str = "body";
pub(crate) const EXPIRES_AT: &str = "expires_at";
pub(crate) const CONNECTED_AT: &str = "connected_at";
pub(crate) const VERSION: &str = "version";
pub(crate) const OUTBOX: &str = idle_app::handlers::OUTBOX_MARKER;
pub(crate) const CONNECTIONS: &str = idle_app::handlers::CONNECTIONS_LIST;
pub(crate) const CATALOG_HASH: &str = "catalog_hash";
pub(crate) const CATALOG: &str = "catalog";

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn corrupt(table: &str, key: &str, what: impl Display) -> StoreError {
    StoreError::Permanent(format!("corrupt item in table {table}, key {key}: {what}"))
}

fn unwritable(what: &str, key: &str, err: impl Display) -> StoreError {
    StoreError::Permanent(format!("cannot encode {what} {key}: {err}"))
}

/// The string attribute `name` of an item, for naming the item in errors.
pub(crate) fn key_text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        Some(AttributeValue::N(value)) => value.clone(),
        _ => format!("<no {name}>"),
    }
}

/// True if a value holds a type this SDK does not know (a newer DynamoDB type): `serde_dynamo`
/// would panic on it, so readers refuse such items first.
fn has_unknown(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::M(map) => map.values().any(has_unknown),
        AttributeValue::L(list) => list.iter().any(has_unknown),
        other => other.is_unknown(),
    }
}

/// Refuses an item with an attribute of an unknown type.
pub(crate) fn known(table: &str, key: &str, item: &Item) -> Result<(), StoreError> {
    match item.iter().find(|(_, value)| has_unknown(value)) {
        Some((name, _)) => Err(corrupt(
            table,
            key,
            format_args!("attribute `{name}` has a type this build does not know"),
        )),
        None => Ok(()),
    }
}

/// The `wake` index key of a wake time: `at` rounded UP to a multiple of `bucket_ms` (ms; 1 or
/// less keys by `at` itself). Every wake time in a bucket is at or before its key, so a sweep
/// of the keys `<= now` finds only players already due.
pub fn wake_bucket(at: Millis, bucket_ms: Millis) -> Millis {
    if bucket_ms <= 1 {
        return at;
    }
    at.div_euclid(bucket_ms)
        .saturating_add(i64::from(at.rem_euclid(bucket_ms) != 0))
        .saturating_mul(bucket_ms)
}

/// How the adapter lays out a Players item: the deployment's `WAKE_SHARDS` and
/// `WAKE_BUCKET_SECS` (in ms), which every writer of a player and the ticker must agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub wake_shards: u32,
    pub wake_bucket_ms: Millis,
}

/// The Players item of a player, its queue and the outbox of the write (empty: none):
/// `player_id` (S) and `version` (N) plain; `state` (B) the [`packed`] player, queue and
/// outbox; `outbox` (N, 1) only when the outbox is not empty (the stream filter's marker);
/// `wake_shard` and `wake_bucket` (N, [`wake_bucket`] of `wake_at`) only while the player has a
/// wake time.
pub fn packed_item(
    state: &PlayerState,
    outbox: &Outbox,
    layout: Layout,
) -> Result<Item, StoreError> {
    let id = &state.player.player_id;
    let bytes = packed::pack(state, outbox).map_err(|e| unwritable("player", id, e))?;
    let mut item = HashMap::from([
        (PLAYER_ID.to_owned(), s(id.as_str())),
        (VERSION.to_owned(), n(state.player.version)),
        (STATE.to_owned(), AttributeValue::B(Blob::new(bytes))),
    ]);
    if !outbox.is_empty() {
        item.insert(OUTBOX.to_owned(), n(1));
    }
    if let Some(at) = state.player.wake_at {
        item.insert(
            WAKE_BUCKET.to_owned(),
            n(wake_bucket(at, layout.wake_bucket_ms)),
        );
        item.insert(WAKE_SHARD.to_owned(), n(wake_shard(id, layout.wake_shards)));
    }
    Ok(item)
}

/// The Players item of a player and its queue, with nothing to perform ([`packed_item`]).
pub fn player_item(state: &PlayerState, layout: Layout) -> Result<Item, StoreError> {
    packed_item(state, &Outbox::default(), layout)
}

/// The Players item a [`Commit`] writes ([`packed_item`] of its state and outbox).
pub fn commit_item(commit: &Commit, layout: Layout) -> Result<Item, StoreError> {
    packed_item(&commit.state, &commit.outbox, layout)
}

/// An `UpdateItem` that writes a Players item's own attributes and leaves the rest (the
/// `connections` set) alone: `SET` of every attribute of `item` but the key, `REMOVE` of the
/// optional ones it lacks (the `outbox` marker, the wake index keys). Billed as a `PutItem` of
/// the item would be, by the larger of the item before and after (DynamoDB Developer Guide,
/// "Write request units").
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Update {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: Item,
}

/// The [`Update`] writing `item` (a [`packed_item`]).
pub(crate) fn update_of(mut item: Item) -> Update {
    item.remove(PLAYER_ID);
    let mut names = HashMap::new();
    let mut values = Item::new();
    let mut set: Vec<String> = Vec::new();
    let mut attributes: Vec<(String, AttributeValue)> = item.into_iter().collect();
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, value)) in attributes.into_iter().enumerate() {
        set.push(format!("#a{i} = :a{i}"));
        names.insert(format!("#a{i}"), name);
        values.insert(format!(":a{i}"), value);
    }
    let mut remove: Vec<String> = Vec::new();
    for (i, name) in [OUTBOX, WAKE_BUCKET, WAKE_SHARD].into_iter().enumerate() {
        if !names.values().any(|n| n == name) {
            remove.push(format!("#r{i}"));
            names.insert(format!("#r{i}"), name.to_owned());
        }
    }
    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    Update {
        expression,
        names,
        values,
    }
}

/// The connection ids of a Players item's `connections` set, in id order (none when absent).
pub(crate) fn listed_of(item: &Item) -> Vec<String> {
    match item.get(CONNECTIONS) {
        Some(AttributeValue::Ss(ids)) => {
            let mut ids = ids.clone();
            ids.sort();
            ids
        }
        _ => Vec::new(),
    }
}

/// Bytes the `connections` set of `ids` adds to a Players item (its name and each id; nothing
/// when empty, as the attribute is then absent), as [`item_size`] counts them.
pub fn connections_size(ids: &[String]) -> usize {
    if ids.is_empty() {
        0
    } else {
        CONNECTIONS.len() + ids.iter().map(String::len).sum::<usize>()
    }
}

/// The packed `state` of a Players item.
fn packed_of<'i>(table: &str, key: &str, item: &'i Item) -> Result<&'i [u8], StoreError> {
    match item.get(STATE) {
        Some(AttributeValue::B(blob)) => Ok(blob.as_ref()),
        _ => Err(corrupt(table, key, "no binary attribute `state`")),
    }
}

/// The outbox stored in a Players item: the packed outbox of its last write (empty when that
/// had nothing to perform, or the item holds no player). Read from `state`, not from the
/// `outbox` marker, which a connection's `ADD`/`DELETE` removes (so that its stream record is
/// filtered out and does not perform the outbox again).
pub(crate) fn outbox_of(table: &str, key: &str, item: &Item) -> Result<Outbox, StoreError> {
    if !item.contains_key(STATE) {
        return Ok(Outbox::default());
    }
    packed::unpack_outbox(packed_of(table, key, item)?)
        .map_err(|e| corrupt(table, key, format_args!("state: {e}")))
}

/// An item's size in bytes as DynamoDB counts it against its 400 KB limit (DynamoDB Developer
/// Guide, "Item sizes and formats"): attribute names and string/binary values by their UTF-8
/// length, a number as 1 byte plus 1 per two significant digits, null and boolean 1 byte, a
/// list or map 3 bytes plus 1 byte per element plus its elements (and a map's names).
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

fn number_size(n: &str) -> usize {
    let digits = n
        .trim_start_matches('-')
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    1 + significant.div_ceil(2)
}

/// A player and its queue from a Players item ([`packed_item`]'s layout). Every error is a
/// [`StoreError::Permanent`] about this one item naming table and key (a batched read reports
/// it for its player and keeps the others): no `state`, one that does not unpack, or a packed
/// player whose id or version is not the item's.
/// The player of a Players item, or `None` for an item that holds no player (no `state` nor
/// `version`: only the key and the `connections` set a connection put before the player's first
/// write). `Err` for an item that does not read back.
pub(crate) fn player_state(table: &str, item: Item) -> Result<Option<PlayerState>, StoreError> {
    let key = key_text(&item, PLAYER_ID);
    known(table, &key, &item)?;
    if !item.contains_key(STATE) && !item.contains_key(VERSION) {
        return Ok(None);
    }
    let (state, _) = packed::unpack(packed_of(table, &key, &item)?)
        .map_err(|e| corrupt(table, &key, format_args!("state: {e}")))?;
    if state.player.player_id != key {
        return Err(corrupt(table, &key, "player_id does not match the key"));
    }
    let version = match item.get(VERSION) {
        Some(AttributeValue::N(v)) => v.parse::<u64>().ok(),
        _ => None,
    };
    if version != Some(state.player.version) {
        return Err(corrupt(
            table,
            &key,
            "the packed version does not match the `version` attribute",
        ));
    }
    Ok(Some(state))
}

/// The Tasks (history) item of a task.
pub fn task_item(task: &Task) -> Result<Item, StoreError> {
    serde_dynamo::to_item(task)
        .map_err(|e| unwritable("task", &format!("{}/{}", task.player_id, task.task_id), e))
}

/// A task from a Tasks item.
pub(crate) fn task_from_item(table: &str, item: Item) -> Result<Task, StoreError> {
    let key = format!(
        "{}/{}",
        key_text(&item, PLAYER_ID),
        key_text(&item, TASK_ID)
    );
    known(table, &key, &item)?;
    serde_dynamo::from_item(item).map_err(|e| corrupt(table, &key, e))
}

/// The Connections item of a connection.
pub fn connection_item(connection: &Connection) -> Result<Item, StoreError> {
    serde_dynamo::to_item(connection)
        .map_err(|e| unwritable("connection", &connection.connection_id, e))
}

/// A connection from a Connections item.
pub(crate) fn connection_from_item(table: &str, item: Item) -> Result<Connection, StoreError> {
    let key = key_text(&item, CONNECTION_ID);
    known(table, &key, &item)?;
    serde_dynamo::from_item(item).map_err(|e| corrupt(table, &key, e))
}

/// The Notifications item of a player's notification.
pub fn notification_item(
    player_id: &str,
    notification: &Notification,
    expires_at: EpochSecs,
) -> Result<Item, StoreError> {
    let body = serde_json::to_string(notification).map_err(|e| {
        unwritable(
            "notification",
            &format!("{player_id}/{}", notification.seq),
            e,
        )
    })?;
    Ok(HashMap::from([
        (PLAYER_ID.to_owned(), s(player_id)),
        (SEQ.to_owned(), n(notification.seq)),
        (BODY.to_owned(), s(body)),
        (EXPIRES_AT.to_owned(), n(expires_at.0)),
    ]))
}

/// A stored notification and when it expires (seconds), from a Notifications item.
pub(crate) fn notification_from_item(
    table: &str,
    item: &Item,
) -> Result<(Notification, EpochSecs), StoreError> {
    let key = format!("{}/{}", key_text(item, PLAYER_ID), key_text(item, SEQ));
    let body = match item.get(BODY) {
        Some(AttributeValue::S(body)) => body,
        _ => return Err(corrupt(table, &key, "no string attribute `body`")),
    };
    let notification: Notification =
        serde_json::from_str(body).map_err(|e| corrupt(table, &key, format_args!("body: {e}")))?;
    let expires_at = match item.get(EXPIRES_AT) {
        Some(AttributeValue::N(value)) => value
            .parse::<i64>()
            .map_err(|e| corrupt(table, &key, format_args!("expires_at: {e}")))?,
        _ => return Err(corrupt(table, &key, "no number attribute `expires_at`")),
    };
    Ok((notification, EpochSecs(expires_at)))
}

/// The string attribute `name`.
pub(crate) fn string<'i>(table: &str, item: &'i Item, name: &str) -> Result<&'i str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(corrupt(
            table,
            &key_text(item, name),
            format_args!("no string attribute `{name}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use idle_core::catalog::Catalog;
    use idle_core::model::{Player, TaskRequest, TaskStatus};
    use idle_core::protocol::Event;

    use super::*;

    fn state(wake_at: Option<i64>) -> PlayerState {
        let mut player = Player::new("p1", 1_000, Catalog::shipped(), 10);
        player.wake_at = wake_at;
        let task = Task {
            player_id: "p1".into(),
            task_id: "t0000000001".into(),
            request_id: "r1".into(),
            request: TaskRequest::Harvest {
                resource: "copper_ore".into(),
                location: "meadow".into(),
                quantity: 3,
                repeat: None,
            },
            bypass_validation: false,
            status: TaskStatus::Queued,
            enqueued_at: 1_000,
            started_at: None,
            ends_at: None,
            finished_at: None,
            attempts: 0,
            retry_at: None,
            rules_version: 1,
            catalog_hash: None,
            snapshot: None,
            result: None,
            failure: None,
            chunk: None,
            paused_at: None,
        };
        PlayerState {
            player,
            queue: vec![task],
        }
    }

    const LAYOUT: Layout = Layout {
        wake_shards: 8,
        wake_bucket_ms: 60_000,
    };

    #[test]
    fn wake_buckets_round_up() {
        assert_eq!(wake_bucket(0, 60_000), 0);
        assert_eq!(wake_bucket(1, 60_000), 60_000);
        assert_eq!(wake_bucket(60_000, 60_000), 60_000);
        assert_eq!(wake_bucket(60_001, 60_000), 120_000);
        assert_eq!(wake_bucket(-1, 60_000), 0);
        assert_eq!(wake_bucket(12_345, 1), 12_345);
        assert_eq!(wake_bucket(12_345, 0), 12_345);
    }

    #[test]
    fn a_player_with_a_wake_up_carries_the_index_keys_and_reads_back_equal() {
        let before = state(Some(5_000));
        let item = player_item(&before, LAYOUT).unwrap();
        assert_eq!(item.get(WAKE_BUCKET), Some(&n(60_000)));
        assert_eq!(item.get(WAKE_SHARD), Some(&n(wake_shard("p1", 8))));
        assert_eq!(item.get(VERSION), Some(&n(before.player.version)));
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(
            names,
            ["player_id", "state", "version", "wake_bucket", "wake_shard"]
        );
        assert_eq!(player_state("Players", item).unwrap(), Some(before));
    }

    #[test]
    fn a_player_without_a_wake_up_has_no_index_attributes_at_all() {
        let before = state(None);
        let item = player_item(&before, LAYOUT).unwrap();
        assert!(!item.contains_key(WAKE_BUCKET), "{item:?}");
        assert!(!item.contains_key(WAKE_SHARD));
        assert_eq!(player_state("Players", item).unwrap(), Some(before));
    }

    #[test]
    fn a_corrupt_player_item_is_a_permanent_error_naming_table_and_key() {
        let permanent = |item: Item, what: &str| match player_state("Players", item) {
            Err(StoreError::Permanent(message)) => {
                assert!(
                    message.contains("Players") && message.contains("p1"),
                    "{what}: {message}"
                )
            }
            other => panic!("{what}: expected a permanent error, got {other:?}"),
        };
        let good = player_item(&state(None), LAYOUT).unwrap();
        let mut item = good.clone();
        item.insert(VERSION.to_owned(), s("not a number"));
        permanent(item, "version");
        let mut item = good.clone();
        item.insert(VERSION.to_owned(), n(99));
        permanent(item, "another version");
        let mut item = good.clone();
        item.insert(STATE.to_owned(), s("oops"));
        permanent(item, "state not binary");
        let mut item = good.clone();
        item.remove(STATE);
        permanent(item, "no state");
        for bytes in [vec![], vec![7, 1, 2], vec![1, 0xff, 0x00, 0x13]] {
            let mut item = good.clone();
            item.insert(
                STATE.to_owned(),
                AttributeValue::B(Blob::new(bytes.clone())),
            );
            permanent(item, &format!("state {bytes:?}"));
        }
        let mut item = good.clone();
        item.insert(PLAYER_ID.to_owned(), s("p2"));
        match player_state("Players", item) {
            Err(StoreError::Permanent(message)) => assert!(message.contains("p2"), "{message}"),
            other => panic!("another key: {other:?}"),
        }
    }

    #[test]
    fn a_commit_carries_its_outbox_packed_and_the_marker_only_when_there_is_something_to_perform() {
        let quiet = Commit {
            state: state(Some(5_000)),
            expected_version: Some(0),
            outbox: Outbox::default(),
        };
        let item = commit_item(&quiet, LAYOUT).unwrap();
        assert!(!item.contains_key(OUTBOX), "no marker at all");
        assert_eq!(item, player_item(&quiet.state, LAYOUT).unwrap());
        assert_eq!(
            outbox_of("Players", "p1", &item).unwrap(),
            Outbox::default()
        );

        let busy = Commit {
            outbox: Outbox {
                notifications: vec![Notification {
                    seq: 1,
                    at: 5_000,
                    event: Event::QueueUpdated { queue: Vec::new() },
                }],
                ..Outbox::default()
            },
            ..quiet
        };
        let item = commit_item(&busy, LAYOUT).unwrap();
        assert_eq!(item.get(OUTBOX), Some(&n(1)));
        assert_eq!(outbox_of("Players", "p1", &item).unwrap(), busy.outbox);
        assert_eq!(
            player_state("Players", item).unwrap(),
            Some(busy.state),
            "read back without it"
        );
    }

    #[test]
    fn a_player_write_sets_its_own_attributes_removes_the_absent_ones_and_leaves_connections() {
        let item = player_item(&state(None), LAYOUT).unwrap();
        let update = update_of(item.clone());
        // The key is not set; state and version are; the marker and the index keys (absent
        // from this item) are removed; the connections set is never named.
        let named: Vec<&str> = update.names.values().map(String::as_str).collect();
        assert!(
            !named.contains(&PLAYER_ID) && !named.contains(&CONNECTIONS),
            "{named:?}"
        );
        for name in [STATE, VERSION, OUTBOX, WAKE_BUCKET, WAKE_SHARD] {
            assert!(named.contains(&name), "{name} in {named:?}");
        }
        let sets = update.expression.split(" REMOVE ").next().unwrap();
        assert_eq!(sets.matches('=').count(), 2, "{}", update.expression);
        assert_eq!(update.values.len(), 2);
        assert!(update.values.values().any(|v| v == &item[STATE]));

        let with_wake = update_of(player_item(&state(Some(5_000)), LAYOUT).unwrap());
        let sets = with_wake.expression.split(" REMOVE ").next().unwrap();
        assert_eq!(sets.matches('=').count(), 4, "{}", with_wake.expression);
        let removed = with_wake.expression.split(" REMOVE ").nth(1).unwrap();
        assert_eq!(with_wake.names[removed], OUTBOX, "{}", with_wake.expression);
    }

    #[test]
    fn an_item_with_only_connections_is_no_player_and_lists_them() {
        let item: Item = HashMap::from([
            (PLAYER_ID.to_owned(), s("p1")),
            (
                CONNECTIONS.to_owned(),
                AttributeValue::Ss(vec!["c2".into(), "c1".into()]),
            ),
        ]);
        assert_eq!(listed_of(&item), ["c1", "c2"]);
        assert_eq!(player_state("Players", item.clone()).unwrap(), None);
        assert_eq!(
            outbox_of("Players", "p1", &item).unwrap(),
            Outbox::default()
        );
        assert_eq!(connections_size(&listed_of(&item)), CONNECTIONS.len() + 4);
        assert_eq!(connections_size(&[]), 0);
        let mut with_player = player_item(&state(None), LAYOUT).unwrap();
        with_player.extend(item);
        assert_eq!(
            item_size(&with_player),
            item_size(&player_item(&state(None), LAYOUT).unwrap()) + CONNECTIONS.len() + 4
        );
        assert_eq!(
            player_state("Players", with_player).unwrap(),
            Some(state(None))
        );
    }

    #[test]
    fn item_sizes_follow_dynamodbs_rules() {
        let item: Item = HashMap::from([
            ("id".to_owned(), s("abc")),                              // 2 + 3
            ("n".to_owned(), n(12345)),                               // 1 + 1 + 3
            ("z".to_owned(), n("0.00100")),                           // 1 + 1 + 1
            ("flag".to_owned(), AttributeValue::Bool(true)),          // 4 + 1
            ("nothing".to_owned(), AttributeValue::Null(true)),       // 7 + 1
            ("l".to_owned(), AttributeValue::L(vec![s("ab"), n(7)])), // 1 + 3 + (1+2) + (1+2)
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([("k".to_owned(), s("v"))])),
            ), // 1 + 3 + 1 + 1 + 1
        ]);
        assert_eq!(item_size(&item), 5 + 5 + 3 + 5 + 8 + 10 + 7);
    }

    #[test]
    fn notifications_keep_their_json_body() {
        let notification = Notification {
            seq: 7,
            at: 123,
            event: Event::TaskFailed {
                task_id: "t1".into(),
                code: idle_core::protocol::ErrorCode::TransientFailure,
                message: "try again".into(),
                attempts: 1,
                retry_at: Some(999),
            },
        };
        let item = notification_item("p1", &notification, EpochSecs(55)).unwrap();
        assert_eq!(item.get(SEQ), Some(&n(7)));
        let (back, expires_at) = notification_from_item("Notifications", &item).unwrap();
        assert_eq!(back, notification);
        assert_eq!(expires_at, EpochSecs(55));
        let mut bad = item.clone();
        bad.insert(BODY.to_owned(), s("{"));
        assert!(matches!(
            notification_from_item("Notifications", &bad),
            Err(StoreError::Permanent(m)) if m.contains("p1/7")
        ));
    }
}
