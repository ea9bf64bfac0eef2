//! End to end: the built `idle-local` binary on a free loopback port, driven by a real WebSocket
//! client as a game client would drive API Gateway. Every wait is for an event, with a generous
//! limit; nothing asserts on timing.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_testing::tokens::dev_token;
use serde_json::{json, Value};
use support::{next, send, Socket};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::{self, Message};

/// Longest wait for any one event.
const WAIT: Duration = Duration::from_secs(20);

/// A running `idle-local`, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(data_dir: Option<&Path>) -> Server {
        Server::start_with(data_dir, &[], &[])
    }

    /// Starts with the dev secrets unless `env` sets them, and `args` after the usual ones.
    fn start_with(data_dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_idle-local"));
        command
            // The ticker only sweeps at the start: tasks complete by the precise timer.
            .args(["--listen", "127.0.0.1:0", "--tick-ms", "3600000"])
            .args(args)
            .env_remove("TOKEN_SECRET")
            .env_remove("SEED_SECRET")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(dir) = data_dir {
            command.arg("--data-dir").arg(dir);
        }
        let mut child = command.spawn().expect("start idle-local");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("idle-local exited before printing its address")
                .expect("read stdout");
            if let Some(url) = line.trim().strip_prefix("listening on") {
                break url.trim().trim_start_matches("http://").to_owned();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, addr }
    }

    async fn connect(&self, player_id: &str) -> Socket {
        let (socket, _) = tokio_tungstenite::connect_async(self.url(&token(player_id)))
            .await
            .expect("connect");
        socket
    }

    fn url(&self, token: &str) -> String {
        format!("ws://{}/ws?token={token}", self.addr)
    }

    /// Sends `signal` (`TERM`, `INT`) to the process, as a service manager or a terminal does.
    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// How the process ended, waiting at most [`WAIT`].
    async fn exit_status(&mut self) -> ExitStatus {
        exited(&mut self.child).await
    }
}

/// How `child` ended, waiting at most [`WAIT`] (then it is killed and the test fails).
async fn exited(child: &mut Child) -> ExitStatus {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait for idle-local") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("idle-local did not exit in time");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `idle-local` with `args` and the given environment (dev secrets unless set) until it
/// exits (at most [`WAIT`]); returns its status and stderr.
async fn run_to_exit(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idle-local"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("TOKEN_SECRET")
        .env_remove("SEED_SECRET")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start idle-local");
    let status = exited(&mut child).await;
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    (status, stderr)
}

/// `GET path` with extra `headers`; the status and body.
fn http_get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (status, body)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn token(player_id: &str) -> String {
    dev_token(player_id, Duration::from_secs(3600), now_ms())
}

/// Reads messages until one satisfies `done`; returns all of them, that one last.
async fn until(socket: &mut Socket, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let message = next(socket).await;
        let stop = done(&message);
        seen.push(message);
        if stop {
            return seen;
        }
    }
}

/// The durable notification types (DESIGN.md section 6): numbered by `seq`, delivered in order.
const DURABLE: [&str; 5] = [
    "queue_updated",
    "task_started",
    "task_completed",
    "task_failed",
    "task_cancelled",
];

/// A durable notification, told by its type: the `sync` reply (`snapshot`) carries a `seq`
/// too, and `task_progress` is ephemeral.
fn is_notification(m: &Value) -> bool {
    m["type"].as_str().is_some_and(|t| DURABLE.contains(&t))
}

/// The seqs of the durable notifications among `messages`, in arrival order.
fn seqs_of(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .filter(|m| is_notification(m))
        .map(|m| m["seq"].as_u64().expect("a durable notification has a seq"))
        .collect()
}

/// True when `seqs` is exactly `1..=n` in order: every seq once, none out of order.
fn exactly_in_order(seqs: &[u64], n: u64) -> bool {
    seqs.iter().copied().eq(1..=n)
}

fn is(message: &Value, kind: &str, task_id: &str) -> bool {
    message["type"] == kind && message["task_id"] == task_id
}

/// `sync`, answered by the snapshot first.
async fn snapshot(socket: &mut Socket) -> Value {
    send(socket, json!({"action": "sync"})).await;
    let messages = until(socket, |m| m["type"] == "snapshot").await;
    messages.last().unwrap()["player"].clone()
}

fn units(player: &Value, item: &str) -> u64 {
    player["inventory"][item].as_u64().unwrap_or(0)
}

/// Runs one task to completion and checks the notifications and the player after it.
struct Session {
    socket: Socket,
    last_seq: u64,
    requests: u32,
}

