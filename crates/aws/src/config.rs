//! Table names and SDK clients, from the environment the template (or a test) sets.
//!
//! The timeouts and retries every client gets are described in the crate documentation
//! ("Timeouts and retries").

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::region::ProvideRegion;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_types::sdk_config::{SharedCredentialsProvider, SharedHttpClient};

/// The environment variable that points the DynamoDB client at a local stand-in (moto).
pub const DYNAMODB_ENDPOINT_VAR: &str = "DYNAMODB_ENDPOINT";

/// A missing or unusable setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required environment variable is not set (or is empty).
    #[error("environment variable {0} is not set: it must name the table (template.yaml sets it)")]
    Missing(&'static str),
    /// `TLS_ROOTS` names no [`TrustedRoots`] (the value, at most 40 characters of it).
    #[error("TLS_ROOTS is `{0}`; it must be `amazon` (the default) or `system`")]
    UnknownRoots(String),
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

/// Stalled-stream protection, off for every client of this crate. The SDK's default (on since
/// behaviour version 2024-03-28) fails a request or response body that moves no data for 5 s,
/// its grace period; every call here is a small JSON body inside one attempt, which
/// [`ATTEMPT_TIMEOUT`] (2 s) ends first, so the check can never fire. What it costs is a
/// throughput monitor and a timer on each call's request and response bodies
/// (docs/performance.md, "Fifth round").
pub fn stalled_stream_protection() -> StalledStreamProtectionConfig {
    StalledStreamProtectionConfig::disabled()
}

/// The retries every client of this crate uses: `base`'s mode and attempts (the SDK's standard
/// mode and 3 attempts when there is none) with backoff capped at [`MAX_BACKOFF`].
pub fn retry_config(base: Option<&RetryConfig>) -> RetryConfig {
    base.cloned()
        .unwrap_or_else(RetryConfig::standard)
        .with_max_backoff(MAX_BACKOFF)
}

/// The root certificates an [`https_client`] verifies servers against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedRoots {
    /// Only the five roots of Amazon Trust Services, which AWS says to trust for its service
    /// endpoints ([`AMAZON_ROOTS`]), compiled in: what the Lambdas use.
    Amazon,
    /// The system's store (`rustls-native-certs`, the SDK's default), read from the
    /// certificate files at the first connection: what tools on an operator's machine use.
    System,
}

/// The environment variable that chooses a Lambda's [`TrustedRoots`]: `amazon` (the default
/// when unset or empty) or `system`.
pub const TLS_ROOTS_VAR: &str = "TLS_ROOTS";

impl TrustedRoots {
    /// Reads [`TLS_ROOTS_VAR`]. An unknown value is an error naming the variable.
    pub fn from_env() -> Result<TrustedRoots, ConfigError> {
        TrustedRoots::parse(std::env::var(TLS_ROOTS_VAR).ok().as_deref())
    }

    fn parse(value: Option<&str>) -> Result<TrustedRoots, ConfigError> {
        match value.map(str::trim) {
            None | Some("") | Some("amazon") => Ok(TrustedRoots::Amazon),
            Some("system") => Ok(TrustedRoots::System),
            Some(other) => Err(ConfigError::UnknownRoots(other.chars().take(40).collect())),
        }
    }
}

pub use crate::amazon_roots::AMAZON_ROOTS;

/// The HTTPS client every SDK client built from one [`SdkConfig`] of this crate shares: the
/// SDK's own client and TLS stack (`aws-smithy-http-client`: hyper, rustls over aws-lc-rs),
/// one connection pool per endpoint, verifying servers against `roots`. Plain `http://`
/// endpoints (moto, the local runtime) go through it unencrypted.
///
/// Without it each SDK client built its own default client: its own connector, pool and root
/// store. The SDK's client builds its connector (TLS configuration and root store) at the first
/// call, one per timeout setting (every client here has the same, so one in all), and keeps it.
/// The SDK's client also builds, and drops, one connector each time an SDK client is
/// constructed, to load the system's certificates at init rather than at the first call
/// (`aws-smithy-http-client`'s `validate_base_client_config`): about 0.25 ms a client, for a
/// connector nothing uses. This client leaves that check out (`SkipConstructionCheck`); the
/// first call still builds the connector it uses, so a bad TLS setting fails there.
pub fn https_client(roots: TrustedRoots) -> SharedHttpClient {
    SharedHttpClient::new(SkipConstructionCheck(sdk_https_client(roots)))
}

