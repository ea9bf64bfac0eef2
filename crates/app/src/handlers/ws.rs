//! The WebSocket routes: `$connect`, `$disconnect` and the message routes.

use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use idle_core::protocol::{ErrorCode, Outgoing, Reply};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{flush_metrics, function_names};
use crate::ports::PostError;
use crate::services::Services;
use crate::usecase;

/// A WebSocket route event as the functions read it: API Gateway's shape
/// ([`ApiGatewayWebsocketProxyRequest`]), requiring only what the handlers use.
/// `aws_lambda_events` also demands `requestContext.connectedAt` and `requestTimeEpoch`, which
/// no handler reads, so a hand-written or trimmed test event would be refused before the
/// handler ran; they default to 0 here. A missing `connectionId` is the handler's clear 400.
#[derive(Debug, Clone)]
pub struct WsEvent(pub ApiGatewayWebsocketProxyRequest);

impl<'de> Deserialize<'de> for WsEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = Value::deserialize(deserializer)?;
        let Some(context) = value
            .get_mut("requestContext")
            .and_then(Value::as_object_mut)
        else {
            return Err(D::Error::custom(
                "a WebSocket route event needs `requestContext` (with `connectionId`)",
            ));
        };
        for unused in ["connectedAt", "requestTimeEpoch"] {
            context.entry(unused).or_insert(Value::from(0));
        }
        serde_json::from_value(value)
            .map(WsEvent)
            .map_err(D::Error::custom)
    }
}

fn response(status: u16, body: &str) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response.body = Some(Body::Text(body.to_owned()));
    response
}

fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    event
        .request_context
        .connection_id
        .as_deref()
        .filter(|id| !id.is_empty())
}

/// `$connect`: the token comes from the `token` query parameter (browsers cannot set headers).
/// Answers 200, 401 (no token), 403 (a token that does not verify), 400 (no connection id) or
/// 500 (misconfiguration or the store failed).
pub async fn ws_connect(
    services: &Services,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let started = Instant::now();
    let answer = connect_inner(services, event).await;
    flush_metrics(services, function_names::WS_CONNECT, started, None, None);
    answer
}

async fn connect_inner(
    services: &Services,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(connection_id) = connection_id(&event) else {
        tracing::error!("$connect without a connection id");
        return response(400, "no connection id");
    };
    let token = event.query_string_parameters.first("token");
    match usecase::connect(services, connection_id, token).await {
        Ok(_) => response(200, "connected"),
        Err(error) => {
            let status = error.status_code();
            let body = match status {
                401 => "unauthorized: connect with ?token=<JWT>",
                403 => "forbidden: the token is invalid or expired",
                _ => "internal error; try again",
            };
            response(status, body)
        }
    }
}

/// `$disconnect`: always 200 (API Gateway ignores the answer; the cleaner catches misses).
pub async fn ws_disconnect(
    services: &Services,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let started = Instant::now();
    if let Some(connection_id) = connection_id(&event) {
        let _ = usecase::disconnect(services, connection_id).await;
    }
    flush_metrics(services, function_names::WS_DISCONNECT, started, None, None);
    response(200, "disconnected")
}

/// The message routes (`enqueue`, `cancel`, `sync`, `catalog`, `ping`, `$default`): runs the
/// message and posts each reply back to the sender through the notifier. Always 200: answers
/// go through `@connections`, not the integration response.
pub async fn ws_message(
    services: &Services,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let started = Instant::now();
    let answer = message_inner(services, event).await;
    flush_metrics(services, function_names::WS_MESSAGE, started, None, None);
    answer
}

async fn message_inner(
    services: &Services,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(connection_id) = connection_id(&event) else {
        tracing::error!("message without a connection id");
        return response(400, "no connection id");
    };
    let answer = if event.is_base64_encoded {
        // API Gateway hands binary frames over base64-encoded; the protocol is JSON text.
        let at = services.clock.now();
        let reply = Reply::Error {
            at,
            code: ErrorCode::InvalidRequest,
            message: "binary frames are not supported; send JSON text".to_owned(),
            retry_after_ms: None,
            request_id: None,
        };
        usecase::Answer {
            replies: vec![Outgoing::Reply(reply)],
            close: false,
        }
    } else {
        let body = event.body.as_deref().unwrap_or("");
        usecase::message(services, connection_id, body).await
    };
    for reply in &answer.replies {
        // The edge: only here do the typed replies become JSON.
        let payload = match serde_json::to_vec(reply) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(connection_id, %error, "could not serialise a reply");
                continue;
            }
        };
        match services.notifier.post(connection_id, &payload).await {
            Ok(()) => {}
            Err(PostError::Gone) => {
                tracing::info!(connection_id, "the sender is gone; dropping its replies");
                usecase::forget_gone_id(services, connection_id, None, services.clock.now()).await;
                return response(200, "ok");
            }
            Err(error) => {
                tracing::warn!(connection_id, %error, "could not post a reply");
            }
        }
    }
    if answer.close {
        // DeleteConnection: the gateway then runs `$disconnect`, which deletes the row.
        if let Err(error) = services.notifier.close(connection_id).await {
            tracing::warn!(connection_id, %error, "could not close the connection");
        }
    }
    response(200, "ok")
}
