//! The scheduled functions (EventBridge).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::services::Services;
use crate::usecase::{self, CleanReport, TickReport};

/// `task-ticker`: advances every due player. The report is the function's result (visible in
/// `cargo lambda invoke` and the logs); trouble is counted in it, never an invocation error.
pub async fn task_tick(services: &Services, event: EventBridgeEvent<Value>) -> TickReport {
    tracing::debug!(id = event.id.as_deref().unwrap_or(""), "tick");
    usecase::tick(services).await
}

/// `connection-cleaner`: sweeps every connection.
pub async fn connection_clean(services: &Services, event: EventBridgeEvent<Value>) -> CleanReport {
    tracing::debug!(id = event.id.as_deref().unwrap_or(""), "clean");
    usecase::clean(services).await
}
