//! The deployment's settings, read once at start-up from the environment.
//!
//! Each Lambda gets only the variables it needs (see `template.yaml`): `ws-connect` has the token
//! secret but not the seed secret, `ws-disconnect` and `connection-cleaner` have neither. So
//! [`AppConfig::from_env_for`] asks only for the secrets of the named function, and a secret that
//! is set but too short is an error wherever it appears. Secrets are kept in [`Secret`], whose
//! `Debug` never shows the value, so logging a config never leaks one.

use std::fmt;
use std::path::{Path, PathBuf};

use idle_core::catalog::{Catalog, CatalogHash};
use idle_core::model::Millis;
use idle_core::protocol::Reply;
use idle_core::{Game, Limits, RetryPolicy};

use crate::ports::limits::POST_BYTES;

/// Shortest accepted secret, in bytes (HS256 keys shorter than the hash are weak). The
/// template's `TokenSecret` and `SeedSecret` have this `MinLength` (a test checks it).
pub const MIN_SECRET_BYTES: usize = 32;

/// The environment variables holding secrets, and the functions that need each.
pub const TOKEN_SECRET: &str = "TOKEN_SECRET";
/// See [`TOKEN_SECRET`].
pub const SEED_SECRET: &str = "SEED_SECRET";
/// The token secret being retired during a rotation (optional, empty or unset when none is).
/// Tokens signed with it still verify on `$connect`; no token is ever signed with it
/// (docs/operations.md, "Rotating the token secret").
pub const PREVIOUS_TOKEN_SECRET: &str = "PREVIOUS_TOKEN_SECRET";

/// The catalog file the functions load instead of the embedded catalog (unset or empty: the
/// embedded one). A relative path is taken from `LAMBDA_TASK_ROOT` (where Lambda unpacks the
/// function, beside `bootstrap`), or from the working directory where that is unset; an absolute
/// one as it is (a Lambda layer's files are under `/opt`).
pub const CATALOG_FILE: &str = "CATALOG_FILE";
/// Where Lambda unpacked the function's code (Lambda sets it: `/var/task`).
pub const LAMBDA_TASK_ROOT: &str = "LAMBDA_TASK_ROOT";
/// The environment variable naming the wake queue's URL (`task-processor` sends wake-ups to it).
pub const WAKE_QUEUE_URL: &str = "WAKE_QUEUE_URL";

/// A whole-number setting: its environment variable and the range the functions accept.
///
/// The one place the bounds live: [`AppConfig::from_lookup`] enforces them, and a test checks
/// that every `template.yaml` parameter feeding one has exactly this `MinValue` and `MaxValue`,
/// so the stack refuses at deploy time what the functions would refuse at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounded {
    /// The environment variable.
    pub var: &'static str,
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
}

