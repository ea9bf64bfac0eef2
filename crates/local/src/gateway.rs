//! The WebSocket gateway and API Gateway's `@connections` management API, on one server.
//!
//! A socket's life follows API Gateway's: `GET /ws?token=…` becomes a `$connect` event for
//! `handlers::ws_connect` (the upgrade happens only on 200; otherwise the client gets that
//! status with a JSON body), every frame becomes a message event routed on its `action`, and
//! the close becomes `$disconnect`. Nothing is written to a socket except through
//! `PostToConnection`: the runtime's own services call it in process ([`InProcessNotifier`]),
//! anything else on this machine as `POST /@connections/{id}` with the real SDK client (and
//! the services too with [`Options::posts_through_api`](crate::Options::posts_through_api));
//! both answer from the same [`Links`].
//!
//! API Gateway's limits and answers are kept where a client or the services could tell the
//! difference: frames and messages over its quotas close the socket with 1009, and a connection
//! is Gone to the `@connections` API until its `$connect` has returned 200.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use idle_app::handlers;
use idle_app::ports::{ConnectionInfo, Notifier, PostError};
use idle_app::Services;
use idle_core::model::Millis;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite;

use crate::events::{self, ConnectionContext};

// API Gateway's quotas for WebSocket APIs, from "Quotas for configuring and running a WebSocket
// API in API Gateway" (Amazon API Gateway Developer Guide,
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html):
// "WebSocket frame size 32 KB" and "Message payload size 128 KB", neither adjustable; a message
// over 32 KB must come in frames of 32 KB or less, and a larger frame or message closes the
// connection with code 1009.

/// API Gateway's largest incoming WebSocket frame, in bytes (32 KB): a longer message must
/// come in several frames.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

/// API Gateway's largest incoming WebSocket message, in bytes, over all its frames (128 KB).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// API Gateway's largest `PostToConnection` payload, in bytes (its message payload size, 128 KB).
pub const MAX_POST_BYTES: usize = 128 * 1024;

/// How long a socket's writer may take to send what is queued (a close frame above all) once
/// the connection is over, in case the client stopped reading.
const FLUSH_ON_CLOSE: std::time::Duration = std::time::Duration::from_secs(2);

/// The longest close reason a close frame holds, in bytes (RFC 6455: 125 bytes of payload, 2
/// of them the code).
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// What the gateway asks a socket's writer to do.
#[derive(Debug)]
enum Outbound {
    Text(String),
    Binary(Vec<u8>),
    /// Send this close frame and stop writing.
    Close {
        code: u16,
        reason: String,
    },
}

/// One connection, from the start of its `$connect` to its close.
#[derive(Debug)]
struct Link {
    tx: mpsc::UnboundedSender<Outbound>,
    ctx: ConnectionContext,
    last_active_at: Millis,
    /// False until `$connect` has returned 200: until then API Gateway answers posts and
    /// GetConnection for the id with 410, as for an unknown id.
    open: bool,
}

/// A number of things under way (messages being handled, sockets being served) that shutdown
/// can wait on to reach zero.
#[derive(Debug)]
struct UnderWay(watch::Sender<usize>);

impl UnderWay {
    fn new() -> UnderWay {
        UnderWay(watch::Sender::new(0))
    }

    /// Counts one more until the guard is dropped.
    fn enter(&self) -> Entered<'_> {
        self.0.send_modify(|n| *n += 1);
        Entered(&self.0)
    }

    async fn none(&self) {
        let _ = self.0.subscribe().wait_for(|n| *n == 0).await;
    }
}

struct Entered<'a>(&'a watch::Sender<usize>);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The connections the gateway serves, from the start of each one's `$connect` to its close:
/// what both ways of reaching a socket share, the `@connections` routes (which the SDK client
/// calls) and [`InProcessNotifier`] (which the runtime's own services call).
#[derive(Debug, Default)]
pub struct Links(Mutex<HashMap<String, Link>>);

/// Why a post did not reach a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over API Gateway's 128 KB post limit ([`MAX_POST_BYTES`]): 413 `PayloadTooLargeException`.
    TooLarge,
    /// No open connection by that id (unknown, closed, or still in its handshake): 410
    /// `GoneException`.
    Gone,
}

