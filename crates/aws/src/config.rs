//! Table names and SDK clients, from the environment the template (or a test) sets.
//!
//! The timeouts and retries every client gets are described in the crate documentation
//! ("Timeouts and retries").

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The environment variable that points the DynamoDB client at a local stand-in (moto).
pub const DYNAMODB_ENDPOINT_VAR: &str = "DYNAMODB_ENDPOINT";

/// A missing or unusable setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required environment variable is not set (or is empty).
    #[error("environment variable {0} is not set: it must name the table (template.yaml sets it)")]
    Missing(&'static str),
}

/// The names of the four tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub players: String,
    pub tasks: String,
    pub connections: String,
    pub notifications: String,
}

impl Tables {
    /// Reads `PLAYERS_TABLE`, `TASKS_TABLE`, `CONNECTIONS_TABLE` and `NOTIFICATIONS_TABLE`.
    pub fn from_env() -> Result<Tables, ConfigError> {
        Tables::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Tables, ConfigError> {
        let var = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        Ok(Tables {
            players: var("PLAYERS_TABLE")?,
            tasks: var("TASKS_TABLE")?,
            connections: var("CONNECTIONS_TABLE")?,
            notifications: var("NOTIFICATIONS_TABLE")?,
        })
    }

    /// `{prefix}Players`, `{prefix}Tasks`, … : separate tables per test or per local data set.
    pub fn with_prefix(prefix: &str) -> Tables {
        Tables {
            players: format!("{prefix}Players"),
            tasks: format!("{prefix}Tasks"),
            connections: format!("{prefix}Connections"),
            notifications: format!("{prefix}Notifications"),
        }
    }
}

/// Longest wait for a TCP (and TLS) connection to a service endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest single attempt of a call: the request and its whole response.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest call, every attempt and backoff included. Must stay below the shortest function
/// `Timeout` in `template.yaml` (10 s), with room for the function to report the failure.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest backoff between two attempts (the SDK's default is 20 s, far past the operation
/// timeout).
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The timeouts every client of this crate uses (see the module documentation).
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The retries every client of this crate uses: `base`'s mode and attempts (the SDK's standard
/// mode and 3 attempts when there is none) with backoff capped at [`MAX_BACKOFF`].
pub fn retry_config(base: Option<&RetryConfig>) -> RetryConfig {
    base.cloned()
        .unwrap_or_else(RetryConfig::standard)
        .with_max_backoff(MAX_BACKOFF)
}

/// Loads the SDK's defaults (region, credentials, retry mode and attempts) from the environment,
/// with this crate's timeouts and backoff cap. Call it once at start-up and build every client
/// from the result: a Lambda reuses them across invocations.
pub async fn sdk_config() -> SdkConfig {
    let loaded = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config())
        .load()
        .await;
    let retry = retry_config(loaded.retry_config());
    loaded.into_builder().retry_config(retry).build()
}

/// A DynamoDB client with this crate's timeouts and retries; `DYNAMODB_ENDPOINT`, when set,
/// replaces the regional endpoint (moto, a local DynamoDB).
pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    dynamodb_client_at(config, local_endpoint().as_deref())
}

/// A DynamoDB client with this crate's timeouts and retries, at `endpoint` when given (else the
/// regional endpoint).
pub fn dynamodb_client_at(config: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(config)
        .timeout_config(timeout_config())
        .retry_config(retry_config(config.retry_config()));
    if let Some(endpoint) = endpoint {
        tracing::debug!(%endpoint, "DynamoDB endpoint overridden");
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

/// The endpoint override from `DYNAMODB_ENDPOINT`, if set and not empty.
pub(crate) fn local_endpoint() -> Option<String> {
    std::env::var(DYNAMODB_ENDPOINT_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn tables_come_from_the_four_variables() {
        let tables = Tables::from_lookup(lookup(&[
            ("PLAYERS_TABLE", "P"),
            ("TASKS_TABLE", "T"),
            ("CONNECTIONS_TABLE", "C"),
            ("NOTIFICATIONS_TABLE", "N"),
        ]))
        .unwrap();
        assert_eq!(tables.players, "P");
        assert_eq!(tables.notifications, "N");
    }

    #[test]
    fn a_missing_or_empty_variable_is_named_in_the_error() {
        let err = Tables::from_lookup(lookup(&[
            ("PLAYERS_TABLE", "P"),
            ("TASKS_TABLE", ""),
            ("CONNECTIONS_TABLE", "C"),
        ]))
        .unwrap_err();
        assert_eq!(err, ConfigError::Missing("TASKS_TABLE"));
        assert!(err.to_string().contains("TASKS_TABLE"));
    }

    #[test]
    fn a_prefix_gives_distinct_table_names() {
        let tables = Tables::with_prefix("t1-");
        assert_eq!(tables.players, "t1-Players");
        assert_eq!(tables.connections, "t1-Connections");
    }
}
