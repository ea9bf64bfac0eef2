//! One simulated game client: connect, `sync`, cycles of enqueues until the end of the steady
//! window, drain, a final `sync`, close. Everything it sees is counted in a [`ClientResult`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::stats::Timed;
use crate::Shared;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long the final `sync` waits for notifications still missing after its snapshot.
const GAP_FILL_WAIT: Duration = Duration::from_secs(2);

/// What one client measured and counted.
#[derive(Debug, Default)]
pub struct ClientResult {
    /// Connect time (TCP and WebSocket handshake).
    pub connect: Option<Timed>,
    /// Enqueue→ack latencies.
    pub acks: Vec<Timed>,
    /// Completion lags: arrival of `task_completed` minus the task's `ends_at`.
    pub lags: Vec<Timed>,
    /// The first part of each completion lag: the notification's `at` (the server's clock when
    /// the tick or batch that completed the task began) minus `ends_at`.
    pub lags_to_at: Vec<Timed>,
    /// The second part: arrival minus the notification's `at` (advancing, committing and
    /// posting, and whatever the tick did before this player).
    pub lags_after_at: Vec<Timed>,
    /// The first part of each enqueue→ack: the ack's `at` (the server's clock when the handler
    /// began) minus the send time.
    pub acks_to_at: Vec<Timed>,
    /// The second part: arrival minus the ack's `at` (the update, the inline notification
    /// posts, the reply's post).
    pub acks_after_at: Vec<Timed>,
    /// Errors by kind (an error reply's `code`, or `connect_failed`, `ack_timeout`, …).
    pub errors: BTreeMap<String, u64>,
    /// Enqueues sent.
    pub enqueued: u64,
    /// Acks received.
    pub acked: u64,
    /// `task_completed` received for this client's tasks.
    pub completed: u64,
    /// `task_completed` for which no `ends_at` was seen (no lag measured).
    pub completed_without_ends_at: u64,
    /// Durable notifications received live with a `seq` below the highest seen before.
    pub out_of_order: u64,
    /// Durable notifications whose `seq` had been received already.
    pub duplicates: u64,
    /// Notifications missing at the end: `seq`s after the first snapshot's and up to the final
    /// snapshot's that never arrived, not even after the final `sync`.
    pub missing: u64,
    /// Notifications that arrived only after the final `sync` (they filled a gap).
    pub recovered_by_sync: u64,
    /// Final snapshots with `truncated: true`.
    pub truncated_syncs: u64,
    /// Ephemeral `task_progress` messages received.
    pub progress: u64,
}

impl ClientResult {
    /// A client that never got as far as connecting, for the reason `kind`.
    pub fn failed(kind: &str) -> ClientResult {
        let mut result = ClientResult::default();
        result.error(kind);
        result
    }

    fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_owned()).or_default() += 1;
    }
}

/// This machine's clock, in ms since the epoch (the server's `ends_at` is on the same clock).
fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// What is known about one enqueue.
struct Request {
    sent: Instant,
    /// [`wall_ms`] when sent.
    sent_wall: f64,
    /// Acked or refused.
    answered: bool,
    /// Completed, failed for good, cancelled or refused: nothing more to wait for.
    settled: bool,
}

struct Client {
    shared: Arc<Shared>,
    sink: SplitSink<Socket, Message>,
    stream: SplitStream<Socket>,
    result: ClientResult,
    /// Enqueues by request id.
    requests: HashMap<String, Request>,
    /// Request id by task id, once acked.
    task_requests: HashMap<String, String>,
    /// Task ids that completed before their ack arrived.
    settled_tasks: HashSet<String>,
    /// `ends_at` by task id, from `task_started` or a `queue_updated` entry.
    ends_at: HashMap<String, i64>,
    /// Every `seq` received.
    seen: HashSet<u64>,
    max_seq: u64,
    /// The first snapshot's `seq` (notifications up to it are not this run's).
    base_seq: Option<u64>,
    /// The `seq` of the last snapshot answering `final_sync_id`.
    final_seq: Option<u64>,
    final_sync_id: Option<String>,
    closed: bool,
    counter: u64,
}

/// Runs one client whose token is `token`; it connects at `connect_at`.
pub async fn run(shared: Arc<Shared>, token: String, connect_at: Instant) -> ClientResult {
    tokio::time::sleep_until(connect_at.into()).await;
    let mut result = ClientResult::default();
    let separator = if shared.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}token={token}", shared.url);
    let began = Instant::now();
    let connected = tokio::time::timeout(
        shared.config.timeout,
        tokio_tungstenite::connect_async_with_config(url, None, true),
    )
    .await;
    let socket = match connected {
        Ok(Ok((socket, _))) => socket,
        Ok(Err(_)) => {
            result.error("connect_failed");
            return result;
        }
        Err(_) => {
            result.error("connect_timeout");
            return result;
        }
    };
    let now = Instant::now();
    result.connect = Some(Timed {
        at: now.saturating_duration_since(shared.start).as_secs_f64(),
        ms: now.duration_since(began).as_secs_f64() * 1000.0,
    });
    shared.connected();
    let (sink, stream) = socket.split();
    let mut client = Client {
        shared: shared.clone(),
        sink,
        stream,
        result,
        requests: HashMap::new(),
        task_requests: HashMap::new(),
        settled_tasks: HashSet::new(),
        ends_at: HashMap::new(),
        seen: HashSet::new(),
        max_seq: 0,
        base_seq: None,
        final_seq: None,
        final_sync_id: None,
        closed: false,
        counter: 0,
    };
    client.session().await;
    shared.disconnected();
    client.result
}

