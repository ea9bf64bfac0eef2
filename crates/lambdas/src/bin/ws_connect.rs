//! `ws-connect` — `$connect`: verify the token, create the player if new, store the connection.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::WsConnect,
        |services, event: ApiGatewayWebsocketProxyRequest| async move {
            handlers::ws_connect(&services, event).await
        },
    )
    .await
}
