//! The DynamoDB store: one client, the four tables, and the helpers its ports share (cursors,
//! batched writes with retries of unprocessed items).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use aws_sdk_dynamodb::Client;
use idle_app::ports::StoreError;
use idle_core::model::Millis;

use crate::config::Tables;
use crate::error::store_error;
use crate::items::{known, Item};

/// Rows per page of a paginated read unless [`DynamoStore::with_page_size`] says otherwise.
pub const DEFAULT_PAGE_SIZE: i32 = 100;

/// The `wake` index's bucket when none is given: 300 s, as `AppConfig`'s default (`WAKE_BUCKET_SECS`, see
/// [`DynamoStore::with_wake_bucket`]).
pub const DEFAULT_WAKE_BUCKET_MS: Millis = 300_000;

/// History retention when none is given: 90 days, as `AppConfig`'s default.
pub const DEFAULT_HISTORY_TTL_SECS: i64 = 90 * 24 * 3600;

/// Most items one `BatchGetItem` may ask for (and at most 16 MB returned; what is left over
/// comes back as unprocessed keys): DynamoDB API Reference, "BatchGetItem".
pub(crate) const BATCH_GET_LIMIT: usize = 100;
/// Most put or delete requests one `BatchWriteItem` may carry (at most 16 MB, each item at most
/// 400 KB): DynamoDB API Reference, "BatchWriteItem".
pub(crate) const BATCH_WRITE_LIMIT: usize = 25;
/// Rounds of retrying unprocessed keys or items before giving up with a transient error.
pub(crate) const UNPROCESSED_ROUNDS: u32 = 6;

/// The DynamoDB adapter of [`GameStore`](idle_app::ports::GameStore),
/// [`ConnectionStore`](idle_app::ports::ConnectionStore) and [`Inbox`](idle_app::ports::Inbox).
/// The item layout is described in the crate documentation.
///
/// Cheap to clone: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) tables: Tables,
    pub(crate) wake_shards: u32,
    /// The `wake` index's key is the wake time rounded up to this many ms.
    pub(crate) wake_bucket_ms: Millis,
    pub(crate) page_size: i32,
    /// Seconds a history record is kept after the task finished (its `expires_at`, the Tasks
    /// table's TTL attribute).
    pub(crate) history_ttl_secs: i64,
}

impl DynamoStore {
    /// A store over `tables`; `wake_shards` must be the deployment's `WAKE_SHARDS` (every writer
    /// of a player and the ticker must agree on it).
    pub fn new(client: Client, tables: Tables, wake_shards: u32) -> DynamoStore {
        DynamoStore {
            client,
            tables,
            wake_shards: wake_shards.max(1),
            wake_bucket_ms: DEFAULT_WAKE_BUCKET_MS,
            page_size: DEFAULT_PAGE_SIZE,
            history_ttl_secs: DEFAULT_HISTORY_TTL_SECS,
        }
    }

    /// The same store keeping history records `ttl_ms` after their task finished (rounded down
    /// to seconds; the deployment's `HISTORY_TTL_SECS`).
    pub fn with_history_ttl(mut self, ttl_ms: Millis) -> DynamoStore {
        self.history_ttl_secs = ttl_ms.div_euclid(1000).max(0);
        self
    }

    /// The same store keying the `wake` index by the wake time rounded up to `bucket_ms` (the
    /// deployment's `WAKE_BUCKET_SECS` in ms; 1 keys by the exact time). Every writer of a
    /// player and the ticker must agree on it. Moving a wake time within its bucket writes no
    /// index entry (a write unit saved per move); a wake-up whose message was lost is found by
    /// the ticker's sweep once its whole bucket has passed, so up to a bucket plus the ticker's
    /// period late.
    pub fn with_wake_bucket(mut self, bucket_ms: Millis) -> DynamoStore {
        self.wake_bucket_ms = bucket_ms.max(1);
        self
    }

