//! `ws-disconnect` — `$disconnect`: forget the connection.

use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::WsDisconnect,
        |services, event: handlers::WsEvent| async move {
            handlers::ws_disconnect(&services, event.0).await
        },
    )
    .await
}
