//! What every Lambda main shares: logging set up as Lambda asks, and the services built once per
//! cold start from the environment, over the DynamoDB and API Gateway adapters.

use std::sync::Arc;

use async_trait::async_trait;
use idle_app::config::{AppConfig, Function, WAKE_QUEUE_URL};
use idle_app::metrics::MetricsSink;
use idle_app::ports::{Clock, ConnectionInfo, Notifier, PostError, StoreError, SystemClock, Waker};
use idle_app::services::Services;
use idle_aws::{
    dynamodb_client, lambda_sdk_config, ApiGatewayNotifier, DynamoCatalogs, DynamoStore, SqsWaker,
    Tables, CATALOGS_TABLE_VAR,
};
use idle_core::model::Millis;

use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
pub use lambda_runtime::{run, service_fn, Error, LambdaEvent};

/// Sets up the process's logging exactly as the functions run with it, writing to `writer`
/// (stdout in the Lambdas, where Lambda's log agent reads it): `lambda_runtime`'s default
/// subscriber, JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (the template's `LogFormat: JSON`),
/// at the level `AWS_LAMBDA_LOG_LEVEL` names.
///
/// That format leaves out the event's target, so a record that must stay recognisable says
/// what it is in a field of its own (the audit trail's `audit = true`). Installs a global
/// subscriber: once per process.
pub fn init_logging<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    lambda_runtime::tracing::init_default_subscriber_with_writer(writer);
}

/// Sets up JSON or text logs as `AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL` say
/// ([`init_logging`] to stdout), then builds the services for `function`. Misconfiguration is
/// an init error: Lambda reports it and never invokes the function with it.
///
/// The waker: `task-processor` arms wake-ups on the wake queue, so it requires
/// `WAKE_QUEUE_URL` ([`SqsWaker`]). The other functions never arm one (their writes' outboxes
/// are performed by `task-processor`); they get the [`SqsWaker`] too if the variable is set,
/// else [`NoWakeQueue`], which fails visibly if it is ever called.
///
/// The catalog store: the functions that compute outcomes
/// ([`Function::computes_outcomes`]) require `CATALOGS_TABLE` and store the catalog they play
/// there (put if absent), so that tasks they start can complete and replay under it after the
/// next deploy: not at init, but before the process's first write that starts or settles a
/// task under it ([`Services::register_catalog`]; a failure fails that write, is logged with
/// the hash, and is tried again by the next). The other functions never read a catalog by hash
/// and get no store.
pub async fn bootstrap(function: Function) -> Result<Arc<Services>, Error> {
    let mut timing = InitTiming::from_env();
    init_logging(std::io::stdout);
    timing.step("logging");
    let config = AppConfig::from_env_for(function)?;
    timing.step("config");
    match &config.catalog.file {
        Some(file) => lambda_runtime::tracing::info!(
            catalog_file = %file.display(),
            catalog_version = config.catalog.catalog().version,
            catalog_hash = %config.catalog.hash(),
            "catalog loaded"
        ),
        // Parsing it here would cost every cold start, including those that never need it.
        None => lambda_runtime::tracing::info!(
            "playing the embedded catalog: parsed on first use, its hash logged when stored"
        ),
    }
    let sdk = lambda_sdk_config().await?;
    timing.step("sdk_config");
    let tables = Tables::from_env()?;
    let dynamodb = dynamodb_client(&sdk);
    let catalogs = if function.computes_outcomes() {
        let table = std::env::var(CATALOGS_TABLE_VAR)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                format!(
                    "{CATALOGS_TABLE_VAR} is not set: this function keeps the catalog it plays \
                     in that table (template.yaml sets it to the CatalogsTable)"
                )
            })?;
        Some(DynamoCatalogs::new(dynamodb.clone(), table))
    } else {
        None
    };
    let store = Arc::new(
        DynamoStore::new(dynamodb, tables, config.wake_shards)
            .with_history_ttl(config.history_ttl_ms)
            .with_wake_bucket(config.wake_bucket_ms),
    );
    let notifier: Arc<dyn Notifier> = match std::env::var("WS_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Arc::new(ApiGatewayNotifier::new(&sdk, &endpoint)),
        _ => Arc::new(NoEndpoint),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let waker: Arc<dyn Waker> = match (&config.wake_queue_url, function) {
        (Some(url), _) => Arc::new(SqsWaker::lazy(&sdk, url, clock.clone())),
        (None, Function::TaskProcessor) => {
            return Err(format!(
                "{WAKE_QUEUE_URL} is not set: task-processor sends wake-ups to that SQS queue \
                 (template.yaml sets it to the WakeQueue's URL)"
            )
            .into())
        }
        (None, _) => Arc::new(NoWakeQueue),
    };
    timing.step("clients");
    // EMF metrics go to stdout, where Lambda's log agent extracts them.
    let mut services = Services::new(
        config,
        store.clone(),
        store.clone(),
        store,
        notifier,
        clock,
        waker,
    )
    .with_metrics(MetricsSink::Stdout);
    if let Some(catalogs) = catalogs {
        services = services.with_catalog_store(Arc::new(catalogs));
    }
    timing.step("services");
    timing.total();
    Ok(Arc::new(services))
}

