//! `ws-disconnect` — `$disconnect`: forget the connection.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::WsDisconnect,
        |services, event: ApiGatewayWebsocketProxyRequest| async move {
            handlers::ws_disconnect(&services, event).await
        },
    )
    .await
}
