//! What a run measured: the clients' results summed, percentiles over the steady window, the
//! server's and this tool's CPU and RSS; printed as a table or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::client::ClientResult;
use crate::proc_stats::Sample;
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
    server: Option<Vec<Sample>>,
    load_tool: Option<Vec<Sample>>,
) -> Report {
    let from = config.ramp.as_secs_f64();
    let to = from + config.steady.as_secs_f64();
    let mut counts = Counts::default();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut connects: Vec<Timed> = Vec::new();
    let mut acks: Vec<Timed> = Vec::new();
    let mut lags: Vec<Timed> = Vec::new();
    for result in results {
        if let Some(connect) = result.connect {
            counts.connected += 1;
            connects.push(connect);
        }
        acks.extend(result.acks);
        lags.extend(result.lags);
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
        enqueue_ack_all: percentiles(&acks, 0.0, f64::INFINITY),
        completion_lag_all: percentiles(&lags, 0.0, f64::INFINITY),
        error_total: errors.values().sum(),
        errors,
        counts,
        server: process_stats(server, from, to),
        load_tool: process_stats(load_tool, from, to),
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
            ("completion lag (steady)", &self.completion_lag),
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
        out
    }
}