/// The environment variable that turns on [`InitTiming`]'s report (any non-empty value).
pub const INIT_TIMING_VAR: &str = "IDLE_INIT_TIMING";

/// How long each init step took, reported on stderr when [`INIT_TIMING_VAR`] is set (by
/// `scripts/cold_start.py --breakdown`, docs/performance.md "Cold start and footprint"): one
/// line `init-timing <step> <µs>` per step, then `init-timing total <µs>` since the timer
/// started. Costs one environment lookup when off.
pub struct InitTiming {
    started: std::time::Instant,
    last: std::time::Instant,
    on: bool,
}

impl InitTiming {
    /// A timer starting now, reporting if [`INIT_TIMING_VAR`] is set and not empty.
    pub fn from_env() -> InitTiming {
        let now = std::time::Instant::now();
        InitTiming {
            started: now,
            last: now,
            on: std::env::var_os(INIT_TIMING_VAR).is_some_and(|v| !v.is_empty()),
        }
    }

    /// Ends the step `name`, which started when the previous one ended.
    pub fn step(&mut self, name: &str) {
        let now = std::time::Instant::now();
        if self.on {
            eprintln!("init-timing {name} {}", (now - self.last).as_micros());
        }
        self.last = now;
    }

    /// Reports the time since the timer started.
    pub fn total(&self) {
        if self.on {
            eprintln!("init-timing total {}", self.started.elapsed().as_micros());
        }
    }
}

/// The notifier of functions deployed without `WS_ENDPOINT` (`ws-connect`, `ws-disconnect`):
/// they never post, and if they tried, the attempt fails visibly instead of silently.
struct NoEndpoint;

#[async_trait]
impl Notifier for NoEndpoint {
    async fn post(&self, _: &str, _: &[u8]) -> Result<(), PostError> {
        Err(PostError::Permanent(
            "WS_ENDPOINT is not set for this function".into(),
        ))
    }
    async fn connection_info(&self, _: &str) -> Result<ConnectionInfo, PostError> {
        Err(PostError::Permanent(
            "WS_ENDPOINT is not set for this function".into(),
        ))
    }
    async fn close(&self, _: &str) -> Result<(), PostError> {
        Err(PostError::Permanent(
            "WS_ENDPOINT is not set for this function".into(),
        ))
    }
}

/// The waker of functions deployed without `WAKE_QUEUE_URL` (all but `task-processor`): they
/// never arm a wake-up (their writes' outboxes are performed by `task-processor`), and if one
/// tried, it is logged as an error and fails with [`StoreError::Permanent`] instead of being
/// dropped silently. (The ticker's sweep of the wake index would still advance the player.)
pub struct NoWakeQueue;

#[async_trait]
impl Waker for NoWakeQueue {
    async fn arm(&self, player_id: &str, at: Millis) -> Result<(), StoreError> {
        lambda_runtime::tracing::error!(
            player_id,
            at,
            "a wake-up was armed in a function without {WAKE_QUEUE_URL}"
        );
        Err(StoreError::Permanent(format!(
            "{WAKE_QUEUE_URL} is not set for this function"
        )))
    }
}

/// Runs `handler` for every event Lambda hands this process, with the services built once.
pub async fn serve<E, R, H, F>(function: Function, handler: H) -> Result<(), Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
    H: Fn(Arc<Services>, E) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = R> + Send + 'static,
{
    let services = bootstrap(function).await?;
    run(service_fn(move |event: LambdaEvent<E>| {
        let response = handler(Arc::clone(&services), event.payload);
        async move { Ok::<R, Error>(response.await) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_function_without_the_wake_queue_refuses_to_arm_instead_of_dropping_it() {
        match NoWakeQueue.arm("p1", 1_000).await {
            Err(StoreError::Permanent(message)) => assert!(message.contains(WAKE_QUEUE_URL)),
            other => panic!("expected a permanent error, got {other:?}"),
        }
    }
}
