//! Outbound calls against a peer that accepts the connection and never answers (a half-open
//! connection, a stuck proxy): every client of `idle-aws` gives up with a transient error
//! instead of waiting for as long as the Lambda lives.
//!
//! The peer is a TCP listener on loopback that accepts and then holds each socket without
//! reading or writing. The SDK settings are built the way the local runtime builds its own
//! (no timeouts in them), so the tests show that the clients carry the timeouts themselves.
//! Needs no moto and no AWS account.
//!
//! The outer `tokio::time::timeout` is a hang guard, not a performance assertion: without the
//! SDK timeouts these calls never return, and the guard turns that into a failure.

use std::net::SocketAddr;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_apigatewaymanagement::config::Credentials;
use idle_app::ports::{GameStore, Notifier, PostError, StoreError};
use idle_aws::{ApiGatewayNotifier, DynamoStore, Tables};
use tokio::net::TcpListener;

/// Far above the operation timeout (5 s) and far below "forever".
const HANG_GUARD: Duration = Duration::from_secs(60);

/// A loopback listener that accepts every connection and never answers; returns its address.
async fn silent_peer() -> SocketAddr {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

/// SDK settings with a region and dummy credentials and nothing else: no timeouts of ours.
async fn bare_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

#[tokio::test]
async fn a_dynamodb_endpoint_that_never_answers_makes_load_players_a_transient_error() {
    // Given a DynamoDB endpoint that accepts the connection and never answers
    let peer = silent_peer().await;
    let client =
        idle_aws::dynamodb_client_at(&bare_sdk_config().await, Some(&format!("http://{peer}")));
    let store = DynamoStore::new(client, Tables::with_prefix("hung-"), 8);

    // When the processor loads a player
    let result = tokio::time::timeout(HANG_GUARD, store.load_players(&["p1".to_owned()]))
        .await
        .expect("load_players still hangs: the DynamoDB client has no operation timeout");

    // Then the call fails as transient (worth retrying), and says it timed out
    match result {
        Err(StoreError::Transient(message)) => {
            assert!(message.contains("timeout"), "{message}")
        }
        other => panic!("expected a transient error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_connections_endpoint_that_never_answers_makes_a_post_a_transient_error() {
    // Given an @connections endpoint that accepts the connection and never answers
    let peer = silent_peer().await;
    let notifier =
        ApiGatewayNotifier::new(&bare_sdk_config().await, &format!("http://{peer}/prod"));

    // When a notification is posted, and a connection inspected
    let posted = tokio::time::timeout(HANG_GUARD, notifier.post("conn-1", b"{}"))
        .await
        .expect("post still hangs: the @connections client has no operation timeout");
    let inspected = tokio::time::timeout(HANG_GUARD, notifier.connection_info("conn-1"))
        .await
        .expect("connection_info still hangs");

    // Then both fail as transient, saying they timed out
    for result in [posted.map(|_| ()), inspected.map(|_| ())] {
        match result {
            Err(PostError::Transient(message)) => {
                assert!(message.contains("timeout"), "{message}")
            }
            other => panic!("expected a transient error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn every_client_carries_the_timeouts_whatever_sdk_config_it_is_built_from() {
    let bare = bare_sdk_config().await;
    let dynamodb = idle_aws::dynamodb_client_at(&bare, Some("http://127.0.0.1:9"));
    let streams = idle_aws::stream::streams_client(&bare);
    let configs = [
        (
            "dynamodb",
            dynamodb.config().timeout_config().cloned(),
            dynamodb.config().retry_config().cloned(),
            dynamodb.config().stalled_stream_protection().cloned(),
        ),
        (
            "dynamodbstreams",
            streams.config().timeout_config().cloned(),
            streams.config().retry_config().cloned(),
            streams.config().stalled_stream_protection().cloned(),
        ),
    ];
    for (name, timeouts, retries, stalled) in configs {
        // The attempt timeout ends a stalled call first, so the SDK's check is off.
        let stalled = stalled.unwrap_or_else(|| panic!("{name}: no stalled-stream setting"));
        assert!(!stalled.is_enabled(), "{name}");
        let timeouts = timeouts.unwrap_or_else(|| panic!("{name}: no timeout config"));
        assert_eq!(
            timeouts.connect_timeout(),
            Some(idle_aws::CONNECT_TIMEOUT),
            "{name}"
        );
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(idle_aws::ATTEMPT_TIMEOUT),
            "{name}"
        );
        assert_eq!(
            timeouts.operation_timeout(),
            Some(idle_aws::OPERATION_TIMEOUT),
            "{name}"
        );
        let retries = retries.unwrap_or_else(|| panic!("{name}: no retry config"));
        assert_eq!(retries.max_backoff(), idle_aws::MAX_BACKOFF, "{name}");
    }
}