impl Client {
    fn since_start(&self) -> f64 {
        Instant::now()
            .saturating_duration_since(self.shared.start)
            .as_secs_f64()
    }

    fn next_id(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!("{kind}-{}", self.counter)
    }

    async fn send(&mut self, message: Value) -> bool {
        if self.closed {
            return false;
        }
        if self
            .sink
            .send(Message::Text(message.to_string().into()))
            .await
            .is_err()
        {
            self.result.error("connection_lost");
            self.closed = true;
            return false;
        }
        true
    }

    async fn session(&mut self) {
        let config = self.shared.config.clone();
        // The first sync: its snapshot gives the seq this run's notifications start after.
        let first = self.next_id("sync");
        if !self
            .send(json!({"action": "sync", "request_id": first}))
            .await
        {
            return;
        }
        let deadline = Instant::now() + config.timeout;
        if !self.read_until(deadline, |c| c.base_seq.is_some()).await {
            if !self.closed {
                self.result.error("sync_timeout");
            }
            return;
        }

        // Cycles until the end of the steady window.
        'cycles: while Instant::now() < self.shared.end && !self.closed {
            let cycle_start = Instant::now();
            let mut cycle = Vec::new();
            for k in 0..config.tasks {
                let at = cycle_start + config.enqueue_gap * k;
                if at >= self.shared.end {
                    break;
                }
                self.read_until(at, |_| false).await;
                if self.closed {
                    break 'cycles;
                }
                let id = self.next_id("enq");
                self.requests.insert(
                    id.clone(),
                    Request {
                        sent: Instant::now(),
                        sent_wall: wall_ms(),
                        answered: false,
                        settled: false,
                    },
                );
                cycle.push(id.clone());
                self.result.enqueued += 1;
                let task = self.shared.task.clone();
                if !self
                    .send(json!({"action": "enqueue", "request_id": id, "task": task}))
                    .await
                {
                    break 'cycles;
                }
            }
            let deadline = Instant::now() + config.completion_timeout;
            let settled = |c: &Client| cycle.iter().all(|id| c.requests[id].settled);
            if !self.read_until(deadline, settled).await && !self.closed {
                self.count_unsettled(&cycle);
            }
        }

