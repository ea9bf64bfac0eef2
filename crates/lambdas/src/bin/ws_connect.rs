//! `ws-connect` — `$connect`: verify the token, create the player if new, store the connection.

use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::WsConnect,
        |services, event: handlers::WsEvent| async move {
            handlers::ws_connect(&services, event.0).await
        },
    )
    .await
}
