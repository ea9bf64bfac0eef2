//! The WebSocket gateway and API Gateway's `@connections` management API, on one server.
//!
//! A socket's life follows API Gateway's: `GET /ws?token=…` becomes a `$connect` event for
//! `handlers::ws_connect` (the upgrade happens only on 200; otherwise the client gets that
//! status with a JSON body), every frame becomes a message event routed on its `action`, and
//! the close becomes `$disconnect`. Nothing is written to a socket except through
//! `POST /@connections/{id}`, which the services reach with the real SDK client.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use idle_app::handlers;
use idle_app::Services;
use idle_core::model::Millis;
use serde_json::json;
use tokio::sync::mpsc;

use crate::events::{self, ConnectionContext};

/// API Gateway's largest frame and `PostToConnection` payload (128 KiB).
pub const MAX_FRAME_BYTES: usize = 128 * 1024;

/// What the gateway asks a socket's writer to do.
#[derive(Debug)]
enum Outbound {
    Text(String),
    Binary(Vec<u8>),
    Close,
}

/// One open connection.
#[derive(Debug)]
struct Link {
    tx: mpsc::UnboundedSender<Outbound>,
    ctx: ConnectionContext,
    last_active_at: Millis,
}

/// The gateway's state: the services it calls and the open connections.
#[derive(Debug)]
pub struct Gateway {
    services: Arc<Services>,
    links: Mutex<HashMap<String, Link>>,
}

impl Gateway {
    /// A gateway over `services` with no connections.
    pub fn new(services: Arc<Services>) -> Gateway {
        Gateway {
            services,
            links: Mutex::new(HashMap::new()),
        }
    }

    /// The services the gateway calls.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    fn links(&self) -> MutexGuard<'_, HashMap<String, Link>> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> Millis {
        self.services.clock.now()
    }

    /// How many sockets are open.
    pub fn open_connections(&self) -> usize {
        self.links().len()
    }

    fn send(&self, connection_id: &str, out: Outbound) -> bool {
        self.links()
            .get(connection_id)
            .is_some_and(|link| link.tx.send(out).is_ok())
    }

    fn touch(&self, connection_id: &str) {
        let now = self.now();
        if let Some(link) = self.links().get_mut(connection_id) {
            link.last_active_at = now;
        }
    }

    /// Forgets a connection and asks its writer to close the socket; false if unknown.
    fn close(&self, connection_id: &str) -> bool {
        match self.links().remove(connection_id) {
            Some(link) => {
                let _ = link.tx.send(Outbound::Close);
                true
            }
            None => false,
        }
    }

    /// Closes every socket (shutdown).
    pub fn close_all(&self) {
        for (_, link) in self.links().drain() {
            let _ = link.tx.send(Outbound::Close);
        }
    }
}

type Shared = Arc<Gateway>;

/// The routes of the gateway: `/ws` and `/@connections/{id}`.
pub fn routes(gateway: Shared) -> Router {
    Router::new()
        .route("/ws", get(connect))
        .route(
            "/@connections/{id}",
            post(post_to_connection)
                .get(get_connection)
                .delete(delete_connection),
        )
        .with_state(gateway)
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "status": status.as_u16(), "message": message }).to_string(),
    )
        .into_response()
}

async fn connect(
    State(gw): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return json_error(
                rejection.status(),
                &format!(
                    "this is the WebSocket endpoint; connect with a WebSocket client ({rejection})"
                ),
            )
        }
    };
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let now = gw.now();
    let ctx = ConnectionContext {
        connection_id: events::connection_id(),
        domain_name: header(header::HOST),
        connected_at: now,
        source_ip: peer.ip().to_string(),
        user_agent: header(header::USER_AGENT),
    };
    // Registered before `$connect` runs: a notification posted between a 200 and the upgrade
    // waits in the channel instead of being lost as Gone.
    let (tx, rx) = mpsc::unbounded_channel();
    gw.links().insert(
        ctx.connection_id.clone(),
        Link {
            tx,
            ctx: ctx.clone(),
            last_active_at: now,
        },
    );
    let response =
        handlers::ws_connect(&gw.services, events::connect_event(&ctx, &query, now)).await;
    if response.status_code != 200 {
        gw.links().remove(&ctx.connection_id);
        let status = u16::try_from(response.status_code)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match &response.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => text.clone(),
            _ => "connection refused".to_owned(),
        };
        tracing::info!(connection_id = %ctx.connection_id, status = status.as_u16(), "$connect refused");
        return json_error(status, &message);
    }
    tracing::info!(connection_id = %ctx.connection_id, "connected");
    let failed = (gw.clone(), ctx.clone());
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_failed_upgrade(move |error| {
            let (gw, ctx) = failed;
            tracing::info!(connection_id = %ctx.connection_id, %error, "the upgrade failed");
            tokio::spawn(async move { disconnect(&gw, &ctx, 1006, "upgrade failed").await });
        })
        .on_upgrade(move |socket| run_socket(gw, ctx, socket, rx))
}