impl Links {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Link>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `PostToConnection`: `payload` goes to the socket as one frame (text when it is UTF-8).
    pub fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), Refused> {
        if payload.len() > MAX_POST_BYTES {
            return Err(Refused::TooLarge);
        }
        let out = match std::str::from_utf8(payload) {
            Ok(text) => Outbound::Text(text.to_owned()),
            Err(_) => Outbound::Binary(payload.to_vec()),
        };
        if self.send(connection_id, out) {
            Ok(())
        } else {
            Err(Refused::Gone)
        }
    }

    /// `GetConnection`: when the connection was made and last active; `None` unless it is open.
    pub fn info(&self, connection_id: &str) -> Option<(ConnectionContext, Millis)> {
        self.lock()
            .get(connection_id)
            .filter(|link| link.open)
            .map(|link| (link.ctx.clone(), link.last_active_at))
    }

    /// Sends to an open connection; false if there is none (unknown, closed, or still in its
    /// handshake).
    fn send(&self, connection_id: &str, out: Outbound) -> bool {
        self.lock()
            .get(connection_id)
            .is_some_and(|link| link.open && link.tx.send(out).is_ok())
    }

    /// `$connect` returned 200: posts may reach it from now on.
    fn open(&self, connection_id: &str) {
        if let Some(link) = self.lock().get_mut(connection_id) {
            link.open = true;
        }
    }

    fn touch(&self, connection_id: &str, now: Millis) {
        if let Some(link) = self.lock().get_mut(connection_id) {
            link.last_active_at = now;
        }
    }

    /// `DeleteConnection`: forgets a connection and asks its writer to close the socket with
    /// `code` and `reason`; false if unknown.
    pub fn close(&self, connection_id: &str, code: u16, reason: &str) -> bool {
        match self.lock().remove(connection_id) {
            Some(link) => {
                let _ = link.tx.send(close_frame(code, reason));
                true
            }
            None => false,
        }
    }
}

/// The runtime's own way to reach sockets: the [`Notifier`] port answered by [`Links`] in
/// process, with API Gateway's answers (Gone until `$connect` has returned and after the close,
/// the 128 KB post limit) and without an HTTP round trip, request signing and JSON parsing per
/// post. The `@connections` routes answer the same from the same [`Links`], for anything else
/// on this machine that calls them with the SDK client (tested in `tests/connections.rs`).
#[derive(Debug, Clone)]
pub struct InProcessNotifier(Arc<Links>);

impl InProcessNotifier {
    /// A notifier over `links`.
    pub fn new(links: Arc<Links>) -> InProcessNotifier {
        InProcessNotifier(links)
    }
}

#[async_trait::async_trait]
impl Notifier for InProcessNotifier {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PostError> {
        self.0
            .post(connection_id, payload)
            .map_err(|refused| match refused {
                Refused::Gone => PostError::Gone,
                Refused::TooLarge => PostError::Permanent(format!(
                    "PostToConnection: {} bytes is over the {MAX_POST_BYTES}-byte limit",
                    payload.len()
                )),
            })
    }

    async fn connection_info(&self, connection_id: &str) -> Result<ConnectionInfo, PostError> {
        self.0
            .info(connection_id)
            .map(|(ctx, last_active_at)| ConnectionInfo {
                connected_at: ctx.connected_at,
                last_active_at,
            })
            .ok_or(PostError::Gone)
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        self.0.close(connection_id, 1000, CLOSED_BY_SERVER);
        Ok(())
    }
}

/// The gateway's state: the services it calls and the open connections.
#[derive(Debug)]
pub struct Gateway {
    services: Arc<Services>,
    links: Arc<Links>,
    /// Set once at shutdown: no new sockets, and open ones take no more frames.
    draining: watch::Sender<bool>,
    /// Messages whose handler is running.
    handling: UnderWay,
    /// Sockets whose task has not finished (close frame sent, `$disconnect` run).
    sockets: UnderWay,
}

impl Gateway {
    /// A gateway over `services` with no connections.
    pub fn new(services: Arc<Services>) -> Gateway {
        Gateway::with_links(services, Arc::default())
    }

