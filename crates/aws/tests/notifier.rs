//! The real `ApiGatewayNotifier` (the real SDK client) against a small `@connections` server
//! started inside the test on loopback, shaped as API Gateway answers: 410 with
//! `x-amzn-ErrorType: GoneException` for a connection it does not know.
//!
//! Needs no moto and no AWS account.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_apigatewaymanagement::config::Credentials;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use idle_app::ports::{Notifier, PostError};
use idle_aws::ApiGatewayNotifier;

/// 2024-05-01T12:00:00Z and 12:05:30.250Z in milliseconds.
const CONNECTED_AT: i64 = 1_714_564_800_000;
const LAST_ACTIVE_AT: i64 = 1_714_565_130_250;

#[derive(Default)]
struct Gateway {
    open: Mutex<HashSet<String>>,
    posted: Mutex<Vec<(String, Vec<u8>)>>,
}

type Shared = Arc<Gateway>;

fn error(status: StatusCode, kind: &'static str, message: &str) -> Response {
    (
        status,
        [(HeaderName::from_static("x-amzn-errortype"), kind)],
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"message":"{message}"}}"#),
    )
        .into_response()
}

/// The failures a real gateway can answer besides Gone, chosen by connection id.
fn failure(id: &str) -> Option<Response> {
    match id {
        "throttled" => Some(error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "Rate exceeded",
        )),
        "broken" => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerErrorException",
            "Internal server error",
        )),
        "forbidden" => Some(error(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            "Forbidden",
        )),
        _ => None,
    }
}

fn gone() -> Response {
    error(StatusCode::GONE, "GoneException", "")
}

async fn post_to(State(gw): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    if let Some(response) = failure(&id) {
        return response;
    }
    if !gw.open.lock().unwrap().contains(&id) {
        return gone();
    }
    gw.posted.lock().unwrap().push((id, body.to_vec()));
    StatusCode::OK.into_response()
}

async fn get_info(State(gw): State<Shared>, Path(id): Path<String>) -> Response {
    if let Some(response) = failure(&id) {
        return response;
    }
    if !gw.open.lock().unwrap().contains(&id) {
        return gone();
    }
    // API Gateway's shape. The SDK reads both times as RFC 3339 date-times with an offset
    // (`DateTimeWithOffset`): epoch numbers or naive date-times fail to parse (as moto's do).
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        r#"{"connectedAt":"2024-05-01T12:00:00.000Z","identity":{"sourceIp":"127.0.0.1","userAgent":"test"},"lastActiveAt":"2024-05-01T12:05:30.250Z"}"#,
    )
        .into_response()
}

async fn delete(State(gw): State<Shared>, Path(id): Path<String>) -> Response {
    if let Some(response) = failure(&id) {
        return response;
    }
    if gw.open.lock().unwrap().remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone()
    }
}

/// Starts the gateway on 127.0.0.1:0 under the stage path `/prod`; returns its state and the
/// endpoint the notifier is given (as the template's `WS_ENDPOINT`, stage included).
async fn start_gateway(open: &[&str]) -> (Shared, String) {
    let gw: Shared = Arc::new(Gateway::default());
    gw.open
        .lock()
        .unwrap()
        .extend(open.iter().map(|s| (*s).to_owned()));
    let app = Router::new()
        .route(
            "/prod/@connections/{id}",
            post(post_to).get(get_info).delete(delete),
        )
        .with_state(gw.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (gw, format!("http://{addr}/prod"))
}

async fn notifier(endpoint: &str) -> ApiGatewayNotifier {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    ApiGatewayNotifier::new(&config, endpoint)
}

#[tokio::test]
async fn a_post_to_an_open_connection_delivers_the_payload() {
    let (gw, endpoint) = start_gateway(&["conn-1"]).await;
    let notifier = notifier(&endpoint).await;
    notifier
        .post("conn-1", br#"{"type":"pong"}"#)
        .await
        .unwrap();
    assert_eq!(
        *gw.posted.lock().unwrap(),
        vec![("conn-1".to_owned(), br#"{"type":"pong"}"#.to_vec())]
    );
}

#[tokio::test]
async fn a_post_to_a_closed_connection_is_gone() {
    let (gw, endpoint) = start_gateway(&[]).await;
    let notifier = notifier(&endpoint).await;
    assert_eq!(notifier.post("conn-x", b"hi").await, Err(PostError::Gone));
    assert!(gw.posted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn connection_info_parses_the_gateway_timestamps() {
    let (_gw, endpoint) = start_gateway(&["conn-1"]).await;
    let notifier = notifier(&endpoint).await;
    let info = notifier.connection_info("conn-1").await.unwrap();
    assert_eq!(info.connected_at, CONNECTED_AT);
    assert_eq!(info.last_active_at, LAST_ACTIVE_AT);
    assert_eq!(
        notifier.connection_info("conn-x").await,
        Err(PostError::Gone)
    );
}

#[tokio::test]
async fn closing_a_connection_twice_is_fine() {
    let (gw, endpoint) = start_gateway(&["conn-1"]).await;
    let notifier = notifier(&endpoint).await;
    notifier.close("conn-1").await.unwrap();
    assert!(gw.open.lock().unwrap().is_empty());
    notifier
        .close("conn-1")
        .await
        .expect("a gone connection closes fine");
    assert_eq!(notifier.post("conn-1", b"hi").await, Err(PostError::Gone));
}

#[tokio::test]
async fn throttling_and_server_errors_are_transient_and_forbidden_is_permanent() {
    let (_gw, endpoint) = start_gateway(&[]).await;
    let notifier = notifier(&endpoint).await;
    assert!(matches!(
        notifier.post("throttled", b"hi").await,
        Err(PostError::Transient(_))
    ));
    assert!(matches!(
        notifier.post("broken", b"hi").await,
        Err(PostError::Transient(_))
    ));
    assert!(matches!(
        notifier.close("broken").await,
        Err(PostError::Transient(_))
    ));
    assert!(matches!(
        notifier.post("forbidden", b"hi").await,
        Err(PostError::Permanent(_))
    ));
}

#[tokio::test]
async fn a_gateway_that_is_not_there_is_transient() {
    // Bind and drop a listener to find a loopback port nobody serves.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let notifier = notifier(&format!("http://{addr}/prod")).await;
    assert!(matches!(
        notifier.post("conn-1", b"hi").await,
        Err(PostError::Transient(_))
    ));
}