impl Session {
    /// Enqueues `task`; returns the `task_completed` notification after checking that
    /// `task_started`, `task_progress` (when `progress`) and `task_completed` came in that
    /// order and that every notification's seq rose.
    async fn run(&mut self, task: Value, progress: bool) -> Value {
        self.requests += 1;
        let request_id = format!("req-{}", self.requests);
        send(
            &mut self.socket,
            json!({"action": "enqueue", "request_id": request_id, "task": task}),
        )
        .await;
        let acked = until(&mut self.socket, |m| {
            m["type"] == "ack" || m["type"] == "error"
        })
        .await;
        let ack = acked.last().unwrap().clone();
        assert_eq!(ack["type"], "ack", "enqueue {task} refused: {ack}");
        assert_eq!(ack["request_id"], request_id.as_str());
        let task_id = ack["task_id"].as_str().unwrap().to_owned();
        let mut messages = acked;
        messages.extend(until(&mut self.socket, |m| is(m, "task_completed", &task_id)).await);
        // The next request goes out at once: its plan's notifications must still come after
        // this completion's on the wire (the Session's seq check spans its requests).
        for m in messages.iter().filter(|m| is_notification(m)) {
            let seq = m["seq"].as_u64().unwrap();
            assert!(
                seq > self.last_seq,
                "seq {seq} after {}: {m}",
                self.last_seq
            );
            self.last_seq = seq;
        }
        let position = |kind: &str| {
            messages
                .iter()
                .position(|m| is(m, kind, &task_id))
                .unwrap_or_else(|| panic!("no {kind} for {task_id} in {messages:?}"))
        };
        let started = position("task_started");
        let completed = position("task_completed");
        assert!(started < completed);
        // Completed by the timer at its end, never before.
        assert!(
            messages[completed]["at"].as_i64() >= messages[started]["ends_at"].as_i64(),
            "completed before its end: {} then {}",
            messages[started],
            messages[completed]
        );
        if progress {
            let progressed = position("task_progress");
            assert!(started < progressed && progressed < completed);
            let p = &messages[progressed];
            assert!(p["done"].as_u64().unwrap() < p["total"].as_u64().unwrap());
        }
        assert!(messages.iter().all(|m| m["type"] != "task_failed"));
        messages[completed].clone()
    }
}

/// The player after a task equals the player before it plus the task's outcome.
fn assert_outcome_applied(before: &Value, after: &Value, done: &Value, skill: &str) {
    let outcome = &done["outcome"];
    let xp = outcome["xp"].as_u64().unwrap();
    assert_eq!(
        after["skills"][skill]["xp"].as_u64().unwrap(),
        before["skills"][skill]["xp"].as_u64().unwrap() + xp,
        "{skill} xp"
    );
    assert_eq!(
        after["character"]["xp"].as_u64().unwrap(),
        before["character"]["xp"].as_u64().unwrap() + xp,
        "character xp"
    );
    let items: BTreeMap<String, u64> =
        serde_json::from_value(outcome["items"].clone()).unwrap_or_default();
    for (item, n) in &items {
        assert!(
            units(after, item) >= units(before, item) + n,
            "{item}: {} before, {n} won, {} after",
            units(before, item),
            units(after, item)
        );
    }
    if let Some(wear) = outcome["wear"].as_object() {
        for (slot, lost) in wear {
            let before_d = before["equipment"][slot]["durability"].as_u64().unwrap();
            let after_d = after["equipment"][slot]["durability"].as_u64().unwrap_or(0);
            assert_eq!(
                after_d,
                before_d.saturating_sub(lost.as_u64().unwrap()),
                "{slot}"
            );
        }
    }
}