/// Most tasks one player may have queued or running (default 10). The bound keeps a full queue
/// inside the store's and the gateway's limits: the `queue_updated` that lists it must fit one
/// 128 KB `@connections` post, and the player's item (queue included) DynamoDB's 400 KB
/// (crates/app/tests/field_faults.rs checks both at this bound).
pub const MAX_QUEUE: Bounded = Bounded {
    var: "MAX_QUEUE",
    min: 1,
    max: 200,
};
/// Largest quantity (actions) of one task (default 1000).
pub const MAX_QUANTITY: Bounded = Bounded {
    var: "MAX_QUANTITY",
    min: 1,
    max: 1_000_000,
};
/// Longest chunk of a continuous task, in ms (default 900,000: 15 minutes, SQS's longest
/// delay, so each chunk's wake-up is one delayed message). Shorter chunks apply level-ups
/// sooner and cost more writes (docs/game-rules.md, "Continuous tasks").
pub const CHUNK_MS: Bounded = Bounded {
    var: "CHUNK_MS",
    min: 1_000,
    max: 86_400_000,
};
/// Shards of the wake index (default 8).
pub const WAKE_SHARDS: Bounded = Bounded {
    var: "WAKE_SHARDS",
    min: 1,
    max: 1024,
};
/// The DynamoDB `wake` index's bucket, in seconds (default 300): the index is keyed by the wake
/// time rounded up to it, so a wake time moving within its bucket writes no index entry, and
/// the ticker's sweep (the safety net behind the wake queue) finds a player whose wake-up
/// message was lost once its bucket has passed: at most a bucket plus the ticker's period
/// late (docs/performance.md, "Cost per completed task"). Every writer and the ticker must
/// agree on it; stores other than DynamoDB ignore it.
pub const WAKE_BUCKET_SECS: Bounded = Bounded {
    var: "WAKE_BUCKET_SECS",
    min: 1,
    max: 3600,
};
/// Players (or connections) handled at once by the ticker, a stream batch and the cleaner
/// (default 16). Its former name, [`TICKER_CONCURRENCY`], is still read when this is unset.
pub const PLAYER_CONCURRENCY: Bounded = Bounded {
    var: "PLAYER_CONCURRENCY",
    min: 1,
    max: 256,
};
/// The former name of [`PLAYER_CONCURRENCY`], from when only the ticker was said to use it;
/// still accepted, with the same range, and read only when `PLAYER_CONCURRENCY` is unset or
/// empty.
pub const TICKER_CONCURRENCY: &str = "TICKER_CONCURRENCY";
/// Largest client message accepted, in bytes (default 8192). The top is API Gateway's
/// WebSocket message payload size, 128 KB, sent as frames of at most 32 KB ("Quotas for
/// configuring and running a WebSocket in API Gateway").
pub const MAX_MESSAGE_BYTES: Bounded = Bounded {
    var: "MAX_MESSAGE_BYTES",
    min: 64,
    max: 128 * 1024,
};
/// How long an undelivered notification waits in the inbox, in seconds (default 7 days).
pub const INBOX_TTL_SECS: Bounded = Bounded {
    var: "INBOX_TTL_SECS",
    min: 60,
    max: 365 * 24 * 3600,
};
/// How long a finished task's history record is kept, in seconds (default 90 days): the Tasks
/// table's TTL, so storage does not grow forever. A task is replayable until then.
pub const HISTORY_TTL_SECS: Bounded = Bounded {
    var: "HISTORY_TTL_SECS",
    min: 24 * 3600,
    max: 10 * 365 * 24 * 3600,
};
/// A connection is dropped this long after it connected, in seconds (default 7200).
pub const CONNECTION_TTL_SECS: Bounded = Bounded {
    var: "CONNECTION_TTL_SECS",
    min: 60,
    max: 24 * 3600,
};
/// A connection idle this long is dropped, in seconds (default 600).
pub const IDLE_TIMEOUT_SECS: Bounded = Bounded {
    var: "IDLE_TIMEOUT_SECS",
    min: 10,
    max: 24 * 3600,
};

/// Every whole-number setting [`AppConfig::from_lookup`] reads.
pub const BOUNDED_SETTINGS: [Bounded; 11] = [
    MAX_QUEUE,
    MAX_QUANTITY,
    CHUNK_MS,
    WAKE_SHARDS,
    WAKE_BUCKET_SECS,
    PLAYER_CONCURRENCY,
    MAX_MESSAGE_BYTES,
    INBOX_TTL_SECS,
    HISTORY_TTL_SECS,
    CONNECTION_TTL_SECS,
    IDLE_TIMEOUT_SECS,
];