        // Drain is done (every cycle waits for its tasks); the final sync from the last
        // contiguous seq, as the client contract says to do on a gap.
        if self.closed {
            return;
        }
        let base = self.base_seq.unwrap_or(0);
        let mut contiguous = base;
        while self.seen.contains(&(contiguous + 1)) {
            contiguous += 1;
        }
        let id = self.next_id("sync");
        self.final_sync_id = Some(id.clone());
        if !self
            .send(json!({"action": "sync", "request_id": id, "after_seq": contiguous}))
            .await
        {
            return;
        }
        let deadline = Instant::now() + config.timeout;
        if !self.read_until(deadline, |c| c.final_seq.is_some()).await {
            if !self.closed {
                self.result.error("sync_timeout");
            }
            return;
        }
        let last = self.final_seq.unwrap_or(0).max(self.max_seq);
        let complete = move |c: &Client| (base + 1..=last).all(|seq| c.seen.contains(&seq));
        self.read_until(Instant::now() + GAP_FILL_WAIT, complete)
            .await;
        self.result.missing = (base + 1..=last)
            .filter(|seq| !self.seen.contains(seq))
            .count() as u64;
        let _ = self.sink.send(Message::Close(None)).await;
        let _ = self.sink.close().await;
    }

    /// Counts the enqueues of `cycle` that did not settle in time.
    fn count_unsettled(&mut self, cycle: &[String]) {
        for id in cycle {
            let request = &self.requests[id];
            if !request.answered {
                self.result.error("ack_timeout");
            } else if !request.settled {
                self.result.error("completion_timeout");
            }
        }
    }

    /// Reads and handles messages until `done` holds (true) or `deadline` passes or the socket
    /// closes (false).
    async fn read_until(&mut self, deadline: Instant, done: impl Fn(&Client) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if self.closed {
                return false;
            }
            match timeout_at(deadline.into(), self.stream.next()).await {
                Err(_) => return done(self),
                Ok(Some(Ok(Message::Text(text)))) => self.handle(&text),
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                    self.result.error("connection_lost");
                    self.closed = true;
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    fn handle(&mut self, text: &str) {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            self.result.error("invalid_json");
            return;
        };
        let kind = message.get("type").and_then(Value::as_str).unwrap_or("");
        let request_id = message.get("request_id").and_then(Value::as_str);
        match kind {
            "ack" => self.on_ack(&message, request_id),
            "error" => {
                let code = message
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("error_without_code")
                    .to_owned();
                self.result.error(&code);
                if let Some(request) = request_id.and_then(|id| self.requests.get_mut(id)) {
                    request.answered = true;
                    request.settled = true;
                }
            }
            "snapshot" => {
                let seq = message.get("seq").and_then(Value::as_u64).unwrap_or(0);
                if self.base_seq.is_none() {
                    self.base_seq = Some(seq);
                } else if request_id.is_some() && request_id == self.final_sync_id.as_deref() {
                    self.final_seq = Some(seq);
                    if message.get("truncated").and_then(Value::as_bool) == Some(true) {
                        self.result.truncated_syncs += 1;
                    }
                }
            }
            "task_progress" => self.result.progress += 1,
            _ => {
                if let Some(seq) = message.get("seq").and_then(Value::as_u64) {
                    self.on_notification(kind, seq, &message);
                }
            }
        }
    }

    fn on_ack(&mut self, message: &Value, request_id: Option<&str>) {
        let Some(id) = request_id else {
            self.result.error("ack_without_request_id");
            return;
        };
        let at = self.since_start();
        let arrived = wall_ms();
        let Some(request) = self.requests.get_mut(id) else {
            self.result.error("unexpected_ack");
            return;
        };
        if request.answered {
            self.result.error("second_ack");
            return;
        }
        request.answered = true;
        self.result.acked += 1;
        let waited = request.sent.elapsed();
        self.result.acks.push(Timed {
            at,
            ms: waited.as_secs_f64() * 1000.0,
        });
        if waited > self.shared.config.timeout {
            // Late is a timeout too, though it still counts as acked and its latency is kept.
            self.result.error("ack_timeout");
        }
        if let Some(server_at) = message.get("at").and_then(Value::as_f64) {
            self.result.acks_to_at.push(Timed {
                at,
                ms: server_at - request.sent_wall,
            });
            self.result.acks_after_at.push(Timed {
                at,
                ms: arrived - server_at,
            });
        }
        if message.get("duplicate").and_then(Value::as_bool) == Some(true) {
            self.result.error("unexpected_duplicate_ack");
        }
        if let Some(task_id) = message.get("task_id").and_then(Value::as_str) {
            if self.settled_tasks.contains(task_id) {
                request.settled = true;
            }
            self.task_requests.insert(task_id.to_owned(), id.to_owned());
        }
    }

    fn on_notification(&mut self, kind: &str, seq: u64, message: &Value) {
        if self.base_seq.is_some_and(|base| seq <= base) {
            return; // an earlier run's
        }
        if !self.seen.insert(seq) {
            self.result.duplicates += 1;
            return;
        }
        if seq < self.max_seq {
            if self.final_sync_id.is_some() {
                self.result.recovered_by_sync += 1;
            } else {
                self.result.out_of_order += 1;
            }
        }
        self.max_seq = self.max_seq.max(seq);
        let task_id = message.get("task_id").and_then(Value::as_str);
        match kind {
            "task_started" => {
                if let (Some(task_id), Some(ends_at)) =
                    (task_id, message.get("ends_at").and_then(Value::as_i64))
                {
                    self.ends_at.insert(task_id.to_owned(), ends_at);
                }
            }
            "queue_updated" => {
                let entries = message.get("queue").and_then(Value::as_array);
                for entry in entries.into_iter().flatten() {
                    if let (Some(task_id), Some(ends_at)) = (
                        entry.get("task_id").and_then(Value::as_str),
                        entry.get("ends_at").and_then(Value::as_i64),
                    ) {
                        self.ends_at.entry(task_id.to_owned()).or_insert(ends_at);
                    }
                }
            }
            "task_completed" => {
                let arrived = wall_ms();
                let at = self.since_start();
                self.result.completed += 1;
                match task_id.and_then(|id| self.ends_at.get(id)) {
                    Some(&ends_at) => {
                        let ends_at = ends_at as f64;
                        self.result.lags.push(Timed {
                            at,
                            ms: arrived - ends_at,
                        });
                        if let Some(server_at) = message.get("at").and_then(Value::as_f64) {
                            self.result.lags_to_at.push(Timed {
                                at,
                                ms: server_at - ends_at,
                            });
                            self.result.lags_after_at.push(Timed {
                                at,
                                ms: arrived - server_at,
                            });
                        }
                    }
                    None => self.result.completed_without_ends_at += 1,
                }
                if let Some(task_id) = task_id {
                    self.settle(task_id);
                }
            }
            "task_failed" => {
                self.result.error("task_failed");
                // Final when no retry is planned.
                if message.get("retry_at").is_none_or(Value::is_null) {
                    if let Some(task_id) = task_id {
                        self.settle(task_id);
                    }
                }
            }
            "task_cancelled" => {
                self.result.error("task_cancelled");
                if let Some(task_id) = task_id {
                    self.settle(task_id);
                }
            }
            _ => {}
        }
    }

    fn settle(&mut self, task_id: &str) {
        match self
            .task_requests
            .get(task_id)
            .and_then(|id| self.requests.get_mut(id))
        {
            Some(request) => request.settled = true,
            None => {
                self.settled_tasks.insert(task_id.to_owned());
            }
        }
    }
}
