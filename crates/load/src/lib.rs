//! A load tool for the WebSocket gateway of a running `idle-local` (or anything speaking
//! protocol v2, docs/protocol.md).
//!
//! [`run`] ramps [`Config::clients`] clients onto the server over [`Config::ramp`]. Each one
//! gets a dev token for its own player id (`GET /dev/token`, before the clock starts), connects,
//! sends `sync`, then runs cycles until the end of the steady window: it enqueues
//! [`Config::tasks`] one-action tasks [`Config::enqueue_gap`] apart (the shortest harvest in the
//! catalog) and waits until every one of them has completed. At the end it stops enqueueing,
//! waits for what is under way, sends a final `sync` from the last contiguous `seq` it saw and
//! counts the notifications that never arrived.
//!
//! Measured: connect time (TCP and WebSocket handshake), enqueue→ack latency, completion lag
//! (the arrival of `task_completed` minus the task's `ends_at`, both on this machine's clock),
//! notifications out of order or duplicated, missing ones, and errors (error replies, failed
//! connects, timeouts, lost connections). Latency percentiles are taken over the steady window
//! (the [`Config::steady`] after the ramp); connect times over the ramp. With
//! [`Config::server_pid`], the server's CPU and RSS are sampled from `/proc` once a second.
//! [`Report`] prints as a table ([`Report::table`]) or JSON.

mod client;
mod http;
mod proc_stats;
mod report;
mod stats;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};

pub use report::{Bucket, Counts, Machine, Report, ServerStats, Summary};

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gateway's WebSocket URL, `ws://host:port/path`; the token is added as `?token=`. The
    /// dev tokens and the catalog come from the same host and port over HTTP.
    pub url: String,
    /// How many clients (one player each).
    pub clients: usize,
    /// Client `i` connects at `i * ramp / clients` after the start.
    pub ramp: Duration,
    /// The window after the ramp over which latencies are summarised; clients keep cycling
    /// until its end.
    pub steady: Duration,
    /// Tasks per cycle (each one action).
    pub tasks: u32,
    /// Time between two enqueues of a cycle.
    pub enqueue_gap: Duration,
    /// Longest wait for a reply (connect, ack, snapshot); longer counts as a timeout error (an
    /// ack that comes later still counts as acked, and as `ack_timeout`).
    pub timeout: Duration,
    /// Longest wait for the tasks of one cycle to complete after its last enqueue.
    pub completion_timeout: Duration,
    /// The server process to sample (`/proc/PID/stat` and `/proc/PID/status`).
    pub server_pid: Option<u32>,
    /// The harvest to enqueue, `(resource, location)`; `None` picks the shortest level-1
    /// harvest from the server's `/catalog`.
    pub harvest: Option<(String, String)>,
    /// Prefix of the player ids (`PREFIX-<i>`); `None` makes one from the time so that runs
    /// against the same server never share players.
    pub player_prefix: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: "ws://127.0.0.1:8787/ws".to_owned(),
            clients: 100,
            ramp: Duration::from_secs(20),
            steady: Duration::from_secs(60),
            tasks: 3,
            enqueue_gap: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            completion_timeout: Duration::from_secs(60),
            server_pid: None,
            harvest: None,
            player_prefix: None,
        }
    }
}