#[tokio::test]
async fn a_task_of_each_activity_runs_to_completion_and_sync_shows_its_results() {
    let server = Server::start(None);
    let socket = server.connect("e2e-activities").await;
    let mut session = Session {
        socket,
        last_seq: 0,
        requests: 0,
    };
    let start = snapshot(&mut session.socket).await;
    assert!(
        start["equipment"].as_object().unwrap().len() >= 4,
        "starter kit: {start}"
    );

    // Harvest guam leaves until there are enough for two tonics.
    let mut before = start;
    for _ in 0..4 {
        let done = session
            .run(
                json!({"activity": "harvest", "resource": "guam_leaf", "location": "meadow", "quantity": 2}),
                true,
            )
            .await;
        let after = snapshot(&mut session.socket).await;
        assert_outcome_applied(&before, &after, &done, "harvesting");
        let won = done["outcome"]["items"]["guam_leaf"].as_u64().unwrap();
        assert!(won >= 2, "at least one leaf per action: {done}");
        assert_eq!(
            units(&after, "guam_leaf"),
            units(&before, "guam_leaf") + won
        );
        before = after;
        if units(&before, "guam_leaf") >= 4 {
            break;
        }
    }
    assert!(units(&before, "guam_leaf") >= 4);

    // Craft two healing tonics at the starter campfire.
    let done = session
        .run(
            json!({"activity": "craft", "recipe": "healing_tonic", "quantity": 2}),
            true,
        )
        .await;
    let after = snapshot(&mut session.socket).await;
    assert_outcome_applied(&before, &after, &done, "crafting");
    let made = done["outcome"]["items"]["healing_tonic"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(units(&after, "healing_tonic"), made);
    let preserved = done["outcome"]["preserved"]["guam_leaf"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        units(&after, "guam_leaf"),
        units(&before, "guam_leaf") - 4 + preserved
    );
    before = after;

    // Fight two chickens with the starter sword.
    let done = session
        .run(
            json!({"activity": "combat", "enemy": "chicken", "quantity": 2}),
            true,
        )
        .await;
    let after = snapshot(&mut session.socket).await;
    assert_outcome_applied(&before, &after, &done, "combat");
    assert_eq!(done["outcome"]["actions"], 2);
}

#[tokio::test]
async fn notifications_sent_while_offline_arrive_in_order_on_sync() {
    let server = Server::start(None);
    let mut socket = server.connect("e2e-offline").await;
    send(
        &mut socket,
        json!({"action": "enqueue", "request_id": "r1",
               "task": {"activity": "combat", "enemy": "chicken", "quantity": 2}}),
    )
    .await;
    let seen = until(&mut socket, |m| m["type"] == "task_started").await;
    let started = seen.last().unwrap().clone();
    let task_id = started["task_id"].as_str().unwrap().to_owned();
    let last_seq = seen
        .iter()
        .filter(|m| is_notification(m))
        .filter_map(|m| m["seq"].as_u64())
        .max()
        .unwrap();
    let ends_at = started["ends_at"].as_i64().unwrap();

    // Leave mid-task, and come back once the task has had ample time to end.
    socket.close(None).await.unwrap();
    drop(socket);
    let wait = (ends_at - now_ms()).max(0) as u64 + 3000;
    tokio::time::sleep(Duration::from_millis(wait)).await;

    let mut socket = server.connect("e2e-offline").await;
    send(
        &mut socket,
        json!({"action": "sync", "after_seq": last_seq}),
    )
    .await;
    let first = next(&mut socket).await;
    assert_eq!(
        first["type"], "snapshot",
        "sync answers with the snapshot first"
    );
    assert!(first["queue"].as_array().unwrap().is_empty(), "{first}");
    assert_eq!(first["protocol"], 2);
    let mut stored = until(&mut socket, |m| is(m, "task_completed", &task_id)).await;
    // The rest of the inbox (the queue_updated that closes the completion), up to a pong.
    send(&mut socket, json!({"action": "ping"})).await;
    stored.extend(until(&mut socket, |m| m["type"] == "pong").await);
    stored.pop();
    let seqs: Vec<u64> = stored.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(seqs[0] > last_seq, "{seqs:?} after {last_seq}");
    assert!(seqs.windows(2).all(|w| w[0] + 1 == w[1]), "{seqs:?}");
    assert_eq!(
        first["seq"],
        *seqs.last().unwrap(),
        "the snapshot's seq is the last issued"
    );
    // A notification posted live after task_started but not read before the close is not
    // kept (it reached a connection): then, and only then, the snapshot says `truncated`.
    assert_eq!(
        first["truncated"],
        seqs[0] != last_seq + 1,
        "{seqs:?} after {last_seq}"
    );
    assert!(
        !stored.iter().any(|m| m["type"] == "task_progress"),
        "progress is ephemeral: never kept"
    );

    // A sync from the last seq seen is the snapshot alone (nothing was deleted: another
    // device syncing from an older seq would still get them).
    let seen = seqs.last().unwrap();
    send(&mut socket, json!({"action": "sync", "after_seq": seen})).await;
    send(&mut socket, json!({"action": "ping"})).await;
    let again = until(&mut socket, |m| m["type"] == "pong").await;
    let kinds: Vec<&Value> = again.iter().map(|m| &m["type"]).collect();
    assert_eq!(kinds, ["snapshot", "pong"]);
}

#[tokio::test]
async fn bad_missing_and_expired_tokens_are_refused_on_the_upgrade() {
    let server = Server::start(None);
    let status = |result: Result<_, tungstenite::Error>| match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the upgrade was accepted"),
    };
    let url = format!("ws://{}/ws", server.addr);
    assert_eq!(status(tokio_tungstenite::connect_async(url).await), 401);
    assert_eq!(
        status(tokio_tungstenite::connect_async(server.url("not-a-jwt")).await),
        403
    );
    let expired = mint(
        DEV_TOKEN_SECRET.as_bytes(),
        "e2e-expired",
        Duration::from_secs(60),
        false,
        now_ms() - 3_600_000,
    )
    .unwrap();
    assert_eq!(
        status(tokio_tungstenite::connect_async(server.url(&expired)).await),
        403
    );
    // A good token still works, and garbage frames get an error reply, not a closed socket.
    let mut socket = server.connect("e2e-token").await;
    send(&mut socket, json!({"action": "launch"})).await;
    assert_eq!(next(&mut socket).await["code"], "unknown_action");
    socket
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    assert_eq!(next(&mut socket).await["code"], "invalid_request");
    socket
        .send(Message::Binary(vec![0, 1, 2].into()))
        .await
        .unwrap();
    assert_eq!(next(&mut socket).await["code"], "invalid_request");
    send(&mut socket, json!({"action": "ping"})).await;
    assert_eq!(next(&mut socket).await["type"], "pong");
}

/// Sends `text` as one message in frames of at most `frame_bytes` bytes.
async fn send_in_frames(socket: &mut Socket, text: &str, frame_bytes: usize) {
    let chunks: Vec<&[u8]> = text.as_bytes().chunks(frame_bytes).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let opcode = if i == 0 { Data::Text } else { Data::Continue };
        let last = i + 1 == chunks.len();
        let frame = Frame::message(chunk.to_vec(), OpCode::Data(opcode), last);
        socket
            .send(Message::Frame(frame))
            .await
            .expect("send a frame");
    }
}

/// The server's close frame (code, reason), reading past any other message first.
async fn close_frame(socket: &mut Socket) -> (u16, String) {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("no close frame in time");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => {
                return (close.code.into(), close.reason.to_string())
            }
            Some(Ok(Message::Close(None))) => panic!("a close frame without a code"),
            Some(Ok(_)) => continue,
            Some(Err(error)) => panic!("the socket failed without a close frame: {error}"),
            None => panic!("the socket ended without a close frame"),
        }
    }
}

