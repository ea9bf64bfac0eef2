//! `task-processor` — the Players table's stream (perform each committed outbox: history,
//! notifications, wake-ups) and the wake queue (advance players whose time has come).

use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::TaskProcessor,
        |services, event: handlers::ProcessorEvent| async move {
            handlers::task_processor(&services, event).await
        },
    )
    .await
}
