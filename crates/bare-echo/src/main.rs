//! `bare-echo` — the baseline of `scripts/measure-cold-start.sh`: `lambda_runtime`'s default
//! logging and a handler that returns its event, on the same single-threaded runtime as the six
//! functions. Whatever the functions take beyond this binary's cold start is theirs.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