/// The message is past the gateway: the handler answered it (too large for the protocol's own
/// limit) and the socket still works.
async fn assert_answered(socket: &mut Socket) {
    let reply = next(socket).await;
    assert_eq!(reply["code"], "message_too_large", "{reply}");
    send(socket, json!({"action": "ping"})).await;
    let pong = next(socket).await;
    assert_eq!(pong["type"], "pong", "{pong}");
}

// API Gateway's WebSocket quotas: frames up to 32 KB, messages up to 128 KB; beyond, the
// connection is closed with 1009.

#[tokio::test]
async fn a_frame_over_32_kb_is_refused_with_1009_and_a_frame_under_it_is_answered() {
    let server = Server::start(None);

    // Given a connected player, when they send a frame just under 32 KB, then it is handled
    let mut socket = server.connect("e2e-frame-size").await;
    socket
        .send(Message::Text("x".repeat(32_000).into()))
        .await
        .unwrap();
    assert_answered(&mut socket).await;

    // When they send a 33 KB frame, then the gateway closes the socket with 1009 and a reason
    socket
        .send(Message::Text("x".repeat(33 * 1024).into()))
        .await
        .unwrap();
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("frame"), "{reason}");
}

#[tokio::test]
async fn a_message_over_128_kb_in_small_frames_is_refused_with_1009_and_one_under_is_answered() {
    let server = Server::start(None);

    // Given a connected player, when they send 120,000 bytes in frames of 30,000, then the
    // message is handled
    let mut socket = server.connect("e2e-message-size").await;
    send_in_frames(&mut socket, &"x".repeat(120_000), 30_000).await;
    assert_answered(&mut socket).await;

    // When they send 150,000 bytes in frames of 30,000, then the gateway closes with 1009
    send_in_frames(&mut socket, &"x".repeat(150_000), 30_000).await;
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("message"), "{reason}");
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_is_refused_with_1007() {
    let server = Server::start(None);
    let mut socket = server.connect("e2e-not-utf8").await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    socket.send(Message::Frame(frame)).await.unwrap();
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, 1007, "{reason}");
    assert!(!reason.is_empty());
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("idle-local-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn a_restart_with_a_data_dir_keeps_the_player_and_its_inventory() {
    let dir = temp_dir("restart");
    let player = {
        let server = Server::start(Some(&dir));
        let mut socket = server.connect("e2e-restart").await;
        send(
            &mut socket,
            json!({"action": "enqueue", "request_id": "r1",
                   "task": {"activity": "harvest", "resource": "guam_leaf", "location": "meadow", "quantity": 1}}),
        )
        .await;
        until(&mut socket, |m| m["type"] == "task_completed").await;
        let player = snapshot(&mut socket).await;
        assert!(units(&player, "guam_leaf") > 0);
        // Kill the process at once (no clean stop): what it reported is committed already.
        player
    };
    let server = Server::start(Some(&dir));
    let mut socket = server.connect("e2e-restart").await;
    let restored = snapshot(&mut socket).await;
    assert_eq!(restored["inventory"], player["inventory"]);
    assert_eq!(restored["skills"], player["skills"]);
    assert_eq!(restored["equipment"], player["equipment"]);
    // The request id is remembered too: the same enqueue is a duplicate, not a second task.
    send(
        &mut socket,
        json!({"action": "enqueue", "request_id": "r1",
               "task": {"activity": "harvest", "resource": "guam_leaf", "location": "meadow", "quantity": 1}}),
    )
    .await;
    let ack = until(&mut socket, |m| m["type"] == "ack" || m["type"] == "error").await;
    assert_eq!(ack.last().unwrap()["duplicate"], true, "{ack:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_bad_old_data_file_stops_the_start_with_a_clear_error() {
    // Given a data directory with an old JSON data file that cannot be read
    let dir = temp_dir("bad-file");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("store.json"), "{ this is not json").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_idle-local"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("store.json") && stderr.contains("cannot be loaded"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("store.json")).unwrap(),
        "{ this is not json",
        "left untouched"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_token_subcommand_prints_a_token_the_dev_secret_verifies() {
    let output = Command::new(env!("CARGO_BIN_EXE_idle-local"))
        .args(["token", "alice", "--admin", "--ttl-secs", "120"])
        .env_remove("TOKEN_SECRET")
        .output()
        .unwrap();
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout).unwrap();
    let identity =
        idle_app::auth::verify(DEV_TOKEN_SECRET.as_bytes(), token.trim(), now_ms()).unwrap();
    assert_eq!(identity.player_id, "alice");
    assert!(identity.is_admin);
    let bad = Command::new(env!("CARGO_BIN_EXE_idle-local"))
        .args(["token", "not a player"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("player id"));
}

// Operable: one writer per data directory, graceful stops, and an explicit flag beyond loopback.

#[tokio::test]
async fn a_second_process_on_the_same_data_dir_is_refused_naming_the_lock_file() {
    // Given idle-local running on a data directory
    let dir = temp_dir("locked");
    let first = Server::start(Some(&dir));

    // When a second one starts on the same directory
    let (status, stderr) = run_to_exit(&["--data-dir".as_ref(), dir.as_os_str()], &[]).await;

    // Then it exits non-zero naming the lock file and the holder
    assert!(!status.success(), "{stderr}");
    let lock = dir.join("idle-local.lock");
    assert!(stderr.contains(&lock.display().to_string()), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.child.id())),
        "{stderr}"
    );
    // and the database stays readable to others meanwhile (WAL lets readers in)
    let mut socket = first.connect("e2e-lock").await;
    snapshot(&mut socket).await;
    let reader = idle_sqlite::SqliteStore::open(dir.join(idle_sqlite::DATABASE_FILE)).unwrap();
    {
        use idle_app::ports::GameStore;
        let loaded = reader.load_players(&["e2e-lock".to_owned()]).await.unwrap();
        assert_eq!(loaded.players.len(), 1, "a reader sees the player");
    }
    drop(reader);

    // When the first is killed (no clean stop), then a new one starts on the directory
    drop(first);
    let again = Server::start(Some(&dir));
    let mut socket = again.connect("e2e-lock").await;
    assert_eq!(snapshot(&mut socket).await["player_id"], "e2e-lock");
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

