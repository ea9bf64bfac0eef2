//! What every Lambda main shares: logging set up as Lambda asks, and the services built once per
//! cold start from the environment, over the DynamoDB and API Gateway adapters.

use std::sync::Arc;

use async_trait::async_trait;
use idle_app::config::{AppConfig, Function};
use idle_app::metrics::MetricsSink;
use idle_app::ports::{ConnectionInfo, Notifier, PostError, SystemClock};
use idle_app::services::Services;
use idle_aws::{dynamodb_client, sdk_config, ApiGatewayNotifier, DynamoStore, Tables};

pub use lambda_runtime::{run, service_fn, Error, LambdaEvent};

/// Sets up JSON or text logs as `AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL` say, then
/// builds the services for `function`. Misconfiguration is an init error: Lambda reports it and
/// never invokes the function with it.
pub async fn bootstrap(function: Function) -> Result<Arc<Services>, Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = AppConfig::from_env_for(function)?;
    let sdk = sdk_config().await;
    let tables = Tables::from_env()?;
    let store = Arc::new(DynamoStore::new(
        dynamodb_client(&sdk),
        tables,
        config.wake_shards,
    ));
    let notifier: Arc<dyn Notifier> = match std::env::var("WS_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Arc::new(ApiGatewayNotifier::new(&sdk, &endpoint)),
        _ => Arc::new(NoEndpoint),
    };
    // EMF metrics go to stdout, where Lambda's log agent extracts them.
    Ok(Arc::new(
        Services::new(
            config,
            store.clone(),
            store.clone(),
            store,
            notifier,
            Arc::new(SystemClock),
        )
        .with_metrics(MetricsSink::Stdout),
    ))
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