    /// A gateway over `services` serving `links`, which an [`InProcessNotifier`] in `services`
    /// may share.
    pub fn with_links(services: Arc<Services>, links: Arc<Links>) -> Gateway {
        Gateway {
            services,
            links,
            draining: watch::Sender::new(false),
            handling: UnderWay::new(),
            sockets: UnderWay::new(),
        }
    }

    /// The services the gateway calls.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    fn links(&self) -> MutexGuard<'_, HashMap<String, Link>> {
        self.links.lock()
    }

    fn now(&self) -> Millis {
        self.services.clock.now()
    }

    /// `$connect` returned 200: the `@connections` API may reach it from now on.
    fn open(&self, connection_id: &str) {
        self.links.open(connection_id);
    }

    fn touch(&self, connection_id: &str) {
        self.links.touch(connection_id, self.now());
    }

    /// Forgets a connection and asks its writer to close the socket with `code` and `reason`;
    /// false if unknown.
    fn close(&self, connection_id: &str, code: u16, reason: &str) -> bool {
        self.links.close(connection_id, code, reason)
    }

    /// Starts the shutdown: new WebSocket connections are refused with 503, and open sockets
    /// take no more frames (a change they asked for could miss the final write), while
    /// replies and notifications still reach them until [`close_all`](Self::close_all).
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Returns once no message is being handled; after [`drain`](Self::drain), none starts.
    pub async fn idle(&self) {
        self.handling.none().await;
    }

    /// Closes every socket with 1001 ("going away") and a reason (shutdown).
    pub(crate) fn close_all(&self) {
        for (_, link) in self.links().drain() {
            let _ = link.tx.send(close_frame(1001, GOING_AWAY));
        }
    }

    /// Returns once every socket's task has finished: its close frame is sent (or the client
    /// is gone) and its `$disconnect` has run.
    pub(crate) async fn all_closed(&self) {
        self.sockets.none().await;
    }
}

const CLOSED_BY_SERVER: &str = "closed by the server";

/// The close reason at shutdown: the client should come back, not give up.
pub const GOING_AWAY: &str = "the server is shutting down; connect again shortly";

/// Whether the request of `peer` with `headers` may use the `@connections` API.
///
/// That API lets its caller write to and close any player's socket, so only this machine may
/// call it, as only the account's IAM principals may on API Gateway. A loopback peer that
/// forwards someone else's request (a reverse proxy on this machine, which adds `Forwarded`,
/// `X-Forwarded-For` or `X-Real-IP`) is refused too.
fn may_manage_connections(peer: IpAddr, headers: &HeaderMap) -> bool {
    peer.to_canonical().is_loopback()
        && !["forwarded", "x-forwarded-for", "x-real-ip"]
            .iter()
            .any(|name| headers.contains_key(*name))
}

