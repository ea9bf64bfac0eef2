//! `ws-message` — the message routes: enqueue, cancel, sync, catalog, ping.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use idle_app::config::Function;
use idle_app::handlers;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), idle_lambdas::Error> {
    idle_lambdas::serve(
        Function::WsMessage,
        |services, event: ApiGatewayWebsocketProxyRequest| async move {
            handlers::ws_message(&services, event).await
        },
    )
    .await
}
