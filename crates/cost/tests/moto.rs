//! The counting model against the real adapter: a small workload (3 players × 2 tasks, one
//! of them losing its connection) runs
//! through the handlers over the counting store, which records every port call; the same calls
//! are then made, in order, on `idle_aws::DynamoStore` over moto, whose DynamoDB client counts
//! the requests it sends per operation (an SDK interceptor). Both must count the same requests
//! per operation, so the model cannot drift from the adapter.
//!
//! Needs moto: `scripts/with-moto.sh cargo test -p idle-cost --test moto`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use idle_aws::{create_tables, sdk_config, DynamoStore, Tables};
use idle_cost::counting::Model;
use idle_cost::workload::{run, Params};

/// Counts requests per operation name, each attempt (a retry is billed too).
#[derive(Debug, Clone, Default)]
struct Requests(Arc<Mutex<BTreeMap<String, u64>>>);

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "count requests per operation"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map_or("?".to_owned(), |m| m.name().to_owned());
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_insert(0) += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_counting_model_sends_what_the_dynamodb_adapter_sends() {
    let endpoint = match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => e,
        _ => panic!(
            "DYNAMODB_ENDPOINT is not set: run `scripts/with-moto.sh cargo test -p idle-cost --test moto`"
        ),
    };
    // Given a small workload run over the counting model
    let report = run(Params {
        players: 3,
        tasks_per_player: 2,
        quantity: 2,
        batch_size: 100,
        tick_ms: 60_000,
        model: Model::default(),
        dedupe_wakes: false,
        // One player's connection goes away: its notifications are kept (BatchWriteItem).
        offline: 1,
        record_calls: true,
        continuous_hours: None,
    })
    .await;
    assert_eq!(report.completed, 6, "every task completes");
    let modelled: BTreeMap<String, u64> = report
        .counters
        .by_kind
        .iter()
        .map(|(kind, usage)| ((*kind).to_owned(), usage.requests))
        .collect();

    // When the same port calls are made on the real adapter over moto
    let config = sdk_config().await;
    let requests = Requests::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .endpoint_url(endpoint)
            .interceptor(requests.clone())
            .build(),
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tables = Tables::with_prefix(&format!("cost-{}-{nanos}-", std::process::id()));
    create_tables(&client, &tables)
        .await
        .expect("create tables");
    let setup = requests.0.lock().unwrap().clone();
    requests.0.lock().unwrap().clear();
    let store = DynamoStore::new(client, tables, idle_app::AppConfig::default().wake_shards);
    for call in &report.calls {
        call.replay(&store)
            .await
            .unwrap_or_else(|e| panic!("{call:?}: {e}"));
    }

    // Then it sent the same requests per operation
    let sent = requests.0.lock().unwrap().clone();
    println!("model: {modelled:?}\nmoto:  {sent:?}");
    assert!(!setup.is_empty(), "the interceptor sees requests");
    for operation in ["PutItem", "UpdateItem", "BatchWriteItem", "BatchGetItem"] {
        assert!(
            sent.get(operation).copied().unwrap_or(0) > 0,
            "{operation}: {sent:?}"
        );
    }
    assert_eq!(modelled, sent, "model (left) vs adapter on moto (right)");
}