/// A secret value. Its `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps a secret, refusing one shorter than [`MIN_SECRET_BYTES`].
    pub fn new(value: impl Into<Vec<u8>>) -> Result<Secret, ConfigError> {
        let value = value.into();
        if value.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::WeakSecret {
                name: "secret",
                len: value.len(),
            });
        }
        Ok(Secret(value))
    }

    /// The secret's bytes. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why the configuration could not be read. Names the variable, never shows a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set; it must be a secret of at least {MIN_SECRET_BYTES} bytes")]
    MissingSecret { name: &'static str },
    #[error("{name} is {len} bytes long; it must be at least {MIN_SECRET_BYTES} bytes")]
    WeakSecret { name: &'static str, len: usize },
    #[error("{name} is `{value}`; it must be a whole number from {min} to {max}")]
    Invalid {
        name: &'static str,
        /// The value as set (at most 40 characters of it).
        value: String,
        min: u64,
        max: u64,
    },
    /// The catalog file cannot be read, is not a valid catalog (the problem names the entry
    /// and the field), or is too large to serve.
    #[error("catalog file {file}: {problem}")]
    Catalog {
        /// The file as resolved.
        file: String,
        problem: String,
    },
}

/// The catalog a deployment serves: the embedded one, or a file's, loaded, checked and sized
/// once at start. The embedded catalog is parsed and hashed on first use instead
/// ([`GameCatalog::catalog`]): a process whose events never need a catalog (a stream batch, an
/// idle tick, a disconnect) never parses it, and it cannot fail (its tests check the shipped
/// file). Its `Debug` shows where it came from, and for a loaded catalog its version and hash,
/// never the whole catalog.
#[derive(Clone)]
pub struct GameCatalog {
    /// The file it was loaded from; `None` for the embedded catalog.
    pub file: Option<PathBuf>,
    /// The catalog, for the process's lifetime, and its [content hash](Catalog::content_hash);
    /// `None` for the embedded catalog, which [`Catalog::shipped`] keeps once parsed.
    loaded: Option<(&'static Catalog, CatalogHash)>,
}

impl GameCatalog {
    /// The catalog compiled into the build, parsed and hashed on first use
    /// ([`Catalog::shipped`], [`Catalog::content_hash`]: once per process).
    pub fn embedded() -> GameCatalog {
        GameCatalog {
            file: None,
            loaded: None,
        }
    }

    /// A catalog already in memory (tests and tools that play another one), hashed now.
    pub fn of(catalog: &'static Catalog) -> GameCatalog {
        GameCatalog {
            file: None,
            loaded: Some((catalog, catalog.content_hash())),
        }
    }

    /// The catalog (the embedded one is parsed on the first call).
    pub fn catalog(&self) -> &'static Catalog {
        match &self.loaded {
            Some((catalog, _)) => catalog,
            None => Catalog::shipped(),
        }
    }

    /// Its [content hash](Catalog::content_hash) (the embedded one's is computed on the first
    /// call, then kept).
    pub fn hash(&self) -> CatalogHash {
        match &self.loaded {
            Some((_, hash)) => hash.clone(),
            None => Catalog::shipped().content_hash(),
        }
    }

    /// Loads, checks and sizes a catalog file, and keeps it for the rest of the process (it is
    /// leaked: load once, at start).
    ///
    /// # Errors
    /// [`ConfigError::Catalog`] naming the file and the problem: it cannot be read; it is not a
    /// valid catalog (naming the entry and the field, as [`Catalog::from_json`] does); or its
    /// `catalog` reply would not fit one `@connections` post ([`catalog_reply_bytes`]).
    pub fn from_file(file: &Path) -> Result<GameCatalog, ConfigError> {
        let fail = |problem: String| ConfigError::Catalog {
            file: file.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(file).map_err(|e| fail(e.to_string()))?;
        let catalog = Catalog::from_json(&text).map_err(|e| fail(e.to_string()))?;
        let hash = catalog.content_hash();
        let bytes = catalog_reply_bytes(&catalog, &hash);
        if bytes > POST_BYTES {
            return Err(fail(format!(
                "its `catalog` reply would be {bytes} bytes, more than the {POST_BYTES} bytes \
                 one WebSocket message may carry; shorten names or split the game"
            )));
        }
        Ok(GameCatalog {
            file: Some(file.to_owned()),
            loaded: Some((Box::leak(Box::new(catalog)), hash)),
        })
    }
}

impl fmt::Debug for GameCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = f.debug_struct("GameCatalog");
        shown.field("file", &self.file);
        match &self.loaded {
            Some((catalog, hash)) => shown
                .field("version", &catalog.version)
                .field("hash", hash)
                .finish(),
            None => shown.finish_non_exhaustive(),
        }
    }
}

/// The size in bytes of the largest `catalog` reply this catalog can give: with the longest
/// request id a client may send and the largest time. The reply is one `@connections` post, so
/// it must be at most [`POST_BYTES`] (the catalog is refused at load otherwise; replies are not
/// paged).
pub fn catalog_reply_bytes(catalog: &Catalog, hash: &str) -> usize {
    let reply = Reply::Catalog {
        at: Millis::MAX,
        request_id: Some("r".repeat(Limits::default().max_request_id_len)),
        catalog_hash: hash.to_owned(),
        catalog: Box::new(catalog.clone()),
    };
    serde_json::to_vec(&reply).map_or(usize::MAX, |bytes| bytes.len())
}

/// The six Lambda functions (and the local runtime, which hosts them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    TaskProcessor,
    WsConnect,
    WsDisconnect,
    WsMessage,
    TaskTicker,
    ConnectionCleaner,
    /// Everything in one process: needs every secret.
    Local,
}

impl Function {
    fn needs_token_secret(self) -> bool {
        matches!(self, Function::WsConnect | Function::Local)
    }

    fn needs_seed_secret(self) -> bool {
        self.computes_outcomes()
    }

    /// True for the functions that start, complete or cancel tasks (and so need the seed
    /// secret and the catalog store): `task-processor`, `ws-message`, `task-ticker` and the
    /// local runtime.
    pub fn computes_outcomes(self) -> bool {
        matches!(
            self,
            Function::TaskProcessor | Function::WsMessage | Function::TaskTicker | Function::Local
        )
    }
}