/// An HTTP client that is `inner` except that constructing an SDK client over it builds no
/// throw-away connector ([`https_client`] says why). The trait's default check, which does
/// nothing, replaces `inner`'s; the connectors of calls and the metadata are `inner`'s.
#[derive(Debug)]
struct SkipConstructionCheck(SharedHttpClient);

impl HttpClient for SkipConstructionCheck {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

fn sdk_https_client(roots: TrustedRoots) -> SharedHttpClient {
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    match roots {
        TrustedRoots::System => builder.build_https(),
        TrustedRoots::Amazon => {
            let trust = tls::TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(amazon_root_certificates());
            match tls::TlsContext::builder().with_trust_store(trust).build() {
                Ok(context) => builder.tls_context(context).build_https(),
                // Cannot happen today (a context with only a trust store always builds); the
                // SDK's default context, the system's roots, still verifies.
                Err(error) => {
                    tracing::warn!(%error, "Amazon's root certificates refused; using the system's");
                    builder.build_https()
                }
            }
        }
    }
}

/// The [`AMAZON_ROOTS`] as PEM (the SDK takes extra roots only as PEM), taken from Mozilla's
/// root program as compiled in (the `webpki-root-certs` crate, from the CCADB) by `build.rs`,
/// so that choosing and encoding them costs no cold start.
///
/// The trade-off against the system's store, which the SDK reads by default: the system's is
/// read and parsed from files at the first connection (the bundle, and every file of the
/// certificate directory, about 150 roots), milliseconds of every cold start, and trusts every
/// root the image trusts (docs/performance.md, "Cold start and footprint"). These five are the
/// only CAs that can vouch for an AWS endpoint, so any other CA's misissued certificate is
/// refused: a smaller trust than the system's. What it costs: they change only when the
/// dependency is updated and the functions redeployed (a root Amazon retires or Mozilla
/// distrusts stays trusted until then), and if AWS ever served its endpoints from another CA,
/// connections would fail until `TLS_ROOTS=system` is set ([`TrustedRoots`]).
pub fn amazon_root_certificates() -> &'static [u8] {
    include_bytes!(concat!(env!("OUT_DIR"), "/amazon_roots.pem"))
}

/// Loads the SDK's defaults (the whole discovery chain: environment, profile files, web
/// identity, ECS and IMDS for credentials and region; retry mode and attempts) with this
/// crate's timeouts and backoff cap and one shared [`https_client`] trusting the system's
/// roots. For tools and tests that
/// run on an operator's machine; a Lambda uses [`lambda_sdk_config`]. Call it once at start-up
/// and build every client from the result.
pub async fn sdk_config() -> SdkConfig {
    let loaded = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config())
        .http_client(https_client(TrustedRoots::System))
        .load()
        .await;
    let retry = retry_config(loaded.retry_config());
    loaded.into_builder().retry_config(retry).build()
}

