//! `connection-cleaner` — scheduled: remove stale and gone connections, every page.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::ConnectionCleaner,
        |services, event: EventBridgeEvent<serde_json::Value>| async move {
            handlers::connection_clean(&services, event).await
        },
    )
    .await
}