fn harvest(request_id: &str) -> Value {
    json!({"action": "enqueue", "request_id": request_id,
           "task": {"activity": "harvest", "resource": "guam_leaf", "location": "meadow", "quantity": 1}})
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_exits_0_and_keeps_what_was_acknowledged() {
    // Given a player whose enqueue was just acknowledged
    let dir = temp_dir("sigterm");
    let mut server = Server::start(Some(&dir));
    let mut socket = server.connect("e2e-sigterm").await;
    send(&mut socket, harvest("r1")).await;
    let ack = until(&mut socket, |m| m["type"] == "ack" || m["type"] == "error").await;
    assert_eq!(ack.last().unwrap()["type"], "ack", "{ack:?}");

    // When the process gets SIGTERM at once
    server.signal("TERM");

    // Then the socket is closed with 1001 and a reason, and the process exits 0
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, 1001, "{reason}");
    assert!(reason.contains("shutting down"), "{reason}");
    let status = server.exit_status().await;
    assert!(status.success(), "{status}");

    // and after a restart the player is there and the enqueue is remembered
    let server = Server::start(Some(&dir));
    let mut socket = server.connect("e2e-sigterm").await;
    send(&mut socket, harvest("r1")).await;
    let ack = until(&mut socket, |m| m["type"] == "ack" || m["type"] == "error").await;
    assert_eq!(ack.last().unwrap()["duplicate"], true, "{ack:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sigint_stops_as_gracefully_as_sigterm() {
    let mut server = Server::start(None);
    let mut socket = server.connect("e2e-sigint").await;
    assert_eq!(snapshot(&mut socket).await["player_id"], "e2e-sigint");
    server.signal("INT");
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, 1001, "{reason}");
    let status = server.exit_status().await;
    assert!(status.success(), "{status}");
}

const OWN_TOKEN_SECRET: &str = "e2e-own-token-secret-e2e-own-token-secret-0123";
const OWN_SEED_SECRET: &str = "e2e-own-seed-secret-e2e-own-seed-secret-012345";

