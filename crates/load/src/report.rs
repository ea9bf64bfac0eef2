//! What a run measured: the clients' results summed, percentiles over the steady window, the
//! server's and this tool's CPU and RSS; printed as a table or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::client::ClientResult;
use crate::proc_stats::{CoresSample, Sample};
use crate::stats::{percentiles, Percentiles, Timed};
use crate::Config;

/// Everything a run measured. Times in ms unless a field says otherwise.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub url: String,
    pub clients: usize,
    pub ramp_secs: f64,
    pub steady_secs: f64,
    pub tasks_per_cycle: u32,
    /// The task enqueued, e.g. `harvest guam_leaf at meadow, quantity 1`.
    pub task: String,
    /// From the start of the ramp to the last client's close, in seconds.
    pub duration_secs: f64,
    /// The most clients connected at once.
    pub peak_connected: usize,
    /// Connect times (TCP and WebSocket handshake) of every client (they all connect during
    /// the ramp).
    pub connect: Option<Percentiles>,
    /// Enqueue→ack latency over the steady window (by ack arrival).
    pub enqueue_ack: Option<Percentiles>,
    /// Completion lag (arrival of `task_completed` minus the task's `ends_at`) over the steady
    /// window (by arrival).
    pub completion_lag: Option<Percentiles>,
    /// The two parts of enqueue→ack over the steady window, split at the ack's `at` (the
    /// server's clock when the handler began; ms resolution): before it (the frame's way in)
    /// and after it (the update, inline notification posts and the reply's post).
    pub enqueue_ack_to_at: Option<Percentiles>,
    pub enqueue_ack_after_at: Option<Percentiles>,
    /// The two parts of completion lag over the steady window, split at the `task_completed`
    /// notification's `at` (the server's clock when the tick or batch that completed the task
    /// began): before it (waiting for a tick) and after it (the tick's work up to this player's
    /// commit and post).
    pub completion_lag_to_at: Option<Percentiles>,
    pub completion_lag_after_at: Option<Percentiles>,
    /// The same two over the whole run, ramp and drain included.
    pub enqueue_ack_all: Option<Percentiles>,
    pub completion_lag_all: Option<Percentiles>,
    pub counts: Counts,
    /// Errors by kind: an error reply's `code`, or `connect_failed`, `connect_timeout`,
    /// `token_failed`, `token_refused`, `sync_timeout`, `ack_timeout`, `completion_timeout`,
    /// `connection_lost`, `task_failed`, …
    pub errors: BTreeMap<String, u64>,
    /// The sum of `errors`.
    pub error_total: u64,
    /// The server process (with `--server-pid`).
    pub server: Option<ServerStats>,
    /// This load tool's own process: when it is near 100% of its core, the latencies include
    /// its own queueing.
    pub load_tool: Option<ServerStats>,
    /// The whole machine (other builds may share it).
    pub machine: Machine,
    /// Latencies per [`BUCKET_SECS`] of the run: whether they were steady or grew.
    pub timeline: Vec<Bucket>,
}

/// The width of a [`Bucket`] of the timeline, in seconds.
pub const BUCKET_SECS: f64 = 10.0;

/// Acks and completions of one stretch of the run, by arrival.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// Seconds since the start of the ramp (the bucket is `[from_secs, from_secs + 10)`).
    pub from_secs: f64,
    pub enqueue_ack: Option<Percentiles>,
    pub completion_lag: Option<Percentiles>,
}

/// The machine during the run, from `/proc/loadavg` and `/proc/stat`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    /// 1, 5 and 15 minute load averages when the run started and ended.
    pub load_average_start: Option<String>,
    pub load_average_end: Option<String>,
    /// Mean busy percent of each core over the steady window (every process, not only the
    /// server and this tool).
    pub core_busy_steady_percent: Vec<f64>,
}

impl Machine {
    pub(crate) fn new(
        load_average_start: Option<String>,
        load_average_end: Option<String>,
        cores: &[CoresSample],
        from: f64,
        to: f64,
    ) -> Machine {
        let window: Vec<&CoresSample> =
            cores.iter().filter(|s| s.at >= from && s.at < to).collect();
        let width = window
            .iter()
            .map(|s| s.busy_percent.len())
            .max()
            .unwrap_or(0);
        let core_busy_steady_percent = (0..width)
            .map(|core| {
                let values: Vec<f64> = window
                    .iter()
                    .filter_map(|s| s.busy_percent.get(core).copied())
                    .collect();
                values.iter().sum::<f64>() / values.len().max(1) as f64
            })
            .collect();
        Machine {
            load_average_start,
            load_average_end,
            core_busy_steady_percent,
        }
    }
}

/// The sampled processes and machine of a run.
pub(crate) struct Processes {
    pub server: Option<Vec<Sample>>,
    pub load_tool: Option<Vec<Sample>>,
    pub machine: Machine,
}