/// Everything the use cases need to know about the deployment.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Verifies player tokens on `$connect` and signs dev tokens (`TOKEN_SECRET`).
    pub token_secret: Option<Secret>,
    /// Also verifies player tokens on `$connect` while the token secret is being rotated
    /// (`PREVIOUS_TOKEN_SECRET`; `None` otherwise). Never signs anything.
    pub previous_token_secret: Option<Secret>,
    /// Derives task seeds (`SEED_SECRET`). Changing it changes replays of old tasks.
    pub seed_secret: Option<Secret>,
    /// What players may ask for (`MAX_QUEUE`, `MAX_QUANTITY`; the rest are the core's defaults).
    pub limits: Limits,
    pub retry: RetryPolicy,
    /// A connection is dropped this long after it connected (`CONNECTION_TTL_SECS`). API Gateway
    /// closes a WebSocket connection after 2 hours whatever it does ("Quotas for configuring and
    /// running a WebSocket in API Gateway": connection duration).
    pub connection_ttl_ms: Millis,
    /// A connection idle this long is dropped (`IDLE_TIMEOUT_SECS`). API Gateway closes one idle
    /// for 10 minutes (the same quotas page: idle connection timeout).
    pub idle_timeout_ms: Millis,
    /// How long an undelivered notification waits in the inbox (`INBOX_TTL_SECS`).
    pub inbox_ttl_ms: Millis,
    /// How long a task's history record is kept (`HISTORY_TTL_SECS`).
    pub history_ttl_ms: Millis,
    /// Largest client message accepted (`MAX_MESSAGE_BYTES`).
    pub max_message_bytes: usize,
    /// Shards of the wake index (`WAKE_SHARDS`); every writer and the ticker must agree.
    pub wake_shards: u32,
    /// The DynamoDB `wake` index's bucket in ms (`WAKE_BUCKET_SECS`); every writer and the
    /// ticker must agree.
    pub wake_bucket_ms: Millis,
    /// Players advanced at once by the ticker and a stream batch, and connections checked at
    /// once by the cleaner (`PLAYER_CONCURRENCY`, or its former name `TICKER_CONCURRENCY`).
    pub player_concurrency: usize,
    /// Tries of one read-compute-write before giving up (conflicts and transient errors).
    pub commit_attempts: u32,
    /// The catalog served and played (`CATALOG_FILE`, else the embedded one).
    pub catalog: GameCatalog,
    /// The SQS queue wake-ups are sent to (`WAKE_QUEUE_URL`); `None` where it is not set (the
    /// functions that never arm a wake-up, the local runtime).
    pub wake_queue_url: Option<String>,
}

impl Default for AppConfig {
    /// The defaults, with no secrets.
    fn default() -> Self {
        AppConfig {
            token_secret: None,
            previous_token_secret: None,
            seed_secret: None,
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            connection_ttl_ms: 2 * 60 * 60 * 1000,
            idle_timeout_ms: 10 * 60 * 1000,
            inbox_ttl_ms: 7 * 24 * 60 * 60 * 1000,
            history_ttl_ms: 90 * 24 * 60 * 60 * 1000,
            max_message_bytes: 8 * 1024,
            wake_shards: 8,
            wake_bucket_ms: 300_000,
            player_concurrency: 16,
            commit_attempts: 4,
            catalog: GameCatalog::embedded(),
            wake_queue_url: None,
        }
    }
}

impl AppConfig {
    /// Reads every setting and requires both secrets (the local runtime).
    pub fn from_env() -> Result<AppConfig, ConfigError> {
        Self::from_env_for(Function::Local)
    }