fn close_frame(code: u16, reason: &str) -> Outbound {
    let mut end = reason.len().min(MAX_CLOSE_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Outbound::Close {
        code,
        reason: reason[..end].to_owned(),
    }
}

/// The close code and reason that answer a frame the gateway refuses, or `None` when the
/// connection is lost rather than refused (nothing can reach the client any more).
///
/// Oversized frames and messages get API Gateway's 1009; invalid UTF-8 and protocol violations
/// get RFC 6455's 1007 and 1002.
fn refusal(error: &tungstenite::Error) -> Option<(u16, String)> {
    use tungstenite::error::{CapacityError, ProtocolError};
    match error {
        tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            let what = if *max_size == MAX_FRAME_BYTES {
                "frame"
            } else {
                "message"
            };
            Some((
                1009,
                format!("{what} of {size} bytes is over the limit of {max_size} bytes"),
            ))
        }
        tungstenite::Error::Capacity(other) => Some((1009, other.to_string())),
        tungstenite::Error::Utf8(_) => Some((1007, "a text frame that is not UTF-8".to_owned())),
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        tungstenite::Error::Protocol(violation) => Some((1002, violation.to_string())),
        _ => None,
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
                .delete(delete_connection)
                .route_layer(middleware::from_fn(connections_guard)),
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
    if gw.is_draining() {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; connect again shortly",
        );
    }
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
    // Known before `$connect` runs, so a DeleteConnection during it still closes the socket
    // once upgraded; but not open: posts and GetConnection are Gone until it returns, as on
    // API Gateway, where the services see the stored connection before the client can be
    // reached.
    let (tx, rx) = mpsc::unbounded_channel();
    gw.links().insert(
        ctx.connection_id.clone(),
        Link {
            tx,
            ctx: ctx.clone(),
            last_active_at: now,
            open: false,
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
    // `$connect` returned 200: the connection is API Gateway's to reach from now on, even
    // before the upgraded socket runs (what is posted meanwhile waits in the channel). A
    // client that has its handshake can be sent to at once.
    gw.open(&ctx.connection_id);
    tracing::info!(connection_id = %ctx.connection_id, "connected");
    let failed = (gw.clone(), ctx.clone());
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
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
    let _serving = gw.sockets.enter();
    let (mut sink, mut stream) = socket.split();
    // Ends with the close frame it sent, if any.
    let mut writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let frame = match out {
                Outbound::Text(text) => Message::Text(text.into()),
                Outbound::Binary(bytes) => Message::Binary(bytes.into()),
                Outbound::Close { code, reason } => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.clone().into(),
                        })))
                        .await;
                    return Some((code, reason));
                }
            };
            if sink.send(frame).await.is_err() {
                break;
            }
        }
        None
    });
    let mut draining = gw.draining.subscribe();
    let mut writer_done = false;
    let mut close = (1006u16, String::from("Connection closed abnormally"));
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            // The writer stops after a server-side close (DeleteConnection, shutdown) or a
            // failed write: the connection is over without waiting for the client's answer,
            // as API Gateway's $disconnect follows a DeleteConnection at once.
            sent = &mut writer => {
                writer_done = true;
                close = sent
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| (1000, CLOSED_BY_SERVER.to_owned()));
                break;
            }
            // Shutting down: read no more frames, but keep the socket for what is still
            // posted to it until the shutdown closes it (after the final write).
            _ = async { let _ = draining.wait_for(|d| *d).await; } => {
                writer_done = true;
                close = (&mut writer)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| (1001, GOING_AWAY.to_owned()));
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
                // A refused frame is answered with a close frame that says why; dropping the
                // socket instead leaves the client with 1006 and no reason.
                let refused = std::error::Error::source(&error)
                    .and_then(|e| e.downcast_ref::<tungstenite::Error>())
                    .and_then(refusal);
                match refused {
                    Some((code, reason)) => {
                        tracing::info!(connection_id = %ctx.connection_id, code, %reason, "frame refused; closing");
                        gw.close(&ctx.connection_id, code, &reason);
                        close = (code, reason);
                    }
                    None => {
                        tracing::debug!(connection_id = %ctx.connection_id, %error, "socket error")
                    }
                }
                break;
            }
        };
        // Counted before the check, so a shutdown that saw no message under way sees this
        // frame dropped: `drain` is set before `idle` reads the count.
        let _handling = gw.handling.enter();
        if gw.is_draining() {
            continue;
        }
        gw.touch(&ctx.connection_id);
        let event = events::message_event(&ctx, body, is_base64, gw.now());
        // One frame at a time per connection, so a client's messages are handled in order.
        handlers::ws_message(&gw.services, event).await;
    }
    // Forgetting the link drops the writer's sender: it ends once what is queued is written.
    gw.links().remove(&ctx.connection_id);
    if !writer_done
        && tokio::time::timeout(FLUSH_ON_CLOSE, &mut writer)
            .await
            .is_err()
    {
        writer.abort();
    }
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

/// `POST /@connections/{id}`: the body goes to the socket as one frame (text when it is UTF-8);
/// 410 unless the connection is open.
async fn post_to_connection(
    State(gw): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match gw.links.post(&id, &body) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(Refused::Gone) => gone(),
        Err(Refused::TooLarge) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            [(
                HeaderName::from_static("x-amzn-errortype"),
                "PayloadTooLargeException",
            )],
            r#"{"message":"Message too long"}"#,
        )
            .into_response(),
    }
}

