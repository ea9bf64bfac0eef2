//! `connection-cleaner` — scheduled: remove stale and gone connections, every page.

use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::ConnectionCleaner,
        |services, event: handlers::ScheduleEvent| async move {
            handlers::connection_clean(&services, event).await
        },
    )
    .await
}