    /// Reads the settings one function needs from the process environment.
    pub fn from_env_for(function: Function) -> Result<AppConfig, ConfigError> {
        Self::from_lookup(function, |name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    ///
    /// Required: `TOKEN_SECRET` for `ws-connect`, `SEED_SECRET` for the functions that compute
    /// outcomes (each at least [`MIN_SECRET_BYTES`]). Optional: `PREVIOUS_TOKEN_SECRET` (unset or
    /// empty: none; otherwise at least [`MIN_SECRET_BYTES`] too). Optional, with defaults, each within its
    /// [`Bounded`] range ([`BOUNDED_SETTINGS`]): `MAX_QUEUE` (10), `MAX_QUANTITY` (1000),
    /// `CHUNK_MS` (900,000),
    /// `WAKE_SHARDS` (8), `WAKE_BUCKET_SECS` (300), `PLAYER_CONCURRENCY` (16;
    /// when unset, its former name `TICKER_CONCURRENCY` is read instead), `MAX_MESSAGE_BYTES` (8192), `INBOX_TTL_SECS`
    /// (7 days), `CONNECTION_TTL_SECS` (7200), `IDLE_TIMEOUT_SECS` (600). A value out of its
    /// range is an error naming the variable, the value and the range. `CATALOG_FILE` (unset or
    /// empty: the embedded catalog) is loaded here ([`GameCatalog::from_file`], the path
    /// resolved by [`catalog_path`]): a bad file is a [`ConfigError::Catalog`].
    /// `WAKE_QUEUE_URL` is read as is when set and not blank.
    pub fn from_lookup(
        function: Function,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AppConfig, ConfigError> {
        let mut config = AppConfig {
            token_secret: secret(&lookup, TOKEN_SECRET, function.needs_token_secret())?,
            previous_token_secret: secret(&lookup, PREVIOUS_TOKEN_SECRET, false)?,
            seed_secret: secret(&lookup, SEED_SECRET, function.needs_seed_secret())?,
            ..AppConfig::default()
        };
        // The bounds fit every target type (at most 365 days of seconds), so the casts are exact.
        if let Some(v) = number(&lookup, MAX_QUEUE)? {
            config.limits.max_queue = v as usize;
        }
        if let Some(v) = number(&lookup, MAX_QUANTITY)? {
            config.limits.max_quantity = v as u32;
        }
        if let Some(v) = number(&lookup, CHUNK_MS)? {
            config.limits.chunk_ms = v;
        }
        if let Some(v) = number(&lookup, WAKE_SHARDS)? {
            config.wake_shards = v as u32;
        }
        if let Some(v) = number(&lookup, WAKE_BUCKET_SECS)? {
            config.wake_bucket_ms = v as Millis * 1000;
        }
        let concurrency = match number(&lookup, PLAYER_CONCURRENCY)? {
            Some(v) => Some(v),
            None => number(&lookup, former_name(PLAYER_CONCURRENCY, TICKER_CONCURRENCY))?,
        };
        if let Some(v) = concurrency {
            config.player_concurrency = v as usize;
        }
        if let Some(v) = number(&lookup, MAX_MESSAGE_BYTES)? {
            config.max_message_bytes = v as usize;
        }
        if let Some(v) = number(&lookup, INBOX_TTL_SECS)? {
            config.inbox_ttl_ms = v as Millis * 1000;
        }
        if let Some(v) = number(&lookup, HISTORY_TTL_SECS)? {
            config.history_ttl_ms = v as Millis * 1000;
        }
        if let Some(v) = number(&lookup, CONNECTION_TTL_SECS)? {
            config.connection_ttl_ms = v as Millis * 1000;
        }
        if let Some(v) = number(&lookup, IDLE_TIMEOUT_SECS)? {
            config.idle_timeout_ms = v as Millis * 1000;
        }
        if let Some(file) = lookup(CATALOG_FILE).filter(|v| !v.trim().is_empty()) {
            let root = lookup(LAMBDA_TASK_ROOT).filter(|v| !v.is_empty());
            config.catalog = GameCatalog::from_file(&catalog_path(&file, root.as_deref()))?;
        }
        config.wake_queue_url = lookup(WAKE_QUEUE_URL).filter(|v| !v.trim().is_empty());
        Ok(config)
    }

    /// The game rules: the catalog ([`GameCatalog`]) with these limits and this seed secret
    /// (empty when the function never computes an outcome).
    pub fn game(&self) -> Game<'static> {
        let mut game = Game::new(
            self.catalog.catalog(),
            self.seed_secret
                .as_ref()
                .map(|s| s.expose().to_vec())
                .unwrap_or_default(),
        );
        game.limits = self.limits.clone();
        game.retry = self.retry.clone();
        game
    }
}

/// Where `CATALOG_FILE` points: an absolute path as it is, a relative one from the Lambda task
/// root (`root`, from `LAMBDA_TASK_ROOT`) or, without one, from the working directory.
pub fn catalog_path(file: &str, root: Option<&str>) -> PathBuf {
    let file = Path::new(file.trim());
    match root {
        Some(root) if file.is_relative() => Path::new(root).join(file),
        _ => file.to_owned(),
    }
}

fn secret(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    required: bool,
) -> Result<Option<Secret>, ConfigError> {
    match lookup(name).filter(|v| !v.is_empty()) {
        None if required => Err(ConfigError::MissingSecret { name }),
        None => Ok(None),
        Some(value) if value.len() < MIN_SECRET_BYTES => Err(ConfigError::WeakSecret {
            name,
            len: value.len(),
        }),
        Some(value) => Ok(Some(Secret(value.into_bytes()))),
    }
}

/// `setting` read under its former name `var` (same range; an error names `var`).
fn former_name(setting: Bounded, var: &'static str) -> Bounded {
    Bounded { var, ..setting }
}

fn number(
    lookup: &impl Fn(&str) -> Option<String>,
    setting: Bounded,
) -> Result<Option<u64>, ConfigError> {
    let Some(raw) = lookup(setting.var) else {
        return Ok(None);
    };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    match trimmed.parse::<u64>() {
        Ok(v) if (setting.min..=setting.max).contains(&v) => Ok(Some(v)),
        _ => Err(ConfigError::Invalid {
            name: setting.var,
            value: raw.chars().take(40).collect(),
            min: setting.min,
            max: setting.max,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TOKEN: &str = "token-secret-token-secret-token-secret";
    const SEED: &str = "seed-secret-seed-secret-seed-secret-xx";

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn each_function_requires_only_its_own_secrets() {
        let connect =
            AppConfig::from_lookup(Function::WsConnect, lookup(&[("TOKEN_SECRET", TOKEN)]))
                .unwrap();
        assert!(connect.token_secret.is_some() && connect.seed_secret.is_none());
        assert_eq!(
            AppConfig::from_lookup(Function::TaskProcessor, lookup(&[("TOKEN_SECRET", TOKEN)]))
                .unwrap_err(),
            ConfigError::MissingSecret {
                name: "SEED_SECRET"
            }
        );
        assert!(AppConfig::from_lookup(Function::ConnectionCleaner, lookup(&[])).is_ok());
        assert!(AppConfig::from_lookup(Function::Local, lookup(&[("SEED_SECRET", SEED)])).is_err());
    }

    #[test]
    fn a_short_secret_is_refused_even_where_it_is_optional() {
        let err =
            AppConfig::from_lookup(Function::WsDisconnect, lookup(&[("SEED_SECRET", "short")]))
                .unwrap_err();
        assert_eq!(
            err,
            ConfigError::WeakSecret {
                name: "SEED_SECRET",
                len: 5
            }
        );
        assert!(!err.to_string().contains("short"));
    }

    #[test]
    fn limits_and_shards_come_from_the_environment() {
        let config = AppConfig::from_lookup(
            Function::Local,
            lookup(&[
                ("TOKEN_SECRET", TOKEN),
                ("SEED_SECRET", SEED),
                ("MAX_QUEUE", "3"),
                ("MAX_QUANTITY", "50"),
                ("WAKE_SHARDS", "16"),
            ]),
        )
        .unwrap();
        let game = config.game();
        assert_eq!(game.limits.max_queue, 3);
        assert_eq!(game.limits.max_quantity, 50);
        assert_eq!(game.seed_secret.expose(), SEED.as_bytes());
        assert_eq!(config.wake_shards, 16);
    }

    #[test]
    fn player_concurrency_is_also_read_under_its_former_name_ticker_concurrency() {
        let read =
            |vars: &[(&str, &str)]| AppConfig::from_lookup(Function::TaskTicker, lookup(vars));
        let seed = ("SEED_SECRET", SEED);
        assert_eq!(read(&[seed]).unwrap().player_concurrency, 16);
        assert_eq!(
            read(&[seed, ("PLAYER_CONCURRENCY", "5")])
                .unwrap()
                .player_concurrency,
            5
        );
        assert_eq!(
            read(&[seed, ("TICKER_CONCURRENCY", "7")])
                .unwrap()
                .player_concurrency,
            7
        );
        // The new name wins when both are set; an empty new name falls back to the old one.
        let both = [
            seed,
            ("PLAYER_CONCURRENCY", "5"),
            ("TICKER_CONCURRENCY", "7"),
        ];
        assert_eq!(read(&both).unwrap().player_concurrency, 5);
        let empty = [
            seed,
            ("PLAYER_CONCURRENCY", " "),
            ("TICKER_CONCURRENCY", "7"),
        ];
        assert_eq!(read(&empty).unwrap().player_concurrency, 7);
        // The former name keeps the range, and an error names the variable actually set.
        assert_eq!(
            read(&[seed, ("TICKER_CONCURRENCY", "257")]).unwrap_err(),
            ConfigError::Invalid {
                name: "TICKER_CONCURRENCY",
                value: "257".into(),
                min: 1,
                max: 256
            }
        );
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        let err =
            AppConfig::from_lookup(Function::WsDisconnect, lookup(&[("WAKE_SHARDS", "zero")]))
                .unwrap_err();
        assert!(
            err.to_string().starts_with("WAKE_SHARDS is `zero`"),
            "{err}"
        );
        assert!(
            AppConfig::from_lookup(Function::WsDisconnect, lookup(&[("WAKE_SHARDS", "0")]))
                .is_err()
        );
    }

    #[test]
    fn a_value_past_its_bound_is_refused_naming_the_variable_the_value_and_the_range() {
        let err = AppConfig::from_lookup(
            Function::WsMessage,
            lookup(&[("SEED_SECRET", SEED), ("MAX_QUEUE", "201")]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Invalid {
                name: "MAX_QUEUE",
                value: "201".into(),
                min: 1,
                max: 200
            }
        );
        assert_eq!(
            err.to_string(),
            "MAX_QUEUE is `201`; it must be a whole number from 1 to 200"
        );
    }

    #[test]
    fn every_bounded_setting_accepts_its_bounds_and_refuses_one_past_them() {
        for setting in BOUNDED_SETTINGS {
            let read = |value: u64| {
                let value = value.to_string();
                AppConfig::from_lookup(
                    Function::ConnectionCleaner,
                    lookup(&[(setting.var, value.as_str())]),
                )
            };
            assert!(read(setting.min).is_ok(), "{setting:?}");
            assert!(read(setting.max).is_ok(), "{setting:?}");
            let above = read(setting.max + 1).unwrap_err().to_string();
            assert!(
                above.contains(setting.var) && above.contains(&setting.max.to_string()),
                "{above}"
            );
            if let Some(below) = setting.min.checked_sub(1) {
                assert!(read(below).is_err(), "{setting:?}");
            }
        }
    }

    #[test]
    fn every_variable_read_is_a_secret_a_bounded_setting_the_catalog_file_or_the_wake_queue() {
        let asked = std::cell::RefCell::new(Vec::new());
        AppConfig::from_lookup(Function::ConnectionCleaner, |name| {
            asked.borrow_mut().push(name.to_owned());
            None
        })
        .unwrap();
        let mut expected: Vec<&str> = BOUNDED_SETTINGS.iter().map(|s| s.var).collect();
        expected.extend([
            TOKEN_SECRET,
            PREVIOUS_TOKEN_SECRET,
            SEED_SECRET,
            CATALOG_FILE,
            WAKE_QUEUE_URL,
            TICKER_CONCURRENCY,
        ]);
        expected.sort_unstable();
        let mut asked = asked.into_inner();
        asked.sort_unstable();
        assert_eq!(asked, expected);
    }

    /// A catalog file in a fresh directory: the shipped catalog after `edit`.
    fn catalog_file(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("idle-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut value: serde_json::Value =
            serde_json::from_str(idle_core::catalog::SHIPPED_JSON).unwrap();
        edit(&mut value);
        let file = dir.join("catalog.json");
        std::fs::write(&file, value.to_string()).unwrap();
        file
    }

    fn with_catalog(file: &str, root: Option<&str>) -> Result<AppConfig, ConfigError> {
        let (file, root) = (file.to_owned(), root.map(str::to_owned));
        AppConfig::from_lookup(Function::ConnectionCleaner, move |name| match name {
            CATALOG_FILE => Some(file.clone()),
            LAMBDA_TASK_ROOT => root.clone(),
            _ => None,
        })
    }

    #[test]
    fn without_catalog_file_the_embedded_catalog_is_played() {
        let config =
            AppConfig::from_lookup(Function::WsMessage, lookup(&[("SEED_SECRET", SEED)])).unwrap();
        assert!(config.catalog.file.is_none());
        assert!(std::ptr::eq(config.game().catalog, Catalog::shipped()));
        assert_eq!(
            config.game().catalog_hash,
            Catalog::shipped().content_hash()
        );
        let empty = with_catalog("  ", None).unwrap();
        assert!(empty.catalog.file.is_none());
    }

    #[test]
    fn a_catalog_file_relative_to_the_task_root_is_loaded_and_played() {
        let file = catalog_file("relative", |v| {
            v["enemies"]["cow"]["xp"] = 77.into();
        });
        let root = file.parent().unwrap().to_str().unwrap();
        let config = with_catalog("catalog.json", Some(root)).unwrap();
        assert_eq!(config.catalog.file.as_deref(), Some(file.as_path()));
        let game = config.game();
        assert_eq!(game.catalog.enemies["cow"].xp, 77);
        assert_eq!(game.catalog_hash, config.catalog.hash());
        assert_ne!(game.catalog_hash, Catalog::shipped().content_hash());
        // An absolute path ignores the root.
        let absolute = with_catalog(file.to_str().unwrap(), Some("/nowhere")).unwrap();
        assert_eq!(absolute.catalog.hash(), config.catalog.hash());
        // The config's Debug names the file and the hash, not the whole catalog.
        let shown = format!("{:?}", config.catalog);
        assert!(
            shown.contains(&config.catalog.hash()) && !shown.contains("Cow"),
            "{shown}"
        );
    }

    #[test]
    fn a_bad_catalog_file_is_refused_naming_the_file_the_entry_and_the_field() {
        let file = catalog_file("bad", |v| {
            v["recipes"]["bronze_bar"]["inputs"]["unobtainium"] = 1.into();
        });
        let err = with_catalog(file.to_str().unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("catalog file "), "{err}");
        assert!(err.contains(file.to_str().unwrap()), "{err}");
        assert!(
            err.contains("recipes.bronze_bar") && err.contains("inputs.unobtainium"),
            "{err}"
        );
        let err = with_catalog("missing.json", Some("/no/such/root"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such/root/missing.json"), "{err}");
    }

    #[test]
    fn a_catalog_whose_reply_would_not_fit_one_post_is_refused() {
        // 200 materials with 1000-character names: a valid catalog, a reply of about 210 KB.
        let file = catalog_file("large", |v| {
            let items = v["items"].as_object_mut().unwrap();
            for i in 0..200 {
                let item =
                    serde_json::json!({"name": "x".repeat(1000), "value": 1, "kind": "material"});
                items.insert(format!("filler_{i}"), item);
            }
        });
        let err = with_catalog(file.to_str().unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("131072 bytes"), "{err}");
    }

    #[test]
    fn the_embedded_catalogs_reply_fits_one_post_with_room_to_grow() {
        let embedded = GameCatalog::embedded();
        let bytes = catalog_reply_bytes(embedded.catalog(), &embedded.hash());
        assert!(bytes < POST_BYTES / 2, "{bytes} bytes");
    }

    #[test]
    fn catalog_paths_resolve_from_the_task_root() {
        assert_eq!(
            catalog_path("studio.json", Some("/var/task")),
            Path::new("/var/task/studio.json")
        );
        assert_eq!(
            catalog_path("/opt/catalog.json", Some("/var/task")),
            Path::new("/opt/catalog.json")
        );
        assert_eq!(catalog_path("studio.json", None), Path::new("studio.json"));
    }

    #[test]
    fn the_wake_queue_url_is_read_when_set_and_not_blank() {
        let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/idle-WakeQueue";
        let read = |value: &str| {
            AppConfig::from_lookup(
                Function::TaskProcessor,
                lookup(&[("SEED_SECRET", SEED), (WAKE_QUEUE_URL, value)]),
            )
            .unwrap()
            .wake_queue_url
        };
        assert_eq!(read(url).as_deref(), Some(url));
        assert_eq!(read("  "), None);
        assert_eq!(AppConfig::default().wake_queue_url, None);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        const PREVIOUS: &str = "previous-token-secret-previous-token-secret";
        let config = AppConfig::from_lookup(
            Function::WsConnect,
            lookup(&[("TOKEN_SECRET", TOKEN), (PREVIOUS_TOKEN_SECRET, PREVIOUS)]),
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains(TOKEN) && !shown.contains(PREVIOUS),
            "{shown}"
        );
        assert_eq!(shown.matches("Secret(***)").count(), 2, "{shown}");
    }

    #[test]
    fn the_previous_token_secret_is_optional_and_checked_when_set() {
        const PREVIOUS: &str = "previous-token-secret-previous-token-secret";
        let read = |value: &str| {
            AppConfig::from_lookup(
                Function::WsConnect,
                lookup(&[("TOKEN_SECRET", TOKEN), (PREVIOUS_TOKEN_SECRET, value)]),
            )
        };
        let set = read(PREVIOUS).unwrap();
        assert_eq!(
            set.previous_token_secret.map(|s| s.expose().to_vec()),
            Some(PREVIOUS.as_bytes().to_vec())
        );
        // The template's default: empty, no rotation under way.
        assert!(read("").unwrap().previous_token_secret.is_none());
        let unset = AppConfig::from_lookup(Function::WsConnect, lookup(&[("TOKEN_SECRET", TOKEN)]))
            .unwrap();
        assert!(unset.previous_token_secret.is_none());
        let err = read("too-short").unwrap_err();
        assert_eq!(
            err,
            ConfigError::WeakSecret {
                name: PREVIOUS_TOKEN_SECRET,
                len: 9
            }
        );
        assert!(!err.to_string().contains("too-short"));
    }
}