/// 403 for a caller that may not use the `@connections` API, shaped as API Gateway's refusals.
/// Every `@connections` call passes [`may_manage_connections`] first: one guard for the three
/// routes rather than a check in each handler.
async fn connections_guard(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if !may_manage_connections(peer.ip(), request.headers()) {
        return forbidden();
    }
    next.run(request).await
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [
            (
                HeaderName::from_static("x-amzn-errortype"),
                "ForbiddenException",
            ),
            (header::CONTENT_TYPE, "application/json"),
        ],
        r#"{"message":"the @connections API answers only callers on this machine"}"#,
    )
        .into_response()
}

fn rfc3339(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// `GET /@connections/{id}`: API Gateway's `GetConnection` reply; 410 unless the connection is
/// open.
async fn get_connection(State(gw): State<Shared>, Path(id): Path<String>) -> Response {
    let Some((ctx, last_active_at)) = gw.links.info(&id) else {
        return gone();
    };
    let body = json!({
        "connectedAt": rfc3339(ctx.connected_at),
        "identity": {"sourceIp": ctx.source_ip, "userAgent": ctx.user_agent},
        "lastActiveAt": rfc3339(last_active_at),
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `DELETE /@connections/{id}`: closes the socket (`$disconnect` follows when it is closed).
async fn delete_connection(State(gw): State<Shared>, Path(id): Path<String>) -> Response {
    if gw.close(&id, 1000, CLOSED_BY_SERVER) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::error::{CapacityError, ProtocolError};

    fn too_long(size: usize, max_size: usize) -> tungstenite::Error {
        tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, max_size })
    }

    #[test]
    fn oversized_frames_and_messages_are_refused_with_1009_naming_which_limit() {
        let (code, reason) = refusal(&too_long(33 * 1024, MAX_FRAME_BYTES)).unwrap();
        assert_eq!(code, 1009);
        assert_eq!(
            reason,
            "frame of 33792 bytes is over the limit of 32768 bytes"
        );
        let (code, reason) = refusal(&too_long(150_000, MAX_MESSAGE_BYTES)).unwrap();
        assert_eq!(code, 1009);
        assert!(reason.starts_with("message of 150000 bytes"), "{reason}");
    }

    #[test]
    fn bad_text_and_protocol_violations_are_refused_and_a_lost_connection_is_not() {
        let utf8 = tungstenite::Error::Utf8("invalid".into());
        assert_eq!(refusal(&utf8).map(|r| r.0), Some(1007));
        let masked = tungstenite::Error::Protocol(ProtocolError::UnmaskedFrameFromClient);
        assert_eq!(refusal(&masked).map(|r| r.0), Some(1002));
        let reset = tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake);
        assert_eq!(refusal(&reset), None);
        let io = tungstenite::Error::Io(std::io::ErrorKind::ConnectionReset.into());
        assert_eq!(refusal(&io), None);
    }

    #[test]
    fn only_a_loopback_peer_that_forwards_nobody_may_use_the_connections_api() {
        let none = HeaderMap::new();
        for local in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(
                may_manage_connections(local.parse().unwrap(), &none),
                "{local}"
            );
        }
        for remote in [
            "192.168.1.20",
            "10.0.0.1",
            "0.0.0.0",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(
                !may_manage_connections(remote.parse().unwrap(), &none),
                "{remote}"
            );
        }
        for forwarded in ["forwarded", "x-forwarded-for", "x-real-ip"] {
            let mut headers = HeaderMap::new();
            headers.insert(
                HeaderName::from_static(forwarded),
                "203.0.113.7".parse().unwrap(),
            );
            assert!(
                !may_manage_connections("127.0.0.1".parse().unwrap(), &headers),
                "{forwarded}"
            );
        }
    }

    #[test]
    fn a_close_reason_is_cut_to_what_a_close_frame_holds_on_a_character_boundary() {
        let Outbound::Close { code, reason } = close_frame(1009, &"é".repeat(100)) else {
            panic!("not a close");
        };
        assert_eq!(code, 1009);
        assert_eq!(reason.len(), 122, "61 two-byte characters fit in 123 bytes");
        assert!(reason.chars().all(|c| c == 'é'));
    }
}