/// Counts over the whole run, every client summed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Clients that connected.
    pub connected: u64,
    pub enqueued: u64,
    pub acked: u64,
    pub completed: u64,
    /// Completions without a known `ends_at` (no lag measured for them).
    pub completed_without_ends_at: u64,
    /// Durable notifications received with a `seq` below one already received on that
    /// connection (exact duplicates excluded).
    pub out_of_order: u64,
    /// Durable notifications received twice (same `seq`).
    pub duplicates: u64,
    /// `seq`s never received, even after the final `sync`.
    pub missing: u64,
    /// Notifications that arrived only after the final `sync`.
    pub recovered_by_sync: u64,
    /// Final snapshots with `truncated: true`.
    pub truncated_syncs: u64,
    /// Ephemeral `task_progress` messages received.
    pub progress: u64,
}

/// CPU and RSS of one process over a run (sampled once a second).
#[derive(Debug, Clone, Serialize)]
pub struct ServerStats {
    /// Over the steady window (the whole run when no sample fell in it).
    pub steady: Option<Summary>,
    /// Over the whole run.
    pub run: Option<Summary>,
}

/// Mean and max of the samples of a window.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub samples: usize,
    /// CPU in percent of one core (200 = both cores of a 2-core machine).
    pub cpu_mean_percent: f64,
    pub cpu_max_percent: f64,
    /// Resident memory, in MiB.
    pub rss_mean_mib: f64,
    pub rss_max_mib: f64,
}

fn summarise(samples: &[Sample], from: f64, to: f64) -> Option<Summary> {
    let window: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= from && s.at < to)
        .collect();
    if window.is_empty() {
        return None;
    }
    let n = window.len() as f64;
    let mib = |kib: u64| kib as f64 / 1024.0;
    Some(Summary {
        samples: window.len(),
        cpu_mean_percent: window.iter().map(|s| s.cpu_percent).sum::<f64>() / n,
        cpu_max_percent: window.iter().map(|s| s.cpu_percent).fold(0.0, f64::max),
        rss_mean_mib: window.iter().map(|s| mib(s.rss_kib)).sum::<f64>() / n,
        rss_max_mib: window.iter().map(|s| mib(s.rss_kib)).fold(0.0, f64::max),
    })
}

fn process_stats(samples: Option<Vec<Sample>>, from: f64, to: f64) -> Option<ServerStats> {
    let samples = samples?;
    if samples.is_empty() {
        return None;
    }
    let run = summarise(&samples, 0.0, f64::INFINITY);
    Some(ServerStats {
        steady: summarise(&samples, from, to).or(run),
        run,
    })
}

pub(crate) fn build(
    config: &Config,
    task: String,
    results: Vec<ClientResult>,
    peak_connected: usize,
    duration: Duration,
    processes: Processes,
) -> Report {
    let from = config.ramp.as_secs_f64();
    let to = from + config.steady.as_secs_f64();
    let mut counts = Counts::default();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut connects: Vec<Timed> = Vec::new();
    let mut acks: Vec<Timed> = Vec::new();
    let mut lags: Vec<Timed> = Vec::new();
    let mut acks_to_at: Vec<Timed> = Vec::new();
    let mut acks_after_at: Vec<Timed> = Vec::new();
    let mut lags_to_at: Vec<Timed> = Vec::new();
    let mut lags_after_at: Vec<Timed> = Vec::new();
    for result in results {
        if let Some(connect) = result.connect {
            counts.connected += 1;
            connects.push(connect);
        }
        acks.extend(result.acks);
        lags.extend(result.lags);
        acks_to_at.extend(result.acks_to_at);
        acks_after_at.extend(result.acks_after_at);
        lags_to_at.extend(result.lags_to_at);
        lags_after_at.extend(result.lags_after_at);
        for (kind, n) in result.errors {
            *errors.entry(kind).or_default() += n;
        }
        counts.enqueued += result.enqueued;
        counts.acked += result.acked;
        counts.completed += result.completed;
        counts.completed_without_ends_at += result.completed_without_ends_at;
        counts.out_of_order += result.out_of_order;
        counts.duplicates += result.duplicates;
        counts.missing += result.missing;
        counts.recovered_by_sync += result.recovered_by_sync;
        counts.truncated_syncs += result.truncated_syncs;
        counts.progress += result.progress;
    }
    let buckets = (duration.as_secs_f64() / BUCKET_SECS).ceil() as usize;
    let timeline = (0..buckets)
        .map(|i| {
            let from = i as f64 * BUCKET_SECS;
            Bucket {
                from_secs: from,
                enqueue_ack: percentiles(&acks, from, from + BUCKET_SECS),
                completion_lag: percentiles(&lags, from, from + BUCKET_SECS),
            }
        })
        .collect();
    Report {
        url: config.url.clone(),
        clients: config.clients,
        ramp_secs: from,
        steady_secs: config.steady.as_secs_f64(),
        tasks_per_cycle: config.tasks,
        task,
        duration_secs: duration.as_secs_f64(),
        peak_connected,
        connect: percentiles(&connects, 0.0, f64::INFINITY),
        enqueue_ack: percentiles(&acks, from, to),
        completion_lag: percentiles(&lags, from, to),
        enqueue_ack_to_at: percentiles(&acks_to_at, from, to),
        enqueue_ack_after_at: percentiles(&acks_after_at, from, to),
        completion_lag_to_at: percentiles(&lags_to_at, from, to),
        completion_lag_after_at: percentiles(&lags_after_at, from, to),
        enqueue_ack_all: percentiles(&acks, 0.0, f64::INFINITY),
        completion_lag_all: percentiles(&lags, 0.0, f64::INFINITY),
        error_total: errors.values().sum(),
        errors,
        counts,
        server: process_stats(processes.server, from, to),
        load_tool: process_stats(processes.load_tool, from, to),
        machine: processes.machine,
        timeline,
    }
}

