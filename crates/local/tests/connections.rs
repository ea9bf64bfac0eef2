//! The `@connections` API of the local gateway, through the real `aws-sdk-apigatewaymanagement`
//! client the services use: post reaches the socket, GetConnection parses, delete closes the
//! socket and then everything is Gone. The runtime runs in-process here.

use std::time::Duration;

use futures_util::StreamExt;
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_app::ports::PostError;
use idle_local::{app_config, start, Options};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_get_and_delete_reach_the_socket_through_the_sdk_client() {
    // Given the runtime on a free port and a connected player
    let options = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Options::default()
    };
    let running = start(options, app_config(|_| None).unwrap()).await.unwrap();
    let services = running.services().clone();
    let now = services.clock.now();
    let token = mint(
        DEV_TOKEN_SECRET.as_bytes(),
        "conn-player",
        Duration::from_secs(600),
        false,
        now,
    )
    .unwrap();
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{}?token={token}", running.ws_url()))
            .await
            .unwrap();
    let stored = services.connections.scan_connections(None).await.unwrap();
    assert_eq!(stored.items.len(), 1);
    let id = stored.items[0].connection_id.clone();
    assert_eq!(stored.items[0].player_id, "conn-player");

    // When the services post to it, the frame arrives as text
    services
        .notifier
        .post(&id, br#"{"type":"pong","at":1}"#)
        .await
        .unwrap();
    let frame = tokio::time::timeout(WAIT, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(frame, Message::Text(r#"{"type":"pong","at":1}"#.into()));

    // and GetConnection parses in the SDK, with times around now
    let info = services.notifier.connection_info(&id).await.unwrap();
    assert!((info.connected_at - now).abs() < 60_000, "{info:?}");
    assert!(info.last_active_at >= info.connected_at);

    // When the connection is deleted, the socket is closed and the id is gone
    services.notifier.close(&id).await.unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(Ok(frame)) = socket.next().await {
            if let Message::Close(_) = frame {
                return true;
            }
        }
        true
    })
    .await
    .unwrap();
    assert!(closed);
    assert_eq!(
        services.notifier.post(&id, b"{}").await,
        Err(PostError::Gone)
    );
    assert_eq!(
        services.notifier.connection_info(&id).await,
        Err(PostError::Gone)
    );
    services
        .notifier
        .close(&id)
        .await
        .expect("closing twice is fine");
    // and $disconnect removed it from the store
    let deadline = tokio::time::Instant::now() + WAIT;
    while !services
        .connections
        .scan_connections(None)
        .await
        .unwrap()
        .items
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "$disconnect never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_public_address_is_refused() {
    let options = Options {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..Options::default()
    };
    let err = start(options, app_config(|_| None).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a loopback address"), "{err}");
}