    /// How this store lays out a Players item.
    pub fn layout(&self) -> crate::items::Layout {
        crate::items::Layout {
            wake_shards: self.wake_shards,
            wake_bucket_ms: self.wake_bucket_ms,
        }
    }

    /// The same store with at most `page_size` rows per page of `due_players` and
    /// `scan_connections` (at least 1).
    pub fn with_page_size(mut self, page_size: u32) -> DynamoStore {
        self.page_size = i32::try_from(page_size.max(1)).unwrap_or(i32::MAX);
        self
    }

    /// The table names this store uses.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The SDK client, for callers that need a call the ports do not offer.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Puts and deletes in `table` with `BatchWriteItem`, 25 requests per call, retrying the
    /// unprocessed ones with backoff; a transient error if some stay unprocessed.
    pub(crate) async fn batch_write(
        &self,
        table: &str,
        requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
            let mut pending = chunk.to_vec();
            let mut round = 0;
            while !pending.is_empty() {
                if round == UNPROCESSED_ROUNDS {
                    return Err(StoreError::Transient(format!(
                        "BatchWriteItem on {table}: {} requests still unprocessed after {round} rounds",
                        pending.len()
                    )));
                }
                if round > 0 {
                    backoff(round).await;
                }
                round += 1;
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await
                    .map_err(|e| store_error(format_args!("BatchWriteItem on {table}"), e))?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }
}

/// Waits before retry round `round` (1, 2, …): 25 ms doubling, at most 800 ms.
pub(crate) async fn backoff(round: u32) {
    let ms = 25u64 << round.saturating_sub(1).min(5);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// A page cursor: the `LastEvaluatedKey` as DynamoDB JSON (`{"player_id":{"S":"…"},…}`).
pub(crate) fn encode_cursor(table: &str, key: Item) -> Result<String, StoreError> {
    known(table, "<LastEvaluatedKey>", &key)?;
    let key = serde_dynamo::Item::from(key);
    serde_json::to_string(&key)
        .map_err(|e| StoreError::Permanent(format!("cannot encode a cursor for {table}: {e}")))
}

/// The `ExclusiveStartKey` of a cursor, which must hold exactly the attributes `expected`.
/// Anything else (not JSON, other attributes) is a permanent error: retrying cannot fix it.
pub(crate) fn decode_cursor(
    table: &str,
    cursor: &str,
    expected: &[&str],
) -> Result<Item, StoreError> {
    let bad = |why: String| StoreError::Permanent(format!("bad page cursor for {table}: {why}"));
    let key: serde_dynamo::Item = serde_json::from_str(cursor).map_err(|e| bad(e.to_string()))?;
    let key: HashMap<String, AttributeValue> = key.into();
    let names: BTreeSet<&str> = key.keys().map(String::as_str).collect();
    let wanted: BTreeSet<&str> = expected.iter().copied().collect();
    if names != wanted {
        return Err(bad(format!("it names {names:?}, expected {wanted:?}")));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{n, s};

    #[test]
    fn a_cursor_round_trips() {
        let key = HashMap::from([
            ("player_id".to_owned(), s("p1")),
            ("wake_shard".to_owned(), n(3)),
            ("wake_at".to_owned(), n(1234)),
        ]);
        let cursor = encode_cursor("Players", key.clone()).unwrap();
        let back = decode_cursor("Players", &cursor, &["player_id", "wake_at", "wake_shard"]);
        assert_eq!(back.unwrap(), key);
    }

    #[test]
    fn a_bad_cursor_is_a_permanent_error() {
        for cursor in [
            "",
            "not json",
            "[1,2]",
            r#"{"player_id":{"X":"p"}}"#,
            r#"{"other":{"S":"p"}}"#,
        ] {
            match decode_cursor("Players", cursor, &["player_id"]) {
                Err(StoreError::Permanent(message)) => {
                    assert!(message.contains("cursor"), "{message}")
                }
                other => panic!("{cursor:?}: expected a permanent error, got {other:?}"),
            }
        }
    }
}