/// Why a run could not start (problems during the run are counted in the report instead).
#[derive(Debug)]
pub enum LoadError {
    /// The URL is not `ws://host:port/path`.
    BadUrl(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::BadUrl(url) => {
                write!(f, "`{url}` is not a ws://host:port/path URL")
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// Raises the soft limit on open files to the hard limit (thousands of sockets need more than
/// the usual 1024). Returns the new soft limit.
pub fn raise_open_files_limit() -> std::io::Result<libc::rlim_t> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}

/// What every client shares.
pub(crate) struct Shared {
    pub config: Config,
    pub url: String,
    /// The start of the ramp: every `at` in the samples is seconds since it.
    pub start: Instant,
    /// The end of the steady window: no enqueue after it.
    pub end: Instant,
    /// The `task` of every enqueue, as JSON.
    pub task: serde_json::Value,
    /// Clients connected right now, and the most at once.
    pub connected: AtomicUsize,
    pub peak_connected: AtomicUsize,
}

impl Shared {
    pub fn connected(&self) {
        let now = self.connected.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_connected.fetch_max(now, Ordering::Relaxed);
    }

    pub fn disconnected(&self) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs the load and returns what was measured. Fails only when the URL is unusable; every
/// other problem (no token, refused connect, error reply, timeout) is counted in the report.
pub async fn run(config: Config) -> Result<Report, LoadError> {
    let target = http::Target::parse(&config.url)?;
    let prefix = config.player_prefix.clone().unwrap_or_else(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("load-{ms}")
    });

    let (resource, location) = match &config.harvest {
        Some(pair) => pair.clone(),
        None => http::shortest_harvest(&target)
            .await
            .unwrap_or_else(|| ("guam_leaf".to_owned(), "meadow".to_owned())),
    };
    let task = serde_json::json!({
        "activity": "harvest",
        "resource": resource,
        "location": location,
        "quantity": 1,
    });

    // Tokens first, before the clock starts: they are not part of the workload.
    let tokens = fetch_tokens(&target, &prefix, config.clients).await;

    let start = Instant::now() + Duration::from_millis(100);
    let shared = Arc::new(Shared {
        url: config.url.clone(),
        start,
        end: start + config.ramp + config.steady,
        task,
        connected: AtomicUsize::new(0),
        peak_connected: AtomicUsize::new(0),
        config: config.clone(),
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    let server_sampler = config
        .server_pid
        .map(|pid| tokio::spawn(proc_stats::sample(pid.to_string(), start, stop_rx.clone())));
    let self_sampler = tokio::spawn(proc_stats::sample(
        "self".to_owned(),
        start,
        stop_rx.clone(),
    ));
    let cores_sampler = tokio::spawn(proc_stats::sample_cores(start, stop_rx));
    let load_average_start = proc_stats::load_average();

    let mut handles = Vec::with_capacity(config.clients);
    for (index, token) in tokens.into_iter().enumerate() {
        let offset = if config.clients > 1 {
            config.ramp.mul_f64(index as f64 / config.clients as f64)
        } else {
            Duration::ZERO
        };
        let shared = shared.clone();
        handles.push(tokio::spawn(async move {
            match token {
                Ok(token) => client::run(shared, token, start + offset).await,
                Err(kind) => client::ClientResult::failed(kind),
            }
        }));
    }
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(result) => results.push(result),
            Err(_) => results.push(client::ClientResult::failed("client_panicked")),
        }
    }
    let finished = start.elapsed();
    let _ = stop_tx.send(true);
    let server_samples = match server_sampler {
        Some(handle) => handle.await.ok(),
        None => None,
    };
    let self_samples = self_sampler.await.ok();
    let machine = report::Machine::new(
        load_average_start,
        proc_stats::load_average(),
        &cores_sampler.await.unwrap_or_default(),
        config.ramp.as_secs_f64(),
        (config.ramp + config.steady).as_secs_f64(),
    );

    Ok(report::build(
        &config,
        format!("harvest {resource} at {location}, quantity 1"),
        results,
        shared.peak_connected.load(Ordering::Relaxed),
        finished,
        report::Processes {
            server: server_samples,
            load_tool: self_samples,
            machine,
        },
    ))
}

/// One token per client (`Err` names the error kind when there is none), 32 requests at once.
async fn fetch_tokens(
    target: &http::Target,
    prefix: &str,
    clients: usize,
) -> Vec<Result<String, &'static str>> {
    let limit = Arc::new(Semaphore::new(32));
    let mut handles = Vec::with_capacity(clients);
    for index in 0..clients {
        let target = target.clone();
        let player = format!("{prefix}-{index}");
        let limit = limit.clone();
        handles.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            http::dev_token(&target, &player).await
        }));
    }
    let mut tokens = Vec::with_capacity(clients);
    for handle in handles {
        tokens.push(handle.await.unwrap_or(Err("token_failed")));
    }
    tokens
}
