//! `task-ticker` — scheduled: advance every player whose wake time has come.

use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::TaskTicker,
        |services, event: handlers::ScheduleEvent| async move {
            handlers::task_tick(&services, event).await
        },
    )
    .await
}
