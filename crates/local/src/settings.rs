//! The runtime's options and its [`AppConfig`]: the deployment's settings from the environment,
//! with public development secrets where none are given.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use idle_app::auth::DEV_TOKEN_SECRET;
use idle_app::{AppConfig, ConfigError, Function};

/// The seed secret of the local runtime when `SEED_SECRET` is not set.
///
/// **Development only.** It is public: anyone can predict the outcomes of tasks seeded with it.
/// Deployments take `SEED_SECRET` from a stack parameter.
pub const DEV_SEED_SECRET: &str = "dev-seed-secret-local-only-dev-seed-secret";

/// How the runtime runs (the command line's flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the gateway, the `@connections` API and the console listen (loopback only; port 0
    /// picks a free port, see [`Running::addr`](crate::Running::addr)).
    pub listen: SocketAddr,
    /// Keeps players, task history and inbox in `DIR/store.json` across restarts.
    pub data_dir: Option<PathBuf>,
    /// How often the ticker runs (completions, progress, retries wait for it).
    pub tick: Duration,
    /// How often the connection cleaner sweeps.
    pub clean: Duration,
    /// How often the change feed is polled (the stream's delivery delay).
    pub feed_poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            data_dir: None,
            tick: Duration::from_millis(500),
            clean: Duration::from_secs(60),
            feed_poll: Duration::from_millis(50),
        }
    }
}

/// The settings of [`Function::Local`] read through `lookup` (the environment), with
/// [`DEV_TOKEN_SECRET`] and [`DEV_SEED_SECRET`] for `TOKEN_SECRET` and `SEED_SECRET` when they
/// are unset or empty. A secret that is set but too short is still an error.
pub fn app_config(lookup: impl Fn(&str) -> Option<String>) -> Result<AppConfig, ConfigError> {
    AppConfig::from_lookup(Function::Local, |name| {
        let value = lookup(name).filter(|v| !v.is_empty());
        match name {
            "TOKEN_SECRET" => value.or_else(|| Some(DEV_TOKEN_SECRET.to_owned())),
            "SEED_SECRET" => value.or_else(|| Some(DEV_SEED_SECRET.to_owned())),
            _ => value,
        }
    })
}

/// True when `TOKEN_SECRET` or `SEED_SECRET` is not set, so a public dev secret is in use.
pub fn uses_dev_secrets(lookup: impl Fn(&str) -> Option<String>) -> bool {
    ["TOKEN_SECRET", "SEED_SECRET"]
        .iter()
        .any(|name| lookup(name).is_none_or(|v| v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_secrets_fill_in_only_what_is_unset() {
        let config = app_config(|_| None).unwrap();
        assert_eq!(
            config.token_secret.unwrap().expose(),
            DEV_TOKEN_SECRET.as_bytes()
        );
        assert_eq!(
            config.seed_secret.unwrap().expose(),
            DEV_SEED_SECRET.as_bytes()
        );
        assert!(uses_dev_secrets(|_| None));

        let mine = "my-own-seed-secret-my-own-seed-secret-xx";
        let config = app_config(|name| (name == "SEED_SECRET").then(|| mine.to_owned())).unwrap();
        assert_eq!(config.seed_secret.unwrap().expose(), mine.as_bytes());
    }

    #[test]
    fn a_short_secret_from_the_environment_is_refused() {
        assert!(app_config(|name| (name == "TOKEN_SECRET").then(|| "short".to_owned())).is_err());
    }
}