impl Report {
    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The report as a table for a person.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "idle-load: {} clients on {}, ramp {} s, steady {} s, {} tasks per cycle ({})",
            self.clients,
            self.url,
            self.ramp_secs,
            self.steady_secs,
            self.tasks_per_cycle,
            self.task
        );
        let _ = writeln!(
            out,
            "  ran {:.1} s, {} connected (peak {} at once)",
            self.duration_secs, self.counts.connected, self.peak_connected
        );
        let _ = writeln!(
            out,
            "\n  {:<30} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "n", "p50", "p90", "p99", "max"
        );
        let rows = [
            ("connect (ramp)", &self.connect),
            ("enqueue->ack (steady)", &self.enqueue_ack),
            ("  send -> ack.at", &self.enqueue_ack_to_at),
            ("  ack.at -> arrival", &self.enqueue_ack_after_at),
            ("completion lag (steady)", &self.completion_lag),
            ("  ends_at -> completed.at", &self.completion_lag_to_at),
            ("  completed.at -> arrival", &self.completion_lag_after_at),
            ("enqueue->ack (whole run)", &self.enqueue_ack_all),
            ("completion lag (whole run)", &self.completion_lag_all),
        ];
        for (name, p) in rows {
            match p {
                Some(p) => {
                    let _ = writeln!(
                        out,
                        "  {:<30} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                        name, p.count, p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms
                    );
                }
                None => {
                    let _ = writeln!(out, "  {name:<30} {:>7}", 0);
                }
            }
        }
        let c = &self.counts;
        let _ = writeln!(
            out,
            "\n  tasks          enqueued {}, acked {}, completed {} ({} without ends_at)",
            c.enqueued, c.acked, c.completed, c.completed_without_ends_at
        );
        let _ = writeln!(
            out,
            "  notifications  out of order {}, duplicates {}, missing {}, recovered by final sync {}, truncated syncs {}, progress {}",
            c.out_of_order, c.duplicates, c.missing, c.recovered_by_sync, c.truncated_syncs, c.progress
        );
        let errors = if self.errors.is_empty() {
            String::new()
        } else {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            format!(" ({})", kinds.join(", "))
        };
        let _ = writeln!(out, "  errors         {}{errors}", self.error_total);
        for (name, stats) in [("server", &self.server), ("load tool", &self.load_tool)] {
            if let Some(stats) = stats {
                for (window, summary) in [("steady", &stats.steady), ("run", &stats.run)] {
                    if let Some(s) = summary {
                        let _ = writeln!(
                            out,
                            "  {name:<10} {window:<6} CPU mean {:5.1}% max {:5.1}% (100% = one core), RSS mean {:.1} MiB max {:.1} MiB ({} samples)",
                            s.cpu_mean_percent, s.cpu_max_percent, s.rss_mean_mib, s.rss_max_mib, s.samples
                        );
                    }
                }
            }
        }
        let m = &self.machine;
        let cores: Vec<String> = m
            .core_busy_steady_percent
            .iter()
            .enumerate()
            .map(|(i, busy)| format!("cpu{i} {busy:.0}%"))
            .collect();
        let _ = writeln!(
            out,
            "  machine    load average {} at start, {} at end; busy over the steady window (every process): {}",
            m.load_average_start.as_deref().unwrap_or("?"),
            m.load_average_end.as_deref().unwrap_or("?"),
            cores.join(", ")
        );
        let _ = writeln!(
            out,
            "\n  {:<12} {:>7} {:>9} {:>9}   {:>7} {:>9} {:>9}",
            "timeline", "acks", "p50 ms", "p99 ms", "done", "lag p50", "lag p99"
        );
        for bucket in &self.timeline {
            let (an, a50, a99) = bucket
                .enqueue_ack
                .map_or((0, 0.0, 0.0), |p| (p.count, p.p50_ms, p.p99_ms));
            let (ln, l50, l99) = bucket
                .completion_lag
                .map_or((0, 0.0, 0.0), |p| (p.count, p.p50_ms, p.p99_ms));
            let _ = writeln!(
                out,
                "  {:>4}-{:<4} s  {an:>7} {a50:>9.1} {a99:>9.1}   {ln:>7} {l50:>9.1} {l99:>9.1}",
                bucket.from_secs,
                bucket.from_secs + BUCKET_SECS
            );
        }
        out
    }
}
