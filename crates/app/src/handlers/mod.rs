//! Lambda handlers: map `aws_lambda_events` values to one use case and back. Each takes the
//! shared [`Services`](crate::services::Services) and the event payload and returns the response
//! value (never an error), so a binary's `main` is a one-liner around `lambda_runtime` (see
//! `crates/lambdas/src/bin/`).
//!
//! Each handler ends by flushing the invocation's metrics ([`crate::metrics`]) as CloudWatch EMF
//! lines to the services' sink (stdout in the Lambdas).

mod schedule;
mod stream;
mod ws;

pub use schedule::{connection_clean, task_tick, ScheduleEvent};
pub use stream::{
    player_stream_report, read_record, records_from_json, task_processor, wake_queue,
    ProcessorEvent, CONNECTIONS_LIST, OUTBOX_MARKER, PACKED_STATE,
};
pub use ws::{ws_connect, ws_disconnect, ws_message, WsEvent};

use std::time::Instant;

use crate::metrics::Invocation;
use crate::services::Services;

/// Function names as the metrics' `Function` dimension (the binaries' names).
pub mod function_names {
    pub const TASK_PROCESSOR: &str = "task-processor";
    pub const WS_CONNECT: &str = "ws-connect";
    pub const WS_DISCONNECT: &str = "ws-disconnect";
    pub const WS_MESSAGE: &str = "ws-message";
    pub const TASK_TICKER: &str = "task-ticker";
    pub const CONNECTION_CLEANER: &str = "connection-cleaner";
}

/// Flushes the invocation's metrics (see [`crate::metrics::Metrics::flush`]).
fn flush_metrics(
    services: &Services,
    function: &'static str,
    started: Instant,
    batch_size: Option<usize>,
    connections_cleaned: Option<usize>,
) {
    services.metrics.flush(&Invocation {
        function,
        at: services.clock.now(),
        duration: started.elapsed(),
        batch_size,
        connections_cleaned,
    });
}
