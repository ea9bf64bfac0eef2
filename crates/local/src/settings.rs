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
    /// Where the gateway, the `@connections` API and the console listen (loopback unless
    /// [`public`](Self::public); port 0 picks a free port, see
    /// [`Running::addr`](crate::Running::addr)).
    pub listen: SocketAddr,
    /// Others than this machine's users can reach the runtime (it listens beyond loopback, or
    /// a reverse proxy forwards to it): a non-loopback `listen` is allowed, the public dev
    /// secrets are refused and `/dev/token` answers 403.
    pub public: bool,
    /// Keeps players, task history and kept notifications in `DIR/idle.db` (SQLite) across
    /// restarts; without it the store is an in-memory SQLite database.
    pub data_dir: Option<PathBuf>,
    /// How often the ticker sweeps the wake index (the safety net: completions, progress and
    /// retries are driven by the precise timer, [`crate::timers::timer`]).
    pub tick: Duration,
    /// How often the connection cleaner sweeps.
    pub clean: Duration,
    /// The services post replies and notifications through the real SDK client over this
    /// process's own `@connections` API, as the Lambdas do on AWS, instead of in process
    /// ([`crate::gateway::InProcessNotifier`], the default: the same answers, without an HTTP
    /// round trip, request signing and JSON parsing per post).
    pub posts_through_api: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            public: false,
            data_dir: None,
            tick: Duration::from_secs(60),
            clean: Duration::from_secs(60),
            posts_through_api: false,
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

/// The variables whose public dev secret `config` holds (`TOKEN_SECRET`, `SEED_SECRET`), in
/// that order: compared by value, so a dev secret is caught however it got there.
pub(crate) fn dev_secrets_in(config: &AppConfig) -> Vec<&'static str> {
    let is = |secret: Option<&[u8]>, dev: &str| secret.is_none_or(|s| s == dev.as_bytes());
    let mut names = Vec::new();
    if is(
        config.token_secret.as_ref().map(|s| s.expose()),
        DEV_TOKEN_SECRET,
    ) {
        names.push("TOKEN_SECRET");
    }
    if is(
        config.seed_secret.as_ref().map(|s| s.expose()),
        DEV_SEED_SECRET,
    ) {
        names.push("SEED_SECRET");
    }
    names
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
    fn dev_secrets_in_names_each_variable_left_to_its_dev_secret() {
        assert_eq!(
            dev_secrets_in(&app_config(|_| None).unwrap()),
            ["TOKEN_SECRET", "SEED_SECRET"]
        );
        let mine = "my-own-secret-my-own-secret-my-own-secret".to_owned();
        let token_only = app_config(|n| (n == "TOKEN_SECRET").then(|| mine.clone())).unwrap();
        assert_eq!(dev_secrets_in(&token_only), ["SEED_SECRET"]);
        let both = app_config(|n| n.ends_with("_SECRET").then(|| mine.clone())).unwrap();
        assert!(dev_secrets_in(&both).is_empty());
    }

    #[test]
    fn a_short_secret_from_the_environment_is_refused() {
        assert!(app_config(|name| (name == "TOKEN_SECRET").then(|| "short".to_owned())).is_err());
    }
}
