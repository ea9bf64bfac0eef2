//! The scheduled functions (EventBridge).
//!
//! Neither needs anything from its event, so both take any JSON payload: an EventBridge
//! schedule event, `{}`, `{"reason":"manual"}` from a console or `cargo lambda invoke`, or
//! `null`. Demanding EventBridge's fields (`detail-type`, `source`, …) would refuse a manual
//! run before the handler ever ran.

use std::time::Instant;

use serde_json::Value;

/// What the scheduled functions take: any JSON value (see the module's note).
pub type ScheduleEvent = Value;

use super::{flush_metrics, function_names};
use crate::services::Services;
use crate::usecase::{self, CleanReport, TickReport};

/// `task-ticker`: advances every due player. The report is the function's result (visible in
/// `cargo lambda invoke` and the logs); trouble is counted in it, never an invocation error.
pub async fn task_tick(services: &Services, event: ScheduleEvent) -> TickReport {
    let started = Instant::now();
    tracing::debug!(id = event_id(&event), "tick");
    let report = usecase::tick(services).await;
    flush_metrics(services, function_names::TASK_TICKER, started, None, None);
    report
}

/// `connection-cleaner`: sweeps every connection.
pub async fn connection_clean(services: &Services, event: ScheduleEvent) -> CleanReport {
    let started = Instant::now();
    tracing::debug!(id = event_id(&event), "clean");
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

/// The EventBridge event id, for the logs, when the payload has one.
fn event_id(event: &Value) -> &str {
    event.get("id").and_then(Value::as_str).unwrap_or("")
}