async fn run_socket(
    gw: Shared,
    ctx: ConnectionContext,
    socket: WebSocket,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
) {
    let (mut sink, mut stream) = socket.split();
    let mut writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let frame = match out {
                Outbound::Text(text) => Message::Text(text.into()),
                Outbound::Binary(bytes) => Message::Binary(bytes.into()),
                Outbound::Close => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code: 1000,
                            reason: "closed by the server".into(),
                        })))
                        .await;
                    break;
                }
            };
            if sink.send(frame).await.is_err() {
                break;
            }
        }
    });
    let mut close = (1006u16, String::from("Connection closed abnormally"));
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            // The writer stops after a server-side close (DeleteConnection, shutdown) or a
            // failed write: the connection is over without waiting for the client's answer,
            // as API Gateway's $disconnect follows a DeleteConnection at once.
            _ = &mut writer => {
                close = (1000, "closed by the server".to_owned());
                break;
            }
        };
        let Some(frame) = frame else { break };
        let (body, is_base64) = match frame {
            Ok(Message::Text(text)) => (text.to_string(), false),
            Ok(Message::Binary(bytes)) => (
                base64::engine::general_purpose::STANDARD.encode(&bytes),
                true,
            ),
            Ok(Message::Close(frame)) => {
                close = frame.map_or((1005, String::new()), |f| (f.code, f.reason.to_string()));
                break;
            }
            Ok(_) => {
                gw.touch(&ctx.connection_id);
                continue;
            }
            Err(error) => {
                tracing::debug!(connection_id = %ctx.connection_id, %error, "socket error");
                break;
            }
        };
        gw.touch(&ctx.connection_id);
        let event = events::message_event(&ctx, body, is_base64, gw.now());
        // One frame at a time per connection, so a client's messages are handled in order.
        handlers::ws_message(&gw.services, event).await;
    }
    gw.links().remove(&ctx.connection_id);
    writer.abort();
    disconnect(&gw, &ctx, close.0, &close.1).await;
}

async fn disconnect(gw: &Gateway, ctx: &ConnectionContext, status: u16, reason: &str) {
    gw.links().remove(&ctx.connection_id);
    let event = events::disconnect_event(ctx, status, reason, gw.now());
    handlers::ws_disconnect(&gw.services, event).await;
    tracing::info!(connection_id = %ctx.connection_id, status, "disconnected");
}

fn gone() -> Response {
    (
        StatusCode::GONE,
        [
            (HeaderName::from_static("x-amzn-errortype"), "GoneException"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        r#"{"message":null}"#,
    )
        .into_response()
}

/// `POST /@connections/{id}`: the body goes to the socket as one frame (text when it is UTF-8).
async fn post_to_connection(
    State(gw): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if body.len() > MAX_FRAME_BYTES {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            [(
                HeaderName::from_static("x-amzn-errortype"),
                "PayloadTooLargeException",
            )],
            r#"{"message":"Message too long"}"#,
        )
            .into_response();
    }
    let out = match String::from_utf8(body.to_vec()) {
        Ok(text) => Outbound::Text(text),
        Err(e) => Outbound::Binary(e.into_bytes()),
    };
    if gw.send(&id, out) {
        StatusCode::OK.into_response()
    } else {
        gone()
    }
}

fn rfc3339(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// `GET /@connections/{id}`: API Gateway's `GetConnection` reply.
async fn get_connection(State(gw): State<Shared>, Path(id): Path<String>) -> Response {
    let links = gw.links();
    let Some(link) = links.get(&id) else {
        drop(links);
        return gone();
    };
    let body = json!({
        "connectedAt": rfc3339(link.ctx.connected_at),
        "identity": {"sourceIp": link.ctx.source_ip, "userAgent": link.ctx.user_agent},
        "lastActiveAt": rfc3339(link.last_active_at),
    });
    drop(links);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `DELETE /@connections/{id}`: closes the socket (`$disconnect` follows when it is closed).
async fn delete_connection(State(gw): State<Shared>, Path(id): Path<String>) -> Response {
    if gw.close(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone()
    }
}
