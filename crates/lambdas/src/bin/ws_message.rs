//! `ws-message` — the message routes: enqueue, cancel, sync, catalog, ping.

use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::WsMessage,
        |services, event: handlers::WsEvent| async move {
            handlers::ws_message(&services, event.0).await
        },
    )
    .await
}
