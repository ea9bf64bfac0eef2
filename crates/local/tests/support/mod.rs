//! What the local runtime's integration tests share: a game client's WebSocket, sending and
//! reading its JSON messages within a time limit, and connecting a player to a runtime started
//! in-process.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use idle_local::Running;
use idle_testing::tokens::dev_token;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A game client's connection to the runtime's gateway.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for any one message.
pub const MESSAGE_WAIT: Duration = Duration::from_secs(30);

/// Opens a socket to `running` as `player_id`, with a dev token valid for `ttl` from the
/// runtime clock's now.
pub async fn connect(running: &Running, player_id: &str, ttl: Duration) -> Socket {
    let token = dev_token(player_id, ttl, running.services().clock.now());
    let (socket, _) =
        tokio_tungstenite::connect_async(format!("{}?token={token}", running.ws_url()))
            .await
            .expect("the upgrade is accepted");
    socket
}

/// Sends `message` as one text frame.
pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("send");
}

/// The next JSON message, waiting at most [`MESSAGE_WAIT`]; other frames are skipped.
pub async fn next(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(MESSAGE_WAIT, socket.next())
            .await
            .expect("no message in time")
            .expect("the socket closed")
            .expect("socket error");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("a JSON message");
        }
    }
}

/// Reads messages until one satisfies `done`, which it returns.
pub async fn until(socket: &mut Socket, done: impl Fn(&Value) -> bool) -> Value {
    loop {
        let message = next(socket).await;
        if done(&message) {
            return message;
        }
    }
}