#[tokio::test]
async fn a_public_start_with_a_dev_secret_is_refused_naming_the_variables() {
    let (status, stderr) = run_to_exit(&["--public".as_ref()], &[]).await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("TOKEN_SECRET") && stderr.contains("SEED_SECRET"),
        "{stderr}"
    );
    let (status, stderr) = run_to_exit(
        &["--public".as_ref()],
        &[("TOKEN_SECRET", OWN_TOKEN_SECRET)],
    )
    .await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("set SEED_SECRET") && !stderr.contains("TOKEN_SECRET"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_public_runtime_hands_out_no_dev_tokens_and_no_forwarded_connections_calls() {
    // Given a runtime with dev tokens, as the README's first command runs it
    let local = Server::start(None);
    let (status, body) = http_get(&local.addr, "/dev/token?player_id=e2e-dev", &[]);
    assert_eq!(status, 200, "{body}");
    drop(local);

    // When it runs with --public and its own secrets
    let server = Server::start_with(
        None,
        &["--public"],
        &[
            ("TOKEN_SECRET", OWN_TOKEN_SECRET),
            ("SEED_SECRET", OWN_SEED_SECRET),
        ],
    );

    // Then /dev/token is refused with a JSON reason
    let (status, body) = http_get(&server.addr, "/dev/token?player_id=e2e-dev", &[]);
    assert_eq!(status, 403, "{body}");
    let error: Value = serde_json::from_str(&body).expect("a JSON body");
    assert!(
        error["error"].as_str().unwrap().contains("--public"),
        "{body}"
    );
    // and the @connections API answers this machine (Gone: no such connection), but not a
    // request a reverse proxy forwarded for someone else
    let (status, body) = http_get(&server.addr, "/@connections/nobody", &[]);
    assert_eq!(status, 410, "{body}");
    let (status, body) = http_get(
        &server.addr,
        "/@connections/nobody",
        &[("X-Forwarded-For", "203.0.113.7")],
    );
    assert_eq!(status, 403, "{body}");
}

// Delivery order (DESIGN.md section 12): a player's durable notifications reach every one of
// its connections in `seq` order, each once, however requests and completions interleave.

/// An enqueue of a one-action harvest (the shortest task) with this request id.
fn short_task(request_id: &str) -> Value {
    harvest(request_id)
}

/// Reads into `messages` until the reply (an `ack` or an `error`) to each of `request_ids` has
/// arrived, in whatever order; returns them in the order of `request_ids`.
async fn replies(
    socket: &mut Socket,
    messages: &mut Vec<Value>,
    request_ids: &[&str],
) -> Vec<Value> {
    let reply = |messages: &[Value], id: &str| {
        messages
            .iter()
            .find(|m| m["request_id"] == id && (m["type"] == "ack" || m["type"] == "error"))
            .cloned()
    };
    loop {
        let found: Vec<Value> = request_ids
            .iter()
            .filter_map(|id| reply(messages, id))
            .collect();
        if found.len() == request_ids.len() {
            return found;
        }
        messages.push(next(socket).await);
    }
}

/// Reads until every durable notification up to `seq` has arrived on `socket` (those already
/// in `seen` included); returns everything read, in order.
async fn until_seq(socket: &mut Socket, seen: &[Value], seq: u64) -> Vec<Value> {
    let mut messages = seen.to_vec();
    while !seqs_of(&messages).contains(&seq) {
        messages.push(next(socket).await);
    }
    messages
}

/// Sends `sync` and reads up to its snapshot; returns the messages before it and the
/// snapshot's `seq` (the player's last issued seq: every one up to it is committed).
async fn current_seq(socket: &mut Socket) -> (Vec<Value>, u64) {
    send(socket, json!({"action": "sync"})).await;
    let mut messages = until(socket, |m| m["type"] == "snapshot").await;
    let snapshot = messages.pop().unwrap();
    (messages, snapshot["seq"].as_u64().expect("a snapshot seq"))
}

/// One case of two enqueues sent back to back by a new player: every durable notification of
/// both plans arrives once, in seq order. Returns how many were checked.
async fn back_to_back(server: &Server, player_id: String) -> u64 {
    let mut socket = server.connect(&player_id).await;
    send(&mut socket, short_task("first")).await;
    send(&mut socket, short_task("second")).await;
    let mut messages = Vec::new();
    let acks = replies(&mut socket, &mut messages, &["first", "second"]).await;
    assert!(
        acks.iter().all(|a| a["type"] == "ack"),
        "{player_id}: {acks:?}"
    );
    let (before, n) = current_seq(&mut socket).await;
    messages.extend(before);
    let messages = until_seq(&mut socket, &messages, n).await;
    let seqs = seqs_of(&messages);
    assert!(
        exactly_in_order(&seqs, n),
        "{player_id}: seqs {seqs:?}, expected 1..={n} in order"
    );
    n
}

#[tokio::test]
async fn two_back_to_back_enqueues_arrive_in_seq_order_500_times_out_of_500() {
    // Given one runtime
    let server = Server::start(None);

    // When 500 new players each send two enqueues back to back, 25 at a time
    let checked: Vec<u64> = futures_util::stream::iter(0..500)
        .map(|i| back_to_back(&server, format!("e2e-b2b-{i:03}")))
        .buffer_unordered(25)
        .collect()
        .await;

    // Then every case saw every notification of both plans once and in order (asserted in
    // each case), and each had both plans to announce
    assert_eq!(checked.len(), 500);
    assert!(checked.iter().all(|n| *n >= 3), "{checked:?}");
}

/// True for the notification that ends a task for good.
fn finished(m: &Value) -> bool {
    m["type"] == "task_completed"
        || m["type"] == "task_cancelled"
        || (m["type"] == "task_failed" && m.get("retry_at").is_none())
}

/// One player of the crowd: `devices` connections, three short tasks enqueued at once on the
/// first; every connection must receive every seq of the player once, in order. Returns the
/// player's last seq.
async fn crowd_player(server: &Server, player_id: String, devices: usize) -> u64 {
    let mut sockets = Vec::new();
    for _ in 0..devices {
        sockets.push(server.connect(&player_id).await);
    }
    // Each device's connection is stored before the first request: all get everything.
    let requests = ["t1", "t2", "t3"];
    for request_id in requests {
        send(&mut sockets[0], short_task(request_id)).await;
    }
    let mut first = Vec::new();
    let acks = replies(&mut sockets[0], &mut first, &requests).await;
    assert!(
        acks.iter().all(|a| a["type"] == "ack"),
        "{player_id}: {acks:?}"
    );
    let task_ids: Vec<String> = acks
        .iter()
        .map(|a| a["task_id"].as_str().unwrap().to_owned())
        .collect();
    while !task_ids.iter().all(|id| {
        first
            .iter()
            .any(|m| finished(m) && m["task_id"] == id.as_str())
    }) {
        first.push(next(&mut sockets[0]).await);
    }
    let (before, n) = current_seq(&mut sockets[0]).await;
    first.extend(before);
    let mut received = vec![until_seq(&mut sockets[0], &first, n).await];
    for socket in &mut sockets[1..] {
        received.push(until_seq(socket, &[], n).await);
    }
    for (device, messages) in received.iter().enumerate() {
        let seqs = seqs_of(messages);
        assert!(
            exactly_in_order(&seqs, n),
            "{player_id} device {device}: seqs {seqs:?}, expected 1..={n} in order"
        );
    }
    n
}

#[tokio::test]
async fn fifty_players_on_one_or_two_devices_each_get_every_seq_once_in_order() {
    // Given one runtime
    let server = Server::start(None);

    // When 50 players, half of them on two devices, each enqueue three short tasks at once,
    // all players at the same time
    let last_seqs: Vec<u64> = futures_util::stream::iter(0..50)
        .map(|i| crowd_player(&server, format!("e2e-crowd-{i:02}"), 1 + i % 2))
        .buffer_unordered(50)
        .collect()
        .await;

    // Then every device of every player received seqs 1..=N exactly, in order (asserted per
    // player), N covering three tasks each started and finished
    assert_eq!(last_seqs.len(), 50);
    assert!(last_seqs.iter().all(|n| *n >= 6), "{last_seqs:?}");
}

#[tokio::test]
async fn posts_through_the_sdk_client_and_the_connections_api_keep_the_same_order() {
    // Given a runtime whose services post as the Lambdas do on AWS: the real SDK client over
    // the process's own `@connections` API, rather than in process
    let server = Server::start_with(None, &["--posts-through-api"], &[]);

    // When 10 players, half of them on two devices, each enqueue three short tasks at once
    let last_seqs: Vec<u64> = futures_util::stream::iter(0..10)
        .map(|i| crowd_player(&server, format!("e2e-api-{i:02}"), 1 + i % 2))
        .buffer_unordered(10)
        .collect()
        .await;

    // Then every device received every seq once, in order, as with in-process posts
    assert_eq!(last_seqs.len(), 10);
    assert!(last_seqs.iter().all(|n| *n >= 6), "{last_seqs:?}");
}

/// Everything a `sync` after `after_seq` answers: the snapshot, then the kept notifications,
/// up to the `pong` of a ping sent after it (excluded).
async fn sync_reply(socket: &mut Socket, after_seq: u64) -> (Value, Vec<Value>) {
    send(socket, json!({"action": "sync", "after_seq": after_seq})).await;
    send(socket, json!({"action": "ping"})).await;
    let mut messages = until(socket, |m| m["type"] == "pong").await;
    messages.pop();
    let at = messages
        .iter()
        .position(|m| m["type"] == "snapshot")
        .expect("a snapshot");
    let kept = messages.split_off(at + 1);
    (messages.pop().unwrap(), kept)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_syncing_at_once_are_both_made_whole() {
    // Given a runtime (in process, to watch its store), and a player who queued a task and
    // left while it ran
    let options = idle_local::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..idle_local::Options::default()
    };
    let running = idle_local::start(options, idle_local::app_config(|_| None).unwrap())
        .await
        .unwrap();
    let services = running.services().clone();
    let player = "e2e-two-devices";
    let url = format!("{}?token={}", running.ws_url(), token(player));
    let connect = || async {
        tokio_tungstenite::connect_async(url.clone())
            .await
            .expect("connect")
            .0
    };
    let mut first = connect().await;
    send(&mut first, short_task("r1")).await;
    let seen = until(&mut first, |m| m["type"] == "task_started").await;
    let task_id = seen.last().unwrap()["task_id"].as_str().unwrap().to_owned();
    let last_seen = *seqs_of(&seen).iter().max().unwrap();
    first.close(None).await.unwrap();
    drop(first);
    // (the connection is forgotten, and then the task ends with no device there: its
    // notifications are kept)
    let deadline = std::time::Instant::now() + WAIT;
    let kept_completion = || async {
        let open = services
            .connections
            .player_connections(player)
            .await
            .unwrap();
        let kept = services
            .inbox
            .kept_after(player, last_seen, services.clock.now(), 100)
            .await
            .unwrap();
        open.is_empty()
            && kept
                .notifications
                .iter()
                .any(|n| serde_json::to_value(n).unwrap()["type"] == "task_completed")
    };
    while !kept_completion().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the completion was never kept"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // When two devices connect and sync from the last seq seen, at once
    let (mut phone, mut laptop) = tokio::join!(connect(), connect());
    let ((phone_snapshot, phone_kept), (laptop_snapshot, laptop_kept)) = tokio::join!(
        sync_reply(&mut phone, last_seen),
        sync_reply(&mut laptop, last_seen)
    );

    // Then both get the same snapshot and the same kept notifications: in order, up to the
    // snapshot's seq, the completion among them (reading deleted nothing)
    let without_time = |mut snapshot: Value| {
        snapshot.as_object_mut().unwrap().remove("at");
        snapshot
    };
    assert_eq!(
        without_time(phone_snapshot.clone()),
        without_time(laptop_snapshot)
    );
    assert_eq!(phone_kept, laptop_kept);
    let seqs = seqs_of(&phone_kept);
    assert_eq!(
        seqs.len(),
        phone_kept.len(),
        "only durable notifications are kept"
    );
    assert!(seqs.windows(2).all(|w| w[0] + 1 == w[1]), "{seqs:?}");
    assert_eq!(seqs.last().copied(), phone_snapshot["seq"].as_u64());
    assert!(phone_kept.iter().any(|m| is(m, "task_completed", &task_id)));
    assert_eq!(
        phone_snapshot["truncated"],
        seqs[0] != last_seen + 1,
        "truncated exactly when a seq after {last_seen} reached the first device only"
    );
    // and a later sync still returns them all
    let (_, again) = sync_reply(&mut phone, last_seen).await;
    assert_eq!(again, phone_kept);
    running.shutdown().await.unwrap();
}

// Durable before it answers: SIGKILL at random moments loses nothing that was reported.

/// Sends `message` until it is answered with `reply` (a `rate_limited` error waits its
/// `retry_after_ms` and sends again); returns every message read, the answer last.
async fn answered(socket: &mut Socket, message: Value, reply: &str) -> Vec<Value> {
    let mut read = Vec::new();
    loop {
        send(socket, message.clone()).await;
        let answer = until(socket, |m| m["type"] == reply || m["type"] == "error").await;
        let last = answer.last().unwrap().clone();
        read.extend(answer);
        if last["code"] != "rate_limited" {
            return read;
        }
        let wait = last["retry_after_ms"].as_u64().unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

/// What one player of the kill test saw: its acknowledged enqueues (request id, task id) and
/// the highest notification seq that reached it.
#[derive(Default)]
struct Seen {
    acked: Vec<(String, String)>,
    max_seq: u64,
}

impl Seen {
    fn note(&mut self, message: &Value) {
        if message["type"] == "ack" && message["duplicate"] == false {
            self.acked.push((
                message["request_id"].as_str().unwrap().to_owned(),
                message["task_id"].as_str().unwrap().to_owned(),
            ));
        }
        if is_notification(message) {
            self.max_seq = self.max_seq.max(message["seq"].as_u64().unwrap());
        }
    }
}

#[tokio::test]
async fn fifty_sigkills_lose_no_acknowledged_task_reuse_no_seq_and_grant_once() {
    use idle_app::ports::GameStore;

    // Ten players take turns, so no one's rate bucket (10 messages, one back a second) runs dry
    let dir = temp_dir("kill");
    let players: Vec<String> = (0..10).map(|i| format!("kill-p{i}")).collect();
    let mut seen: Vec<Seen> = players.iter().map(|_| Seen::default()).collect();
    // A fixed linear congruential sequence: random moments, the same on every run.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move |below: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % below
    };
    for round in 0..50 {
        let (player, seen) = (&players[round % 10], &mut seen[round % 10]);
        let server = Server::start(Some(&dir));
        let mut socket = server.connect(player).await;

        // No seq reused: every seq a client saw was committed before it was posted, so the
        // restarted server's current seq is at least the highest one seen
        let synced = answered(&mut socket, json!({"action": "sync"}), "snapshot").await;
        let current = synced.last().unwrap()["seq"].as_u64().unwrap();
        assert!(
            current >= seen.max_seq,
            "round {round}: seq {current} < {} seen",
            seen.max_seq
        );
        synced.iter().for_each(|m| seen.note(m));

        // No acknowledged task missing: the last acknowledged one is a duplicate of itself
        if let Some((request_id, task_id)) = seen.acked.last().cloned() {
            let answer = answered(&mut socket, harvest(&request_id), "ack").await;
            let ack = answer.last().unwrap();
            assert_eq!(
                ack["duplicate"], true,
                "round {round}: {request_id} lost: {ack}"
            );
            assert_eq!(ack["task_id"], task_id.as_str());
            answer.iter().for_each(|m| seen.note(m));
        }

        // Two enqueues back to back, then SIGKILL after a random 0-60 ms
        for i in 0..2 {
            send(&mut socket, harvest(&format!("k{round}-{i}"))).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(random(60));
        while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, socket.next()).await {
            if let Message::Text(text) = frame {
                seen.note(&serde_json::from_str(&text).unwrap());
            }
        }
        drop(server);
        // What the dead server had already written still counts as seen
        while let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_millis(100), socket.next()).await
        {
            if let Message::Text(text) = frame {
                seen.note(&serde_json::from_str(&text).unwrap());
            }
        }
    }
    let acked: usize = seen.iter().map(|s| s.acked.len()).sum();
    assert!(
        acked >= 25,
        "only {acked} acknowledged: the kills came too early to test much"
    );

    // Finally, let every task finish, stop cleanly, and read the store itself
    let mut server = Server::start(Some(&dir));
    for player in &players {
        let mut socket = server.connect(player).await;
        let messages = answered(&mut socket, json!({"action": "sync"}), "snapshot").await;
        let empty = |m: &Value| m["queue"].as_array().is_some_and(Vec::is_empty);
        if !empty(messages.last().unwrap()) {
            until(&mut socket, |m| m["type"] == "queue_updated" && empty(m)).await;
        }
    }
    server.signal("TERM");
    assert!(server.exit_status().await.success());
    let store = idle_sqlite::SqliteStore::open(dir.join(idle_sqlite::DATABASE_FILE)).unwrap();
    for (player, seen) in players.iter().zip(&seen) {
        // Every acknowledged task has its record
        for (request_id, task_id) in &seen.acked {
            let task = store.load_task(player, task_id).await.unwrap();
            let task =
                task.unwrap_or_else(|| panic!("{player}: acknowledged {request_id} has no record"));
            assert_eq!(task.request_id, *request_id);
        }
        // Every grant exactly once: the inventory is the sum of the recorded outcomes (of every
        // task written, acknowledged or not)
        let stored = store
            .load_players(std::slice::from_ref(player))
            .await
            .unwrap()
            .players
            .remove(0);
        let mut granted = 0;
        for n in 1..stored.player.next_task_seq {
            let task = store.load_task(player, &format!("{n:012}")).await.unwrap();
            let task = task.unwrap_or_else(|| panic!("{player}: task {n} has no record"));
            if let Some(result) = task.result {
                granted += result.outcome.items.get("guam_leaf").copied().unwrap_or(0);
            }
        }
        assert_eq!(stored.player.count("guam_leaf"), granted, "{player}");
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
