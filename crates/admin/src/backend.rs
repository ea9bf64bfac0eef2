//! Where the data is: an `idle-local` data directory (SQLite) or the DynamoDB tables.

use std::path::{Path, PathBuf};

use idle_app::config::AppConfig;
use idle_app::outbox::OutboxRecord;
use idle_app::ports::{ConnectionStore, GameStore, Inbox, PlayerRecords};
use idle_aws::{DynamoStore, Tables};
use idle_local::lock::DirLock;
use idle_sqlite::{SqliteOptions, SqliteStore, DATABASE_FILE};

use crate::CliError;

/// Whether a command only reads or also writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Opens a data directory's database read-only, beside a running `idle-local` (SQLite's WAL
    /// lets readers in while one writer writes); takes no lock.
    Read,
    /// Takes the data directory's writer lock first: refused while `idle-local` runs.
    Write,
}

/// The opened store of one backend.
// One per process, never moved in a hot path: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    Local {
        store: SqliteStore,
        dir: PathBuf,
        /// Held while writing; released when the backend is dropped.
        _lock: Option<DirLock>,
    },
    Dynamo {
        store: DynamoStore,
        sdk: Box<aws_config::SdkConfig>,
    },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Local { dir, .. } => write!(f, "Local({})", dir.display()),
            Backend::Dynamo { store, .. } => write!(f, "Dynamo({:?})", store.tables()),
        }
    }
}

impl Backend {
    /// The data directory's store with `access`.
    ///
    /// # Errors
    /// [`CliError::NotFound`] when `dir` holds no database; [`CliError::Locked`] when writing
    /// and another process (a running `idle-local`) holds the directory's lock; store errors as
    /// [`SqliteStore::open_with`] and [`SqliteStore::open_read_only`] give them.
    pub fn local(dir: &Path, access: Access, config: &AppConfig) -> Result<Backend, CliError> {
        let file = dir.join(DATABASE_FILE);
        if !file.is_file() {
            return Err(CliError::NotFound(format!(
                "no database at {}: is {} an idle-local data directory?",
                file.display(),
                dir.display()
            )));
        }
        let reader = SqliteStore::open_read_only(&file)?;
        if access == Access::Read {
            return Ok(Backend::Local {
                store: reader,
                dir: dir.to_owned(),
                _lock: None,
            });
        }
        let lock = DirLock::acquire(dir).map_err(|e| {
            CliError::Locked(format!(
                "{e}. Writes need the data directory to themselves: stop idle-local, then run \
                 this again (reads such as show, tasks and export work while it runs)"
            ))
        })?;
        // The stored shard count, so that opening never reshards the wake index.
        let options = SqliteOptions {
            wake_shards: reader.options().wake_shards,
            history_ttl_secs: config.history_ttl_ms.div_euclid(1000),
            checkpoint_interval: None,
            ..SqliteOptions::default()
        };
        drop(reader);
        let store = SqliteStore::open_with(&file, options)?;
        Ok(Backend::Local {
            store,
            dir: dir.to_owned(),
            _lock: Some(lock),
        })
    }

    /// The DynamoDB tables the Lambdas use: names from `PLAYERS_TABLE`, `TASKS_TABLE`,
    /// `CONNECTIONS_TABLE` and `NOTIFICATIONS_TABLE`, the endpoint from `DYNAMODB_ENDPOINT`
    /// when set (moto, DynamoDB Local), region and credentials from the SDK's usual sources.
    pub async fn dynamo(config: &AppConfig) -> Result<Backend, CliError> {
        let tables = Tables::from_env()?;
        let sdk = idle_aws::sdk_config().await;
        let store = DynamoStore::new(idle_aws::dynamodb_client(&sdk), tables, config.wake_shards)
            .with_history_ttl(config.history_ttl_ms)
            .with_wake_bucket(config.wake_bucket_ms);
        Ok(Backend::Dynamo {
            store,
            sdk: Box::new(sdk),
        })
    }

    pub fn game(&self) -> &dyn GameStore {
        match self {
            Backend::Local { store, .. } => store,
            Backend::Dynamo { store, .. } => store,
        }
    }

    pub fn inbox(&self) -> &dyn Inbox {
        match self {
            Backend::Local { store, .. } => store,
            Backend::Dynamo { store, .. } => store,
        }
    }

    pub fn connections(&self) -> &dyn ConnectionStore {
        match self {
            Backend::Local { store, .. } => store,
            Backend::Dynamo { store, .. } => store,
        }
    }

    pub fn records(&self) -> &dyn PlayerRecords {
        match self {
            Backend::Local { store, .. } => store,
            Backend::Dynamo { store, .. } => store,
        }
    }

    /// The player's outboxes committed and not yet known to be performed: on SQLite the
    /// `outboxes` table's rows; on DynamoDB the outbox of the last write, kept in the item (the
    /// stream holds the rest for 24 hours).
    pub async fn pending_outboxes(&self, player_id: &str) -> Result<Vec<OutboxRecord>, CliError> {
        match self {
            Backend::Local { store, .. } => Ok(store
                .last_outboxes()?
                .into_iter()
                .filter(|r| r.player_id == player_id)
                .collect()),
            Backend::Dynamo { store, .. } => {
                let outbox = store.stored_outbox(player_id).await?;
                if outbox.is_empty() {
                    return Ok(Vec::new());
                }
                let version = store
                    .load_players(&[player_id.to_owned()])
                    .await?
                    .players
                    .first()
                    .map_or(0, |s| s.player.version);
                Ok(vec![OutboxRecord {
                    player_id: player_id.to_owned(),
                    version,
                    sequence_number: String::new(),
                    outbox,
                }])
            }
        }
    }
}