/// The SDK settings of a Lambda function, from the environment Lambda sets for it (AWS Lambda
/// Developer Guide, "Defined runtime environment variables"): the region from `AWS_REGION`
/// (or `AWS_DEFAULT_REGION`) and the execution role's credentials from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, through aws-config's own environment
/// providers; retry mode and attempts from `AWS_RETRY_MODE` and `AWS_MAX_ATTEMPTS` (the SDK's
/// retry provider); this crate's timeouts and backoff cap; one shared [`https_client`]
/// trusting the roots [`TLS_ROOTS_VAR`] names (Amazon's by default).
///
/// Unlike [`sdk_config`] it runs none of the rest of the discovery chain (profile files, SSO,
/// web identity, ECS, IMDS), which a Lambda never needs and which costs its cold start time
/// and binary size. A variable that is missing is not an init error: as with the full chain,
/// calls then fail (no region, no credentials), which a function outside Lambda meets first.
///
/// # Errors
/// [`ConfigError::UnknownRoots`] when [`TLS_ROOTS_VAR`] names no [`TrustedRoots`].
pub async fn lambda_sdk_config() -> Result<SdkConfig, ConfigError> {
    let roots = TrustedRoots::from_env()?;
    let region = EnvironmentVariableRegionProvider::new().region().await;
    let retry = aws_config::default_provider::retry_config::default_provider()
        .configure(&ProviderConfig::empty().with_region(region.clone()))
        .retry_config()
        .await;
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(https_client(roots))
        .timeout_config(timeout_config())
        .retry_config(retry_config(Some(&retry)));
    builder.set_region(region);
    Ok(builder.build())
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
        .retry_config(retry_config(config.retry_config()))
        .stalled_stream_protection(stalled_stream_protection());
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
    fn the_amazon_roots_are_exactly_the_five_trust_services_roots_and_each_parses() {
        use rustls_pki_types::pem::PemObject;
        let pem = amazon_root_certificates();
        let ders: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ders.len(), AMAZON_ROOTS.len());
        for name in AMAZON_ROOTS {
            let holding: Vec<_> = ders
                .iter()
                .filter(|der| der.windows(name.len()).any(|w| w == name.as_bytes()))
                .collect();
            assert_eq!(holding.len(), 1, "{name}");
        }
        // Not the Starfield root that is not Amazon's.
        let other = b"Starfield Root Certificate Authority - G2";
        assert!(!ders
            .iter()
            .any(|der| der.windows(other.len()).any(|w| w == other)));
        for der in &ders {
            webpki::anchor_from_trusted_cert(der).expect("a usable trust anchor");
        }
    }

    #[test]
    fn tls_roots_default_to_amazon_and_refuse_an_unknown_value() {
        assert_eq!(TrustedRoots::parse(None), Ok(TrustedRoots::Amazon));
        assert_eq!(TrustedRoots::parse(Some(" ")), Ok(TrustedRoots::Amazon));
        assert_eq!(
            TrustedRoots::parse(Some("amazon")),
            Ok(TrustedRoots::Amazon)
        );
        assert_eq!(
            TrustedRoots::parse(Some("system")),
            Ok(TrustedRoots::System)
        );
        let err = TrustedRoots::parse(Some("mozilla")).unwrap_err();
        assert_eq!(err, ConfigError::UnknownRoots("mozilla".into()));
        assert!(err.to_string().contains("TLS_ROOTS"));
    }

    /// An HTTP client that counts the SDK's construction checks and serves no call.
    #[derive(Debug, Default)]
    struct CountingChecks(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl HttpClient for CountingChecks {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            https_client(TrustedRoots::Amazon).http_connector(settings, components)
        }

        fn validate_base_client_config(
            &self,
            _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
            _: &aws_sdk_dynamodb::config::ConfigBag,
        ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    fn clients_over(http: SharedHttpClient) {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_types::region::Region::new("eu-west-1"))
            .http_client(http)
            .build();
        let _ = dynamodb_client(&config);
        let _ = aws_sdk_sqs::Client::new(&config);
    }

    #[test]
    fn constructing_sdk_clients_over_the_shared_client_runs_no_connector_check() {
        // The SDK asks the HTTP client to check itself once per client it constructs...
        let checks = CountingChecks::default();
        let count = checks.0.clone();
        clients_over(SharedHttpClient::new(checks));
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
        // ...which, for the SDK's own client, builds a connector and drops it: not through ours.
        let checks = CountingChecks::default();
        let count = checks.0.clone();
        clients_over(SharedHttpClient::new(SkipConstructionCheck(
            SharedHttpClient::new(checks),
        )));
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn a_prefix_gives_distinct_table_names() {
        let tables = Tables::with_prefix("t1-");
        assert_eq!(tables.players, "t1-Players");
        assert_eq!(tables.connections, "t1-Connections");
    }
}
