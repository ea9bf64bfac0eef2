//! Where the data is: an `idle-local` data directory (SQLite) or the DynamoDB tables.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use idle_app::config::AppConfig;
use idle_app::outbox::OutboxRecord;
use idle_app::ports::{ConnectionStore, GameStore, Inbox, PlayerRecords};
use idle_aws::{DynamoStore, Tables};
use idle_local::error::LocalError;
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

/// How often a waiting write tries the data directory's lock again.
pub const LOCK_POLL: Duration = Duration::from_millis(100);

/// Takes the writer lock of the data directory `dir`, trying again every `poll` until `wait`
/// has passed (a lock held by a running `idle-local` is released when it stops, however it
/// stops). `waiting` is called once, with the holder's description, when the first try finds
/// the lock held and `wait` is not zero.
///
/// # Errors
/// [`CliError::Locked`] naming the holder when the lock is still held after `wait` (at once
/// when `wait` is zero), and saying what to do: stop `idle-local`, or pass a longer `--wait`.
/// Other failures to open the lock file (permissions) too, as [`CliError::Locked`] with the
/// cause.
pub fn acquire_waiting(
    dir: &Path,
    wait: Duration,
    poll: Duration,
    waiting: impl FnOnce(&LocalError),
) -> Result<DirLock, CliError> {
    let deadline = Instant::now() + wait;
    let mut waiting = Some(waiting);
    loop {
        let held = match DirLock::acquire(dir) {
            Ok(lock) => return Ok(lock),
            Err(held @ LocalError::Locked { .. }) => held,
            Err(other) => return Err(CliError::Locked(other.to_string())),
        };
        let now = Instant::now();
        if now >= deadline {
            let waited = if wait.is_zero() {
                "Writes need the data directory to themselves: stop idle-local, then run this \
                 again, or pass --wait SECS to wait for it to stop"
                    .to_owned()
            } else {
                format!(
                    "Still held after waiting {} s (--wait): stop idle-local, then run this \
                     again",
                    wait.as_secs_f64()
                )
            };
            return Err(CliError::Locked(format!(
                "{held}. {waited} (reads such as show, tasks and export work while it runs)"
            )));
        }
        if let Some(waiting) = waiting.take() {
            waiting(&held);
        }
        std::thread::sleep(poll.min(deadline - now));
    }
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
    /// The data directory's store with `access`. Writing takes the directory's writer lock,
    /// waiting up to `wait` for it (see [`acquire_waiting`]).
    ///
    /// # Errors
    /// [`CliError::NotFound`] when `dir` holds no database; [`CliError::Locked`] when writing
    /// and another process (a running `idle-local`) still holds the directory's lock after
    /// `wait`; store errors as [`SqliteStore::open_with`] and [`SqliteStore::open_read_only`]
    /// give them.
    pub fn local(
        dir: &Path,
        access: Access,
        config: &AppConfig,
        wait: Duration,
    ) -> Result<Backend, CliError> {
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
        let lock = acquire_waiting(dir, wait, LOCK_POLL, |held| {
            eprintln!(
                "idle-admin: waiting up to {} s for the data directory's writer lock: {held}",
                wait.as_secs_f64()
            );
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
                let loaded = store.load_players(&[player_id.to_owned()]).await?;
                let version = loaded.players.first().map_or(0, |s| s.player.version);
                Ok(vec![OutboxRecord {
                    player_id: player_id.to_owned(),
                    version,
                    sequence_number: String::new(),
                    outbox,
                    connections: loaded.connections_of(player_id),
                }])
            }
        }
    }
}
