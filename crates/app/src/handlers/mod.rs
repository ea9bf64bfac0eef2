//! Lambda handlers: map `aws_lambda_events` values to one use case and back. Each takes the
//! shared [`Services`](crate::services::Services) and the event payload and returns the response
//! value (never an error), so a binary's `main` is a one-liner around `lambda_runtime` (see
//! `crates/lambdas/src/bin/`).

mod schedule;
mod stream;
mod ws;

pub use schedule::{connection_clean, task_tick};
pub use stream::{read_record, records_from_json, task_stream, task_stream_json};
pub use ws::{ws_connect, ws_disconnect, ws_message};
