//! The deployment's settings, read once at start-up from the environment.
//!
//! Each Lambda gets only the variables it needs (see `template.yaml`): `ws-connect` has the token
//! secret but not the seed secret, `ws-disconnect` and `connection-cleaner` have neither. So
//! [`AppConfig::from_env_for`] asks only for the secrets of the named function, and a secret that
//! is set but too short is an error wherever it appears. Secrets are kept in [`Secret`], whose
//! `Debug` never shows the value, so logging a config never leaks one.

use std::fmt;

use idle_core::catalog::Catalog;
use idle_core::model::Millis;
use idle_core::{Game, Limits, RetryPolicy};

/// Shortest accepted secret, in bytes (HS256 keys shorter than the hash are weak).
pub const MIN_SECRET_BYTES: usize = 32;

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
    #[error("{name} is `{value}`; it must be {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
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
        matches!(
            self,
            Function::TaskProcessor | Function::WsMessage | Function::TaskTicker | Function::Local
        )
    }
}

/// Everything the use cases need to know about the deployment.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Verifies player tokens on `$connect` (`TOKEN_SECRET`).
    pub token_secret: Option<Secret>,
    /// Derives task seeds (`SEED_SECRET`). Changing it changes replays of old tasks.
    pub seed_secret: Option<Secret>,
    /// What players may ask for (`MAX_QUEUE`, `MAX_QUANTITY`; the rest are the core's defaults).
    pub limits: Limits,
    pub retry: RetryPolicy,
    /// A connection is dropped this long after it connected (API Gateway's own limit: 2 h).
    pub connection_ttl_ms: Millis,
    /// A connection idle this long is dropped (API Gateway's idle timeout: 10 min).
    pub idle_timeout_ms: Millis,
    /// How long an undelivered notification waits in the inbox (`INBOX_TTL_SECS`).
    pub inbox_ttl_ms: Millis,
    /// Largest client message accepted (`MAX_MESSAGE_BYTES`).
    pub max_message_bytes: usize,
    /// Shards of the wake index (`WAKE_SHARDS`); every writer and the ticker must agree.
    pub wake_shards: u32,
    /// Players advanced at once by the ticker and a stream batch, and connections checked at
    /// once by the cleaner (`TICKER_CONCURRENCY`).
    pub ticker_concurrency: usize,
    /// Tries of one read-compute-write before giving up (conflicts and transient errors).
    pub commit_attempts: u32,
}

impl Default for AppConfig {
    /// The defaults, with no secrets.
    fn default() -> Self {
        AppConfig {
            token_secret: None,
            seed_secret: None,
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            connection_ttl_ms: 2 * 60 * 60 * 1000,
            idle_timeout_ms: 10 * 60 * 1000,
            inbox_ttl_ms: 7 * 24 * 60 * 60 * 1000,
            max_message_bytes: 8 * 1024,
            wake_shards: 8,
            ticker_concurrency: 16,
            commit_attempts: 4,
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
    /// outcomes. Optional, with defaults: `MAX_QUEUE` (10), `MAX_QUANTITY` (1000), `WAKE_SHARDS`
    /// (8), `TICKER_CONCURRENCY` (16), `MAX_MESSAGE_BYTES` (8192), `INBOX_TTL_SECS` (7 days),
    /// `CONNECTION_TTL_SECS` (7200), `IDLE_TIMEOUT_SECS` (600).
    pub fn from_lookup(
        function: Function,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AppConfig, ConfigError> {
        let mut config = AppConfig {
            token_secret: secret(&lookup, "TOKEN_SECRET", function.needs_token_secret())?,
            seed_secret: secret(&lookup, "SEED_SECRET", function.needs_seed_secret())?,
            ..AppConfig::default()
        };
        if let Some(v) = number(&lookup, "MAX_QUEUE", 1, 1000)? {
            config.limits.max_queue = v as usize;
        }
        if let Some(v) = number(&lookup, "MAX_QUANTITY", 1, 1_000_000)? {
            config.limits.max_quantity = v as u32;
        }
        if let Some(v) = number(&lookup, "WAKE_SHARDS", 1, 1024)? {
            config.wake_shards = v as u32;
        }
        if let Some(v) = number(&lookup, "TICKER_CONCURRENCY", 1, 256)? {
            config.ticker_concurrency = v as usize;
        }
        if let Some(v) = number(&lookup, "MAX_MESSAGE_BYTES", 64, 128 * 1024)? {
            config.max_message_bytes = v as usize;
        }
        if let Some(v) = number(&lookup, "INBOX_TTL_SECS", 60, 365 * 24 * 3600)? {
            config.inbox_ttl_ms = v as Millis * 1000;
        }
        if let Some(v) = number(&lookup, "CONNECTION_TTL_SECS", 60, 24 * 3600)? {
            config.connection_ttl_ms = v as Millis * 1000;
        }
        if let Some(v) = number(&lookup, "IDLE_TIMEOUT_SECS", 10, 24 * 3600)? {
            config.idle_timeout_ms = v as Millis * 1000;
        }
        Ok(config)
    }

    /// The game rules: the shipped catalog with these limits and this seed secret (empty when
    /// the function never computes an outcome).
    pub fn game(&self) -> Game<'static> {
        let mut game = Game::new(
            Catalog::shipped(),
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

fn number(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ConfigError> {
    let Some(raw) = lookup(name) else {
        return Ok(None);
    };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    match trimmed.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(Some(v)),
        _ => Err(ConfigError::Invalid {
            name,
            value: raw.chars().take(40).collect(),
            expected: "a whole number in its allowed range (see AppConfig::from_lookup)",
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
        assert_eq!(game.seed_secret, SEED.as_bytes());
        assert_eq!(config.wake_shards, 16);
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
    fn secrets_never_show_in_debug_output() {
        let config =
            AppConfig::from_lookup(Function::WsConnect, lookup(&[("TOKEN_SECRET", TOKEN)]))
                .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains(TOKEN));
        assert!(shown.contains("Secret(***)"));
    }
}
