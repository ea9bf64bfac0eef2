//! Table names and SDK clients, from the environment the template (or a test) sets.

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

/// Loads the SDK's defaults (region, credentials, retries) from the environment. Call it once
/// at start-up and build every client from the result: a Lambda reuses them across invocations.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A DynamoDB client; `DYNAMODB_ENDPOINT`, when set, replaces the regional endpoint (moto, a
/// local DynamoDB).
pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(config);
    if let Some(endpoint) = local_endpoint() {
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
