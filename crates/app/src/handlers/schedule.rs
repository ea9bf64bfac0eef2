//! The scheduled functions (EventBridge).

use std::time::Instant;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::Value;

use super::{flush_metrics, function_names};
use crate::services::Services;
use crate::usecase::{self, CleanReport, TickReport};

/// `task-ticker`: advances every due player. The report is the function's result (visible in
/// `cargo lambda invoke` and the logs); trouble is counted in it, never an invocation error.
pub async fn task_tick(services: &Services, event: EventBridgeEvent<Value>) -> TickReport {
    let started = Instant::now();
    tracing::debug!(id = event.id.as_deref().unwrap_or(""), "tick");
    let report = usecase::tick(services).await;
    flush_metrics(services, function_names::TASK_TICKER, started, None, None);
    report
}

/// `connection-cleaner`: sweeps every connection.
pub async fn connection_clean(services: &Services, event: EventBridgeEvent<Value>) -> CleanReport {
    let started = Instant::now();
    tracing::debug!(id = event.id.as_deref().unwrap_or(""), "clean");
    let report = usecase::clean(services).await;
    let cleaned = report.expired + report.idle + report.gone;
    flush_metrics(
        services,
        function_names::CONNECTION_CLEANER,
        started,
        None,
        Some(cleaned),
    );
    report
}
