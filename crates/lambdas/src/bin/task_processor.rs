//! `task-processor` — the task table's stream: advance every player the batch names.

use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::TaskProcessor,
        |services, event: serde_json::Value| async move {
            handlers::task_stream_json(&services, event).await
        },
    )
    .await
}
