//! [`CatalogStore`] on DynamoDB: the Catalogs table, one item per catalog content hash.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use idle_app::ports::{catalog_too_large, CatalogStore, StoreError, CATALOG_BYTES};

use crate::error::store_error;
use crate::items::{n, s, Item, CATALOG, CATALOG_HASH, VERSION};

/// The environment variable naming the Catalogs table (template.yaml sets it for the functions
/// that compute outcomes: `ws-message`, `task-processor`, `task-ticker`).
pub const CATALOGS_TABLE_VAR: &str = "CATALOGS_TABLE";

/// The DynamoDB adapter of [`CatalogStore`]: the Catalogs table (key `catalog_hash`, S), whose
/// items hold `catalog` (S: the catalog's canonical JSON, uncompressed: a served catalog is at
/// most 128 KB, see [`CATALOG_BYTES`]) and `version` (N: its label, for people reading the
/// table). Items are put if absent and never updated or deleted; the table has no TTL.
///
/// Cheap to clone: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct DynamoCatalogs {
    client: Client,
    table: String,
}

impl DynamoCatalogs {
    /// The catalog store in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoCatalogs {
        DynamoCatalogs {
            client,
            table: table.into(),
        }
    }
}

/// The `version` label of catalog JSON (0 when it has none: the store keeps text and leaves
/// checking it to the reader).
fn version_label(json: &str) -> u64 {
    #[derive(serde::Deserialize)]
    struct Label {
        version: u64,
    }
    serde_json::from_str::<Label>(json).map_or(0, |label| label.version)
}

#[async_trait]
impl CatalogStore for DynamoCatalogs {
    /// One `PutItem` conditioned on `attribute_not_exists(catalog_hash)`; a failed condition
    /// means the catalog is stored already and answers false. (A failed conditional write
    /// still consumes write units for the item's size: about one per KB, once per cold start
    /// of a function after the first; docs/catalog.md.)
    async fn put_catalog_if_absent(&self, hash: &str, json: &str) -> Result<bool, StoreError> {
        if json.len() > CATALOG_BYTES {
            return Err(catalog_too_large(hash, json.len()));
        }
        let table = &self.table;
        let item: Item = [
            (CATALOG_HASH.to_owned(), s(hash)),
            (VERSION.to_owned(), n(version_label(json))),
            (CATALOG.to_owned(), s(json)),
        ]
        .into_iter()
        .collect();
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#hash)")
            .expression_attribute_names("#hash", CATALOG_HASH)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if crate::game::is_condition_failure(&err) => Ok(false),
            Err(err) => Err(store_error(
                format_args!("PutItem catalog {hash} on {table}"),
                err,
            )),
        }
    }

    /// A consistent `GetItem` of the `catalog` attribute.
    async fn load_catalog(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let table = &self.table;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key(CATALOG_HASH, s(hash))
            .consistent_read(true)
            .projection_expression("#catalog")
            .expression_attribute_names("#catalog", CATALOG)
            .send()
            .await
            .map_err(|e| store_error(format_args!("GetItem catalog {hash} on {table}"), e))?;
        let Some(mut item) = output.item else {
            return Ok(None);
        };
        match item.remove(CATALOG) {
            Some(AttributeValue::S(json)) => Ok(Some(json)),
            _ => Err(StoreError::Permanent(format!(
                "corrupt item in {table}, key {hash}: no string attribute `{CATALOG}`"
            ))),
        }
    }
}
