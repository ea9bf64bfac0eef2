//! Creating the four tables as `template.yaml` describes them, for tests and the local runtime.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;
use idle_app::ports::StoreError;

use crate::config::Tables;
use crate::error::{built, store_error};
use crate::game::WAKE_INDEX;
use crate::items::{
    CATALOG_HASH, CONNECTION_ID, EXPIRES_AT, PLAYER_ID, SEQ, TASK_ID, WAKE_BUCKET, WAKE_SHARD,
};

/// How long [`create_tables`] waits for a new table to become active.
const ACTIVE_WAIT: Duration = Duration::from_secs(120);
const ACTIVE_POLL: Duration = Duration::from_millis(250);

/// One table as the template describes it.
struct TableSpec<'t> {
    name: &'t str,
    /// (attribute, type) of every key attribute, the indexes' included.
    attributes: &'static [(&'static str, ScalarAttributeType)],
    hash: &'static str,
    range: Option<&'static str>,
    /// (index name, hash, range, projection).
    index: Option<(
        &'static str,
        &'static str,
        Option<&'static str>,
        ProjectionType,
    )>,
    /// The table's stream, if it has one.
    stream: Option<StreamViewType>,
    ttl: Option<&'static str>,
}

fn specs(tables: &Tables) -> [TableSpec<'_>; 4] {
    use ScalarAttributeType::{N, S};
    [
        TableSpec {
            name: &tables.players,
            attributes: &[(PLAYER_ID, S), (WAKE_SHARD, N), (WAKE_BUCKET, N)],
            hash: PLAYER_ID,
            range: None,
            index: Some((
                WAKE_INDEX,
                WAKE_SHARD,
                Some(WAKE_BUCKET),
                ProjectionType::KeysOnly,
            )),
            stream: Some(StreamViewType::NewImage),
            ttl: None,
        },
        TableSpec {
            name: &tables.tasks,
            attributes: &[(PLAYER_ID, S), (TASK_ID, S)],
            hash: PLAYER_ID,
            range: Some(TASK_ID),
            index: None,
            stream: None,
            ttl: Some(EXPIRES_AT),
        },
        TableSpec {
            name: &tables.connections,
            attributes: &[(CONNECTION_ID, S)],
            hash: CONNECTION_ID,
            range: None,
            index: None,
            stream: None,
            ttl: Some(EXPIRES_AT),
        },
        TableSpec {
            name: &tables.notifications,
            attributes: &[(PLAYER_ID, S), (SEQ, N)],
            hash: PLAYER_ID,
            range: Some(SEQ),
            index: None,
            stream: None,
            ttl: Some(EXPIRES_AT),
        },
    ]
}

fn key_schema(hash: &str, range: Option<&str>) -> Result<Vec<KeySchemaElement>, StoreError> {
    let mut keys = vec![built(
        "a key schema",
        KeySchemaElement::builder()
            .attribute_name(hash)
            .key_type(KeyType::Hash)
            .build(),
    )?];
    if let Some(range) = range {
        keys.push(built(
            "a key schema",
            KeySchemaElement::builder()
                .attribute_name(range)
                .key_type(KeyType::Range)
                .build(),
        )?);
    }
    Ok(keys)
}

/// Creates the Players, Tasks, Connections and Notifications tables as `template.yaml` does:
/// on-demand, the same keys, the sparse `wake` index (KEYS_ONLY) on Players (no index on
/// Connections: a player's connection ids are listed on its Players item), a `NEW_IMAGE` stream on Players (the committed outboxes the
/// task processor performs) and TTL on `expires_at` for Tasks, Connections and Notifications. (Encryption with a KMS key and point-in-time recovery
/// are table settings of a real deployment and are left to the template.)
///
/// Idempotent: a table that already exists is kept as it is (its TTL is still switched on),
/// so the local runtime can call this on every start. Waits until every table is active.
pub async fn create_tables(client: &Client, tables: &Tables) -> Result<(), StoreError> {
    for spec in specs(tables) {
        create_table(client, &spec).await?;
    }
    for spec in specs(tables) {
        wait_active(client, spec.name).await?;
        if let Some(attribute) = spec.ttl {
            enable_ttl(client, spec.name, attribute).await?;
        }
    }
    Ok(())
}

/// Creates the Catalogs table named `name` as `template.yaml` does: on-demand, key
/// `catalog_hash` (S), no index, stream or TTL (catalogs are kept for good). Idempotent like
/// [`create_tables`]; waits until the table is active.
pub async fn create_catalogs_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let spec = TableSpec {
        name,
        attributes: &[(CATALOG_HASH, ScalarAttributeType::S)],
        hash: CATALOG_HASH,
        range: None,
        index: None,
        stream: None,
        ttl: None,
    };
    create_table(client, &spec).await?;
    wait_active(client, name).await
}

async fn create_table(client: &Client, spec: &TableSpec<'_>) -> Result<(), StoreError> {
    let name = spec.name;
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(spec.hash, spec.range)?));
    for (attribute, kind) in spec.attributes {
        request = request.attribute_definitions(built(
            "an attribute definition",
            AttributeDefinition::builder()
                .attribute_name(*attribute)
                .attribute_type(kind.clone())
                .build(),
        )?);
    }
    if let Some((index, hash, range, projection)) = &spec.index {
        request = request.global_secondary_indexes(built(
            "an index",
            GlobalSecondaryIndex::builder()
                .index_name(*index)
                .set_key_schema(Some(key_schema(hash, *range)?))
                .projection(
                    Projection::builder()
                        .projection_type(projection.clone())
                        .build(),
                )
                .build(),
        )?);
    }
    if let Some(view) = &spec.stream {
        request = request.stream_specification(built(
            "a stream specification",
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(view.clone())
                .build(),
        )?);
    }
    match request.send().await {
        Ok(_) => {
            tracing::info!(table = name, "table created");
            Ok(())
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            tracing::debug!(table = name, "table exists");
            Ok(())
        }
        Err(err) => Err(store_error(format_args!("CreateTable {name}"), err)),
    }
}

async fn wait_active(client: &Client, name: &str) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_WAIT;
    loop {
        let output = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| store_error(format_args!("DescribeTable {name}"), e))?;
        let status = output.table.and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Transient(format!(
                "table {name} is not active after {}s (status {status:?})",
                ACTIVE_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(ACTIVE_POLL).await;
    }
}

async fn enable_ttl(client: &Client, name: &str, attribute: &str) -> Result<(), StoreError> {
    let current = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| store_error(format_args!("DescribeTimeToLive {name}"), e))?;
    let status = current
        .time_to_live_description
        .and_then(|d| d.time_to_live_status);
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(built(
            "a TTL specification",
            TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build(),
        )?)
        .send()
        .await
        .map_err(|e| store_error(format_args!("UpdateTimeToLive {name}"), e))?;
    Ok(())
}
